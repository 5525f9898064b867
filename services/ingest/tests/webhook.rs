//! Webhooks end to end, with polling off so nothing reaches the canonical topics any other
//! way: the emulator's signed notifications for a customer, an order through payment,
//! shipping, a partial refund and a return, and stock moves become events of all seven
//! canonical types, each checked against the emulator's records; and notifications that are
//! forged, stale, malformed or too large are refused with their status and reason and leave
//! nothing behind.
mod common;

use anyhow::{Context, Result};
use common::*;
use nopbridge_emu_nopcommerce::model::ROLE_REGISTERED;
use nopbridge_emu_nopcommerce::{
    AddressInput, DeliveryState, EmulatorConfig, EmulatorHandle, Mode, NewCustomer, PlaceOrder,
    PlaceOrderItem, RunningEmulator, WebhookConfig,
};
use nopbridge_proto::events::v1 as ev;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use std::time::Duration;

const CONN: &str = "acme-main";

/// Ingest with its webhook receiver on `port`, polling off.
fn service(port: u16, base_url: &str) -> String {
    format!(
        "webhook_listen = \"127.0.0.1:{port}\"\n{}",
        connection(
            CONN,
            "acme",
            1,
            base_url,
            "polling = false\ninitial_backoff_ms = 20\nmax_backoff_ms = 200"
        )
    )
}

/// A seeded store whose signed webhooks go to an ingest receiver on the returned port.
async fn store_sending_webhooks(seed: u64) -> Result<(RunningEmulator, EmulatorHandle, u16)> {
    let emu = emulator(EmulatorConfig {
        seed,
        ..EmulatorConfig::default()
    })
    .await?;
    let h = emu.handle().clone();
    let port = free_port();
    h.set_webhook_config(WebhookConfig {
        url: Some(receiver_url(port)),
        secret: SECRET.into(),
        initial_backoff_ms: 50,
        max_backoff_ms: 400,
        ..h.webhook_config()
    });
    Ok((emu, h, port))
}

fn receiver_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/webhooks/nopcommerce/{CONN}")
}

/// A managed-stock, shippable, taxed product of the catalogue, with one warehouse or several.
fn stocked_product(h: &EmulatorHandle, multi: bool) -> i32 {
    h.read(|st| {
        st.products
            .iter()
            .find(|p| {
                !p.deleted
                    && p.is_ship_enabled
                    && p.manages_stock()
                    && p.use_multiple_warehouses == multi
                    && st.tax_rate(p.tax_category_id) > Decimal::ZERO
            })
            .map(|p| p.id)
            .expect("the catalogue has one")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_entity_type_arrives_by_webhook_with_its_money_and_status() -> Result<()> {
    let env = Env::new().await?;
    let (emu, h, port) = store_sending_webhooks(21).await?;
    let topic = |e: &str| env.canonical(e);
    let collecting = Collecting::start(&env.kafka(), env.all_canonical()).await?;
    let ingest = Ingest::start(env.config(&service(port, &emu.base_url()))?);
    listening(port).await?;

    // customer.registered: unicode and apostrophes, a EUR customer.
    let name = ("Renée", "D'Auvergne-Łukasiewicz");
    let customer = h.register_customer(NewCustomer {
        store_id: 1,
        email: Some("renee.d'auvergne@example.test".into()),
        first_name: Some(name.0.into()),
        last_name: Some(name.1.into()),
        company: Some("Zoë's Ателье".into()),
        currency_id: h.read(|st| st.currency_by_code("EUR").map(|c| c.id)),
        address: Some(AddressInput {
            first_name: Some(name.0.into()),
            last_name: Some(name.1.into()),
            email: Some("renee.d'auvergne@example.test".into()),
            country_id: Some(74),
            city: Some("Saint-Étienne".into()),
            address1: Some("12 rue de l'Église".into()),
            zip_postal_code: Some("42000".into()),
            ..AddressInput::default()
        }),
    });
    let c = until("the customer event", || {
        collecting
            .latest::<ev::Customer>(&topic("customer"), |c| c.customer_id == i64::from(customer))
    })
    .await?;
    expect::customer(&c, &h);
    assert_eq!((c.first_name.as_str(), c.last_name.as_str()), name);
    assert!(h
        .customer(customer)
        .expect("the catalogue has one")
        .role_ids
        .contains(&ROLE_REGISTERED));

    // order.placed: a line discount, subtotal and order discounts, shipping, a payment fee,
    // a gift card and reward points, in EUR in the USD store.
    let single = stocked_product(&h, false);
    let multi = stocked_product(&h, true);
    let mut req = PlaceOrder::new(
        1,
        customer,
        vec![
            PlaceOrderItem {
                discount_percent: Decimal::TEN,
                discount_id: Some(1),
                ..PlaceOrderItem::new(single, 2)
            },
            PlaceOrderItem::new(multi, 3),
        ],
    );
    req.currency_code = Some("EUR".into());
    req.subtotal_discount = Decimal::new(5, 0);
    req.subtotal_discount_id = Some(2);
    req.order_discount = Decimal::new(3, 0);
    req.order_discount_id = Some(3);
    req.shipping = Some(Decimal::new(750, 2));
    req.payment_fee = Decimal::new(125, 2);
    req.gift_cards = vec![(1, Decimal::new(10, 0))];
    req.reward_points = Some((200, Decimal::new(2, 0)));
    req.payment_method = "Payments.Manual".into();
    let order = h.place_order(&req)?;
    let oid = i64::from(order);
    let order_at_store = |collecting: &Collecting| {
        collecting
            .latest::<ev::Order>(&topic("order"), |o| o.order_id == oid)
            .filter(|o| expect::statuses_of(o) == expect::statuses(&h, oid))
    };
    let placed = until("the placed order", || order_at_store(&collecting)).await?;
    expect::order(&placed, &h);
    assert_eq!(placed.payment_status(), ev::PaymentStatus::Pending);
    assert!(!placed.gift_cards.is_empty() && placed.reward_points.is_some());
    assert_eq!(placed.customer_currency_code, "EUR");
    let total = h.order(order).expect("the order at the store").order_total;

    // order.paid: the order, and a capture of its total.
    h.mark_order_as_paid(order)?;
    let paid = until("the paid order", || order_at_store(&collecting)).await?;
    expect::order(&paid, &h);
    assert_eq!(paid.payment_status(), ev::PaymentStatus::Paid);
    let capture = (
        ev::PaymentTransactionKind::Capture,
        total,
        Decimal::ZERO,
        ev::PaymentStatus::Paid,
    );
    let payments = |collecting: &Collecting| {
        collecting
            .written::<ev::PaymentTransaction>(&topic("payment_transaction"), |t| t.order_id == oid)
    };
    let txns = until("the capture", || {
        Some(payments(&collecting)).filter(|t| !t.is_empty())
    })
    .await?;
    expect::payments(&txns, &h, oid, &[capture]);

    // shipment.sent: the shipment, and the order now shipped.
    let shipment = h.ship_everything(order)?;
    let s = until("the shipment", || {
        collecting
            .latest::<ev::Shipment>(&topic("shipment"), |s| s.shipment_id == i64::from(shipment))
    })
    .await?;
    expect::shipment(&s, &h);
    assert!(s.shipped_at.is_some());
    let shipped = until("the shipped order", || order_at_store(&collecting)).await?;
    assert_eq!(shipped.shipping_status(), ev::ShippingStatus::Shipped);
    expect::order(&shipped, &h);

    // order.refunded: a partial refund.
    let refund = Decimal::new(1234, 2);
    h.partially_refund(order, refund, Mode::Offline)?;
    let refunded = until("the refunded order", || order_at_store(&collecting)).await?;
    assert_eq!(
        refunded.payment_status(),
        ev::PaymentStatus::PartiallyRefunded
    );
    expect::order(&refunded, &h);
    let txns = until("the refund", || {
        Some(payments(&collecting)).filter(|t| t.len() >= 2)
    })
    .await?;
    expect::payments(
        &txns,
        &h,
        oid,
        &[
            capture,
            (
                ev::PaymentTransactionKind::PartialRefund,
                refund,
                refund,
                ev::PaymentStatus::PartiallyRefunded,
            ),
        ],
    );

    // return_request.created: one of the two discounted units.
    let line = h
        .order_items(order)
        .into_iter()
        .find(|i| i.product_id == single)
        .context("the single-warehouse line")?;
    let rr = h.create_return_request(line.id, 1, "Wrong size", "Repair")?;
    let r = until("the return request", || {
        collecting.latest::<ev::ReturnRequest>(&topic("return_request"), |r| {
            r.return_request_id == i64::from(rr)
        })
    })
    .await?;
    expect::return_request(&r, &h);

    // product.stock_changed: a restock; the products and their levels as the store has them.
    h.adjust_inventory(single, 25, "Restocked by the test")?;
    for product in [single, multi] {
        let (levels, _) = expect::stock(&h, product);
        for (warehouse, stock, reserved) in levels {
            let level = until("the stock level", || {
                collecting
                    .latest::<ev::InventoryLevel>(&topic("inventory_level"), |l| {
                        l.product_id == i64::from(product) && l.warehouse_id == warehouse
                    })
                    .filter(|l| (l.stock_quantity, l.reserved_quantity) == (stock, reserved))
            })
            .await?;
            expect::inventory(&level, &h);
        }
        let stock_now = h
            .product(product)
            .expect("the product at the store")
            .stock_quantity;
        let warehouses = expect::stock(&h, product).0;
        let p = until("the product", || {
            collecting
                .latest::<ev::Product>(&topic("product"), |p| p.product_id == i64::from(product))
                .filter(|p| {
                    p.stock_quantity == stock_now
                        && p.warehouses
                            .iter()
                            .map(|w| (w.warehouse_id, w.stock_quantity, w.reserved_quantity))
                            .eq(warehouses.iter().copied().filter(|(w, _, _)| *w != 0))
                })
        })
        .await?;
        expect::product(&p, &h);
        // A product's first event is its catalogue entry; later ones that only moved its
        // stock (a sale, the restock) say so.
        let versions = collecting
            .written::<ev::Product>(&topic("product"), |q| q.product_id == i64::from(product));
        assert!(!versions[0].stock_change_only);
        if product == single {
            assert!(versions.len() > 1 && p.stock_change_only, "{versions:?}");
        }
    }
    let restock = collecting
        .latest::<ev::InventoryLevel>(&topic("inventory_level"), |l| {
            l.product_id == i64::from(single)
        })
        .context("the restocked level")?;
    assert_eq!(
        (restock.adjustment, restock.message.as_str()),
        (25, "Restocked by the test")
    );
    // A renamed product is a catalogue change even when its stock moves too.
    h.edit_product(single, |p| p.name = format!("{} (renamed)", p.name))?;
    h.adjust_inventory(single, 5, "Restocked again")?;
    let renamed = until("the renamed product", || {
        collecting
            .latest::<ev::Product>(&topic("product"), |p| p.product_id == i64::from(single))
            .filter(|p| p.name.ends_with("(renamed)"))
    })
    .await?;
    assert!(!renamed.stock_change_only);

    // Everything came by webhook: every delivery acknowledged, all seven types written.
    let deliveries = until("every delivery acknowledged", || {
        let d = h.webhook_deliveries();
        d.iter()
            .all(|d| d.state == DeliveryState::Delivered)
            .then_some(d)
    })
    .await?;
    assert_eq!(
        ingest.counter("webhooks_accepted", ("outcome", "accepted")),
        deliveries.len() as u64,
        "each delivery accepted once"
    );
    for t in env.all_canonical() {
        assert!(!collecting.on(&t).is_empty(), "nothing on {t}");
    }

    ingest.stop().await?;
    collecting.stop().await;
    emu.shutdown().await;
    Ok(())
}

/// A thin notification about order `id`, stamped `timestamp`.
fn notification(id: i32, timestamp: i64) -> serde_json::Value {
    serde_json::json!({
        "delivery_id": uuid::Uuid::new_v4(),
        "event": "order.placed",
        "entity_type": "order",
        "entity_id": id,
        "store_id": 1,
        "occurred_at": chrono::Utc::now().to_rfc3339(),
        "timestamp": timestamp,
        "attempt": 1,
    })
}

/// Posts `body` with a signature and a timestamp header; the status and the JSON answer.
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    signature: &str,
    timestamp: i64,
) -> Result<(StatusCode, serde_json::Value)> {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-nop-signature", signature)
        .header("x-nop-timestamp", timestamp.to_string())
        .body(body)
        .send()
        .await?;
    let status = r.status();
    Ok((status, r.json().await.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_notifications_get_their_status_and_reason_and_emit_nothing() -> Result<()> {
    let env = Env::new().await?;
    // The emulator sends nothing itself (no webhook URL): every notification is this test's.
    let emu = emulator(EmulatorConfig {
        seed: 22,
        ..EmulatorConfig::default()
    })
    .await?;
    let h = emu.handle().clone();
    let port = free_port();
    let collecting = Collecting::start(&env.kafka(), env.all_canonical()).await?;
    let ingest = Ingest::start(env.config(&service(port, &emu.base_url()))?);
    listening(port).await?;
    let notifications = env.notifications();
    eventually(
        "ingest consuming notifications",
        Duration::from_secs(20),
        || ingest.consumed(&notifications, 3),
    )
    .await?;

    // Six orders at the store; the refused notifications name the first five.
    let (buyer, product) = h.read(|st| {
        let c = st
            .customers
            .iter()
            .find(|c| !c.is_guest() && c.billing_address_id.is_some())
            .map(|c| c.id);
        let p = st.products.iter().find(|p| !p.deleted).map(|p| p.id);
        (c.expect("a registered customer"), p.expect("a product"))
    });
    let mut orders = Vec::new();
    for _ in 0..6 {
        orders.push(h.place_order(&PlaceOrder::new(
            1,
            buyer,
            vec![PlaceOrderItem::new(product, 1)],
        ))?);
    }
    let client = reqwest::Client::new();
    let url = receiver_url(port);
    let now = || chrono::Utc::now().timestamp();
    let bytes = |v: &serde_json::Value| serde_json::to_vec(v).expect("JSON");

    // Forged: signed with another secret.
    let t = now();
    let body = bytes(&notification(orders[0], t));
    let forged = sign("not-the-secret", &body);
    let (status, answer) = post(&client, &url, body, &forged, t).await?;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );

    // Forged: a genuine signature over another body.
    let t = now();
    let signed = sign(SECRET, &bytes(&notification(orders[0], t)));
    let body = bytes(&notification(orders[1], t));
    let (status, answer) = post(&client, &url, body, &signed, t).await?;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );

    // Stale: an hour old (tolerance 300 s), correctly signed.
    let t = now() - 3_600;
    let body = bytes(&notification(orders[2], t));
    let signature = sign(SECRET, &body);
    let (status, answer) = post(&client, &url, body, &signature, t).await?;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("stale_timestamp"))
    );

    // Malformed JSON, correctly signed and fresh.
    let t = now();
    let body = format!(
        "{{\"delivery_id\":\"{}\",\"event\":\"order.placed\",\"entity_type\":\"order\",\"entity_id\":{},\"timestamp\":{t},",
        uuid::Uuid::new_v4(),
        orders[3]
    )
    .into_bytes();
    let signature = sign(SECRET, &body);
    let (status, answer) = post(&client, &url, body, &signature, t).await?;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_notification"))
    );

    // Over 1 MiB: a genuine, fresh notification padded past the limit.
    let t = now();
    let mut big = notification(orders[4], t);
    big["padding"] = serde_json::Value::String("x".repeat(1024 * 1024));
    let body = bytes(&big);
    assert!(body.len() > 1024 * 1024);
    let signature = sign(SECRET, &body);
    let (status, answer) = post(&client, &url, body, &signature, t).await?;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );

    // Each refusal logged and counted with its reason; none accepted.
    for (reason, n) in [
        ("bad_signature", 2),
        ("stale_timestamp", 1),
        ("malformed_notification", 1),
        ("body_too_large", 1),
    ] {
        assert_eq!(
            ingest.counter("webhooks_rejected", ("reason", reason)),
            n,
            "{reason}"
        );
    }
    assert_eq!(ingest.counter("webhooks_accepted", ("connection", CONN)), 0);
    // The receiver answers 202 only once the broker holds the buffered notification, so after
    // these answers the notifications topic is still empty.
    assert_eq!(ingest.consumed(&notifications, 3).await, Some((0, 0)));

    // A valid notification: its order, and only it, reaches the canonical topics.
    let t = now();
    let body = bytes(&notification(orders[5], t));
    let signature = sign(SECRET, &body);
    let (status, answer) = post(&client, &url, body.clone(), &signature, t).await?;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::ACCEPTED, Some("accepted"))
    );
    let order = until("the valid notification's order", || {
        collecting.latest::<ev::Order>(&env.canonical("order"), |o| {
            o.order_id == i64::from(orders[5])
        })
    })
    .await?;
    expect::order(&order, &h);
    eventually(
        "the notification handled",
        Duration::from_secs(20),
        || async {
            ingest
                .consumed(&notifications, 3)
                .await
                .filter(|c| *c == (1, 1))
        },
    )
    .await?;
    let written: Vec<String> = env
        .all_canonical()
        .iter()
        .flat_map(|t| collecting.on(t))
        .map(|r| r.key_str())
        .collect();
    assert_eq!(written, vec![format!("acme/1/order/{}", orders[5])]);

    // The same delivery again, byte for byte: a replay, refused and not buffered.
    let (status, answer) = post(&client, &url, body, &signature, t).await?;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::CONFLICT, Some("replayed"))
    );
    assert_eq!(ingest.consumed(&notifications, 3).await, Some((1, 1)));

    ingest.stop().await?;
    collecting.stop().await;
    emu.shutdown().await;
    Ok(())
}

/// Pauses or resumes one connection through the control API.
async fn hold(ingest: &Ingest, on: bool) -> Result<()> {
    use nopbridge_proto::control::v1::{control_server::Control, PauseRequest, ResumeRequest};
    let connection_id = CONN.to_string();
    if on {
        Control::pause(
            &ingest.control,
            tonic::Request::new(PauseRequest { connection_id }),
        )
        .await?;
    } else {
        Control::resume(
            &ingest.control,
            tonic::Request::new(ResumeRequest { connection_id }),
        )
        .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_for_a_record_already_queued_here_add_no_notification_and_miss_no_change(
) -> Result<()> {
    let env = Env::new().await?;
    let (emu, h, port) = store_sending_webhooks(22).await?;
    let orders = env.canonical("order");
    let collecting =
        Collecting::start(&env.kafka(), vec![orders.clone(), env.notifications()]).await?;
    let ingest = Ingest::start(env.config(&service(port, &emu.base_url()))?);
    listening(port).await?;
    let customer = h.read(|st| {
        st.customers
            .iter()
            .find(|c| !c.deleted && c.email.is_some() && c.registered_in_store_id == 1)
            .map(|c| c.id)
            .expect("the store has a customer")
    });
    let product = stocked_product(&h, false);
    let order_event = |oid: i64| {
        collecting
            .latest::<ev::Order>(&orders, |o| o.order_id == oid)
            .filter(|o| expect::statuses_of(o) == expect::statuses(&h, oid))
    };
    let order_of = |quantity: i32| {
        let mut req = PlaceOrder::new(1, customer, vec![PlaceOrderItem::new(product, quantity)]);
        req.billing_address = Some(AddressInput {
            first_name: Some("Ada".into()),
            last_name: Some("Byron".into()),
            email: Some("ada@example.test".into()),
            country_id: Some(1),
            city: Some("Boston".into()),
            address1: Some("1 Harbor St".into()),
            zip_postal_code: Some("02110".into()),
            ..AddressInput::default()
        });
        req
    };
    // The consumer is in its group (owns its partitions) once a first order went through.
    let first = h.place_order(&order_of(1))?;
    until("the first order", || order_event(i64::from(first))).await?;

    // Held: the order's notification waits unhandled while the store sends its other
    // webhooks (placed, paid, status changes).
    hold(&ingest, true).await?;
    let mut req = order_of(2);
    req.payment_status = nopbridge_emu_nopcommerce::model::PaymentStatus::Paid;
    let order = h.place_order(&req)?;
    let oid = i64::from(order);
    let key = format!("{CONN}/order/{order}");
    let order_webhooks = until("the order's webhooks delivered", || {
        let d: Vec<_> = h
            .webhook_deliveries()
            .into_iter()
            .filter(|d| d.event.starts_with("order.") && d.entity_id == order)
            .collect();
        (!d.is_empty() && d.iter().all(|d| d.state == DeliveryState::Delivered)).then_some(d)
    })
    .await?;
    let buffered = || {
        collecting
            .on(&env.notifications())
            .iter()
            .filter(|r| r.key_str() == key)
            .count()
    };
    anyhow::ensure!(order_webhooks.len() > 1, "{order_webhooks:?}");
    assert_eq!(
        buffered(),
        1,
        "one notification for {} webhooks",
        order_webhooks.len()
    );
    assert_eq!(
        ingest.counter("webhooks_coalesced", ("connection", CONN)),
        order_webhooks.len() as u64 - 1
    );
    hold(&ingest, false).await?;
    let paid = until("the paid order", || order_event(oid)).await?;
    assert_eq!(paid.payment_status(), ev::PaymentStatus::Paid);

    // Its notification handled, a later change of the order is a notification of its own.
    h.partially_refund(order, Decimal::ONE, Mode::Offline)?;
    let refunded = until("the refunded order", || order_event(oid)).await?;
    assert_eq!(
        refunded.payment_status(),
        ev::PaymentStatus::PartiallyRefunded
    );
    ingest.stop().await
}
