//! Small helpers over `serde_json` values: QBO money is JSON numbers, held as `Decimal` here.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};

use crate::api_error::Fault;
use crate::config::Rounding;

pub type Object = Map<String, Value>;

/// Reads a decimal from a JSON number or numeric string (QBO's deserializer coerces both).
pub fn decimal(obj: &Object, key: &str, path: &str) -> Result<Option<Decimal>, Fault> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_decimal(v)
            .map(Some)
            .ok_or_else(|| Fault::bad_property(&format!("{path}{key}"), "java.math.BigDecimal")),
    }
}

pub fn parse_decimal(v: &Value) -> Option<Decimal> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// JSON number for a decimal (integers without a fraction, like QBO's `"UnitPrice": 25`).
pub fn money(d: Decimal) -> Value {
    let d = d.normalize();
    if d.fract().is_zero() {
        if let Ok(i) = i64::try_from(d.trunc().mantissa()) {
            if d.scale() == 0 {
                return Value::from(i);
            }
        }
    }
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Round half-up to cents (reference 7.4).
pub fn round2(d: Decimal) -> Decimal {
    round2_with(d, Rounding::HalfUp)
}

pub fn round2_with(d: Decimal, mode: Rounding) -> Decimal {
    let strategy = match mode {
        Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
    };
    d.round_dp_with_strategy(2, strategy)
}

pub fn str_field<'a>(obj: &'a Object, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// `value` of a ReferenceType field.
pub fn ref_value<'a>(obj: &'a Object, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(|r| r.get("value"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub fn reference(value: &str, name: Option<&str>) -> Value {
    let mut r = Object::new();
    r.insert("value".into(), Value::from(value));
    if let Some(n) = name {
        r.insert("name".into(), Value::from(n));
    }
    Value::Object(r)
}

pub fn bool_field(obj: &Object, key: &str) -> Option<bool> {
    obj.get(key).and_then(Value::as_bool)
}

/// Id strings are numeric in this emulator; anything else cannot exist.
pub fn parse_id(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_round_trip_through_json_numbers() {
        let obj = json!({"a": 70.19, "b": "4.74", "c": 50});
        let obj = obj.as_object().cloned().unwrap_or_default();
        assert_eq!(
            decimal(&obj, "a", "").ok().flatten(),
            Decimal::from_str("70.19").ok()
        );
        assert_eq!(
            decimal(&obj, "b", "").ok().flatten(),
            Decimal::from_str("4.74").ok()
        );
        assert_eq!(
            money(Decimal::from_str("50.00").unwrap_or_default()),
            json!(50)
        );
        assert_eq!(
            money(Decimal::from_str("70.19").unwrap_or_default()),
            json!(70.19)
        );
    }

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(
            round2(Decimal::from_str("4.74375").unwrap_or_default()).to_string(),
            "4.74"
        );
        assert_eq!(
            round2(Decimal::from_str("0.125").unwrap_or_default()).to_string(),
            "0.13"
        );
    }
}
