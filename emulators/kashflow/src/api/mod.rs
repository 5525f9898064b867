//! The REST v2 surface under `/v2`: every call passes the fault gate; data calls need
//! `Authorization: KfToken {SessionToken}` (the [`Authed`] extractor), which also applies
//! the optional rate limit.

mod customers;
mod invoices;
mod products;
mod reference;
mod session;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use nopbridge_emu_support::{DropConnection, InjectedFault};
use parking_lot::Mutex;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::{incr, AppState};
use crate::store::Account;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .merge(session::routes())
        .merge(customers::routes())
        .merge(products::routes())
        .merge(invoices::routes())
        .merge(reference::routes())
        .route(
            "/v2/{*rest}",
            get(unknown).post(unknown).put(unknown).delete(unknown),
        )
        .layer(middleware::from_fn_with_state(state, gate))
}

/// ASP.NET Web API's answer for a route that does not exist.
async fn unknown(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "Message": format!("No HTTP resource was found that matches the request URI '{uri}'."),
            "Error": "NotFound",
        })),
    )
        .into_response()
}

fn dropped() -> Response {
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

/// The session token of a request, if it carries `Authorization: KfToken …`.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("KfToken")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Order on every call: injected fault, latency, handler, drop-after.
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
            return ApiError::too_many_requests(state.faults.retry_after_secs()).into_response();
        }
        Some(InjectedFault::Unavailable) => {
            incr(&state.counters.unavailable);
            return ApiError::unavailable().into_response();
        }
        Some(InjectedFault::ServerError) => {
            incr(&state.counters.server_errors);
            return ApiError::internal().into_response();
        }
        Some(InjectedFault::ExpireSession) => {
            if let Some(token) = session_token(req.headers()) {
                if state.sessions.lock().end(&token) {
                    incr(&state.counters.sessions_expired);
                }
            }
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

/// A call with a live session: its account (locked by the handler when needed).
pub struct Authed {
    pub username: String,
    pub account: Arc<Mutex<Account>>,
}

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let now = state.clock.now();
        let checked = session_token(&parts.headers)
            .ok_or_else(ApiError::invalid_session)
            .and_then(|token| {
                state
                    .sessions
                    .lock()
                    .check(&token, state.config.session.idle_timeout_secs, now)
            });
        let username = match checked {
            Ok(u) => u,
            Err(e) => {
                incr(&state.counters.unauthorized);
                return Err(e);
            }
        };
        if !state.admit(&username) {
            incr(&state.counters.rate_limited);
            return Err(ApiError::too_many_requests(
                state.config.rate_limit.retry_after_secs,
            ));
        }
        let account = state
            .account(&username)
            .ok_or_else(ApiError::invalid_session)?;
        Ok(Self { username, account })
    }
}

/// `http://host` of the request, for absolute page URLs.
pub fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A JSON answer with a status.
pub fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// Parses a path number; anything else is the not-found answer for that resource.
pub fn path_number(text: &str, what: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::not_found(format!("{what} {text} does not exist.")))
}
