//! Integer minor units plus a currency.
use crate::currency::{Currency, CurrencyError};
use crate::decimal::{self, DecimalError};
use crate::rate::Rate;
use nopbridge_proto::events::v1 as pb;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {left} with {right}: different currencies")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount overflow in {0}")]
    Overflow(&'static str),
    #[error(transparent)]
    Currency(#[from] CurrencyError),
    #[error(transparent)]
    Decimal(#[from] DecimalError),
    #[error("money field is missing")]
    Missing,
}

/// An amount in the currency's minor unit (cents, pence, yen, fils).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub const fn minor_units(&self) -> i64 {
        self.minor
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// Parses a decimal string ("105.5000") into minor units, half away from zero.
    pub fn from_decimal_str(s: &str, currency: Currency) -> Result<Self, MoneyError> {
        Ok(Self::new(
            decimal::to_minor_units(s, currency.exponent())?,
            currency,
        ))
    }

    /// "105.50" (no currency code).
    pub fn to_decimal_string(&self) -> String {
        decimal::format_minor_units(self.minor, self.currency.exponent())
    }

    pub fn from_proto(m: &pb::Money) -> Result<Self, MoneyError> {
        Ok(Self::new(m.minor_units, Currency::new(&m.currency)?))
    }

    /// Like [`Money::from_proto`] for an optional proto field; absent is an error.
    pub fn from_proto_opt(m: Option<&pb::Money>) -> Result<Self, MoneyError> {
        m.map_or(Err(MoneyError::Missing), Self::from_proto)
    }

    pub fn to_proto(&self) -> pb::Money {
        pb::Money {
            minor_units: self.minor,
            currency: self.currency.code().to_string(),
        }
    }

    fn same_currency(&self, other: &Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(&other)?;
        self.minor
            .checked_add(other.minor)
            .map(|m| Self::new(m, self.currency))
            .ok_or(MoneyError::Overflow("add"))
    }

    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(&other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|m| Self::new(m, self.currency))
            .ok_or(MoneyError::Overflow("subtract"))
    }

    pub fn checked_neg(self) -> Result<Self, MoneyError> {
        self.minor
            .checked_neg()
            .map(|m| Self::new(m, self.currency))
            .ok_or(MoneyError::Overflow("negate"))
    }

    /// Amount × an integer quantity.
    pub fn checked_mul(self, qty: i64) -> Result<Self, MoneyError> {
        self.minor
            .checked_mul(qty)
            .map(|m| Self::new(m, self.currency))
            .ok_or(MoneyError::Overflow("multiply"))
    }

    /// Sums amounts that must all be in `currency`.
    pub fn sum<'a, I>(currency: Currency, items: I) -> Result<Self, MoneyError>
    where
        I: IntoIterator<Item = &'a Money>,
    {
        items
            .into_iter()
            .try_fold(Self::zero(currency), |acc, m| acc.checked_add(*m))
    }

    /// Converts into `to` at `rate` (units of `to` per one unit of `self`'s currency),
    /// rounding half away from zero to `to`'s minor unit.
    pub fn convert(&self, rate: &Rate, to: Currency) -> Result<Self, MoneyError> {
        rate.apply_minor(self.minor, self.currency.exponent(), to.exponent())
            .map(|m| Self::new(m, to))
            .ok_or(MoneyError::Overflow("convert"))
    }
}

impl TryFrom<&pb::Money> for Money {
    type Error = MoneyError;
    fn try_from(m: &pb::Money) -> Result<Self, Self::Error> {
        Self::from_proto(m)
    }
}

impl From<Money> for pb::Money {
    fn from(m: Money) -> Self {
        m.to_proto()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(m: i64) -> Money {
        Money::new(m, Currency::USD)
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(usd(150).checked_add(usd(-50)), Ok(usd(100)));
        assert_eq!(usd(150).checked_sub(usd(200)), Ok(usd(-50)));
        assert_eq!(usd(150).checked_mul(3), Ok(usd(450)));
        assert_eq!(
            usd(i64::MAX).checked_add(usd(1)),
            Err(MoneyError::Overflow("add"))
        );
        assert_eq!(
            usd(i64::MIN).checked_neg(),
            Err(MoneyError::Overflow("negate"))
        );
        assert_eq!(
            usd(1).checked_add(Money::new(1, Currency::EUR)),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::USD,
                right: Currency::EUR
            })
        );
    }

    #[test]
    fn proto_roundtrip_and_errors() {
        let m = Money::from_decimal_str("105.5000", Currency::USD).unwrap();
        assert_eq!(m, usd(10550));
        assert_eq!(Money::from_proto(&m.to_proto()), Ok(m));
        let bad = pb::Money {
            minor_units: 1,
            currency: "ABC".into(),
        };
        assert!(matches!(
            Money::from_proto(&bad),
            Err(MoneyError::Currency(CurrencyError::Unknown(_)))
        ));
        assert_eq!(Money::from_proto_opt(None), Err(MoneyError::Missing));
        let p: pb::Money = m.into();
        assert_eq!(Money::try_from(&p), Ok(m));
    }

    #[test]
    fn display_uses_the_currency_exponent() {
        assert_eq!(usd(-5).to_string(), "-0.05 USD");
        assert_eq!(Money::new(1500, Currency::JPY).to_string(), "1500 JPY");
        let kwd = Currency::new("KWD").unwrap();
        assert_eq!(Money::new(1235, kwd).to_string(), "1.235 KWD");
    }

    #[test]
    fn conversion_rounds_to_the_target_minor_unit() {
        let eur = usd(12060)
            .convert(&Rate::parse("0.92").unwrap(), Currency::EUR)
            .unwrap();
        assert_eq!(eur, Money::new(11095, Currency::EUR));
        let jpy = usd(999)
            .convert(&Rate::parse("150.5").unwrap(), Currency::JPY)
            .unwrap();
        assert_eq!(jpy, Money::new(1503, Currency::JPY));
    }

    #[test]
    fn sum_requires_one_currency() {
        assert_eq!(Money::sum(Currency::USD, &[usd(1), usd(2)]), Ok(usd(3)));
        assert!(Money::sum(Currency::USD, &[Money::new(1, Currency::EUR)]).is_err());
    }

    proptest! {
        #[test]
        fn add_then_sub_is_identity(a in -1_000_000_000_000i64..1_000_000_000_000, b in -1_000_000_000_000i64..1_000_000_000_000) {
            prop_assert_eq!(usd(a).checked_add(usd(b)).and_then(|s| s.checked_sub(usd(b))), Ok(usd(a)));
        }
    }
}
