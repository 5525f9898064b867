//! Customers (guests included: they have no email and the role Guests).
use super::{fingerprint, Input, Kind, Outcome, Prepared, SyncError};
use crate::canonical::customer as map;
use crate::client::dto::CustomerDto;
use crate::client::ApiError;
use crate::connection::Connection;
use crate::db::EntityRow;
use crate::emit::hash_of;
use crate::settings::Dialect;
use nopbridge_proto::events::v1 as pb;
use std::collections::HashMap;

impl Connection {
    pub(super) async fn prepare_customer(&self, input: Input<'_>) -> Result<Prepared, SyncError> {
        let Some(raw) = input.raw else {
            return Err(SyncError::NotFound(format!("customer {}", input.id)));
        };
        let c = match self
            .decode::<CustomerDto>(Kind::Customer, input.id, raw)
            .await?
        {
            Ok(c) => c,
            Err(rejected) => return Ok(rejected),
        };
        // Customers belong to the store they registered in (0: unknown, kept here).
        if c.registered_in_store_id != 0 && c.registered_in_store_id != self.store_id() {
            return Ok(self.other_store(Kind::Customer, input.id, raw, c.registered_in_store_id));
        }
        let addresses = match self.client.dialect() {
            Dialect::Community => map::nested_addresses(&c),
            Dialect::Official => self.client.customer_addresses(c.id).await?,
        };
        let currency = match c.currency_id {
            Some(id) => self.currency_code(id).await?,
            None => None,
        };
        let event = map::to_canonical(&c, &addresses, currency.as_deref(), &self.ctx);
        let hash = hash_of(&event);
        let id = c.id.to_string();
        let changed = input
            .prev
            .is_none_or(|p| p.content_hash != hash || p.deleted);
        let mut events = Vec::new();
        if changed {
            let occurred = input.prev.is_none().then_some(c.created_on_utc);
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
                entity: Kind::Customer.name(),
                entity_id: id,
                content_hash: hash,
                state: serde_json::json!({"source": fingerprint(raw)}),
                open: false,
                deleted: false,
                created_at: Some(c.created_on_utc),
            }],
        })
    }

    /// ISO code of a store currency id (the list is read once).
    async fn currency_code(&self, id: i64) -> Result<Option<String>, SyncError> {
        if let Some(map) = self.caches.currencies.read().as_ref() {
            return Ok(map.get(&id).cloned());
        }
        let map: HashMap<i64, String> = match self.client.currencies().await {
            Ok(list) => list.into_iter().map(|c| (c.id, c.currency_code)).collect(),
            Err(ApiError::Unsupported(_)) => HashMap::new(),
            Err(e) => return Err(e.into()),
        };
        let code = map.get(&id).cloned();
        *self.caches.currencies.write() = Some(map);
        Ok(code)
    }
}
