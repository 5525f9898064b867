//! The balance rule's store-side check, conversion into the document currency, and the
//! residual rule.
use super::lines::Builder;
use super::{overflow, DocLine, DocTender, StoreRedemption};
use crate::config::ResidualRule;
use crate::currency_policy::Conversion;
use crate::error::{Breakdown, ErrorContext, MappingError};
use crate::pb::commands::LineKind;
use nopbridge_model::{Currency, Money};

/// Store currency: Σ net + order tax must equal order total + tendered redemptions within
/// `tolerance` minor units (nopCommerce does not round taxes, reference §1.12.3).
pub(super) fn check_store_totals(
    lines: &[DocLine],
    tax_total: i64,
    order_total: i64,
    redemptions: &[StoreRedemption],
    store: Currency,
    tolerance: i64,
    ctx: &ErrorContext,
) -> Result<(), MappingError> {
    let redeemed: i128 = redemptions.iter().map(|r| i128::from(r.amount)).sum();
    let expected = i128::from(order_total) + redeemed;
    let computed: i128 =
        lines.iter().map(|l| i128::from(l.store_net)).sum::<i128>() + i128::from(tax_total);
    if (expected - computed).abs() <= i128::from(tolerance) {
        return Ok(());
    }
    let mut bd = Breakdown::default();
    for l in lines {
        bd.push(
            format!("{:?} {}", l.kind, l.description),
            Money::new(l.store_net, store),
        );
    }
    bd.push("order tax", Money::new(tax_total, store));
    for r in redemptions {
        bd.push(format!("{:?} tender", r.kind), Money::new(r.amount, store));
    }
    bd.push("order total", Money::new(order_total, store));
    let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    Err(MappingError::Imbalance {
        context: ctx.clone().into(),
        rule: format!(
            "order components must add up to order_total (+ tendered redemptions) within {tolerance} minor units"
        ),
        expected: Money::new(clamp(expected), store),
        found: Money::new(clamp(computed), store),
        difference: Money::new(clamp(computed - expected), store),
        breakdown: bd,
    })
}

/// The document-currency amounts of an order.
pub(super) struct Converted {
    pub tax_total: i64,
    pub payment: i64,
    pub redemptions: Vec<DocTender>,
    pub residual: i64,
}

/// Converts lines, tax, total and tenders; places the residual by `rule`; spreads the tax
/// residual onto the line with the most tax.
pub(super) fn convert(
    b: &mut Builder<'_>,
    conversion: &Conversion,
    tax_total: i64,
    order_total: i64,
    store_redemptions: Vec<StoreRedemption>,
    rule: ResidualRule,
) -> Result<Converted, MappingError> {
    let ctx = b.ctx;
    let conv = |v: i64, field: &str| conversion.convert(v).ok_or_else(|| overflow(ctx, field));
    for l in &mut b.lines {
        l.amount = conv(l.store_net, "amount")?;
        l.tax = conv(l.store_tax, "tax")?;
    }
    let tax_total = conv(tax_total, "tax_total")?;
    let payment = conv(order_total, "order_total")?;
    let mut redemptions = Vec::with_capacity(store_redemptions.len());
    for r in store_redemptions {
        redemptions.push(DocTender {
            kind: r.kind,
            amount: conv(r.amount, "gift_cards")?,
            payment_method: r.payment_method,
            deposit_account: String::new(),
            reference: r.reference,
        });
    }
    let total: i128 = i128::from(payment)
        + redemptions
            .iter()
            .map(|r| i128::from(r.amount))
            .sum::<i128>();
    let lines: i128 = b.lines.iter().map(|l| i128::from(l.amount)).sum();
    let residual = i64::try_from(total - lines - i128::from(tax_total))
        .map_err(|_| overflow(ctx, "order_total"))?;
    if residual != 0 {
        place_residual(b, rule, residual)?;
    }
    let line_tax: i128 = b.lines.iter().map(|l| i128::from(l.tax)).sum();
    let tax_residual =
        i64::try_from(i128::from(tax_total) - line_tax).map_err(|_| overflow(ctx, "tax_total"))?;
    if tax_residual != 0 {
        let idx = largest_by(&b.lines, |l| l.tax.unsigned_abs())
            .or_else(|| largest_by(&b.lines, |l| l.amount.unsigned_abs()));
        if let Some(i) = idx {
            b.lines[i].tax = b.lines[i].tax.saturating_add(tax_residual);
        }
    }
    Ok(Converted {
        tax_total,
        payment,
        redemptions,
        residual,
    })
}

/// The first line with the largest non-zero key.
fn largest_by(lines: &[DocLine], key: impl Fn(&DocLine) -> u64) -> Option<usize> {
    // max_by_key returns the last maximum; we want the first.
    let mut best: Option<(usize, u64)> = None;
    for (i, l) in lines.iter().enumerate() {
        let k = key(l);
        if best.is_none_or(|(_, b)| k > b) {
            best = Some((i, k));
        }
    }
    best.filter(|(_, k)| *k > 0).map(|(i, _)| i)
}

/// Adds the residual to the largest product line (first on ties; any line when there is no
/// product) or posts it as a rounding line.
fn place_residual(
    b: &mut Builder<'_>,
    rule: ResidualRule,
    residual: i64,
) -> Result<(), MappingError> {
    let target = match rule {
        ResidualRule::LargestLine => b
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == LineKind::Product)
            .fold(None::<(usize, u64)>, |best, (i, l)| {
                let k = l.amount.unsigned_abs();
                match best {
                    Some((_, bk)) if bk >= k => best,
                    _ => Some((i, k)),
                }
            })
            .map(|(i, _)| i)
            .or_else(|| largest_by(&b.lines, |l| l.amount.unsigned_abs())),
        ResidualRule::RoundingLine => None,
    };
    match target {
        Some(i) => {
            b.lines[i].amount = b.lines[i].amount.saturating_add(residual);
        }
        None => {
            let r = &b.conn.config.items.rounding;
            let item = b.target_item("rounding", &r.item, &r.account)?;
            let desc = if r.description.is_empty() {
                "Rounding".to_string()
            } else {
                r.description.clone()
            };
            let account = r.account.clone();
            let line = b.line(LineKind::Rounding, item, desc, 0, 0);
            line.amount = residual;
            line.account = account;
        }
    }
    Ok(())
}
