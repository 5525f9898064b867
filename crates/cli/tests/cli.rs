//! The `nopbridge` binary against a real reconciler (real broker and PostgreSQL), and against
//! nothing at all.
use anyhow::{bail, Result};
use nopbridge_kafka::{ensure_topics, OutgoingRecord, Producer, TopicSpec};
use nopbridge_proto::{
    commands::v1::{
        Command, CommandResult, OrderReference, ResultStatus, TargetKind, TargetRecord,
    },
    events::v1::Money,
};
use nopbridge_reconciler::ledger::Ledger;
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use std::time::Duration;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn nopbridge(args: &[&str]) -> Result<Run> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_nopbridge"))
        .args(args)
        .env_remove("NOPBRIDGE_GRPC__AUTH_TOKEN")
        .output()
        .await?;
    Ok(Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::test]
async fn an_unreachable_service_is_a_clear_error_with_exit_code_2() -> Result<()> {
    let url = format!("http://127.0.0.1:{}", free_port()?);
    let run = nopbridge(&["--reconciler", &url, "trace", "1001"]).await?;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("cannot reach reconciler at {url}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("scripts/stack.sh demo"),
        "{}",
        run.stderr
    );
    Ok(())
}

fn result(order_id: i64) -> CommandResult {
    CommandResult {
        command_id: format!("cmd-{order_id}"),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        source_event_ids: vec![format!("evt-{order_id}")],
        order: Some(OrderReference {
            order_id,
            order_number: format!("SO-{order_id}"),
            ..Default::default()
        }),
        status: ResultStatus::Created as i32,
        records: vec![TargetRecord {
            entity: "SalesReceipt".into(),
            target_id: format!("{}", 500 + order_id),
            version: "0".into(),
            document_number: format!("SO-{order_id}"),
            total: Some(Money {
                minor_units: 4_250,
                currency: "EUR".into(),
            }),
            role: "sale".into(),
        }],
        attempts: 2,
        command_kind: "post_sale".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_trace_dlq_and_replay_against_a_running_reconciler() -> Result<()> {
    let broker = Broker::start().await?;
    let db = TestDb::create().await?;
    let kafka = broker.kafka_config();
    let (results, dlq, commands) = (
        unique("sink.results"),
        unique("dlq.connector_sink"),
        unique("sink.quickbooks_online.commands"),
    );
    let specs: Vec<TopicSpec> = [&results, &dlq, &commands]
        .iter()
        .map(|t| TopicSpec::new(*t, 1))
        .collect();
    ensure_topics(&kafka, &specs).await?;
    let producer = Producer::new(&kafka)?;
    producer
        .send(OutgoingRecord::new(
            &results,
            b"qbo-1",
            &result(7).encode_to_vec(),
        ))
        .await?;
    let dead = Command {
        command_id: "cmd-9".into(),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        order: Some(OrderReference {
            order_id: 9,
            order_number: "SO-9".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let out = OutgoingRecord::new(&dlq, b"qbo-1", &dead)
        .header("dlq_source_topic", commands.as_str())
        .header("dlq_stage", "connector_sink")
        .header("dlq_error_class", "validation")
        .header(
            "dlq_error_message",
            "6000 on Line.Amount: the total does not add up",
        );
    producer.send(out).await?;

    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("reconciler.toml");
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\n[grpc]\nlisten = \"127.0.0.1:{port}\"\nauth_token = \"s3cret\"\n\
             [consumer]\ngroup_id = \"{}\"\ntopics = [\"{results}\", \"{dlq}\"]\n\
             [service]\ndatabase_url = \"{}\"\n",
            broker.bootstrap(),
            unique("reconciler"),
            db.url
        ),
    )?;
    let cfg: nopbridge_reconciler::Config = nopbridge_runtime::config::load(Some(path))?;
    let stop = nopbridge_kafka::CancellationToken::new();
    let service = tokio::spawn(nopbridge_reconciler::run(cfg, stop.clone()));
    let ledger = Ledger::connect(&db.url).await?;
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    while ledger.query(None, None, None, None, 10).await?.len() < 2 {
        if tokio::time::Instant::now() > end {
            bail!("the reconciler did not apply the records within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let url = format!("http://127.0.0.1:{port}");
    let base = ["--reconciler", url.as_str(), "--token", "s3cret"];
    let with = |rest: &[&'static str]| -> Vec<&str> {
        base.iter().copied().chain(rest.iter().copied()).collect()
    };

    let wrong = nopbridge(&["--reconciler", &url, "--token", "nope", "dlq", "list"]).await?;
    assert_eq!(wrong.code, 2);
    assert!(
        wrong.stderr.contains("refused the control token"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("nope") && !wrong.stderr.contains("s3cret"));

    let list = nopbridge(&with(&["dlq", "list"])).await?;
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("SO-9"), "{}", list.stdout);
    assert!(
        list.stdout.contains("6000 on Line.Amount"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("Fix the store data or the mapping"),
        "{}",
        list.stdout
    );

    let trace = nopbridge(&with(&["trace", "SO-7"])).await?;
    assert_eq!(trace.code, 0, "{}", trace.stderr);
    assert!(trace.stdout.contains("42.50 EUR"), "{}", trace.stdout);
    assert!(
        trace.stdout.contains("SalesReceipt SO-7"),
        "{}",
        trace.stdout
    );
    assert!(trace.stdout.contains("result"), "{}", trace.stdout);
    let missing = nopbridge(&with(&["trace", "SO-404"])).await?;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("not in the ledger"),
        "{}",
        missing.stderr
    );

    let ledger_out = nopbridge(&with(&["ledger", "--status", "posted"])).await?;
    assert!(ledger_out.stdout.contains("SO-7") && !ledger_out.stdout.contains("SO-9"));

    // Status: the reconciler answers, the other three are not running here.
    let status = nopbridge(&with(&[
        "--ingest",
        "http://127.0.0.1:9",
        "--transform",
        "http://127.0.0.1:9",
        "--connector-sink",
        "http://127.0.0.1:9",
        "status",
    ]))
    .await?;
    assert_eq!(status.code, 2, "{}", status.stderr);
    let row = status
        .stdout
        .lines()
        .find(|l| l.starts_with("reconciler"))
        .unwrap_or_default();
    assert!(row.contains("up"), "{}", status.stdout);
    assert!(status
        .stdout
        .lines()
        .any(|l| l.starts_with("ingest") && l.contains("UNREACHABLE")));

    let dry = nopbridge(&with(&["dlq", "replay", "--dry-run"])).await?;
    assert!(dry.stdout.contains("would replay 1"), "{}", dry.stdout);
    let replay = nopbridge(&with(&["dlq", "replay", "--connection", "qbo-1"])).await?;
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert!(
        replay.stdout.contains("replayed 1, missing 0"),
        "{}",
        replay.stdout
    );
    let back = nopbridge_kafka::read_topic(&kafka, &commands, 5, Duration::from_secs(3)).await?;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].payload(), dead.as_slice());

    // Reconcile: no store events in this ledger, so nothing to compare; a reversed range is
    // refused with what to do.
    let none = nopbridge(&with(&[
        "reconcile",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
    ]))
    .await?;
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(
        none.stdout
            .contains("0 orders created 2026-01-01 to 2026-12-31"),
        "{}",
        none.stdout
    );
    assert!(none.stdout.contains("no drift"), "{}", none.stdout);
    let reversed = nopbridge(&with(&[
        "reconcile",
        "--from",
        "2026-12-31",
        "--to",
        "2026-01-01",
    ]))
    .await?;
    assert_eq!(reversed.code, 1);
    assert!(
        reversed.stderr.contains("give the earlier date first"),
        "{}",
        reversed.stderr
    );

    stop.cancel();
    service.await??;
    Ok(())
}
