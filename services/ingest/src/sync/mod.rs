//! Reading one record from the store and emitting what changed: fetch the full entity,
//! map it, compare its content hash with the stored one, send the events, then store the
//! new hash. A crash between sending and storing sends the same events again with the same
//! (deterministic) ids, so downstream nothing is created twice.
//!
//! Each entity is prepared (fetched and mapped) first and committed after, so a page of
//! records is sent in one go. Malformed or unmappable records are dead-lettered with their
//! raw bytes and the reason, and remembered by fingerprint so they are not sent again until
//! they change.
mod customer;
mod deletion;
mod order;
mod product;
mod returns;
mod shipment;

use crate::client::dto::RawRecord;
use crate::client::ApiError;
use crate::connection::Connection;
use crate::db::{DbError, EntityRow, Stored};
use crate::emit::Outgoing;
use futures::stream::{self, StreamExt};
use nopbridge_kafka::KafkaError;
use nopbridge_model::ids::content_hash;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use tracing::{info, warn};

/// The records ingest fetches by id (the roots of the seven canonical entities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Order,
    Customer,
    Product,
    Shipment,
    ReturnRequest,
}

impl Kind {
    /// The name in the state database and in webhook notifications.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Order => "order",
            Kind::Customer => "customer",
            Kind::Product => "product",
            Kind::Shipment => "shipment",
            Kind::ReturnRequest => "return_request",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Kind::Order,
            Kind::Customer,
            Kind::Product,
            Kind::Shipment,
            Kind::ReturnRequest,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// What one record's sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Events sent (the record was new or changed).
    Emitted(usize),
    Unchanged,
    /// A known record answered 404: a delete event was sent.
    Deleted,
    /// The record belongs to another store of the site.
    OtherStore(i64),
    /// Malformed or unmappable: sent to the DLQ with the reason.
    DeadLettered,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An id never ingested answered 404 (nothing to delete).
    #[error("{0} not found at the store")]
    NotFound(String),
    #[error("broker: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl SyncError {
    /// Worth retrying later: the store or a dependency is unavailable, or credentials
    /// failed (they may be fixed without a restart). Rejections and unsupported reads are
    /// not.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Api(ApiError::Rejected { .. } | ApiError::Unsupported(_)) => false,
            SyncError::Api(_) | SyncError::Kafka(_) | SyncError::Db(_) => true,
            SyncError::NotFound(_) => false,
        }
    }
}

/// A prepared change: events to send, then rows to store.
#[derive(Debug, Default)]
pub struct Prepared {
    pub events: Vec<Outgoing>,
    pub rows: Vec<EntityRow>,
    pub outcome: Option<Outcome>,
}

impl Prepared {
    fn outcome(outcome: Outcome) -> Self {
        Self {
            outcome: Some(outcome),
            ..Self::default()
        }
    }
}

/// A batch fetched and mapped, holding its records' locks until it is committed (or
/// dropped).
pub struct PreparedBatch<'a> {
    prepared: Vec<Prepared>,
    pub stats: BatchStats,
    _guard: crate::connection::KeyGuard<'a>,
}

/// Totals of a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    pub records: usize,
    pub events: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub other_store: usize,
    pub dead_lettered: usize,
}

impl BatchStats {
    pub fn merge(&mut self, o: BatchStats) {
        self.records += o.records;
        self.events += o.events;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
        self.other_store += o.other_store;
        self.dead_lettered += o.dead_lettered;
    }

    fn add(&mut self, o: Outcome) {
        self.records += 1;
        match o {
            Outcome::Emitted(n) => {
                self.changed += 1;
                self.events += n;
            }
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Deleted => {
                self.deleted += 1;
                self.events += 1;
            }
            Outcome::OtherStore(_) => self.other_store += 1,
            Outcome::DeadLettered => self.dead_lettered += 1,
        }
    }
}

/// The SHA-256 of a record as the store sent it: unchanged bytes need no new fetch.
pub fn fingerprint(raw: &RawRecord) -> String {
    content_hash(raw.get().as_bytes())
}

/// Id of a raw record (enough to look up its state before decoding it fully).
pub fn record_id(raw: &RawRecord) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: i64,
    }
    serde_json::from_str::<Id>(raw.get()).ok().map(|i| i.id)
}

/// Input of one record's preparation.
pub struct Input<'a> {
    pub id: i64,
    /// The record as listed or fetched; None when it answered 404.
    pub raw: Option<&'a RawRecord>,
    pub prev: Option<&'a Stored>,
    /// Fetch the details even when the record's bytes did not change (webhooks: a change
    /// may be in a related table, e.g. warehouse stock).
    pub force: bool,
}

impl Input<'_> {
    /// Whether the record is byte-identical to what was last processed.
    fn unchanged(&self) -> bool {
        !self.force
            && self.raw.is_some_and(|raw| {
                self.prev
                    .is_some_and(|p| !p.deleted && p.state_str("source") == Some(&fingerprint(raw)))
            })
    }
}

impl Connection {
    /// Fetches one record by id and emits what changed (webhooks; re-polls of one record).
    pub async fn sync_one(&self, kind: Kind, id: i64, force: bool) -> Result<Outcome, SyncError> {
        let _guard = self.lock(&[(kind.name(), id)]).await;
        let prev = self
            .db
            .entity(self.id(), kind.name(), &id.to_string())
            .await?;
        let raw = self.fetch_record(kind, id).await?;
        let input = Input {
            id,
            raw: raw.as_ref(),
            prev: prev.as_ref(),
            force,
        };
        let prepared = self.prepare(kind, input).await?;
        let outcome = prepared.outcome.unwrap_or(Outcome::Unchanged);
        self.commit(vec![prepared]).await?;
        Ok(outcome)
    }

    /// Emits what changed among records listed by the store (polls, backfill): their
    /// details are fetched concurrently, their events sent together, their state stored in
    /// one statement.
    pub async fn sync_batch(
        &self,
        kind: Kind,
        records: &[RawRecord],
        force: bool,
    ) -> Result<BatchStats, SyncError> {
        let batch = self.prepare_batch(kind, records, force).await?;
        self.commit_batch(batch).await
    }

    /// Sends and stores a prepared batch, then releases its records.
    pub async fn commit_batch(&self, batch: PreparedBatch<'_>) -> Result<BatchStats, SyncError> {
        self.commit(batch.prepared).await?;
        Ok(batch.stats)
    }

    /// The first half of [`Connection::sync_batch`]: takes the records' locks, fetches their
    /// details (`concurrency` at a time) and maps them; nothing is sent or stored until
    /// [`Connection::commit_batch`] (the backfill prepares a page while it commits the last).
    pub async fn prepare_batch(
        &self,
        kind: Kind,
        records: &[RawRecord],
        force: bool,
    ) -> Result<PreparedBatch<'_>, SyncError> {
        let mut ids = Vec::with_capacity(records.len());
        let mut stats = BatchStats::default();
        let mut valid = Vec::with_capacity(records.len());
        for raw in records {
            match record_id(raw) {
                Some(id) => {
                    ids.push(id);
                    valid.push((id, raw));
                }
                None => {
                    self.dead_letter(kind, None, raw.get().as_bytes(), "record has no numeric id")
                        .await?;
                    stats.add(Outcome::DeadLettered);
                }
            }
        }
        let keys: Vec<(&'static str, i64)> = ids.iter().map(|id| (kind.name(), *id)).collect();
        let guard = self.lock(&keys).await;
        let id_text: Vec<String> = ids.iter().map(i64::to_string).collect();
        let prev: HashMap<String, Stored> =
            self.db.entities(self.id(), kind.name(), &id_text).await?;
        // The futures are made first and then run a few at a time (a stream of closures
        // borrowing `self` would not be Send for every lifetime).
        let jobs: Vec<_> = valid
            .iter()
            .map(|(id, raw)| {
                let input = Input {
                    id: *id,
                    raw: Some(*raw),
                    prev: prev.get(&id.to_string()),
                    force,
                };
                self.prepare(kind, input)
            })
            .collect();
        let prepared: Vec<Prepared> = stream::iter(jobs)
            .buffer_unordered(self.settings.concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        for p in &prepared {
            stats.add(p.outcome.unwrap_or(Outcome::Unchanged));
        }
        Ok(PreparedBatch {
            prepared,
            stats,
            _guard: guard,
        })
    }

    async fn fetch_record(&self, kind: Kind, id: i64) -> Result<Option<RawRecord>, SyncError> {
        let c = &self.client;
        Ok(match kind {
            Kind::Order => c.order_record(id).await?,
            Kind::Customer => c.customer_record(id).await?,
            Kind::Product => c.product_record(id).await?,
            Kind::Shipment => c.shipment_record(id).await?,
            Kind::ReturnRequest => c.return_record(id).await?,
        })
    }

    async fn prepare(&self, kind: Kind, input: Input<'_>) -> Result<Prepared, SyncError> {
        if input.raw.is_none() {
            return self.prepare_missing(kind, &input).await;
        }
        if input.unchanged() {
            return Ok(Prepared::outcome(Outcome::Unchanged));
        }
        match kind {
            Kind::Order => self.prepare_order(input).await,
            Kind::Customer => self.prepare_customer(input).await,
            Kind::Product => self.prepare_product(input).await,
            Kind::Shipment => self.prepare_shipment(input).await,
            Kind::ReturnRequest => self.prepare_return(input).await,
        }
    }

    /// A 404: a delete event for a record emitted before, an error for one never seen.
    async fn prepare_missing(&self, kind: Kind, input: &Input<'_>) -> Result<Prepared, SyncError> {
        match input.prev {
            Some(p) if p.deleted => Ok(Prepared::outcome(Outcome::Unchanged)),
            Some(p) if !p.content_hash.is_empty() => Ok(self.deletion(kind, input.id)),
            _ => Err(SyncError::NotFound(format!("{} {}", kind.name(), input.id))),
        }
    }

    /// Sends the events of every prepared change (all acknowledged), then stores the rows.
    pub async fn commit(&self, prepared: Vec<Prepared>) -> Result<(), SyncError> {
        let mut events = Vec::new();
        let mut rows = Vec::new();
        for p in prepared {
            events.extend(p.events);
            rows.extend(p.rows);
        }
        self.emitter.send_all(&events).await?;
        self.db.put_entities(self.id(), &rows).await?;
        if !events.is_empty() {
            self.count("events_emitted", events.len() as u64);
        }
        Ok(())
    }

    /// Decodes a raw record; on failure it is dead-lettered and the row remembers its
    /// fingerprint, so the same bytes are not dead-lettered again.
    async fn decode<T: DeserializeOwned>(
        &self,
        kind: Kind,
        id: i64,
        raw: &RawRecord,
    ) -> Result<Result<T, Prepared>, SyncError> {
        match serde_json::from_str::<T>(raw.get()) {
            Ok(v) => Ok(Ok(v)),
            Err(e) => Ok(Err(self
                .reject(kind, id, raw, &format!("does not decode: {e}"))
                .await?)),
        }
    }

    /// Dead-letters a record that cannot be turned into an event.
    async fn reject(
        &self,
        kind: Kind,
        id: i64,
        raw: &RawRecord,
        reason: &str,
    ) -> Result<Prepared, SyncError> {
        self.dead_letter(kind, Some(id), raw.get().as_bytes(), reason)
            .await?;
        Ok(Prepared {
            events: Vec::new(),
            rows: vec![EntityRow {
                entity: kind.name(),
                entity_id: id.to_string(),
                content_hash: String::new(),
                state: serde_json::json!({"source": fingerprint(raw), "dead_lettered": true}),
                open: false,
                deleted: false,
                created_at: None,
            }],
            outcome: Some(Outcome::DeadLettered),
        })
    }

    pub(crate) async fn dead_letter(
        &self,
        kind: Kind,
        id: Option<i64>,
        raw: &[u8],
        reason: &str,
    ) -> Result<(), SyncError> {
        let what = match id {
            Some(id) => format!("{} {id}", kind.name()),
            None => kind.name().to_string(),
        };
        warn!(connection = self.id(), record = %what, %reason, "dead-lettering store data");
        self.count("dead_lettered", 1);
        let key = format!(
            "{}/{}/{}",
            self.settings.tenant,
            self.store_id(),
            what.replace(' ', "/")
        );
        self.emitter
            .dead_letter(
                &format!("nopcommerce.{}", kind.name()),
                &key,
                raw,
                "malformed",
                &format!("{what} of connection {}: {reason}", self.id()),
            )
            .await?;
        Ok(())
    }

    /// A record of another store: remembered by fingerprint so polls skip it cheaply.
    fn other_store(&self, kind: Kind, id: i64, raw: &RawRecord, store: i64) -> Prepared {
        info!(
            connection = self.id(),
            entity = kind.name(),
            id,
            store,
            "record of another store"
        );
        Prepared {
            events: Vec::new(),
            rows: vec![EntityRow {
                entity: kind.name(),
                entity_id: id.to_string(),
                content_hash: String::new(),
                state: serde_json::json!({"source": fingerprint(raw), "store": store}),
                open: false,
                deleted: false,
                created_at: None,
            }],
            outcome: Some(Outcome::OtherStore(store)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::unwrap_used)]
    fn raw(s: &str) -> RawRecord {
        serde_json::value::RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn kinds_round_trip_by_name() {
        for k in ["order", "customer", "product", "shipment", "return_request"] {
            assert_eq!(Kind::parse(k).map(Kind::name), Some(k));
        }
        assert_eq!(Kind::parse("orders"), None);
    }

    #[test]
    fn unchanged_bytes_skip_the_fetch_unless_forced() {
        let r = raw(r#"{"id":7,"x":1}"#);
        let prev = Stored {
            content_hash: "h".into(),
            state: serde_json::json!({"source": fingerprint(&r)}),
            deleted: false,
        };
        let input = |force, prev| Input {
            id: 7,
            raw: Some(&r),
            prev,
            force,
        };
        assert!(input(false, Some(&prev)).unchanged());
        assert!(!input(true, Some(&prev)).unchanged());
        assert!(!input(false, None).unchanged());
        let other = raw(r#"{"id":7,"x":2}"#);
        let changed = Input {
            id: 7,
            raw: Some(&other),
            prev: Some(&prev),
            force: false,
        };
        assert!(!changed.unchanged());
        assert_eq!(record_id(&r), Some(7));
        assert_eq!(record_id(&raw(r#"{"id":"x"}"#)), None);
    }
}
