//! Customers, products, stock, payment transactions, write-back and daily summaries.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use nopbridge_mapping::pb::commands::{
    command::Body, DocumentKind, ItemType, RefundDocumentKind, SaleDocumentKind, TargetKind,
    WriteBackAction,
};
use nopbridge_mapping::pb::events::{
    self as ev, Customer, EntityType, InventoryLevel, InventoryMethod, PaymentStatus,
    PaymentTransaction, PaymentTransactionKind, Product, SourceSystem,
};
use nopbridge_mapping::{order_note_command, CanonicalEvent, Mapper, MappingError};

fn write_back() -> nopbridge_mapping::ConnectionConfig {
    nopbridge_mapping::load_str(
        "connection_id: store-1\ntarget: nopcommerce\ntenant: acme\nstores: [\"1\"]\n",
        "store.yaml",
    )
    .unwrap()
}

fn customer(id: i64) -> Customer {
    Customer {
        meta: Some(meta(EntityType::Customer, &id.to_string(), "1")),
        customer_id: id,
        email: "marie.dubois@example.fr".into(),
        first_name: "Marie".into(),
        last_name: "Dubois".into(),
        phone: " +33 4 72 00 00 00 ".into(),
        active: true,
        billing_address: Some(address("Marie", "Dubois", "marie.dubois@example.fr")),
        currency_code: "EUR".into(),
        ..Default::default()
    }
}

#[test]
fn customers_become_upserts_except_guests_and_fixed_connections() {
    let mp = Mapper::new(vec![qbo()]).unwrap();
    let cmds: Vec<_> = mp
        .map(&CanonicalEvent::Customer(Box::new(customer(5127))))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cmds.len(), 1);
    let Some(Body::UpsertCustomer(u)) = cmds[0].body.as_ref() else {
        panic!()
    };
    let r = u.customer.as_ref().unwrap();
    assert_eq!(r.display_name, "Marie Dubois");
    assert_eq!(r.target_code, "WEB5127");
    assert_eq!(u.phone, "+33 4 72 00 00 00");
    assert_eq!(u.name.as_ref().unwrap().family_name, "Dubois");
    assert_eq!(u.billing_address.as_ref().unwrap().region, "WA");
    assert!(u.active);
    assert_eq!(cmds[0].source_event_ids, vec!["evt-5127".to_string()]);

    let mut guest = customer(9);
    guest.is_guest = true;
    guest.email = String::new();
    assert!(mp
        .map(&CanonicalEvent::Customer(Box::new(guest)))
        .is_empty());

    let fixed = with(|v| {
        set(v, "customer.match_rule", "fixed");
        set(v, "customer.fixed_customer", "Web Sales");
    });
    let mp = Mapper::new(vec![fixed]).unwrap();
    assert!(mp
        .map(&CanonicalEvent::Customer(Box::new(customer(5127))))
        .is_empty());
}

#[test]
fn products_become_item_upserts() {
    let p = Product {
        meta: Some(meta(EntityType::Product, "311", "1")),
        product_id: 311,
        sku: "LAMP-OAK-01".into(),
        name: "Oak Desk Lamp".into(),
        price: m(4000, "USD"),
        inventory_method: InventoryMethod::ManageStock as i32,
        stock_quantity: 37,
        published: true,
        ..Default::default()
    };
    let mp = Mapper::new(vec![qbo()]).unwrap();
    let c = mp
        .map(&CanonicalEvent::Product(Box::new(p.clone())))
        .pop()
        .unwrap()
        .unwrap();
    let Some(Body::UpsertItem(i)) = c.body.as_ref() else {
        panic!()
    };
    assert_eq!(i.item_type, ItemType::Inventory as i32);
    assert!(i.track_quantity);
    assert_eq!(i.quantity_on_hand, 37);
    assert_eq!(i.item.as_ref().unwrap().target_item, "Oak desk lamp");
    assert_eq!(i.income_account, "Sales of Product Income");
    assert_eq!(i.tax_code, "TAX");
    assert!(i.active);

    let mut multi = p;
    multi.sku = String::new();
    multi.use_multiple_warehouses = true;
    multi.warehouses = vec![
        ev::WarehouseStock {
            warehouse_id: 1,
            stock_quantity: 30,
            reserved_quantity: 4,
            ..Default::default()
        },
        ev::WarehouseStock {
            warehouse_id: 2,
            stock_quantity: 11,
            reserved_quantity: 0,
            ..Default::default()
        },
    ];
    let c = mp
        .map(&CanonicalEvent::Product(Box::new(multi.clone())))
        .pop()
        .unwrap()
        .unwrap();
    let Some(Body::UpsertItem(i)) = c.body.as_ref() else {
        panic!()
    };
    assert_eq!(i.quantity_on_hand, 37);
    assert_eq!(i.item.as_ref().unwrap().sku, "NOP-311");

    // A sale moved its stock and nothing else: no upsert (the stock is an inventory level).
    let mut sold = multi;
    sold.stock_change_only = true;
    assert!(mp.map(&CanonicalEvent::Product(Box::new(sold))).is_empty());
}

fn level(source: SourceSystem) -> InventoryLevel {
    let mut mt = meta(EntityType::InventoryLevel, "311", "1");
    mt.source_system = source as i32;
    InventoryLevel {
        meta: Some(mt),
        product_id: 311,
        sku: "LAMP-OAK-01".into(),
        warehouse_id: 1,
        stock_quantity: 40,
        reserved_quantity: 3,
        available_quantity: 37,
        adjustment: -2,
        message: "order 1043".into(),
        ..Default::default()
    }
}

#[test]
fn stock_goes_where_configured_and_never_back_to_its_source() {
    let push = with(|v| set(v, "stock.push", "true"));
    let mp = Mapper::new(vec![push, write_back()]).unwrap();
    // store stock → the books (push: true); the store connection does not get its own change
    let cmds: Vec<_> = mp
        .map(&CanonicalEvent::InventoryLevel(Box::new(level(
            SourceSystem::Nopcommerce,
        ))))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].target, TargetKind::QuickbooksOnline as i32);
    let Some(Body::AdjustStock(a)) = cmds[0].body.as_ref() else {
        panic!()
    };
    assert_eq!(
        (a.quantity_on_hand, a.delta, a.site.as_str()),
        (37, -2, "MAIN")
    );
    // QuickBooks stock → the store only
    let cmds: Vec<_> = mp
        .map(&CanonicalEvent::InventoryLevel(Box::new(level(
            SourceSystem::QuickbooksOnline,
        ))))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].target, TargetKind::Nopcommerce as i32);
    assert_eq!(cmds[0].connection_id, "store-1");
    // A store change the bridge made (the write-back's marker) goes to no back office.
    let mut echo = level(SourceSystem::Nopcommerce);
    echo.message = "Bill 17 received in QuickBooks [nopbridge 5f0c-e1]".into();
    assert!(mp
        .map(&CanonicalEvent::InventoryLevel(Box::new(echo)))
        .is_empty());
}

#[test]
fn back_office_stock_names_the_product_by_sku_and_lands_in_the_configured_warehouse() {
    let store = nopbridge_mapping::load_str(
        "connection_id: store-1\ntarget: nopcommerce\ntenant: acme\nstores: [\"1\"]\nstock: {store_warehouse: 2}\n",
        "store.yaml",
    )
    .unwrap();
    let mp = Mapper::new(vec![qbo(), store]).unwrap();
    let mut l = level(SourceSystem::QuickbooksOnline);
    (l.product_id, l.warehouse_id, l.adjustment) = (0, 0, 10);
    let cmds: Vec<_> = mp
        .map(&CanonicalEvent::InventoryLevel(Box::new(l)))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let Some(Body::AdjustStock(a)) = cmds[0].body.as_ref() else {
        panic!("{cmds:?}")
    };
    let item = a.item.clone().unwrap_or_default();
    assert_eq!(
        (item.store_product_id.as_str(), item.sku.as_str()),
        ("", "LAMP-OAK-01")
    );
    assert_eq!((a.store_warehouse_id, a.delta), (2, 10));
}

fn transaction(
    kind: PaymentTransactionKind,
    amount: i64,
    source: SourceSystem,
) -> PaymentTransaction {
    let mut mt = meta(EntityType::PaymentTransaction, "1043", "1");
    mt.source_system = source as i32;
    PaymentTransaction {
        meta: Some(mt),
        transaction_id: format!("1043:{}:{amount}", kind as i32),
        order_id: 1043,
        kind: kind as i32,
        amount: m(amount, "USD"),
        refunded_total: m(amount, "USD"),
        payment_method_system_name: "Payments.Manual".into(),
        gateway_reference: "re_1".into(),
        payment_status: PaymentStatus::PartiallyRefunded as i32,
        ..Default::default()
    }
}

#[test]
fn payment_transactions() {
    let mp = Mapper::new(vec![qbo(), write_back()]).unwrap();
    let map = |t: PaymentTransaction| -> Vec<_> {
        mp.map(&CanonicalEvent::PaymentTransaction(Box::new(t)))
            .into_iter()
            .map(Result::unwrap)
            .collect()
    };
    // a partial refund at the store → a refund receipt in the books
    let cmds = map(transaction(
        PaymentTransactionKind::PartialRefund,
        2500,
        SourceSystem::Nopcommerce,
    ));
    assert_eq!(cmds.len(), 1);
    let Some(Body::PostRefund(r)) = cmds[0].body.as_ref() else {
        panic!()
    };
    assert_eq!(r.kind, RefundDocumentKind::RefundReceipt as i32);
    assert_eq!(minor(&r.total), 2500);
    assert_eq!(r.lines[0].item.as_ref().unwrap().target_item, "Refunds");
    assert_eq!(r.lines[0].tax_code, "NON");
    assert_eq!(r.original_document_number, "WEB1043");
    assert_eq!(r.tender.as_ref().unwrap().payment_method, "Visa");
    // replaying the same transaction gives the same command id
    let again = map(transaction(
        PaymentTransactionKind::PartialRefund,
        2500,
        SourceSystem::Nopcommerce,
    ));
    assert_eq!(cmds[0].command_id, again[0].command_id);
    // void at the store → void the payment
    let cmds = map(transaction(
        PaymentTransactionKind::Void,
        0,
        SourceSystem::Nopcommerce,
    ));
    let Some(Body::VoidDocument(v)) = cmds[0].body.as_ref() else {
        panic!()
    };
    assert_eq!(v.documents, vec![DocumentKind::Payment as i32]);
    // captures at the store: the order event posts them
    assert!(map(transaction(
        PaymentTransactionKind::Capture,
        100,
        SourceSystem::Nopcommerce
    ))
    .is_empty());
    // paid in QuickBooks → mark paid at the store
    let cmds = map(transaction(
        PaymentTransactionKind::Capture,
        100,
        SourceSystem::QuickbooksOnline,
    ));
    assert_eq!(cmds.len(), 1);
    let Some(Body::StoreWriteBack(w)) = cmds[0].body.as_ref() else {
        panic!()
    };
    assert_eq!(
        (w.action, w.order_id),
        (WriteBackAction::MarkPaid as i32, 1043)
    );
}

#[test]
fn refund_without_a_refund_item_is_unmapped() {
    let cfg = with(|v| set(v, "items.refund", "{}"));
    let mp = Mapper::new(vec![cfg]).unwrap();
    let err = mp
        .map(&CanonicalEvent::PaymentTransaction(Box::new(transaction(
            PaymentTransactionKind::Refund,
            500,
            SourceSystem::Nopcommerce,
        ))))
        .pop()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, MappingError::Unmapped { config_key, .. } if config_key == "items.refund"),
        "{err}"
    );
}

#[test]
fn order_notes_for_the_store() {
    let mp = Mapper::new(vec![write_back()]).unwrap();
    let conn = mp.connection("store-1").unwrap();
    let c = order_note_command(
        conn,
        1043,
        "Posted to QuickBooks as WEB1043",
        vec!["evt-1".into()],
    );
    let Some(Body::StoreWriteBack(w)) = c.body.as_ref() else {
        panic!()
    };
    assert_eq!(w.action, WriteBackAction::AddOrderNote as i32);
    assert_eq!(w.note, "Posted to QuickBooks as WEB1043");
    assert_eq!(c.connection_id, "store-1");
    // the store connection maps no orders
    assert!(map_order(&mp, &us_order(1)).is_empty());
}

#[test]
fn daily_summary_aggregates_per_store_currency_and_method() {
    let cfg = with(|v| {
        set(v, "posting.mode", "daily_summary");
        set(v, "posting.utc_offset_minutes", "0");
        set(v, "customer.match_rule", "fixed");
        set(v, "customer.fixed_customer", "Web Sales");
    });
    let mp = Mapper::new(vec![cfg]).unwrap();
    // single orders post nothing in summary mode
    assert!(map_order(&mp, &us_order(1)).is_empty());

    let mut orders = vec![
        us_order(1),
        us_order(2),
        us_order(3),
        us_order(4),
        us_order(5),
    ];
    orders[1].order_total = m(11761, "USD"); // 1 cent of store rounding
    orders[2].payment_method_system_name = "Payments.PayPalCommerce".into();
    orders[3].payment_status = PaymentStatus::Pending as i32; // not paid: not in the summary
    orders[4].paid_at = Some(ts(1_710_408_067 + 86_400)); // paid the next day
    let cmds: Vec<_> = mp
        .summarize_daily("qbo-realm-1", "2024-03-14", &orders)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cmds.len(), 2);
    let manual = cmds
        .iter()
        .find(|c| sale(c).summary.as_ref().unwrap().store_payment_method == "Payments.Manual")
        .unwrap();
    let s = sale(manual);
    assert_eq!(s.kind, SaleDocumentKind::SalesReceipt as i32);
    assert_eq!(s.customer.as_ref().unwrap().display_name, "Web Sales");
    assert_eq!(minor(&s.total), 11760 + 11761);
    assert_eq!(
        manual.order.as_ref().unwrap().included_order_ids,
        vec![1, 2]
    );
    assert_eq!(
        manual.source_event_ids,
        vec!["evt-1".to_string(), "evt-2".to_string()]
    );
    // lines are summed per item: 2 lamps lines → one line with quantity 4
    assert_eq!(s.lines[0].quantity, 4);
    assert_eq!(minor(&s.lines[0].amount), 16001);
    assert_eq!(s.txn_date, "2024-03-14");
    assert_eq!(minor(&s.tenders[0].amount), 23521);
    // deterministic: the same day gives the same command
    let again = mp.summarize_daily("qbo-realm-1", "2024-03-14", &orders);
    assert_eq!(again[0].as_ref().unwrap().command_id, cmds[0].command_id);
    // an order that cannot be mapped fails its whole group
    orders[0].order_total = m(99999, "USD");
    let results = mp.summarize_daily("qbo-realm-1", "2024-03-14", &orders);
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
}

#[test]
fn summary_day_is_the_paid_date_of_an_order_that_counts() {
    let cfg = with(|v| {
        set(v, "posting.mode", "daily_summary");
        set(v, "posting.utc_offset_minutes", "-300");
        set(v, "customer.match_rule", "fixed");
        set(v, "customer.fixed_customer", "Web Sales");
    });
    let mp = Mapper::new(vec![cfg]).unwrap();
    let day = |o: &nopbridge_mapping::pb::events::Order| mp.summary_day("qbo-realm-1", o);
    // paid 2024-03-14T09:21:07Z is 04:21 in UTC-5, the same day
    assert_eq!(day(&us_order(1)).as_deref(), Some("2024-03-14"));
    let mut late = us_order(2);
    late.paid_at = Some(ts(1_710_460_800 + 3_600)); // 2024-03-15T01:00Z: still the 14th in UTC-5
    assert_eq!(day(&late).as_deref(), Some("2024-03-14"));
    let mut unpaid = us_order(3);
    unpaid.payment_status = PaymentStatus::Pending as i32;
    assert_eq!(day(&unpaid), None);
    let mut cancelled = us_order(4);
    cancelled.order_status = nopbridge_mapping::pb::events::OrderStatus::Cancelled as i32;
    assert_eq!(day(&cancelled), None);
    let mut deleted = us_order(5);
    if let Some(m) = deleted.meta.as_mut() {
        m.change = nopbridge_mapping::pb::events::ChangeKind::Delete as i32;
    }
    assert_eq!(day(&deleted), None);
    // the summary takes exactly the orders whose day it is
    let all = [us_order(1), late, unpaid, cancelled, deleted];
    let cmds = mp.summarize_daily("qbo-realm-1", "2024-03-14", &all);
    assert_eq!(cmds.len(), 1);
    assert_eq!(
        cmds[0]
            .as_ref()
            .unwrap()
            .order
            .as_ref()
            .unwrap()
            .included_order_ids,
        vec![1, 2]
    );
    assert_eq!(mp.summary_day("no-such-connection", &us_order(1)), None);
}

#[test]
fn events_decode_by_topic_entity_and_commands_name_their_topic() {
    use prost::Message;
    let o = us_order(1);
    let bytes = o.encode_to_vec();
    let e = CanonicalEvent::decode("order", &bytes).unwrap().unwrap();
    assert_eq!(e, CanonicalEvent::Order(Box::new(o)));
    assert!(CanonicalEvent::decode("invoice", &bytes).is_none());
    assert!(CanonicalEvent::decode("customer", &[0xff, 0xff])
        .unwrap()
        .is_err());
    let mp = Mapper::new(vec![qbo()]).unwrap();
    let cmd = map_order(&mp, &us_order(1)).pop().unwrap().unwrap();
    assert_eq!(
        nopbridge_mapping::command_topic(&cmd),
        "sink.quickbooks_online.commands.v1"
    );
    // commands survive the wire
    let back =
        nopbridge_mapping::pb::commands::Command::decode(cmd.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back, cmd);
}
