//! `nopbridge summaries list|close` against a real transform (real broker and PostgreSQL)
//! with one daily-summary connection.
use anyhow::{bail, Result};
use nopbridge_kafka::{ensure_topics, CloudEvent, OutgoingRecord, Producer, TopicSpec};
use nopbridge_testkit::{orders::paid_order, unique, Broker, TestDb};
use prost::Message;
use std::path::Path;
use std::time::Duration;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn nopbridge(url: &str, args: &[&str]) -> Result<Run> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_nopbridge"))
        .args(["--transform", url])
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_list_and_close_a_day() -> Result<()> {
    let broker = Broker::start().await?;
    let db = TestDb::create().await?;
    let kafka = broker.kafka_config();
    let (source, suffix, dlq) = (
        unique("canonical.order"),
        format!("-{}", unique("t")),
        unique("dlq.transform"),
    );
    ensure_topics(
        &kafka,
        &[
            TopicSpec::new(&source, 1),
            TopicSpec::new(format!("sink.quickbooks_online.commands.v1{suffix}"), 1),
            TopicSpec::new(&dlq, 1),
        ],
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mapping/examples/connection.yaml"),
    )?
    .replace("mode: per_order ", "mode: daily_summary")
    .replace("fixed_customer: \"\"", "fixed_customer: \"Web Sales\"");
    let mapping = dir.path().join("qbo.yaml");
    std::fs::write(&mapping, example)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.path().join("transform.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\n[grpc]\nlisten = \"127.0.0.1:{port}\"\n\
             [consumer]\ngroup_id = \"{}\"\ntopics = [\"{source}\"]\ndlq_topic = \"{dlq}\"\n\
             [service]\nmapping_files = [\"{}\"]\ncommand_topic_suffix = \"{suffix}\"\n\
             database_url = \"{}\"\nsummary_check_interval_ms = 200\n",
            broker.bootstrap(),
            unique("transform"),
            mapping.display(),
            db.url,
        ),
    )?;
    let cfg: nopbridge_transform::Config = nopbridge_runtime::config::load(Some(config))?;
    let stop = nopbridge_kafka::CancellationToken::new();
    let run = tokio::spawn(nopbridge_transform::run(cfg, stop.clone()));
    let url = format!("http://127.0.0.1:{port}");

    // Paid on 2024-03-14 in UTC-5 (the example mapping's business day).
    let payload = paid_order(1001, 1_710_408_067).encode_to_vec();
    let ce = CloudEvent::protobuf("evt-1001", "test", "nopbridge.events.v1.Order");
    Producer::new(&kafka)?
        .send(OutgoingRecord::new(&source, b"acme/1/order/1001", &payload).event(&ce, None))
        .await?;

    // The order waits under its day (transform started just now: the day waits an hour).
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let r = nopbridge(&url, &["summaries", "list"]).await?;
        if r.code == 0 && r.stdout.contains("2024-03-14") {
            break r;
        }
        if tokio::time::Instant::now() > end {
            bail!("the day never showed: {} {}", r.stdout, r.stderr);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let row = listed
        .stdout
        .lines()
        .find(|l| l.contains("2024-03-14"))
        .unwrap_or_default();
    assert!(
        row.contains("qbo-realm-1") && row.contains("open") && row.contains(" 1 "),
        "{}",
        listed.stdout
    );

    let closed = nopbridge(
        &url,
        &[
            "summaries",
            "close",
            "--connection",
            "qbo-realm-1",
            "--date",
            "2024-03-14",
        ],
    )
    .await?;
    assert_eq!(closed.code, 0, "{}{}", closed.stdout, closed.stderr);
    assert!(
        closed
            .stdout
            .contains("day 2024-03-14 of qbo-realm-1 closed: 1 summaries posted for 1 orders"),
        "{}",
        closed.stdout
    );
    let again = nopbridge(
        &url,
        &[
            "summaries",
            "close",
            "--connection",
            "qbo-realm-1",
            "--date",
            "2024-03-14",
        ],
    )
    .await?;
    assert!(again.stdout.contains("already closed"), "{}", again.stdout);
    let all = nopbridge(&url, &["summaries", "list", "--all"]).await?;
    assert!(
        all.stdout
            .lines()
            .any(|l| l.contains("2024-03-14") && l.contains("closed") && l.contains("operator")),
        "{}",
        all.stdout
    );
    let unknown = nopbridge(
        &url,
        &[
            "summaries",
            "close",
            "--connection",
            "nope",
            "--date",
            "2024-03-14",
        ],
    )
    .await?;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("qbo-realm-1"),
        "names the daily-summary connections: {}",
        unknown.stderr
    );

    stop.cancel();
    run.await??;
    Ok(())
}
