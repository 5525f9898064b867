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
    "group.id",
];

impl KafkaConfig {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            linger_ms: 0,
            librdkafka: BTreeMap::new(),
        }
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

/// One consumer loop: what it reads, as which group, and how it treats failures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    pub group_id: String,
    pub topics: Vec<String>,
    /// Pipeline stage name, recorded on dead letters (`dlq.<stage>.v1`).
    pub stage: String,
    /// Dead-letter topic; defaults to `dlq.<stage>.v1`.
    #[serde(default)]
    pub dlq_topic: Option<String>,
    /// Number of lanes: different keys run concurrently on up to this many lanes; one key
    /// always maps to the same lane, so its records stay in order.
    #[serde(default = "ConsumerConfig::default_concurrency")]
    pub concurrency: usize,
    /// Records buffered per lane before the loop stops fetching (backpressure).
    #[serde(default = "ConsumerConfig::default_lane_capacity")]
    pub lane_capacity: usize,
    #[serde(default = "ConsumerConfig::default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// How long shutdown waits for in-flight records before committing and exiting.
    #[serde(default = "ConsumerConfig::default_drain_ms")]
    pub drain_timeout_ms: u64,
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl ConsumerConfig {
    const fn default_concurrency() -> usize {
        8
    }
    const fn default_lane_capacity() -> usize {
        64
    }
    const fn default_commit_interval_ms() -> u64 {
        500
    }
    const fn default_drain_ms() -> u64 {
        10_000
    }

    pub fn new(group_id: impl Into<String>, topics: Vec<String>, stage: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            topics,
            stage: stage.into(),
            dlq_topic: None,
            concurrency: Self::default_concurrency(),
            lane_capacity: Self::default_lane_capacity(),
            commit_interval_ms: Self::default_commit_interval_ms(),
            drain_timeout_ms: Self::default_drain_ms(),
            retry: RetryPolicy::default(),
        }
    }

    pub fn dlq_topic(&self) -> String {
        self.dlq_topic
            .clone()
            .unwrap_or_else(|| format!("dlq.{}.v1", self.stage))
    }
}
