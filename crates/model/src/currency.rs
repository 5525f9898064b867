//! ISO-4217 currency codes and their minor-unit exponents.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Minor-unit exponents (ISO-4217 "E" column). Codes not listed here are rejected rather than
/// guessed, because a wrong exponent would scale every amount by a power of ten.
const EXPONENTS: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("\"{0}\" is not a three-letter ISO-4217 currency code")]
    Malformed(String),
    #[error("currency {0} is not in nopbridge's ISO-4217 table, so its minor unit is unknown")]
    Unknown(String),
}

/// A known ISO-4217 currency. `Copy`, three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    pub const USD: Currency = Currency::known(*b"USD", 2);
    pub const EUR: Currency = Currency::known(*b"EUR", 2);
    pub const GBP: Currency = Currency::known(*b"GBP", 2);
    pub const JPY: Currency = Currency::known(*b"JPY", 0);

    const fn known(code: [u8; 3], exponent: u8) -> Self {
        Self { code, exponent }
    }

    /// Looks the code up (case-insensitive, surrounding spaces ignored).
    pub fn new(code: &str) -> Result<Self, CurrencyError> {
        let trimmed = code.trim();
        let bytes = trimmed.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(CurrencyError::Malformed(code.to_string()));
        }
        let upper = [
            bytes[0].to_ascii_uppercase(),
            bytes[1].to_ascii_uppercase(),
            bytes[2].to_ascii_uppercase(),
        ];
        EXPONENTS
            .iter()
            .find(|(c, _)| c.as_bytes() == upper)
            .map(|&(_, e)| Self::known(upper, e))
            .ok_or_else(|| CurrencyError::Unknown(trimmed.to_ascii_uppercase()))
    }

    pub fn code(&self) -> &str {
        // The bytes are ASCII letters by construction.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of decimal places of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub const fn exponent(&self) -> u32 {
        self.exponent as u32
    }

    /// 10^exponent: minor units per major unit.
    pub const fn minor_per_major(&self) -> i64 {
        10i64.pow(self.exponent as u32)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_of_the_required_currencies() {
        let cases = [
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("JPY", 0),
            ("CHF", 2),
            ("CAD", 2),
            ("AUD", 2),
            ("SEK", 2),
            ("NOK", 2),
            ("DKK", 2),
            ("PLN", 2),
            ("CZK", 2),
            ("HUF", 2),
            ("NZD", 2),
            ("BHD", 3),
            ("KWD", 3),
        ];
        for (code, exp) in cases {
            let c = Currency::new(code).expect(code);
            assert_eq!(c.exponent(), exp, "{code}");
            assert_eq!(c.code(), code);
        }
    }

    #[test]
    fn codes_are_case_insensitive_and_trimmed() {
        assert_eq!(Currency::new(" usd ").unwrap(), Currency::USD);
    }

    #[test]
    fn unknown_code_is_a_clear_error() {
        let err = Currency::new("XYZ").unwrap_err();
        assert_eq!(err, CurrencyError::Unknown("XYZ".into()));
        assert!(err.to_string().contains("XYZ"));
        assert!(matches!(
            Currency::new("US"),
            Err(CurrencyError::Malformed(_))
        ));
        assert!(matches!(
            Currency::new("U$D"),
            Err(CurrencyError::Malformed(_))
        ));
    }

    #[test]
    fn constants_match_the_table() {
        for c in [Currency::USD, Currency::EUR, Currency::GBP, Currency::JPY] {
            assert_eq!(Currency::new(c.code()).unwrap(), c);
        }
    }
}
