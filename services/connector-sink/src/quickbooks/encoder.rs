//! Values at the QuickBooks edge: money from integer minor units to JSON decimals, names and
//! document numbers fitted to QuickBooks' rules, query literals escaped, requestids derived.
use nopbridge_proto::events::v1::{Decimal as PbDecimal, Money};
use rust_decimal::{prelude::ToPrimitive, Decimal};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Minor-unit exponent of an ISO-4217 currency.
pub fn exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

pub fn money_decimal(minor_units: i64, currency: &str) -> Decimal {
    Decimal::new(minor_units, exponent(currency))
}

pub fn money(m: Option<&Money>, currency: &str) -> Decimal {
    m.map(|m| money_decimal(m.minor_units, currency))
        .unwrap_or_default()
}

/// A decimal as a JSON number; exact for the 2–6 decimal places QuickBooks takes.
pub fn num(d: Decimal) -> Value {
    d.normalize()
        .to_string()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::from(d.to_f64().unwrap_or_default()))
}

/// A JSON amount as minor units (QuickBooks answers with JSON numbers).
pub fn minor_units(v: &Value, currency: &str) -> Option<i64> {
    let d: Decimal = match v {
        Value::Number(n) => n.to_string().parse().ok()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    (d * Decimal::from(10i64.pow(exponent(currency))))
        .round()
        .to_i64()
}

pub fn decimal(d: Option<&PbDecimal>) -> Option<Decimal> {
    let d = d?;
    (d.scale <= 28).then(|| Decimal::new(d.units, d.scale))
}

/// DisplayName/Name: no ':' (sub-customer separator), no tabs or newlines, trimmed, fitted.
pub fn fit_name(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| match c {
            ':' => '-',
            '\t' | '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    cleaned
        .trim()
        .chars()
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// DocNumber: at most 21 characters.
pub fn doc_number(s: &str) -> String {
    s.trim().chars().take(21).collect()
}

/// A literal for a query: backslash-escaped quotes and backslashes, in quotes.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Characters the query lexer refuses (typographic quotes and dashes).
pub fn has_lexical_trouble(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(
            c,
            '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}'
        )
    })
}

/// A `LIKE` pattern with those characters replaced by `%`; callers filter exact matches.
pub fn like_pattern(s: &str) -> String {
    let p: String = s
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}' => '%',
            c => c,
        })
        .collect();
    literal(&p)
}

/// The `requestid` of one step of one command: ≤ 50 characters, the same on every retry,
/// crash and replay. `step` names the sub-request ("sale", "payment", "customer", …).
pub fn request_id(command_id: &str, step: &str) -> String {
    let mut h = Sha256::new();
    h.update(command_id.as_bytes());
    h.update([0]);
    h.update(step.as_bytes());
    let digest = hex::encode(h.finalize());
    let prefix: String = step
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect();
    format!("nb-{prefix}-{}", &digest[..32])
}

/// A batch requestid (≤ 36 characters) from its items' requestids.
pub fn batch_request_id(item_ids: &[&str]) -> String {
    let mut h = Sha256::new();
    for id in item_ids {
        h.update(id.as_bytes());
        h.update([0]);
    }
    format!("nbb-{}", &hex::encode(h.finalize())[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_at_the_edge() {
        assert_eq!(num(money_decimal(7019, "USD")).to_string(), "70.19");
        assert_eq!(num(money_decimal(-500, "USD")).to_string(), "-5");
        assert_eq!(num(money_decimal(1234, "JPY")).to_string(), "1234");
        assert_eq!(minor_units(&serde_json::json!(70.19), "USD"), Some(7019));
        assert_eq!(minor_units(&serde_json::json!(0.1 + 0.2), "USD"), Some(30));
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_in_literals() {
        assert_eq!(literal("Ana O'Neil"), r"'Ana O\'Neil'");
        assert_eq!(literal(r"a\b"), r"'a\\b'");
        assert_eq!(like_pattern("Men\u{2019}s"), "'Men%s'");
    }

    #[test]
    fn names_and_doc_numbers_fit_quickbooks() {
        assert_eq!(fit_name(" Parent:Child ", 500), "Parent-Child");
        assert_eq!(doc_number("WEB-1234567890123456789012").chars().count(), 21);
    }

    #[test]
    fn request_ids_are_deterministic_short_and_per_step() {
        let a = request_id("5f1d0c4e-0000-5000-8000-000000000001", "sale");
        assert_eq!(
            a,
            request_id("5f1d0c4e-0000-5000-8000-000000000001", "sale")
        );
        assert_ne!(
            a,
            request_id("5f1d0c4e-0000-5000-8000-000000000001", "payment")
        );
        assert!(a.len() <= 50);
        assert!(batch_request_id(&[&a]).len() <= 36);
    }
}
