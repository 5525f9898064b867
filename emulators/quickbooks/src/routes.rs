//! HTTP surface: the /v3 data API behind the gate (faults, auth, limits), OAuth and the
//! emulator's own inspection routes.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::{self, ApiResponse, Fault};
use crate::clock::format_time_millis;
use crate::entities::EntityKind;
use crate::faults::{DropConnection, InjectedFault};
use crate::json::Object;
use crate::limits::Limiter;
use crate::oauth::{self, BearerError};
use crate::state::{incr, AppState};
use crate::store::{WriteCtx, WriteOp};
use crate::{batch, cdc, inspect, query};

pub fn router(state: Arc<AppState>) -> Router {
    let v3 = Router::new()
        .route("/v3/company/{realm}/query", get(query_get).post(query_post))
        .route("/v3/company/{realm}/batch", post(batch::handler))
        .route("/v3/company/{realm}/cdc", get(cdc::handler))
        .route("/v3/company/{realm}/preferences", get(preferences))
        .route("/v3/company/{realm}/companyinfo/{id}", get(company_info))
        .route("/v3/company/{realm}/{entity}", post(write_entity))
        .route("/v3/company/{realm}/{entity}/{id}", get(read_entity))
        .layer(middleware::from_fn_with_state(state.clone(), gate));
    Router::new()
        .merge(v3)
        .route(
            "/oauth2/v1/tokens/bearer",
            post(oauth::token_endpoint)
                .layer(middleware::from_fn_with_state(state.clone(), token_gate)),
        )
        .route("/oauth2/v1/tokens/revoke", post(oauth::revoke_endpoint))
        .route("/connect/oauth2", get(oauth::authorize_endpoint))
        .merge(inspect::router())
        .with_state(state)
}

fn realm_from_path(path: &str) -> String {
    path.strip_prefix("/v3/company/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string()
}

fn dropped() -> Response {
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

pub fn throttled(state: &AppState, realm: &str) -> Response {
    incr(&state.counters.throttled);
    state.count_realm(realm, |c| c.throttled += 1);
    let xml = state
        .faults
        .roll(state.config.limits.throttle_xml_probability);
    // Configured in emulated seconds; the header carries real seconds (at least 1).
    let retry_after = state.config.limits.retry_after_secs.map(|s| {
        let real = state.clock.real(std::time::Duration::from_secs(s));
        (real.as_secs_f64().ceil() as u64).max(1)
    });
    api_error::throttle_response(xml, &format_time_millis(state.clock.now()), retry_after)
}

/// The response for an injected fault that replaces the request (none for DropAfter).
fn injected_response(state: &AppState, fault: InjectedFault, realm: &str) -> Option<Response> {
    match fault {
        InjectedFault::DropBefore => {
            incr(&state.counters.dropped);
            Some(dropped())
        }
        InjectedFault::Throttle => Some(throttled(state, realm)),
        InjectedFault::Unavailable => {
            incr(&state.counters.unavailable);
            Some(api_error::unavailable_response())
        }
        InjectedFault::ServerError => {
            incr(&state.counters.server_errors);
            let time = format_time_millis(state.clock.now());
            Some(ApiResponse::fault(&Fault::system(), &time).into_response())
        }
        InjectedFault::DropAfter => None,
    }
}

/// Injected faults on the token endpoint when `faults.apply_to_token_endpoint` is set.
async fn token_gate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !state.faults.config().apply_to_token_endpoint {
        return next.run(req).await;
    }
    let injected = state.faults.decide();
    if let Some(response) = injected.and_then(|f| injected_response(&state, f, "")) {
        return response;
    }
    let response = next.run(req).await;
    if injected == Some(InjectedFault::DropAfter) {
        incr(&state.counters.dropped);
        return dropped();
    }
    response
}

/// Every /v3 response carries an `intuit_tid`, as support asks for it.
async fn gate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let mut response = gate_inner(state, req, next).await;
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("intuit_tid", v);
    }
    response
}

/// Order on every /v3 call: injected faults, bearer check, realm, limits, latency, handler.
async fn gate_inner(state: Arc<AppState>, req: Request, next: Next) -> Response {
    incr(&state.counters.requests);
    let realm = realm_from_path(req.uri().path());
    state.count_realm(&realm, |c| c.requests += 1);
    let injected = state.faults.decide();
    if let Some(response) = injected.and_then(|f| injected_response(&state, f, &realm)) {
        return response;
    }
    let now = state.clock.now();
    let epoch_ms = now.timestamp_millis();
    if state.config.oauth.require_auth {
        let check = state.oauth.lock().check_bearer(req.headers(), &realm, now);
        match check {
            Ok(()) => {}
            Err(BearerError::WrongRealm) => {
                incr(&state.counters.unauthorized);
                return api_error::forbidden_response(
                    "Token is not authorized for this company.",
                    epoch_ms,
                );
            }
            Err(e) => {
                incr(&state.counters.unauthorized);
                let detail = match e {
                    BearerError::Expired => "Token expired: the access token has expired.",
                    BearerError::Missing => "Authorization header missing.",
                    _ => "Token invalid or revoked.",
                };
                let xml = state
                    .faults
                    .roll(state.config.oauth.auth_fault_xml_probability);
                return api_error::unauthorized_response(xml, detail, epoch_ms);
            }
        }
    }
    if state.realm(&realm).is_none() {
        return unknown_company(&state);
    }
    let is_batch = req.uri().path().ends_with("/batch");
    let guard = if state.config.limits.enabled {
        match Limiter::admit(&state, &realm, is_batch, now, &state.config.limits) {
            Ok(g) => Some(g),
            Err(_) => return throttled(&state, &realm),
        }
    } else {
        None
    };
    // Latency is server time, so it holds the in-flight slot.
    let latency = state.faults.latency();
    if !latency.is_zero() {
        state.clock.sleep(latency).await;
    }
    let response = next.run(req).await;
    drop(guard);
    if injected == Some(InjectedFault::DropAfter) {
        incr(&state.counters.dropped);
        return dropped();
    }
    response
}

#[derive(Debug, Deserialize, Default)]
pub struct WriteParams {
    pub operation: Option<String>,
    pub include: Option<String>,
    pub requestid: Option<String>,
    /// Accepted and ignored: every value behaves as 75.
    pub minorversion: Option<String>,
}

/// The gateway's 403 for a realm that does not exist.
pub fn unknown_company(state: &AppState) -> Response {
    api_error::forbidden_response(
        "Unknown company (realm).",
        state.clock.now().timestamp_millis(),
    )
}

fn fault_response(state: &AppState, fault: &Fault) -> Response {
    ApiResponse::fault(fault, &format_time_millis(state.clock.now())).into_response()
}

/// Parses a JSON object body (QBO takes the bare entity, no wrapper).
pub fn object_body(body: &[u8]) -> Result<Object, Fault> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Fault::malformed(format!("Error parsing JSON request body: {e}")))?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(Fault::malformed("Request body must be a JSON object")),
    }
}

/// `POST /v3/company/{realm}/{entity}`: create, update, delete, void, with requestid replay.
async fn write_entity(
    State(state): State<Arc<AppState>>,
    Path((realm_id, entity)): Path<(String, String)>,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Response {
    let now = state.clock.now();
    let time = format_time_millis(now);
    let Some(kind) = EntityKind::parse(&entity) else {
        return fault_response(
            &state,
            &Fault::unsupported(format!(
                "Could not find resource for relative : /v3/company/{realm_id}/{entity}"
            )),
        );
    };
    if let Some(rid) = &params.requestid {
        if rid.chars().count() > state.config.idempotency.max_len {
            return fault_response(
                &state,
                &Fault::too_long("requestid", state.config.idempotency.max_len),
            );
        }
    }
    let Some(realm) = state.realm(&realm_id) else {
        return unknown_company(&state);
    };
    let includes: Vec<String> = params
        .include
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let mut realm = realm.lock();
    if let Some(rid) = &params.requestid {
        if let Some(cached) = realm.replay(rid) {
            drop(realm);
            incr(&state.counters.idempotent_replays);
            return cached.into_response();
        }
    }
    incr(&state.counters.writes);
    let before = realm.changes.len();
    let result = object_body(&body).and_then(|body| {
        let op = WriteOp::decide(
            params.operation.as_deref(),
            includes.iter().any(|i| i == "void"),
            body.contains_key("Id"),
        )?;
        let hidden = HashSet::new();
        let ctx = WriteCtx {
            now,
            validation: &state.config.validation,
            hidden: &hidden,
            allow_duplicate_doc_number: includes.iter().any(|i| i == "allowduplicatedocnum"),
        };
        realm.perform(kind, op, body, &ctx).map(|obj| (op, obj))
    });
    let response = match &result {
        Ok((_, obj)) => ApiResponse::ok(json!({ kind.name(): obj, "time": time })),
        Err(f) => ApiResponse::fault(f, &time),
    };
    if let Some(rid) = params.requestid {
        if result.is_ok() || state.config.idempotency.cache_faults {
            realm.cache(rid, response.clone());
        }
    }
    let changes = realm.changes[before..].to_vec();
    drop(realm);
    if matches!(result, Ok((WriteOp::Create, _))) {
        incr(&state.counters.creates);
    }
    state.publish(&realm_id, &changes);
    response.into_response()
}

/// `GET /v3/company/{realm}/{entity}/{id}`
async fn read_entity(
    State(state): State<Arc<AppState>>,
    Path((realm_id, entity, id)): Path<(String, String, String)>,
) -> Response {
    let Some(kind) = EntityKind::parse(&entity) else {
        return fault_response(
            &state,
            &Fault::unsupported(format!(
                "Could not find resource for relative : /v3/company/{realm_id}/{entity}/{id}"
            )),
        );
    };
    let Some(realm) = state.realm(&realm_id) else {
        return unknown_company(&state);
    };
    incr(&state.counters.reads);
    let result = realm.lock().read(kind, &id);
    match result {
        Ok(obj) => ApiResponse::ok(
            json!({ kind.name(): obj, "time": format_time_millis(state.clock.now()) }),
        )
        .into_response(),
        Err(f) => fault_response(&state, &f),
    }
}

#[derive(Debug, Deserialize)]
struct QueryParams {
    query: Option<String>,
}

fn run_query(state: &AppState, realm_id: &str, statement: &str) -> Response {
    incr(&state.counters.queries);
    let Some(realm) = state.realm(realm_id) else {
        return unknown_company(state);
    };
    let result = query::execute(&realm.lock(), statement, &state.config.query);
    match result {
        Ok(resp) => ApiResponse::ok(
            json!({"QueryResponse": resp, "time": format_time_millis(state.clock.now())}),
        )
        .into_response(),
        Err(f) => fault_response(state, &f),
    }
}

/// `GET /v3/company/{realm}/query?query=…`
async fn query_get(
    State(state): State<Arc<AppState>>,
    Path(realm_id): Path<String>,
    Query(params): Query<QueryParams>,
) -> Response {
    match params.query {
        Some(q) => run_query(&state, &realm_id, &q),
        None => fault_response(&state, &Fault::required("query")),
    }
}

/// `POST /v3/company/{realm}/query` with the statement as `application/text` body.
async fn query_post(
    State(state): State<Arc<AppState>>,
    Path(realm_id): Path<String>,
    Query(params): Query<QueryParams>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).to_string();
    let statement = if text.trim().is_empty() {
        params.query.unwrap_or_default()
    } else {
        text
    };
    run_query(&state, &realm_id, &statement)
}

/// `GET /v3/company/{realm}/preferences`: what connectors read for capability detection.
async fn preferences(State(state): State<Arc<AppState>>, Path(realm_id): Path<String>) -> Response {
    let Some(realm) = state.realm(&realm_id) else {
        return unknown_company(&state);
    };
    let realm = realm.lock();
    let c = &realm.config;
    let discount = realm
        .account_by_subtype("DiscountsRefundsGiven")
        .map(|(id, name)| json!({"value": id, "name": name}));
    let prefs = json!({
        "CurrencyPrefs": {"MultiCurrencyEnabled": c.multicurrency, "HomeCurrency": {"value": c.home_currency}},
        "SalesFormsPrefs": {
            "CustomTxnNumbers": c.custom_txn_numbers, "AllowDiscount": c.allow_discount,
            "AllowShipping": c.allow_shipping, "DefaultDiscountAccount": discount,
            "AutoApplyCredit": false, "AutoApplyPayments": false,
        },
        "TaxPrefs": {"UsingSalesTax": true, "PartnerTaxEnabled": false},
        "ProductAndServicesPrefs": {"ForSales": true, "ForPurchase": true, "QuantityOnHand": true},
        "domain": "QBO", "sparse": false, "Id": "1", "SyncToken": "0",
    });
    drop(realm);
    ApiResponse::ok(json!({"Preferences": prefs, "time": format_time_millis(state.clock.now())}))
        .into_response()
}

/// `GET /v3/company/{realm}/companyinfo/{realm}`
async fn company_info(
    State(state): State<Arc<AppState>>,
    Path((realm_id, _id)): Path<(String, String)>,
) -> Response {
    let Some(realm) = state.realm(&realm_id) else {
        return unknown_company(&state);
    };
    let realm = realm.lock();
    let info = json!({
        "CompanyName": realm.config.company_name, "LegalName": realm.config.company_name,
        "Country": realm.config.country, "Id": realm.config.realm_id,
        "domain": "QBO", "sparse": false, "SyncToken": "0",
    });
    drop(realm);
    ApiResponse::ok(json!({"CompanyInfo": info, "time": format_time_millis(state.clock.now())}))
        .into_response()
}
