//! The HTTP(S) service for one GP company's eConnect integration endpoint: shared secret
//! (`Authorization: Bearer`) or client certificate, a bound on documents in flight, and retry
//! classification.
//!
//! - 429: wait `Retry-After`, else `throttle_wait_ms`, jittered; not an attempt.
//! - 5xx (a SQL deadlock, the service down), timeouts, dropped connections: exponential
//!   backoff with jitter, the same document again. That is safe: masters carry
//!   UpdateIfExists=1 and SOP documents their own number, so a document that did commit
//!   comes back as a duplicate number, which the caller verifies and takes as posted.
//! - 400 eConnect errors: [`GpError::Rejected`] with the error number, procedure and
//!   description; 401: [`GpError::Auth`].
use super::{
    config::{GpConnectionConfig, GpRetry},
    xml,
};
use crate::xref::StoreError;
use nopbridge_runtime::Meter;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use tokio::sync::Semaphore;
use tracing::{debug, Instrument};

#[derive(Debug, thiserror::Error)]
pub enum GpError {
    #[error("eConnect error {number} in {procedure}: {description}")]
    Rejected {
        number: i64,
        procedure: String,
        description: String,
        /// eConnectException, XmlSchemaValidationException, …
        exception: String,
    },
    #[error("GP endpoint unavailable after {attempts} attempts: {reason}")]
    Unavailable { attempts: u32, reason: String },
    #[error("GP endpoint refused the credentials: {0}")]
    Auth(String),
    #[error("GP endpoint: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command cannot be posted as it is (our own checks).
    #[error("{class}: {message}")]
    Invalid {
        class: &'static str,
        message: String,
    },
}

impl GpError {
    pub fn invalid(class: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            class,
            message: message.into(),
        }
    }

    pub fn number(&self) -> Option<i64> {
        match self {
            Self::Rejected { number, .. } => Some(*number),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub struct GpStats {
    pub documents: AtomicU64,
    pub throttled: AtomicU64,
    pub retried: AtomicU64,
}

pub struct GpService {
    http: reqwest::Client,
    endpoint: String,
    reads: String,
    secret: Option<SecretString>,
    retry: GpRetry,
    in_flight: Semaphore,
    pub stats: GpStats,
    meter: Meter,
}

enum Outcome {
    Done(String),
    Throttled(Option<Duration>),
    Transient(String),
    NotFound,
    Failed(GpError),
}

impl GpService {
    /// Uses `shared` unless the connection brings its own TLS material.
    pub fn new(
        shared: &reqwest::Client,
        cfg: &GpConnectionConfig,
        meter: Meter,
    ) -> Result<Self, GpError> {
        let http = if cfg.client_identity_pem.is_some() || cfg.ca_pem.is_some() {
            let mut b = reqwest::Client::builder().use_rustls_tls();
            if let Some(pem) = &cfg.client_identity_pem {
                let id =
                    reqwest::Identity::from_pem(pem.expose_secret().as_bytes()).map_err(|_| {
                        GpError::Config(
                            "client_identity_pem is not a certificate with its key".into(),
                        )
                    })?;
                b = b.identity(id);
            }
            if let Some(ca) = &cfg.ca_pem {
                let cert = reqwest::Certificate::from_pem(ca.as_bytes())
                    .map_err(|_| GpError::Config("ca_pem is not a PEM certificate".into()))?;
                b = b.add_root_certificate(cert);
            }
            b.build()
                .map_err(|e| GpError::Config(format!("TLS client: {e}")))?
        } else {
            shared.clone()
        };
        let endpoint = cfg.endpoint.trim_end_matches('/').to_string();
        let reads = endpoint.trim_end_matches("/econnect").to_string();
        Ok(Self {
            http,
            endpoint,
            reads,
            secret: cfg.shared_secret.clone(),
            retry: cfg.retry.clone(),
            in_flight: Semaphore::new(cfg.limits.max_in_flight.max(1)),
            stats: GpStats::default(),
            meter,
        })
    }

    /// Submits a document (`CreateTransactionEntity` or `CreateEntity`); the echoed document
    /// on success. Retries as the module says.
    pub async fn submit(&self, method: &str, document: &str) -> Result<(String, u32), GpError> {
        self.submit_with(method, document, true).await
    }

    /// Submits a document that GP would take twice (an auto-numbered journal, a payment on
    /// an existing document): a 429 is waited out (nothing was done), but a 5xx, a timeout or
    /// a dropped connection returns [`GpError::Unavailable`] at once, because the document
    /// may have committed; the caller looks for it before sending it again.
    pub async fn submit_unrepeated(
        &self,
        method: &str,
        document: &str,
    ) -> Result<(String, u32), GpError> {
        self.submit_with(method, document, false).await
    }

    async fn submit_with(
        &self,
        method: &str,
        document: &str,
        resend: bool,
    ) -> Result<(String, u32), GpError> {
        let url = format!("{}/{method}", self.endpoint);
        let mut attempts = 0u32;
        let mut throttled = 0u32;
        loop {
            attempts += 1;
            let outcome = {
                let _permit = self.in_flight.acquire().await.ok();
                self.stats.documents.fetch_add(1, Ordering::Relaxed);
                let req = self
                    .http
                    .post(&url)
                    .header("content-type", "application/xml; charset=utf-8")
                    .body(document.to_string());
                self.send(req).await
            };
            match outcome {
                Outcome::Done(body) => return Ok((body, attempts)),
                Outcome::NotFound => {
                    return Err(GpError::Config(format!(
                        "{method}: the endpoint or company does not exist"
                    )))
                }
                Outcome::Failed(e) => return Err(e),
                Outcome::Throttled(after) => {
                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    self.meter.rate_limit_wait();
                    attempts -= 1;
                    throttled += 1;
                    if throttled > self.retry.max_throttle_waits {
                        return Err(GpError::Unavailable {
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
                    if !resend || attempts >= self.retry.max_attempts.max(1) {
                        return Err(GpError::Unavailable { attempts, reason });
                    }
                    let wait = self.backoff(attempts);
                    debug!(attempts, %reason, ?wait, "GP endpoint: transient failure, sending the document again");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A JSON read beside the endpoint (`customers/{id}`, `items/{id}`, `sop/{type}/{n}`);
    /// `None` when GP has no such record.
    pub async fn read(&self, path: &str) -> Result<Option<Value>, GpError> {
        let url = format!("{}/{path}", self.reads);
        let mut attempts = 0u32;
        let mut throttled = 0u32;
        loop {
            attempts += 1;
            let req = self.http.get(&url).header("accept", "application/json");
            match self.send(req).await {
                Outcome::Done(body) => {
                    return serde_json::from_str(&body).map(Some).map_err(|_| {
                        GpError::Unavailable {
                            attempts,
                            reason: format!("{path}: unreadable answer"),
                        }
                    })
                }
                Outcome::NotFound => return Ok(None),
                Outcome::Failed(e) => return Err(e),
                Outcome::Throttled(after) => {
                    throttled += 1;
                    if throttled > self.retry.max_throttle_waits {
                        return Err(GpError::Unavailable {
                            attempts,
                            reason: format!("{path}: throttled (429) on every try"),
                        });
                    }
                    attempts -= 1;
                    tokio::time::sleep(
                        after.unwrap_or(Duration::from_millis(self.retry.throttle_wait_ms)),
                    )
                    .await;
                }
                Outcome::Transient(reason) => {
                    if attempts >= self.retry.max_attempts.max(1) {
                        return Err(GpError::Unavailable { attempts, reason });
                    }
                    tokio::time::sleep(self.backoff(attempts)).await;
                }
            }
        }
    }

    pub fn max_attempts(&self) -> u32 {
        self.retry.max_attempts.max(1)
    }

    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .initial_backoff_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.retry.max_backoff_ms).max(1);
        Duration::from_millis(rand::thread_rng().gen_range(cap / 2..=cap))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Outcome {
        let mut req = req.timeout(Duration::from_millis(self.retry.request_timeout_ms));
        if let Some(s) = &self.secret {
            req = req.bearer_auth(s.expose_secret());
        }
        let span = tracing::info_span!("dynamics gp request", otel.kind = "client");
        let resp = match req.send().instrument(span).await {
            Ok(r) => r,
            Err(e) => {
                self.meter.api_call(None);
                return Outcome::Transient(short(&e));
            }
        };
        self.meter.api_call(Some(resp.status().as_u16()));
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Outcome::Transient(format!("body: {}", short(&e))),
        };
        classify(status, retry_after, text)
    }
}

fn classify(status: u16, retry_after: Option<Duration>, text: String) -> Outcome {
    match status {
        200..=299 => Outcome::Done(text),
        429 => Outcome::Throttled(retry_after),
        404 if !text.contains("<eConnectFault") => Outcome::NotFound,
        401 | 403 => Outcome::Failed(GpError::Auth(
            xml::text_of(&text, "ErrorDescription").unwrap_or_else(|| format!("HTTP {status}")),
        )),
        408 | 500..=599 => Outcome::Transient(format!(
            "HTTP {status} {}",
            xml::text_of(&text, "ErrorDescription").unwrap_or_default()
        )),
        _ => Outcome::Failed(fault(status, &text)),
    }
}

/// An `<eConnectFault>` body as a [`GpError`].
fn fault(status: u16, text: &str) -> GpError {
    if status == 404 {
        return GpError::Config(
            xml::text_of(text, "ErrorDescription").unwrap_or_else(|| "unknown company".into()),
        );
    }
    GpError::Rejected {
        number: xml::text_of(text, "ErrorNumber")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0),
        procedure: xml::text_of(text, "StoredProcedure").unwrap_or_default(),
        description: xml::text_of(text, "ErrorDescription")
            .or_else(|| xml::text_of(text, "Message"))
            .unwrap_or_else(|| text.chars().take(300).collect()),
        exception: xml::text_of(text, "ExceptionType").unwrap_or_default(),
    }
}

fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "connection dropped".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn econnect_faults_keep_number_procedure_and_description() {
        let body = "<eConnectFault><ExceptionType>eConnectException</ExceptionType><ErrorNumber>4776</ErrorNumber><StoredProcedure>taSopLineIvcInsert</StoredProcedure><ErrorDescription>Item does not allow back orders</ErrorDescription></eConnectFault>".to_string();
        let Outcome::Failed(GpError::Rejected {
            number,
            procedure,
            description,
            ..
        }) = classify(400, None, body)
        else {
            panic!("a 400 fault is a rejection");
        };
        assert_eq!((number, procedure.as_str()), (4776, "taSopLineIvcInsert"));
        assert!(description.contains("back orders"));
        assert!(matches!(
            classify(503, None, String::new()),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            classify(429, Some(Duration::from_secs(1)), String::new()),
            Outcome::Throttled(Some(_))
        ));
        assert!(matches!(
            classify(401, None, String::new()),
            Outcome::Failed(GpError::Auth(_))
        ));
    }
}
