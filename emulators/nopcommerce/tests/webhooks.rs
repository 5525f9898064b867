//! Webhook notifications: signature, headers, thin body, event coverage, retries.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use nopbridge_emu_nopcommerce::{DeliveryState, Notification, SignatureEncoding, WebhookConfig};
use parking_lot::Mutex;
use sha2::Sha256;

#[derive(Default)]
struct Receiver {
    seen: Mutex<Vec<(HeaderMap, Bytes)>>,
    /// Requests to fail with 500 before answering 200.
    fail_first: AtomicUsize,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.seen.lock().push((headers, body));
    let left = r.fail_first.load(Ordering::SeqCst);
    if left > 0 {
        r.fail_first.store(left - 1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn start_receiver(fail_first: usize) -> anyhow::Result<(String, Arc<Receiver>)> {
    let r = Arc::new(Receiver {
        fail_first: AtomicUsize::new(fail_first),
        ..Receiver::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks/nop", listener.local_addr()?);
    let app = Router::new()
        .route("/hooks/nop", post(receive))
        .with_state(r.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, r))
}

fn config(url: &str, encoding: SignatureEncoding) -> WebhookConfig {
    WebhookConfig {
        url: Some(url.to_string()),
        secret: "s3cret".into(),
        encoding,
        max_attempts: 4,
        initial_backoff_ms: 20,
        max_backoff_ms: 100,
        timeout_ms: 2_000,
    }
}

fn verify(secret: &str, body: &[u8], header: &str, encoding: SignatureEncoding) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    let Some(sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let bytes = match encoding {
        SignatureEncoding::Hex => hex::decode(sig).ok(),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(sig).ok(),
    };
    bytes.is_some_and(|b| mac.verify_slice(&b).is_ok())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn signed_thin_notifications_for_each_event() -> anyhow::Result<()> {
    let (url, rx) = start_receiver(0).await?;
    let mut cfg = small_config();
    cfg.webhook = config(&url, SignatureEncoding::Hex);
    let t = TestEmu::with(cfg).await?;
    let h = t.handle();
    let s = sample_order(h)?; // order.placed, product.stock_changed ×2
    h.mark_order_as_paid(s.order_id)?; // order.paid, order.status_changed
    let shipment = h.ship_everything(s.order_id)?; // shipment.sent (+ stock)
    h.deliver(shipment)?; // shipment.delivered, order.status_changed (Complete)
    h.partially_refund(s.order_id, d("5"), nopbridge_emu_nopcommerce::Mode::Offline)?; // order.refunded
    let item = h.order_items(s.order_id)[0].id;
    h.create_return_request(item, 1, "Damaged", "Refund")?; // return_request.created
    let mut req = sample_request(h).0;
    req.payment_status = nopbridge_emu_nopcommerce::model::PaymentStatus::Authorized;
    let authorized = h.place_order(&req)?;
    h.void(authorized, nopbridge_emu_nopcommerce::Mode::Offline)?; // order.voided
    let expected = [
        "order.placed",
        "order.paid",
        "order.status_changed",
        "order.refunded",
        "order.voided",
        "shipment.sent",
        "shipment.delivered",
        "return_request.created",
        "product.stock_changed",
        "customer.registered",
    ];
    let events = wait_for(Duration::from_secs(10), || {
        let seen = rx.seen.lock();
        let events: Vec<String> = seen
            .iter()
            .map(|(hd, _)| header(hd, "x-nop-event").to_string())
            .collect();
        expected
            .iter()
            .all(|e| events.iter().any(|x| x == e))
            .then_some(events)
    })
    .await?;
    assert!(events.len() >= expected.len());
    for (headers, body) in rx.seen.lock().iter() {
        assert!(verify(
            "s3cret",
            body,
            header(headers, "x-nop-signature"),
            SignatureEncoding::Hex
        ));
        assert!(!verify(
            "wrong",
            body,
            header(headers, "x-nop-signature"),
            SignatureEncoding::Hex
        ));
        let n: Notification = serde_json::from_slice(body)?;
        assert_eq!(header(headers, "x-nop-timestamp"), n.timestamp.to_string());
        assert_eq!(header(headers, "x-nop-delivery"), n.delivery_id.to_string());
        assert_eq!(header(headers, "x-nop-event"), n.event);
        assert!((chrono::Utc::now().timestamp() - n.timestamp).abs() < 60);
        // Thin body: ids and times only, never the entity.
        let v: serde_json::Value = serde_json::from_slice(body)?;
        assert_eq!(v.as_object().map(|o| o.len()), Some(8));
        if n.event == "order.paid" {
            assert_eq!((n.entity_type.as_str(), n.entity_id), ("order", s.order_id));
        }
        if n.event == "shipment.sent" {
            assert_eq!(
                (n.entity_type.as_str(), n.entity_id),
                ("shipment", shipment)
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn retries_with_backoff_then_delivers_or_gives_up() -> anyhow::Result<()> {
    let (url, rx) = start_receiver(2).await?;
    let mut cfg = small_config();
    cfg.webhook = config(&url, SignatureEncoding::Base64);
    let t = TestEmu::with(cfg).await?;
    let h = t.handle();
    let customer = h.register_random_customer();
    let record = wait_for(Duration::from_secs(10), || {
        h.webhook_deliveries()
            .into_iter()
            .find(|d| d.state == DeliveryState::Delivered && d.entity_id == customer)
    })
    .await?;
    assert_eq!(record.attempts, 3);
    assert_eq!(record.event, "customer.registered");
    let attempts: Vec<(String, String, Bytes)> = rx
        .seen
        .lock()
        .iter()
        .map(|(hd, b)| {
            (
                header(hd, "x-nop-delivery").to_string(),
                header(hd, "x-nop-attempt").to_string(),
                b.clone(),
            )
        })
        .collect();
    assert_eq!(attempts.len(), 3);
    assert!(attempts
        .iter()
        .all(|(id, _, _)| id == &record.delivery_id.to_string()));
    assert_eq!(
        attempts
            .iter()
            .map(|(_, a, _)| a.as_str())
            .collect::<Vec<_>>(),
        vec!["1", "2", "3"]
    );
    for (headers, body) in rx.seen.lock().iter() {
        assert!(verify(
            "s3cret",
            body,
            header(headers, "x-nop-signature"),
            SignatureEncoding::Base64
        ));
    }

    // A receiver that never answers 2xx: bounded attempts, then GaveUp.
    rx.fail_first.store(100, Ordering::SeqCst);
    let other = h.register_random_customer();
    let record = wait_for(Duration::from_secs(10), || {
        h.webhook_deliveries()
            .into_iter()
            .find(|d| d.entity_id == other && d.state == DeliveryState::GaveUp)
    })
    .await?;
    assert_eq!((record.attempts, record.last_status), (4, Some(500)));

    // Connection refused counts as a failure too.
    let mut dead = h.webhook_config();
    dead.url = Some("http://127.0.0.1:9/unreachable".into());
    dead.max_attempts = 2;
    h.set_webhook_config(dead);
    let third = h.register_random_customer();
    let record = wait_for(Duration::from_secs(10), || {
        h.webhook_deliveries()
            .into_iter()
            .find(|d| d.entity_id == third && d.state == DeliveryState::GaveUp)
    })
    .await?;
    assert_eq!((record.attempts, record.last_status), (2, None));
    Ok(())
}

#[tokio::test]
async fn seed_data_sends_no_webhooks_by_default() -> anyhow::Result<()> {
    let (url, rx) = start_receiver(0).await?;
    let mut cfg = small_config();
    cfg.orders = 20;
    cfg.webhook = config(&url, SignatureEncoding::Hex);
    let t = TestEmu::with(cfg).await?;
    let marker = t.handle().register_random_customer();
    wait_for(Duration::from_secs(10), || {
        t.handle()
            .webhook_deliveries()
            .into_iter()
            .find(|d| d.entity_id == marker && d.state == DeliveryState::Delivered)
    })
    .await?;
    assert_eq!(rx.seen.lock().len(), 1);
    Ok(())
}
