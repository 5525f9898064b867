//! Live demo traffic and the webhook control route.

mod common;

use std::time::Duration;

use common::*;
use nopbridge_emu_nopcommerce::LiveConfig;

#[tokio::test]
async fn live_traffic_places_and_advances_orders() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.live = LiveConfig {
        orders_per_minute: 240.0,
        actions_per_minute: 240.0,
        customers_per_minute: 240.0,
    };
    let t = TestEmu::with(cfg).await?;
    let h = t.handle().clone();
    let customers_before = h.read(|st| st.customers.len());
    // New orders arrive, and some order gets a life-cycle step (a note beyond placement).
    wait_for(Duration::from_secs(20), || {
        let (orders, advanced) = h.read(|st| {
            let advanced = st.order_notes.iter().any(|n| {
                n.note == "Order has been marked as paid"
                    || n.note == "Order has been captured"
                    || n.note.starts_with("Shipment# ")
                    || n.note == "Order has been cancelled"
            });
            (st.orders.len(), advanced)
        });
        (orders >= 3 && advanced).then_some(())
    })
    .await?;
    assert!(h.read(|st| st.customers.len()) > customers_before);
    // Live orders are dated now, not in the generator's past.
    let newest = h
        .read(|st| st.orders.last().map(|o| o.created_on_utc))
        .unwrap_or_default();
    assert!((chrono::Utc::now() - newest) < chrono::Duration::minutes(1));
    Ok(())
}

#[tokio::test]
async fn webhook_config_can_be_set_over_http() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let base = t.emu.base_url();
    let resp = t
        .client
        .put(format!("{base}/_emulator/webhooks/config"))
        .json(
            &serde_json::json!({"url": "http://127.0.0.1:9/x", "secret": "abc", "max_attempts": 2}),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), 204);
    let cfg = t.handle().webhook_config();
    assert_eq!(
        (cfg.url.as_deref(), cfg.secret.as_str(), cfg.max_attempts),
        (Some("http://127.0.0.1:9/x"), "abc", 2)
    );
    let shown: serde_json::Value = t
        .client
        .get(format!("{base}/_emulator/webhooks/config"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(shown["secret"], "********");
    Ok(())
}
