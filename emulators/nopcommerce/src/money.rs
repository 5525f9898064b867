//! Money the nopCommerce way: C# decimal arithmetic, stored as decimal(18,4), rounded to
//! the currency only when RoundPricesDuringCalculation is on.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

/// What SQL Server does when a value lands in a decimal(18,4) column: round half away
/// from zero, and the value then carries scale 4 (`105.5000`).
pub fn db4(v: Decimal) -> Decimal {
    let mut r = v.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(4);
    r
}

/// A decimal column of another scale (CurrencyRate may be decimal(18,8)).
pub fn db_scale(v: Decimal, scale: u32) -> Decimal {
    let mut r = v.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    r
}

/// `PriceCalculationService.RoundPrice` for RoundingType.Rounding001: `Math.Round(v, 2)`,
/// whose default is banker's rounding.
pub fn round_currency(v: Decimal) -> Decimal {
    v.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// Rounds only when the setting says so.
pub fn maybe_round(v: Decimal, round: bool) -> Decimal {
    if round {
        round_currency(v)
    } else {
        v
    }
}

/// Price plus tax at `rate` percent.
pub fn with_tax(price: Decimal, rate: Decimal) -> Decimal {
    price + price * rate / Decimal::ONE_HUNDRED
}

/// `"<rate>:<amount>;   "` per rate, ascending (OrderProcessingService); amounts unrounded
/// beyond the 4 places kept here, normalized unless `with_scale`.
pub fn format_tax_rates(rates: &BTreeMap<Decimal, Decimal>, with_scale: bool) -> String {
    let mut out = String::new();
    for (rate, amount) in rates {
        let (r, a) = if with_scale {
            (db4(*rate), db4(*amount))
        } else {
            (rate.normalize(), db4(*amount).normalize())
        };
        out.push_str(&format!("{r}:{a};   "));
    }
    out
}

/// Mirrors `OrderService.ParseTaxRates`: split on `;`, trim, skip empties, `rate:amount`
/// with exactly two parts, skip what does not parse; nothing parsed → `{0: 0}`.
pub fn parse_tax_rates(s: &str) -> BTreeMap<Decimal, Decimal> {
    let mut out = BTreeMap::new();
    for piece in s.split(';') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let parts: Vec<&str> = piece.split(':').collect();
        if parts.len() != 2 {
            continue;
        }
        let (Ok(rate), Ok(amount)) = (
            parts[0].trim().parse::<Decimal>(),
            parts[1].trim().parse::<Decimal>(),
        ) else {
            continue;
        };
        out.entry(rate).or_insert(amount);
    }
    if out.is_empty() {
        out.insert(Decimal::ZERO, Decimal::ZERO);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn tax_rates_format_and_parse() {
        let mut m = BTreeMap::new();
        m.insert(d("19"), d("9.5"));
        m.insert(d("7"), d("1.4"));
        let s = format_tax_rates(&m, false);
        assert_eq!(s, "7:1.4;   19:9.5;   ");
        assert_eq!(parse_tax_rates(&s), m);
        assert_eq!(
            format_tax_rates(&m, true),
            "7.0000:1.4000;   19.0000:9.5000;   "
        );
        assert_eq!(
            parse_tax_rates("20.0000:20.1000;   ").get(&d("20")),
            Some(&d("20.1"))
        );
        assert_eq!(
            parse_tax_rates("garbage").get(&Decimal::ZERO),
            Some(&Decimal::ZERO)
        );
    }

    #[test]
    fn rounding_modes() {
        assert_eq!(round_currency(d("2.345")), d("2.34"));
        assert_eq!(round_currency(d("2.355")), d("2.36"));
        assert_eq!(db4(d("1.23445")).to_string(), "1.2345");
        assert_eq!(db4(d("105.5")).to_string(), "105.5000");
    }
}
