//! Webhooks: signed deliveries of entity changes, retried until the receiver answers 200.

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
use common::{id, TestEmu};
use hmac::{Hmac, Mac};
use nopbridge_emu_quickbooks::{EmulatorConfig, WebhookConfig, WebhookFormat};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

struct Receiver {
    url: String,
    deliveries: mpsc::UnboundedReceiver<(Option<String>, Bytes)>,
}

#[derive(Clone)]
struct Script {
    tx: mpsc::UnboundedSender<(Option<String>, Bytes)>,
    failures_left: Arc<AtomicUsize>,
}

async fn hook(State(s): State<Script>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers
        .get("intuit-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = s.tx.send((sig, body));
    let failing = s
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A receiver on 127.0.0.1 that fails the first `failures` deliveries.
async fn receiver(failures: usize) -> anyhow::Result<Receiver> {
    let (tx, rx) = mpsc::unbounded_channel();
    let script = Script {
        tx,
        failures_left: Arc::new(AtomicUsize::new(failures)),
    };
    let app = Router::new().route("/hook", post(hook)).with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Receiver {
        url,
        deliveries: rx,
    })
}

fn config(format: WebhookFormat) -> EmulatorConfig {
    EmulatorConfig {
        time_scale: 100.0,
        webhooks: WebhookConfig {
            batch_window_ms: 500,
            retry_schedule_secs: vec![10],
            format,
            ..WebhookConfig::default()
        },
        ..EmulatorConfig::default()
    }
}

async fn next(r: &mut Receiver) -> anyhow::Result<(Option<String>, Bytes)> {
    tokio::time::timeout(Duration::from_secs(10), r.deliveries.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("receiver closed"))
}

fn expected_signature(token: &str, body: &[u8]) -> anyhow::Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes())?;
    mac.update(body);
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn entity_changes_are_delivered_signed_in_the_legacy_shape() -> anyhow::Result<()> {
    let mut r = receiver(0).await?;
    let t = TestEmu::with(config(WebhookFormat::Legacy)).await?;
    t.emu.handle().set_webhook_url(Some(r.url.clone()));
    let c = t.customer("Hooked").await?;
    let (sig, body) = next(&mut r).await?;
    assert_eq!(
        sig,
        Some(expected_signature(&t.emu.handle().verifier_token(), &body)?)
    );
    let payload: Value = serde_json::from_slice(&body)?;
    let n = &payload["eventNotifications"][0];
    assert_eq!(n["realmId"], t.realm.as_str());
    let e = &n["dataChangeEvent"]["entities"][0];
    assert_eq!(
        (e["name"].as_str(), e["operation"].as_str()),
        (Some("Customer"), Some("Create"))
    );
    assert_eq!(e["id"], id(&c).as_str());
    assert!(e["lastUpdated"].as_str().is_some_and(|s| s.ends_with('Z')));
    Ok(())
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_body() -> anyhow::Result<()> {
    let mut r = receiver(1).await?;
    let t = TestEmu::with(config(WebhookFormat::Legacy)).await?;
    t.emu.handle().set_webhook_url(Some(r.url.clone()));
    t.customer("Retry me").await?;
    let (sig1, body1) = next(&mut r).await?;
    let (sig2, body2) = next(&mut r).await?;
    assert_eq!(body1, body2);
    assert_eq!(sig1, sig2);
    // The 200 is counted once the worker has seen it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while t.emu.handle().counters().webhook_deliveries == 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c = t.emu.handle().counters();
    assert_eq!((c.webhook_failures, c.webhook_deliveries), (1, 1));
    Ok(())
}

#[tokio::test]
async fn cloud_events_report_stock_changes_on_items() -> anyhow::Result<()> {
    let mut r = receiver(0).await?;
    let t = TestEmu::with(config(WebhookFormat::CloudEvents)).await?;
    let mug = t.inventory_item("Hook mug", 5).await?;
    t.emu.handle().set_webhook_url(Some(r.url.clone()));
    t.write(
        "salesreceipt",
        "SalesReceipt",
        json!({"Line": [{"DetailType": "SalesItemLineDetail", "Amount": 20, "SalesItemLineDetail": {"ItemRef": {"value": id(&mug)}, "Qty": 2, "UnitPrice": 10}}]}),
    )
    .await?;
    let (_, body) = next(&mut r).await?;
    let events: Vec<Value> = serde_json::from_slice(&body)?;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"qbo.salesreceipt.created.v1"), "{types:?}");
    let item_event = events.iter().find(|e| e["type"] == "qbo.item.updated.v1");
    assert_eq!(
        item_event.map(|e| e["intuitentityid"].clone()),
        Some(json!(id(&mug)))
    );
    assert!(events
        .iter()
        .all(|e| e["intuitaccountid"] == t.realm.as_str() && e["specversion"] == "1.0"));
    Ok(())
}
