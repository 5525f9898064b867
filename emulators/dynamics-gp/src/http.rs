//! The integration endpoint (real eConnect has no HTTP; this is the shim the reference asks
//! for): eConnect documents in, eConnect errors out, behind the fault gate and the shared
//! secret or client certificate; plus the reads a connector would do with SQL or SBA.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nopbridge_emu_support::{DropConnection, InjectedFault, PeerCertificate};
use serde::Deserialize;

use crate::company::{key, Assignment, Ctx};
use crate::fault::{Fault, FaultKind};
use crate::schema::Invalid;
use crate::state::{incr, AppState};
use crate::xml::Element;
use crate::{lengths, schema, xml};

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/gp/{company}/econnect/{method}", post(submit))
        .route(
            "/gp/{company}/econnect/GetNextSopNumber",
            get(next_sop_number),
        )
        .route("/gp/{company}/customers/{id}", get(customer))
        .route("/gp/{company}/items/{id}", get(item))
        .route("/gp/{company}/sop/{soptype}/{number}", get(sop_document))
        .route("/gp/{company}/iv/{number}", get(iv_document))
        .route("/gp/{company}/journals", get(journals_by_reference))
        .route("/gp/{company}/journals/{number}", get(journal))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(state, gate))
}

fn dropped() -> Response {
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

/// Injected faults, then latency, then the request, then a drop-after.
async fn gate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    incr(&state.counters.requests);
    let injected = state.faults.decide();
    match injected {
        Some(InjectedFault::DropBefore) => {
            incr(&state.counters.dropped);
            return dropped();
        }
        Some(InjectedFault::Throttle) => {
            incr(&state.counters.throttled);
            let retry_after = state.faults.retry_after_secs();
            return Fault::plain(
                FaultKind::Throttled { retry_after },
                "The server is busy. Retry later.",
            )
            .into_response();
        }
        Some(InjectedFault::Unavailable) => {
            incr(&state.counters.unavailable);
            return Fault::plain(
                FaultKind::Unavailable,
                "The eConnect service is not available.",
            )
            .into_response();
        }
        Some(InjectedFault::ServerError) => {
            incr(&state.counters.server_errors);
            return Fault::plain(
                FaultKind::Internal,
                "A SQL Server error occurred: the transaction was deadlocked and chosen as the victim. Rerun the transaction.",
            )
            .into_response();
        }
        Some(InjectedFault::ExpireSession) => {
            incr(&state.counters.unauthorized);
            return unauthorized();
        }
        Some(InjectedFault::DropAfter) | None => {}
    }
    let latency = state.faults.latency();
    if !latency.is_zero() {
        state.clock.sleep(latency).await;
    }
    let response = next.run(req).await;
    if injected == Some(InjectedFault::DropAfter) {
        incr(&state.counters.dropped);
        return dropped();
    }
    response
}

fn unauthorized() -> Response {
    Fault::plain(
        FaultKind::Unauthorized,
        "Access is denied: the shared secret or client certificate is missing or not valid.",
    )
    .into_response()
}

/// `Authorization: Bearer {shared secret}`, or a client certificate this emulator issued.
async fn authenticate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let by_secret = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|s| {
            constant_time_eq(
                s.trim().as_bytes(),
                state.config.auth.shared_secret.as_bytes(),
            )
        });
    let by_certificate = state.config.tls.client_certificates
        && req
            .extensions()
            .get::<PeerCertificate>()
            .zip(state.tls.as_ref())
            .is_some_and(|(peer, tls)| tls.client_name(&peer.0).is_some());
    if by_secret || by_certificate {
        next.run(req).await
    } else {
        incr(&state.counters.unauthorized);
        unauthorized()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unknown_company(name: &str) -> Fault {
    Fault::plain(
        FaultKind::UnknownCompany,
        format!("Cannot open database \"{name}\" requested by the login. The login failed."),
    )
}

/// Writes auto-assigned numbers into every element of that name in the transaction that
/// asked for one (empty, or 0 for the int-typed JRNENTRY).
fn fill(el: &mut Element, field: &str, value: &str) {
    let asks = matches!(el.text.trim(), "" | "0");
    if el.name == field && el.children.is_empty() && asks {
        el.text = value.to_string();
    }
    for c in &mut el.children {
        fill(c, field, value);
    }
}

fn echo(mut root: Element, assignments: &[Assignment]) -> String {
    for a in assignments {
        if let Some(txn) = root.children.get_mut(a.txn_index) {
            fill(txn, &a.field, &a.value);
        }
    }
    root.to_xml()
}

fn xml_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/xml; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `POST /gp/{company}/econnect/{CreateEntity|CreateTransactionEntity}`.
async fn submit(
    State(state): State<Arc<AppState>>,
    Path((company, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let transaction = match method.as_str() {
        "CreateTransactionEntity" => true,
        "CreateEntity" => false,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    incr(&state.counters.documents);
    match process(&state, &company, &body) {
        Ok((root, assignments)) => {
            incr(&state.counters.accepted);
            if transaction {
                xml_response(echo(root, &assignments))
            } else {
                xml_response("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<CreateEntityResult>true</CreateEntityResult>\n".into())
            }
        }
        Err(f) => {
            incr(&state.counters.rejected);
            if f.kind == FaultKind::Schema {
                incr(&state.counters.schema_errors);
            }
            f.into_response()
        }
    }
}

fn process(
    state: &AppState,
    company: &str,
    body: &[u8],
) -> Result<(Element, Vec<Assignment>), Fault> {
    let shared = state
        .company(company)
        .ok_or_else(|| unknown_company(company))?;
    let text = std::str::from_utf8(body)
        .map_err(|_| Fault::plain(FaultKind::Schema, "The document is not valid UTF-8."))?;
    let root = xml::parse(text).map_err(|e| Fault::plain(FaultKind::Schema, e.0))?;
    let mut txns = schema::validate(&root).map_err(|e| match e {
        Invalid::Schema(m) => Fault::plain(FaultKind::Schema, m),
        Invalid::Unsupported(m) => Fault::plain(FaultKind::Unsupported, m),
    })?;
    lengths::enforce(&mut txns, &state.config)?;
    let ctx = Ctx {
        config: &state.config,
    };
    let mut guard = shared.lock();
    match guard.apply(&txns, &ctx) {
        Ok(assignments) => {
            guard.counters.documents_accepted += 1;
            Ok((root, assignments))
        }
        Err(f) => {
            guard.counters.documents_rejected += 1;
            Err(f)
        }
    }
}

#[derive(Debug, Deserialize)]
struct NextNumber {
    soptype: i16,
    docid: String,
}

/// `GET /gp/{company}/econnect/GetNextSopNumber?soptype=&docid=` (GetNextDocNumbers).
async fn next_sop_number(
    State(state): State<Arc<AppState>>,
    Path(company): Path<String>,
    Query(q): Query<NextNumber>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return unknown_company(&company).into_response();
    };
    let next = shared.lock().next_sop_number(q.soptype, &q.docid);
    match next {
        Some(n) => xml_response(format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<SOPNUMBE>{n}</SOPNUMBE>\n"
        )),
        None => Fault::plain(
            FaultKind::Unsupported,
            format!(
                "Document ID {} does not exist for SOP type {}",
                q.docid, q.soptype
            ),
        )
        .into_response(),
    }
}

fn json_or_404(company: &str, found: Option<serde_json::Value>, what: String) -> Response {
    match found {
        Some(v) => Json(v).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": format!("{what} does not exist in {company}")})),
        )
            .into_response(),
    }
}

async fn customer(
    State(state): State<Arc<AppState>>,
    Path((company, id)): Path<(String, String)>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return unknown_company(&company).into_response();
    };
    let c = shared.lock();
    let found = c.customers.get(&key(&id)).map(|x| c.render_customer(x));
    json_or_404(&company, found, format!("Customer {id}"))
}

async fn item(
    State(state): State<Arc<AppState>>,
    Path((company, id)): Path<(String, String)>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return unknown_company(&company).into_response();
    };
    let c = shared.lock();
    let found = c.items.get(&key(&id)).map(|x| c.render_item(x));
    json_or_404(&company, found, format!("Item {id}"))
}

async fn sop_document(
    State(state): State<Arc<AppState>>,
    Path((company, soptype, number)): Path<(String, i16, String)>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return unknown_company(&company).into_response();
    };
    let c = shared.lock();
    let found = c.sop.get(&(soptype, key(&number))).map(|d| c.render_sop(d));
    json_or_404(&company, found, format!("SOP document {soptype}/{number}"))
}

async fn iv_document(
    State(state): State<Arc<AppState>>,
    Path((company, number)): Path<(String, String)>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return unknown_company(&company).into_response();
    };
    let c = shared.lock();
    let found = c.iv.get(&key(&number)).map(|d| c.render_iv(d));
    json_or_404(&company, found, format!("Inventory transaction {number}"))
}

async fn journal(
    State(state): State<Arc<AppState>>,
    Path((company, number)): Path<(String, i64)>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return unknown_company(&company).into_response();
    };
    let c = shared.lock();
    let found = c.journals.get(&number).map(|j| c.render_journal(j));
    json_or_404(&company, found, format!("Journal {number}"))
}

#[derive(Debug, Deserialize)]
struct ByReference {
    reference: String,
}

/// `GET /gp/{company}/journals?reference=R`: every journal whose REFRENCE is R (trimmed,
/// case-insensitive, as SQL Server compares `char(30)`), what a connector reads with SQL
/// over GL10000 (unposted) and GL20000 (posted) before it sends a journal again.
async fn journals_by_reference(
    State(state): State<Arc<AppState>>,
    Path(company): Path<String>,
    Query(q): Query<ByReference>,
) -> Response {
    let Some(shared) = state.company(&company) else {
        return unknown_company(&company).into_response();
    };
    let c = shared.lock();
    let found: Vec<serde_json::Value> = c
        .journals
        .values()
        .filter(|j| {
            j.header
                .get("REFRENCE")
                .is_some_and(|r| key(r) == key(&q.reference))
        })
        .map(|j| c.render_journal(j))
        .collect();
    Json(serde_json::Value::Array(found)).into_response()
}
