//! The HTTP service for one realm: pacing, bearer tokens and retry classification.
//!
//! - 429 (and the old 403/3001): wait `Retry-After`, else `throttle_wait_ms`, jittered; not an
//!   attempt, because nothing failed.
//! - 401: the token is invalidated, one shared refresh runs, the call is repeated.
//! - 5xx, timeouts, dropped connections, unreadable bodies: exponential backoff with full
//!   jitter, the same `requestid` every time, so a write that did happen is replayed, not redone.
//! - other 4xx and faults inside a 200: [`QboError::Rejected`] with the Fault items.
use super::{
    config::QboRetry,
    limiter::{CallKind, Limiter, Permit},
    oauth::{OAuthError, TokenManager},
};
use crate::xref::StoreError;
use nopbridge_runtime::Meter;
use rand::Rng;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};
use tracing::debug;
use tracing::Instrument;

/// One QuickBooks fault item, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fault {
    pub code: String,
    pub element: String,
    pub message: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QboError {
    #[error(
        "QuickBooks rejected the request (HTTP {status}): {}",
        describe(faults)
    )]
    Rejected { status: u16, faults: Vec<Fault> },
    #[error("QuickBooks unavailable after {attempts} attempts: {reason}")]
    Unavailable { attempts: u32, reason: String },
    #[error("connection disconnected: {0}")]
    Disconnected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command cannot be posted as it is (our own checks, before or after the call).
    #[error("{class}: {message}")]
    Invalid {
        class: &'static str,
        message: String,
    },
}

impl QboError {
    /// The first fault code, when QuickBooks gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { faults, .. } => faults.first().map(|f| f.code.as_str()),
            _ => None,
        }
    }

    pub fn first_fault(&self) -> Option<&Fault> {
        match self {
            Self::Rejected { faults, .. } => faults.first(),
            _ => None,
        }
    }

    pub fn invalid(class: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            class,
            message: message.into(),
        }
    }
}

impl From<OAuthError> for QboError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Disconnected(d) => Self::Disconnected(d),
            OAuthError::Transient(r) => Self::Unavailable {
                attempts: 1,
                reason: r,
            },
            OAuthError::Store(s) => Self::Store(s),
        }
    }
}

fn describe(faults: &[Fault]) -> String {
    faults
        .iter()
        .map(|f| {
            let mut s = format!("{} {}", f.code, f.message);
            if !f.element.is_empty() {
                s.push_str(&format!(" [{}]", f.element));
            }
            if !f.detail.is_empty() && f.detail != f.message {
                s.push_str(&format!(": {}", f.detail));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One call, relative to the company URL.
#[derive(Debug, Clone)]
pub struct QboRequest {
    pub method: Method,
    pub path: String,
    pub params: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub request_id: Option<String>,
    pub kind: CallKind,
}

impl QboRequest {
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: Method::Post,
            path: path.into(),
            params: Vec::new(),
            body: Some(body),
            request_id: None,
            kind: CallKind::Single,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            path: path.into(),
            params: Vec::new(),
            body: None,
            request_id: None,
            kind: CallKind::Single,
        }
    }

    pub fn param(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.params.push((k, v.into()));
        self
    }

    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }
}

#[derive(Debug, Clone)]
pub struct QboResponse {
    pub body: Value,
    pub attempts: u32,
}

/// Counters for the bench and status.
#[derive(Debug, Default)]
pub struct ServiceStats {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retried: AtomicU64,
    pub batch_calls: AtomicU64,
}

pub struct QboService {
    http: reqwest::Client,
    company_url: String,
    minor_version: u32,
    limiter: Arc<Limiter>,
    oauth: Arc<TokenManager>,
    retry: QboRetry,
    pub stats: ServiceStats,
    meter: Meter,
}

enum Outcome {
    Done(Value),
    Throttled(Option<Duration>),
    Unauthorized,
    Transient(String),
    Rejected(u16, Vec<Fault>),
}

impl QboService {
    pub fn new(
        http: reqwest::Client,
        company_url: String,
        minor_version: u32,
        limiter: Arc<Limiter>,
        oauth: Arc<TokenManager>,
        retry: QboRetry,
        meter: Meter,
    ) -> Self {
        Self {
            http,
            company_url,
            minor_version,
            limiter,
            oauth,
            retry,
            stats: ServiceStats::default(),
            meter,
        }
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    pub fn oauth(&self) -> &TokenManager {
        &self.oauth
    }

    pub async fn call(&self, req: &QboRequest) -> Result<QboResponse, QboError> {
        self.call_in(req, None).await
    }

    /// Like [`Self::call`], the first try on a permit the caller already holds (the
    /// batcher's); retries wait for their own.
    pub async fn call_in(
        &self,
        req: &QboRequest,
        mut admitted: Option<Permit>,
    ) -> Result<QboResponse, QboError> {
        let mut attempts = 0u32;
        let mut throttled = 0u32;
        let mut auth_retries = 0u32;
        loop {
            attempts += 1;
            let permit = match admitted.take() {
                Some(p) => p,
                None => {
                    let slot = self.limiter.slot().await;
                    self.limiter.admit(req.kind, slot).await
                }
            };
            let (token, generation) = self.oauth.access_token().await?;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            if req.kind == CallKind::Batch {
                self.stats.batch_calls.fetch_add(1, Ordering::Relaxed);
            }
            let outcome = self.send(req, token.expose_secret()).await;
            drop(permit);
            match outcome {
                Outcome::Done(body) => return Ok(QboResponse { body, attempts }),
                Outcome::Rejected(status, faults) => {
                    return Err(QboError::Rejected { status, faults })
                }
                Outcome::Throttled(after) => {
                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    self.meter.rate_limit_wait();
                    attempts -= 1;
                    throttled += 1;
                    if throttled > self.retry.max_throttle_waits {
                        return Err(QboError::Unavailable {
                            attempts: attempts + throttled,
                            reason: "throttled (429) on every try".into(),
                        });
                    }
                    let base = after.unwrap_or(Duration::from_millis(self.retry.throttle_wait_ms));
                    let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 4 + 1);
                    debug!(path = %req.path, wait_ms = base.as_millis() as u64 + jitter, "throttled");
                    tokio::time::sleep(base + Duration::from_millis(jitter)).await;
                }
                Outcome::Unauthorized => {
                    auth_retries += 1;
                    attempts -= 1;
                    self.oauth.invalidate(generation).await;
                    if auth_retries > 3 {
                        return Err(QboError::Unavailable {
                            attempts: attempts + auth_retries,
                            reason: "access token refused after refreshing".into(),
                        });
                    }
                }
                Outcome::Transient(reason) => {
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    if attempts >= self.retry.max_attempts {
                        return Err(QboError::Unavailable { attempts, reason });
                    }
                    let wait = self.backoff(attempts);
                    debug!(path = %req.path, attempts, %reason, ?wait, "transient failure, retrying with the same requestid");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .initial_backoff_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.retry.max_backoff_ms).max(1);
        Duration::from_millis(rand::thread_rng().gen_range(cap / 2..=cap))
    }

    fn url(&self, req: &QboRequest) -> String {
        let mut url = format!(
            "{}/{}?minorversion={}",
            self.company_url, req.path, self.minor_version
        );
        for (k, v) in &req.params {
            url.push_str(&format!("&{k}={}", urlencoding::encode(v)));
        }
        if let Some(id) = &req.request_id {
            url.push_str(&format!("&requestid={}", urlencoding::encode(id)));
        }
        url
    }

    /// One HTTP exchange, in a client span (joins the trace of the command being posted).
    async fn send(&self, req: &QboRequest, token: &str) -> Outcome {
        let span = tracing::info_span!(
            "qbo request",
            otel.kind = "client",
            http.request.method = if matches!(req.method, Method::Get) { "GET" } else { "POST" },
            url.path = %req.path,
            qbo.requestid = req.request_id.as_deref().unwrap_or_default(),
            http.response.status_code = tracing::field::Empty,
        );
        self.send_once(req, token).instrument(span).await
    }

    async fn send_once(&self, req: &QboRequest, token: &str) -> Outcome {
        let url = self.url(req);
        let builder = match req.method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url),
        };
        let mut builder = builder
            .bearer_auth(token)
            .header("accept", "application/json")
            .timeout(Duration::from_millis(self.retry.request_timeout_ms));
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                self.meter.api_call(None);
                return Outcome::Transient(format!("{}: {}", req.path, without_url(&e)));
            }
        };
        let status = resp.status().as_u16();
        self.meter.api_call(Some(status));
        tracing::Span::current().record("http.response.status_code", status);
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, chrono::Utc::now()));
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Transient(format!("{}: body: {}", req.path, without_url(&e)))
            }
        };
        classify(status, retry_after, &text)
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// reqwest errors print the URL; ours carry no secret, but keep messages short and stable.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response cut off"
    } else {
        "connection dropped"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

fn classify(status: u16, retry_after: Option<Duration>, text: &str) -> Outcome {
    let json: Option<Value> = serde_json::from_str(text).ok();
    let faults = json
        .as_ref()
        .map(parse_faults)
        .unwrap_or_else(|| parse_xml_faults(text));
    match status {
        200..=299 => match json {
            Some(v) if v.get("Fault").is_some() => Outcome::Rejected(status, faults),
            Some(v) => Outcome::Done(v),
            None => Outcome::Transient("unreadable success body".into()),
        },
        429 => Outcome::Throttled(retry_after),
        403 if faults.iter().any(|f| f.code == "3001") => Outcome::Throttled(retry_after),
        401 => Outcome::Unauthorized,
        408 | 500..=599 => Outcome::Transient(format!(
            "HTTP {status}{}",
            faults
                .first()
                .map(|f| format!(" {} {}", f.code, f.message))
                .unwrap_or_default()
        )),
        _ if faults.is_empty() => Outcome::Rejected(
            status,
            vec![Fault {
                code: status.to_string(),
                message: format!("HTTP {status}"),
                detail: text.chars().take(300).collect(),
                ..Fault::default()
            }],
        ),
        _ => Outcome::Rejected(status, faults),
    }
}

/// Faults from `{"Fault":{"Error":[…]}}` or the gateway's lower-case `{"fault":{"error":[…]}}`.
pub fn parse_faults(v: &Value) -> Vec<Fault> {
    let fault = v.get("Fault").or_else(|| v.get("fault"));
    let errors = fault
        .and_then(|f| f.get("Error").or_else(|| f.get("error")))
        .and_then(Value::as_array);
    let field = |e: &Value, a: &str, b: &str| {
        e.get(a)
            .or_else(|| e.get(b))
            .map(|x| match x {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    errors
        .map(|errs| {
            errs.iter()
                .map(|e| Fault {
                    code: field(e, "code", "Code"),
                    element: field(e, "element", "Element"),
                    message: field(e, "Message", "message"),
                    detail: field(e, "Detail", "detail"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The XML fault shape the gateway sends (often for 429 and 401) even when JSON was asked.
fn parse_xml_faults(text: &str) -> Vec<Fault> {
    let between = |s: &str, open: &str, close: &str| -> String {
        s.find(open)
            .and_then(|i| {
                let rest = &s[i + open.len()..];
                rest.find(close).map(|j| rest[..j].to_string())
            })
            .unwrap_or_default()
    };
    if !text.contains("<Fault") {
        return Vec::new();
    }
    let code = between(text, "code=\"", "\"");
    vec![Fault {
        code,
        element: String::new(),
        message: between(text, "<Message>", "</Message>"),
        detail: between(text, "<Detail>", "</Detail>"),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_throttle_bodies_are_recognised() {
        let xml = r#"<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>"#;
        assert!(matches!(classify(429, None, xml), Outcome::Throttled(None)));
        assert!(matches!(classify(403, None, xml), Outcome::Throttled(None)));
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2026 07:28:00 GMT")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(retry_after(" 30 ", now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert!(matches!(
            classify(429, Some(Duration::from_secs(7)), "{}"),
            Outcome::Throttled(Some(d)) if d == Duration::from_secs(7)
        ));
    }

    #[test]
    fn gateway_faults_with_lower_case_keys_are_parsed() {
        let v: Value = serde_json::from_str(
            r#"{"fault":{"error":[{"message":"message=AuthenticationFailed","detail":"Token expired","code":"3200","element":null}],"type":"AUTHENTICATION"}}"#,
        )
        .unwrap_or_default();
        let f = parse_faults(&v);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "3200");
        assert_eq!(f[0].detail, "Token expired");
    }

    #[test]
    fn validation_faults_are_permanent_and_server_errors_transient() {
        let body = r#"{"Fault":{"Error":[{"Message":"Stale Object Error","Detail":"d","code":"5010","element":""}],"type":"ValidationFault"}}"#;
        assert!(
            matches!(classify(400, None, body), Outcome::Rejected(400, f) if f[0].code == "5010")
        );
        assert!(matches!(classify(503, None, ""), Outcome::Transient(_)));
        assert!(matches!(
            classify(200, None, body),
            Outcome::Rejected(200, _)
        ));
    }
}
