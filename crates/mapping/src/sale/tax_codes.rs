//! Which tax rate explains each line, and the tax code that goes with it.
use super::DocLine;
use crate::config::TaxMode;
use crate::error::{ErrorContext, MappingError};
use crate::mapper::Connection;
use crate::pb::commands::LineKind;
use crate::pb::events::Order;
use nopbridge_model::{parse_tax_rates, Rate};

/// The non-zero rates a line's tax may come from: the order's breakdown (`tax_rates`, else
/// `tax_rates_raw` parsed like nopCommerce), else the configured VAT rates.
pub(super) fn candidates(conn: &Connection, order: &Order) -> Vec<Rate> {
    let mut rates: Vec<Rate> = if order.tax_rates.is_empty() {
        parse_tax_rates(&order.tax_rates_raw)
            .into_iter()
            .map(|e| e.rate_percent)
            .collect()
    } else {
        order
            .tax_rates
            .iter()
            .filter_map(|t| t.rate_percent.as_ref().map(Rate::from_proto))
            .collect()
    };
    rates.retain(|r| !r.is_zero());
    if rates.is_empty() {
        rates = conn
            .config
            .tax
            .vat
            .codes
            .iter()
            .map(|c| c.rate)
            .filter(|r| !r.is_zero())
            .collect();
    }
    rates
}

/// The rate among `candidates` that best explains `tax` on `net`.
pub(super) fn nearest_rate(candidates: &[Rate], net: i64, tax: i64) -> Option<Rate> {
    let s = candidates.iter().map(Rate::scale).max()?.min(12);
    let p = 10i128.pow(s);
    candidates
        .iter()
        .filter(|r| r.scale() <= s)
        .min_by_key(|r| {
            let units = i128::from(r.units()) * 10i128.pow(s - r.scale());
            (i128::from(tax) * 100 * p - i128::from(net) * units).abs()
        })
        .copied()
}

/// The rate of a line with `net` and `tax`: zero when untaxed.
pub(super) fn line_rate(candidates: &[Rate], net: i64, tax: i64) -> Rate {
    if tax == 0 {
        return Rate::ZERO;
    }
    nearest_rate(candidates, net, tax).unwrap_or(Rate::ZERO)
}

pub(super) fn assign(
    conn: &Connection,
    ctx: &ErrorContext,
    lines: &mut [DocLine],
) -> Result<(), MappingError> {
    let tax = &conn.config.tax;
    match tax.mode {
        TaxMode::UsSalesTax => {
            let any_taxed = lines
                .iter()
                .any(|l| l.kind == LineKind::Product && l.tax != 0);
            for l in lines.iter_mut() {
                if l.kind == LineKind::Description {
                    continue;
                }
                let taxable = match l.kind {
                    LineKind::Product | LineKind::Shipping | LineKind::PaymentFee => l.tax != 0,
                    // A subtotal discount on taxed goods is taxable (tax after discount);
                    // the order-total discount is applied after tax.
                    LineKind::Discount => l.tax != 0 || (any_taxed && l.rate.is_some()),
                    _ => false,
                };
                l.tax_code = if taxable {
                    tax.us.taxable_code.clone()
                } else {
                    tax.us.non_taxable_code.clone()
                };
                l.rate = None;
            }
        }
        TaxMode::Vat => {
            for (i, l) in lines.iter_mut().enumerate() {
                if l.kind == LineKind::Description {
                    continue;
                }
                let rate = l.rate.unwrap_or(Rate::ZERO);
                let code = conn.vat_code(rate).or_else(|| {
                    (rate.is_zero() && !tax.vat.exempt_code.is_empty())
                        .then_some(tax.vat.exempt_code.as_str())
                });
                match code {
                    Some(c) => {
                        l.tax_code = c.to_string();
                        l.rate = Some(rate);
                    }
                    None => {
                        return Err(MappingError::Unmapped {
                            context: ctx.clone().into(),
                            field: format!("tax_rates (line {} {:?})", i + 1, l.description),
                            found: format!("{rate}%"),
                            config_key: if rate.is_zero() {
                                "tax.vat.exempt_code".into()
                            } else {
                                "tax.vat.codes".into()
                            },
                        })
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rate_explains_line_tax() {
        let c = [Rate::parse("7").unwrap(), Rate::parse("19").unwrap()];
        assert_eq!(nearest_rate(&c, 2000, 140), Some(c[0]));
        assert_eq!(nearest_rate(&c, 5000, 950), Some(c[1]));
        // 1-cent rounding noise still picks the right rate
        assert_eq!(nearest_rate(&c, 333, 63), Some(c[1]));
        assert_eq!(nearest_rate(&[], 1, 1), None);
        assert_eq!(line_rate(&c, 1000, 0), Rate::ZERO);
    }
}
