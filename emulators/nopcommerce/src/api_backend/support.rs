//! Query binding, errors and paging as the Web API Backend (ASP.NET Core) does them.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::json::{json_response, plain};
use crate::store::StoreError;

/// 400 as ASP.NET Core ProblemDetails (`application/problem+json`).
pub fn problem(detail: &str, errors: Option<(&str, String)>) -> Response {
    let mut body = serde_json::json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": if errors.is_some() { "One or more validation errors occurred." } else { "Bad Request" },
        "status": 400,
        "detail": detail,
        "instance": serde_json::Value::Null,
    });
    if let Some((key, message)) = errors {
        body["errors"] = serde_json::json!({ key: [message] });
    }
    let mut r = json_response(StatusCode::BAD_REQUEST, &body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json; charset=utf-8"),
    );
    r
}

/// 404 with a plain string body.
pub fn not_found(entity: &str) -> Response {
    plain(StatusCode::NOT_FOUND, &format!("{entity} not found"))
}

/// 401 with a plain string body and a Bearer challenge.
pub fn unauthorized(text: &str) -> Response {
    let mut r = plain(StatusCode::UNAUTHORIZED, text);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

pub fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(entity) => not_found(entity),
        StoreError::Refused(msg) => problem(&msg, None),
    }
}

/// Parses a date filter: with an offset it is converted to UTC; without one it is taken
/// as server-local time (`offset_minutes` east of UTC).
pub fn parse_date(s: &str, offset_minutes: i32) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    Some(naive.and_utc() - Duration::minutes(i64::from(offset_minutes)))
}

/// Query parameters, keys matched case-insensitively as ASP.NET model binding does.
pub struct Params {
    map: HashMap<String, String>,
    offset_minutes: i32,
    separators: String,
}

/// A bound value, or the 400 answer to return (boxed: a Response is large).
pub type Bound<T> = Result<T, Box<Response>>;

fn invalid(key: &str, value: &str) -> Box<Response> {
    Box::new(problem(
        &format!("The value '{value}' is not valid for {key}."),
        Some((key, format!("The value '{value}' is not valid."))),
    ))
}

impl Params {
    pub fn new(raw: HashMap<String, String>, offset_minutes: i32, separators: &str) -> Self {
        Self {
            map: raw
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            offset_minutes,
            separators: separators.to_string(),
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.map
            .get(&key.to_ascii_lowercase())
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    pub fn int(&self, key: &str) -> Bound<Option<i32>> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| invalid(key, v)),
        }
    }

    pub fn bool(&self, key: &str) -> Bound<Option<bool>> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(invalid(key, v)),
            },
        }
    }

    pub fn decimal(&self, key: &str) -> Bound<Option<Decimal>> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| invalid(key, v)),
        }
    }

    pub fn date(&self, key: &str) -> Bound<Option<DateTime<Utc>>> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => parse_date(v, self.offset_minutes)
                .map(Some)
                .ok_or_else(|| invalid(key, v)),
        }
    }

    /// A list of ids in one string (`osIds=10;20`).
    pub fn ids(&self, key: &str) -> Bound<Option<Vec<i32>>> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => parse_ids(v, &self.separators)
                .map(Some)
                .ok_or_else(|| invalid(key, v)),
        }
    }

    /// `pageIndex` (0-based, default 0), `pageSize` (default int.MaxValue), `getOnlyTotalCount`.
    pub fn paging(&self) -> Bound<Paging> {
        let index = self.int("pageIndex")?.unwrap_or(0);
        let size = self.int("pageSize")?.unwrap_or(i32::MAX);
        if index < 0 {
            return Err(invalid("pageIndex", &index.to_string()));
        }
        if size <= 0 {
            return Err(invalid("pageSize", &size.to_string()));
        }
        Ok(Paging {
            index,
            size,
            only_total_count: self.bool("getOnlyTotalCount")?.unwrap_or(false),
        })
    }
}

pub fn parse_ids(v: &str, separators: &str) -> Option<Vec<i32>> {
    v.split(|c| separators.contains(c))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}

#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub index: i32,
    pub size: i32,
    pub only_total_count: bool,
}

/// nopCommerce's IPagedList as the OWB serializes it.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page_index: i32,
    pub page_size: i32,
    pub total_count: i32,
    pub total_pages: i32,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl Paging {
    pub fn apply<T: Clone>(&self, all: Vec<&T>) -> Page<T> {
        let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let size = i64::from(self.size);
        let pages = (total + size - 1) / size;
        let items = if self.only_total_count {
            Vec::new()
        } else {
            let skip = usize::try_from(i64::from(self.index) * size).unwrap_or(usize::MAX);
            all.into_iter()
                .skip(skip)
                .take(usize::try_from(size).unwrap_or(usize::MAX))
                .cloned()
                .collect()
        };
        Page {
            items,
            page_index: self.index,
            page_size: self.size,
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
            total_pages: i32::try_from(pages).unwrap_or(i32::MAX),
            has_previous_page: self.index > 0,
            has_next_page: i64::from(self.index) + 1 < pages,
        }
    }
}
