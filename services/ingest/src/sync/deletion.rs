//! Delete events: a record ingest emitted before now answers 404 (nopCommerce deletes are
//! soft and leave no tombstone in lists, reference pitfall 13). The event carries the id and
//! `deleted`, with change = DELETE.
use super::{Kind, Outcome, Prepared};
use crate::connection::Connection;
use crate::db::EntityRow;
use crate::emit::{hash_of, Event};
use nopbridge_proto::events::v1 as pb;
use tracing::info;

impl Connection {
    pub(super) fn deletion(&self, kind: Kind, id: i64) -> Prepared {
        info!(
            connection = self.id(),
            entity = kind.name(),
            id,
            "gone at the store: delete event"
        );
        match kind {
            Kind::Order => self.tombstone(
                kind,
                id,
                pb::Order {
                    order_id: id,
                    store_id: self.store_id(),
                    deleted: true,
                    ..Default::default()
                },
            ),
            Kind::Customer => self.tombstone(
                kind,
                id,
                pb::Customer {
                    customer_id: id,
                    deleted: true,
                    ..Default::default()
                },
            ),
            Kind::Product => self.tombstone(
                kind,
                id,
                pb::Product {
                    product_id: id,
                    deleted: true,
                    ..Default::default()
                },
            ),
            Kind::Shipment => self.tombstone(
                kind,
                id,
                pb::Shipment {
                    shipment_id: id,
                    ..Default::default()
                },
            ),
            Kind::ReturnRequest => self.tombstone(
                kind,
                id,
                pb::ReturnRequest {
                    return_request_id: id,
                    store_id: self.store_id(),
                    ..Default::default()
                },
            ),
        }
    }

    fn tombstone<E: Event>(&self, kind: Kind, id: i64, event: E) -> Prepared {
        let hash = hash_of(&event);
        let sid = id.to_string();
        Prepared {
            events: vec![self.emitter.prepare(
                event,
                &sid,
                &[&sid],
                &hash,
                pb::ChangeKind::Delete,
                None,
            )],
            rows: vec![EntityRow {
                entity: kind.name(),
                entity_id: sid,
                content_hash: hash,
                state: serde_json::json!({}),
                open: false,
                deleted: true,
                created_at: None,
            }],
            outcome: Some(Outcome::Deleted),
        }
    }
}
