//! Shipments (backend only): the shipment with its lines, SKUs from the order's lines.
use super::{fingerprint, Input, Kind, Outcome, Prepared, SyncError};
use crate::canonical::shipment as map;
use crate::client::dto::ShipmentDto;
use crate::connection::Connection;
use crate::db::EntityRow;
use crate::emit::hash_of;
use nopbridge_proto::events::v1 as pb;
use std::collections::HashMap;

impl Connection {
    pub(super) async fn prepare_shipment(&self, input: Input<'_>) -> Result<Prepared, SyncError> {
        let Some(raw) = input.raw else {
            return Err(SyncError::NotFound(format!("shipment {}", input.id)));
        };
        let s = match self
            .decode::<ShipmentDto>(Kind::Shipment, input.id, raw)
            .await?
        {
            Ok(s) => s,
            Err(rejected) => return Ok(rejected),
        };
        match self.store_of_order(s.order_id).await? {
            Some(store) if store == self.store_id() => {}
            Some(store) => return Ok(self.other_store(Kind::Shipment, s.id, raw, store)),
            None => {
                let why = format!("its order {} is not found at the store", s.order_id);
                return self.reject(Kind::Shipment, s.id, raw, &why).await;
            }
        }
        let (items, lines) = futures::try_join!(
            self.client.shipment_items(s.id),
            self.client.order_items(s.order_id)
        )?;
        let product_ids: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
        let products = self.products(&product_ids).await?;
        let skus: HashMap<i64, (i64, String)> = lines
            .iter()
            .map(|l| {
                let sku = products
                    .get(&l.product_id)
                    .and_then(|p| p.sku.clone())
                    .unwrap_or_default();
                (l.id, (l.product_id, sku))
            })
            .collect();
        let event = match map::shipment(&s, &items, &skus) {
            Ok(e) => e,
            Err(e) => return self.reject(Kind::Shipment, s.id, raw, &e.to_string()).await,
        };
        let hash = hash_of(&event);
        let id = s.id.to_string();
        let changed = input
            .prev
            .is_none_or(|p| p.content_hash != hash || p.deleted);
        let mut events = Vec::new();
        if changed {
            let occurred = s
                .delivery_date_utc
                .or(s.shipped_date_utc)
                .or(Some(s.created_on_utc));
            events.push(self.emitter.prepare(
                event,
                &id,
                &[&id],
                &hash,
                pb::ChangeKind::Upsert,
                occurred,
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
                entity: Kind::Shipment.name(),
                entity_id: id,
                content_hash: hash,
                state: serde_json::json!({"source": fingerprint(raw)}),
                open: s.delivery_date_utc.is_none(),
                deleted: false,
                created_at: Some(s.created_on_utc),
            }],
        })
    }

    /// The store of an order: known from the state database when ingest has seen it, else
    /// asked from the store; None when the order is gone.
    pub(super) async fn store_of_order(&self, order_id: i64) -> Result<Option<i64>, SyncError> {
        if let Some(row) = self
            .db
            .entity(self.id(), Kind::Order.name(), &order_id.to_string())
            .await?
        {
            if !row.content_hash.is_empty() && !row.deleted {
                return Ok(Some(self.store_id()));
            }
            if let Some(store) = row.state.get("store").and_then(|s| s.as_i64()) {
                return Ok(Some(store));
            }
        }
        #[derive(serde::Deserialize)]
        struct StoreOf {
            store_id: i64,
        }
        let Some(raw) = self.client.order_record(order_id).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<StoreOf>(raw.get())
            .ok()
            .map(|o| o.store_id))
    }
}
