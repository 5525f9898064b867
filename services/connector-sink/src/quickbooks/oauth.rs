//! OAuth 2.0 tokens of one connection. One refresh at a time per connection: in process a
//! mutex, across processes the token row's `FOR UPDATE` lock. The rotated refresh token is
//! committed before the new access token is handed out, so a crash can never lose it.
//! `invalid_grant` marks the connection disconnected (in the database too) and stops calls.
use crate::{
    target::HealthFn,
    xref::{Store, StoreError},
};
use base64::Engine;
use nopbridge_proto::control::v1::HealthState;
use nopbridge_runtime::Meter;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::Row;
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Needs a person: the refresh token was rejected or never stored.
    #[error("connection disconnected: {0}")]
    Disconnected(String),
    #[error("token endpoint unavailable: {0}")]
    Transient(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    #[serde(default = "default_expires")]
    expires_in: u64,
}

const fn default_expires() -> u64 {
    3600
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
}

struct TokenState {
    access: Option<(SecretString, Instant)>,
    generation: u64,
}

pub struct TokenManager {
    connection_id: String,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    http: reqwest::Client,
    store: Store,
    state: tokio::sync::Mutex<TokenState>,
    disconnected: AtomicBool,
    health: HealthFn,
    meter: Meter,
}

/// Refresh this long before the access token's stated expiry.
const EARLY: Duration = Duration::from_secs(300);

impl TokenManager {
    pub fn new(
        cfg: &super::QboConnectionConfig,
        http: reqwest::Client,
        store: Store,
        health: HealthFn,
        meter: Meter,
    ) -> Self {
        Self {
            connection_id: cfg.connection_id.clone(),
            token_url: cfg.token_url.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            http,
            store,
            state: tokio::sync::Mutex::new(TokenState {
                access: None,
                generation: 0,
            }),
            disconnected: AtomicBool::new(false),
            health,
            meter,
        }
    }

    pub fn is_disconnected(&self) -> bool {
        self.disconnected.load(Ordering::Acquire)
    }

    /// A valid access token and its generation (pass it to [`Self::invalidate`] on a 401).
    pub async fn access_token(&self) -> Result<(SecretString, u64), OAuthError> {
        let mut st = self.state.lock().await;
        if let Some((token, expires)) = &st.access {
            if Instant::now() < *expires {
                return Ok((token.clone(), st.generation));
            }
        }
        self.refresh(&mut st).await?;
        match &st.access {
            Some((token, _)) => Ok((token.clone(), st.generation)),
            None => Err(OAuthError::Transient(
                "no access token after refresh".into(),
            )),
        }
    }

    /// The API refused the token of `generation`: the next caller refreshes (once, however
    /// many workers saw the 401).
    pub async fn invalidate(&self, generation: u64) {
        let mut st = self.state.lock().await;
        if st.generation == generation {
            st.access = None;
        }
    }

    /// Waits until an operator stored a new refresh token (see `Store::reconnect`), polling
    /// the database only (no calls to Intuit). False when `within` passed first.
    pub async fn wait_connected(
        &self,
        within: Duration,
        poll: Duration,
    ) -> Result<bool, OAuthError> {
        let end = Instant::now() + within;
        loop {
            if let Some((false, _)) = self.store.token_status(&self.connection_id).await? {
                if self.disconnected.swap(false, Ordering::AcqRel) {
                    info!(connection = %self.connection_id, "connection re-authorised");
                    (self.health)(HealthState::Healthy, "re-authorised");
                }
                return Ok(true);
            }
            let now = Instant::now();
            if now >= end {
                return Ok(false);
            }
            tokio::time::sleep(poll.min(end - now)).await;
        }
    }

    // Boxed with an explicit `Send`: rustc cannot prove it through sqlx's executor bounds
    // (rust-lang/rust#102211) once the future is nested in a spawned one.
    fn refresh<'a>(
        &'a self,
        st: &'a mut TokenState,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), OAuthError>> + Send + 'a>>
    {
        Box::pin(self.refresh_inner(st))
    }

    async fn refresh_inner(&self, st: &mut TokenState) -> Result<(), OAuthError> {
        let pool = self.store.pool();
        let mut tx = pool.begin().await?;
        let row = sqlx::query(
            "SELECT refresh_token, version, disconnected, detail FROM sink_oauth_tokens
             WHERE connection_id = $1 FOR UPDATE",
        )
        .bind(&self.connection_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(self.mark_disconnected_in_memory(
                "no refresh token stored for this connection: authorise the app for this company",
            ));
        };
        let refresh: String = row.get(0);
        let version: i64 = row.get(1);
        let disconnected: bool = row.get(2);
        let detail: String = row.get(3);
        if disconnected {
            return Err(self.mark_disconnected_in_memory(&detail));
        }
        self.disconnected.store(false, Ordering::Release);
        let answer = self.call_token_endpoint(&refresh).await;
        self.meter.token_refresh(match &answer {
            Ok(_) => "ok",
            Err(Refused::Grant(_)) => "refused",
            Err(Refused::Transient(_)) => "failed",
        });
        match answer {
            Ok(t) => {
                sqlx::query(
                    "UPDATE sink_oauth_tokens SET refresh_token = $2, version = $3, updated_at = now()
                     WHERE connection_id = $1",
                )
                .bind(&self.connection_id)
                .bind(&t.refresh_token)
                .bind(version + 1)
                .execute(&mut *tx)
                .await?;
                // Committed before the access token is used: the rotated token is durable.
                tx.commit().await?;
                let ttl = Duration::from_secs(t.expires_in).saturating_sub(EARLY);
                st.access = Some((
                    SecretString::from(t.access_token),
                    Instant::now() + ttl.max(Duration::from_secs(1)),
                ));
                st.generation += 1;
                info!(connection = %self.connection_id, version = version + 1, "access token refreshed");
                Ok(())
            }
            Err(Refused::Grant(reason)) => {
                let detail = format!(
                    "QuickBooks refused the refresh token ({reason}): the app was disconnected or the token expired; re-authorise the connection"
                );
                sqlx::query(
                    "UPDATE sink_oauth_tokens SET disconnected = true, detail = $2, updated_at = now()
                     WHERE connection_id = $1",
                )
                .bind(&self.connection_id)
                .bind(&detail)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Err(self.mark_disconnected_in_memory(&detail))
            }
            Err(Refused::Transient(reason)) => {
                warn!(connection = %self.connection_id, %reason, "token refresh failed, will retry");
                Err(OAuthError::Transient(reason))
            }
        }
    }

    fn mark_disconnected_in_memory(&self, detail: &str) -> OAuthError {
        if !self.disconnected.swap(true, Ordering::AcqRel) {
            (self.health)(HealthState::Disconnected, detail);
        }
        OAuthError::Disconnected(detail.to_string())
    }

    async fn call_token_endpoint(&self, refresh: &str) -> Result<TokenResponse, Refused> {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose_secret()
        ));
        let body = format!(
            "grant_type=refresh_token&refresh_token={}",
            urlencoding::encode(refresh)
        );
        let resp = self
            .http
            .post(&self.token_url)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            // reqwest errors carry the URL, never the body or headers: no secret leaks.
            .map_err(|e| Refused::Transient(format!("token endpoint: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| Refused::Transient(format!("token endpoint: {e}")))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|e| Refused::Transient(format!("token response unreadable: {e}")));
        }
        let code = serde_json::from_str::<TokenError>(&text)
            .map(|e| e.error)
            .unwrap_or_default();
        match (status.as_u16(), code.as_str()) {
            (_, "invalid_grant") | (_, "invalid_client") | (_, "unauthorized_client") => {
                Err(Refused::Grant(code))
            }
            (s, _) => Err(Refused::Transient(format!("token endpoint answered {s}"))),
        }
    }
}

enum Refused {
    Grant(String),
    Transient(String),
}
