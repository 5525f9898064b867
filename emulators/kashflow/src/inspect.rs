//! `/__emulator/…`: read-only inspection of every account's data and the counters, plus
//! control routes (fault knobs, session expiry, stock, clock) for runs of the binary. No
//! session, no faults, no rate limit.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use nopbridge_emu_support::{FaultConfig, InjectedFault};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/__emulator/accounts", get(accounts))
        .route("/__emulator/accounts/{user}/{kind}", get(list))
        .route("/__emulator/accounts/{user}/{kind}/{id}", get(one))
        .route(
            "/__emulator/accounts/{user}/products/{nominal}/{code}",
            get(product),
        )
        .route("/__emulator/counters", get(counters))
        .route("/__emulator/faults", get(get_faults).put(put_faults))
        .route("/__emulator/faults/force", post(force))
        .route("/__emulator/sessions/expire", post(expire))
        .route("/__emulator/accounts/{user}/session", post(open_session))
        .route(
            "/__emulator/accounts/{user}/products/{nominal}/{code}/stock",
            put(set_stock),
        )
        .route("/__emulator/clock/advance", post(advance))
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("{what} not found")})),
    )
        .into_response()
}

/// Rendered rows of one kind: customers, products, invoices, nominals, bulkpayments.
pub fn rows(state: &AppState, user: &str, kind: &str) -> Option<Vec<Value>> {
    let account = state.account(user)?;
    let acc = account.lock();
    let legacy = state.config.validation.legacy_product_field_names;
    Some(match kind.to_lowercase().as_str() {
        "customers" => acc
            .customers
            .values()
            .map(|c| acc.render_customer(c))
            .collect(),
        "products" => acc
            .products
            .values()
            .map(|p| acc.render_product(p, legacy))
            .collect(),
        "invoices" => acc
            .invoices
            .values()
            .map(|i| acc.render_invoice(i, true))
            .collect(),
        "nominals" => acc.nominals.values().map(|n| n.render()).collect(),
        "bulkpayments" => acc.bulk_payments.values().cloned().collect(),
        _ => return None,
    })
}

/// One row: a customer by code or an invoice by number.
pub fn row(state: &AppState, user: &str, kind: &str, id: &str) -> Option<Value> {
    let account = state.account(user)?;
    let acc = account.lock();
    match kind.to_lowercase().as_str() {
        "customers" => acc.customer(id).ok().map(|c| acc.render_customer(c)),
        "invoices" => {
            let n: i64 = id.parse().ok()?;
            acc.invoice(n).ok().map(|i| acc.render_invoice(i, true))
        }
        _ => None,
    }
}

pub fn counters_json(state: &AppState) -> Value {
    let live = state
        .sessions
        .lock()
        .live(state.config.session.idle_timeout_secs, state.clock.now());
    let accounts: serde_json::Map<String, Value> = state
        .accounts
        .iter()
        .map(|(name, a)| {
            let c = a.lock().counters.clone();
            (
                name.clone(),
                json!({"counters": c, "live_sessions": live.get(name).copied().unwrap_or(0)}),
            )
        })
        .collect();
    json!({"global": state.counters.snapshot(), "accounts": accounts})
}

async fn accounts(State(state): State<Arc<AppState>>) -> Response {
    let mut rows: Vec<Value> = state
        .accounts
        .values()
        .map(|a| {
            let a = a.lock();
            json!({"UserName": a.config.username, "CompanyName": a.config.company_name,
                "Customers": a.customers.len(), "Products": a.products.len(), "Invoices": a.invoices.len()})
        })
        .collect();
    rows.sort_by(|a, b| a["UserName"].as_str().cmp(&b["UserName"].as_str()));
    Json(Value::Array(rows)).into_response()
}

async fn list(
    State(state): State<Arc<AppState>>,
    Path((user, kind)): Path<(String, String)>,
) -> Response {
    match rows(&state, &user, &kind) {
        Some(r) => Json(Value::Array(r)).into_response(),
        None => not_found(&format!("{user}/{kind}")),
    }
}

async fn one(
    State(state): State<Arc<AppState>>,
    Path((user, kind, id)): Path<(String, String, String)>,
) -> Response {
    match row(&state, &user, &kind, &id) {
        Some(r) => Json(r).into_response(),
        None => not_found(&format!("{user}/{kind}/{id}")),
    }
}

async fn product(
    State(state): State<Arc<AppState>>,
    Path((user, nominal, code)): Path<(String, i64, String)>,
) -> Response {
    let Some(account) = state.account(&user) else {
        return not_found(&user);
    };
    let acc = account.lock();
    match acc.product(nominal, &code) {
        Ok(p) => Json(acc.render_product(p, state.config.validation.legacy_product_field_names))
            .into_response(),
        Err(_) => not_found(&format!("product {nominal}/{code}")),
    }
}

async fn counters(State(state): State<Arc<AppState>>) -> Response {
    Json(counters_json(&state)).into_response()
}

async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    Json(state.faults.config()).into_response()
}

async fn put_faults(State(state): State<Arc<AppState>>, Json(cfg): Json<FaultConfig>) -> Response {
    state.faults.set(cfg);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
struct Force {
    fault: InjectedFault,
    count: usize,
}

async fn force(State(state): State<Arc<AppState>>, Json(body): Json<Force>) -> Response {
    state.faults.force(body.fault, body.count);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize, Default)]
struct Expire {
    account: Option<String>,
}

async fn expire(State(state): State<Arc<AppState>>, body: Option<Json<Expire>>) -> Response {
    let account = body.and_then(|Json(b)| b.account).map(|a| a.to_lowercase());
    let ended = state.sessions.lock().expire(account.as_deref());
    Json(json!({"expired": ended})).into_response()
}

async fn open_session(State(state): State<Arc<AppState>>, Path(user): Path<String>) -> Response {
    match state.account(&user) {
        Some(a) => {
            let name = a.lock().config.username.to_lowercase();
            let token = state.sessions.lock().open(&name, state.clock.now());
            Json(json!({"SessionToken": token})).into_response()
        }
        None => not_found(&user),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Stock {
    quantity_in_stock: f64,
}

async fn set_stock(
    State(state): State<Arc<AppState>>,
    Path((user, nominal, code)): Path<(String, i64, String)>,
    Json(body): Json<Stock>,
) -> Response {
    let Some(account) = state.account(&user) else {
        return not_found(&user);
    };
    let q = crate::json::config_decimal(body.quantity_in_stock);
    let result = account.lock().set_stock(nominal, &code, q);
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => not_found(&format!("product {nominal}/{code}")),
    }
}

#[derive(Debug, Deserialize)]
struct Advance {
    seconds: u64,
}

async fn advance(State(state): State<Arc<AppState>>, Json(body): Json<Advance>) -> Response {
    state.clock.advance(Duration::from_secs(body.seconds));
    StatusCode::NO_CONTENT.into_response()
}
