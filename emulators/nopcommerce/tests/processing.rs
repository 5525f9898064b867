//! OrderProcessing actions over HTTP: status transitions, notes, refusals, stock moves.

mod common;

use common::*;
use nopbridge_emu_nopcommerce::model::{OrderStatus, PaymentStatus, ShippingStatus};
use nopbridge_emu_nopcommerce::{PlaceOrder, PlaceOrderItem};
use rust_decimal::Decimal;
use serde_json::Value;

fn statuses(o: &Value) -> (i64, i64, i64) {
    (
        o["order_status_id"].as_i64().unwrap_or(-1),
        o["payment_status_id"].as_i64().unwrap_or(-1),
        o["shipping_status_id"].as_i64().unwrap_or(-1),
    )
}

#[tokio::test]
async fn mark_paid_then_ship_then_deliver_completes() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let s = sample_order(t.handle())?;
    let id = s.order_id;

    let (st, _, can) = t
        .get(&format!("OrderProcessing/CanMarkOrderAsPaid/{id}"))
        .await?;
    assert_eq!((st.as_u16(), can), (200, Value::Bool(true)));
    let (st, body, _) = t
        .get(&format!("OrderProcessing/MarkOrderAsPaid/{id}"))
        .await?;
    assert_eq!(st, 200, "{body}");
    let (_, _, o) = t.get(&format!("Order/GetById/{id}")).await?;
    assert_eq!(statuses(&o), (20, 30, 20));
    assert!(o["paid_date_utc"].is_string());
    assert_eq!(
        note_texts(t.handle(), id),
        vec![
            "Order placed",
            "Order has been marked as paid",
            "Order status has been changed to Processing"
        ]
    );
    // Second attempt is refused with the service's message.
    let (st, _, problem) = t
        .get(&format!("OrderProcessing/MarkOrderAsPaid/{id}"))
        .await?;
    assert_eq!(st, 400);
    assert_eq!(problem["detail"], "You can't mark this order as paid");
    assert_eq!(problem["status"], 400);

    // Partial shipment (lamp only) → PartiallyShipped; then the shade → Shipped.
    let items = t.handle().order_items(id);
    let lamp_item = items
        .iter()
        .find(|i| i.product_id == s.lamp)
        .map(|i| i.id)
        .unwrap_or_default();
    let shade_item = items
        .iter()
        .find(|i| i.product_id == s.shade)
        .map(|i| i.id)
        .unwrap_or_default();
    let (st, _, sh1) = t
        .send(
            t.client
                .post(t.url("Shipment/Create"))
                .json(&serde_json::json!({"order_id": id, "tracking_number": "1Z1"})),
        )
        .await?;
    assert_eq!(st, 200);
    let sh1 = sh1["id"].as_i64().unwrap_or_default();
    let (st, _, _) = t
        .send(t.client.post(t.url("ShipmentItem/Create")).json(&serde_json::json!({"shipment_id": sh1, "order_item_id": lamp_item, "quantity": 2, "warehouse_id": 1})))
        .await?;
    assert_eq!(st, 200);
    let (st, _, _) = t.get(&format!("OrderProcessing/Ship/{sh1}")).await?;
    assert_eq!(st, 200);
    let (_, _, o) = t.get(&format!("Order/GetById/{id}")).await?;
    assert_eq!(
        statuses(&o),
        (20, 30, ShippingStatus::PartiallyShipped.id() as i64)
    );

    let sh2 = t
        .handle()
        .create_shipment(id, &[(shade_item, 1)], Some("1Z2".into()))?;
    let (st, _, _) = t.get(&format!("OrderProcessing/Ship/{sh2}")).await?;
    assert_eq!(st, 200);
    let (_, _, o) = t.get(&format!("Order/GetById/{id}")).await?;
    assert_eq!(statuses(&o), (20, 30, 30));
    let (st, _, p) = t.get(&format!("OrderProcessing/Ship/{sh2}")).await?;
    assert_eq!(
        (st.as_u16(), p["detail"].as_str()),
        (400, Some("This shipment is already shipped"))
    );

    // Delivering one of two shipments keeps Shipped; both → Delivered → Complete
    // (CompleteOrderWhenDelivered = true).
    let (st, _, _) = t.get(&format!("OrderProcessing/Deliver/{sh1}")).await?;
    assert_eq!(st, 200);
    let (_, _, o) = t.get(&format!("Order/GetById/{id}")).await?;
    assert_eq!(statuses(&o), (20, 30, 30));
    let (st, _, _) = t
        .get(&format!(
            "OrderProcessing/Deliver/{sh2}?notifyCustomer=false"
        ))
        .await?;
    assert_eq!(st, 200);
    let (_, _, o) = t.get(&format!("Order/GetById/{id}")).await?;
    assert_eq!(statuses(&o), (30, 30, 40));
    let notes = note_texts(t.handle(), id);
    assert_eq!(
        notes[3..].to_vec(),
        vec![
            format!("Shipment# {sh1} has been sent"),
            format!("Shipment# {sh2} has been sent"),
            format!("Shipment# {sh1} has been delivered"),
            format!("Shipment# {sh2} has been delivered"),
            "Order status has been changed to Complete".to_string(),
        ]
    );
    // Shipments and their items are readable.
    let (_, _, list) = t.get(&format!("Shipment/GetByOrderId/{id}")).await?;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let (_, _, page) = t
        .get(&format!(
            "Shipment/GetAll?orderId={id}&loadNotDelivered=true"
        ))
        .await?;
    assert_eq!(page["total_count"], 0);
    let (_, _, si) = t
        .get(&format!("ShipmentItem/GetByShipmentId/{sh1}"))
        .await?;
    assert_eq!(si[0]["order_item_id"], lamp_item);
    Ok(())
}

#[tokio::test]
async fn complete_on_shipped_when_setting_off_and_no_shipping_completes_on_payment(
) -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.store.complete_order_when_delivered = false;
    let t = TestEmu::with(cfg).await?;
    let h = t.handle();
    let s = sample_order(h)?;
    h.mark_order_as_paid(s.order_id)?;
    h.ship_everything(s.order_id)?;
    let o = h
        .order(s.order_id)
        .ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(
        (o.order_status(), o.shipping_status()),
        (OrderStatus::Complete, ShippingStatus::Shipped)
    );

    // No shipping required: paid → Complete at once.
    let (mut req, ..) = sample_request(h);
    req.shipping = None;
    let id = h.place_order(&req)?;
    assert_eq!(
        h.order(id).map(|o| o.shipping_status()),
        Some(ShippingStatus::ShippingNotRequired)
    );
    let (st, _, _) = t
        .get(&format!("OrderProcessing/MarkOrderAsPaid/{id}"))
        .await?;
    assert_eq!(st, 200);
    assert_eq!(
        h.order(id).map(|o| o.order_status()),
        Some(OrderStatus::Complete)
    );
    assert_eq!(
        note_texts(h, id),
        vec![
            "Order placed",
            "Order has been marked as paid",
            "Order status has been changed to Processing",
            "Order status has been changed to Complete"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn cancel_restocks_and_is_final() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let s = sample_order(h)?;
    assert_eq!(h.product(s.lamp).map(|p| p.stock_quantity), Some(98));
    let (st, _, _) = t
        .get(&format!(
            "OrderProcessing/CancelOrder/{}?notifyCustomer=false",
            s.order_id
        ))
        .await?;
    assert_eq!(st, 200);
    let o = h
        .order(s.order_id)
        .ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(o.order_status(), OrderStatus::Cancelled);
    assert_eq!(o.payment_status(), PaymentStatus::Pending);
    assert_eq!(h.product(s.lamp).map(|p| p.stock_quantity), Some(100));
    let notes = note_texts(h, s.order_id);
    assert_eq!(
        notes[1..],
        [
            "Order status has been changed to Cancelled",
            "Order has been cancelled"
        ]
    );
    let history: Vec<String> = h.read(|st| {
        st.history_of(s.lamp)
            .iter()
            .map(|x| x.message.clone())
            .collect()
    });
    assert_eq!(
        history,
        vec![
            format!(
                "The stock quantity has been reduced by placing the order #{}",
                s.order_id
            ),
            format!(
                "The stock quantity has been increased by canceling the order #{}",
                s.order_id
            ),
        ]
    );
    // Cancelled orders cannot be paid or cancelled again.
    let (st, _, p) = t
        .get(&format!("OrderProcessing/CancelOrder/{}", s.order_id))
        .await?;
    assert_eq!(
        (st.as_u16(), p["detail"].as_str()),
        (400, Some("Cannot do cancel for order."))
    );
    let (_, _, can) = t
        .get(&format!(
            "OrderProcessing/CanMarkOrderAsPaid/{}",
            s.order_id
        ))
        .await?;
    assert_eq!(can, Value::Bool(false));
    Ok(())
}

#[tokio::test]
async fn partial_refunds_then_full_refund_status() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let s = sample_order(h)?;
    let id = s.order_id;
    // Not paid yet: refusal.
    let (st, _, p) = t
        .get(&format!(
            "OrderProcessing/PartiallyRefund/{id}?amountToRefund=10"
        ))
        .await?;
    assert_eq!(
        (st.as_u16(), p["detail"].as_str()),
        (400, Some("Cannot do partial refund for order."))
    );
    h.mark_order_as_paid(id)?;
    let (st, _, _) = t
        .get(&format!(
            "OrderProcessing/PartiallyRefund/{id}?amountToRefund=20.5"
        ))
        .await?;
    assert_eq!(st, 200);
    let o = h.order(id).ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(
        (o.payment_status(), o.refunded_amount.to_string()),
        (PaymentStatus::PartiallyRefunded, "20.5000".into())
    );
    assert_eq!(o.order_status(), OrderStatus::Processing);
    // A full refund is refused once partially refunded; more than the rest is refused too.
    let (_, _, can) = t.get(&format!("OrderProcessing/CanRefund/{id}")).await?;
    assert_eq!(can, Value::Bool(false));
    let (st, _, _) = t
        .get(&format!(
            "OrderProcessing/PartiallyRefundOffline/{id}?amountToRefund=100.11"
        ))
        .await?;
    assert_eq!(st, 400);
    // The rest, offline → Refunded.
    let (st, _, _) = t
        .get(&format!(
            "OrderProcessing/PartiallyRefundOffline/{id}?amountToRefund=100.1"
        ))
        .await?;
    assert_eq!(st, 200);
    let o = h.order(id).ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(
        (o.payment_status(), o.refunded_amount),
        (PaymentStatus::Refunded, d("120.6"))
    );
    let notes = note_texts(h, id);
    assert!(
        notes.contains(&"Order has been partially refunded. Amount = 20.5".to_string()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"Order has been marked as partially refunded. Amount = 100.1".to_string()),
        "{notes:?}"
    );
    Ok(())
}

#[tokio::test]
async fn full_refund_online_and_offline_notes() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let a = sample_order(h)?.order_id;
    let b = sample_order(h)?.order_id;
    h.mark_order_as_paid(a)?;
    h.mark_order_as_paid(b)?;
    let (st, _, _) = t.get(&format!("OrderProcessing/Refund/{a}")).await?;
    assert_eq!(st, 200);
    let (st, _, _) = t.get(&format!("OrderProcessing/RefundOffline/{b}")).await?;
    assert_eq!(st, 200);
    for (id, text) in [
        (a, "Order has been refunded. Amount = 120.6000"),
        (b, "Order has been marked as refunded. Amount = 120.6000"),
    ] {
        let o = h.order(id).ok_or_else(|| anyhow::anyhow!("order"))?;
        assert_eq!(
            (o.payment_status(), o.refunded_amount),
            (PaymentStatus::Refunded, o.order_total)
        );
        assert!(note_texts(h, id).contains(&text.to_string()));
    }
    let (st, _, p) = t.get(&format!("OrderProcessing/RefundOffline/{b}")).await?;
    assert_eq!(
        (st.as_u16(), p["detail"].as_str()),
        (400, Some("You can't refund this order"))
    );
    Ok(())
}

#[tokio::test]
async fn void_needs_authorized_and_capture_pays() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let (mut req, ..) = sample_request(h);
    req.payment_status = PaymentStatus::Authorized;
    let voided = h.place_order(&req)?;
    let captured = h.place_order(&req)?;
    // Authorized at placement → Processing.
    assert_eq!(
        h.order(voided).map(|o| o.order_status()),
        Some(OrderStatus::Processing)
    );
    let (st, _, _) = t.get(&format!("OrderProcessing/Void/{voided}")).await?;
    assert_eq!(st, 200);
    let o = h.order(voided).ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(
        (o.payment_status(), o.order_status()),
        (PaymentStatus::Voided, OrderStatus::Processing)
    );
    assert!(note_texts(h, voided).contains(&"Order has been voided".to_string()));
    let (st, _, p) = t
        .get(&format!("OrderProcessing/VoidOffline/{voided}"))
        .await?;
    assert_eq!(
        (st.as_u16(), p["detail"].as_str()),
        (400, Some("You can't void this order"))
    );

    let (st, _, _) = t
        .get(&format!("OrderProcessing/Capture/{captured}"))
        .await?;
    assert_eq!(st, 200);
    let o = h.order(captured).ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(o.payment_status(), PaymentStatus::Paid);
    assert!(o.capture_transaction_id.is_some() && o.paid_date_utc.is_some());
    assert!(note_texts(h, captured).contains(&"Order has been captured".to_string()));
    Ok(())
}

#[tokio::test]
async fn notes_create_and_filter() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let id = sample_order(t.handle())?.order_id;
    let (st, _, note) = t
        .send(t.client.post(t.url("OrderNote/Create")).json(&serde_json::json!({
            "order_id": id, "note": "Sent to accounting (QBO invoice 1043)", "download_id": 0, "display_to_customer": true
        })))
        .await?;
    assert_eq!(st, 200);
    assert_eq!(note["order_id"], id);
    let (_, _, visible) = t
        .get(&format!(
            "OrderNote/GetOrderNotesByOrderId/{id}?displayToCustomer=true"
        ))
        .await?;
    assert_eq!(visible.as_array().map(Vec::len), Some(1));
    assert_eq!(visible[0]["note"], "Sent to accounting (QBO invoice 1043)");
    let (_, _, all) = t
        .get(&format!("OrderNote/GetOrderNotesByOrderId/{id}"))
        .await?;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let (st, _, _) = t
        .send(
            t.client
                .post(t.url("OrderNote/Create"))
                .json(&serde_json::json!({"order_id": 999_999, "note": "x"})),
        )
        .await?;
    assert_eq!(st, 404);
    Ok(())
}

#[tokio::test]
async fn return_requests_search_and_update() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let s = sample_order(h)?;
    let item = h.order_items(s.order_id)[0].id;
    let rr = h.create_return_request(item, 1, "Wrong colour", "Replacement")?;
    let (_, _, page) = t
        .get("ReturnRequest/Search?rs=Pending&pageIndex=0&pageSize=10")
        .await?;
    assert!(page["items"]
        .as_array()
        .is_some_and(|a| a.iter().any(|r| r["id"] == rr)));
    let (st, _, bad) = t.get("ReturnRequest/Search?rs=NoSuchStatus").await?;
    assert_eq!((st.as_u16(), bad["status"].as_i64()), (400, Some(400)));
    let (_, _, mut dto) = t.get(&format!("ReturnRequest/GetById/{rr}")).await?;
    assert_eq!(dto["return_request_status_id"], 0);
    dto["return_request_status_id"] = Value::from(40);
    dto["staff_notes"] = Value::from("Refunded by card");
    let (st, body, updated) = t
        .send(t.client.put(t.url("ReturnRequest/Update")).json(&dto))
        .await?;
    assert_eq!(st, 200, "{body}");
    assert_eq!(updated["return_request_status_id"], 40);
    // A return request moves no money.
    let o = h
        .order(s.order_id)
        .ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(o.refunded_amount, Decimal::ZERO.round_dp(4));
    let (_, _, page) = t.get("ReturnRequest/Search?rs=itemsrefunded").await?;
    assert_eq!(page["total_count"], 1);
    Ok(())
}

#[tokio::test]
async fn guest_orders_keep_email_on_billing_address() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let guest = h.register_customer(nopbridge_emu_nopcommerce::NewCustomer {
        store_id: 1,
        ..Default::default()
    });
    let p = add_product(h, "G-1", "10.00", 1, 10, false);
    let mut req = PlaceOrder::new(1, guest, vec![PlaceOrderItem::new(p, 1)]);
    // No billing address and none on file: refused.
    assert!(h.place_order(&req).is_err());
    req.billing_address = Some(nopbridge_emu_nopcommerce::AddressInput {
        first_name: Some("Seán".into()),
        last_name: Some("O'Neill".into()),
        email: Some("sean@example.ie".into()),
        ..Default::default()
    });
    let id = h.place_order(&req)?;
    let (_, _, c) = t.get(&format!("Customer/GetById/{guest}")).await?;
    assert_eq!(c["email"], Value::Null);
    assert_eq!(c["role_ids"], serde_json::json!([4]));
    let (_, _, o) = t.get(&format!("Order/GetById/{id}")).await?;
    let (_, _, a) = t
        .get(&format!("Address/GetById/{}", o["billing_address_id"]))
        .await?;
    assert_eq!(
        (a["email"].as_str(), a["last_name"].as_str()),
        (Some("sean@example.ie"), Some("O'Neill"))
    );
    Ok(())
}

#[tokio::test]
async fn delete_answers_404_and_restocks_once() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    // Deleting a live order restocks; deleting a cancelled one does not restock again.
    let live = sample_order(h)?;
    let cancelled = sample_order(h)?;
    h.cancel_order(cancelled.order_id)?;
    h.delete_order(live.order_id)?;
    h.delete_order(cancelled.order_id)?;
    assert_eq!(h.product(live.lamp).map(|p| p.stock_quantity), Some(100));
    assert_eq!(
        h.product(cancelled.lamp).map(|p| p.stock_quantity),
        Some(100)
    );
    for id in [live.order_id, cancelled.order_id] {
        let (st, text, _) = t.get(&format!("Order/GetById/{id}")).await?;
        assert_eq!((st.as_u16(), text.as_str()), (404, "Order not found"));
        let (st, _, body) = t.community_get(&format!("/api/orders/{id}")).await?;
        assert_eq!(
            (st.as_u16(), body["errors"]["order"][0].as_str()),
            (404, Some("not found"))
        );
    }
    let (_, _, page) = t.get("Order/Search?getOnlyTotalCount=true").await?;
    assert_eq!(page["total_count"], 0);
    Ok(())
}

#[tokio::test]
async fn cancel_after_shipping_reverse_books_multi_warehouse_stock() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let s = sample_order(h)?;
    h.mark_order_as_paid(s.order_id)?;
    h.ship_everything(s.order_id)?;
    let totals = |h: &nopbridge_emu_nopcommerce::EmulatorHandle| {
        h.read(|st| {
            let rows = st.pwi_of(s.shade);
            (
                rows.iter().map(|w| w.stock_quantity).sum::<i32>(),
                rows.iter().map(|w| w.reserved_quantity).sum::<i32>(),
            )
        })
    };
    assert_eq!(totals(h), (99, 0));
    h.cancel_order(s.order_id)?;
    assert_eq!(totals(h), (100, 0));
    assert_eq!(h.read(|st| st.total_stock(s.shade, true, None)), 100);
    Ok(())
}

/// Pending → Processing also when shipped before payment; Complete waits for payment.
#[tokio::test]
async fn shipping_before_payment_moves_to_processing_only() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let s = sample_order(h)?;
    let shipment = h.ship_everything(s.order_id)?;
    h.deliver(shipment)?;
    let o = h
        .order(s.order_id)
        .ok_or_else(|| anyhow::anyhow!("order"))?;
    assert_eq!(
        (o.order_status(), o.payment_status(), o.shipping_status()),
        (
            OrderStatus::Processing,
            PaymentStatus::Pending,
            ShippingStatus::Delivered
        )
    );
    let (st, _, _) = t
        .get(&format!("OrderProcessing/MarkOrderAsPaid/{}", s.order_id))
        .await?;
    assert_eq!(st, 200);
    assert_eq!(
        h.order(s.order_id).map(|o| o.order_status()),
        Some(OrderStatus::Complete)
    );
    // CheckOrderStatus on a finished order changes nothing.
    let notes_before = h.order_notes(s.order_id).len();
    let (st, _, _) = t
        .get(&format!("OrderProcessing/CheckOrderStatus/{}", s.order_id))
        .await?;
    assert_eq!(st, 200);
    assert_eq!(h.order_notes(s.order_id).len(), notes_before);
    Ok(())
}
