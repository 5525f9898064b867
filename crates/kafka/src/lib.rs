//! The only crate in nopbridge that touches rdkafka.
//!
//! - [`Producer`]: idempotent (acks=all) producer that writes CloudEvents binary-mode headers
//!   and a W3C `traceparent` on every event.
//! - [`ensure_topics`]: idempotent topic bootstrap.
//! - [`run_consumer`]: the at-least-once consumer loop. A record's offset is committed only
//!   after its handler succeeded or the record was written to the dead-letter topic; records
//!   with the same key are handled in order, different keys concurrently (bounded).
//! - [`DeadLetter`]: the original record byte for byte plus context headers.
//! - Tracing: each consumed record is handled in a `consume <topic>` span whose OpenTelemetry
//!   parent is the record's `traceparent`; events produced inside it carry that span onward.

mod config;
mod consumer;
mod dlq;
mod error;
mod headers;
mod otel;
mod producer;
mod reader;
mod record;
mod topics;

pub use config::{ConsumerConfig, KafkaConfig, RetryPolicy};
pub use consumer::{
    run_consumer, ConsumerHandle, ConsumerStatus, Handler, HandlerError, PartitionLag,
};
pub use dlq::{DeadLetter, DeadLetterContext, DLQ_HEADERS};
pub use error::KafkaError;
pub use headers::{CloudEvent, TraceContext};
pub use producer::{OutgoingRecord, Producer};
pub use reader::{read_at, read_topic, wait_until_ready};
pub use record::Record;
pub use topics::{ensure_topics, TopicSpec};

/// Re-exported so callers can cancel the consumer loop without depending on tokio-util.
pub use tokio_util::sync::CancellationToken;
