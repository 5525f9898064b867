//! `/v2/products` (bare array or paged, per settings), `/v2/products/list` (paged) and
//! products by (nominal, code).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_decimal::Decimal;
use serde_json::Value;

use super::customers::{by_number, by_text};
use super::{origin, path_number, reply, Authed};
use crate::config::ListShape;
use crate::error::ApiError;
use crate::json;
use crate::paging::{self, Column, Params};
use crate::state::{incr, AppState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/products", get(list).post(create))
        .route("/v2/products/list", get(list_paged))
        .route(
            "/v2/products/{nominal}/{code}",
            get(read).put(update).delete(remove),
        )
        .route("/v2/nominals/{code}/products", get(of_nominal))
}

const COLUMNS: [Column<Value>; 4] = [
    (0, "Code", |a, b| {
        by_number(a, b, "NominalCode").then_with(|| by_text(a, b, "Code"))
    }),
    (1, "Name", |a, b| by_text(a, b, "Name")),
    (2, "Price", |a, b| by_number(a, b, "Price")),
    (3, "QuantityInStock", |a, b| {
        by_number(a, b, "QuantityInStock")
    }),
];

fn rows(state: &AppState, auth: &Authed, nominal: Option<i64>) -> Vec<Value> {
    let acc = auth.account.lock();
    acc.products
        .values()
        .filter(|p| nominal.is_none_or(|n| p.nominal_code == n))
        .map(|p| acc.render_product(p, state.config.validation.legacy_product_field_names))
        .collect()
}

fn page_of(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    params: &Params,
    per_page: usize,
    mut rows: Vec<Value>,
) -> Result<Value, ApiError> {
    let page = paging::page(params, per_page, &state.config.paging)?;
    paging::sort(&mut rows, params, &COLUMNS, 0)?;
    let url = format!("{}{path}", origin(headers));
    Ok(paging::envelope(rows, page, &url, params, Decimal::ZERO))
}

/// `GET /products`: a bare array unless `paging.products_shape = "paged"`.
async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(params);
    let rows = rows(&state, &auth, None);
    let result = match state.config.paging.products_shape {
        ListShape::Bare => Ok(Value::Array(rows)),
        ListShape::Paged => page_of(
            &state,
            &headers,
            "/v2/products",
            &params,
            state.config.paging.reference_per_page,
            rows,
        ),
    };
    match result {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

/// `GET /products/list`: always paged (default 10 per page).
async fn list_paged(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(params);
    let rows = rows(&state, &auth, None);
    let per_page = state.config.paging.products_per_page;
    match page_of(
        &state,
        &headers,
        "/v2/products/list",
        &params,
        per_page,
        rows,
    ) {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

async fn of_nominal(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(code): Path<String>,
) -> Response {
    let result = path_number(&code, "Nominal").and_then(|n| {
        auth.account
            .lock()
            .nominal(n)
            .map_err(|_| ApiError::not_found(format!("Nominal {n} does not exist.")))?;
        Ok(rows(&state, &auth, Some(n)))
    });
    match result {
        Ok(rows) => reply(StatusCode::OK, Value::Array(rows)),
        Err(e) => e.into_response(),
    }
}

async fn read(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path((nominal, code)): Path<(String, String)>,
) -> Response {
    let acc = auth.account.lock();
    let legacy = state.config.validation.legacy_product_field_names;
    match path_number(&nominal, "Nominal").and_then(|n| acc.product(n, &code)) {
        Ok(p) => reply(StatusCode::OK, acc.render_product(p, legacy)),
        Err(e) => e.into_response(),
    }
}

async fn create(State(state): State<Arc<AppState>>, auth: Authed, body: Bytes) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = json::object(&body).and_then(|b| acc.create_product(b, &ctx));
    match acc.failed(r) {
        Ok(p) => reply(
            StatusCode::CREATED,
            acc.render_product(&p, state.config.validation.legacy_product_field_names),
        ),
        Err(e) => e.into_response(),
    }
}

async fn update(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path((nominal, code)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = path_number(&nominal, "Nominal")
        .and_then(|n| Ok((n, json::object(&body)?)))
        .and_then(|(n, b)| acc.update_product(n, &code, b, &ctx));
    match acc.failed(r) {
        Ok(p) => reply(
            StatusCode::OK,
            acc.render_product(&p, state.config.validation.legacy_product_field_names),
        ),
        Err(e) => e.into_response(),
    }
}

async fn remove(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path((nominal, code)): Path<(String, String)>,
) -> Response {
    incr(&state.counters.writes);
    let mut acc = auth.account.lock();
    let r = path_number(&nominal, "Nominal").and_then(|n| acc.delete_product(n, &code));
    match acc.failed(r) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}
