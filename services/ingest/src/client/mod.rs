//! nopCommerce API client of one connection: authentication (a 401 re-authenticates once),
//! retries with jittered exponential backoff on 429/5xx/timeouts/dropped connections
//! (honouring `Retry-After`), and typed reads. An answer that does not decode is fetched once
//! more (a cut-off body), then reported as [`ApiError::Malformed`] with its raw bytes so the
//! caller can dead-letter it. Reads of the two dialects live in `official` and `community`.
pub mod community;
pub mod dto;
pub mod official;

use crate::busy::BusyClock;
use crate::settings::{ConnectionSettings, Dialect};
use nopbridge_runtime::Meter;
use parking_lot::RwLock;
use rand::Rng;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, warn, Instrument};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The entity does not exist (or was deleted).
    #[error("not found: {0}")]
    NotFound(String),
    /// Retries exhausted on 429/5xx/timeouts/connection errors.
    #[error("store unavailable after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },
    /// Credentials refused even after a fresh token.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The answer was not what the contract says (kept raw for the DLQ).
    #[error("malformed answer from {path}: {reason}")]
    Malformed {
        path: String,
        reason: String,
        raw: Vec<u8>,
    },
    /// Another 4xx that retrying cannot fix.
    #[error("{path} answered {status}: {body}")]
    Rejected {
        path: String,
        status: u16,
        body: String,
    },
    #[error("{0} is not available in the community API")]
    Unsupported(&'static str),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// One connection's HTTP client (cheap to clone).
#[derive(Clone)]
pub struct NopClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    dialect: Dialect,
    base: String,
    host: Option<String>,
    username: String,
    password: SecretString,
    token: RwLock<Option<SecretString>>,
    auth_lock: tokio::sync::Mutex<()>,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    busy: BusyClock,
    meter: Meter,
}

/// What one HTTP exchange gave.
enum Exchange {
    Body(Vec<u8>),
    Unauthorized,
}

impl NopClient {
    pub fn new(c: &ConnectionSettings, meter: Meter) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(c.request_timeout_ms))
            .pool_max_idle_per_host(c.concurrency.max(4))
            .build()
            .map_err(|e| ApiError::Auth(format!("http client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                dialect: c.dialect,
                base: c.base_url.trim_end_matches('/').to_string(),
                host: c.host.clone(),
                username: c.username.clone(),
                password: c.password.clone(),
                token: RwLock::new(None),
                auth_lock: tokio::sync::Mutex::new(()),
                max_attempts: c.max_attempts,
                initial_backoff: Duration::from_millis(c.initial_backoff_ms),
                max_backoff: Duration::from_millis(c.max_backoff_ms),
                busy: BusyClock::default(),
                meter,
            }),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Wall-clock time with at least one request to the store outstanding.
    pub fn busy(&self) -> &BusyClock {
        &self.inner.busy
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self
            .inner
            .http
            .request(method, format!("{}{}", self.inner.base, path));
        match &self.inner.host {
            // The community API answers for the store whose Hosts match the Host header.
            Some(h) => r.header(reqwest::header::HOST, h),
            None => r,
        }
    }

    /// Gets a fresh token unless another task did so since `stale` was read.
    async fn authenticate(&self, stale: Option<&str>) -> ApiResult<SecretString> {
        let _guard = self.inner.auth_lock.lock().await;
        if let Some(current) = self.inner.token.read().clone() {
            if stale != Some(current.expose_secret()) {
                return Ok(current);
            }
        }
        let password = self.inner.password.expose_secret();
        let (path, body, field) = match self.inner.dialect {
            Dialect::Official => (
                "/api-backend/Authenticate/GetToken",
                serde_json::json!({"username": self.inner.username, "password": password}),
                "token",
            ),
            Dialect::Community => (
                "/token",
                serde_json::json!({"username": self.inner.username, "password": password,
                                   "remember_me": false, "guest": false}),
                "access_token",
            ),
        };
        let answer = self
            .exchange(reqwest::Method::POST, path, || {
                self.request(reqwest::Method::POST, path).json(&body)
            })
            .await;
        self.inner.meter.token_refresh(match &answer {
            Ok(Exchange::Body(_)) => "ok",
            Ok(Exchange::Unauthorized) | Err(ApiError::Rejected { .. }) => "refused",
            Err(_) => "failed",
        });
        let answer = answer.map_err(|e| match e {
            ApiError::Rejected { status, .. } => {
                ApiError::Auth(format!("{path} refused the credentials ({status})"))
            }
            other => other,
        })?;
        let Exchange::Body(bytes) = answer else {
            return Err(ApiError::Auth(format!("{path} answered 401")));
        };
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Auth(format!("token answer does not decode: {e}")))?;
        let token = v
            .get(field)
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Auth(format!("token answer has no `{field}`")))?;
        let token = SecretString::from(token.to_string());
        *self.inner.token.write() = Some(token.clone());
        debug!(dialect = ?self.inner.dialect, "authenticated");
        Ok(token)
    }

    async fn token(&self) -> ApiResult<SecretString> {
        let current = self.inner.token.read().clone();
        match current {
            Some(t) => Ok(t),
            None => self.authenticate(None).await,
        }
    }

    /// GET with auth; on 401 a new token is fetched once and the request repeated.
    pub async fn get_raw(&self, path: &str, query: &[(&str, String)]) -> ApiResult<Vec<u8>> {
        let mut reauthenticated = false;
        loop {
            let token = self.token().await?;
            let answer = self
                .exchange(reqwest::Method::GET, path, || {
                    self.request(reqwest::Method::GET, path)
                        .query(query)
                        .bearer_auth(token.expose_secret())
                })
                .await?;
            match answer {
                Exchange::Body(b) => return Ok(b),
                Exchange::Unauthorized if !reauthenticated => {
                    debug!(path, "401, authenticating again");
                    reauthenticated = true;
                    self.authenticate(Some(token.expose_secret())).await?;
                }
                Exchange::Unauthorized => {
                    return Err(ApiError::Auth(format!(
                        "{path} answered 401 with a fresh token"
                    )))
                }
            }
        }
    }

    /// GET and decode; an answer that does not decode is fetched once more, then reported
    /// as malformed with its raw bytes.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ApiResult<T> {
        let mut last = (String::new(), Vec::new());
        for _ in 0..2 {
            let raw = self.get_raw(path, query).await?;
            match serde_json::from_slice::<T>(&raw) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    warn!(path, error = %e, "answer does not decode");
                    last = (e.to_string(), raw);
                }
            }
        }
        Err(ApiError::Malformed {
            path: path.to_string(),
            reason: last.0,
            raw: last.1,
        })
    }

    /// Like [`get`](Self::get), with 404 as `None`.
    pub async fn get_opt<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ApiResult<Option<T>> {
        match self.get(path, query).await {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One request with retries on transient failures. 401 is returned to the caller,
    /// 404 becomes `NotFound`, other 4xx `Rejected`.
    async fn exchange<F>(
        &self,
        method: reqwest::Method,
        path: &str,
        build: F,
    ) -> ApiResult<Exchange>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = {
                let _busy = self.inner.busy.start();
                async {
                    let resp = build().send().await?;
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let body = resp.bytes().await?;
                    Ok::<_, reqwest::Error>((status, retry_after, body))
                }
                .instrument(tracing::info_span!(
                    "nopcommerce request",
                    otel.kind = "client",
                    http.request.method = %method,
                    url.path = path,
                    attempt,
                ))
                .await
            };
            self.inner
                .meter
                .api_call(result.as_ref().ok().map(|(status, _, _)| status.as_u16()));
            if matches!(&result, Ok((StatusCode::TOO_MANY_REQUESTS, _, _))) {
                self.inner.meter.rate_limit_wait();
            }
            let (reason, retry_after) = match result {
                Ok((status, _, body)) if status.is_success() => {
                    return Ok(Exchange::Body(body.to_vec()))
                }
                Ok((StatusCode::UNAUTHORIZED, _, _)) => return Ok(Exchange::Unauthorized),
                Ok((StatusCode::NOT_FOUND, _, body)) => {
                    return Err(ApiError::NotFound(format!(
                        "{path}: {}",
                        snippet(&body, 200)
                    )))
                }
                Ok((status, retry_after, body)) if retryable(status, &body) => {
                    (format!("{path} answered {status}"), retry_after)
                }
                Ok((status, _, body)) => {
                    return Err(ApiError::Rejected {
                        path: path.to_string(),
                        status: status.as_u16(),
                        body: snippet(&body, 500),
                    })
                }
                // Timeouts, refused and dropped connections.
                Err(e) => (format!("{path}: {}", error_chain(&e)), None),
            };
            if attempt >= self.inner.max_attempts {
                return Err(ApiError::Unavailable {
                    attempts: attempt,
                    last: reason,
                });
            }
            let wait = backoff(
                self.inner.initial_backoff,
                self.inner.max_backoff,
                attempt,
                retry_after,
            );
            debug!(path, attempt, ?wait, %reason, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// 429, 408 and 5xx; also the community API's 400 `internal_server_error`, which is how it
/// reports an unhandled exception on GET (reference pitfall 18).
fn retryable(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
        || (status == StatusCode::BAD_REQUEST
            && String::from_utf8_lossy(body).contains("internal_server_error"))
}

fn snippet(body: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&body[..body.len().min(max)]).into_owned()
}

/// reqwest's top-level message hides the cause ("error sending request"); add the chain.
fn error_chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Equal jitter over an exponential ceiling (half fixed, half random, so retries of many
/// tasks spread out without ever retrying at once); `Retry-After` is a floor.
fn backoff(
    initial: Duration,
    max: Duration,
    attempt: u32,
    retry_after_secs: Option<u64>,
) -> Duration {
    let max_ms = max.as_millis().max(1) as u64;
    let ceiling = (initial.as_millis() as u64)
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(16))
        .clamp(1, max_ms);
    let jittered = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
    let floor = retry_after_secs
        .map_or(0, |s| s.saturating_mul(1000))
        .min(max_ms);
    Duration::from_millis(jittered.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let (i, m) = (Duration::from_millis(100), Duration::from_millis(1_000));
        for _ in 0..50 {
            let first = backoff(i, m, 1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff(i, m, 3, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(backoff(i, m, 30, None) <= m);
            assert_eq!(backoff(i, m, 1, Some(1)), Duration::from_millis(1_000));
            assert_eq!(backoff(i, m, 1, Some(60)), m, "Retry-After is capped too");
        }
    }

    #[test]
    fn transient_statuses() {
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS, b""));
        assert!(retryable(StatusCode::SERVICE_UNAVAILABLE, b"busy"));
        assert!(retryable(
            StatusCode::BAD_REQUEST,
            br#"{"errors":{"internal_server_error":["boom"]}}"#
        ));
        assert!(!retryable(StatusCode::BAD_REQUEST, b"{\"title\":\"bad\"}"));
        assert!(!retryable(StatusCode::FORBIDDEN, b""));
    }
}
