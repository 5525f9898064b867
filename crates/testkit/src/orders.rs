//! A canonical store order for tests: one fixture instead of a copy per test file.
use nopbridge_proto::events::v1 as ev;

/// `minor_units` US cents.
pub fn usd(minor_units: i64) -> Option<ev::Money> {
    Some(ev::Money {
        minor_units,
        currency: "USD".into(),
    })
}

pub fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// A paid US order at store 1 of tenant acme, created and paid at `paid` (Unix seconds):
/// 2 × 40.00 taxed at 8.875 % (7.10), shipping 8.00, total 95.10. Tests change what they
/// vary with struct update syntax.
pub fn paid_order(id: i64, paid: i64) -> ev::Order {
    ev::Order {
        meta: Some(ev::EventMeta {
            event_id: format!("evt-{id}"),
            tenant_id: "acme".into(),
            store_id: "1".into(),
            entity_type: ev::EntityType::Order as i32,
            entity_id: id.to_string(),
            occurred_at: timestamp(paid),
            schema_version: 1,
            ..Default::default()
        }),
        order_id: id,
        store_id: 1,
        customer_id: 77,
        customer_email: "zoe.obrien@example.com".into(),
        order_status: ev::OrderStatus::Processing as i32,
        payment_status: ev::PaymentStatus::Paid as i32,
        shipping_status: ev::ShippingStatus::NotYetShipped as i32,
        payment_method_system_name: "Payments.Manual".into(),
        store_currency: "USD".into(),
        customer_currency_code: "USD".into(),
        currency_rate: Some(ev::Decimal { units: 1, scale: 0 }),
        subtotal_excl_tax: usd(8000),
        subtotal_incl_tax: usd(8710),
        shipping_excl_tax: usd(800),
        shipping_incl_tax: usd(800),
        tax_total: usd(710),
        tax_rates: vec![ev::TaxRateAmount {
            rate_percent: Some(ev::Decimal {
                units: 8875,
                scale: 3,
            }),
            amount: usd(710),
        }],
        tax_rates_raw: "8.875:7.10;   ".into(),
        order_total: usd(9510),
        billing_address: Some(ev::Address {
            first_name: "Zoë".into(),
            last_name: "O'Brien".into(),
            email: "zoe.obrien@example.com".into(),
            country_code: "US".into(),
            city: "Seattle".into(),
            ..Default::default()
        }),
        items: vec![ev::OrderItem {
            order_item_id: 1,
            sku: "LAMP-OAK-01".into(),
            product_name: "Oak Desk Lamp".into(),
            quantity: 2,
            price_excl_tax: usd(8000),
            price_incl_tax: usd(8710),
            unit_price_excl_tax: usd(4000),
            unit_price_incl_tax: usd(4355),
            ..Default::default()
        }],
        created_at: timestamp(paid),
        paid_at: timestamp(paid),
        ..Default::default()
    }
}
