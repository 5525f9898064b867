//! Reference data: nominals (bare or paged, per settings), VAT rates, bank accounts,
//! payment methods, currencies and countries (bare arrays).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::customers::{by_number, by_text};
use super::{origin, path_number, reply, Authed};
use crate::config::ListShape;
use crate::error::ApiError;
use crate::json;
use crate::paging::{self, Column, Params};
use crate::state::{incr, AppState};
use crate::store::country_name;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/nominals", get(nominals).post(create_nominal))
        .route("/v2/nominals/{code}", get(nominal))
        .route("/v2/vat/settings/vatrates", get(vat_rates))
        .route("/v2/bankaccounts", get(bank_accounts))
        .route("/v2/paymentmethods/{kind}", get(payment_methods))
        .route("/v2/currencies", get(currencies))
        .route("/v2/countries", get(countries))
}

const COLUMNS: [Column<Value>; 2] = [
    (0, "Code", |a, b| by_number(a, b, "Code")),
    (1, "Name", |a, b| by_text(a, b, "Name")),
];

async fn nominals(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(params);
    let search = params.get("searchText").map(str::to_lowercase);
    let classification = params.get("type");
    let rows: Vec<Value> = auth
        .account
        .lock()
        .nominals
        .values()
        .filter(|n| classification.is_none_or(|c| n.classification.eq_ignore_ascii_case(c)))
        .filter(|n| {
            search.as_ref().is_none_or(|s| {
                n.name.to_lowercase().contains(s.as_str()) || n.code.to_string() == *s
            })
        })
        .map(|n| n.render())
        .collect();
    let result = match state.config.paging.nominals_shape {
        ListShape::Bare => Ok(Value::Array(rows)),
        ListShape::Paged => (|| {
            let mut rows = rows;
            let page = paging::page(
                &params,
                state.config.paging.reference_per_page,
                &state.config.paging,
            )?;
            paging::sort(&mut rows, &params, &COLUMNS, 0)?;
            let url = format!("{}/v2/nominals", origin(&headers));
            Ok::<_, ApiError>(paging::envelope(rows, page, &url, &params, Decimal::ZERO))
        })(),
    };
    match result {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

async fn nominal(auth: Authed, Path(code): Path<String>) -> Response {
    let acc = auth.account.lock();
    let found = path_number(&code, "Nominal").and_then(|n| {
        acc.nominals
            .get(&n)
            .map(|n| n.render())
            .ok_or_else(|| ApiError::not_found(format!("Nominal {n} does not exist.")))
    });
    match found {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

/// 201 for a new nominal; 200 with the existing one under `CreateWhenNotPresent`.
async fn create_nominal(State(state): State<Arc<AppState>>, auth: Authed, body: Bytes) -> Response {
    incr(&state.counters.writes);
    let mut acc = auth.account.lock();
    let r = json::object(&body).and_then(|b| acc.create_nominal(b));
    match acc.failed(r) {
        Ok((n, true)) => reply(StatusCode::CREATED, n.render()),
        Ok((n, false)) => reply(StatusCode::OK, n.render()),
        Err(e) => e.into_response(),
    }
}

async fn vat_rates(auth: Authed) -> Response {
    let rates: Vec<Value> = auth
        .account
        .lock()
        .vat_rates()
        .into_iter()
        .enumerate()
        .map(|(i, r)| json!({"VATId": i + 1, "VATRate": json::number(r), "VATText": format!("{}%", r.normalize())}))
        .collect();
    reply(StatusCode::OK, Value::Array(rates))
}

async fn bank_accounts(auth: Authed) -> Response {
    let acc = auth.account.lock();
    let rows: Vec<Value> = acc
        .config
        .bank_accounts
        .iter()
        .map(|b| json!({"Id": b.id, "Name": b.name, "NominalCode": b.nominal_code, "Currency": {"Code": acc.config.home_currency}}))
        .collect();
    reply(StatusCode::OK, Value::Array(rows))
}

/// `invoice` or `purchase`; both use the account's payment methods.
async fn payment_methods(auth: Authed, Path(kind): Path<String>) -> Response {
    if !matches!(kind.to_lowercase().as_str(), "invoice" | "purchase") {
        return ApiError::not_found(format!("Payment method type {kind} does not exist."))
            .into_response();
    }
    let rows: Vec<Value> = auth
        .account
        .lock()
        .config
        .payment_methods
        .iter()
        .map(|m| json!({"Id": m.id, "Name": m.name}))
        .collect();
    reply(StatusCode::OK, Value::Array(rows))
}

async fn currencies(auth: Authed) -> Response {
    let acc = auth.account.lock();
    let rows: Vec<Value> = acc
        .config
        .currencies
        .iter()
        .filter_map(|c| acc.currency(Some(c), None).ok())
        .collect();
    reply(StatusCode::OK, Value::Array(rows))
}

async fn countries(_auth: Authed) -> Response {
    let eu = ["IE", "FR", "DE", "ES", "IT", "NL", "BE", "EL"];
    let rows: Vec<Value> = ["GB", "IE", "FR", "DE", "ES", "IT", "NL", "BE", "EL", "US"]
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"Id": i + 1, "Code": c, "Name": country_name(c), "IsEU": eu.contains(c)}))
        .collect();
    reply(StatusCode::OK, Value::Array(rows))
}
