//! nopCommerce's `Order.TaxRates` string, parsed exactly as `OrderService.ParseTaxRates`.
//!
//! The store writes `"{rate}:{amount};   "` per rate in ascending order (reference §1.13);
//! amounts may carry scale (`"20.0000:20.1000;   "`, errata 2). `ParseTaxRates`:
//! - null or empty string → an empty result;
//! - split on `;` (empty pieces dropped), skip pieces that are blank after trimming;
//! - split the piece on `:`, skip it unless there are exactly two parts;
//! - parse both parts (trimmed) as invariant-culture decimals (`NumberStyles.Number`: optional
//!   leading or trailing sign, `,` group separators, `.` decimal point); skip the piece on
//!   failure, and also when the rate is already present (`SortedDictionary.Add` throws on a
//!   duplicate key and the exception is swallowed, so the first entry wins);
//! - if nothing was added, the result is the single entry `0:0`.
//!
//! Difference from C#: a value that does not fit 64-bit units (more than ~18 significant
//! digits) is skipped here, where C# would round it to 28 digits.
use crate::decimal::digits_to_decimal;
use crate::rate::Rate;

/// One rate of the breakdown: percent and the (unrounded) tax amount in store currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxRateEntry {
    pub rate_percent: Rate,
    pub amount: Rate,
}

impl TaxRateEntry {
    /// The amount rounded half away from zero to a currency with `exponent` decimals.
    pub fn amount_minor(&self, exponent: u32) -> Option<i64> {
        self.amount.apply_minor(1, 0, exponent)
    }
}

/// Parses a TaxRates string; entries come back sorted by rate, ascending.
pub fn parse_tax_rates(s: &str) -> Vec<TaxRateEntry> {
    let mut out: Vec<TaxRateEntry> = Vec::new();
    if s.is_empty() {
        return out;
    }
    for piece in s.split(';').filter(|p| !p.is_empty()) {
        if piece.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = piece.split(':').collect();
        let [rate, amount] = parts.as_slice() else {
            continue;
        };
        let (Some(rate), Some(amount)) = (parse_dotnet_number(rate), parse_dotnet_number(amount))
        else {
            continue;
        };
        if out.iter().any(|e| e.rate_percent == rate) {
            continue;
        }
        out.push(TaxRateEntry {
            rate_percent: rate,
            amount,
        });
    }
    if out.is_empty() {
        out.push(TaxRateEntry {
            rate_percent: Rate::ZERO,
            amount: Rate::ZERO,
        });
    }
    out.sort_by_key(|e| e.rate_percent);
    out
}

/// `decimal.Parse(s, CultureInfo.InvariantCulture)` (NumberStyles.Number) for the inputs
/// nopCommerce can produce: `[ws][sign]digits[,digits…][.digits][sign][ws]`.
fn parse_dotnet_number(s: &str) -> Option<Rate> {
    let t = s.trim();
    let (lead_neg, t) = match t.as_bytes().first() {
        Some(b'-') => (Some(true), &t[1..]),
        Some(b'+') => (Some(false), &t[1..]),
        _ => (None, t),
    };
    let (trail_neg, t) = match (lead_neg, t.as_bytes().last()) {
        (None, Some(b'-')) => (Some(true), &t[..t.len() - 1]),
        (None, Some(b'+')) => (Some(false), &t[..t.len() - 1]),
        _ => (None, t),
    };
    let neg = lead_neg.or(trail_neg).unwrap_or(false);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    // Group separators are only valid among the integer digits, after the first digit.
    if int.starts_with(',') || !int.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: String = int.chars().filter(|&c| c != ',').collect();
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let d = digits_to_decimal(&int, frac, neg)?;
    Some(Rate::new(i64::try_from(d.mantissa).ok()?, d.scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Rate {
        Rate::parse(s).unwrap()
    }

    fn entries(s: &str) -> Vec<(String, String)> {
        parse_tax_rates(s)
            .into_iter()
            .map(|e| {
                (
                    e.rate_percent.normalized().to_string(),
                    e.amount.normalized().to_string(),
                )
            })
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("20:20.1;   ", &[("20", "20.1")]),
            ("7:1.4;   19:9.5;   ", &[("7", "1.4"), ("19", "9.5")]),
            ("0:0;", &[("0", "0")]),
            // errata 2: amounts and rates with scale
            ("20.0000:20.1000;   ", &[("20", "20.1")]),
            // entries out of order are sorted by rate
            ("19:9.5;7:1.4;", &[("7", "1.4"), ("19", "9.5")]),
            // duplicate rate (same value, different scale): the first wins
            ("20:1;20.00:2;", &[("20", "1")]),
            // malformed pieces are skipped, the rest kept
            ("abc;7:1;8:x;9:1:2;  ;", &[("7", "1")]),
            // nothing parses → {0: 0}
            ("garbage", &[("0", "0")]),
            (";;;", &[("0", "0")]),
            ("   ", &[("0", "0")]),
            // .NET NumberStyles.Number: group separators, trailing sign, spaces around parts
            ("1,000:2,500.5;", &[("1000", "2500.5")]),
            ("5: 1.5- ;", &[("5", "-1.5")]),
            (" 8.875 : 0.1775 ;", &[("8.875", "0.1775")]),
            (".5:.25;", &[("0.5", "0.25")]),
            // both signs, exponent, leading group separator: not numbers
            ("-5-:1;1e2:1;,5:1;", &[("0", "0")]),
        ];
        for &(input, want) in cases {
            assert_eq!(entries(input), pairs(want), "{input:?}");
        }
    }

    #[test]
    fn empty_string_is_empty_not_zero() {
        assert!(parse_tax_rates("").is_empty());
    }

    #[test]
    fn amounts_round_to_minor_units() {
        let e = parse_tax_rates("20:20.1050;");
        assert_eq!(e[0].rate_percent, r("20"));
        assert_eq!(e[0].amount_minor(2), Some(2011));
        assert_eq!(e[0].amount_minor(0), Some(20));
    }
}
