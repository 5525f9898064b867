//! `POST /webhooks/quickbooks`: Intuit's signed change notifications (reference §6). They
//! carry ids only, so they are a hint: a notification that touches stock wakes the stock
//! watch of its realm, which reads the change itself through CDC (the same path as its
//! periodic poll, so a lost or repeated notification changes nothing). Answered at once, as
//! Intuit asks (200 within 3 s), before any work.
use super::StockWatch;
use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use base64::Engine;
use hmac::{Hmac, Mac};
use nopbridge_runtime::ControlState;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::Sha256;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Entities whose changes can move an item's on-hand quantity.
const STOCK_ENTITIES: &[&str] = &[
    "item",
    "invoice",
    "salesreceipt",
    "creditmemo",
    "refundreceipt",
    "bill",
    "purchase",
    "vendorcredit",
    "inventoryadjustment",
];

struct Receiver {
    verifier_token: SecretString,
    watches: Vec<Arc<StockWatch>>,
    control: ControlState,
}

/// Whether `signature` is Base64(HMAC-SHA256(verifier token, body)), compared in constant time.
fn signed(verifier_token: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(verifier_token.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// (realm, entity lower-case) of every event: the legacy `eventNotifications` object or the
/// CloudEvents array (`intuitaccountid`, `type` = `qbo.<entity>.<event>.v1`).
fn events(body: &Value) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(list) = body.as_array() {
        for e in list {
            let realm = e.get("intuitaccountid")?.as_str()?;
            let entity = e.get("type")?.as_str()?.split('.').nth(1)?;
            out.push((realm.to_string(), entity.to_ascii_lowercase()));
        }
        return Some(out);
    }
    for n in body.get("eventNotifications")?.as_array()? {
        let realm = n.get("realmId")?.as_str()?;
        let entities = n
            .get("dataChangeEvent")
            .and_then(|d| d.get("entities"))
            .and_then(Value::as_array);
        for e in entities.into_iter().flatten() {
            let name = e.get("name").and_then(Value::as_str).unwrap_or("");
            out.push((realm.to_string(), name.to_ascii_lowercase()));
        }
    }
    Some(out)
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let signature = headers
        .get("intuit-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let count = |outcome: &str| {
        r.control
            .count("quickbooks_webhooks", &[("outcome", outcome)], 1)
    };
    if !signed(r.verifier_token.expose_secret(), &body, signature) {
        count("unsigned");
        warn!("QuickBooks webhook refused: intuit-signature missing or not made with the configured verifier token");
        return (
            StatusCode::UNAUTHORIZED,
            "intuit-signature does not match the body: check service.quickbooks_webhooks.verifier_token against the app's webhooks page\n",
        );
    }
    let Some(events) = serde_json::from_slice::<Value>(&body)
        .ok()
        .as_ref()
        .and_then(events)
    else {
        count("malformed");
        return (
            StatusCode::BAD_REQUEST,
            "not a QuickBooks webhook payload: expected {\"eventNotifications\": [...]} or a CloudEvents array\n",
        );
    };
    count("accepted");
    for w in &r.watches {
        let touches_stock = events.iter().any(|(realm, entity)| {
            realm == w.realm_id() && STOCK_ENTITIES.contains(&entity.as_str())
        });
        if touches_stock {
            w.wake();
        }
    }
    (StatusCode::OK, "")
}

/// Serves the receiver on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    verifier_token: SecretString,
    watches: Vec<Arc<StockWatch>>,
    control: ControlState,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let receiver = Arc::new(Receiver {
        verifier_token,
        watches,
        control,
    });
    let app = Router::new()
        .route("/webhooks/quickbooks", post(receive))
        .layer(DefaultBodyLimit::max(1 << 20))
        .with_state(receiver);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_payload_formats_name_realm_and_entity() {
        let legacy = json!({"eventNotifications": [{"realmId": "9341",
            "dataChangeEvent": {"entities": [{"name": "Item", "id": "7", "operation": "Update"}]}}]});
        assert_eq!(events(&legacy), Some(vec![("9341".into(), "item".into())]));
        let cloud = json!([{"specversion": "1.0", "id": "e1", "type": "qbo.bill.created.v1",
            "intuitentityid": "12", "intuitaccountid": "9341"}]);
        assert_eq!(events(&cloud), Some(vec![("9341".into(), "bill".into())]));
        assert_eq!(events(&json!({"something": "else"})), None);
    }

    #[test]
    fn the_signature_is_checked_against_the_raw_body() {
        let body = br#"{"eventNotifications":[]}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"verifier").unwrap();
        mac.update(body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert!(signed("verifier", body, &sig));
        assert!(!signed("other", body, &sig));
        assert!(!signed("verifier", b"{}", &sig));
        assert!(!signed("verifier", body, "not base64!"));
    }
}
