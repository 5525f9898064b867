//! Webhook deliveries (reference section 6): events gathered per batch window, grouped per
//! realm, signed with `intuit-signature`, retried on the configured schedule while later
//! events wait.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use parking_lot::RwLock;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{mpsc, watch};

use crate::config::WebhookFormat;
use crate::state::{incr, AppState};
use crate::store::{Change, Operation};

#[derive(Debug, Clone)]
pub struct Event {
    pub realm: String,
    pub change: Change,
}

/// Producer side, held by the state; the URL can change at run time.
pub struct WebhookQueue {
    tx: mpsc::UnboundedSender<Event>,
    url: RwLock<Option<String>>,
}

impl WebhookQueue {
    pub fn new(url: Option<String>) -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                tx,
                url: RwLock::new(url),
            },
            rx,
        )
    }

    pub fn push(&self, realm: &str, change: Change) {
        if self.url.read().is_some() {
            // The worker is gone only during shutdown; losing events then is fine.
            let _ = self.tx.send(Event {
                realm: realm.to_string(),
                change,
            });
        }
    }

    pub fn set_url(&self, url: Option<String>) {
        *self.url.write() = url;
    }

    pub fn url(&self) -> Option<String> {
        self.url.read().clone()
    }
}

/// Base64(HMAC-SHA256(verifier token, body)), the `intuit-signature` header value.
pub fn sign(verifier_token: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(verifier_token.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn utc(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn past_tense(op: Operation) -> &'static str {
    match op {
        Operation::Create => "created",
        Operation::Update => "updated",
        Operation::Delete => "deleted",
        Operation::Void => "voided",
    }
}

/// Payload for a run of events (already in order).
pub fn payload(events: &[Event], format: WebhookFormat) -> Value {
    match format {
        WebhookFormat::Legacy => {
            let mut realms: Vec<(String, Vec<Value>)> = Vec::new();
            for e in events {
                let entity = json!({
                    "name": e.change.kind.name(),
                    "id": e.change.id.to_string(),
                    "operation": e.change.operation.name(),
                    "lastUpdated": utc(e.change.at),
                });
                match realms.iter_mut().find(|(r, _)| *r == e.realm) {
                    Some((_, list)) => list.push(entity),
                    None => realms.push((e.realm.clone(), vec![entity])),
                }
            }
            let notifications: Vec<Value> = realms
                .into_iter()
                .map(|(realm, entities)| json!({"realmId": realm, "dataChangeEvent": {"entities": entities}}))
                .collect();
            json!({ "eventNotifications": notifications })
        }
        WebhookFormat::CloudEvents => Value::Array(
            events
                .iter()
                .map(|e| {
                    json!({
                        "specversion": "1.0",
                        "id": uuid::Uuid::new_v4().to_string(),
                        "source": "intuit.emulator",
                        "type": format!("qbo.{}.{}.v1", e.change.kind.name().to_lowercase(), past_tense(e.change.operation)),
                        "datacontenttype": "application/json",
                        "time": utc(e.change.at),
                        "intuitentityid": e.change.id.to_string(),
                        "intuitaccountid": e.realm,
                    })
                })
                .collect(),
        ),
    }
}

/// Delivery loop; ends on shutdown.
pub async fn run(
    state: Arc<AppState>,
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = reqwest::Client::new();
    loop {
        let first = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => return },
            _ = shutdown.changed() => return,
        };
        let cfg = &state.config.webhooks;
        tokio::select! {
            _ = state.clock.sleep(Duration::from_millis(cfg.batch_window_ms)) => {}
            _ = shutdown.changed() => return,
        }
        let mut events = vec![first];
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        // One realm at a time, in order, as Intuit sends them.
        let mut realms: Vec<String> = Vec::new();
        for e in &events {
            if !realms.contains(&e.realm) {
                realms.push(e.realm.clone());
            }
        }
        for realm in realms {
            let batch: Vec<Event> = events
                .iter()
                .filter(|e| e.realm == realm)
                .cloned()
                .collect();
            let body = match serde_json::to_vec(&payload(&batch, cfg.format)) {
                Ok(b) => b,
                Err(_) => continue,
            };
            let signature = sign(&cfg.verifier_token, &body);
            let mut attempt: u32 = 0;
            while let Some(url) = state.webhooks.url() {
                let timeout = state.clock.real(Duration::from_millis(cfg.ack_timeout_ms));
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("intuit-signature", &signature)
                    .timeout(timeout)
                    .body(body.clone())
                    .send()
                    .await;
                if matches!(&sent, Ok(r) if r.status() == reqwest::StatusCode::OK) {
                    incr(&state.counters.webhook_deliveries);
                    break;
                }
                incr(&state.counters.webhook_failures);
                attempt += 1;
                if attempt >= cfg.max_attempts {
                    tracing::warn!(realm = %realm, "webhook delivery abandoned after {attempt} attempts");
                    break;
                }
                let idx = usize::try_from(attempt - 1)
                    .unwrap_or(usize::MAX)
                    .min(cfg.retry_schedule_secs.len().saturating_sub(1));
                let wait = cfg.retry_schedule_secs.get(idx).copied().unwrap_or(60);
                tokio::select! {
                    _ = state.clock.sleep(Duration::from_secs(wait)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_base64_hmac_sha256_of_the_body() {
        // Reference value computed independently: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        let sig = sign("key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(sig, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
    }
}
