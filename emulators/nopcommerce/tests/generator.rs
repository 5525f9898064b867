//! The seeded generator: determinism, realistic variety, speed.

mod common;

use std::time::{Duration, Instant};

use nopbridge_emu_nopcommerce::build_state;
use nopbridge_emu_nopcommerce::json::to_json;
use nopbridge_emu_nopcommerce::model::{OrderStatus, PaymentStatus};
use nopbridge_emu_nopcommerce::money::parse_tax_rates;
use nopbridge_emu_nopcommerce::EmulatorConfig;
use rust_decimal::Decimal;

fn config(seed: u64, orders: usize) -> EmulatorConfig {
    EmulatorConfig {
        seed,
        orders,
        ..EmulatorConfig::default()
    }
}

/// Every table that the generator writes, as JSON text.
fn snapshot(cfg: EmulatorConfig) -> anyhow::Result<String> {
    let (shared, _rx) = build_state(cfg)?;
    let st = shared.store.read();
    let mut out = String::new();
    out.push_str(&to_json(&st.orders)?);
    out.push_str(&to_json(&st.order_items)?);
    out.push_str(&to_json(&st.order_notes)?);
    out.push_str(&to_json(&st.customers)?);
    out.push_str(&to_json(&st.addresses)?);
    out.push_str(&to_json(&st.products)?);
    out.push_str(&to_json(&st.product_warehouse_inventory)?);
    out.push_str(&to_json(&st.stock_history)?);
    out.push_str(&to_json(&st.shipments)?);
    out.push_str(&to_json(&st.return_requests)?);
    out.push_str(&to_json(&st.gift_card_usage)?);
    out.push_str(&to_json(&st.reward_points)?);
    Ok(out)
}

#[test]
fn same_seed_same_store_other_seed_other_store() -> anyhow::Result<()> {
    let a = snapshot(config(7, 800))?;
    let b = snapshot(config(7, 800))?;
    let c = snapshot(config(8, 800))?;
    assert_eq!(a.len(), b.len());
    assert!(a == b, "same seed must give byte-identical data");
    assert!(a != c, "another seed must give other data");
    Ok(())
}

#[test]
fn generated_store_has_the_hard_cases() -> anyhow::Result<()> {
    let (shared, _rx) = build_state(config(42, 3000))?;
    let st = shared.store.read();
    assert!(st.stores.len() >= 3);
    assert_eq!(
        st.primary_currency().map(|c| c.currency_code.as_str()),
        Some("USD")
    );
    // Guests without email; registered customers with apostrophes and non-ASCII names.
    let guests = st
        .customers
        .iter()
        .filter(|c| c.is_guest())
        .collect::<Vec<_>>();
    assert!(!guests.is_empty() && guests.iter().all(|c| c.email.is_none()));
    assert!(st
        .customers
        .iter()
        .any(|c| c.last_name.as_deref().is_some_and(|n| n.contains('\''))));
    assert!(st
        .customers
        .iter()
        .any(|c| c.first_name.as_deref() == Some("Zoë")));
    assert!(st
        .customers
        .iter()
        .any(|c| c.first_name.as_deref() == Some("李")));
    // Currencies: EUR and GBP customers, with the rate snapshot on the order.
    for code in ["EUR", "GBP", "USD"] {
        assert!(
            st.orders.iter().any(|o| o.customer_currency_code == code),
            "{code}"
        );
    }
    assert!(st
        .orders
        .iter()
        .filter(|o| o.customer_currency_code == "EUR")
        .all(|o| o.currency_rate == Decimal::new(9200, 4)));
    // Orders in several stores.
    assert!(st.orders.iter().any(|o| o.store_id == 2) && st.orders.iter().any(|o| o.store_id == 3));
    // Discounts at order, subtotal and line level; gift cards; reward points.
    assert!(st.orders.iter().any(|o| !o.order_discount.is_zero()));
    assert!(st
        .orders
        .iter()
        .any(|o| !o.order_sub_total_discount_excl_tax.is_zero()));
    assert!(st
        .order_items
        .iter()
        .any(|i| !i.discount_amount_excl_tax.is_zero()));
    assert!(!st.gift_card_usage.is_empty());
    assert!(st
        .orders
        .iter()
        .any(|o| o.redeemed_reward_points_entry_id.is_some()));
    assert!(st
        .orders
        .iter()
        .any(|o| o.reward_points_history_entry_id.is_some()));
    for discount_id in 1..=4 {
        assert!(
            st.discount_usage
                .iter()
                .any(|u| u.discount_id == discount_id),
            "discount {discount_id}"
        );
    }
    // Multi-warehouse stock; shipping tax; several tax rates in one order.
    assert!(
        st.products.iter().any(|p| p.use_multiple_warehouses)
            && st.product_warehouse_inventory.len() >= 2
    );
    assert!(st
        .orders
        .iter()
        .any(|o| o.order_shipping_incl_tax > o.order_shipping_excl_tax));
    assert!(st
        .orders
        .iter()
        .any(|o| parse_tax_rates(&o.tax_rates).len() >= 2));
    // Life cycle: every status shows up.
    for ps in [
        PaymentStatus::Pending,
        PaymentStatus::Paid,
        PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded,
        PaymentStatus::Voided,
        PaymentStatus::Authorized,
    ] {
        assert!(st.orders.iter().any(|o| o.payment_status() == ps), "{ps}");
    }
    for os in [
        OrderStatus::Pending,
        OrderStatus::Processing,
        OrderStatus::Complete,
        OrderStatus::Cancelled,
    ] {
        assert!(st.orders.iter().any(|o| o.order_status() == os), "{os}");
    }
    assert!(!st.return_requests.is_empty());
    assert!(st
        .shipments
        .iter()
        .any(|s| s.delivery_date_utc.is_none() && s.shipped_date_utc.is_some()));
    // Partial refunds are recorded as notes with the amount.
    assert!(st.order_notes.iter().any(|n| n
        .note
        .starts_with("Order has been marked as partially refunded. Amount = ")));
    Ok(())
}

#[test]
fn ten_thousand_orders_quickly() -> anyhow::Result<()> {
    let started = Instant::now();
    let (shared, _rx) = build_state(config(1, 10_000))?;
    let elapsed = started.elapsed();
    assert_eq!(shared.store.read().orders.len(), 10_000);
    // Well under a second in release builds; this bound leaves room for an unoptimized
    // test build on a busy 2-core machine.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    println!("10,000 orders generated in {elapsed:?}");
    Ok(())
}
