//! The `{Data, MetaData}` list envelope (reference A3): 1-based `page`, `perpage` with a
//! maximum, absolute page URLs (`NextPageUrl` null on the last page), and sorting by the
//! integer `sortby` enum or a property name with `order=asc|desc`.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::config::{OverMax, PagingConfig};
use crate::error::{ApiError, ApiResult};
use crate::json::number;

/// Query parameters as sent, names compared case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::validation(format!("{name} must be a whole number.")))
            })
            .transpose()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: usize,
    pub per_page: usize,
}

/// Reads `page` and `perpage`; `skip_validation` is `skipperpagevalidation=true`.
pub fn page(params: &Params, default_per_page: usize, cfg: &PagingConfig) -> ApiResult<Page> {
    let page = params.int("page")?.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::validation("page must be 1 or more."));
    }
    let per_page = params.int("perpage")?.unwrap_or(default_per_page as i64);
    if per_page < 1 {
        return Err(ApiError::validation("perpage must be 1 or more."));
    }
    let max = cfg.max_per_page as i64;
    let per_page = if per_page > max && !params.flag("skipperpagevalidation") {
        match cfg.perpage_over_max {
            OverMax::Reject => {
                return Err(ApiError::validation(format!(
                    "perpage must be between 1 and {max}."
                )))
            }
            OverMax::Cap => max,
        }
    } else {
        per_page
    };
    Ok(Page {
        page: usize::try_from(page).unwrap_or(usize::MAX),
        per_page: usize::try_from(per_page).unwrap_or(usize::MAX),
    })
}

/// One sortable column: its `sortby` enum value, its name and the comparison.
pub type Column<T> = (i64, &'static str, fn(&T, &T) -> std::cmp::Ordering);

/// Sorts `rows` by the `sortby` column (`columns` maps enum values and names to a key
/// function) and `order`.
pub fn sort<T>(
    rows: &mut [T],
    params: &Params,
    columns: &[Column<T>],
    default: usize,
) -> ApiResult<()> {
    let chosen = match params.get("sortby") {
        None => columns.get(default),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) => columns.iter().find(|(v, _, _)| *v == n),
            Err(_) => columns
                .iter()
                .find(|(_, name, _)| name.eq_ignore_ascii_case(s.trim())),
        }
        .or(None),
    };
    let Some((_, _, cmp)) = chosen else {
        return Err(ApiError::validation(format!(
            "sortby {} is not supported.",
            params.get("sortby").unwrap_or_default()
        )));
    };
    let desc = match params.get("order").map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => {
            return Err(ApiError::validation(format!(
                "order must be asc or desc, not {o}."
            )))
        }
    };
    rows.sort_by(|a, b| if desc { cmp(b, a) } else { cmp(a, b) });
    Ok(())
}

/// Wraps one page of `rows` (all rows of the list, already filtered and sorted).
pub fn envelope(
    rows: Vec<Value>,
    page: Page,
    url: &str,
    params: &Params,
    total_amount: Decimal,
) -> Value {
    let total = rows.len();
    let last = total.div_ceil(page.per_page).max(1);
    let start = (page.page - 1).saturating_mul(page.per_page);
    let data: Vec<Value> = rows.into_iter().skip(start).take(page.per_page).collect();
    let link = |p: usize| {
        let mut q: Vec<String> = params
            .0
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("page") && !k.eq_ignore_ascii_case("perpage"))
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        q.push(format!("page={p}"));
        q.push(format!("perpage={}", page.per_page));
        json!(format!("{url}?{}", q.join("&")))
    };
    json!({
        "Data": data,
        "MetaData": {
            "TotalRecords": total,
            "FirstPageUrl": link(1),
            "LastPageUrl": link(last),
            "NextPageUrl": if page.page < last { link(page.page + 1) } else { Value::Null },
            "PreviousPageUrl": if page.page > 1 { link((page.page - 1).min(last)) } else { Value::Null },
            "TotalAmount": number(total_amount),
            "InvoiceLimitReached": false,
        }
    })
}

fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn pages_split_rows_and_link_to_neighbours() -> ApiResult<()> {
        let cfg = PagingConfig::default();
        let p = params(&[("customercode", "A B"), ("page", "2"), ("perpage", "2")]);
        let pg = page(&p, 50, &cfg)?;
        let rows = (0..5).map(|i| json!(i)).collect();
        let e = envelope(rows, pg, "http://h/v2/invoices", &p, Decimal::ZERO);
        assert_eq!(e["Data"], json!([2, 3]));
        assert_eq!(e["MetaData"]["TotalRecords"], 5);
        assert_eq!(
            e["MetaData"]["NextPageUrl"],
            "http://h/v2/invoices?customercode=A%20B&page=3&perpage=2"
        );
        assert_eq!(
            e["MetaData"]["LastPageUrl"],
            "http://h/v2/invoices?customercode=A%20B&page=3&perpage=2"
        );
        let last = page(&params(&[("page", "3"), ("perpage", "2")]), 50, &cfg)?;
        let e = envelope(
            (0..5).map(|i| json!(i)).collect(),
            last,
            "u",
            &p,
            Decimal::ZERO,
        );
        assert_eq!(e["Data"], json!([4]));
        assert_eq!(e["MetaData"]["NextPageUrl"], Value::Null);
        Ok(())
    }

    #[test]
    fn perpage_over_the_maximum_is_refused_or_capped() {
        let p = params(&[("perpage", "101")]);
        assert!(page(&p, 50, &PagingConfig::default()).is_err());
        let capped = PagingConfig {
            perpage_over_max: OverMax::Cap,
            ..PagingConfig::default()
        };
        assert_eq!(page(&p, 50, &capped).map(|p| p.per_page), Ok(100));
        let skip = params(&[("perpage", "500"), ("skipperpagevalidation", "true")]);
        assert_eq!(
            page(&skip, 50, &PagingConfig::default()).map(|p| p.per_page),
            Ok(500)
        );
        assert!(page(&params(&[("page", "0")]), 50, &PagingConfig::default()).is_err());
    }
}
