//! The webhook receiver: `POST /webhooks/nopcommerce/{connection}`. A notification is thin
//! (event, entity type and id): after checking the signature (HMAC-SHA256 over the raw body,
//! `X-Nop-Signature: sha256=<hex|base64>`), the timestamp (`X-Nop-Timestamp`, equal to the
//! body's and within the tolerance) and the delivery id (a byte-identical replay is refused,
//! a retry of an accepted delivery is acknowledged without effect), it is buffered on
//! `ingest.notifications.v1` and acknowledged at once. The consumer then fetches the full
//! entity from the API: the notification body is never used as data.
use crate::connection::Registry;
use crate::db::{Db, Delivery};
use crate::pending::{Pending, Sending};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, Mac};
use nopbridge_kafka::{CloudEvent, ConsumerHandle, OutgoingRecord, Producer, TraceContext};
use nopbridge_runtime::ControlState;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

/// Larger bodies are refused with 413 (a thin notification is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const SIGNATURE_HEADER: &str = "x-nop-signature";
pub const TIMESTAMP_HEADER: &str = "x-nop-timestamp";
/// Headers of the buffered notification record.
pub const CONNECTION_HEADER: &str = "nop_connection";
pub const DELIVERY_HEADER: &str = "nop_delivery";

/// The fields of a notification the receiver checks and the consumer routes by.
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    pub delivery_id: String,
    pub event: String,
    pub entity_type: String,
    pub entity_id: i64,
    pub timestamp: i64,
    #[serde(default)]
    pub attempt: u32,
}

#[derive(Clone)]
pub struct Receiver {
    pub registry: Registry,
    pub producer: Producer,
    pub db: Option<Db>,
    /// The shared secret; a connection's own `webhook_secret` overrides it.
    pub secret: SecretString,
    pub tolerance: Duration,
    pub control: ControlState,
    /// Where notifications are buffered (`ingest.notifications.v1` plus the topic suffix).
    pub topic: String,
    /// Notifications buffered here and not yet handled, and the consumer that handles them.
    pub pending: Arc<Pending>,
    pub consumer: ConsumerHandle,
}

/// Why a notification was refused: answered with its status and logged with its reason.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub reason: &'static str,
    pub detail: String,
}

impl Rejection {
    fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            detail: detail.into(),
        }
    }
}

pub fn router(receiver: Receiver) -> Router {
    Router::new()
        .route("/webhooks/nopcommerce/{connection}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(receiver))
}

/// Serves until `stop`; also prunes delivery records too old to matter.
pub async fn serve(
    listener: tokio::net::TcpListener,
    receiver: Receiver,
    stop: CancellationToken,
) -> std::io::Result<()> {
    if let Some(db) = receiver.db.clone() {
        let (keep, stop) = (receiver.tolerance * 2, stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let cutoff = Utc::now() - chrono::Duration::from_std(keep).unwrap_or_default();
                if let Err(e) = db.prune_deliveries(cutoff).await {
                    warn!(error = %e, "pruning webhook deliveries");
                }
            }
        });
    }
    axum::serve(listener, router(receiver))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // The root of the order's trace: the buffered notification carries this span onward.
    let span = tracing::info_span!(
        "webhook receive",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/webhooks/nopcommerce/{connection}",
        nopbridge.connection = %connection,
    );
    match r.accept(&connection, &headers, body).instrument(span).await {
        Ok((status, outcome)) => {
            r.control.count(
                "webhooks_accepted",
                &[("connection", connection.as_str()), ("outcome", outcome)],
                1,
            );
            (status, Json(serde_json::json!({ "status": outcome }))).into_response()
        }
        Err(rej) => {
            warn!(connection, reason = rej.reason, detail = %rej.detail, status = rej.status.as_u16(), "webhook rejected");
            r.control.count(
                "webhooks_rejected",
                &[("connection", connection.as_str()), ("reason", rej.reason)],
                1,
            );
            let body = serde_json::json!({ "error": rej.reason, "detail": rej.detail });
            (rej.status, Json(body)).into_response()
        }
    }
}

impl Receiver {
    async fn accept(
        &self,
        connection: &str,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(StatusCode, &'static str), Rejection> {
        let Some(conn) = self.registry.get(connection) else {
            return Err(Rejection::new(
                StatusCode::NOT_FOUND,
                "unknown_connection",
                format!("no connection {connection:?}"),
            ));
        };
        let body = body.map_err(|e| {
            let status = e.status();
            let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "body_too_large"
            } else {
                "unreadable_body"
            };
            Rejection::new(
                status,
                reason,
                format!("{} (limit {MAX_BODY_BYTES} bytes)", e.body_text()),
            )
        })?;
        let secret = conn
            .settings
            .webhook_secret
            .as_ref()
            .unwrap_or(&self.secret);
        let signature = header(headers, SIGNATURE_HEADER).ok_or_else(|| {
            Rejection::new(
                StatusCode::UNAUTHORIZED,
                "missing_signature",
                "no X-Nop-Signature header",
            )
        })?;
        verify_signature(secret, &body, signature)?;
        let stamp: i64 = header(headers, TIMESTAMP_HEADER)
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| {
                Rejection::new(
                    StatusCode::UNAUTHORIZED,
                    "missing_timestamp",
                    "no numeric X-Nop-Timestamp header",
                )
            })?;
        check_fresh(stamp, Utc::now().timestamp(), self.tolerance)?;
        let n: Notification = serde_json::from_slice(&body).map_err(|e| {
            Rejection::new(
                StatusCode::BAD_REQUEST,
                "malformed_notification",
                e.to_string(),
            )
        })?;
        if n.timestamp != stamp {
            return Err(Rejection::new(
                StatusCode::UNAUTHORIZED,
                "timestamp_mismatch",
                "the X-Nop-Timestamp header differs from the signed body's timestamp",
            ));
        }
        if crate::sync::Kind::parse(&n.entity_type).is_none() {
            return Err(Rejection::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_entity_type",
                format!("entity type {:?}", n.entity_type),
            ));
        }
        let db = self.db.as_ref().ok_or_else(|| {
            Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_state_database",
                "replay protection needs database_url",
            )
        })?;
        let unavailable = |e: &dyn std::fmt::Display| {
            Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            )
        };
        match db
            .record_delivery(connection, &n.delivery_id, signature)
            .await
            .map_err(|e| unavailable(&e))?
        {
            Delivery::Replay => {
                return Err(Rejection::new(
                    StatusCode::CONFLICT,
                    "replayed",
                    format!(
                        "delivery {} was already received with this signature",
                        n.delivery_id
                    ),
                ))
            }
            Delivery::Retry => {
                debug!(connection, delivery = %n.delivery_id, attempt = n.attempt, "retry of an accepted delivery");
                return Ok((StatusCode::OK, "duplicate"));
            }
            Delivery::New => {}
        }
        let key = notification_key(connection, &n);
        let Some(sending) = self
            .pending
            .cover_or_send(&key, &self.topic, &self.consumer)
            .await
        else {
            debug!(connection, delivery = %n.delivery_id, "a queued notification of this record covers it");
            self.control
                .count("webhooks_coalesced", &[("connection", connection)], 1);
            return Ok((StatusCode::ACCEPTED, "accepted"));
        };
        if let Err(e) = self.buffer(connection, &key, &n, &body, sending).await {
            // Not buffered: forget the delivery so the sender's retry is taken.
            let _ = db.forget_delivery(connection, &n.delivery_id).await;
            return Err(unavailable(&e));
        }
        Ok((StatusCode::ACCEPTED, "accepted"))
    }

    /// Puts the notification on the notifications topic under `key` and waits for the broker.
    async fn buffer(
        &self,
        connection: &str,
        key: &str,
        n: &Notification,
        body: &[u8],
        sending: Sending,
    ) -> Result<(), nopbridge_kafka::KafkaError> {
        let mut ce = CloudEvent::protobuf(
            n.delivery_id.clone(),
            format!("nopbridge/ingest/webhook/{connection}"),
            format!("nopcommerce.{}", n.event),
        )
        .with_subject(key);
        ce.content_type = "application/json".into();
        let record = OutgoingRecord::new(&self.topic, key.as_bytes(), body)
            .event(&ce, Some(&TraceContext::new_root()))
            .header(CONNECTION_HEADER, connection)
            .header(DELIVERY_HEADER, n.delivery_id.as_str());
        let sent = self.producer.send(record).await;
        let partition = sent.as_ref().ok().map(|(partition, _)| *partition);
        self.pending.sent(key, sending, partition);
        sent.map(|_| ())
    }
}

/// Notifications are keyed by connection and entity, so one entity's stay in order.
fn notification_key(connection: &str, n: &Notification) -> String {
    format!("{connection}/{}/{}", n.entity_type, n.entity_id)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `sha256=<hex>` or `sha256=<base64>` of HMAC-SHA256(secret, body), compared in constant
/// time.
pub fn verify_signature(secret: &SecretString, body: &[u8], header: &str) -> Result<(), Rejection> {
    let forged = |detail: &str| Rejection::new(StatusCode::UNAUTHORIZED, "bad_signature", detail);
    let encoded = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| forged("the signature is not `sha256=…`"))?;
    let given = hex::decode(encoded)
        .ok()
        .filter(|b| b.len() == 32)
        .or_else(|| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .ok_or_else(|| forged("the signature is neither hex nor base64"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| forged("the secret cannot key HMAC"))?;
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| forged("the signature does not match the body"))
}

/// The notification's time must be within `tolerance` of now, either side.
pub fn check_fresh(stamp: i64, now: i64, tolerance: Duration) -> Result<(), Rejection> {
    let skew = now.abs_diff(stamp);
    if skew > tolerance.as_secs() {
        return Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
            format!(
                "timestamp is {skew} s from now (tolerance {} s)",
                tolerance.as_secs()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sign_hex(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signatures_in_hex_and_base64_verify_and_forgeries_do_not() {
        let secret = SecretString::from("Jefe".to_string());
        let body = b"what do ya want for nothing?";
        // RFC 4231 test case 2, in both encodings the emulator can send.
        let hex_sig = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(verify_signature(&secret, body, hex_sig).is_ok());
        let b64 = "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
        assert!(verify_signature(&secret, body, b64).is_ok());
        assert_eq!(sign_hex("Jefe", body), hex_sig);
        let wrong = verify_signature(&secret, b"what do ya want for nothing!", hex_sig);
        assert_eq!(wrong.map_err(|r| r.reason).unwrap_err(), "bad_signature");
        let other_key = SecretString::from("jefe".to_string());
        assert!(verify_signature(&other_key, body, hex_sig).is_err());
        assert!(verify_signature(&secret, body, "5bdcc146").is_err());
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let t = Duration::from_secs(300);
        assert!(check_fresh(1_000, 1_200, t).is_ok());
        assert!(check_fresh(1_500, 1_200, t).is_ok());
        assert_eq!(
            check_fresh(800, 1_200, t)
                .map_err(|r| r.reason)
                .unwrap_err(),
            "stale_timestamp"
        );
        assert!(check_fresh(1_600, 1_200, t).is_err());
    }
}
