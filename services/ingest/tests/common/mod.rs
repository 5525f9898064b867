//! Test support: a broker, a database, the nopCommerce emulator in-process, ingest started
//! as a task, and a collector that reads what ingest wrote through the real consumer loop.
//! `expect` checks canonical events against the emulator's own records.
#![allow(dead_code, clippy::unwrap_used)]
pub mod expect;

use anyhow::{Context, Result};
use nopbridge_emu_nopcommerce::{spawn, EmulatorConfig, RunningEmulator};
use nopbridge_ingest::{Config, Settings};
use nopbridge_kafka::{
    run_consumer, CancellationToken, ConsumerConfig, ConsumerHandle, Handler, HandlerError,
    KafkaConfig, Producer, Record,
};
use nopbridge_proto::events::v1 as ev;
use nopbridge_runtime::{config::GrpcConfig, ControlState};
use nopbridge_testkit::{unique, Broker, TestDb};
use parking_lot::Mutex;
use prost::Message;
use rust_decimal::Decimal;
use std::{future::Future, net::TcpListener, sync::Arc, time::Duration};
use tokio::task::JoinHandle;

pub const SECRET: &str = "webhook-s3cret";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Broker, database and the topic suffix of one test.
pub struct Env {
    pub broker: Broker,
    pub db: TestDb,
    pub suffix: String,
}

impl Env {
    pub async fn new() -> Result<Self> {
        init_tracing();
        Ok(Self {
            broker: Broker::start().await?,
            db: TestDb::create().await?,
            suffix: format!("-{}", unique("t")),
        })
    }

    pub fn kafka(&self) -> KafkaConfig {
        self.broker.kafka_config()
    }

    pub fn topic(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    pub fn canonical(&self, entity: &str) -> String {
        self.topic(&format!("canonical.{entity}.v1"))
    }

    /// The seven canonical topics ingest writes.
    pub fn all_canonical(&self) -> Vec<String> {
        nopbridge_runtime::topics::CANONICAL
            .iter()
            .map(|(e, _)| self.canonical(e))
            .collect()
    }

    /// Where ingest buffers webhook notifications.
    pub fn notifications(&self) -> String {
        nopbridge_ingest::inputs(&self.suffix).remove(0)
    }

    /// Ingest's config: `service` is the TOML of the `[service]` table without the keys
    /// every test shares (secret, database, suffix).
    pub fn config(&self, service: &str) -> Result<Config> {
        let text = format!(
            "webhook_secret = \"{SECRET}\"\ndatabase_url = \"{}\"\ntopic_suffix = \"{}\"\n{service}",
            self.db.url, self.suffix
        );
        let settings: Settings = toml::from_str(&text).context("test settings")?;
        nopbridge_runtime::config::Validate::validate(&settings)?;
        let consumer = ConsumerConfig {
            group_id: unique("ingest"),
            ..ConsumerConfig::default()
        };
        Ok(Config {
            kafka: self.kafka(),
            grpc: GrpcConfig {
                listen: "127.0.0.1:0".parse()?,
                auth_token: None,
            },
            telemetry: Default::default(),
            consumer,
            shutdown_deadline_ms: 10_000,
            service: settings,
        })
    }
}

/// One `[[connections]]` entry.
pub fn connection(id: &str, tenant: &str, store: i64, base_url: &str, extra: &str) -> String {
    format!(
        "[[connections]]\nid = \"{id}\"\ntenant = \"{tenant}\"\nstore_id = {store}\n\
         base_url = \"{base_url}\"\nusername = \"admin\"\npassword = \"admin-password\"\n\
         country_codes = {{ 1 = \"US\", 74 = \"FR\", 80 = \"GB\", 81 = \"DE\" }}\n{extra}\n"
    )
}

/// Logs to the test output when RUST_LOG is set (e.g. `RUST_LOG=nopbridge_ingest=debug`).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

pub async fn emulator(cfg: EmulatorConfig) -> Result<RunningEmulator> {
    Ok(spawn(cfg).await?)
}

/// Ingest running as a task, with the control state the test reads.
pub struct Ingest {
    pub control: ControlState,
    pub stop: CancellationToken,
    pub task: JoinHandle<Result<(), nopbridge_ingest::IngestError>>,
}

impl Ingest {
    pub fn start(cfg: Config) -> Self {
        let control = ControlState::new(nopbridge_ingest::NAME);
        let stop = CancellationToken::new();
        let task = tokio::spawn(nopbridge_ingest::run_with(
            cfg,
            control.clone(),
            stop.clone(),
        ));
        Self {
            control,
            stop,
            task,
        }
    }

    /// A counter exported on /metrics, summed over its labels matching `label`.
    pub fn counter(&self, name: &str, label: (&str, &str)) -> u64 {
        self.control
            .counters()
            .into_iter()
            .filter(|((n, labels), _)| {
                *n == name && labels.iter().any(|(k, v)| *k == label.0 && v == label.1)
            })
            .map(|(_, v)| v)
            .sum()
    }

    pub async fn stop(self) -> Result<()> {
        self.stop.cancel();
        self.task.await??;
        Ok(())
    }

    /// Records ever written to `topic` (sum of its partitions' high watermarks) and records
    /// ingest's consumer handled, from the Status call; None until every one of the topic's
    /// `partitions` is assigned and reported.
    pub async fn consumed(&self, topic: &str, partitions: usize) -> Option<(i64, u64)> {
        let status = self.control.status().await;
        let lag: Vec<_> = status.lag.iter().filter(|l| l.topic == topic).collect();
        if lag.len() != partitions {
            return None;
        }
        let written = lag.iter().map(|l| l.high_watermark).sum();
        Some((written, status.throughput.map_or(0, |t| t.records_total)))
    }
}

/// Waits until something accepts TCP connections on `port` (ingest's webhook receiver).
pub async fn listening(port: u16) -> Result<()> {
    eventually("the webhook receiver", Duration::from_secs(30), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
    })
    .await
    .map(|_| ())
}

/// `sha256=<hex>` HMAC-SHA256 of `body`, as a store signs notifications.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Collects every record of some topics through the at-least-once consumer loop.
#[derive(Default)]
pub struct Collector {
    pub records: Mutex<Vec<Record>>,
}

impl Handler for Collector {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        self.records.lock().push(record.clone());
        Ok(())
    }
}

pub struct Collecting {
    pub collector: Arc<Collector>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Collecting {
    pub async fn start(kafka: &KafkaConfig, topics: Vec<String>) -> Result<Self> {
        nopbridge_kafka::ensure_topics(
            kafka,
            &topics
                .iter()
                .map(|t| nopbridge_kafka::TopicSpec::new(t, 3))
                .collect::<Vec<_>>(),
        )
        .await?;
        let collector = Arc::new(Collector::default());
        let stop = CancellationToken::new();
        let mut cfg = ConsumerConfig::new(unique("collector"), topics, "test");
        cfg.dlq_topic = Some(unique("dlq.collector"));
        let producer = Producer::new(kafka)?;
        let handle = ConsumerHandle::new(&cfg.group_id);
        let task = tokio::spawn({
            let (kafka, collector, stop) = (kafka.clone(), collector.clone(), stop.clone());
            async move {
                let _ = run_consumer(&kafka, cfg, collector, producer, handle, stop).await;
            }
        });
        Ok(Self {
            collector,
            stop,
            task,
        })
    }

    pub fn on(&self, topic: &str) -> Vec<Record> {
        self.collector
            .records
            .lock()
            .iter()
            .filter(|r| r.topic == topic)
            .cloned()
            .collect()
    }

    pub fn decoded<M: Message + Default>(&self, topic: &str) -> Vec<M> {
        self.on(topic)
            .iter()
            .map(|r| M::decode(r.payload()).unwrap())
            .collect()
    }

    /// The events of `topic` that `keep` selects, each once: a record the consumer loop
    /// delivered twice (same partition and offset) counts once, so what is left is what
    /// ingest wrote. In offset order per partition.
    pub fn written<M: Message + Default>(&self, topic: &str, keep: impl Fn(&M) -> bool) -> Vec<M> {
        let mut seen = std::collections::HashSet::new();
        self.on(topic)
            .into_iter()
            .filter(|r| seen.insert((r.partition, r.offset)))
            .map(|r| M::decode(r.payload()).unwrap())
            .filter(|m| keep(m))
            .collect()
    }

    /// The newest event of `topic` that `keep` selects (one entity's events share a key,
    /// hence a partition, so their order is the order they were written in).
    pub fn latest<M: Message + Default>(
        &self,
        topic: &str,
        keep: impl Fn(&M) -> bool,
    ) -> Option<M> {
        self.written(topic, keep).pop()
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Polls `check` until it gives Some, or fails after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() > end {
            anyhow::bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Like [`eventually`] for a synchronous check, within 20 s.
pub async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> Result<T> {
    eventually(
        what,
        Duration::from_secs(20),
        || std::future::ready(check()),
    )
    .await
}

/// A store decimal in minor units of a 2-decimal currency, half away from zero (the model
/// crate's rule), computed independently of ingest.
pub fn cents(d: Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    (d * Decimal::from(100))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .unwrap()
}

pub fn money(m: &Option<ev::Money>) -> (i64, String) {
    let m = m.as_ref().expect("money field set");
    (m.minor_units, m.currency.clone())
}

pub fn usd(d: Decimal) -> (i64, String) {
    (cents(d), "USD".to_string())
}

/// A canonical exact decimal (rates, weights) as a Decimal.
pub fn dec(d: &Option<ev::Decimal>) -> Decimal {
    let d = d.as_ref().expect("decimal field set");
    Decimal::from_i128_with_scale(i128::from(d.units), d.scale)
}
