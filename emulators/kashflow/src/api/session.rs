//! `/v2/sessiontoken`: the two-step login, session info and logout.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, post};
use axum::Router;
use serde_json::{json, Value};

use super::{reply, session_token, Authed};
use crate::error::{ApiError, ApiResult};
use crate::json;
use crate::session::invalid_credentials;
use crate::state::{incr, AppState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/sessiontoken", post(begin).put(complete).get(info))
        .route("/v2/sessiontoken/{token}", delete(logout))
}

fn respond(r: ApiResult<Response>) -> Response {
    r.unwrap_or_else(axum::response::IntoResponse::into_response)
}

/// Step 1: `{UserName, Password}` → 201 with a temporary token and three positions.
async fn begin(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond((|| {
        let body = json::object(&body)?;
        let user = json::text(&body, "UserName").unwrap_or_default();
        let password = json::string(&body, "Password").unwrap_or_default();
        let account = state.account(&user).ok_or_else(invalid_credentials)?;
        let config = account.lock().config.clone();
        let challenge = state.sessions.lock().begin(
            &config,
            &password,
            state.config.session.memorable_positions,
            state.clock.now(),
            &mut *state.rng.lock(),
        )?;
        let list: Vec<Value> = challenge
            .positions
            .iter()
            .map(|p| json!({"Position": p, "Value": ""}))
            .collect();
        Ok(reply(
            StatusCode::CREATED,
            json!({
                "TemporaryToken": challenge.temporary_token,
                "MemorableWordList": list,
                "IsLockedOut": false,
                "SubscriptionExpired": false,
                "HasTemporaryPassword": false,
                "PackageName": "KashFlow Business",
                "PartnerId": 0,
                "CompanyId": 0,
                "TenantId": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, config.username.as_bytes()).to_string(),
            }),
        ))
    })())
}

/// Step 2: the memorable-word characters → 200 with the session token.
async fn complete(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond((|| {
        let body = json::object(&body)?;
        let temporary = json::text(&body, "TemporaryToken")
            .ok_or_else(|| ApiError::validation("TemporaryToken is required."))?;
        let answers = match json::get(&body, "MemorableWordList") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_object)
                .map(|o| {
                    let p = json::int(o, "Position")?.unwrap_or(0);
                    Ok((
                        usize::try_from(p).unwrap_or(0),
                        json::string(o, "Value").unwrap_or_default(),
                    ))
                })
                .collect::<ApiResult<Vec<_>>>()?,
            _ => return Err(ApiError::validation("MemorableWordList is required.")),
        };
        let words = |user: &str| {
            state
                .account(user)
                .map(|a| a.lock().config.memorable_word.clone())
        };
        let (user, token) = state.sessions.lock().complete(
            &temporary,
            &answers,
            words,
            &state.config.session,
            state.clock.now(),
        )?;
        incr(&state.counters.logins);
        let company = state
            .account(&user)
            .map(|a| a.lock().config.company_name.clone())
            .unwrap_or_default();
        Ok(reply(
            StatusCode::OK,
            json!({
                "SessionToken": token,
                "CompanyName": company,
                "UserName": user,
                "StartPageUrl": "/dashboard",
                "SubscriptionExpiryDate": "2099-12-31T00:00:00",
            }),
        ))
    })())
}

/// `GET /sessiontoken`: who the token belongs to (and it keeps the session alive).
async fn info(auth: Authed, headers: HeaderMap) -> Response {
    let company = auth.account.lock().config.company_name.clone();
    reply(
        StatusCode::OK,
        json!({"SessionToken": session_token(&headers), "UserName": auth.username, "CompanyName": company}),
    )
}

/// `DELETE /sessiontoken/{token}` → 200 `{}`.
async fn logout(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    state.sessions.lock().end(&token);
    reply(StatusCode::OK, json!({}))
}
