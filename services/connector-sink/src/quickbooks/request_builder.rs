//! Command → QuickBooks request bodies (pure: every reference already resolved). Amounts are
//! checked before anything is sent: the lines plus the tax must make the command's total.
use super::{
    encoder::{self, doc_number, money, num},
    references::address,
    service::QboError,
};
use nopbridge_proto::commands::v1::{
    Command, DocumentLine, ExchangeRate, LineKind, PostalAddress, TaxDetail, TaxMode,
};
use nopbridge_proto::events::v1::Money;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// QuickBooks' own shipping line item (needs `SalesFormsPrefs.AllowShipping`).
pub const SHIPPING_PSEUDO_ITEM: &str = "SHIPPING_ITEM_ID";

/// What sales documents, receipts and refunds have in common.
pub struct DocView<'a> {
    pub currency: &'a str,
    pub rate: Option<&'a ExchangeRate>,
    pub lines: &'a [DocumentLine],
    pub tax: Option<&'a TaxDetail>,
    pub total: Option<&'a Money>,
    pub txn_date: &'a str,
    pub memo: &'a str,
    pub billing: Option<&'a PostalAddress>,
    pub shipping: Option<&'a PostalAddress>,
}

/// References resolved for one document: per line, the item, tax code and (discounts)
/// account ids.
pub struct LineRefs {
    pub items: Vec<Option<String>>,
    pub tax_codes: Vec<Option<String>>,
    pub accounts: Vec<Option<String>>,
    pub txn_tax_code: Option<String>,
}

pub fn total_minor(v: &DocView<'_>) -> i64 {
    v.total.map(|m| m.minor_units).unwrap_or_default()
}

/// Lines plus tax must equal the total, to the minor unit, before anything is posted.
pub fn check_balance(v: &DocView<'_>) -> Result<(), QboError> {
    let lines: i64 = v
        .lines
        .iter()
        .filter(|l| l.kind() != LineKind::Description)
        .map(|l| l.amount.as_ref().map(|m| m.minor_units).unwrap_or_default())
        .sum();
    let tax = v
        .tax
        .and_then(|t| t.total_tax.as_ref())
        .map(|m| m.minor_units)
        .unwrap_or_default();
    let total = total_minor(v);
    // Line amounts are always net of tax (commands.proto), whatever the customer was shown.
    if lines + tax != total {
        return Err(QboError::invalid(
            "validation",
            format!(
                "the command does not balance: lines {} + tax {} != total {} ({}); fix the mapping, nothing was posted",
                encoder::money_decimal(lines, v.currency),
                encoder::money_decimal(tax, v.currency),
                encoder::money_decimal(total, v.currency),
                v.currency
            ),
        ));
    }
    Ok(())
}

fn line_tax_code(l: &DocumentLine, refs: &LineRefs, i: usize, mode: TaxMode) -> Value {
    if let Some(Some(code)) = refs.tax_codes.get(i) {
        return json!({ "value": code });
    }
    let taxed = l.tax_amount.as_ref().is_some_and(|t| t.minor_units != 0);
    let code = if mode == TaxMode::Vat {
        "NON"
    } else if taxed {
        "TAX"
    } else {
        "NON"
    };
    json!({ "value": code })
}

pub fn lines(v: &DocView<'_>, refs: &LineRefs) -> Result<Vec<Value>, QboError> {
    let mode = v.tax.map(|t| t.mode()).unwrap_or(TaxMode::UsSalesTax);
    let mut out = Vec::with_capacity(v.lines.len());
    for (i, l) in v.lines.iter().enumerate() {
        let amount = money(l.amount.as_ref(), v.currency);
        let mut line = match l.kind() {
            LineKind::Description => json!({
                "DetailType": "DescriptionOnly",
                "Description": l.description.chars().take(4000).collect::<String>(),
                "DescriptionLineDetail": {},
            }),
            LineKind::Discount => {
                let mut detail = json!({ "PercentBased": false });
                if let Some(Some(account)) = refs.accounts.get(i) {
                    detail["DiscountAccountRef"] = json!({ "value": account });
                }
                json!({
                    "DetailType": "DiscountLineDetail",
                    "Amount": num(amount.abs()),
                    "DiscountLineDetail": detail,
                })
            }
            // The mapped shipping item, else QuickBooks' shipping pseudo-item.
            LineKind::Shipping => json!({
                "DetailType": "SalesItemLineDetail",
                "Amount": num(amount),
                "SalesItemLineDetail": {
                    "ItemRef": { "value": refs.items.get(i).cloned().flatten().unwrap_or_else(|| SHIPPING_PSEUDO_ITEM.into()) },
                    "TaxCodeRef": line_tax_code(l, refs, i, mode),
                },
            }),
            _ => {
                let item = refs.items.get(i).cloned().flatten().ok_or_else(|| {
                    QboError::invalid("reference", format!("line {} has no item", l.line_number))
                })?;
                let mut detail = json!({
                    "ItemRef": { "value": item },
                    "TaxCodeRef": line_tax_code(l, refs, i, mode),
                });
                // Qty × UnitPrice must equal Amount; when the cart's rounding makes that
                // impossible, send the amount alone (QuickBooks accepts amount-only lines).
                if l.quantity > 0 {
                    let qty = Decimal::from(l.quantity);
                    let unit = amount / qty;
                    if unit.round_dp(6) * qty == amount {
                        detail["Qty"] = json!(l.quantity);
                        detail["UnitPrice"] = num(unit.round_dp(6));
                    }
                }
                json!({ "DetailType": "SalesItemLineDetail", "Amount": num(amount), "SalesItemLineDetail": detail })
            }
        };
        if !l.description.is_empty() && l.kind() != LineKind::Description {
            line["Description"] = json!(l.description.chars().take(4000).collect::<String>());
        }
        if l.kind() == LineKind::Description && l.description.is_empty() {
            continue;
        }
        line["LineNum"] = json!(out.len() + 1);
        out.push(line);
    }
    Ok(out)
}

/// The fields every sales form and refund shares.
pub fn document(
    cmd: &Command,
    v: &DocView<'_>,
    refs: &LineRefs,
    customer_id: &str,
    home: &str,
) -> Result<Value, QboError> {
    check_balance(v)?;
    let mut body = json!({
        "CustomerRef": { "value": customer_id },
        "Line": lines(v, refs)?,
        "PrivateNote": private_note(cmd, v.memo),
    });
    if let Some(n) = document_number(cmd) {
        body["DocNumber"] = json!(n);
    }
    if !v.txn_date.is_empty() {
        body["TxnDate"] = json!(v.txn_date);
    }
    currency_fields(&mut body, v.currency, v.rate, home)?;
    if let Some(t) = v.tax {
        let total_tax = money(t.total_tax.as_ref(), v.currency);
        let mut detail = json!({ "TotalTax": num(total_tax) });
        if let Some(code) = &refs.txn_tax_code {
            detail["TxnTaxCodeRef"] = json!({ "value": code });
        }
        body["TxnTaxDetail"] = detail;
        if t.apply_tax_after_discount {
            body["ApplyTaxAfterDiscount"] = json!(true);
        }
        if t.mode() == TaxMode::Vat {
            // Line amounts are net: QuickBooks adds the tax on top.
            body["GlobalTaxCalculation"] = json!("TaxExcluded");
        }
    }
    if let Some(a) = v.billing {
        body["BillAddr"] = address(a);
    }
    if let Some(a) = v.shipping {
        body["ShipAddr"] = address(a);
    }
    Ok(body)
}

/// CurrencyRef and ExchangeRate (always sent for a foreign currency: omitted, QuickBooks
/// may book the document at rate 1).
pub fn currency_fields(
    body: &mut Value,
    currency: &str,
    rate: Option<&ExchangeRate>,
    home: &str,
) -> Result<(), QboError> {
    if currency.is_empty() || currency.eq_ignore_ascii_case(home) {
        return Ok(());
    }
    let r = rate
        .and_then(|r| encoder::decimal(r.home_per_document.as_ref()))
        .filter(|r| *r > Decimal::ZERO)
        .ok_or_else(|| {
            QboError::invalid(
                "currency",
                format!("the document is in {currency} but carries no exchange rate to {home}; nothing was posted"),
            )
        })?;
    body["CurrencyRef"] = json!({ "value": currency.to_ascii_uppercase() });
    body["ExchangeRate"] = num(r);
    Ok(())
}

pub fn document_number(cmd: &Command) -> Option<String> {
    let o = cmd.order.as_ref()?;
    let n = if o.document_number.is_empty() {
        &o.order_number
    } else {
        &o.document_number
    };
    (!n.is_empty()).then(|| doc_number(n))
}

/// Store ids in PrivateNote, so a person in QuickBooks can find the order.
pub fn private_note(cmd: &Command, memo: &str) -> String {
    let mut note = format!("nopbridge store {}", cmd.store_id);
    if let Some(o) = &cmd.order {
        note.push_str(&format!(" order {} ({})", o.order_id, o.order_guid));
    }
    note.push_str(&format!("; command {}", cmd.command_id));
    if !memo.is_empty() {
        note.push_str(&format!(". {memo}"));
    }
    note.chars().take(4000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nopbridge_proto::commands::v1::ItemRef;

    fn m(minor: i64) -> Option<Money> {
        Some(Money {
            minor_units: minor,
            currency: "USD".into(),
        })
    }

    fn line(kind: LineKind, qty: i64, amount: i64) -> DocumentLine {
        DocumentLine {
            kind: kind as i32,
            quantity: qty,
            amount: m(amount),
            item: Some(ItemRef {
                sku: "S".into(),
                ..ItemRef::default()
            }),
            ..DocumentLine::default()
        }
    }

    #[test]
    fn unbalanced_commands_are_refused_before_posting() {
        let ls = [line(LineKind::Product, 1, 1000)];
        let total = m(1001);
        let v = DocView {
            currency: "USD",
            rate: None,
            lines: &ls,
            tax: None,
            total: total.as_ref(),
            txn_date: "",
            memo: "",
            billing: None,
            shipping: None,
        };
        assert!(check_balance(&v).is_err());
    }

    #[test]
    fn lines_keep_qty_times_price_exact_or_send_the_amount_alone() {
        let ls = [
            line(LineKind::Product, 3, 1000),
            line(LineKind::Product, 2, 500),
            line(LineKind::Discount, 1, -200),
        ];
        let total = m(1300);
        let v = DocView {
            currency: "USD",
            rate: None,
            lines: &ls,
            tax: None,
            total: total.as_ref(),
            txn_date: "",
            memo: "",
            billing: None,
            shipping: None,
        };
        let refs = LineRefs {
            items: vec![Some("1".into()), Some("2".into()), None],
            tax_codes: vec![],
            accounts: vec![],
            txn_tax_code: None,
        };
        let out = lines(&v, &refs).unwrap_or_default();
        assert!(
            out[0]["SalesItemLineDetail"].get("Qty").is_none(),
            "10.00 / 3 is not exact"
        );
        assert_eq!(
            out[1]["SalesItemLineDetail"]["UnitPrice"].to_string(),
            "2.5"
        );
        assert_eq!(out[2]["Amount"].to_string(), "2");
    }

    #[test]
    fn foreign_currency_always_carries_the_rate() {
        let mut body = json!({});
        assert!(currency_fields(&mut body, "EUR", None, "USD").is_err());
        let rate = ExchangeRate {
            home_per_document: Some(nopbridge_proto::events::v1::Decimal {
                units: 108,
                scale: 2,
            }),
            ..ExchangeRate::default()
        };
        assert!(currency_fields(&mut body, "EUR", Some(&rate), "USD").is_ok());
        assert_eq!(body["ExchangeRate"].to_string(), "1.08");
        assert_eq!(body["CurrencyRef"]["value"], "EUR");
    }
}
