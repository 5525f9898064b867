//! `/v2/customers`: list (paged), search, read, create, update, delete by Code.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_decimal::Decimal;
use serde_json::Value;

use super::{origin, reply, Authed};
use crate::error::ApiError;
use crate::json;
use crate::paging::{self, Column, Params};
use crate::state::{incr, AppState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/customers", get(list).post(create))
        .route("/v2/customers/search", get(search))
        .route("/v2/customers/{code}", get(read).put(update).delete(remove))
}

pub fn by_text(a: &Value, b: &Value, field: &str) -> Ordering {
    let s = |v: &Value| v[field].as_str().unwrap_or_default().to_lowercase();
    s(a).cmp(&s(b))
}

pub fn by_number(a: &Value, b: &Value, field: &str) -> Ordering {
    let n = |v: &Value| v[field].as_f64().unwrap_or_default();
    n(a).total_cmp(&n(b))
}

const COLUMNS: [Column<Value>; 4] = [
    (0, "Name", |a, b| by_text(a, b, "Name")),
    (1, "Code", |a, b| by_text(a, b, "Code")),
    (3, "TotalPaidAmount", |a, b| {
        by_number(a, b, "TotalPaidAmount")
    }),
    (4, "OutstandingBalance", |a, b| {
        by_number(a, b, "OutstandingBalance")
    }),
];

fn paged(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    params: &Params,
    mut rows: Vec<Value>,
) -> Result<Value, ApiError> {
    let page = paging::page(
        params,
        state.config.paging.customers_per_page,
        &state.config.paging,
    )?;
    paging::sort(&mut rows, params, &COLUMNS, 1)?;
    let url = format!("{}{path}", origin(headers));
    Ok(paging::envelope(rows, page, &url, params, Decimal::ZERO))
}

async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(params);
    let rows: Vec<Value> = {
        let acc = auth.account.lock();
        acc.customers
            .values()
            .map(|c| acc.render_customer(c))
            .collect()
    };
    match paged(&state, &headers, "/v2/customers", &params, rows) {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

/// `GET /customers/search?searchBy=code|email|name&searchText=` (contains, ignoring case).
async fn search(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(params);
    let found = {
        let acc = auth.account.lock();
        let by = params.get("searchBy").unwrap_or("name");
        let text = params.get("searchText").unwrap_or_default();
        acc.search_customers(by, text).map(|cs| {
            cs.into_iter()
                .map(|c| acc.render_customer(c))
                .collect::<Vec<_>>()
        })
    };
    match found.and_then(|rows| paged(&state, &headers, "/v2/customers/search", &params, rows)) {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

async fn read(auth: Authed, Path(code): Path<String>) -> Response {
    let acc = auth.account.lock();
    match acc.customer(&code) {
        Ok(c) => reply(StatusCode::OK, acc.render_customer(c)),
        Err(e) => e.into_response(),
    }
}

async fn create(State(state): State<Arc<AppState>>, auth: Authed, body: Bytes) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = json::object(&body).and_then(|b| acc.create_customer(b, &ctx));
    match acc.failed(r) {
        Ok(c) => reply(StatusCode::CREATED, acc.render_customer(&c)),
        Err(e) => e.into_response(),
    }
}

/// 200, or 201 when the body changed the Code.
async fn update(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = json::object(&body).and_then(|b| acc.update_customer(&code, b, &ctx));
    match acc.failed(r) {
        Ok((c, renamed)) => {
            let status = if renamed {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            reply(status, acc.render_customer(&c))
        }
        Err(e) => e.into_response(),
    }
}

async fn remove(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(code): Path<String>,
) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = acc.delete_customer(&code, &ctx);
    match acc.failed(r) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}
