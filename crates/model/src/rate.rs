//! Exact decimals for exchange rates and percentages (the protobuf `Decimal`): never money.
use crate::decimal::{self, div_round_half_away, pow10, DecimalError};
use nopbridge_proto::events::v1 as pb;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// value = units / 10^scale. Equality, ordering and hashing are by value, so `20` and
/// `20.0000` are the same rate (as C# decimals are).
#[derive(Clone, Copy)]
pub struct Rate {
    units: i64,
    scale: u32,
}

impl Rate {
    pub const ONE: Rate = Rate { units: 1, scale: 0 };
    pub const ZERO: Rate = Rate { units: 0, scale: 0 };

    pub const fn new(units: i64, scale: u32) -> Self {
        Self { units, scale }
    }

    pub const fn units(&self) -> i64 {
        self.units
    }

    pub const fn scale(&self) -> u32 {
        self.scale
    }

    /// Parses "0.92000000", "20", "-1.5".
    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        let d = decimal::parse(s)?;
        let units = i64::try_from(d.mantissa).map_err(|_| DecimalError::Overflow(s.to_string()))?;
        Ok(Self {
            units,
            scale: d.scale,
        })
    }

    pub fn from_proto(d: &pb::Decimal) -> Self {
        Self {
            units: d.units,
            scale: d.scale,
        }
    }

    pub fn to_proto(&self) -> pb::Decimal {
        pb::Decimal {
            units: self.units,
            scale: self.scale,
        }
    }

    /// The same value with trailing fractional zeros removed.
    pub fn normalized(&self) -> Self {
        let (mut units, mut scale) = (self.units, self.scale);
        while scale > 0 && units % 10 == 0 {
            units /= 10;
            scale -= 1;
        }
        if units == 0 {
            scale = 0;
        }
        Self { units, scale }
    }

    pub fn is_zero(&self) -> bool {
        self.units == 0
    }

    pub fn is_negative(&self) -> bool {
        self.units < 0
    }

    /// Converts an amount in minor units of a currency with exponent `from_exp` to minor
    /// units of a currency with exponent `to_exp`: `minor × rate`, rounded half away from
    /// zero. `None` on overflow.
    pub fn apply_minor(&self, minor: i64, from_exp: u32, to_exp: u32) -> Option<i64> {
        let num = i128::from(minor)
            .checked_mul(i128::from(self.units))?
            .checked_mul(pow10(to_exp)?)?;
        let den = pow10(self.scale)?.checked_mul(pow10(from_exp)?)?;
        i64::try_from(div_round_half_away(num, den)).ok()
    }

    /// `minor × rate / 100`, for a rate that is a percentage, rounded half away from zero.
    pub fn percent_of_minor(&self, minor: i64) -> Option<i64> {
        let num = i128::from(minor).checked_mul(i128::from(self.units))?;
        let den = pow10(self.scale)?.checked_mul(100)?;
        i64::try_from(div_round_half_away(num, den)).ok()
    }

    /// 1 / rate with `scale` decimals, rounded half away from zero; `None` for zero.
    pub fn inverse(&self, scale: u32) -> Option<Self> {
        if self.units == 0 {
            return None;
        }
        let num = pow10(scale.checked_add(self.scale)?)?;
        let mut units = div_round_half_away(num, i128::from(self.units.unsigned_abs()));
        if self.units < 0 {
            units = -units;
        }
        Some(Self {
            units: i64::try_from(units).ok()?,
            scale,
        })
    }

    /// The value rounded to `scale` decimals (half away from zero).
    pub fn round_to(&self, scale: u32) -> Option<Self> {
        let d = decimal::ParsedDecimal {
            mantissa: i128::from(self.units),
            scale: self.scale,
        };
        Some(Self {
            units: i64::try_from(d.rescale(scale)?).ok()?,
            scale,
        })
    }

    fn cmp_value(&self, other: &Self) -> Ordering {
        // Cross-multiply in i128: both scales are small in practice; saturate if not.
        let s = self.scale.max(other.scale);
        let a = i128::from(self.units).saturating_mul(pow10(s - self.scale).unwrap_or(i128::MAX));
        let b = i128::from(other.units).saturating_mul(pow10(s - other.scale).unwrap_or(i128::MAX));
        a.cmp(&b)
    }
}

impl PartialEq for Rate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_value(other) == Ordering::Equal
    }
}
impl Eq for Rate {}
impl PartialOrd for Rate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Rate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_value(other)
    }
}
impl Hash for Rate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let n = self.normalized();
        n.units.hash(state);
        n.scale.hash(state);
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.units);
        }
        let neg = self.units < 0;
        let abs = self.units.unsigned_abs() as u128;
        let div = 10u128.pow(self.scale);
        write!(
            f,
            "{}{}.{:0width$}",
            if neg { "-" } else { "" },
            abs / div,
            abs % div,
            width = self.scale as usize
        )
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rate({self})")
    }
}

impl FromStr for Rate {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Accepts a string ("0.92") or a YAML/JSON number; numbers go through their shortest
/// decimal text, so `0.92` stays 0.92 rather than a binary approximation.
impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            F(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
            Raw::F(f) => format!("{f}"),
        };
        Rate::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equality_is_by_value() {
        assert_eq!(Rate::parse("20").unwrap(), Rate::parse("20.0000").unwrap());
        assert!(Rate::parse("7").unwrap() < Rate::parse("19.5").unwrap());
        assert_eq!(
            Rate::parse("0.92000000").unwrap().normalized(),
            Rate::new(92, 2)
        );
    }

    #[test]
    fn converts_minor_units_between_exponents() {
        let r = Rate::parse("0.92").unwrap();
        // 120.60 USD × 0.92 = 110.952 EUR → 110.95
        assert_eq!(r.apply_minor(12060, 2, 2), Some(11095));
        // 100.00 USD × 151.235 = 15123.5 JPY → 15124 (half away from zero)
        assert_eq!(
            Rate::parse("151.235").unwrap().apply_minor(10000, 2, 0),
            Some(15124)
        );
        // 1500 JPY × 0.0061 = 9.15 USD
        assert_eq!(
            Rate::parse("0.0061").unwrap().apply_minor(1500, 0, 2),
            Some(915)
        );
        // −0.005 rounds to −0.01
        assert_eq!(Rate::parse("0.5").unwrap().apply_minor(-1, 2, 2), Some(-1));
        // 10.000 KWD × 3.25 = 32.50 USD
        assert_eq!(
            Rate::parse("3.25").unwrap().apply_minor(10000, 3, 2),
            Some(3250)
        );
    }

    #[test]
    fn inverse_and_percent() {
        let r = Rate::parse("0.92").unwrap();
        assert_eq!(r.inverse(6).unwrap().to_string(), "1.086957");
        assert_eq!(Rate::ZERO.inverse(6), None);
        assert_eq!(
            Rate::parse("20").unwrap().percent_of_minor(10050),
            Some(2010)
        );
        assert_eq!(
            Rate::parse("8.875").unwrap().percent_of_minor(1000),
            Some(89)
        );
    }

    #[test]
    fn display_and_proto_roundtrip() {
        let r = Rate::parse("-1.050").unwrap();
        assert_eq!(r.to_string(), "-1.050");
        assert_eq!(Rate::from_proto(&r.to_proto()), r);
        assert_eq!(Rate::new(5, 3).to_string(), "0.005");
    }

    proptest! {
        #[test]
        fn conversion_error_is_at_most_half_a_minor_unit(
            minor in -1_000_000_000i64..1_000_000_000,
            units in 1i64..100_000_000,
            scale in 0u32..9,
        ) {
            let r = Rate::new(units, scale);
            let got = r.apply_minor(minor, 2, 2).unwrap();
            // exact = minor × units / 10^scale; |got × 10^scale − minor × units| ≤ 10^scale / 2
            let exact_num = i128::from(minor) * i128::from(units);
            let den = 10i128.pow(scale);
            let diff = (i128::from(got) * den - exact_num).abs();
            prop_assert!(diff * 2 <= den);
        }

        #[test]
        fn converting_by_one_is_identity(minor in any::<i64>()) {
            prop_assert_eq!(Rate::ONE.apply_minor(minor, 2, 2), Some(minor));
        }
    }
}
