//! Replay of dead letters: each record is read back from its dead-letter topic and sent, with
//! its original key, payload and headers, to the topic it failed on. Safe to repeat, because
//! every stage downstream is idempotent; the ledger records each replay once.
use crate::ledger::{DeadLetterFilter, DeadLetterRow, Ledger, LedgerError};
use nopbridge_kafka::{read_at, KafkaConfig, KafkaError, OutgoingRecord, Producer, Record};
use std::time::Duration;
use thiserror::Error;

/// Header naming the dead letter a replayed record came from (topic/partition/offset).
pub const REPLAY_OF_HEADER: &str = "nopbridge_replay_of";

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("dead letter {0} has no dlq_source_topic header, so it cannot be sent back")]
    NoSource(String),
}

/// What happened to one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Replayed {
        to: String,
    },
    WouldReplay {
        to: String,
    },
    /// No longer on its topic (retention): only a backfill can bring the record back.
    Missing,
}

pub struct Replayer {
    pub ledger: Ledger,
    pub kafka: KafkaConfig,
    pub producer: Producer,
}

impl Replayer {
    pub async fn select(
        &self,
        f: &DeadLetterFilter<'_>,
    ) -> Result<Vec<DeadLetterRow>, LedgerError> {
        self.ledger.dead_letters(f).await
    }

    pub async fn replay_one(
        &self,
        d: &DeadLetterRow,
        dry_run: bool,
    ) -> Result<Outcome, ReplayError> {
        let at = format!("{}/{}/{}", d.dlq_topic, d.dlq_partition, d.dlq_offset);
        let Some(record) = read_at(
            &self.kafka,
            &d.dlq_topic,
            d.dlq_partition,
            d.dlq_offset,
            Duration::from_secs(10),
        )
        .await?
        else {
            return Ok(Outcome::Missing);
        };
        let to = record
            .header_str("dlq_source_topic")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ReplayError::NoSource(at.clone()))?;
        if dry_run {
            return Ok(Outcome::WouldReplay { to });
        }
        self.producer.send(resend(&record, &to, &at)).await?;
        self.ledger.record_replay(d, &to).await?;
        Ok(Outcome::Replayed { to })
    }
}

/// The original record again: same key and payload, its own headers without the dead-letter
/// context, plus where it was replayed from.
fn resend<'a>(record: &'a Record, to: &'a str, at: &str) -> OutgoingRecord<'a> {
    let mut out = OutgoingRecord::new(
        to,
        record.key.as_deref().unwrap_or_default(),
        record.payload(),
    );
    for (k, v) in &record.headers {
        if !k.starts_with("dlq_") {
            out = out.header(k.clone(), v.clone().unwrap_or_default());
        }
    }
    out.header(REPLAY_OF_HEADER, at.as_bytes().to_vec())
}
