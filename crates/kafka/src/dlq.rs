use crate::{KafkaError, Producer, Record};
use chrono::{DateTime, SecondsFormat, Utc};

/// Context headers added to a dead-lettered record, after its original headers.
pub const DLQ_HEADERS: [&str; 9] = [
    "dlq_source_topic",
    "dlq_source_partition",
    "dlq_source_offset",
    "dlq_stage",
    "dlq_error_class",
    "dlq_error_message",
    "dlq_attempts",
    "dlq_first_failure_at",
    "dlq_last_failure_at",
];

/// Why and where a record failed.
#[derive(Debug, Clone)]
pub struct DeadLetterContext {
    pub stage: String,
    /// Short machine-readable class, e.g. `decode`, `validation`, `retries_exhausted`.
    pub error_class: String,
    /// What went wrong, in words an operator can act on. Must not contain secrets.
    pub message: String,
    pub attempts: u32,
    pub first_failure_at: DateTime<Utc>,
    pub last_failure_at: DateTime<Utc>,
    /// More context headers, e.g. `dlq_connection_id` when one routed connection failed.
    pub extra_headers: Vec<(String, String)>,
}

impl DeadLetterContext {
    /// A failure seen once, now.
    pub fn now(
        stage: impl Into<String>,
        error_class: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let now = Utc::now();
        Self {
            stage: stage.into(),
            error_class: error_class.into(),
            message: message.into(),
            attempts: 1,
            first_failure_at: now,
            last_failure_at: now,
            extra_headers: Vec::new(),
        }
    }
}

/// Writes failed records to a dead-letter topic: key, payload and headers byte for byte as
/// consumed, plus the context headers in [`DLQ_HEADERS`].
#[derive(Clone)]
pub struct DeadLetter {
    producer: Producer,
    topic: String,
}

impl DeadLetter {
    pub fn new(producer: Producer, topic: impl Into<String>) -> Self {
        Self {
            producer,
            topic: topic.into(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Returns once the broker has acknowledged the dead letter.
    pub async fn send(&self, rec: &Record, ctx: &DeadLetterContext) -> Result<(), KafkaError> {
        let ts = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let values = [
            rec.topic.clone(),
            rec.partition.to_string(),
            rec.offset.to_string(),
            ctx.stage.clone(),
            ctx.error_class.clone(),
            ctx.message.clone(),
            ctx.attempts.to_string(),
            ts(&ctx.first_failure_at),
            ts(&ctx.last_failure_at),
        ];
        let mut headers = rec.headers.clone();
        headers.extend(
            DLQ_HEADERS
                .iter()
                .zip(values)
                .map(|(k, v)| (k.to_string(), Some(v.into_bytes()))),
        );
        headers.extend(
            ctx.extra_headers
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone().into_bytes()))),
        );
        self.producer
            .send_raw(
                &self.topic,
                rec.key.as_deref(),
                rec.payload.as_deref(),
                &headers,
            )
            .await
            .map(|_| ())
    }
}
