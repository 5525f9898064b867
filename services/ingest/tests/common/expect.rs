//! Canonical events checked against the emulator's own records. Expected values are computed
//! here from what the store holds (decimal amounts, status ids, rows of related tables),
//! not through ingest's mapping code: amounts to minor units half away from zero, the
//! customer-currency total as the stored total × the order's currency rate, rounded once.
use super::{cents, dec, money};
use nopbridge_emu_nopcommerce::model::{
    OrderStatus, PaymentStatus, ReturnRequestStatus, ShippingStatus,
};
use nopbridge_emu_nopcommerce::EmulatorHandle;
use nopbridge_proto::events::v1 as ev;
use rust_decimal::Decimal;

pub const STORE_CURRENCY: &str = "USD";

fn store(d: Decimal) -> (i64, String) {
    (cents(d), STORE_CURRENCY.to_string())
}

pub fn order_status(s: OrderStatus) -> ev::OrderStatus {
    match s {
        OrderStatus::Pending => ev::OrderStatus::Pending,
        OrderStatus::Processing => ev::OrderStatus::Processing,
        OrderStatus::Complete => ev::OrderStatus::Complete,
        OrderStatus::Cancelled => ev::OrderStatus::Cancelled,
    }
}

pub fn payment_status(s: PaymentStatus) -> ev::PaymentStatus {
    match s {
        PaymentStatus::Pending => ev::PaymentStatus::Pending,
        PaymentStatus::Authorized => ev::PaymentStatus::Authorized,
        PaymentStatus::Paid => ev::PaymentStatus::Paid,
        PaymentStatus::PartiallyRefunded => ev::PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded => ev::PaymentStatus::Refunded,
        PaymentStatus::Voided => ev::PaymentStatus::Voided,
    }
}

pub fn shipping_status(s: ShippingStatus) -> ev::ShippingStatus {
    match s {
        ShippingStatus::ShippingNotRequired => ev::ShippingStatus::NotRequired,
        ShippingStatus::NotYetShipped => ev::ShippingStatus::NotYetShipped,
        ShippingStatus::PartiallyShipped => ev::ShippingStatus::PartiallyShipped,
        ShippingStatus::Shipped => ev::ShippingStatus::Shipped,
        ShippingStatus::Delivered => ev::ShippingStatus::Delivered,
    }
}

pub fn return_status(s: ReturnRequestStatus) -> ev::ReturnRequestStatus {
    use ev::ReturnRequestStatus as R;
    match s {
        ReturnRequestStatus::Pending => R::Pending,
        ReturnRequestStatus::Received => R::Received,
        ReturnRequestStatus::ReturnAuthorized => R::ReturnAuthorized,
        ReturnRequestStatus::ItemsRepaired => R::ItemsRepaired,
        ReturnRequestStatus::ItemsRefunded => R::ItemsRefunded,
        ReturnRequestStatus::RequestRejected => R::RequestRejected,
        ReturnRequestStatus::Cancelled => R::Cancelled,
    }
}

/// The three statuses of the order as the store holds it now.
pub fn statuses(h: &EmulatorHandle, order_id: i64) -> (i32, i32, i32) {
    let o = h.order(order_id as i32).expect("order at the store");
    (
        order_status(o.order_status()) as i32,
        payment_status(o.payment_status()) as i32,
        shipping_status(o.shipping_status()) as i32,
    )
}

pub fn statuses_of(e: &ev::Order) -> (i32, i32, i32) {
    (e.order_status, e.payment_status, e.shipping_status)
}

/// Every money field, status and line of an Order event against the store's order.
pub fn order(e: &ev::Order, h: &EmulatorHandle) {
    let id = i32::try_from(e.order_id).unwrap();
    let o = h.order(id).expect("order at the store");
    let what = |f: &str| format!("order {id}: {f}");
    assert_eq!(e.order_guid, o.order_guid.to_string(), "{}", what("guid"));
    assert_eq!(e.store_id, i64::from(o.store_id), "{}", what("store"));
    assert_eq!(
        e.customer_id,
        i64::from(o.customer_id),
        "{}",
        what("customer")
    );
    assert_eq!(
        e.custom_order_number,
        o.custom_order_number,
        "{}",
        what("number")
    );
    assert_eq!(
        statuses_of(e),
        statuses(h, e.order_id),
        "{}",
        what("statuses")
    );
    assert_eq!(
        e.payment_method_system_name,
        o.payment_method_system_name,
        "{}",
        what("payment method")
    );
    assert_eq!(
        e.store_currency,
        STORE_CURRENCY,
        "{}",
        what("store currency")
    );
    for (field, got, want) in [
        (
            "subtotal incl",
            &e.subtotal_incl_tax,
            o.order_subtotal_incl_tax,
        ),
        (
            "subtotal excl",
            &e.subtotal_excl_tax,
            o.order_subtotal_excl_tax,
        ),
        (
            "subtotal discount incl",
            &e.subtotal_discount_incl_tax,
            o.order_sub_total_discount_incl_tax,
        ),
        (
            "subtotal discount excl",
            &e.subtotal_discount_excl_tax,
            o.order_sub_total_discount_excl_tax,
        ),
        (
            "shipping incl",
            &e.shipping_incl_tax,
            o.order_shipping_incl_tax,
        ),
        (
            "shipping excl",
            &e.shipping_excl_tax,
            o.order_shipping_excl_tax,
        ),
        (
            "payment fee incl",
            &e.payment_method_fee_incl_tax,
            o.payment_method_additional_fee_incl_tax,
        ),
        (
            "payment fee excl",
            &e.payment_method_fee_excl_tax,
            o.payment_method_additional_fee_excl_tax,
        ),
        ("tax", &e.tax_total, o.order_tax),
        ("order discount", &e.order_discount, o.order_discount),
        ("total", &e.order_total, o.order_total),
        ("refunded", &e.refunded_amount, o.refunded_amount),
    ] {
        assert_eq!(money(got), store(want), "{}", what(field));
    }
    // The customer's side: the stored total × the rate of the order, rounded once.
    assert_eq!(dec(&e.currency_rate), o.currency_rate, "{}", what("rate"));
    assert_eq!(e.customer_currency_code, o.customer_currency_code);
    assert_eq!(
        money(&e.order_total_customer_currency),
        (
            cents(o.order_total * o.currency_rate),
            o.customer_currency_code.clone()
        ),
        "{}",
        what("total in the customer currency")
    );
    // TaxRates: "rate:amount;   " per rate.
    assert_eq!(e.tax_rates_raw, o.tax_rates, "{}", what("tax rates text"));
    let rates: Vec<(Decimal, (i64, String))> = o
        .tax_rates
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (r, a) = p.split_once(':').unwrap();
            (r.parse().unwrap(), store(a.parse().unwrap()))
        })
        .collect();
    let got: Vec<(Decimal, (i64, String))> = e
        .tax_rates
        .iter()
        .map(|t| (dec(&t.rate_percent), money(&t.amount)))
        .collect();
    assert_eq!(got, rates, "{}", what("tax rates"));

    let items = h.order_items(id);
    assert_eq!(e.items.len(), items.len(), "{}", what("lines"));
    for i in &items {
        let line = e
            .items
            .iter()
            .find(|l| l.order_item_id == i64::from(i.id))
            .unwrap_or_else(|| panic!("order {id}: line {} missing", i.id));
        let product = h.product(i.product_id).expect("product at the store");
        assert_eq!(line.product_id, i64::from(i.product_id));
        assert_eq!(line.sku, product.sku.clone().unwrap_or_default());
        assert_eq!(line.product_name, product.name);
        assert_eq!(line.quantity, i.quantity);
        for (field, got, want) in [
            (
                "unit incl",
                &line.unit_price_incl_tax,
                i.unit_price_incl_tax,
            ),
            (
                "unit excl",
                &line.unit_price_excl_tax,
                i.unit_price_excl_tax,
            ),
            ("price incl", &line.price_incl_tax, i.price_incl_tax),
            ("price excl", &line.price_excl_tax, i.price_excl_tax),
            (
                "discount incl",
                &line.discount_incl_tax,
                i.discount_amount_incl_tax,
            ),
            (
                "discount excl",
                &line.discount_excl_tax,
                i.discount_amount_excl_tax,
            ),
            ("cost", &line.original_product_cost, i.original_product_cost),
        ] {
            assert_eq!(
                money(got),
                store(want),
                "{}",
                what(&format!("line {} {field}", i.id))
            );
        }
    }

    let (usage, codes) = h.read(|st| {
        let usage: Vec<_> = st
            .gift_card_usage
            .iter()
            .filter(|u| u.used_with_order_id == id)
            .cloned()
            .collect();
        let codes: Vec<String> = usage
            .iter()
            .map(|u| {
                st.gift_card(u.gift_card_id)
                    .unwrap()
                    .gift_card_coupon_code
                    .clone()
            })
            .collect();
        (usage, codes)
    });
    let got: Vec<(i64, String, (i64, String))> = e
        .gift_cards
        .iter()
        .map(|g| (g.gift_card_id, g.coupon_code.clone(), money(&g.amount)))
        .collect();
    let want: Vec<(i64, String, (i64, String))> = usage
        .iter()
        .zip(codes)
        .map(|(u, code)| (i64::from(u.gift_card_id), code, store(u.used_value)))
        .collect();
    assert_eq!(got, want, "{}", what("gift cards"));
    let points = o
        .redeemed_reward_points_entry_id
        .and_then(|r| h.read(|st| st.reward_points_entry(r).cloned()));
    match (&e.reward_points, points) {
        (None, None) => {}
        (Some(got), Some(entry)) => {
            assert_eq!(
                got.points,
                i64::from(entry.points.abs()),
                "{}",
                what("points")
            );
            assert_eq!(
                money(&got.amount),
                store(entry.used_amount),
                "{}",
                what("points amount")
            );
        }
        (got, want) => panic!("{}: {got:?} vs {want:?}", what("reward points")),
    }

    let billing = h
        .read(|st| st.address(o.billing_address_id).cloned())
        .expect("billing address");
    let b = e
        .billing_address
        .as_ref()
        .expect("billing address in the event");
    assert_eq!(
        (
            b.first_name.as_str(),
            b.last_name.as_str(),
            b.email.as_str()
        ),
        (
            billing.first_name.as_deref().unwrap_or_default(),
            billing.last_name.as_deref().unwrap_or_default(),
            billing.email.as_deref().unwrap_or_default()
        ),
        "{}",
        what("billing names")
    );
    assert_eq!(
        e.customer_email,
        billing.email.unwrap_or_default(),
        "{}",
        what("checkout email")
    );
}

/// The payment transactions of an order: each with its amount and the refunded total after
/// it. `want` lists (kind, amount, refunded total after it, payment status) in store
/// decimals.
pub fn payments(
    got: &[ev::PaymentTransaction],
    h: &EmulatorHandle,
    order_id: i64,
    want: &[(
        ev::PaymentTransactionKind,
        Decimal,
        Decimal,
        ev::PaymentStatus,
    )],
) {
    let o = h.order(order_id as i32).expect("order at the store");
    let got: Vec<_> = got
        .iter()
        .map(|t| {
            assert_eq!(t.order_id, order_id);
            assert_eq!(t.order_guid, o.order_guid.to_string());
            assert_eq!(t.payment_method_system_name, o.payment_method_system_name);
            (
                t.kind(),
                money(&t.amount),
                money(&t.refunded_total),
                t.payment_status(),
            )
        })
        .collect();
    let want: Vec<_> = want
        .iter()
        .map(|(k, amount, refunded, s)| (*k, store(*amount), store(*refunded), *s))
        .collect();
    assert_eq!(got, want, "order {order_id}: payment transactions");
}

/// A Customer event against the store's customer (names, email, guest flag, currency,
/// default address).
pub fn customer(e: &ev::Customer, h: &EmulatorHandle) {
    let c = h
        .customer(i32::try_from(e.customer_id).unwrap())
        .expect("customer at the store");
    assert_eq!(e.customer_guid, c.customer_guid.to_string());
    assert_eq!(e.email, c.email.clone().unwrap_or_default());
    assert_eq!(e.first_name, c.first_name.clone().unwrap_or_default());
    assert_eq!(e.last_name, c.last_name.clone().unwrap_or_default());
    assert_eq!(e.company, c.company.clone().unwrap_or_default());
    assert_eq!(e.is_guest, c.is_guest());
    assert_eq!(e.active, c.active);
    assert_eq!(
        e.registered_in_store_id,
        i64::from(c.registered_in_store_id)
    );
    let currency = c
        .currency_id
        .and_then(|id| h.read(|st| st.currency(id).map(|x| x.currency_code.clone())))
        .unwrap_or_default();
    assert_eq!(e.currency_code, currency);
    let roles: Vec<&str> = e.roles.iter().map(String::as_str).collect();
    assert_eq!(
        roles,
        vec![if c.is_guest() { "Guests" } else { "Registered" }]
    );
    let address = c
        .billing_address_id
        .and_then(|a| h.read(|st| st.address(a).cloned()));
    match (&e.billing_address, address) {
        (None, None) => {}
        (Some(got), Some(a)) => {
            assert_eq!(got.first_name, a.first_name.unwrap_or_default());
            assert_eq!(got.last_name, a.last_name.unwrap_or_default());
            assert_eq!(got.city, a.city.unwrap_or_default());
        }
        (got, want) => panic!("customer {}: billing {got:?} vs {want:?}", c.id),
    }
}

/// A Product event: its prices and stock against the store's product.
pub fn product(e: &ev::Product, h: &EmulatorHandle) {
    let p = h
        .product(i32::try_from(e.product_id).unwrap())
        .expect("product at the store");
    assert_eq!(e.sku, p.sku.clone().unwrap_or_default());
    assert_eq!(e.name, p.name);
    assert_eq!(money(&e.price), store(p.price), "product {}: price", p.id);
    assert_eq!(
        money(&e.old_price),
        store(p.old_price),
        "product {}: old price",
        p.id
    );
    assert_eq!(
        money(&e.product_cost),
        store(p.product_cost),
        "product {}: cost",
        p.id
    );
    assert_eq!(e.stock_quantity, p.stock_quantity);
    assert_eq!(e.use_multiple_warehouses, p.use_multiple_warehouses);
    let pwi = h.read(|st| st.pwi_of(p.id).into_iter().cloned().collect::<Vec<_>>());
    let got: Vec<(i64, i32, i32)> = e
        .warehouses
        .iter()
        .map(|w| (w.warehouse_id, w.stock_quantity, w.reserved_quantity))
        .collect();
    let want: Vec<(i64, i32, i32)> = if p.use_multiple_warehouses {
        pwi.iter()
            .map(|w| {
                (
                    i64::from(w.warehouse_id),
                    w.stock_quantity,
                    w.reserved_quantity,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    assert_eq!(got, want, "product {}: warehouses", p.id);
}

/// (warehouse id, stock, reserved) of one inventory level.
pub type Level = (i64, i32, i32);

/// The store's stock of a product now: (warehouse id, stock, reserved) per inventory level
/// (one with warehouse 0 for single-warehouse stock), and the newest history row's
/// (adjustment, message).
pub fn stock(h: &EmulatorHandle, product_id: i32) -> (Vec<Level>, (i32, String)) {
    h.read(|st| {
        let p = st.product(product_id).expect("product at the store");
        let levels = if p.use_multiple_warehouses {
            st.pwi_of(product_id)
                .iter()
                .map(|w| {
                    (
                        i64::from(w.warehouse_id),
                        w.stock_quantity,
                        w.reserved_quantity,
                    )
                })
                .collect()
        } else {
            vec![(0, p.stock_quantity, 0)]
        };
        let last = st
            .history_of(product_id)
            .into_iter()
            .max_by_key(|r| r.id)
            .map(|r| (r.quantity_adjustment, r.message.clone()))
            .unwrap_or_default();
        (levels, last)
    })
}

/// An InventoryLevel event against the store's stock of its product and warehouse.
pub fn inventory(e: &ev::InventoryLevel, h: &EmulatorHandle) {
    let pid = i32::try_from(e.product_id).unwrap();
    let (levels, (adjustment, message)) = stock(h, pid);
    let (_, stock, reserved) = levels
        .into_iter()
        .find(|(w, _, _)| *w == e.warehouse_id)
        .expect("a level of the store");
    let sku = h.product(pid).and_then(|p| p.sku).unwrap_or_default();
    assert_eq!(
        (
            e.sku.as_str(),
            e.stock_quantity,
            e.reserved_quantity,
            e.available_quantity
        ),
        (sku.as_str(), stock, reserved, stock - reserved),
        "product {pid} warehouse {}",
        e.warehouse_id
    );
    assert_eq!(
        (e.adjustment, e.message.as_str()),
        (adjustment, message.as_str())
    );
}

/// A Shipment event against the store's shipment and its items.
pub fn shipment(e: &ev::Shipment, h: &EmulatorHandle) {
    let sid = i32::try_from(e.shipment_id).unwrap();
    let (s, items) = h.read(|st| {
        let s = st.shipment(sid).cloned().expect("shipment at the store");
        let items: Vec<_> = st.shipment_items_of(sid).into_iter().cloned().collect();
        (s, items)
    });
    assert_eq!(e.order_id, i64::from(s.order_id));
    assert_eq!(
        e.tracking_number,
        s.tracking_number.clone().unwrap_or_default()
    );
    assert_eq!(Some(dec(&e.total_weight)), s.total_weight);
    assert_eq!(e.shipped_at.is_some(), s.shipped_date_utc.is_some());
    assert_eq!(e.delivered_at.is_some(), s.delivery_date_utc.is_some());
    if let (Some(got), Some(want)) = (&e.shipped_at, s.shipped_date_utc) {
        assert_eq!(got.seconds, want.timestamp(), "shipment {sid}: shipped at");
    }
    let got: Vec<(i64, i64, String, i32, i64)> = e
        .items
        .iter()
        .map(|i| {
            (
                i.order_item_id,
                i.product_id,
                i.sku.clone(),
                i.quantity,
                i.warehouse_id,
            )
        })
        .collect();
    let want: Vec<(i64, i64, String, i32, i64)> = items
        .iter()
        .map(|i| {
            let line = h
                .read(|st| st.order_item(i.order_item_id).cloned())
                .unwrap();
            let sku = h
                .product(line.product_id)
                .and_then(|p| p.sku)
                .unwrap_or_default();
            (
                i64::from(i.order_item_id),
                i64::from(line.product_id),
                sku,
                i.quantity,
                i64::from(i.warehouse_id),
            )
        })
        .collect();
    assert_eq!(got, want, "shipment {sid}: items");
}

/// A ReturnRequest event against the store's request; its value is the line's incl-tax
/// price for the requested share of the line's quantity.
pub fn return_request(e: &ev::ReturnRequest, h: &EmulatorHandle) {
    let rid = i32::try_from(e.return_request_id).unwrap();
    let (r, line) = h.read(|st| {
        let r = st
            .return_request(rid)
            .cloned()
            .expect("return request at the store");
        let line = st.order_item(r.order_item_id).cloned().unwrap();
        (r, line)
    });
    let status =
        nopbridge_emu_nopcommerce::model::ReturnRequestStatus::from_id(r.return_request_status_id)
            .unwrap();
    assert_eq!(e.status, return_status(status) as i32);
    assert_eq!(e.custom_number, r.custom_number);
    assert_eq!(e.store_id, i64::from(r.store_id));
    assert_eq!(e.order_id, i64::from(line.order_id));
    assert_eq!(e.order_item_id, i64::from(r.order_item_id));
    assert_eq!(e.product_id, i64::from(line.product_id));
    assert_eq!(e.customer_id, i64::from(r.customer_id));
    assert_eq!(
        (e.quantity, e.returned_quantity),
        (r.quantity, r.returned_quantity)
    );
    assert_eq!(e.reason_for_return, r.reason_for_return);
    assert_eq!(e.requested_action, r.requested_action);
    let value = line.price_incl_tax * Decimal::from(r.quantity) / Decimal::from(line.quantity);
    assert_eq!(
        money(&e.line_value_incl_tax),
        store(value),
        "return request {rid}: value"
    );
}
