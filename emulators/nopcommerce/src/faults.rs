//! Fault knobs on the API routes: latency, bursts of 429 or 503, dropped connections
//! (by probability, or forced for the next N requests) and forced token expiry (in
//! [`crate::auth`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::config::FaultConfig;
use crate::state::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectedFault {
    /// 429 with Retry-After.
    RateLimited,
    /// 503.
    ServerError,
    /// Connection closed without an answer; the request is not run.
    DropConnection,
    /// The request runs (its effects stay), then the connection closes without an
    /// answer: the client cannot tell whether an action happened.
    DropAfterProcessing,
    /// The request runs and answers its status, but the body is cut in half (invalid
    /// JSON), for malformed-data handling.
    MalformedBody,
}

/// Response extension asking the server loop to close the connection without answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

pub struct FaultState {
    config: RwLock<FaultConfig>,
    rng: Mutex<StdRng>,
    /// Faults still owed: forced ones and the rest of a running burst.
    pending: Mutex<VecDeque<InjectedFault>>,
}

impl FaultState {
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        Self {
            config: RwLock::new(config),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x6e6f_705f_6661_756c)),
            pending: Mutex::new(VecDeque::new()),
        }
    }

    pub fn config(&self) -> FaultConfig {
        self.config.read().clone()
    }

    pub fn set(&self, config: FaultConfig) {
        *self.config.write() = config;
    }

    /// The next `count` API requests get this fault.
    pub fn force(&self, fault: InjectedFault, count: usize) {
        self.pending
            .lock()
            .extend(std::iter::repeat_n(fault, count));
    }

    pub fn clear(&self) {
        self.pending.lock().clear();
    }

    fn latency(&self, cfg: &FaultConfig) -> Duration {
        let jitter = if cfg.latency_jitter_ms > 0 {
            self.rng.lock().gen_range(0..=cfg.latency_jitter_ms)
        } else {
            0
        };
        Duration::from_millis(cfg.latency_ms + jitter)
    }

    /// Owed faults first; otherwise one roll that may start a burst.
    pub fn decide(&self) -> Option<InjectedFault> {
        if let Some(f) = self.pending.lock().pop_front() {
            return Some(f);
        }
        let cfg = self.config.read().clone();
        let x: f64 = self.rng.lock().gen();
        let table = [
            (
                cfg.drop_connection_probability,
                InjectedFault::DropConnection,
                false,
            ),
            (cfg.rate_limit_probability, InjectedFault::RateLimited, true),
            (
                cfg.server_error_probability,
                InjectedFault::ServerError,
                true,
            ),
        ];
        let mut acc = 0.0;
        for (p, fault, bursty) in table {
            acc += p.max(0.0);
            if x < acc {
                if bursty && cfg.burst_length > 1 {
                    let rest = usize::try_from(cfg.burst_length - 1).unwrap_or(0);
                    self.pending.lock().extend(std::iter::repeat_n(fault, rest));
                }
                return Some(fault);
            }
        }
        None
    }
}

/// Middleware for every API route (not the `/_emulator` control routes).
pub async fn apply(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let cfg = shared.faults.config();
    let delay = shared.faults.latency(&cfg);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match shared.faults.decide() {
        Some(InjectedFault::RateLimited) => {
            let mut r = crate::json::plain(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            if let Ok(v) = HeaderValue::from_str(&cfg.retry_after_secs.max(1).to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            r
        }
        Some(InjectedFault::ServerError) => {
            crate::json::plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Some(InjectedFault::DropConnection) => {
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.extensions_mut().insert(DropConnection);
            r
        }
        Some(InjectedFault::DropAfterProcessing) => {
            let mut r = next.run(req).await;
            r.extensions_mut().insert(DropConnection);
            r
        }
        Some(InjectedFault::MalformedBody) => {
            let response = next.run(req).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(cut))
        }
        None => next.run(req).await,
    }
}
