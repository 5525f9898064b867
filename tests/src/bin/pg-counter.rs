//! A consumer whose effect is durable in PostgreSQL: each handled record adds 1 to its row in
//! `handled(topic, partition, record_offset)`. Used to show that a SIGKILL mid-run loses no
//! record: after a restart every offset has count ≥ 1.
use clap::Parser;
use nopbridge_kafka::{
    run_consumer, ConsumerConfig, ConsumerHandle, Handler, HandlerError, KafkaConfig, Producer,
    Record,
};
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    #[arg(long)]
    group: String,
    #[arg(long)]
    database_url: String,
}

struct Counter(PgPool);

impl Handler for Counter {
    async fn handle(&self, r: &Record) -> Result<(), HandlerError> {
        sqlx::query(
            "INSERT INTO handled (topic, part, record_offset, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (topic, part, record_offset) DO UPDATE SET count = handled.count + 1",
        )
        .bind(&r.topic)
        .bind(r.partition)
        .bind(r.offset)
        .execute(&self.0)
        .await
        .map(|_| ())
        .map_err(|e| HandlerError::transient(e.to_string()))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let pool = PgPool::connect(&a.database_url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS handled (topic text, part int, record_offset bigint, count int,
         PRIMARY KEY (topic, part, record_offset))",
    )
    .execute(&pool)
    .await?;
    let mut kafka = KafkaConfig::new(a.bootstrap);
    // A killed member is noticed after this long, so the restart takes its partitions sooner.
    kafka
        .librdkafka
        .insert("session.timeout.ms".into(), "6000".into());
    let mut cfg = ConsumerConfig::new(a.group, vec![a.topic], "pg_counter");
    cfg.commit_interval_ms = 100;
    let producer = Producer::new(&kafka)?;
    let handle = ConsumerHandle::new(&cfg.group_id);
    let stop = nopbridge_runtime::shutdown::on_signal();
    run_consumer(&kafka, cfg, Arc::new(Counter(pool)), producer, handle, stop).await?;
    Ok(())
}
