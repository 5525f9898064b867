//! Thin, signed webhook notifications with bounded exponential-backoff retries.
//!
//! Body (JSON): `{"delivery_id","event","entity_type","entity_id","store_id",
//! "occurred_at","timestamp","attempt"}`. Headers: `X-Nop-Event`, `X-Nop-Delivery`,
//! `X-Nop-Timestamp` (unix seconds, equal to the body's `timestamp`), `X-Nop-Attempt`,
//! `X-Nop-Signature: sha256=<HMAC-SHA256(secret, raw body)>` in hex (default) or base64.
//! Each retry re-stamps `timestamp`/`attempt` and is signed again; `delivery_id` stays.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::{mpsc, Semaphore};
use uuid::Uuid;

use crate::config::{SignatureEncoding, WebhookConfig};
use crate::events::DomainEvent;

pub const HEADER_EVENT: &str = "X-Nop-Event";
pub const HEADER_DELIVERY: &str = "X-Nop-Delivery";
pub const HEADER_TIMESTAMP: &str = "X-Nop-Timestamp";
pub const HEADER_ATTEMPT: &str = "X-Nop-Attempt";
pub const HEADER_SIGNATURE: &str = "X-Nop-Signature";

/// Deliveries running at once.
const CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notification {
    pub delivery_id: Uuid,
    pub event: String,
    pub entity_type: String,
    pub entity_id: i32,
    pub store_id: Option<i32>,
    pub occurred_at: DateTime<Utc>,
    pub timestamp: i64,
    pub attempt: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    GaveUp,
}

/// What happened to one notification (for tests and the control API).
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub delivery_id: Uuid,
    pub event: String,
    pub entity_id: i32,
    pub attempts: u32,
    /// HTTP status of the last attempt; None for a connection error or timeout.
    pub last_status: Option<u16>,
    pub state: DeliveryState,
}

/// HMAC-SHA256 of `body` with `secret`, as sent in `X-Nop-Signature` (`sha256=` prefix).
pub fn sign(secret: &str, body: &[u8], encoding: SignatureEncoding) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let encoded = match encoding {
        SignatureEncoding::Hex => hex::encode(bytes),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    };
    format!("sha256={encoded}")
}

pub struct Webhooks {
    config: Arc<RwLock<WebhookConfig>>,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
    tx: mpsc::UnboundedSender<DomainEvent>,
}

impl Webhooks {
    /// Starts the dispatcher; it stops when the returned sender side is dropped.
    pub fn start(config: WebhookConfig) -> (Self, mpsc::UnboundedReceiver<DomainEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                config: Arc::new(RwLock::new(config)),
                log: Arc::new(Mutex::new(Vec::new())),
                tx,
            },
            rx,
        )
    }

    pub fn config(&self) -> WebhookConfig {
        self.config.read().clone()
    }

    pub fn set_config(&self, config: WebhookConfig) {
        *self.config.write() = config;
    }

    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.log.lock().clone()
    }

    /// Queues events for delivery (dropped when no URL is configured).
    pub fn enqueue(&self, events: Vec<DomainEvent>) {
        if events.is_empty() || self.config.read().url.is_none() {
            return;
        }
        for e in events {
            // The receiver lives as long as the emulator; a send error means shutdown.
            let _ = self.tx.send(e);
        }
    }

    /// The dispatcher loop: one task per notification, at most CONCURRENCY at once.
    pub fn run(
        &self,
        mut rx: mpsc::UnboundedReceiver<DomainEvent>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let config = self.config.clone();
        let log = self.log.clone();
        async move {
            let client = reqwest::Client::builder()
                .build()
                .unwrap_or_else(|_| reqwest::Client::new());
            let permits = Arc::new(Semaphore::new(CONCURRENCY));
            while let Some(event) = rx.recv().await {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let cfg = config.read().clone();
                let client = client.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    deliver(&client, &cfg, &log, event).await;
                    drop(permit);
                });
            }
        }
    }
}

async fn deliver(
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    log: &Mutex<Vec<DeliveryRecord>>,
    event: DomainEvent,
) {
    let Some(url) = cfg.url.clone() else { return };
    let delivery_id = Uuid::new_v4();
    let index = {
        let mut log = log.lock();
        log.push(DeliveryRecord {
            delivery_id,
            event: event.kind.name().to_string(),
            entity_id: event.entity_id,
            attempts: 0,
            last_status: None,
            state: DeliveryState::Pending,
        });
        log.len() - 1
    };
    let max_attempts = cfg.max_attempts.max(1);
    let mut backoff = Duration::from_millis(cfg.initial_backoff_ms.max(1));
    for attempt in 1..=max_attempts {
        let now = Utc::now();
        let note = Notification {
            delivery_id,
            event: event.kind.name().to_string(),
            entity_type: event.kind.entity_type().to_string(),
            entity_id: event.entity_id,
            store_id: event.store_id,
            occurred_at: event.occurred_at,
            timestamp: now.timestamp(),
            attempt,
        };
        let body = match serde_json::to_vec(&note) {
            Ok(b) => b,
            Err(_) => return,
        };
        let signature = sign(&cfg.secret, &body, cfg.encoding);
        let result = client
            .post(&url)
            .timeout(Duration::from_millis(cfg.timeout_ms.max(1)))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_EVENT, note.event.as_str())
            .header(HEADER_DELIVERY, delivery_id.to_string())
            .header(HEADER_TIMESTAMP, note.timestamp.to_string())
            .header(HEADER_ATTEMPT, attempt.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        {
            let mut log = log.lock();
            if let Some(rec) = log.get_mut(index) {
                rec.attempts = attempt;
                rec.last_status = status;
                rec.state = if delivered {
                    DeliveryState::Delivered
                } else if attempt == max_attempts {
                    DeliveryState::GaveUp
                } else {
                    DeliveryState::Pending
                };
            }
        }
        if delivered {
            return;
        }
        tracing::debug!(
            event = note.event,
            attempt,
            ?status,
            "webhook delivery failed"
        );
        if attempt < max_attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(cfg.max_backoff_ms.max(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_known_value() {
        // RFC 4231 test case 2.
        let sig = sign(
            "Jefe",
            b"what do ya want for nothing?",
            SignatureEncoding::Hex,
        );
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let b64 = sign(
            "Jefe",
            b"what do ya want for nothing?",
            SignatureEncoding::Base64,
        );
        assert_eq!(b64, "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    }
}
