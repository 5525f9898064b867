//! Decimal strings ↔ integer minor units.
//!
//! Rounding rule: **half away from zero** (0.125 → 0.13, −0.125 → −0.13), the rule of
//! `Math.Round(x, MidpointRounding.AwayFromZero)` and of the usual accounting "round half up"
//! applied to magnitudes. It is used wherever a value with more decimals than the currency
//! (nopCommerce stores four) becomes minor units.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("\"{0}\" is not a decimal number (expected digits with an optional sign and point)")]
    Syntax(String),
    #[error("\"{0}\" is too large for the target precision")]
    Overflow(String),
}

/// A parsed decimal: value = mantissa / 10^scale. Trailing fractional zeros are kept
/// (up to 28 decimals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDecimal {
    pub mantissa: i128,
    pub scale: u32,
}

/// Most fractional digits accepted; beyond this i128 arithmetic could overflow.
const MAX_SCALE: u32 = 28;

/// Parses `[+-]digits[.digits]` (also `.5` and `5.`), surrounding whitespace ignored.
/// No exponents, no thousands separators: this is the format of JSON numbers from the store
/// and of configuration values.
pub fn parse(s: &str) -> Result<ParsedDecimal, DecimalError> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(DecimalError::Syntax(s.to_string()));
    }
    digits_to_decimal(int, frac, neg).ok_or_else(|| DecimalError::Overflow(s.to_string()))
}

/// Builds the value from ASCII digit strings; `None` on overflow.
pub(crate) fn digits_to_decimal(int: &str, frac: &str, neg: bool) -> Option<ParsedDecimal> {
    // Trailing zeros carry the source's precision ("0.92000000"); drop them only when needed.
    let frac = if frac.len() > MAX_SCALE as usize {
        frac.trim_end_matches('0')
    } else {
        frac
    };
    let scale = u32::try_from(frac.len()).ok()?;
    if scale > MAX_SCALE {
        return None;
    }
    let mut m: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        m = m.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    Some(ParsedDecimal {
        mantissa: if neg { -m } else { m },
        scale,
    })
}

/// `n / d` rounded half away from zero. `d` must be positive.
pub fn div_round_half_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    // |r| * 2 >= d  ⇔  the dropped part is at least one half.
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        if n < 0 {
            q - 1
        } else {
            q + 1
        }
    } else {
        q
    }
}

/// 10^exp as i128, `None` when it does not fit.
pub fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

impl ParsedDecimal {
    /// The value rescaled to `target` decimals, rounding half away from zero.
    pub fn rescale(&self, target: u32) -> Option<i128> {
        if target >= self.scale {
            self.mantissa.checked_mul(pow10(target - self.scale)?)
        } else {
            Some(div_round_half_away(
                self.mantissa,
                pow10(self.scale - target)?,
            ))
        }
    }
}

/// "105.5000" with exponent 2 → 10550; "0.125" → 13; "-0.125" → −13; "105" with exponent 0 → 105.
pub fn to_minor_units(s: &str, exponent: u32) -> Result<i64, DecimalError> {
    let d = parse(s)?;
    d.rescale(exponent)
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| DecimalError::Overflow(s.to_string()))
}

/// 10550 with exponent 2 → "105.50"; −5 → "-0.05"; exponent 0 → no point.
pub fn format_minor_units(minor: i64, exponent: u32) -> String {
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{}{abs}", if neg { "-" } else { "" });
    }
    let div = 10u64.pow(exponent);
    format!(
        "{}{}.{:0width$}",
        if neg { "-" } else { "" },
        abs / div,
        abs % div,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_strings_to_minor_units() {
        let cases: &[(&str, u32, i64)] = &[
            ("105.5000", 2, 10550),
            ("0.0000", 2, 0),
            ("120.6", 2, 12060),
            ("0.125", 2, 13),
            ("0.124999", 2, 12),
            ("-0.125", 2, -13),
            ("-0.135", 2, -14),
            ("0.005", 2, 1),
            ("0.0049", 2, 0),
            ("1499.5", 0, 1500),
            ("1499.4999", 0, 1499),
            ("-1499.5", 0, -1500),
            ("1.2345", 3, 1235),
            (".5", 2, 50),
            ("5.", 2, 500),
            ("+7", 2, 700),
            ("  42.10  ", 2, 4210),
        ];
        for &(s, e, want) in cases {
            assert_eq!(to_minor_units(s, e), Ok(want), "{s} at exponent {e}");
        }
    }

    #[test]
    fn malformed_decimals_are_rejected() {
        for s in [
            "", "-", ".", "1,000.00", "1e3", "abc", "1.2.3", "- 1", "0x10",
        ] {
            assert!(
                matches!(to_minor_units(s, 2), Err(DecimalError::Syntax(_))),
                "{s:?}"
            );
        }
    }

    #[test]
    fn too_large_values_overflow_instead_of_wrapping() {
        assert!(matches!(
            to_minor_units("99999999999999999999", 2),
            Err(DecimalError::Overflow(_))
        ));
    }

    #[test]
    fn minor_units_to_strings() {
        let cases: &[(i64, u32, &str)] = &[
            (10550, 2, "105.50"),
            (-5, 2, "-0.05"),
            (0, 2, "0.00"),
            (1500, 0, "1500"),
            (-1500, 0, "-1500"),
            (1235, 3, "1.235"),
            (i64::MIN, 2, "-92233720368547758.08"),
        ];
        for &(m, e, want) in cases {
            assert_eq!(format_minor_units(m, e), want);
        }
    }

    #[test]
    fn rounding_helper_is_half_away_from_zero() {
        assert_eq!(div_round_half_away(5, 10), 1);
        assert_eq!(div_round_half_away(-5, 10), -1);
        assert_eq!(div_round_half_away(4, 10), 0);
        assert_eq!(div_round_half_away(-4, 10), 0);
        assert_eq!(div_round_half_away(15, 10), 2);
        assert_eq!(div_round_half_away(-25, 10), -3);
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in any::<i64>(), exp in 0u32..4) {
            let s = format_minor_units(minor, exp);
            prop_assert_eq!(to_minor_units(&s, exp), Ok(minor));
        }
    }
}
