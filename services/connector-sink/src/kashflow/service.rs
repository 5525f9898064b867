//! The HTTP service for one KashFlow account: the session token, pacing and retry
//! classification.
//!
//! - 401 `InvalidSessionToken` (idle expiry, logout, a forced end): the session is renewed
//!   once for everyone (two-step login again) and the same call is repeated; not an attempt.
//! - 429: wait `Retry-After`, else `throttle_wait_ms`, jittered; not an attempt.
//! - 5xx, timeouts, dropped connections: exponential backoff with jitter for calls that are
//!   safe to repeat (GET, PUT of a whole record, DELETE); a POST is handed back to the caller
//!   as [`KfError::Unavailable`] after one try, because KashFlow has no idempotency key: the
//!   caller looks the record up again before it creates it a second time.
//! - 404: [`KfError::NotFound`]; other 4xx: [`KfError::Rejected`] with KashFlow's `Error`
//!   and `Message`.
use super::config::{KfConnectionConfig, KfLimits, KfRetry};
use crate::xref::StoreError;
use nopbridge_runtime::Meter;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, info, Instrument};

#[derive(Debug, thiserror::Error)]
pub enum KfError {
    #[error("KashFlow rejected the request (HTTP {status} {error}): {message}")]
    Rejected {
        status: u16,
        error: String,
        message: String,
    },
    #[error("KashFlow: {0}")]
    NotFound(String),
    #[error("KashFlow unavailable after {attempts} attempts: {reason}")]
    Unavailable { attempts: u32, reason: String },
    /// The login itself was refused (user, password, memorable word, lock).
    #[error("KashFlow refused the login: {0}")]
    Auth(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command cannot be posted as it is (our own checks).
    #[error("{class}: {message}")]
    Invalid {
        class: &'static str,
        message: String,
    },
}

impl KfError {
    pub fn invalid(class: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            class,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// One call, relative to the API base (`/v2`).
#[derive(Debug, Clone)]
pub struct KfRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    /// Resent by the service after an unknown outcome (5xx, dropped connection).
    pub repeatable: bool,
}

impl KfRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            path: path.into(),
            query: Vec::new(),
            body: None,
            repeatable: true,
        }
    }
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: Method::Post,
            body: Some(body),
            repeatable: false,
            ..Self::get(path)
        }
    }
    pub fn put(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: Method::Put,
            body: Some(body),
            ..Self::get(path)
        }
    }
    pub fn delete(path: impl Into<String>) -> Self {
        Self {
            method: Method::Delete,
            ..Self::get(path)
        }
    }
    pub fn param(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.query.push((k, v.into()));
        self
    }
    /// A write whose outcome the caller checks before repeating it (an unknown outcome comes
    /// back as [`KfError::Unavailable`] after one try).
    pub fn once(mut self) -> Self {
        self.repeatable = false;
        self
    }
}

#[derive(Debug, Clone)]
pub struct KfResponse {
    pub body: Value,
    pub attempts: u32,
}

/// Counters for tests and status.
#[derive(Debug, Default)]
pub struct KfStats {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retried: AtomicU64,
    pub logins: AtomicU64,
    pub renewals: AtomicU64,
}

struct Session {
    token: Option<SecretString>,
    generation: u64,
    last_used: Instant,
}

pub struct KfService {
    http: reqwest::Client,
    base: String,
    username: String,
    password: SecretString,
    memorable_word: SecretString,
    limits: KfLimits,
    retry: KfRetry,
    session: Mutex<Session>,
    in_flight: Semaphore,
    next_slot: parking_lot::Mutex<Instant>,
    pub stats: KfStats,
    meter: Meter,
}

enum Outcome {
    Done(Value),
    Throttled(Option<Duration>),
    Unauthorized,
    Transient(String),
    NotFound(String),
    Rejected(u16, String, String),
}

impl KfService {
    pub fn new(http: reqwest::Client, cfg: &KfConnectionConfig, meter: Meter) -> Self {
        Self {
            http,
            base: cfg.api_url().to_string(),
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            memorable_word: cfg.memorable_word.clone(),
            limits: cfg.limits.clone(),
            retry: cfg.retry.clone(),
            session: Mutex::new(Session {
                token: None,
                generation: 0,
                last_used: Instant::now(),
            }),
            in_flight: Semaphore::new(cfg.limits.max_in_flight.max(1)),
            next_slot: parking_lot::Mutex::new(Instant::now()),
            stats: KfStats::default(),
            meter,
        }
    }

    /// The live session token, logging in (both steps) when there is none or it sat idle
    /// past `session_renew_idle_ms`. One login at a time; callers waiting get its token.
    async fn token(&self) -> Result<(SecretString, u64), KfError> {
        let mut s = self.session.lock().await;
        let idle = Duration::from_millis(self.limits.session_renew_idle_ms);
        if let Some(t) = s.token.clone() {
            if s.last_used.elapsed() < idle {
                s.last_used = Instant::now();
                return Ok((t, s.generation));
            }
            self.stats.renewals.fetch_add(1, Ordering::Relaxed);
            debug!("KashFlow session idle too long, renewing before the call");
        }
        let token = self.login().await?;
        s.token = Some(token.clone());
        s.generation += 1;
        s.last_used = Instant::now();
        Ok((token, s.generation))
    }

    /// Forgets the session a call was refused with (not a newer one another call made).
    async fn invalidate(&self, generation: u64) {
        let mut s = self.session.lock().await;
        if s.generation == generation && s.token.is_some() {
            s.token = None;
            self.stats.renewals.fetch_add(1, Ordering::Relaxed);
            info!("KashFlow session ended (401 InvalidSessionToken); renewing");
        }
    }

    /// POST then PUT /sessiontoken. A lost or refused second step starts again from the
    /// first (a temporary token is single-use).
    async fn login(&self) -> Result<SecretString, KfError> {
        let mut tries = 0u32;
        loop {
            tries += 1;
            let answer = self.login_once().await;
            self.meter.token_refresh(match &answer {
                Ok(_) => "ok",
                Err(LoginError::Refused(_)) => "refused",
                Err(LoginError::Again(_)) => "failed",
            });
            match answer {
                Ok(t) => {
                    self.stats.logins.fetch_add(1, Ordering::Relaxed);
                    return Ok(t);
                }
                Err(LoginError::Refused(why)) => return Err(KfError::Auth(why)),
                Err(LoginError::Again(reason)) => {
                    if tries >= self.retry.max_attempts.max(1) {
                        return Err(KfError::Unavailable {
                            attempts: tries,
                            reason: format!("login: {reason}"),
                        });
                    }
                    tokio::time::sleep(self.backoff(tries)).await;
                }
            }
        }
    }

    async fn login_once(&self) -> Result<SecretString, LoginError> {
        let step1 = json!({"UserName": self.username, "Password": self.password.expose_secret()});
        let (status, body) = self
            .send_raw(Method::Post, "/sessiontoken", None, &step1)
            .await?;
        if status != 201 && status != 200 {
            return Err(login_failure(status, &body));
        }
        let temporary = body
            .get("TemporaryToken")
            .and_then(Value::as_str)
            .ok_or_else(|| LoginError::Again("no TemporaryToken in the answer".into()))?;
        let word: Vec<char> = self.memorable_word.expose_secret().chars().collect();
        let mut answers = Vec::new();
        for p in body
            .get("MemorableWordList")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let pos = p.get("Position").and_then(Value::as_u64).unwrap_or(0) as usize;
            let c = pos
                .checked_sub(1)
                .and_then(|i| word.get(i))
                .ok_or_else(|| {
                    LoginError::Refused(format!(
                        "KashFlow asked for character {pos} of the memorable word, which is shorter"
                    ))
                })?;
            answers.push(json!({"Position": pos, "Value": c.to_string()}));
        }
        let step2 = json!({"TemporaryToken": temporary, "MemorableWordList": answers});
        let (status, body) = self
            .send_raw(Method::Put, "/sessiontoken", None, &step2)
            .await?;
        if status != 200 && status != 201 {
            // An expired or already used temporary token: start again.
            if body.get("Error").and_then(Value::as_str) == Some("InvalidTemporaryToken") {
                return Err(LoginError::Again("temporary token expired".into()));
            }
            return Err(login_failure(status, &body));
        }
        body.get("SessionToken")
            .and_then(Value::as_str)
            .map(|t| SecretString::from(t.to_string()))
            .ok_or_else(|| LoginError::Again("no SessionToken in the answer".into()))
    }

    /// One unauthenticated exchange for the login (no session header).
    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<(u16, Value), LoginError> {
        let _permit = self.admit().await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}{path}", self.base);
        let mut b = match method {
            Method::Post => self.http.post(&url),
            _ => self.http.put(&url),
        }
        .header("accept", "application/json")
        .timeout(Duration::from_millis(self.retry.request_timeout_ms))
        .json(body);
        if let Some(t) = token {
            b = b.header("authorization", format!("KfToken {t}"));
        }
        let resp = b.send().await.map_err(|e| {
            self.meter.api_call(None);
            LoginError::Again(without_url(&e))
        })?;
        let status = resp.status().as_u16();
        self.meter.api_call(Some(status));
        if status == 429 || status >= 500 {
            return Err(LoginError::Again(format!("HTTP {status}")));
        }
        let text = resp
            .text()
            .await
            .map_err(|e| LoginError::Again(without_url(&e)))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// In-flight bound and even spacing (`requests_per_minute`).
    async fn admit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        if self.limits.requests_per_minute > 0 {
            let interval = Duration::from_secs(60) / self.limits.requests_per_minute;
            let at = {
                let mut next = self.next_slot.lock();
                let at = (*next).max(Instant::now());
                *next = at + interval;
                at
            };
            tokio::time::sleep_until(at.into()).await;
        }
        // Never closed, so this is always a permit.
        self.in_flight.acquire().await.ok()
    }

    pub async fn call(&self, req: &KfRequest) -> Result<KfResponse, KfError> {
        let mut attempts = 0u32;
        let mut throttled = 0u32;
        let mut auth_retries = 0u32;
        loop {
            attempts += 1;
            let (token, generation) = self.token().await?;
            let outcome = {
                let _permit = self.admit().await;
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
                self.send(req, token.expose_secret()).await
            };
            match outcome {
                Outcome::Done(body) => return Ok(KfResponse { body, attempts }),
                Outcome::NotFound(m) => return Err(KfError::NotFound(m)),
                Outcome::Rejected(status, error, message) => {
                    return Err(KfError::Rejected {
                        status,
                        error,
                        message,
                    })
                }
                Outcome::Unauthorized => {
                    attempts -= 1;
                    auth_retries += 1;
                    self.invalidate(generation).await;
                    if auth_retries > 3 {
                        return Err(KfError::Unavailable {
                            attempts: attempts + auth_retries,
                            reason: "session token refused right after logging in".into(),
                        });
                    }
                }
                Outcome::Throttled(after) => {
                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    self.meter.rate_limit_wait();
                    attempts -= 1;
                    throttled += 1;
                    if throttled > self.retry.max_throttle_waits {
                        return Err(KfError::Unavailable {
                            attempts: attempts + throttled,
                            reason: "throttled (429) on every try".into(),
                        });
                    }
                    let base = after.unwrap_or(Duration::from_millis(self.retry.throttle_wait_ms));
                    let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 4 + 1);
                    tokio::time::sleep(base + Duration::from_millis(jitter)).await;
                }
                Outcome::Transient(reason) => {
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    if !req.repeatable || attempts >= self.retry.max_attempts {
                        return Err(KfError::Unavailable { attempts, reason });
                    }
                    let wait = self.backoff(attempts);
                    debug!(path = %req.path, attempts, %reason, ?wait, "transient failure, retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .initial_backoff_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.retry.max_backoff_ms).max(1);
        Duration::from_millis(rand::thread_rng().gen_range(cap / 2..=cap))
    }

    pub fn max_attempts(&self) -> u32 {
        self.retry.max_attempts.max(1)
    }

    async fn send(&self, req: &KfRequest, token: &str) -> Outcome {
        let mut url = format!("{}{}", self.base, req.path);
        for (i, (k, v)) in req.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{k}={}", urlencoding::encode(v)));
        }
        let b = match req.method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url),
            Method::Put => self.http.put(&url),
            Method::Delete => self.http.delete(&url),
        };
        let mut b = b
            .header("authorization", format!("KfToken {token}"))
            .header("accept", "application/json")
            .timeout(Duration::from_millis(self.retry.request_timeout_ms));
        if let Some(body) = &req.body {
            b = b.json(body);
        }
        let span = tracing::info_span!(
            "kashflow request",
            otel.kind = "client",
            http.request.method = ?req.method,
            url.path = %req.path,
        );
        let resp = match b.send().instrument(span).await {
            Ok(r) => r,
            Err(e) => {
                self.meter.api_call(None);
                return Outcome::Transient(format!("{}: {}", req.path, without_url(&e)));
            }
        };
        let status = resp.status().as_u16();
        self.meter.api_call(Some(status));
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Transient(format!("{}: body: {}", req.path, without_url(&e)))
            }
        };
        classify(status, retry_after, &text)
    }
}

enum LoginError {
    Refused(String),
    Again(String),
}

fn login_failure(status: u16, body: &Value) -> LoginError {
    let error = body.get("Error").and_then(Value::as_str).unwrap_or("");
    let message = body.get("Message").and_then(Value::as_str).unwrap_or("");
    if status == 401 || status == 400 || status == 403 {
        LoginError::Refused(format!("HTTP {status} {error}: {message}"))
    } else {
        LoginError::Again(format!("HTTP {status} {error}"))
    }
}

fn classify(status: u16, retry_after: Option<Duration>, text: &str) -> Outcome {
    let body: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) if (200..300).contains(&status) => {
                return Outcome::Transient("unreadable success body".into())
            }
            Err(_) => Value::String(text.chars().take(300).collect()),
        }
    };
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match status {
        200..=299 => Outcome::Done(body),
        401 => Outcome::Unauthorized,
        429 => Outcome::Throttled(retry_after),
        404 => Outcome::NotFound(field("Message")),
        408 | 500..=599 => Outcome::Transient(format!("HTTP {status} {}", field("Error"))),
        _ => {
            let mut message = field("Message");
            if message.is_empty() {
                message = body.as_str().unwrap_or_default().to_string();
            }
            Outcome::Rejected(status, field("Error"), message)
        }
    }
}

/// reqwest errors print the URL; keep messages short and stable.
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else if e.is_body() || e.is_decode() {
        "response cut off".into()
    } else {
        "connection dropped".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kashflow_answers_are_classified() {
        assert!(matches!(
            classify(
                401,
                None,
                r#"{"Error":"InvalidSessionToken","Message":"Session token provided is invalid."}"#
            ),
            Outcome::Unauthorized
        ));
        assert!(matches!(
            classify(429, Some(Duration::from_secs(1)), "{}"),
            Outcome::Throttled(Some(_))
        ));
        assert!(matches!(classify(503, None, ""), Outcome::Transient(_)));
        assert!(matches!(
            classify(400, None, r#"{"Error":"ValidationError","Message":"Line 1: VAT rate 17% is not set up for this account."}"#),
            Outcome::Rejected(400, e, m) if e == "ValidationError" && m.contains("VAT rate")
        ));
        assert!(matches!(
            classify(404, None, r#"{"Error":"NotFound","Message":"x"}"#),
            Outcome::NotFound(_)
        ));
        assert!(matches!(
            classify(200, None, "<html"),
            Outcome::Transient(_)
        ));
    }
}
