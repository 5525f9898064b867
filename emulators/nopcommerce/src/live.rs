//! Live demo traffic: new orders and customers, and orders moving through their life
//! cycle (paid, shipped, delivered, sometimes refunded), at configured rates.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::config::LiveConfig;
use crate::model::{OrderStatus, PaymentStatus, ShippingStatus};
use crate::processing::Mode;
use crate::state::Shared;
use crate::store::Store;

/// One step of an existing order's life cycle; false when nothing was left to do.
pub fn advance_one(st: &mut Store, rng: &mut StdRng) -> bool {
    let open: Vec<i32> = st
        .orders
        .iter()
        .rev()
        .take(500)
        .filter(|o| {
            !o.deleted
                && !matches!(
                    o.order_status(),
                    OrderStatus::Complete | OrderStatus::Cancelled
                )
        })
        .map(|o| o.id)
        .collect();
    if open.is_empty() {
        return false;
    }
    let id = open[rng.gen_range(0..open.len())];
    let Some(o) = st.order(id) else { return false };
    let now = crate::json::now();
    let result = match (o.payment_status(), o.shipping_status()) {
        (PaymentStatus::Pending, _) if rng.gen_bool(0.1) => st.cancel_order(id, false, now),
        (PaymentStatus::Pending, _) => st.mark_order_as_paid(id, now),
        (PaymentStatus::Authorized, _) => st.capture(id, now),
        (PaymentStatus::Paid, ShippingStatus::NotYetShipped | ShippingStatus::PartiallyShipped) => {
            let items: Vec<(i32, i32)> = st
                .items_of(id)
                .iter()
                .filter(|i| st.product(i.product_id).is_some_and(|p| p.is_ship_enabled))
                .map(|i| (i.id, i.quantity - st.shipment_quantity(i.id)))
                .filter(|(_, q)| *q > 0)
                .collect();
            let tracking = format!("1Z{:016}", rng.gen_range(0..u64::MAX / 1000));
            st.create_shipment(id, &items, Some(tracking), now)
                .and_then(|sh| st.ship(sh, true, now))
        }
        (PaymentStatus::Paid, ShippingStatus::Shipped) => {
            let pending: Vec<i32> = st
                .shipments_of(id)
                .iter()
                .filter(|s| s.shipped_date_utc.is_some() && s.delivery_date_utc.is_none())
                .map(|s| s.id)
                .collect();
            pending
                .into_iter()
                .try_for_each(|sh| st.deliver(sh, true, now))
        }
        (PaymentStatus::Paid | PaymentStatus::PartiallyRefunded, _) if rng.gen_bool(0.3) => {
            let amount = (o.order_total - o.refunded_amount) * Decimal::new(2, 1);
            st.partially_refund(id, amount.round_dp(2), Mode::Offline, now)
        }
        _ => return false,
    };
    if let Err(e) = result {
        tracing::debug!(order = id, error = %e, "live step skipped");
        return false;
    }
    true
}

/// Runs until the emulator stops (the task is aborted with the others).
pub async fn run(shared: Arc<Shared>, cfg: LiveConfig, seed: u64) {
    if cfg.orders_per_minute <= 0.0 && cfg.actions_per_minute <= 0.0 {
        return;
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6c69_7665);
    let tick = Duration::from_millis(250);
    let per_tick = |per_minute: f64| (per_minute.max(0.0) / 240.0).min(1.0);
    loop {
        tokio::time::sleep(tick).await;
        if rng.gen_bool(per_tick(cfg.orders_per_minute)) {
            let mut generator = shared.generator.lock();
            let placed = shared.write(|st| generator.live_orders(st, 1, crate::json::now()));
            if let Err(e) = placed {
                tracing::debug!(error = %e, "live order skipped");
            }
        }
        if rng.gen_bool(per_tick(cfg.customers_per_minute)) {
            let mut generator = shared.generator.lock();
            shared.write(|st| generator.register_customer(st, crate::json::now()));
        }
        if rng.gen_bool(per_tick(cfg.actions_per_minute)) {
            shared.write(|st| advance_one(st, &mut rng));
        }
    }
}
