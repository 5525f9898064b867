//! The ledger against a real PostgreSQL database (and, end to end, a real broker).
use anyhow::{bail, Context, Result};
use nopbridge_kafka::{ensure_topics, Handler, OutgoingRecord, Producer, Record, TopicSpec};
use nopbridge_proto::{
    commands::v1::{
        Command, CommandResult, OrderReference, ResultStatus, TargetKind, TargetRecord,
    },
    events::v1::Money,
};
use nopbridge_reconciler::{
    ledger::{EntityKey, Ledger},
    LedgerFeed,
};
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use std::time::Duration;

fn result(order_id: i64, status: ResultStatus, target_id: &str, version: &str) -> CommandResult {
    CommandResult {
        command_id: format!("cmd-{order_id}-{version}"),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        tenant_id: "acme".into(),
        store_id: "1".into(),
        source_event_ids: vec![format!("evt-{order_id}-{version}")],
        order: Some(OrderReference {
            order_id,
            order_number: format!("{order_id}"),
            ..Default::default()
        }),
        status: status as i32,
        records: vec![TargetRecord {
            entity: "SalesReceipt".into(),
            target_id: target_id.into(),
            version: version.into(),
            document_number: format!("{order_id}"),
            total: Some(Money {
                minor_units: 12_345,
                currency: "USD".into(),
            }),
            role: "sale".into(),
        }],
        attempts: 1,
        command_kind: "post_sale".into(),
        ..Default::default()
    }
}

fn record(topic: &str, offset: i64, payload: Vec<u8>, headers: Vec<(&str, &str)>) -> Record {
    Record {
        topic: topic.into(),
        partition: 0,
        offset,
        key: Some(b"qbo-1".to_vec()),
        payload: Some(payload),
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
            .collect(),
        timestamp_ms: None,
    }
}

fn order_key(id: i64) -> EntityKey {
    EntityKey {
        connection_id: "qbo-1".into(),
        entity_type: "order".into(),
        source_id: id.to_string(),
    }
}

#[tokio::test]
async fn results_and_dead_letters_build_the_ledger_once_each() -> Result<()> {
    let db = TestDb::create().await?;
    let ledger = Ledger::connect(&db.url).await?;
    let feed = LedgerFeed {
        ledger: ledger.clone(),
    };

    // Posted, then updated (new SyncToken), then the same record redelivered after a crash.
    let posted = record(
        "sink.results.v1",
        10,
        result(1043, ResultStatus::Created, "177", "0").encode_to_vec(),
        vec![],
    );
    let updated = record(
        "sink.results.v1",
        11,
        result(1043, ResultStatus::Updated, "177", "1").encode_to_vec(),
        vec![],
    );
    feed.handle(&posted).await?;
    feed.handle(&updated).await?;
    feed.handle(&updated).await?;
    let e = ledger
        .entry(&order_key(1043))
        .await?
        .context("order 1043 in ledger")?;
    assert_eq!(
        (
            e.status.as_str(),
            e.target_id.as_deref(),
            e.target_version.as_deref()
        ),
        ("updated", Some("177"), Some("1"))
    );
    assert_eq!(
        (e.total_minor, e.currency.as_deref()),
        (Some(12_345), Some("USD"))
    );
    assert_eq!(e.attempts, 2, "the redelivered record was applied twice");
    assert_eq!(e.order_number.as_deref(), Some("1043"));
    assert_eq!(ledger.trail(&order_key(1043)).await?.len(), 2);
    assert_eq!(
        ledger.count_target_records(&order_key(1043)).await?,
        1,
        "same document, not a second one"
    );

    // A command the connector dead-lettered: visible with its reason.
    let cmd = Command {
        command_id: "cmd-2001".into(),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: Some(OrderReference {
            order_id: 2001,
            order_number: "2001".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let dead = record(
        "dlq.connector_sink.v1",
        3,
        cmd.encode_to_vec(),
        vec![
            ("dlq_source_topic", "sink.quickbooks_online.commands.v1"),
            ("dlq_stage", "connector_sink"),
            ("dlq_error_class", "reference"),
            (
                "dlq_error_message",
                "item SKU-404 not found and item creation is off",
            ),
            ("dlq_attempts", "1"),
        ],
    );
    feed.handle(&dead).await?;
    let e = ledger
        .entry(&order_key(2001))
        .await?
        .context("order 2001 in ledger")?;
    assert_eq!(e.status, "dead_lettered");
    assert!(
        e.last_error
            .as_deref()
            .is_some_and(|m| m.contains("SKU-404") && m.contains("reference")),
        "{e:?}"
    );

    // Queries by order number and status.
    assert_eq!(
        ledger
            .query(Some("2001"), None, None, None, 10)
            .await?
            .len(),
        1
    );
    assert_eq!(
        ledger
            .query(None, Some("dead_lettered"), None, None, 10)
            .await?
            .len(),
        1
    );

    // The audit trail cannot be rewritten.
    let denied = sqlx::query("UPDATE audit_trail SET status = 'x'")
        .execute(ledger.pool())
        .await;
    assert!(denied.is_err(), "audit trail accepted an UPDATE");
    let denied = sqlx::query("DELETE FROM audit_trail")
        .execute(ledger.pool())
        .await;
    assert!(denied.is_err(), "audit trail accepted a DELETE");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_feeds_the_ledger_from_its_topics() -> Result<()> {
    let broker = Broker::start().await?;
    let db = TestDb::create().await?;
    let (results, dlq) = (unique("sink.results"), unique("dlq.connector_sink"));
    let kafka = broker.kafka_config();
    ensure_topics(
        &kafka,
        &[TopicSpec::new(&results, 2), TopicSpec::new(&dlq, 1)],
    )
    .await?;
    let producer = Producer::new(&kafka)?;
    for id in 1..=20 {
        let r = result(id, ResultStatus::Created, &format!("{}", 100 + id), "0");
        producer
            .send(OutgoingRecord::new(&results, b"qbo-1", &r.encode_to_vec()))
            .await?;
    }

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("reconciler.toml");
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\n[consumer]\ngroup_id = \"{}\"\ntopics = [\"{results}\", \"{dlq}\"]\n[service]\ndatabase_url = \"{}\"\n",
            broker.bootstrap(),
            unique("reconciler"),
            db.url
        ),
    )?;
    let cfg: nopbridge_reconciler::Config = nopbridge_runtime::config::load(Some(path))?;
    let stop = nopbridge_kafka::CancellationToken::new();
    let run = tokio::spawn(nopbridge_reconciler::run(cfg, stop.clone()));

    let ledger = Ledger::connect(&db.url).await?;
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    while ledger
        .query(None, Some("posted"), None, None, 100)
        .await?
        .len()
        < 20
    {
        if tokio::time::Instant::now() > end {
            bail!("ledger incomplete after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    run.await??;
    let e = ledger.entry(&order_key(7)).await?.context("order 7")?;
    assert_eq!(e.target_id.as_deref(), Some("107"));
    Ok(())
}
