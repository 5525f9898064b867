//! `/__emulator/…`: read-only inspection of realms and counters for tests and benchmarks, plus
//! control routes (fault knobs, tokens, clock) for runs of the binary. No auth, no limits.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::FaultConfig;
use crate::entities::EntityKind;
use crate::faults::InjectedFault;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/__emulator/realms", get(realms))
        .route(
            "/__emulator/realms/{realm}/entities/{entity}",
            get(entities),
        )
        .route(
            "/__emulator/realms/{realm}/entities/{entity}/{id}",
            get(entity),
        )
        .route("/__emulator/counters", get(counters))
        .route("/__emulator/faults", get(get_faults).put(put_faults))
        .route("/__emulator/faults/force", post(force_faults))
        .route("/__emulator/realms/{realm}/tokens", post(issue_tokens))
        .route(
            "/__emulator/realms/{realm}/expire-tokens",
            post(expire_tokens),
        )
        .route("/__emulator/clock/advance", post(advance_clock))
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("{what} not found")})),
    )
        .into_response()
}

async fn realms(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({"realms": state.realm_ids()})).into_response()
}

/// All stored objects of a kind, active or not (deleted ones are gone).
pub fn list(state: &AppState, realm: &str, entity: &str) -> Option<Vec<Value>> {
    let kind = EntityKind::parse(entity)?;
    let realm = state.realm(realm)?;
    let realm = realm.lock();
    Some(realm.all(kind).map(|o| Value::Object(o.clone())).collect())
}

async fn entities(
    State(state): State<Arc<AppState>>,
    Path((realm, entity)): Path<(String, String)>,
) -> Response {
    match list(&state, &realm, &entity) {
        Some(rows) => Json(Value::Array(rows)).into_response(),
        None => not_found("realm or entity"),
    }
}

async fn entity(
    State(state): State<Arc<AppState>>,
    Path((realm, entity, id)): Path<(String, String, String)>,
) -> Response {
    let found = EntityKind::parse(&entity)
        .zip(state.realm(&realm))
        .and_then(|(kind, realm)| realm.lock().read(kind, &id).ok());
    match found {
        Some(obj) => Json(Value::Object(obj)).into_response(),
        None => not_found("object"),
    }
}

/// Global counters and, per realm, write counters and the current per-minute window.
pub fn counters_json(state: &AppState) -> Value {
    let now = state.clock.now();
    let mut realms = serde_json::Map::new();
    for id in state.realm_ids() {
        if let Some(realm) = state.realm(&id) {
            let counters = realm.lock().counters.clone();
            realms.insert(id.clone(), json!({"counters": counters, "requests_this_minute": state.limiter.window_len(&id, now)}));
        }
    }
    json!({"global": state.counters.snapshot(), "realms": realms})
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
struct ForceBody {
    fault: InjectedFault,
    count: usize,
}

async fn force_faults(State(state): State<Arc<AppState>>, Json(body): Json<ForceBody>) -> Response {
    state.faults.force(body.fault, body.count);
    StatusCode::NO_CONTENT.into_response()
}

async fn issue_tokens(State(state): State<Arc<AppState>>, Path(realm): Path<String>) -> Response {
    if state.realm(&realm).is_none() {
        return not_found("realm");
    }
    let tokens = state
        .oauth
        .lock()
        .issue(&realm, state.clock.now(), &state.config.oauth);
    Json(tokens).into_response()
}

async fn expire_tokens(State(state): State<Arc<AppState>>, Path(realm): Path<String>) -> Response {
    state
        .oauth
        .lock()
        .expire_access_tokens(&realm, state.clock.now());
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
struct AdvanceBody {
    seconds: u64,
}

async fn advance_clock(
    State(state): State<Arc<AppState>>,
    Json(body): Json<AdvanceBody>,
) -> Response {
    state.clock.advance(Duration::from_secs(body.seconds));
    StatusCode::NO_CONTENT.into_response()
}
