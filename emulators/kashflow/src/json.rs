//! Reading request JSON the way ASP.NET Web API binds it: property names case-insensitive,
//! numbers also as numeric strings, booleans also as 0/1; money kept exact as decimals.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

pub type Object = Map<String, Value>;

/// The request body as an object.
pub fn object(body: &[u8]) -> ApiResult<Object> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_body("a JSON object is expected")),
        Err(e) => Err(ApiError::bad_body(e)),
    }
}

/// A property by name, ignoring case; JSON null counts as absent.
pub fn get<'a>(obj: &'a Object, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// Removes a property by name, ignoring case.
pub fn take(obj: &mut Object, name: &str) -> Option<Value> {
    let key = obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()?;
    obj.remove(&key).filter(|v| !v.is_null())
}

/// Sets a property, replacing any key that differs only in case.
pub fn set(obj: &mut Object, name: &str, value: Value) {
    take(obj, name);
    obj.insert(name.to_string(), value);
}

pub fn string(obj: &Object, name: &str) -> Option<String> {
    match get(obj, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A trimmed, non-empty string.
pub fn text(obj: &Object, name: &str) -> Option<String> {
    string(obj, name)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn decimal_value(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// A decimal property; present but not a number is a 400.
pub fn decimal(obj: &Object, name: &str) -> ApiResult<Option<Decimal>> {
    match get(obj, name) {
        None => Ok(None),
        Some(v) => decimal_value(v)
            .map(Some)
            .ok_or_else(|| ApiError::validation(format!("{name} must be a number."))),
    }
}

/// An integer property (numbers or numeric strings).
pub fn int(obj: &Object, name: &str) -> ApiResult<Option<i64>> {
    match decimal(obj, name)? {
        None => Ok(None),
        Some(d) if d.fract().is_zero() => d
            .to_i64()
            .map(Some)
            .ok_or_else(|| ApiError::validation(format!("{name} is out of range."))),
        Some(_) => Err(ApiError::validation(format!(
            "{name} must be a whole number."
        ))),
    }
}

/// A boolean property; also 0/1 and "true"/"false".
pub fn boolean(obj: &Object, name: &str) -> ApiResult<Option<bool>> {
    match get(obj, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::validation(format!("{name} must be a boolean."))),
    }
}

pub fn flag(obj: &Object, name: &str) -> ApiResult<bool> {
    Ok(boolean(obj, name)?.unwrap_or(false))
}

/// Money to cents, half away from zero (as .NET's `Math.Round(x, 2, AwayFromZero)`).
pub fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A decimal as a JSON number (the server renders money as numbers).
pub fn number(d: Decimal) -> Value {
    d.normalize()
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// `f64` from configuration as an exact decimal ("0.01" stays 0.01).
pub fn config_decimal(f: f64) -> Decimal {
    Decimal::from_str(&f.to_string()).unwrap_or_default()
}

/// Dates as clients send them: `YYYY-MM-DD HH:mm:ss`, ISO with `T`, optional fraction and
/// offset, or a bare date.
pub fn parse_date(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.naive_local());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Some(d);
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// A date property; present but unreadable is a 400.
pub fn date(obj: &Object, name: &str) -> ApiResult<Option<NaiveDateTime>> {
    match string(obj, name) {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => parse_date(&s)
            .map(Some)
            .ok_or_else(|| ApiError::validation(format!("{name} is not a valid date: {s}"))),
    }
}

/// Dates as the server renders them (no offset).
pub fn format_date(d: NaiveDateTime) -> String {
    d.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn property_names_are_case_insensitive_and_null_is_absent() {
        let o = obj(json!({"customercode": "A1", "Name": null}));
        assert_eq!(string(&o, "CustomerCode").as_deref(), Some("A1"));
        assert_eq!(get(&o, "Name"), None);
    }

    #[test]
    fn numbers_parse_exactly_from_numbers_and_strings() {
        let o = obj(json!({"a": 72.59, "b": "0.10", "c": 1e2, "d": "x"}));
        assert_eq!(decimal(&o, "a"), Ok(Some(Decimal::new(7259, 2))));
        assert_eq!(decimal(&o, "b"), Ok(Some(Decimal::new(10, 2))));
        assert_eq!(int(&o, "c"), Ok(Some(100)));
        assert!(decimal(&o, "d").is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round2(Decimal::new(1005, 3)), Decimal::new(101, 2));
        assert_eq!(round2(Decimal::new(-1005, 3)), Decimal::new(-101, 2));
    }

    #[test]
    fn client_date_forms_parse() {
        for t in [
            "2025-03-14 00:00:00",
            "2025-03-14T00:00:00",
            "2025-03-14T00:00:00+00:00",
            "2025-03-14",
        ] {
            assert_eq!(
                parse_date(t).map(format_date).as_deref(),
                Some("2025-03-14T00:00:00"),
                "{t}"
            );
        }
        assert!(parse_date("14/03/2025").is_none());
    }
}
