//! The Web API Backend calls write-back needs, with the plugin's auth and error rules:
//! a JWT from `Authenticate/GetToken` (fetched again once on a 401), 429/5xx/timeouts
//! retried with jittered backoff (`Retry-After` honoured), 400 ProblemDetails and 404
//! plain strings reported as they are.
use super::config::NopConnectionConfig;
use crate::target::Failure;
use nopbridge_proto::commands::v1::TargetError;
use nopbridge_runtime::Meter;
use parking_lot::Mutex;
use rand::Rng;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use tracing::{debug, Instrument};

#[derive(Debug, Deserialize)]
pub struct Note {
    pub note: String,
}

#[derive(Debug, Deserialize)]
pub struct Order {
    pub order_status_id: i32,
    pub payment_status_id: i32,
}

#[derive(Debug, Deserialize)]
pub struct Product {
    pub id: i64,
}

#[derive(Debug, Deserialize)]
pub struct StockRow {
    pub message: String,
    /// Stock after the change.
    #[serde(default)]
    pub stock_quantity: i64,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    items: Vec<T>,
}

pub struct NopClient {
    http: reqwest::Client,
    api: String,
    cfg: NopConnectionConfig,
    token: Mutex<Option<SecretString>>,
    meter: Meter,
}

/// A call's answer: the body of a 2xx, or the store's refusal.
pub enum Reply {
    Ok(Vec<u8>),
    /// 400 (ProblemDetails) or 404 (a plain string): the store said no.
    Refused {
        status: u16,
        detail: String,
    },
}

impl NopClient {
    pub fn new(http: reqwest::Client, cfg: NopConnectionConfig, meter: Meter) -> Self {
        Self {
            api: format!("{}/api-backend", cfg.base_url.trim_end_matches('/')),
            http,
            cfg,
            token: Mutex::new(None),
            meter,
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, Failure> {
        match self.call(Method::GET, path, None).await? {
            Reply::Ok(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| bad_answer(path, &e)),
            Reply::Refused { status: 404, .. } => Ok(None),
            Reply::Refused { status, detail } => Err(refused(path, status, detail)),
        }
    }

    pub async fn order(&self, id: i64) -> Result<Option<Order>, Failure> {
        self.get(&format!("Order/GetById/{id}")).await
    }

    pub async fn notes(&self, order_id: i64) -> Result<Vec<Note>, Failure> {
        Ok(self
            .get(&format!("OrderNote/GetOrderNotesByOrderId/{order_id}"))
            .await?
            .unwrap_or_default())
    }

    pub async fn product_by_sku(&self, sku: &str) -> Result<Option<Product>, Failure> {
        self.get(&format!(
            "Product/GetProductBySku?sku={}",
            urlencoding::encode(sku)
        ))
        .await
    }

    /// The newest stock history rows of a product (a page of 100).
    pub async fn stock_history(&self, product_id: i64) -> Result<Vec<StockRow>, Failure> {
        let page: Option<Page<StockRow>> = self
            .get(&format!(
                "Product/GetStockQuantityHistory/{product_id}?pageIndex=0&pageSize=100"
            ))
            .await?;
        Ok(page.map(|p| p.items).unwrap_or_default())
    }

    /// A `Can…` question of OrderProcessing (true/false).
    pub async fn can(&self, action: &str, order_id: i64) -> Result<bool, Failure> {
        Ok(self
            .get::<bool>(&format!("OrderProcessing/Can{action}/{order_id}"))
            .await?
            .unwrap_or(false))
    }

    /// Runs an action; `Err` carries the store's refusal.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(), Failure> {
        match self.call(method, path, body).await? {
            Reply::Ok(_) => Ok(()),
            Reply::Refused { status, detail } => Err(refused(path, status, detail)),
        }
    }

    /// One call with the retry rules; transient failures after the last attempt go back to
    /// the sink loop (which redelivers later).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, Failure> {
        let url = format!("{}/{path}", self.api);
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let token = self.token().await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .timeout(Duration::from_millis(self.cfg.request_timeout_ms));
            if let Some(b) = &body {
                req = req.json(b);
            }
            let span = tracing::info_span!(
                "nopcommerce request",
                otel.kind = "client",
                http.request.method = %method,
                url.path = path,
                attempt,
            );
            let answer = req.send().instrument(span).await;
            self.meter
                .api_call(answer.as_ref().ok().map(|r| r.status().as_u16()));
            let (wait, why) = match answer {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    let bytes = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    match status {
                        s if s.is_success() => return Ok(Reply::Ok(bytes)),
                        StatusCode::UNAUTHORIZED if !reauthenticated => {
                            reauthenticated = true;
                            *self.token.lock() = None;
                            continue;
                        }
                        StatusCode::UNAUTHORIZED => return Err(auth_refused()),
                        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => {
                            return Ok(Reply::Refused {
                                status: status.as_u16(),
                                detail: detail_of(&bytes),
                            })
                        }
                        s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                            if s == StatusCode::TOO_MANY_REQUESTS {
                                self.meter.rate_limit_wait();
                            }
                            (retry_after, format!("HTTP {}", s.as_u16()))
                        }
                        s => {
                            return Ok(Reply::Refused {
                                status: s.as_u16(),
                                detail: detail_of(&bytes),
                            })
                        }
                    }
                }
                Err(e) => (None, format!("{}", e.without_url())),
            };
            if attempt >= self.cfg.max_attempts.max(1) {
                return Err(Failure::Transient(TargetError {
                    code: String::new(),
                    element: path.into(),
                    detail: format!("{why} after {attempt} attempts"),
                    explanation: "the store did not answer in time; the command is retried later"
                        .into(),
                    class: "retries_exhausted".into(),
                }));
            }
            let wait = wait.unwrap_or_else(|| self.backoff(attempt));
            debug!(path, attempt, wait_ms = wait.as_millis() as u64, %why, "store call retried");
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .cfg
            .initial_backoff_ms
            .saturating_mul(1 << attempt.min(16))
            .min(self.cfg.max_backoff_ms);
        Duration::from_millis(base / 2 + rand::thread_rng().gen_range(0..=base / 2))
    }

    async fn token(&self) -> Result<SecretString, Failure> {
        if let Some(t) = self.token.lock().clone() {
            return Ok(t);
        }
        let resp = self
            .http
            .post(format!("{}/Authenticate/GetToken", self.api))
            .json(&json!({
                "username": self.cfg.username,
                "password": self.cfg.password.expose_secret(),
            }))
            .timeout(Duration::from_millis(self.cfg.request_timeout_ms))
            .send()
            .await
            .map_err(|e| {
                self.meter.token_refresh("failed");
                Failure::Transient(TargetError {
                    detail: format!("token request failed: {}", e.without_url()),
                    class: "unavailable".into(),
                    ..TargetError::default()
                })
            })?;
        let status = resp.status();
        self.meter.token_refresh(if status.is_success() {
            "ok"
        } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            "failed"
        } else {
            "refused"
        });
        match status {
            s if s.is_success() => {
                #[derive(Deserialize)]
                struct Token {
                    token: String,
                }
                let t: Token = resp
                    .json()
                    .await
                    .map_err(|e| bad_answer("Authenticate/GetToken", &e))?;
                let t = SecretString::from(t.token);
                *self.token.lock() = Some(t.clone());
                Ok(t)
            }
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                Err(Failure::Transient(TargetError {
                    code: s.as_u16().to_string(),
                    detail: "the token endpoint is unavailable".into(),
                    class: "unavailable".into(),
                    ..TargetError::default()
                }))
            }
            _ => Err(auth_refused()),
        }
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// ProblemDetails' `detail` (or `title`), else the plain-string body.
fn detail_of(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => ["detail", "title"]
            .iter()
            .filter_map(|k| v.get(k).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(body).chars().take(500).collect(),
    }
}

fn refused(path: &str, status: u16, detail: String) -> Failure {
    Failure::Permanent(TargetError {
        code: status.to_string(),
        element: path.split('/').take(2).collect::<Vec<_>>().join("/"),
        detail,
        explanation: "the store refused the write-back; check the order in the store admin, then replay the dead letter".into(),
        class: "validation".into(),
    })
}

fn auth_refused() -> Failure {
    Failure::Disconnected(TargetError {
        code: "401".into(),
        detail: "the store refused the API credentials".into(),
        explanation: "check the write-back connection's username and password (an administrator of the store)".into(),
        class: "auth".into(),
        ..TargetError::default()
    })
}

fn bad_answer(path: &str, e: &dyn std::fmt::Display) -> Failure {
    Failure::Permanent(TargetError {
        element: path.into(),
        detail: format!("unexpected answer: {e}"),
        explanation: "the store's API answered in a shape nopbridge does not know; is the Web API Backend plugin installed?".into(),
        class: "protocol".into(),
        ..TargetError::default()
    })
}
