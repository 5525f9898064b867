//! Canonical events out: content hash over the event without its metadata, deterministic
//! event id, CloudEvents headers and a new trace per event, key `tenant/store/entity/id`;
//! and the dead-letter path for data that cannot be mapped (raw payload plus reason).
use crate::busy::BusyClock;
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, TryStreamExt};
use nopbridge_kafka::{
    CloudEvent, DeadLetter, DeadLetterContext, KafkaError, OutgoingRecord, Producer, Record,
    TraceContext,
};
use nopbridge_model::ids::{content_hash, entity_name, event_id};
use nopbridge_model::keys::canonical_key_parts;
use nopbridge_proto::events::v1 as pb;
use nopbridge_runtime::topics;
use prost::Message;

/// A canonical event type: its entity and where its metadata goes.
pub trait Event: Message + Sized {
    const ENTITY: pb::EntityType;
    const TYPE: &'static str;
    fn set_meta(&mut self, meta: pb::EventMeta);
}

macro_rules! event {
    ($t:ty, $e:ident) => {
        impl Event for $t {
            const ENTITY: pb::EntityType = pb::EntityType::$e;
            const TYPE: &'static str = concat!("nopbridge.events.v1.", stringify!($e));
            fn set_meta(&mut self, meta: pb::EventMeta) {
                self.meta = Some(meta);
            }
        }
    };
}
event!(pb::Order, Order);
event!(pb::Customer, Customer);
event!(pb::Product, Product);
event!(pb::InventoryLevel, InventoryLevel);
event!(pb::PaymentTransaction, PaymentTransaction);
event!(pb::Shipment, Shipment);
event!(pb::ReturnRequest, ReturnRequest);

/// Hex SHA-256 of the event's content (it is hashed before its metadata is set, so the hash
/// is stable across reads).
pub fn hash_of<E: Event>(e: &E) -> String {
    content_hash(&e.encode_to_vec())
}

/// One event ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub ce: CloudEvent,
}

/// Sends one connection's events.
#[derive(Clone)]
pub struct Emitter {
    producer: Producer,
    dlq: DeadLetter,
    tenant: String,
    store: String,
    connection: String,
    topic_suffix: String,
    busy: BusyClock,
}

impl Emitter {
    /// `topic_suffix` is appended to the topic names (see the setting).
    pub fn new(
        producer: Producer,
        tenant: &str,
        store: &str,
        connection: &str,
        topic_suffix: &str,
    ) -> Self {
        Self {
            dlq: DeadLetter::new(
                producer.clone(),
                format!("{}{topic_suffix}", topics::dlq("ingest")),
            ),
            producer,
            tenant: tenant.to_string(),
            store: store.to_string(),
            connection: connection.to_string(),
            topic_suffix: topic_suffix.to_string(),
            busy: BusyClock::default(),
        }
    }

    /// Wall-clock time with at least one produce outstanding.
    pub fn busy(&self) -> &BusyClock {
        &self.busy
    }

    /// Sets the metadata and encodes. `key_parts` is the id part of the record key (the
    /// order id for payment transactions, so one order's transactions stay in order);
    /// `entity_id` goes into the metadata and the event id.
    pub fn prepare<E: Event>(
        &self,
        mut event: E,
        entity_id: &str,
        key_parts: &[&str],
        hash: &str,
        change: pb::ChangeKind,
        occurred_at: Option<DateTime<Utc>>,
    ) -> Outgoing {
        let id = event_id(
            pb::SourceSystem::Nopcommerce,
            &self.tenant,
            &self.store,
            E::ENTITY,
            entity_id,
            hash,
        )
        .to_string();
        let now = Utc::now();
        let occurred = occurred_at.unwrap_or(now);
        event.set_meta(pb::EventMeta {
            event_id: id.clone(),
            tenant_id: self.tenant.clone(),
            store_id: self.store.clone(),
            source_system: pb::SourceSystem::Nopcommerce as i32,
            entity_type: E::ENTITY as i32,
            entity_id: entity_id.to_string(),
            occurred_at: Some(nopbridge_runtime::control::timestamp(occurred)),
            ingested_at: Some(nopbridge_runtime::control::timestamp(now)),
            content_hash: hash.to_string(),
            schema_version: 1,
            connection_id: self.connection.clone(),
            change: change as i32,
        });
        let entity = entity_name(E::ENTITY);
        let key = canonical_key_parts(&self.tenant, &self.store, entity, key_parts);
        let ce = CloudEvent::protobuf(
            id,
            format!("nopbridge/ingest/{}/{}", self.tenant, self.store),
            E::TYPE,
        )
        .with_subject(key.clone())
        .with_time(occurred);
        Outgoing {
            topic: format!("{}{}", topics::canonical(entity), self.topic_suffix),
            key,
            payload: event.encode_to_vec(),
            ce,
        }
    }

    /// Sends every event at once and returns when the broker has acknowledged all of them.
    pub async fn send_all(&self, events: &[Outgoing]) -> Result<(), KafkaError> {
        if events.is_empty() {
            return Ok(());
        }
        let _busy = self.busy.start();
        events
            .iter()
            .map(|e| {
                let record = OutgoingRecord::new(&e.topic, e.key.as_bytes(), &e.payload)
                    .event(&e.ce, Some(&TraceContext::new_root()));
                self.producer.send(record)
            })
            .collect::<FuturesUnordered<_>>()
            .try_collect::<Vec<_>>()
            .await
            .map(|_| ())
    }

    /// Dead-letters raw store data (an API answer, a record) with the reason; returns once
    /// the broker has it. `source` names where it came from (e.g. the API path).
    pub async fn dead_letter(
        &self,
        source: &str,
        key: &str,
        raw: &[u8],
        class: &str,
        reason: &str,
    ) -> Result<(), KafkaError> {
        let record = Record {
            topic: source.to_string(),
            partition: -1,
            offset: -1,
            key: Some(key.as_bytes().to_vec()),
            payload: Some(raw.to_vec()),
            headers: Vec::new(),
            timestamp_ms: Some(Utc::now().timestamp_millis()),
        };
        let mut ctx = DeadLetterContext::now("ingest", class, reason);
        ctx.extra_headers
            .push(("dlq_connection_id".into(), self.connection.clone()));
        self.dlq.send(&record, &ctx).await
    }
}
