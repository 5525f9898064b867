//! Command → KashFlow bodies (pure: customer code, nominal codes, product codes and payment
//! method ids already resolved). Money leaves integer minor units only here. The VAT is the
//! command's, line by line; lines plus VAT must make the command's total before anything is
//! sent.
use super::service::KfError;
use nopbridge_proto::commands::v1::{DocumentLine, LineKind, PostalAddress, TaxDetail};
use nopbridge_proto::events::v1::{Decimal as PbDecimal, Money};
use rust_decimal::{prelude::ToPrimitive, Decimal};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Minor-unit exponent of an ISO-4217 currency.
pub fn exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

pub fn minor(m: Option<&Money>) -> i64 {
    m.map(|m| m.minor_units).unwrap_or_default()
}

pub fn decimal(minor_units: i64, currency: &str) -> Decimal {
    Decimal::new(minor_units, exponent(currency))
}

/// A decimal as a JSON number (exact for the few decimals KashFlow takes).
pub fn num(d: Decimal) -> Value {
    d.normalize()
        .to_string()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::from(d.to_f64().unwrap_or_default()))
}

/// A JSON amount (KashFlow renders 4 dp numbers, some endpoints strings) as minor units.
pub fn to_minor(v: &Value, currency: &str) -> Option<i64> {
    let d: Decimal = match v {
        Value::Number(n) => n.to_string().parse().ok()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    (d * Decimal::from(10i64.pow(exponent(currency))))
        .round()
        .to_i64()
}

fn pb_decimal(d: Option<&PbDecimal>) -> Option<Decimal> {
    let d = d?;
    (d.scale <= 28).then(|| Decimal::new(d.units, d.scale))
}

/// `YYYY-MM-DD HH:mm:ss`, the request format KashFlow takes.
pub fn date(d: &str) -> Value {
    if d.is_empty() {
        Value::Null
    } else {
        json!(format!("{d} 00:00:00"))
    }
}

/// A deterministic customer code when the command carries none: prefix + store customer id,
/// or prefix + G + a hash of the email for guests.
pub fn customer_code(
    prefix: &str,
    target_code: &str,
    store_customer_id: &str,
    email: &str,
) -> String {
    if !target_code.trim().is_empty() {
        return target_code.trim().to_string();
    }
    let id = store_customer_id.trim();
    if !id.is_empty() && id != "0" {
        return format!("{prefix}{id:0>6}");
    }
    let mut h = Sha256::new();
    h.update(email.trim().to_lowercase().as_bytes());
    format!(
        "{prefix}G{}",
        &hex::encode(h.finalize())[..10].to_uppercase()
    )
}

pub fn address(a: &PostalAddress) -> Value {
    let mut lines: Vec<String> = a.lines.iter().take(2).cloned().collect();
    lines.resize(2, String::new());
    let region = if a.region.is_empty() {
        a.city.clone()
    } else {
        format!("{}, {}", a.city, a.region)
    };
    json!({
        "Line1": lines[0], "Line2": lines[1], "Line3": region, "Line4": "",
        "PostCode": a.postal_code, "CountryCode": a.country_code,
    })
}

/// What each line needs from KashFlow's set-up: its nominal and, for products, the code.
#[derive(Debug, Clone, Default)]
pub struct LineRef {
    pub nominal: i64,
    pub product_code: Option<String>,
}

/// `Quantity` and net unit `Rate` such that round(Quantity × Rate, 2) is the line amount
/// exactly (KashFlow's net); when no short rate does, quantity 1 at the amount.
fn quantity_and_rate(l: &DocumentLine, amount: Decimal) -> (Decimal, Decimal, bool) {
    if l.quantity > 1 {
        let q = Decimal::from(l.quantity);
        for dp in [2, 4, 6] {
            let r = (amount / q).round_dp(dp);
            if (q * r).round_dp(2) == amount {
                return (q, r, true);
            }
        }
        return (Decimal::ONE, amount, false);
    }
    (Decimal::ONE, amount, true)
}

/// The VAT percent of a line: its own rate, else the only rate of the document, else 0 for
/// an untaxed line. A taxed line without a rate cannot be posted (KashFlow needs VATLevel).
fn vat_level(l: &DocumentLine, tax: Option<&TaxDetail>) -> Result<Decimal, KfError> {
    if let Some(r) = pb_decimal(l.tax_rate_percent.as_ref()) {
        return Ok(r.normalize());
    }
    if minor(l.tax_amount.as_ref()) == 0 {
        return Ok(Decimal::ZERO);
    }
    match tax.map(|t| t.rates.as_slice()) {
        Some([one]) => pb_decimal(one.rate_percent.as_ref())
            .map(|d| d.normalize())
            .ok_or_else(|| KfError::invalid("validation", "the VAT rate line has no rate")),
        _ => Err(KfError::invalid(
            "validation",
            format!(
                "line {} carries VAT but no rate; KashFlow needs the VAT level per line (map the store with tax mode vat)",
                l.line_number
            ),
        )),
    }
}

/// Net, VAT and gross of what is sent, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub net: i64,
    pub vat: i64,
    pub gross: i64,
}

/// `LineItems` for the lines that carry an amount, and their totals. Checks that the lines'
/// VAT is the document's and that lines plus VAT make the total.
pub fn line_items(
    lines: &[DocumentLine],
    refs: &[LineRef],
    tax: Option<&TaxDetail>,
    total: i64,
    currency: &str,
) -> Result<(Vec<Value>, Totals), KfError> {
    let mut out = Vec::new();
    let mut t = Totals::default();
    for (i, l) in lines.iter().enumerate() {
        if l.kind() == LineKind::Description {
            continue;
        }
        let amount_minor = minor(l.amount.as_ref());
        let vat_minor = minor(l.tax_amount.as_ref());
        let amount = decimal(amount_minor, currency);
        let (q, rate, exact) = quantity_and_rate(l, amount);
        let mut description = l.description.clone();
        if !exact {
            description = format!("{} × {description}", l.quantity);
        }
        let r = refs.get(i).cloned().unwrap_or_default();
        let mut item = json!({
            "Number": out.len() + 1,
            "Description": description,
            "Quantity": num(q),
            "Rate": num(rate),
            "VATLevel": num(vat_level(l, tax)?),
            "VATAmount": num(decimal(vat_minor, currency)),
            "VATExempt": false,
            "NominalCode": r.nominal,
        });
        if let Some(code) = r.product_code {
            item["ProductCode"] = json!(code);
        }
        t.net += amount_minor;
        t.vat += vat_minor;
        out.push(item);
    }
    t.gross = t.net + t.vat;
    let doc_tax = minor(tax.and_then(|t| t.total_tax.as_ref()));
    if t.vat != doc_tax {
        return Err(KfError::invalid(
            "validation",
            format!(
                "the lines' VAT {} is not the document's VAT {} ({currency}); KashFlow books VAT per line, nothing was posted",
                decimal(t.vat, currency),
                decimal(doc_tax, currency)
            ),
        ));
    }
    if t.gross != total {
        return Err(KfError::invalid(
            "validation",
            format!(
                "the command does not balance: lines {} + VAT {} != total {} ({currency}); fix the mapping, nothing was posted",
                decimal(t.net, currency),
                decimal(t.vat, currency),
                decimal(total, currency)
            ),
        ));
    }
    if out.is_empty() {
        return Err(KfError::invalid(
            "validation",
            "the document has no line with an amount",
        ));
    }
    Ok((out, t))
}

/// The note that marks a payment line as this command's (KashFlow has no idempotency key).
/// Line items as a credit note's: quantities and VAT amounts negated (rates and VAT levels
/// stay), so KashFlow's net, VAT and gross come out negative and managed stock goes back up.
pub fn credit(items: &mut [Value]) {
    for item in items {
        for k in ["Quantity", "VATAmount"] {
            let d: Option<Decimal> = match item.get(k) {
                Some(Value::Number(n)) => n.to_string().parse().ok(),
                _ => None,
            };
            if let Some(d) = d {
                item[k] = num(-d);
            }
        }
    }
}

pub fn payment_note(command_id: &str, tender: usize) -> String {
    format!("nopbridge command {command_id} tender {tender}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use nopbridge_proto::commands::v1::TaxMode;

    fn gbp(m: i64) -> Option<Money> {
        Some(Money {
            minor_units: m,
            currency: "GBP".into(),
        })
    }

    fn line(kind: LineKind, qty: i64, amount: i64, vat: i64, rate: i64) -> DocumentLine {
        DocumentLine {
            kind: kind as i32,
            quantity: qty,
            amount: gbp(amount),
            tax_amount: gbp(vat),
            tax_rate_percent: Some(PbDecimal {
                units: rate,
                scale: 0,
            }),
            description: "x".into(),
            ..DocumentLine::default()
        }
    }

    fn tax(total: i64) -> TaxDetail {
        TaxDetail {
            mode: TaxMode::Vat as i32,
            total_tax: gbp(total),
            ..TaxDetail::default()
        }
    }

    #[test]
    fn lines_keep_the_net_exact_and_the_commands_vat() {
        let ls = [
            line(LineKind::Product, 3, 1000, 200, 20),
            line(LineKind::Shipping, 1, 499, 100, 20),
        ];
        let refs = [
            LineRef {
                nominal: 4000,
                product_code: Some("TEE".into()),
            },
            LineRef {
                nominal: 4905,
                product_code: None,
            },
        ];
        let (items, t) = line_items(&ls, &refs, Some(&tax(300)), 1799, "GBP").unwrap_or_default();
        assert_eq!(
            t,
            Totals {
                net: 1499,
                vat: 300,
                gross: 1799
            }
        );
        assert_eq!(items[0]["Rate"].to_string(), "3.3333");
        assert_eq!(items[0]["Quantity"].to_string(), "3");
        assert_eq!(items[1]["NominalCode"], 4905);
        assert!(line_items(&ls, &refs, Some(&tax(301)), 1800, "GBP").is_err());
        assert!(line_items(&ls, &refs, Some(&tax(300)), 1800, "GBP").is_err());
    }

    #[test]
    fn credit_note_lines_negate_quantity_and_vat_and_keep_the_rate() {
        let ls = [
            line(LineKind::Product, 3, 1000, 200, 20),
            line(LineKind::Shipping, 1, 499, 100, 20),
        ];
        let refs = [LineRef::default(), LineRef::default()];
        let (mut items, _) =
            line_items(&ls, &refs, Some(&tax(300)), 1799, "GBP").unwrap_or_default();
        credit(&mut items);
        assert_eq!(items[0]["Quantity"].to_string(), "-3");
        assert_eq!(items[0]["Rate"].to_string(), "3.3333");
        assert_eq!(items[0]["VATAmount"].to_string(), "-2");
        assert_eq!(items[1]["Quantity"].to_string(), "-1");
        assert_eq!(items[1]["Rate"].to_string(), "4.99");
        assert_eq!(items[1]["VATAmount"].to_string(), "-1");
        assert_eq!(items[1]["VATLevel"].to_string(), "20");
    }

    #[test]
    fn customer_codes_are_deterministic() {
        assert_eq!(customer_code("WEB", "", "42", "a@b.c"), "WEB000042");
        assert_eq!(customer_code("WEB", "K1", "42", ""), "K1");
        let g = customer_code("WEB", "", "0", "A@b.c");
        assert_eq!(g, customer_code("WEB", "", "0", "a@B.c "));
        assert!(g.starts_with("WEBG"));
    }
}
