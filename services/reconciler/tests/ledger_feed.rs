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

/// A command as the sink dead-lettered it, read from its DLQ topic.
fn sink_dead_letter(
    offset: i64,
    cmd: &Command,
    class: &str,
    message: &str,
    attempts: u32,
) -> Record {
    let attempts = attempts.to_string();
    record(
        "dlq.connector_sink.v1",
        offset,
        cmd.encode_to_vec(),
        vec![
            ("dlq_source_topic", "sink.quickbooks_online.commands.v1"),
            ("dlq_stage", "connector_sink"),
            ("dlq_error_class", class),
            ("dlq_error_message", message),
            ("dlq_attempts", &attempts),
        ],
    )
}

/// A ledger on a database of its own, and the feed writing to it (no write-back).
async fn fresh_feed() -> Result<(TestDb, Ledger, LedgerFeed)> {
    let db = TestDb::create().await?;
    let ledger = Ledger::connect(&db.url).await?;
    let feed = LedgerFeed {
        ledger: ledger.clone(),
        write_back: None,
    };
    Ok((db, ledger, feed))
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
    let (_db, ledger, feed) = fresh_feed().await?;

    // Posted, then updated (new SyncToken), then both records redelivered after a crash: the
    // older one must not take the ledger back.
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
    feed.handle(&posted).await?;
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
    let dead = sink_dead_letter(
        3,
        &cmd,
        "reference",
        "item SKU-404 not found and item creation is off",
        1,
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

#[tokio::test]
async fn a_failed_result_and_its_dead_letter_count_the_attempts_once() -> Result<()> {
    let (_db, ledger, feed) = fresh_feed().await?;
    // The sink reports the failure on the results topic and dead-letters the command: two
    // records about the same three attempts.
    let mut failed = result(3001, ResultStatus::Failed, "", "0");
    failed.records.clear();
    failed.attempts = 3;
    feed.handle(&record(
        "sink.results.v1",
        1,
        failed.encode_to_vec(),
        vec![],
    ))
    .await?;
    let cmd = Command {
        command_id: failed.command_id.clone(),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: Some(OrderReference {
            order_id: 3001,
            order_number: "3001".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let dead = |offset| sink_dead_letter(offset, &cmd, "retries_exhausted", "503 three times", 3);
    feed.handle(&dead(7)).await?;
    let e = ledger
        .entry(&order_key(3001))
        .await?
        .context("order 3001 in ledger")?;
    assert_eq!(e.status, "dead_lettered");
    assert_eq!(
        e.attempts, 3,
        "the same command's attempts are not added twice"
    );

    // A later command for the same order (a replay that failed again) adds its attempts.
    let mut again = failed.clone();
    again.command_id = "cmd-3001-replayed".into();
    again.attempts = 2;
    feed.handle(&record("sink.results.v1", 2, again.encode_to_vec(), vec![]))
        .await?;
    let e = ledger
        .entry(&order_key(3001))
        .await?
        .context("order 3001 in ledger")?;
    assert_eq!(e.attempts, 5);
    Ok(())
}

/// A command the sink could not read a body from, and with no order: its failed result
/// and its dead letter name its kind the same way, so they are one ledger entry.
#[tokio::test]
async fn a_command_without_order_or_body_is_one_entry_for_its_result_and_dead_letter() -> Result<()>
{
    let (_db, ledger, feed) = fresh_feed().await?;
    let cmd = Command {
        command_id: "cmd-bodyless".into(),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        source_event_ids: vec!["evt-bodyless".into()],
        ..Default::default()
    };
    let failed = CommandResult {
        command_id: cmd.command_id.clone(),
        connection_id: cmd.connection_id.clone(),
        target: cmd.target,
        source_event_ids: cmd.source_event_ids.clone(),
        status: ResultStatus::Failed as i32,
        attempts: 1,
        command_kind: cmd.kind_name().into(),
        ..Default::default()
    };
    feed.handle(&record(
        "sink.results.v1",
        1,
        failed.encode_to_vec(),
        vec![],
    ))
    .await?;
    feed.handle(&sink_dead_letter(
        1,
        &cmd,
        "validation",
        "the command has no body",
        1,
    ))
    .await?;
    let key = EntityKey {
        connection_id: "qbo-1".into(),
        entity_type: cmd.kind_name().into(),
        source_id: "evt-bodyless".into(),
    };
    let e = ledger.entry(&key).await?.context("the command's entry")?;
    assert_eq!((e.status.as_str(), e.attempts), ("dead_lettered", 1));
    Ok(())
}

#[tokio::test]
async fn a_dead_letter_read_before_its_failed_result_stays_dead_lettered() -> Result<()> {
    let (_db, ledger, feed) = fresh_feed().await?;
    // The reconciler reads the dead-letter and results topics concurrently: here the dead
    // letter of the command comes first, then its FAILED result.
    let mut failed = result(3002, ResultStatus::Failed, "", "0");
    failed.records.clear();
    let cmd = Command {
        command_id: failed.command_id.clone(),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: Some(OrderReference {
            order_id: 3002,
            order_number: "3002".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    feed.handle(&sink_dead_letter(
        1,
        &cmd,
        "validation",
        "the item does not exist",
        1,
    ))
    .await?;
    feed.handle(&record(
        "sink.results.v1",
        1,
        failed.encode_to_vec(),
        vec![],
    ))
    .await?;
    let e = ledger
        .entry(&order_key(3002))
        .await?
        .context("order 3002 in ledger")?;
    assert_eq!(e.status, "dead_lettered", "listed as a dead letter: {e:?}");
    assert_eq!(e.attempts, 1);

    // A later command for the order that posts replaces the state.
    let mut posted = result(3002, ResultStatus::Created, "77", "1");
    posted.command_id = "cmd-3002-replayed".into();
    feed.handle(&record(
        "sink.results.v1",
        2,
        posted.encode_to_vec(),
        vec![],
    ))
    .await?;
    let e = ledger
        .entry(&order_key(3002))
        .await?
        .context("order 3002 in ledger")?;
    assert_eq!(e.status, "posted");
    Ok(())
}

/// Steps are written in groups (one insert for the handlers waiting together): every one
/// of 300 commands handled at once, and again when all are redelivered at once, is in its
/// order's trail exactly once, with what it said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_handled_together_are_each_recorded_once() -> Result<()> {
    let (_db, ledger, feed) = fresh_feed().await?;
    let topic = "sink.quickbooks_online.commands.v1";
    let records: Vec<Record> = (1..=300)
        .map(|id| {
            let c = Command {
                command_id: format!("cmd-{id}"),
                connection_id: "qbo-1".into(),
                target: TargetKind::QuickbooksOnline as i32,
                order: Some(OrderReference {
                    order_id: id,
                    order_number: format!("{id}"),
                    document_number: format!("D{id}"),
                    ..Default::default()
                }),
                ..Default::default()
            };
            record(topic, id, c.encode_to_vec(), vec![])
        })
        .collect();
    for _delivery in 0..2 {
        futures::future::try_join_all(records.iter().map(|r| feed.handle(r)))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for id in 1..=300 {
        let trail = ledger.trail(&order_key(id)).await?;
        let commands: Vec<_> = trail.iter().filter(|r| r.kind == "command").collect();
        assert_eq!(commands.len(), 1, "order {id}: {trail:?}");
        assert_eq!(
            commands[0].command_id.as_deref(),
            Some(format!("cmd-{id}").as_str())
        );
        assert_eq!(commands[0].detail["document_number"], format!("D{id}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_feeds_the_ledger_and_answers_traces() -> Result<()> {
    use nopbridge_proto::control::v1::{
        ledger_client::LedgerClient, DeadLetterQuery, LedgerQuery, ReplayRequest, TraceRequest,
    };
    use nopbridge_reconciler::replay::REPLAY_OF_HEADER;
    let broker = Broker::start().await?;
    let db = TestDb::create().await?;
    let (results, dlq) = (unique("sink.results"), unique("dlq.connector_sink"));
    let (events, commands) = (
        unique("canonical.order"),
        unique("sink.quickbooks_online.commands"),
    );
    let kafka = broker.kafka_config();
    let specs: Vec<TopicSpec> = [&results, &dlq, &events, &commands]
        .iter()
        .map(|t| TopicSpec::new(*t, 1))
        .collect();
    ensure_topics(&kafka, &specs).await?;
    let producer = Producer::new(&kafka)?;
    // Order 7's path: the store event, the command, the connector's result.
    let event = nopbridge_proto::events::v1::Order {
        meta: Some(nopbridge_proto::events::v1::EventMeta {
            event_id: "evt-7".into(),
            ..Default::default()
        }),
        order_id: 7,
        ..Default::default()
    };
    producer
        .send(OutgoingRecord::new(
            &events,
            b"acme/1/order/7",
            &event.encode_to_vec(),
        ))
        .await?;
    let command = Command {
        command_id: "cmd-7".into(),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: Some(OrderReference {
            order_id: 7,
            order_number: "7".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    producer
        .send(OutgoingRecord::new(
            &commands,
            b"qbo-1",
            &command.encode_to_vec(),
        ))
        .await?;
    for id in 1..=20 {
        let r = result(id, ResultStatus::Created, &format!("{}", 100 + id), "0");
        producer
            .send(OutgoingRecord::new(&results, b"qbo-1", &r.encode_to_vec()))
            .await?;
    }
    let dead = Command {
        order: Some(OrderReference {
            order_id: 99,
            order_number: "99".into(),
            ..Default::default()
        }),
        ..command.clone()
    };
    let headers = [
        ("dlq_source_topic", commands.as_str()),
        ("dlq_error_class", "validation"),
        ("dlq_error_message", "6000: business rule"),
    ];
    let dead_payload = dead.encode_to_vec();
    let mut out = OutgoingRecord::new(&dlq, b"qbo-1", &dead_payload);
    for (k, v) in headers {
        out = out.header(k, v);
    }
    producer.send(out).await?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("reconciler.toml");
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\n[grpc]\nlisten = \"127.0.0.1:{port}\"\nauth_token = \"tkn\"\n\
             [consumer]\ngroup_id = \"{}\"\ntopics = [\"{results}\", \"{dlq}\", \"{events}\", \"{commands}\"]\n\
             [service]\ndatabase_url = \"{}\"\n",
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
        || ledger
            .query(None, Some("dead_lettered"), None, None, 100)
            .await?
            .is_empty()
    {
        if tokio::time::Instant::now() > end {
            bail!("ledger incomplete after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect()
        .await?;
    let mut client = LedgerClient::with_interceptor(channel, |mut req: tonic::Request<()>| {
        req.metadata_mut().insert(
            "authorization",
            tonic::metadata::MetadataValue::from_static("Bearer tkn"),
        );
        Ok(req)
    });
    // The event and the command may land after the results: wait for all three steps.
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    let trace = loop {
        let t = client
            .trace(TraceRequest { order: "7".into() })
            .await?
            .into_inner();
        let kinds: Vec<&str> = t.steps.iter().map(|s| s.kind.as_str()).collect();
        if ["event", "command", "result"]
            .iter()
            .all(|k| kinds.contains(k))
        {
            break t;
        }
        if tokio::time::Instant::now() > end {
            bail!("trace of order 7 incomplete: {kinds:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(trace.entries.len(), 1);
    assert_eq!(trace.entries[0].target_id, "107");
    assert!(trace
        .steps
        .iter()
        .any(|s| s.kind == "command" && s.command_id == "cmd-7"));
    let missing = client
        .trace(TraceRequest {
            order: "424242".into(),
        })
        .await
        .err()
        .map(|e| e.code());
    assert_eq!(missing, Some(tonic::Code::NotFound));
    let by_number = client
        .query(LedgerQuery {
            order_number: "7".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(by_number.entries.len(), 1);
    let dead = client
        .dead_letters(DeadLetterQuery::default())
        .await?
        .into_inner();
    assert_eq!(dead.entries.len(), 1);
    assert!(
        dead.entries[0].last_error.contains("6000"),
        "{:?}",
        dead.entries[0]
    );

    assert!(dead.entries[0].explanation.contains("mapping"));

    // Replay: a dry run sends nothing, the real one sends the command back once.
    let replay = |dry_run: bool| {
        let mut client = client.clone();
        async move {
            let mut stream = client
                .replay(ReplayRequest {
                    dry_run,
                    ..Default::default()
                })
                .await?
                .into_inner();
            let mut out = Vec::new();
            while let Some(p) = stream.message().await? {
                out.push(p);
            }
            anyhow::Ok(out)
        }
    };
    let dry = replay(true).await?;
    assert_eq!(dry.len(), 1);
    assert_eq!(dry[0].outcome, "would_replay");
    assert_eq!(dry[0].replayed_to, commands);
    let done = replay(false).await?;
    assert_eq!((done.len(), done[0].outcome.as_str()), (1, "replayed"));
    assert_eq!((done[0].done, done[0].total), (1, 1));
    assert!(
        replay(false).await?.is_empty(),
        "a replayed entry is not dead-lettered any more"
    );
    let on_topic =
        nopbridge_kafka::read_topic(&kafka, &commands, 10, Duration::from_secs(3)).await?;
    let again: Vec<_> = on_topic
        .iter()
        .filter(|r| r.header_str(REPLAY_OF_HEADER).is_some())
        .collect();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload(), dead_payload.as_slice());
    assert_eq!(again[0].key.as_deref(), Some(&b"qbo-1"[..]));
    assert!(again[0].headers.iter().all(|(k, _)| !k.starts_with("dlq_")));
    let key = EntityKey {
        connection_id: "qbo-1".into(),
        entity_type: "order".into(),
        source_id: "99".into(),
    };
    let entry = ledger
        .entry(&key)
        .await?
        .context("order 99 in the ledger")?;
    assert_eq!(entry.status, "replayed");
    let trail = ledger.trail(&key).await?;
    assert!(trail.iter().any(|a| a.kind == "replay"));

    stop.cancel();
    run.await??;
    Ok(())
}
