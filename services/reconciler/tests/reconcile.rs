//! Drift detection and repair over a date range (real broker and PostgreSQL): the ledger
//! shows what was never posted or failed; a repair sends each order's latest event again
//! marked for verification and reports what the targets corrected or re-created.
use anyhow::{Context, Result};
use nopbridge_kafka::{
    ensure_topics, read_topic, Handler, OutgoingRecord, Producer, Record, TopicSpec,
};
use nopbridge_proto::{
    commands::v1::{
        command::Body, Command, CommandResult, OrderReference, PostSale, ResultStatus, TargetKind,
        TargetRecord,
    },
    events::v1::{EventMeta, Money, Order},
};
use nopbridge_reconciler::{
    ledger::Ledger,
    reconcile::{Drift, Reconciler},
    LedgerFeed,
};
use nopbridge_runtime::topics::VERIFY_TARGET_HEADER;
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use std::time::Duration;

const CONNECTION: &str = "qbo-1";

fn ts(secs: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    })
}

/// 2026-11-01T00:00:00Z plus `days`.
fn day(days: i64) -> i64 {
    1_793_491_200 + days * 86_400
}

fn order_event(id: i64, created: i64) -> Order {
    Order {
        order_id: id,
        meta: Some(EventMeta {
            event_id: format!("evt-{id}"),
            ..EventMeta::default()
        }),
        created_at: ts(created),
        order_total: Some(Money {
            minor_units: 10_000 + id,
            currency: "USD".into(),
        }),
        store_currency: "USD".into(),
        ..Order::default()
    }
}

fn reference(id: i64) -> Option<OrderReference> {
    Some(OrderReference {
        order_id: id,
        order_number: id.to_string(),
        ..OrderReference::default()
    })
}

fn sale_command(id: i64) -> Command {
    Command {
        command_id: format!("cmd-{id}"),
        connection_id: CONNECTION.into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: reference(id),
        body: Some(Body::PostSale(PostSale::default())),
        ..Command::default()
    }
}

fn sale_result(id: i64, status: ResultStatus) -> CommandResult {
    CommandResult {
        command_id: format!("cmd-{id}"),
        connection_id: CONNECTION.into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: reference(id),
        status: status as i32,
        records: vec![TargetRecord {
            entity: "Invoice".into(),
            target_id: format!("{}", 500 + id),
            role: "sale".into(),
            ..TargetRecord::default()
        }],
        attempts: 1,
        command_kind: "post_sale".into(),
        ..CommandResult::default()
    }
}

fn at(topic: &str, offset: i64, payload: Vec<u8>, headers: &[(&str, &str)]) -> Record {
    Record {
        topic: topic.into(),
        partition: 0,
        offset,
        key: Some(CONNECTION.as_bytes().to_vec()),
        payload: Some(payload),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
            .collect(),
        timestamp_ms: None,
    }
}

fn kinds(drift: &[Drift]) -> Vec<(String, &'static str)> {
    let mut k: Vec<_> = drift.iter().map(|d| (d.order_id.clone(), d.kind)).collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_found_in_the_range_and_repaired_through_the_targets() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let db = TestDb::create().await?;
    let events = unique("canonical.order");
    ensure_topics(&kafka, &[TopicSpec::new(&events, 1)]).await?;
    let ledger = Ledger::connect(&db.url).await?;
    let feed = LedgerFeed {
        ledger: ledger.clone(),
        write_back: None,
    };

    // Orders 1–3 created in the range, order 4 before it. The store's events go through the
    // broker (repair reads them back from there) and into the trace.
    let producer = Producer::new(&kafka)?;
    for (id, created) in [(1, day(1)), (2, day(2)), (3, day(3)), (4, day(-30))] {
        let payload = order_event(id, created).encode_to_vec();
        let key = format!("acme/1/order/{id}");
        producer
            .send(
                OutgoingRecord::new(&events, key.as_bytes(), &payload)
                    .header("ce_id", format!("evt-{id}")),
            )
            .await?;
    }
    for r in read_topic(&kafka, &events, 4, Duration::from_secs(20)).await? {
        feed.handle(&r).await?;
    }
    let commands = "sink.quickbooks_online.commands.v1";
    for id in 1..=4 {
        feed.handle(&at(commands, id, sale_command(id).encode_to_vec(), &[]))
            .await?;
    }
    // Order 1 posted, order 2 dead-lettered, order 3 never answered, order 4 posted.
    let results = "sink.results.v1";
    feed.handle(&at(
        results,
        1,
        sale_result(1, ResultStatus::Created).encode_to_vec(),
        &[],
    ))
    .await?;
    feed.handle(&at(
        results,
        4,
        sale_result(4, ResultStatus::Created).encode_to_vec(),
        &[],
    ))
    .await?;
    let mut dead = sale_command(2);
    dead.order = reference(2);
    feed.handle(&at(
        "dlq.connector_sink.v1",
        1,
        dead.encode_to_vec(),
        &[
            ("dlq_source_topic", commands),
            ("dlq_stage", "connector_sink"),
            ("dlq_error_class", "validation"),
            ("dlq_error_message", "6000 business validation"),
            ("dlq_attempts", "1"),
        ],
    ))
    .await?;

    let reconciler = Reconciler {
        ledger: ledger.clone(),
        kafka: kafka.clone(),
        producer: producer.clone(),
    };
    let range = (
        chrono::DateTime::from_timestamp(day(0), 0),
        chrono::DateTime::from_timestamp(day(10), 0),
    );
    let (tx, _rx) = tokio::sync::mpsc::channel(64);
    let report = reconciler
        .run(range.0, range.1, false, Duration::ZERO, None, tx)
        .await?;
    assert_eq!(report.orders, 3, "order 4 is outside the range");
    assert_eq!(
        kinds(&report.drift),
        vec![("2".to_string(), "failed"), ("3".to_string(), "not_posted")]
    );

    // Repair: every order in the range goes out again, marked; the targets answer.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let repair = tokio::spawn({
        let r = Reconciler {
            ledger: ledger.clone(),
            kafka: kafka.clone(),
            producer: producer.clone(),
        };
        async move {
            r.run(range.0, range.1, true, Duration::from_secs(60), None, tx)
                .await
        }
    });
    // Wait until the three events are out again.
    while let Some(p) = rx.recv().await {
        if p.phase == "waiting" {
            break;
        }
    }
    let again = read_topic(&kafka, &events, 7, Duration::from_secs(10)).await?;
    let marked: Vec<String> = again
        .iter()
        .filter(|r| r.header(VERIFY_TARGET_HEADER).is_some())
        .map(|r| r.key_str())
        .collect();
    assert_eq!(
        marked.len(),
        3,
        "orders 1–3 re-emitted once each: {marked:?}"
    );
    assert!(!marked.contains(&"acme/1/order/4".to_string()));
    let resent = again
        .iter()
        .find(|r| r.key_str() == "acme/1/order/2" && r.header(VERIFY_TARGET_HEADER).is_some())
        .context("order 2 re-emitted")?;
    assert_eq!(
        Order::decode(resent.payload())?.order_id,
        2,
        "the same event, byte for byte"
    );
    assert_eq!(resent.header_str("ce_id").as_deref(), Some("evt-2"));

    // The targets' answers: 1 was right, 2 was posted now, 3 was corrected.
    for (offset, id, status) in [
        (10, 1, ResultStatus::Unchanged),
        (11, 2, ResultStatus::Created),
        (12, 3, ResultStatus::Updated),
    ] {
        feed.handle(&at(
            results,
            offset,
            sale_result(id, status).encode_to_vec(),
            &[],
        ))
        .await?;
    }
    while rx.recv().await.is_some() {}
    let report = repair.await??;
    assert_eq!(report.phase, "done");
    assert_eq!(report.in_sync, 1);
    assert_eq!(
        kinds(&report.drift),
        vec![
            ("2".to_string(), "recreated"),
            ("3".to_string(), "corrected")
        ]
    );
    Ok(())
}

fn summary_reference(document: &str, orders: &[i64]) -> Option<OrderReference> {
    Some(OrderReference {
        document_number: document.into(),
        included_order_ids: orders.to_vec(),
        ..OrderReference::default()
    })
}

/// Orders posted in a daily summary: their trace shows the summary's command, result and
/// ledger row, and reconciliation judges them by their summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_in_a_daily_summary_are_traced_and_reconciled_by_it() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let db = TestDb::create().await?;
    let ledger = Ledger::connect(&db.url).await?;
    let feed = LedgerFeed {
        ledger: ledger.clone(),
        write_back: None,
    };
    let events = "canonical.order.v1";
    for id in [11, 12, 13] {
        feed.handle(&at(
            events,
            id,
            order_event(id, day(1)).encode_to_vec(),
            &[],
        ))
        .await?;
    }
    // Summary S1 holds orders 11 and 12 and is posted; S2 holds order 13 and has no answer.
    let commands = "sink.quickbooks_online.commands.v1";
    let summary = |id: &str, document: &str, orders: &[i64]| Command {
        command_id: id.into(),
        connection_id: CONNECTION.into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: summary_reference(document, orders),
        body: Some(Body::PostSale(PostSale::default())),
        ..Command::default()
    };
    let s1 = at(
        commands,
        1,
        summary("cmd-s1", "S1", &[11, 12]).encode_to_vec(),
        &[],
    );
    feed.handle(&s1).await?;
    feed.handle(&s1).await?;
    let s2 = summary("cmd-s2", "S2", &[13]);
    feed.handle(&at(commands, 2, s2.encode_to_vec(), &[]))
        .await?;
    let result = CommandResult {
        command_id: "cmd-s1".into(),
        order: summary_reference("S1", &[11, 12]),
        records: vec![TargetRecord {
            entity: "SalesReceipt".into(),
            target_id: "900".into(),
            document_number: "S1".into(),
            role: "sale".into(),
            ..TargetRecord::default()
        }],
        ..sale_result(0, ResultStatus::Created)
    };
    feed.handle(&at("sink.results.v1", 1, result.encode_to_vec(), &[]))
        .await?;

    let (id, entries, steps) = ledger.trace("11").await?;
    assert_eq!(id, "11");
    let s1_row = entries
        .iter()
        .find(|e| e.entity_type == "daily_summary")
        .context("the summary's ledger row in the order's trace")?;
    assert_eq!(
        (
            s1_row.source_id.as_str(),
            s1_row.status.as_str(),
            s1_row.target_id.as_deref()
        ),
        ("S1", "posted", Some("900"))
    );
    let kinds_of: Vec<&str> = steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds_of,
        ["event", "command", "result"],
        "once each, redelivery included"
    );

    let reconciler = Reconciler {
        ledger: ledger.clone(),
        kafka: kafka.clone(),
        producer: Producer::new(&kafka)?,
    };
    let range = (
        chrono::DateTime::from_timestamp(day(0), 0),
        chrono::DateTime::from_timestamp(day(10), 0),
    );
    let check = || async {
        let (tx, _rx) = tokio::sync::mpsc::channel(64);
        reconciler
            .run(range.0, range.1, false, Duration::ZERO, None, tx)
            .await
    };
    let report = check().await?;
    assert_eq!(report.orders, 3);
    assert_eq!(kinds(&report.drift), vec![("13".to_string(), "not_posted")]);
    assert!(report.drift[0].detail.contains("S2"), "{:?}", report.drift);

    // The sink gives up on S2: its dead letter lands on the summary's row.
    feed.handle(&at(
        "dlq.connector_sink.v1",
        1,
        s2.encode_to_vec(),
        &[
            ("dlq_source_topic", commands),
            ("dlq_stage", "connector_sink"),
            ("dlq_error_class", "validation"),
            ("dlq_error_message", "6000 business validation"),
        ],
    ))
    .await?;
    let report = check().await?;
    assert_eq!(kinds(&report.drift), vec![("13".to_string(), "failed")]);
    Ok(())
}
