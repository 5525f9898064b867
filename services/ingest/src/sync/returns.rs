//! Return requests (backend only): one order line each, valued at the line's price.
use super::{fingerprint, Input, Kind, Outcome, Prepared, SyncError};
use crate::canonical::shipment as map;
use crate::client::dto::ReturnRequestDto;
use crate::connection::Connection;
use crate::db::EntityRow;
use crate::emit::hash_of;
use nopbridge_proto::events::v1 as pb;

impl Connection {
    pub(super) async fn prepare_return(&self, input: Input<'_>) -> Result<Prepared, SyncError> {
        let Some(raw) = input.raw else {
            return Err(SyncError::NotFound(format!("return request {}", input.id)));
        };
        let kind = Kind::ReturnRequest;
        let r = match self.decode::<ReturnRequestDto>(kind, input.id, raw).await? {
            Ok(r) => r,
            Err(rejected) => return Ok(rejected),
        };
        if r.store_id != self.store_id() {
            return Ok(self.other_store(kind, r.id, raw, r.store_id));
        }
        let Some(line) = self.client.order_item(r.order_item_id).await? else {
            let why = format!(
                "its order item {} is not found at the store",
                r.order_item_id
            );
            return self.reject(kind, r.id, raw, &why).await;
        };
        let sku = self
            .products(&[line.product_id])
            .await?
            .get(&line.product_id)
            .and_then(|p| p.sku.clone())
            .unwrap_or_default();
        let event = match map::return_request(&r, &line, &sku, self.ctx.currency) {
            Ok(e) => e,
            Err(e) => return self.reject(kind, r.id, raw, &e.to_string()).await,
        };
        let hash = hash_of(&event);
        let id = r.id.to_string();
        let changed = input
            .prev
            .is_none_or(|p| p.content_hash != hash || p.deleted);
        let mut events = Vec::new();
        if changed {
            events.push(self.emitter.prepare(
                event,
                &id,
                &[&id],
                &hash,
                pb::ChangeKind::Upsert,
                Some(r.updated_on_utc),
            ));
        }
        Ok(Prepared {
            outcome: Some(if changed {
                Outcome::Emitted(1)
            } else {
                Outcome::Unchanged
            }),
            events,
            rows: vec![EntityRow {
                entity: kind.name(),
                entity_id: id,
                content_hash: hash,
                state: serde_json::json!({"source": fingerprint(raw)}),
                open: map::return_is_open(r.return_request_status_id),
                deleted: false,
                created_at: Some(r.created_on_utc),
            }],
        })
    }
}
