//! JSON the way nopCommerce writes it: decimals as numbers with their DB scale (`105.5000`)
//! and UTC dates without a designator (`2024-03-14T09:21:07.383`).
//!
//! serde_json cannot emit a number token with trailing zeros without its workspace-wide
//! `arbitrary_precision` feature, so decimals are serialized as marked strings and the
//! marks are stripped from the finished text ([`to_json`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prefix of a decimal rendered by [`dec`]; serde_json escapes it as `\u0001`.
const MARK: char = '\u{1}';
const ESCAPED_MARK: &str = "\"\\u0001";

/// Serializes any value and turns marked decimals into bare number tokens.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string(value)?;
    if !text.contains(ESCAPED_MARK) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(pos) = rest.find(ESCAPED_MARK) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + ESCAPED_MARK.len()..];
        match after.find('"') {
            Some(end) => {
                out.push_str(&after[..end]);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[pos..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Removes control characters from client-supplied text so it can never carry the mark.
pub fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect()
}

/// A JSON response (200 unless given).
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match to_json(value) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub fn ok<T: Serialize>(value: &T) -> Response {
    json_response(StatusCode::OK, value)
}

/// A plain-text body (OWB answers 401 and 404 with a bare string).
pub fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text.to_string(),
    )
        .into_response()
}

/// Decimal fields: written as a number with the value's own scale.
pub mod dec {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{MARK}{v}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        <Decimal as Deserialize>::deserialize(d)
    }
}

/// Optional decimal fields.
pub mod dec_opt {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&format!("{MARK}{v}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Option::<Decimal>::deserialize(d)
    }
}

/// The current time at the precision nopCommerce stores (datetime2(7): 100 ns ticks), so a
/// value read back from the API and sent as a filter compares equal to the stored one.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t - chrono::Duration::nanoseconds(i64::from(t.nanosecond() % 100))
}

/// Formats a UTC instant like .NET's round-trip format for an Unspecified DateTime, with
/// trailing fractional zeros trimmed as Newtonsoft does: `2024-03-14T09:21:11.52`.
pub fn format_ts(t: &DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let ticks = t.nanosecond() / 100; // .NET keeps 7 fractional digits
    if ticks == 0 {
        return base;
    }
    let frac = format!("{ticks:07}");
    format!("{base}.{}", frac.trim_end_matches('0'))
}

fn parse_ts_text(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// UTC timestamps written without a zone designator.
pub mod ts {
    use super::*;

    pub fn serialize<S: Serializer>(v: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ts(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse_ts_text(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid date '{s}'")))
    }
}

pub mod ts_opt {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&format_ts(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse_ts_text(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid date '{s}'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Serialize)]
    struct Sample {
        #[serde(with = "dec")]
        total: Decimal,
        name: String,
    }

    #[test]
    fn decimals_keep_scale_as_numbers() -> Result<(), serde_json::Error> {
        let s = Sample {
            total: Decimal::new(1_055_000, 4),
            name: "O'Brien \"x\"".into(),
        };
        assert_eq!(to_json(&s)?, r#"{"total":105.5000,"name":"O'Brien \"x\""}"#);
        Ok(())
    }

    #[test]
    fn timestamps_have_no_designator() {
        let t = Utc.with_ymd_and_hms(2024, 3, 14, 9, 21, 11).single();
        let t = t.map(|t| t + chrono::Duration::milliseconds(520));
        assert_eq!(
            t.map(|t| format_ts(&t)).as_deref(),
            Some("2024-03-14T09:21:11.52")
        );
    }
}
