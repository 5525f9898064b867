//! The balance rule, checked on every document before it is emitted (design.md invariant 4):
//!
//! 1. Σ line amounts + total tax = document total;
//! 2. document total = the order total in the document currency (plus gift cards and reward
//!    points when those are posted as tenders);
//! 3. a receipt's tenders sum to its total; an invoice's tenders (gift cards, points) do not
//!    exceed it;
//! 4. a VAT breakdown sums to the total tax;
//! 5. every amount is in the document currency.
//!
//! A failure is a [`MappingError::Imbalance`] carrying every line, so the DLQ entry shows the
//! whole arithmetic.
use crate::error::{Breakdown, ErrorContext, MappingError};
use crate::pb::commands::{PostRefund, PostSale, SaleDocumentKind};
use crate::pb::events::Money as PbMoney;
use nopbridge_model::{Currency, Money};

fn minor(m: Option<&PbMoney>) -> i64 {
    m.map_or(0, |m| m.minor_units)
}

fn currency_ok(m: Option<&PbMoney>, c: Currency) -> bool {
    m.is_none_or(|m| m.currency == c.code() || (m.currency.is_empty() && m.minor_units == 0))
}

fn breakdown_sale(s: &PostSale, c: Currency) -> Breakdown {
    let mut b = Breakdown::default();
    for l in &s.lines {
        let label = format!("line {} {}", l.line_number, l.description);
        b.push(label, Money::new(minor(l.amount.as_ref()), c));
    }
    b.push(
        "tax",
        Money::new(minor(s.tax.as_ref().and_then(|t| t.total_tax.as_ref())), c),
    );
    for t in &s.tenders {
        b.push(
            format!("tender {}", t.payment_method),
            Money::new(minor(t.amount.as_ref()), c),
        );
    }
    b.push("document total", Money::new(minor(s.total.as_ref()), c));
    b
}

fn imbalance(
    ctx: &ErrorContext,
    rule: &str,
    expected: i64,
    found: i64,
    c: Currency,
    breakdown: Breakdown,
) -> MappingError {
    MappingError::Imbalance {
        context: ctx.clone().into(),
        rule: rule.to_string(),
        expected: Money::new(expected, c),
        found: Money::new(found, c),
        difference: Money::new(found.saturating_sub(expected), c),
        breakdown,
    }
}

/// Checks a sale document against `expected_total` (document currency minor units).
pub fn check_sale(
    s: &PostSale,
    expected_total: i64,
    ctx: &ErrorContext,
) -> Result<(), MappingError> {
    let c = Currency::new(&s.currency).map_err(|e| MappingError::InvalidField {
        context: ctx.clone().into(),
        field: "currency".into(),
        expected: "an ISO-4217 currency".into(),
        found: e.to_string(),
    })?;
    let tax = s.tax.as_ref().and_then(|t| t.total_tax.as_ref());
    let all_money = s
        .lines
        .iter()
        .flat_map(|l| [l.amount.as_ref(), l.tax_amount.as_ref()])
        .chain(s.tenders.iter().map(|t| t.amount.as_ref()))
        .chain([tax, s.total.as_ref()]);
    for m in all_money {
        if !currency_ok(m, c) {
            return Err(imbalance(
                ctx,
                "every amount must be in the document currency",
                0,
                minor(m),
                c,
                breakdown_sale(s, c),
            ));
        }
    }
    let lines: i128 = s
        .lines
        .iter()
        .map(|l| i128::from(minor(l.amount.as_ref())))
        .sum();
    let total = minor(s.total.as_ref());
    let found = lines + i128::from(minor(tax));
    if found != i128::from(total) {
        return Err(imbalance(
            ctx,
            "lines + tax = document total",
            total,
            i64::try_from(found).unwrap_or(i64::MAX),
            c,
            breakdown_sale(s, c),
        ));
    }
    if total != expected_total {
        return Err(imbalance(
            ctx,
            "document total = order total in document currency",
            expected_total,
            total,
            c,
            breakdown_sale(s, c),
        ));
    }
    let tendered: i128 = s
        .tenders
        .iter()
        .map(|t| i128::from(minor(t.amount.as_ref())))
        .sum();
    let receipt = s.kind == SaleDocumentKind::SalesReceipt as i32;
    if (receipt && tendered != i128::from(total)) || (!receipt && tendered > i128::from(total)) {
        return Err(imbalance(
            ctx,
            if receipt {
                "receipt tenders = document total"
            } else {
                "invoice tenders <= document total"
            },
            total,
            i64::try_from(tendered).unwrap_or(i64::MAX),
            c,
            breakdown_sale(s, c),
        ));
    }
    if let Some(t) = &s.tax {
        if !t.rates.is_empty() {
            let by_rate: i128 = t
                .rates
                .iter()
                .map(|r| i128::from(minor(r.tax_amount.as_ref())))
                .sum();
            if by_rate != i128::from(minor(tax)) {
                return Err(imbalance(
                    ctx,
                    "tax by rate = total tax",
                    minor(tax),
                    i64::try_from(by_rate).unwrap_or(i64::MAX),
                    c,
                    breakdown_sale(s, c),
                ));
            }
        }
    }
    Ok(())
}

/// Checks a refund document: Σ lines + tax = total = the refunded amount.
pub fn check_refund(
    r: &PostRefund,
    expected_total: i64,
    ctx: &ErrorContext,
) -> Result<(), MappingError> {
    let c = Currency::new(&r.currency).map_err(|e| MappingError::InvalidField {
        context: ctx.clone().into(),
        field: "currency".into(),
        expected: "an ISO-4217 currency".into(),
        found: e.to_string(),
    })?;
    let tax = minor(r.tax.as_ref().and_then(|t| t.total_tax.as_ref()));
    let lines: i128 = r
        .lines
        .iter()
        .map(|l| i128::from(minor(l.amount.as_ref())))
        .sum();
    let found = lines + i128::from(tax);
    let total = minor(r.total.as_ref());
    let mut b = Breakdown::default();
    for l in &r.lines {
        b.push(
            l.description.clone(),
            Money::new(minor(l.amount.as_ref()), c),
        );
    }
    b.push("tax", Money::new(tax, c));
    if found != i128::from(total) || total != expected_total {
        return Err(imbalance(
            ctx,
            "refund lines + tax = refund total = refunded amount",
            expected_total,
            i64::try_from(found).unwrap_or(i64::MAX),
            c,
            b,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::commands::{DocumentLine, TaxDetail, TaxRateLine, Tender};

    fn m(v: i64) -> Option<PbMoney> {
        Some(PbMoney {
            minor_units: v,
            currency: "USD".into(),
        })
    }

    fn doc() -> PostSale {
        PostSale {
            kind: SaleDocumentKind::SalesReceipt as i32,
            currency: "USD".into(),
            lines: vec![
                DocumentLine {
                    line_number: 1,
                    amount: m(1000),
                    ..Default::default()
                },
                DocumentLine {
                    line_number: 2,
                    amount: m(-100),
                    ..Default::default()
                },
            ],
            tax: Some(TaxDetail {
                total_tax: m(180),
                rates: vec![TaxRateLine {
                    tax_amount: m(180),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            total: m(1080),
            tenders: vec![Tender {
                amount: m(1080),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_is_enforced() {
        let ctx = ErrorContext::default();
        assert_eq!(check_sale(&doc(), 1080, &ctx), Ok(()));
        type Edit = fn(&mut PostSale);
        let cases: &[(&str, Edit, i64)] = &[
            (
                "lines + tax = document total",
                |d| d.lines[0].amount = m(1001),
                1080,
            ),
            (
                "document total = order total in document currency",
                |_| {},
                1081,
            ),
            (
                "receipt tenders = document total",
                |d| d.tenders[0].amount = m(1000),
                1080,
            ),
            (
                "invoice tenders <= document total",
                |d| {
                    d.kind = SaleDocumentKind::Invoice as i32;
                    d.tenders[0].amount = m(2000);
                },
                1080,
            ),
            (
                "tax by rate = total tax",
                |d| {
                    if let Some(t) = d.tax.as_mut() {
                        t.rates[0].tax_amount = m(179);
                    }
                },
                1080,
            ),
            (
                "every amount must be in the document currency",
                |d| {
                    d.lines[1].amount = Some(PbMoney {
                        minor_units: -100,
                        currency: "EUR".into(),
                    });
                },
                1080,
            ),
        ];
        for (rule, edit, expected) in cases {
            let mut d = doc();
            edit(&mut d);
            match check_sale(&d, *expected, &ctx) {
                Err(MappingError::Imbalance {
                    rule: r, breakdown, ..
                }) => {
                    assert_eq!(r, *rule);
                    assert!(breakdown.items.iter().any(|b| b.label == "document total"));
                }
                other => panic!("{rule}: {other:?}"),
            }
        }
        // an invoice may stay open
        let mut d = doc();
        d.kind = SaleDocumentKind::Invoice as i32;
        d.tenders.clear();
        assert_eq!(check_sale(&d, 1080, &ctx), Ok(()));
    }
}
