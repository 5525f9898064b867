//! Backfill of 10,000 orders from the in-process nopCommerce emulator into the canonical
//! topic on a local tansu broker (three connections, one per store, walking at once), then,
//! in the same run, the broker's raw produce rate for exactly the messages ingest wrote.
//! Prints orders/s, messages/s, the share of wall time with a store request outstanding and
//! with a produce outstanding, and ingest's rate as a share of the raw rate (target ≥ 50%).
//!
//! `cargo bench -p nopbridge-ingest --bench backfill` (BENCH_ORDERS, default 10000;
//! KAFKA_BOOTSTRAP_SERVERS or a local tansu; DATABASE_URL or the local PostgreSQL).
use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use nopbridge_emu_nopcommerce::{spawn, EmulatorConfig};
use nopbridge_ingest::{
    backfill, connection::Connection, db::Db, poll::IdCursor, settings::ConnectionSettings,
    sync::Kind,
};
use nopbridge_kafka::{
    ensure_topics, run_consumer, CancellationToken, ConsumerConfig, ConsumerHandle, Handler,
    HandlerError, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec,
};
use nopbridge_runtime::ControlState;
use nopbridge_testkit::{unique, Broker, TestDb};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STORES: [(&str, &str, i64); 3] = [
    ("acme-main", "acme", 1),
    ("acme-eu", "acme", 2),
    ("globex-uk", "globex", 3),
];

fn connection(id: &str, tenant: &str, store: i64, base_url: &str) -> Result<ConnectionSettings> {
    let text = format!(
        "id = \"{id}\"\ntenant = \"{tenant}\"\nstore_id = {store}\nbase_url = \"{base_url}\"\n\
         username = \"admin\"\npassword = \"admin-password\"\n\
         backfill_from = \"2000-01-01T00:00:00Z\"\n\
         country_codes = {{ 1 = \"US\", 74 = \"FR\", 80 = \"GB\", 81 = \"DE\" }}\n"
    );
    toml::from_str(&text).context("connection settings")
}

#[derive(Default)]
struct Collector(parking_lot::Mutex<Vec<Record>>);

impl Handler for Collector {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        self.0.lock().push(record.clone());
        Ok(())
    }
}

/// Every record ingest wrote to `topics` (`expected` of them), read back through the
/// consumer loop.
async fn read_back(
    kafka: &KafkaConfig,
    topics: Vec<String>,
    expected: usize,
) -> Result<Vec<Record>> {
    let collector = Arc::new(Collector::default());
    let mut cfg = ConsumerConfig::new(unique("bench-read"), topics, "bench");
    cfg.dlq_topic = Some(unique("dlq.bench"));
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (kafka, collector, stop) = (kafka.clone(), collector.clone(), stop.clone());
        let handle = ConsumerHandle::new(&cfg.group_id);
        let producer = Producer::new(&kafka)?;
        async move { run_consumer(&kafka, cfg, collector, producer, handle, stop).await }
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    while collector.0.lock().len() < expected {
        anyhow::ensure!(Instant::now() < deadline, "records not read back in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    task.await??;
    let records = std::mem::take(&mut *collector.0.lock());
    Ok(records)
}

/// Produces `records` (key, payload, headers as they are) to a fresh topic with up to 1000
/// sends in flight, as the kafka crate's throughput bench does; returns the elapsed time.
async fn raw_produce(kafka: &KafkaConfig, records: &[Record]) -> Result<Duration> {
    let topic = unique("bench.raw");
    ensure_topics(kafka, &[TopicSpec::new(&topic, 3)]).await?;
    let producer = Producer::new(kafka)?;
    let start = Instant::now();
    futures::stream::iter(records)
        .map(|r| {
            let mut out = OutgoingRecord::new(
                &topic,
                r.key.as_deref().unwrap_or_default(),
                r.payload.as_deref().unwrap_or_default(),
            );
            for (k, v) in &r.headers {
                out = out.header(k.clone(), v.clone().unwrap_or_default());
            }
            producer.send(out)
        })
        .buffer_unordered(1000)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(start.elapsed())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn share(part: Duration, whole: Duration) -> f64 {
    100.0 * part.as_secs_f64() / whole.as_secs_f64().max(1e-9)
}

#[tokio::main]
async fn main() -> Result<()> {
    let orders: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let db = TestDb::create().await?;
    let t = Instant::now();
    let emu = spawn(EmulatorConfig {
        seed: 7,
        orders,
        ..EmulatorConfig::default()
    })
    .await?;
    println!("emulator: {orders} orders generated in {:.1?}", t.elapsed());
    let suffix = format!("-{}", unique("bench"));
    ensure_topics(&kafka, &nopbridge_ingest::outputs(&suffix)).await?;
    let producer = Producer::new(&kafka)?;
    let state = Db::connect(&db.url, 16).await?;
    let control = ControlState::new(nopbridge_ingest::NAME);
    let mut conns = Vec::new();
    for (id, tenant, store) in STORES {
        let settings = connection(id, tenant, store, &emu.base_url())?;
        let conn = Connection::new(
            settings,
            &suffix,
            producer.clone(),
            state.clone(),
            control.clone(),
        )?;
        // The whole store is history: the backfill window ends now.
        let newest = IdCursor {
            last_id: i64::MAX,
            last_created: chrono::Utc::now(),
        };
        backfill::init(&conn, Kind::Order, &newest).await?;
        conns.push(conn);
    }

    let stop = CancellationToken::new();
    let start = Instant::now();
    let walks = conns.iter().map(|c| backfill::walk(c, Kind::Order, &stop));
    for r in futures::future::join_all(walks).await {
        r?;
    }
    let elapsed = start.elapsed();
    let store_busy: Duration = conns.iter().map(|c| c.client.busy().total()).sum();
    let produce_busy: Duration = conns.iter().map(|c| c.emitter.busy().total()).sum();
    let done: u64 = control.status().await.progress.iter().map(|p| p.done).sum();
    anyhow::ensure!(
        done as usize == orders,
        "backfilled {done} of {orders} orders"
    );

    let topics = vec![
        format!("canonical.order.v1{suffix}"),
        format!("canonical.payment_transaction.v1{suffix}"),
    ];
    let emitted: u64 = control
        .counters()
        .into_iter()
        .filter(|((n, _), _)| *n == "events_emitted")
        .map(|(_, v)| v)
        .sum();
    let records = read_back(&kafka, topics, emitted as usize).await?;
    let raw = raw_produce(&kafka, &records).await?;

    let n = records.len();
    let bytes: usize = records
        .iter()
        .map(|r| r.payload.as_ref().map_or(0, Vec::len))
        .sum();
    let ingest_rate = rate(n, elapsed);
    let raw_rate = rate(n, raw);
    println!(
        "ingest backfill: {orders} orders over {} connections, {n} events (avg {} bytes), broker {}",
        conns.len(),
        bytes / n.max(1),
        broker.bootstrap()
    );
    println!("  wall time:                         {elapsed:>9.2?}");
    println!(
        "  orders/s:                          {:>9.0}",
        rate(orders, elapsed)
    );
    println!("  events/s:                          {ingest_rate:>9.0}");
    println!(
        "  waiting on the emulator:           {:>8.0} % of wall time (summed over connections)",
        share(store_busy, elapsed) / conns.len() as f64
    );
    println!(
        "  waiting on produce acks:           {:>8.0} % of wall time (summed over connections)",
        share(produce_busy, elapsed) / conns.len() as f64
    );
    println!("  raw produce, same {n} messages:   {raw_rate:>9.0} msgs/s ({raw:.2?})");
    println!(
        "  ingest / raw produce:              {:>8.0} % (target ≥ 50 %)",
        100.0 * ingest_rate / raw_rate.max(1e-9)
    );
    emu.shutdown().await;
    Ok(())
}
