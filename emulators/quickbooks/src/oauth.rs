//! OAuth 2.0 (reference section 5): authorization code and refresh grants, refresh-token
//! rotation with a grace window, revocation, and bearer checks on data calls.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::OAuthConfig;
use crate::state::{incr, AppState};

/// Token endpoint response body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub x_refresh_token_expires_in: u64,
    pub access_token: String,
}

#[derive(Debug, Clone)]
struct AccessToken {
    realm: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Grant {
    realm: String,
    current: String,
    current_issued: DateTime<Utc>,
    previous: Option<(String, DateTime<Utc>)>,
    idle_expires: DateTime<Utc>,
    revoked: bool,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    Missing,
    Invalid,
    Expired,
    WrongRealm,
}

#[derive(Debug, Default)]
pub struct OAuthStore {
    access: HashMap<String, AccessToken>,
    grants: Vec<Grant>,
    /// refresh-token value → index into `grants` (current and previous values).
    refresh_index: HashMap<String, usize>,
    codes: HashMap<String, (String, Option<String>)>,
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn secs(s: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000))
}

impl OAuthStore {
    /// A one-time authorization code for a realm (the consent step).
    pub fn new_code(&mut self, realm: &str, redirect_uri: Option<String>) -> String {
        let code = random_token("AB11");
        self.codes
            .insert(code.clone(), (realm.to_string(), redirect_uri));
        code
    }

    fn issue_access(&mut self, realm: &str, now: DateTime<Utc>, cfg: &OAuthConfig) -> String {
        let token = random_token("eyJ");
        self.access.insert(
            token.clone(),
            AccessToken {
                realm: realm.to_string(),
                expires_at: now + secs(cfg.access_token_ttl_secs),
            },
        );
        token
    }

    /// New grant (code exchange or direct issue for tests).
    pub fn issue(&mut self, realm: &str, now: DateTime<Utc>, cfg: &OAuthConfig) -> TokenResponse {
        let refresh = random_token("RT1-");
        self.grants.push(Grant {
            realm: realm.to_string(),
            current: refresh.clone(),
            current_issued: now,
            previous: None,
            idle_expires: now + secs(cfg.refresh_token_ttl_secs),
            revoked: false,
        });
        self.refresh_index
            .insert(refresh.clone(), self.grants.len() - 1);
        let access = self.issue_access(realm, now, cfg);
        response(access, refresh, cfg)
    }

    pub fn exchange_code(
        &mut self,
        code: &str,
        redirect_uri: Option<&str>,
        now: DateTime<Utc>,
        cfg: &OAuthConfig,
    ) -> Result<(String, TokenResponse), &'static str> {
        let (realm, expected_uri) = self.codes.remove(code).ok_or("invalid_grant")?;
        if let (Some(expected), Some(given)) = (expected_uri.as_deref(), redirect_uri) {
            if expected != given {
                return Err("invalid_grant");
            }
        }
        let tokens = self.issue(&realm, now, cfg);
        Ok((realm, tokens))
    }

    /// Refresh grant with rotation: the previous value keeps working for the grace window.
    pub fn refresh(
        &mut self,
        token: &str,
        now: DateTime<Utc>,
        cfg: &OAuthConfig,
    ) -> Result<TokenResponse, &'static str> {
        let idx = *self.refresh_index.get(token).ok_or("invalid_grant")?;
        let grant = self.grants.get_mut(idx).ok_or("invalid_grant")?;
        if grant.revoked || now > grant.idle_expires {
            return Err("invalid_grant");
        }
        if grant.current != token {
            match &grant.previous {
                // No grace configured: the old value dies at the moment of rotation.
                Some((prev, rotated_at))
                    if prev == token
                        && cfg.refresh_grace_secs > 0
                        && now - *rotated_at <= secs(cfg.refresh_grace_secs) => {}
                _ => return Err("invalid_grant"),
            }
        } else if now - grant.current_issued >= secs(cfg.rotation_interval_secs) {
            let fresh = random_token("RT1-");
            let old = std::mem::replace(&mut grant.current, fresh.clone());
            if let Some((older, _)) = grant.previous.replace((old, now)) {
                self.refresh_index.remove(&older);
            }
            grant.current_issued = now;
            self.refresh_index.insert(fresh, idx);
        }
        let grant = self.grants.get_mut(idx).ok_or("invalid_grant")?;
        grant.idle_expires = now + secs(cfg.refresh_token_ttl_secs);
        let (realm, refresh) = (grant.realm.clone(), grant.current.clone());
        let access = self.issue_access(&realm, now, cfg);
        Ok(response(access, refresh, cfg))
    }

    /// Revoking either token disconnects the app from the realm.
    pub fn revoke(&mut self, token: &str) -> bool {
        let realm = if let Some(idx) = self.refresh_index.get(token) {
            self.grants.get(*idx).map(|g| g.realm.clone())
        } else {
            self.access.get(token).map(|a| a.realm.clone())
        };
        let Some(realm) = realm else { return false };
        self.revoke_realm(&realm);
        true
    }

    pub fn revoke_realm(&mut self, realm: &str) {
        for g in self.grants.iter_mut().filter(|g| g.realm == realm) {
            g.revoked = true;
        }
        self.access.retain(|_, a| a.realm != realm);
    }

    /// Forced expiry: every access token of the realm is expired now (refresh still works).
    pub fn expire_access_tokens(&mut self, realm: &str, now: DateTime<Utc>) {
        for a in self.access.values_mut().filter(|a| a.realm == realm) {
            a.expires_at = now - chrono::Duration::seconds(1);
        }
    }

    pub fn check_bearer(
        &self,
        headers: &HeaderMap,
        realm: &str,
        now: DateTime<Utc>,
    ) -> Result<(), BearerError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(BearerError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(BearerError::Invalid)?;
        let access = self.access.get(token.trim()).ok_or(BearerError::Invalid)?;
        if now >= access.expires_at {
            return Err(BearerError::Expired);
        }
        if access.realm != realm {
            return Err(BearerError::WrongRealm);
        }
        Ok(())
    }
}

fn response(access: String, refresh: String, cfg: &OAuthConfig) -> TokenResponse {
    TokenResponse {
        token_type: "bearer".into(),
        expires_in: cfg.access_token_ttl_secs,
        refresh_token: refresh,
        x_refresh_token_expires_in: cfg.refresh_token_ttl_secs,
        access_token: access,
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

/// Client credentials from Basic auth or the form body.
fn client_ok(headers: &HeaderMap, form: &HashMap<String, String>, cfg: &OAuthConfig) -> bool {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let (id, secret) = match from_header {
        Some(pair) => pair,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    id == cfg.client_id && secret == cfg.client_secret
}

/// `POST /oauth2/v1/tokens/bearer`
pub async fn token_endpoint(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let cfg = &state.config.oauth;
    if !client_ok(&headers, &form, cfg) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let now = state.clock.now();
    let result = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = form.get("code") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
            };
            incr(&state.counters.token_grants);
            state
                .oauth
                .lock()
                .exchange_code(code, form.get("redirect_uri").map(String::as_str), now, cfg)
                .map(|(_, t)| t)
        }
        Some("refresh_token") => {
            let Some(token) = form.get("refresh_token") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
            };
            incr(&state.counters.token_refreshes);
            state.oauth.lock().refresh(token, now, cfg)
        }
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    };
    match result {
        Ok(tokens) => (StatusCode::OK, Json(tokens)).into_response(),
        Err(e) => {
            incr(&state.counters.invalid_grants);
            oauth_error(StatusCode::BAD_REQUEST, e)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RevokeBody {
    token: String,
}

/// `POST /oauth2/v1/tokens/revoke`
pub async fn revoke_endpoint(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(body): Json<RevokeBody>,
) -> Response {
    if !client_ok(&headers, &HashMap::new(), &state.config.oauth) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if state.oauth.lock().revoke(&body.token) {
        StatusCode::OK.into_response()
    } else {
        oauth_error(StatusCode::BAD_REQUEST, "invalid_request")
    }
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: String,
    state: Option<String>,
    /// Emulator extension: the company the user "picks" on the consent screen.
    realm_id: Option<String>,
}

/// `GET /connect/oauth2`: consent is automatic; redirects with `code`, `state`, `realmId`.
pub async fn authorize_endpoint(
    State(state): State<Arc<AppState>>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    if p.client_id.as_deref() != Some(state.config.oauth.client_id.as_str()) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    }
    let realm = p
        .realm_id
        .or_else(|| state.config.realms.first().map(|r| r.realm_id.clone()))
        .unwrap_or_default();
    if state.realm(&realm).is_none() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let code = state
        .oauth
        .lock()
        .new_code(&realm, Some(p.redirect_uri.clone()));
    let sep = if p.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!(
        "{}{sep}code={}&state={}&realmId={}",
        p.redirect_uri,
        urlencoding::encode(&code),
        urlencoding::encode(p.state.as_deref().unwrap_or("")),
        urlencoding::encode(&realm)
    );
    Redirect::to(&location).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(grace: u64) -> OAuthConfig {
        OAuthConfig {
            refresh_grace_secs: grace,
            ..OAuthConfig::default()
        }
    }

    #[test]
    fn rotation_invalidates_the_previous_refresh_token_after_the_grace_window() {
        let mut store = OAuthStore::default();
        let t0 = Utc::now();
        let c = cfg(60);
        let first = store.issue("r1", t0, &c);
        let second = store.refresh(&first.refresh_token, t0, &c);
        let second = second.map(|t| t.refresh_token).unwrap_or_default();
        assert_ne!(second, first.refresh_token);
        // Within the grace window the old value still answers, with the current value.
        let again = store.refresh(&first.refresh_token, t0 + chrono::Duration::seconds(30), &c);
        assert_eq!(again.map(|t| t.refresh_token).ok(), Some(second.clone()));
        let late = store.refresh(&first.refresh_token, t0 + chrono::Duration::seconds(61), &c);
        assert_eq!(late.err(), Some("invalid_grant"));
    }

    #[test]
    fn no_rotation_inside_the_rotation_interval() {
        let mut store = OAuthStore::default();
        let t0 = Utc::now();
        let c = OAuthConfig {
            rotation_interval_secs: 86_400,
            ..OAuthConfig::default()
        };
        let first = store.issue("r1", t0, &c);
        let next = store.refresh(&first.refresh_token, t0 + chrono::Duration::hours(2), &c);
        assert_eq!(
            next.map(|t| t.refresh_token).ok(),
            Some(first.refresh_token)
        );
    }
}
