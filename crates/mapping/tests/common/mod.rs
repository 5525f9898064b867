//! Fixtures shared by the integration tests: configs and orders built like ingest builds them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
use nopbridge_mapping::pb::commands::{command::Body, Command, PostSale};
use nopbridge_mapping::pb::events::{
    self as ev, Address, EventMeta, GiftCardUsage, Order, OrderItem, OrderStatus, PaymentStatus,
    ShippingStatus, SourceSystem, TaxRateAmount,
};
use nopbridge_mapping::{load_str, CanonicalEvent, ConnectionConfig, Mapper, MappingError};
use prost_types::Timestamp;

pub const EXAMPLE: &str = include_str!("../../examples/connection.yaml");

/// A QuickBooks US connection for store 1 (the example config).
pub fn qbo() -> ConnectionConfig {
    load_str(EXAMPLE, "examples/connection.yaml").unwrap()
}

/// The example with `edits` applied as (yaml path of a top-level block, replacement yaml).
pub fn with(yaml_edit: impl Fn(&mut serde_yaml::Value)) -> ConnectionConfig {
    let mut v: serde_yaml::Value = serde_yaml::from_str(EXAMPLE).unwrap();
    yaml_edit(&mut v);
    let text = serde_yaml::to_string(&v).unwrap();
    load_str(&text, "edited.yaml").unwrap()
}

pub fn set(v: &mut serde_yaml::Value, path: &str, value: &str) {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        let key = serde_yaml::Value::String((*p).to_string());
        if cur.get(p).is_none() {
            cur.as_mapping_mut()
                .unwrap()
                .insert(key.clone(), serde_yaml::Value::Mapping(Default::default()));
        }
        cur = cur.as_mapping_mut().unwrap().get_mut(&key).unwrap();
    }
    let last = serde_yaml::Value::String(parts[parts.len() - 1].to_string());
    cur.as_mapping_mut()
        .unwrap()
        .insert(last, serde_yaml::from_str(value).unwrap());
}

/// A VAT connection (KashFlow style), store currency GBP at home.
pub fn vat_config(target: &str, id: &str, store: &str) -> ConnectionConfig {
    with(|v| {
        set(v, "connection_id", id);
        set(v, "target", target);
        set(v, "stores", &format!("[\"{store}\"]"));
        set(v, "tax.mode", "vat");
        set(
            v,
            "tax.vat.codes",
            "[{rate: 20, code: \"20.0% S\"}, {rate: 5, code: \"5.0% R\"}, {rate: 7, code: \"7% DE\"}, {rate: 19, code: \"19% DE\"}, {rate: 0, code: \"0.0% Z\"}, {rate: 8.875, code: \"US 8.875\"}]",
        );
        set(v, "currency.home_currency", "GBP");
        set(
            v,
            "currency.rates",
            "[{from: USD, to: GBP, rate: \"0.8\"}, {from: EUR, to: GBP, rate: \"0.85\"}]",
        );
    })
}

pub fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

pub fn m(minor: i64, c: &str) -> Option<ev::Money> {
    Some(ev::Money {
        minor_units: minor,
        currency: c.to_string(),
    })
}

pub fn meta(entity: ev::EntityType, id: &str, store: &str) -> EventMeta {
    EventMeta {
        event_id: format!("evt-{id}"),
        tenant_id: "acme".into(),
        store_id: store.into(),
        source_system: SourceSystem::Nopcommerce as i32,
        entity_type: entity as i32,
        entity_id: id.into(),
        occurred_at: Some(ts(1_710_408_067)),
        content_hash: "ab".repeat(32),
        schema_version: 1,
        ..Default::default()
    }
}

pub fn item(id: i64, sku: &str, name: &str, qty: i32, net: i64, tax: i64, c: &str) -> OrderItem {
    OrderItem {
        order_item_id: id,
        product_id: id * 10,
        sku: sku.into(),
        product_name: name.into(),
        quantity: qty,
        price_excl_tax: m(net, c),
        price_incl_tax: m(net + tax, c),
        unit_price_excl_tax: m(net / i64::from(qty), c),
        unit_price_incl_tax: m((net + tax) / i64::from(qty), c),
        ..Default::default()
    }
}

pub fn address(first: &str, last: &str, email: &str) -> Address {
    Address {
        first_name: first.into(),
        last_name: last.into(),
        email: email.into(),
        country_code: "US".into(),
        state_province: "Washington".into(),
        city: "Seattle".into(),
        address1: "1 Main St".into(),
        postal_code: "98101".into(),
        ..Default::default()
    }
}

/// A paid US order at store 1: 2 × 40.00 (taxed 8.875 %) + 1 × 22.50 non-taxable, shipping 8.00.
pub fn us_order(id: i64) -> Order {
    let c = "USD";
    let items = vec![
        item(1, "LAMP-OAK-01", "Oak Desk Lamp", 2, 8000, 710, c),
        item(2, "SHADE-LIN-02", "Linen Shade", 1, 2250, 0, c),
    ];
    let tax = 710;
    let total = 8000 + 2250 + 800 + tax;
    Order {
        meta: Some(meta(ev::EntityType::Order, &id.to_string(), "1")),
        order_id: id,
        order_guid: format!("guid-{id}"),
        store_id: 1,
        customer_id: 5127,
        customer_email: "ana@example.com".into(),
        order_status: OrderStatus::Processing as i32,
        payment_status: PaymentStatus::Paid as i32,
        shipping_status: ShippingStatus::NotYetShipped as i32,
        payment_method_system_name: "Payments.Manual".into(),
        shipping_method: "Ground".into(),
        store_currency: c.into(),
        customer_currency_code: c.into(),
        currency_rate: Some(ev::Decimal { units: 1, scale: 0 }),
        subtotal_excl_tax: m(10250, c),
        subtotal_incl_tax: m(10960, c),
        shipping_excl_tax: m(800, c),
        shipping_incl_tax: m(800, c),
        tax_total: m(tax, c),
        tax_rates: vec![TaxRateAmount {
            rate_percent: Some(ev::Decimal {
                units: 8875,
                scale: 3,
            }),
            amount: m(tax, c),
        }],
        tax_rates_raw: "8.875:7.10;   ".into(),
        order_total: m(total, c),
        billing_address: Some(address("Ana", "Silva", "ana@example.com")),
        shipping_address: Some(address("Ana", "Silva", "ana@example.com")),
        items,
        capture_transaction_id: "ch_123".into(),
        created_at: Some(ts(1_710_408_067)),
        paid_at: Some(ts(1_710_408_071)),
        ..Default::default()
    }
}

/// Reference §6.1: USD store, EUR customer at 0.92, VAT 20 % on goods and shipping,
/// 10.00 subtotal discount; total 120.60 USD.
pub fn reference_order() -> Order {
    let c = "USD";
    let mut o = us_order(1043);
    o.items = vec![
        item(2201, "LAMP-OAK-01", "Oak Desk Lamp", 2, 8000, 1600, c),
        item(2202, "SHADE-LIN-02", "Linen Shade", 1, 2250, 450, c),
    ];
    o.items[1].attribute_description = "Colour: Natural".into();
    o.items[1].discount_excl_tax = m(250, c);
    o.customer_currency_code = "EUR".into();
    o.currency_rate = Some(ev::Decimal {
        units: 9200,
        scale: 4,
    });
    o.subtotal_excl_tax = m(10250, c);
    o.subtotal_incl_tax = m(12300, c);
    o.subtotal_discount_excl_tax = m(1000, c);
    o.subtotal_discount_incl_tax = m(1200, c);
    o.shipping_excl_tax = m(800, c);
    o.shipping_incl_tax = m(960, c);
    o.tax_total = m(2010, c);
    o.tax_rates = vec![TaxRateAmount {
        rate_percent: Some(ev::Decimal {
            units: 20,
            scale: 0,
        }),
        amount: m(2010, c),
    }];
    o.tax_rates_raw = "20:20.1;   ".into();
    o.order_total = m(12060, c);
    o.customer_email = "marie.dubois@example.fr".into();
    o.billing_address = Some(Address {
        first_name: "Marie".into(),
        last_name: "Dubois".into(),
        email: "marie.dubois@example.fr".into(),
        country_name: "France".into(),
        city: "Lyon".into(),
        address1: "12 Rue de la République".into(),
        postal_code: "69002".into(),
        ..Default::default()
    });
    o.shipping_address = o.billing_address.clone();
    o
}

pub fn gift(amount: i64, c: &str) -> GiftCardUsage {
    GiftCardUsage {
        gift_card_id: 7,
        coupon_code: "GC-0000-1234".into(),
        amount: m(amount, c),
    }
}

pub fn map_order(mapper: &Mapper, o: &Order) -> Vec<Result<Command, MappingError>> {
    mapper.map(&CanonicalEvent::Order(Box::new(o.clone())))
}

pub fn ok(results: Vec<Result<Command, MappingError>>) -> Vec<Command> {
    results.into_iter().map(|r| r.unwrap()).collect()
}

pub fn sale(c: &Command) -> &PostSale {
    match c.body.as_ref() {
        Some(Body::PostSale(s)) => s,
        other => panic!("expected a PostSale, got {other:?}"),
    }
}

pub fn minor(m: &Option<ev::Money>) -> i64 {
    m.as_ref().map_or(0, |m| m.minor_units)
}
