//! Every canonical event type goes through a real topic with CloudEvents and traceparent
//! headers intact, and decodes with a plain dynamic decoder built from the exported
//! descriptor set, not the generated Rust types.
use anyhow::{ensure, Context, Result};
use nopbridge_kafka::{
    ensure_topics, read_topic, CloudEvent, OutgoingRecord, Producer, TopicSpec, TraceContext,
};
use nopbridge_proto::events::v1 as ev;
use nopbridge_testkit::{unique, Broker};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use std::time::Duration;

fn money(minor_units: i64, currency: &str) -> Option<ev::Money> {
    Some(ev::Money {
        minor_units,
        currency: currency.into(),
    })
}

fn meta(entity: ev::EntityType, id: &str) -> Option<ev::EventMeta> {
    Some(ev::EventMeta {
        event_id: format!("evt-{id}"),
        tenant_id: "acme".into(),
        store_id: "1".into(),
        source_system: ev::SourceSystem::Nopcommerce as i32,
        entity_type: entity as i32,
        entity_id: id.into(),
        content_hash: "ab".repeat(32),
        schema_version: 1,
        connection_id: "nop-main".into(),
        change: ev::ChangeKind::Upsert as i32,
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        ingested_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_001,
            nanos: 0,
        }),
    })
}

fn address() -> Option<ev::Address> {
    Some(ev::Address {
        first_name: "Zoë".into(),
        last_name: "O'Brien".into(),
        country_code: "IE".into(),
        city: "Dublin".into(),
        ..Default::default()
    })
}

/// (message full name, entity, encoded payload, a money field path and its expected minor units)
fn samples() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str, i64)> {
    let order = ev::Order {
        meta: meta(ev::EntityType::Order, "1043"),
        order_id: 1043,
        order_guid: "6f1c1c4e-8d7a-4a51-9a53-0d7c2f1f9e10".into(),
        custom_order_number: "1043".into(),
        store_currency: "USD".into(),
        customer_currency_code: "EUR".into(),
        currency_rate: Some(ev::Decimal {
            units: 92_000_000,
            scale: 8,
        }),
        order_status: ev::OrderStatus::Processing as i32,
        payment_status: ev::PaymentStatus::Paid as i32,
        subtotal_excl_tax: money(10_000, "USD"),
        tax_total: money(2_010, "USD"),
        tax_rates: vec![ev::TaxRateAmount {
            rate_percent: Some(ev::Decimal {
                units: 20,
                scale: 0,
            }),
            amount: money(2_010, "USD"),
        }],
        tax_rates_raw: "20:20.1;   ".into(),
        order_total: money(12_345, "USD"),
        gift_cards: vec![ev::GiftCardUsage {
            gift_card_id: 7,
            coupon_code: "GC-1".into(),
            amount: money(500, "USD"),
        }],
        billing_address: address(),
        items: vec![ev::OrderItem {
            sku: "SKU-1".into(),
            quantity: 2,
            price_excl_tax: money(10_000, "USD"),
            ..Default::default()
        }],
        ..Default::default()
    };
    vec![
        (
            "nopbridge.events.v1.Order",
            "order",
            order.encode_to_vec(),
            "order_total",
            12_345,
        ),
        (
            "nopbridge.events.v1.Customer",
            "customer",
            ev::Customer {
                meta: meta(ev::EntityType::Customer, "5127"),
                customer_id: 5127,
                is_guest: true,
                billing_address: address(),
                ..Default::default()
            }
            .encode_to_vec(),
            "",
            0,
        ),
        (
            "nopbridge.events.v1.Product",
            "product",
            ev::Product {
                meta: meta(ev::EntityType::Product, "311"),
                product_id: 311,
                sku: "SKU-311".into(),
                price: money(1_999, "USD"),
                warehouses: vec![ev::WarehouseStock {
                    warehouse_id: 2,
                    stock_quantity: 40,
                    reserved_quantity: 3,
                    ..Default::default()
                }],
                ..Default::default()
            }
            .encode_to_vec(),
            "price",
            1_999,
        ),
        (
            "nopbridge.events.v1.InventoryLevel",
            "inventory_level",
            ev::InventoryLevel {
                meta: meta(ev::EntityType::InventoryLevel, "311/2"),
                product_id: 311,
                warehouse_id: 2,
                stock_quantity: 40,
                reserved_quantity: 3,
                available_quantity: 37,
                ..Default::default()
            }
            .encode_to_vec(),
            "",
            0,
        ),
        (
            "nopbridge.events.v1.PaymentTransaction",
            "payment_transaction",
            ev::PaymentTransaction {
                meta: meta(ev::EntityType::PaymentTransaction, "1043:refund:500"),
                order_id: 1043,
                kind: ev::PaymentTransactionKind::PartialRefund as i32,
                amount: money(500, "USD"),
                ..Default::default()
            }
            .encode_to_vec(),
            "amount",
            500,
        ),
        (
            "nopbridge.events.v1.Shipment",
            "shipment",
            ev::Shipment {
                meta: meta(ev::EntityType::Shipment, "88"),
                shipment_id: 88,
                order_id: 1043,
                tracking_number: "1Z999".into(),
                items: vec![ev::ShipmentItem {
                    order_item_id: 1,
                    quantity: 2,
                    ..Default::default()
                }],
                ..Default::default()
            }
            .encode_to_vec(),
            "",
            0,
        ),
        (
            "nopbridge.events.v1.ReturnRequest",
            "return_request",
            ev::ReturnRequest {
                meta: meta(ev::EntityType::ReturnRequest, "9"),
                return_request_id: 9,
                order_id: 1043,
                quantity: 1,
                line_value_incl_tax: money(6_000, "USD"),
                ..Default::default()
            }
            .encode_to_vec(),
            "line_value_incl_tax",
            6_000,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_canonical_event_round_trips_with_headers_and_decodes_dynamically() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let producer = Producer::new(&kafka)?;
    // The exported descriptor set, exactly as a downstream consumer would load it.
    let dir = tempfile::tempdir()?;
    let exported = dir.path().join("nopbridge.binpb");
    std::fs::write(&exported, nopbridge_proto::FILE_DESCRIPTOR_SET)?;
    let pool = DescriptorPool::decode(std::fs::read(&exported)?.as_slice())?;

    for (message, entity, payload, money_field, minor_units) in samples() {
        let topic = unique(&format!("canonical.{entity}"));
        ensure_topics(&kafka, &[TopicSpec::new(&topic, 1)]).await?;
        let trace = TraceContext::new_root();
        let subject = format!("acme/1/{entity}/x");
        let ce = CloudEvent::protobuf(format!("id-{entity}"), "nopbridge/ingest/acme/1", message)
            .with_subject(&subject);
        producer
            .send(
                OutgoingRecord::new(&topic, subject.as_bytes(), &payload).event(&ce, Some(&trace)),
            )
            .await?;

        let got = read_topic(&kafka, &topic, 1, Duration::from_secs(30)).await?;
        let rec = got.first().context("record not read back")?;
        assert_eq!(
            rec.payload(),
            payload.as_slice(),
            "{message}: payload changed"
        );
        let back = rec.cloud_event().context("CloudEvents headers missing")?;
        assert_eq!(back.id, ce.id);
        assert_eq!(back.event_type, message);
        assert_eq!(back.source, ce.source);
        assert_eq!(back.subject.as_deref(), Some(subject.as_str()));
        assert_eq!(back.content_type, "application/protobuf");
        let tp = rec.trace_context().context("traceparent missing")?;
        assert_eq!(
            tp.trace_id, trace.trace_id,
            "{message}: trace id not propagated"
        );

        let desc = pool
            .get_message_by_name(message)
            .with_context(|| format!("{message} not in descriptor set"))?;
        let dynamic = DynamicMessage::decode(desc, rec.payload())?;
        let meta = dynamic.get_field_by_name("meta").context("meta")?;
        let meta = meta.as_message().context("meta is a message")?;
        ensure!(
            meta.get_field_by_name("tenant_id")
                .and_then(|v| v.as_str().map(str::to_owned))
                .as_deref()
                == Some("acme")
        );
        ensure!(
            meta.get_field_by_name("schema_version")
                .and_then(|v| v.as_u32())
                == Some(1)
        );
        if !money_field.is_empty() {
            let m = dynamic
                .get_field_by_name(money_field)
                .context("money field")?;
            let m = m.as_message().context("money is a message")?;
            assert_eq!(
                m.get_field_by_name("minor_units").and_then(|v| v.as_i64()),
                Some(minor_units)
            );
            assert_eq!(
                m.get_field_by_name("currency")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref(),
                Some("USD")
            );
        }
        if message == "nopbridge.events.v1.Order" {
            let rate = dynamic.get_field_by_name("currency_rate").context("rate")?;
            let rate = rate.as_message().context("rate msg")?;
            assert_eq!(
                rate.get_field_by_name("units").and_then(|v| v.as_i64()),
                Some(92_000_000)
            );
            let items = dynamic.get_field_by_name("items").context("items")?;
            assert!(matches!(items.as_ref(), Value::List(l) if l.len() == 1));
            let addr = dynamic
                .get_field_by_name("billing_address")
                .context("address")?;
            let name = addr
                .as_message()
                .and_then(|a| a.get_field_by_name("last_name"))
                .and_then(|v| v.as_str().map(str::to_owned));
            assert_eq!(name.as_deref(), Some("O'Brien"));
        }
    }
    Ok(())
}
