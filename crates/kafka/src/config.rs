use crate::KafkaError;
use rdkafka::ClientConfig;
use serde::Deserialize;
use std::{collections::BTreeMap, fmt, time::Duration};

/// Connection settings shared by producers, consumers and the admin client.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// Producer linger. 0 for tansu (larger values collapse its throughput, design.md §5);
    /// 5-20 ms suits a real Kafka cluster.
    #[serde(default)]
    pub linger_ms: u32,
    /// Most records per produce batch. 1 for tansu 0.6, whose fetch returns nothing when
    /// asked for an offset inside a multi-record batch, so a consumer restarting from a
    /// committed offset mid-batch would stall; 10000 (librdkafka's default) for real Kafka.
    #[serde(default = "KafkaConfig::default_batch_records")]
    pub batch_records: u32,
    /// Longest a consumer's fetch waits for records (librdkafka `fetch.wait.max.ms`). 10 for
    /// tansu 0.6, which answers a waiting fetch only when this time is up even if records
    /// arrived meanwhile: librdkafka's 500 ms default added up to half a second per hop
    /// (about a second from webhook to posted document over four hops). A real Kafka answers
    /// as soon as records arrive, so 100-500 suits it.
    #[serde(default = "KafkaConfig::default_fetch_wait_max_ms")]
    pub fetch_wait_max_ms: u32,
    /// Extra librdkafka properties (for example security.protocol, sasl.*). Keys that the
    /// typed settings above or the delivery guarantees depend on are rejected.
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
}

/// Properties whose values the at-least-once guarantee depends on.
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "linger.ms",
    "batch.num.messages",
    "fetch.wait.max.ms",
    "group.id",
];

impl KafkaConfig {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            linger_ms: 0,
            batch_records: Self::default_batch_records(),
            fetch_wait_max_ms: Self::default_fetch_wait_max_ms(),
            librdkafka: BTreeMap::new(),
        }
    }

    const fn default_batch_records() -> u32 {
        1
    }

    const fn default_fetch_wait_max_ms() -> u32 {
        10
    }

    /// The client settings of a consumer (the loop's and the readers').
    pub(crate) fn consumer_config(&self) -> Result<ClientConfig, KafkaError> {
        let mut cfg = self.client_config()?;
        cfg.set("fetch.wait.max.ms", self.fetch_wait_max_ms.to_string());
        Ok(cfg)
    }

    pub(crate) fn client_config(&self) -> Result<ClientConfig, KafkaError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap_servers);
        for (k, v) in &self.librdkafka {
            if RESERVED.contains(&k.as_str()) {
                return Err(KafkaError::Config {
                    key: format!("librdkafka.{k}"),
                    reason: "set by nopbridge itself; use the typed setting".into(),
                });
            }
            cfg.set(k, v);
        }
        Ok(cfg)
    }
}

/// Never prints librdkafka values: they may hold credentials (sasl.password, ssl.key.password).
impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("linger_ms", &self.linger_ms)
            .field("batch_records", &self.batch_records)
            .field("fetch_wait_max_ms", &self.fetch_wait_max_ms)
            .field(
                "librdkafka_keys",
                &self.librdkafka.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// How transient handler failures are retried before the record goes to the DLQ.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all (the first try included) before a transient failure is dead-lettered.
    #[serde(default = "RetryPolicy::default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "RetryPolicy::default_initial_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "RetryPolicy::default_max_ms")]
    pub max_backoff_ms: u64,
}

impl RetryPolicy {
    const fn default_attempts() -> u32 {
        8
    }
    const fn default_initial_ms() -> u64 {
        100
    }
    const fn default_max_ms() -> u64 {
        30_000
    }

    /// Exponential backoff with full jitter: a random delay up to initial × 2^(attempt-1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_backoff_ms).max(1);
        Duration::from_millis(rand::random::<u64>() % cap + 1)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: Self::default_attempts(),
            initial_backoff_ms: Self::default_initial_ms(),
            max_backoff_ms: Self::default_max_ms(),
        }
    }
}

/// One consumer loop: what it reads, as which group, and how it treats failures. Every field
/// has a default so a config file can override one setting alone; services fill an empty
/// group, topic list or stage with their own defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerConfig {
    pub group_id: String,
    pub topics: Vec<String>,
    /// Pipeline stage name, recorded on dead letters (`dlq.<stage>.v1`).
    pub stage: String,
    /// Dead-letter topic; defaults to `dlq.<stage>.v1`.
    pub dlq_topic: Option<String>,
    /// Number of lanes: different keys run concurrently on up to this many lanes; one key
    /// always maps to the same lane, so its records stay in order.
    pub concurrency: usize,
    /// Records buffered per lane before the loop stops fetching (backpressure).
    pub lane_capacity: usize,
    pub commit_interval_ms: u64,
    /// How long shutdown waits for in-flight records before committing and exiting.
    pub drain_timeout_ms: u64,
    /// This loop's `fetch.wait.max.ms`, instead of `kafka.fetch_wait_max_ms`: a loop whose
    /// records are not on anyone's critical path fetches less often (on tansu every fetch
    /// costs the broker a listing of the partition, records or not).
    pub fetch_wait_max_ms: Option<u32>,
    pub retry: RetryPolicy,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            topics: Vec::new(),
            stage: String::new(),
            dlq_topic: None,
            concurrency: 8,
            lane_capacity: 64,
            commit_interval_ms: 500,
            drain_timeout_ms: 10_000,
            fetch_wait_max_ms: None,
            retry: RetryPolicy::default(),
        }
    }
}

impl ConsumerConfig {
    pub fn new(group_id: impl Into<String>, topics: Vec<String>, stage: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            topics,
            stage: stage.into(),
            ..Self::default()
        }
    }

    /// Fills what the config left empty with the service's defaults.
    pub fn or_defaults(mut self, group_id: &str, topics: &[String], stage: &str) -> Self {
        if self.group_id.is_empty() {
            self.group_id = group_id.to_string();
        }
        if self.topics.is_empty() {
            self.topics = topics.to_vec();
        }
        if self.stage.is_empty() {
            self.stage = stage.to_string();
        }
        self
    }

    pub fn dlq_topic(&self) -> String {
        self.dlq_topic
            .clone()
            .unwrap_or_else(|| format!("dlq.{}.v1", self.stage))
    }
}
