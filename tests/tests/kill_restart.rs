//! SIGKILL a consuming process mid-run and restart it: every record is handled at least
//! once and none is skipped (checked against PostgreSQL, where the handler's effect lives).
use anyhow::{bail, Result};
use nopbridge_kafka::{ensure_topics, OutgoingRecord, Producer, TopicSpec};
use nopbridge_testkit::{unique, Broker, TestDb};
use sqlx::PgPool;
use std::{
    process::{Child, Command},
    time::Duration,
};

const PARTITIONS: i32 = 3;
const RECORDS: i64 = 3_000;

fn spawn_counter(bootstrap: &str, topic: &str, group: &str, db: &str) -> Result<Child> {
    Ok(Command::new(env!("CARGO_BIN_EXE_pg-counter"))
        .args([
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--group",
            group,
            "--database-url",
            db,
        ])
        .env("RUST_LOG", "warn")
        .spawn()?)
}

async fn handled(pool: &PgPool) -> Result<(i64, i64)> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('handled') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok((0, 0));
    }
    let row: (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), sum(count)::bigint FROM handled")
            .fetch_one(pool)
            .await?;
    Ok((row.0, row.1.unwrap_or(0)))
}

async fn wait_handled(pool: &PgPool, at_least: i64, within: Duration) -> Result<()> {
    let end = tokio::time::Instant::now() + within;
    while handled(pool).await?.0 < at_least {
        if tokio::time::Instant::now() > end {
            bail!(
                "only {:?} of {at_least} handled within {within:?}",
                handled(pool).await?
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_then_restart_loses_nothing() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let db = TestDb::create().await?;
    let pool = PgPool::connect(&db.url).await?;
    let topic = unique("kill");
    let group = unique("group");
    ensure_topics(&kafka, &[TopicSpec::new(&topic, PARTITIONS)]).await?;

    let producer = Producer::new(&kafka)?;
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(200) {
        let sends = chunk.iter().map(|i| {
            let (key, payload) = (format!("key-{}", i % 97), i.to_string());
            let p = producer.clone();
            let topic = topic.clone();
            async move {
                p.send(OutgoingRecord::new(
                    &topic,
                    key.as_bytes(),
                    payload.as_bytes(),
                ))
                .await
            }
        });
        for r in futures::future::join_all(sends).await {
            r?;
        }
    }

    let mut first = spawn_counter(broker.bootstrap(), &topic, &group, &db.url)?;
    wait_handled(&pool, 400, Duration::from_secs(120)).await?;
    first.kill()?; // SIGKILL: no drain, no final commit
    first.wait()?;
    let at_kill = handled(&pool).await?.0;
    assert!(
        at_kill < RECORDS,
        "killed too late to prove anything ({at_kill} handled)"
    );

    let mut second = spawn_counter(broker.bootstrap(), &topic, &group, &db.url)?;
    wait_handled(&pool, RECORDS, Duration::from_secs(180)).await?;
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()?;
    let status = second.wait()?;
    assert!(
        status.success(),
        "clean shutdown after SIGTERM, got {status}"
    );

    // Every offset of every partition is there: none skipped.
    let per_partition: Vec<(i32, i64, i64, i64)> = sqlx::query_as(
        "SELECT part, count(*), min(record_offset), max(record_offset) FROM handled GROUP BY part ORDER BY part",
    )
    .fetch_all(&pool)
    .await?;
    let total: i64 = per_partition.iter().map(|p| p.1).sum();
    assert_eq!(total, RECORDS, "distinct records handled");
    for (part, count, min, max) in per_partition {
        assert_eq!((min, max), (0, count - 1), "partition {part} has a gap");
    }
    let (_, deliveries) = handled(&pool).await?;
    eprintln!(
        "killed after {at_kill}; {deliveries} deliveries for {RECORDS} records (redelivered: {})",
        deliveries - RECORDS
    );
    Ok(())
}
