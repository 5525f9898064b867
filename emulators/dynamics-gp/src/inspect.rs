//! `/__emulator/…`: read-only inspection of every company's records and the counters, plus
//! control routes (fault knobs, quantities, batch posting, clock, CA certificate) and what a
//! person does in GP's windows (edit a line of an unposted SOP document, delete one) for runs
//! of the binary. No auth, no faults.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use nopbridge_emu_support::{FaultConfig, InjectedFault};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::company::key;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/__emulator/companies", get(companies))
        .route("/__emulator/companies/{company}/{kind}", get(list))
        .route(
            "/__emulator/companies/{company}/items/{item}/quantity",
            put(set_quantity),
        )
        .route(
            "/__emulator/companies/{company}/batches/{batch}/post",
            post(post_batch),
        )
        .route(
            "/__emulator/companies/{company}/sop/{soptype}/{number}",
            delete(delete_sop),
        )
        .route(
            "/__emulator/companies/{company}/sop/{soptype}/{number}/lines/{lnitmseq}",
            put(edit_sop_line),
        )
        .route("/__emulator/counters", get(counters))
        .route("/__emulator/faults", get(get_faults).put(put_faults))
        .route("/__emulator/faults/force", post(force))
        .route("/__emulator/clock/advance", post(advance))
        .route("/__emulator/tls/ca", get(ca))
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("{what} not found")})),
    )
        .into_response()
}

/// Every record of one kind: customers, items, sop, iv, journals, batches.
pub fn rows(state: &AppState, company: &str, kind: &str) -> Option<Vec<Value>> {
    let shared = state.company(company)?;
    let c = shared.lock();
    Some(match kind {
        "customers" => c.customers.values().map(|x| c.render_customer(x)).collect(),
        "items" => c.items.values().map(|x| c.render_item(x)).collect(),
        "sop" => c.sop.values().map(|d| c.render_sop(d)).collect(),
        "iv" => c.iv.values().map(|d| c.render_iv(d)).collect(),
        "journals" => c.journals.values().map(|j| c.render_journal(j)).collect(),
        "batches" => c
            .batches
            .iter()
            .map(|(name, b)| json!({"BACHNUMB": name, "series": b.series, "documents": b.documents, "total": b.total}))
            .collect(),
        _ => return None,
    })
}

pub fn counters_json(state: &AppState) -> Value {
    let companies: serde_json::Map<String, Value> = state
        .companies
        .iter()
        .map(|(n, c)| (n.clone(), json!(c.lock().counters)))
        .collect();
    json!({"global": state.counters.snapshot(), "companies": companies})
}

async fn companies(State(state): State<Arc<AppState>>) -> Response {
    let mut names: Vec<&String> = state.companies.keys().collect();
    names.sort();
    Json(json!(names)).into_response()
}

async fn list(
    State(state): State<Arc<AppState>>,
    Path((company, kind)): Path<(String, String)>,
) -> Response {
    match rows(&state, &company, &kind) {
        Some(r) => Json(Value::Array(r)).into_response(),
        None => not_found(&format!("{company}/{kind}")),
    }
}

#[derive(Debug, Deserialize)]
struct Quantity {
    site: String,
    on_hand: f64,
}

async fn set_quantity(
    State(state): State<Arc<AppState>>,
    Path((company, item)): Path<(String, String)>,
    Json(body): Json<Quantity>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return not_found(&company);
    };
    let q = body.on_hand.to_string().parse().unwrap_or_default();
    let done = shared.lock().set_quantity(&item, &body.site, q);
    if done {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found(&format!("item {item} or site {}", body.site))
    }
}

async fn post_batch(
    State(state): State<Arc<AppState>>,
    Path((company, batch)): Path<(String, String)>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return not_found(&company);
    };
    let posted = shared.lock().post_batch(&batch);
    Json(json!({"posted": posted, "batch": key(&batch)})).into_response()
}

fn refused(why: String) -> Response {
    (StatusCode::CONFLICT, Json(json!({"error": why}))).into_response()
}

/// `DELETE …/sop/{soptype}/{number}`: a person deletes an unposted document (409 if posted).
async fn delete_sop(
    State(state): State<Arc<AppState>>,
    Path((company, soptype, number)): Path<(String, i16, String)>,
) -> Response {
    with_document(&state, &company, soptype, &number, |c| {
        match c.delete_sop(soptype, &number) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(why) => refused(why),
        }
    })
}

/// Runs `f` on the company when it holds SOP document `soptype`/`number`, else 404.
fn with_document(
    state: &AppState,
    company: &str,
    soptype: i16,
    number: &str,
    f: impl FnOnce(&mut crate::company::Company) -> Response,
) -> Response {
    let Some(shared) = state.company(company) else {
        return not_found(company);
    };
    let mut c = shared.lock();
    if !c.sop.contains_key(&(soptype, key(number))) {
        return not_found(&format!("SOP document {soptype}/{number}"));
    }
    f(&mut c)
}

#[derive(Debug, Deserialize)]
struct LineEdit {
    #[serde(rename = "QUANTITY")]
    quantity: rust_decimal::Decimal,
    #[serde(rename = "UNITPRCE")]
    unit_price: rust_decimal::Decimal,
}

/// `PUT …/sop/{soptype}/{number}/lines/{lnitmseq}` `{"QUANTITY", "UNITPRCE"}`: a person
/// edits a line of an unposted document; 200 with the document (409 if GP would refuse).
async fn edit_sop_line(
    State(state): State<Arc<AppState>>,
    Path((company, soptype, number, seq)): Path<(String, i16, String, i64)>,
    Json(body): Json<LineEdit>,
) -> Response {
    with_document(&state, &company, soptype, &number, |c| {
        match c.edit_sop_line(soptype, &number, seq, body.quantity, body.unit_price) {
            Ok(()) => match c.sop.get(&(soptype, key(&number))) {
                Some(d) => Json(c.render_sop(d)).into_response(),
                None => not_found(&number),
            },
            Err(why) => refused(why),
        }
    })
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

#[derive(Debug, Deserialize)]
struct Advance {
    seconds: u64,
}

async fn advance(State(state): State<Arc<AppState>>, Json(body): Json<Advance>) -> Response {
    state.clock.advance(Duration::from_secs(body.seconds));
    StatusCode::NO_CONTENT.into_response()
}

/// The CA certificate (PEM) clients must trust when TLS is on.
async fn ca(State(state): State<Arc<AppState>>) -> Response {
    match &state.tls {
        Some(t) => t.ca_pem().into_response(),
        None => not_found("TLS"),
    }
}
