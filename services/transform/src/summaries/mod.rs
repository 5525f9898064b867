//! Daily summaries (mapping `posting.mode: daily_summary`): one document per business day,
//! store, currency and payment method instead of one per order.
//!
//! - [`collect`]: each order event stores the order's latest version under the day it counts
//!   toward, in PostgreSQL ([`store`]), before its offset is committed; a version for a day
//!   already closed is dead-lettered as late, saying what to do by hand.
//! - [`close`]: a periodic closer closes each day `posting.close_after_minutes` after it
//!   ended (and after its last order changed, and after this transform started); closing
//!   freezes the day with its summary commands in an outbox ([`plan`]), then produces them
//!   and marks the day closed only once the broker acknowledged them. One replica works on a
//!   day at a time (an advisory lock); a crash in between produces the same commands again,
//!   which the sinks take once (deterministic ids).
//! - [`api`]: `nopbridge.control.v1.Summaries`: list the days, close one now.
mod api;
mod close;
mod collect;
pub mod days;
mod plan;
pub mod store;

pub use api::SummariesApi;
pub use collect::REPLAY_OF_HEADER;
pub use store::{Store, StoreError};

use chrono::{DateTime, NaiveDate, Utc};
use nopbridge_kafka::{DeadLetter, DeadLetterContext, KafkaError, Producer, Record};
use nopbridge_mapping::config::PostingMode;
use nopbridge_mapping::{Connection, Mapper};
use nopbridge_runtime::ControlState;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::warn;

/// The time the closer goes by (tests move it by hand).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The mapping in force, swapped whole by a reload.
pub type SharedMapper = Arc<RwLock<Arc<Mapper>>>;

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("producing to the broker: {0}")]
    Kafka(#[from] KafkaError),
    /// Someone else is working on it (another replica's closer); try again.
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
}

/// Whether a connection's orders go into daily summaries.
pub fn is_summary_connection(c: &Connection) -> bool {
    c.config.posting.mode == PostingMode::DailySummary && c.config.target.is_accounting()
}

pub struct Summaries {
    store: Store,
    mapper: SharedMapper,
    producer: Producer,
    dlq: DeadLetter,
    topic_suffix: String,
    control: ControlState,
    clock: Clock,
    started_at: DateTime<Utc>,
    /// Per connection: the last close and the last closing failure, for Status.
    recent: Mutex<BTreeMap<String, close::Recent>>,
}

impl Summaries {
    pub fn new(
        store: Store,
        mapper: SharedMapper,
        producer: Producer,
        dlq: DeadLetter,
        topic_suffix: String,
        control: ControlState,
        clock: Clock,
    ) -> Self {
        let started_at = clock();
        Self {
            store,
            mapper,
            producer,
            dlq,
            topic_suffix,
            control,
            clock,
            started_at,
            recent: Mutex::default(),
        }
    }

    fn mapper(&self) -> Arc<Mapper> {
        self.mapper.read().clone()
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// When the schedule closes `date` of `conn` at the earliest; `None` when the connection
    /// is not loaded.
    fn closes_at(
        &self,
        conn: &str,
        date: NaiveDate,
        last_change: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let mapper = self.mapper();
        let posting = &mapper.connection(conn)?.config.posting;
        Some(days::closes_at(
            date,
            posting.utc_offset_minutes,
            posting.close_after_minutes(),
            last_change,
            self.started_at,
        ))
    }

    /// Dead-letters `record` (as consumed) with the connection and day named in headers.
    async fn dead_letter(
        &self,
        record: &Record,
        conn: &str,
        date: NaiveDate,
        class: &str,
        reason: &str,
    ) -> Result<(), SummaryError> {
        let mut ctx = DeadLetterContext::now("transform", class, reason);
        ctx.extra_headers
            .push(("dlq_connection_id".into(), conn.to_string()));
        ctx.extra_headers
            .push(("dlq_business_date".into(), date.to_string()));
        warn!(connection = conn, %date, class, "daily summary: order dead-lettered");
        self.control.count(
            "summary_orders_dead_lettered",
            &[("connection", conn), ("class", class)],
            1,
        );
        self.dlq.send(record, &ctx).await?;
        Ok(())
    }
}
