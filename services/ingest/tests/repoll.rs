//! Without webhooks, an order's later changes are found by re-polling: nopCommerce orders
//! have no UpdatedOnUtc, so only reading open orders again shows them. An order backfilled
//! while pending, then paid, then shipped, then partially refunded is emitted once per
//! version (one event per content hash, however many re-polls see it), each version checked
//! against the store, with one capture, one partial refund and one shipment.
mod common;

use anyhow::Result;
use common::*;
use nopbridge_emu_nopcommerce::{EmulatorConfig, Mode, PlaceOrder, PlaceOrderItem};
use nopbridge_proto::events::v1 as ev;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::time::Duration;

const CONN: &str = "acme-main";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_status_change_is_found_by_repolling_and_emitted_once() -> Result<()> {
    let env = Env::new().await?;
    // No webhook URL: the emulator notifies nobody.
    let emu = emulator(EmulatorConfig {
        seed: 31,
        ..EmulatorConfig::default()
    })
    .await?;
    let h = emu.handle().clone();
    let (buyer, product) = h.read(|st| {
        let c = st
            .customers
            .iter()
            .find(|c| {
                !c.is_guest() && c.billing_address_id.is_some() && c.registered_in_store_id == 1
            })
            .map(|c| c.id);
        let p = st
            .products
            .iter()
            .find(|p| !p.deleted && p.is_ship_enabled && p.manages_stock())
            .map(|p| p.id);
        (c.expect("a registered customer"), p.expect("a product"))
    });
    // The order followed was placed an hour ago, and another one a minute ago: listing new
    // orders re-reads from ten minutes before the newest one, so from here on only the
    // re-poll of open orders reads the followed order again. The backfill brings both.
    let now = chrono::Utc::now();
    let mut req = PlaceOrder::new(1, buyer, vec![PlaceOrderItem::new(product, 2)]);
    req.shipping = Some(Decimal::new(595, 2));
    let mut guid = uuid::Uuid::new_v4;
    let order = h.write(|st| st.place_order(&req, &mut guid, now - chrono::Duration::hours(1)))?;
    h.write(|st| st.place_order(&req, &mut guid, now - chrono::Duration::minutes(1)))?;
    let oid = i64::from(order);
    let total = h.order(order).expect("the order at the store").order_total;
    let refund = Decimal::new(500, 2);

    let service = connection(
        CONN,
        "acme",
        1,
        &emu.base_url(),
        &format!(
            "backfill_from = \"{}\"\npoll_interval_ms = 100\nrepoll_interval_ms = 300\n\
             initial_backoff_ms = 20\nmax_backoff_ms = 200",
            (now - chrono::Duration::hours(2)).to_rfc3339()
        ),
    );
    let orders = env.canonical("order");
    let payments = env.canonical("payment_transaction");
    let shipments = env.canonical("shipment");
    let collecting = Collecting::start(
        &env.kafka(),
        vec![orders.clone(), payments.clone(), shipments.clone()],
    )
    .await?;
    let ingest = Ingest::start(env.config(&service)?);
    let repolls = || ingest.counter("repoll_cycles", ("connection", CONN));

    // Each step happens at the store only; ingest notices it on its own.
    type Step<'a> = Box<dyn Fn() -> Result<()> + 'a>;
    let steps: [(&str, Step); 4] = [
        ("backfilled", Box::new(|| Ok(()))),
        ("paid", Box::new(|| Ok(h.mark_order_as_paid(order)?))),
        (
            "shipped",
            Box::new(|| h.ship_everything(order).map(|_| ()).map_err(Into::into)),
        ),
        (
            "partially refunded",
            Box::new(|| Ok(h.partially_refund(order, refund, Mode::Offline)?)),
        ),
    ];
    let mut versions = Vec::new();
    for (what, step) in &steps {
        step()?;
        let want = expect::statuses(&h, oid);
        let seen = until(&format!("the {what} order"), || {
            collecting
                .latest::<ev::Order>(&orders, |o| o.order_id == oid)
                .filter(|o| expect::statuses_of(o) == want)
        })
        .await?;
        expect::order(&seen, &h);
        versions.push(want);
        // A few more re-polls of the unchanged order before the next change.
        let after = repolls();
        eventually("two more re-polls", Duration::from_secs(20), || {
            std::future::ready((repolls() >= after + 2).then_some(()))
        })
        .await?;
    }
    use ev::{OrderStatus as O, PaymentStatus as P, ShippingStatus as S};
    assert_eq!(
        versions,
        vec![
            (
                O::Pending as i32,
                P::Pending as i32,
                S::NotYetShipped as i32
            ),
            (
                O::Processing as i32,
                P::Paid as i32,
                S::NotYetShipped as i32
            ),
            (O::Processing as i32, P::Paid as i32, S::Shipped as i32),
            (
                O::Processing as i32,
                P::PartiallyRefunded as i32,
                S::Shipped as i32
            ),
        ],
        "the store moved through four versions"
    );

    // Exactly one event per version, in order, each with its own event id.
    let events = collecting.written::<ev::Order>(&orders, |o| o.order_id == oid);
    let mut per_hash: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        *per_hash
            .entry(e.meta.clone().unwrap_or_default().content_hash)
            .or_default() += 1;
    }
    assert!(
        per_hash.values().all(|n| *n == 1),
        "a version emitted twice: {per_hash:?}"
    );
    let seen: Vec<(i32, i32, i32)> = events.iter().map(expect::statuses_of).collect();
    assert_eq!(seen, versions, "one event per change, in order");
    let ids: std::collections::BTreeSet<String> = events
        .iter()
        .map(|e| e.meta.clone().unwrap_or_default().event_id)
        .collect();
    assert_eq!(ids.len(), versions.len());

    // The payment side: one capture when paid, one partial refund, nothing else.
    let txns = until("the capture and the refund", || {
        Some(collecting.written::<ev::PaymentTransaction>(&payments, |t| t.order_id == oid))
            .filter(|t| t.len() >= 2)
    })
    .await?;
    expect::payments(
        &txns,
        &h,
        oid,
        &[
            (
                ev::PaymentTransactionKind::Capture,
                total,
                Decimal::ZERO,
                ev::PaymentStatus::Paid,
            ),
            (
                ev::PaymentTransactionKind::PartialRefund,
                refund,
                refund,
                ev::PaymentStatus::PartiallyRefunded,
            ),
        ],
    );
    // The shipment (created and sent in one step) once.
    let sent = until("the shipment", || {
        Some(collecting.written::<ev::Shipment>(&shipments, |s| s.order_id == oid))
            .filter(|s| !s.is_empty())
    })
    .await?;
    assert_eq!(sent.len(), 1, "{sent:?}");
    expect::shipment(&sent[0], &h);

    ingest.stop().await?;
    collecting.stop().await;
    emu.shutdown().await;
    Ok(())
}
