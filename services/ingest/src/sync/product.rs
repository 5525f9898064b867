//! Products and their stock: a Product event, and an InventoryLevel event per warehouse
//! (or one for single-warehouse stock) whose content changed.
use super::{fingerprint, Input, Kind, Outcome, Prepared, SyncError};
use crate::canonical::catalog;
use crate::client::dto::{ProductDto, StockHistoryDto, WarehouseInventoryDto};
use crate::client::ApiError;
use crate::connection::Connection;
use crate::db::EntityRow;
use crate::emit::hash_of;
use crate::settings::Dialect;
use nopbridge_proto::events::v1 as pb;
use std::collections::HashMap;

pub const INVENTORY_LEVEL: &str = "inventory_level";

impl Connection {
    pub(super) async fn prepare_product(&self, input: Input<'_>) -> Result<Prepared, SyncError> {
        let Some(raw) = input.raw else {
            return Err(SyncError::NotFound(format!("product {}", input.id)));
        };
        let p = match self
            .decode::<ProductDto>(Kind::Product, input.id, raw)
            .await?
        {
            Ok(p) => p,
            Err(rejected) => return Ok(rejected),
        };
        self.caches.products.write().insert(p.id, p.clone());
        let warehouses: Vec<WarehouseInventoryDto> = if p.use_multiple_warehouses {
            self.client.warehouse_inventory(p.id).await?
        } else {
            Vec::new()
        };
        let (names, last) = match self.client.dialect() {
            Dialect::Official => {
                let last = self.client.newest_stock_history(p.id).await?.flatten();
                (self.warehouse_names().await?, last)
            }
            Dialect::Community => (HashMap::new(), None),
        };
        let product = match catalog::product(&p, &warehouses, &names, &self.ctx) {
            Ok(e) => e,
            Err(e) => {
                return self
                    .reject(Kind::Product, input.id, raw, &e.to_string())
                    .await
            }
        };
        let id = p.id.to_string();
        let hash = hash_of(&product);
        let catalog = hash_of(&without_stock(&product));
        let mut events = Vec::new();
        if input
            .prev
            .is_none_or(|prev| prev.content_hash != hash || prev.deleted)
        {
            let mut product = product;
            product.stock_change_only = input.prev.is_some_and(|prev| {
                !prev.deleted
                    && prev.state.get("catalog").and_then(|c| c.as_str()) == Some(&catalog)
            });
            events.push(self.emitter.prepare(
                product,
                &id,
                &[&id],
                &hash,
                pb::ChangeKind::Upsert,
                Some(p.updated_on_utc),
            ));
        }
        let mut rows = vec![EntityRow {
            entity: Kind::Product.name(),
            entity_id: id,
            content_hash: hash,
            state: serde_json::json!({
                "source": fingerprint(raw),
                "history_id": last.as_ref().map(|h| h.id),
                "catalog": catalog,
            }),
            open: false,
            deleted: false,
            created_at: Some(p.created_on_utc),
        }];
        self.inventory_levels(&p, &warehouses, last.as_ref(), &mut events, &mut rows)
            .await?;
        let n = events.len();
        Ok(Prepared {
            events,
            rows,
            outcome: Some(if n > 0 {
                Outcome::Emitted(n)
            } else {
                Outcome::Unchanged
            }),
        })
    }

    /// Adds the events and rows of the product's inventory levels that changed.
    async fn inventory_levels(
        &self,
        p: &ProductDto,
        warehouses: &[WarehouseInventoryDto],
        last: Option<&StockHistoryDto>,
        events: &mut Vec<crate::emit::Outgoing>,
        rows: &mut Vec<EntityRow>,
    ) -> Result<(), SyncError> {
        let levels = catalog::inventory_levels(p, warehouses, last, p.updated_on_utc);
        let ids: Vec<String> = levels.iter().map(level_id).collect();
        let prev = self.db.entities(self.id(), INVENTORY_LEVEL, &ids).await?;
        for (level, level_id) in levels.into_iter().zip(ids) {
            let hash = hash_of(&level);
            let occurred = last.map(|h| h.created_on_utc);
            if prev.get(&level_id).is_some_and(|s| s.content_hash == hash) {
                continue;
            }
            let parts: Vec<String> = level_id.split('/').map(str::to_string).collect();
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            events.push(self.emitter.prepare(
                level,
                &level_id,
                &parts,
                &hash,
                pb::ChangeKind::Upsert,
                occurred,
            ));
            rows.push(EntityRow {
                entity: INVENTORY_LEVEL,
                entity_id: level_id,
                content_hash: hash,
                state: serde_json::json!({}),
                open: false,
                deleted: false,
                created_at: None,
            });
        }
        Ok(())
    }

    /// Warehouse names (read once).
    async fn warehouse_names(&self) -> Result<HashMap<i64, String>, SyncError> {
        if let Some(map) = self.caches.warehouses.read().as_ref() {
            return Ok(map.clone());
        }
        let map: HashMap<i64, String> = match self.client.warehouses().await {
            Ok(list) => list.into_iter().map(|w| (w.id, w.name)).collect(),
            Err(ApiError::Unsupported(_)) => HashMap::new(),
            Err(e) => return Err(e.into()),
        };
        *self.caches.warehouses.write() = Some(map.clone());
        Ok(map)
    }
}

/// `<product id>` for single-warehouse stock, `<product id>/<warehouse id>` otherwise.
fn level_id(l: &pb::InventoryLevel) -> String {
    if l.warehouse_id == 0 {
        l.product_id.to_string()
    } else {
        format!("{}/{}", l.product_id, l.warehouse_id)
    }
}

/// The product as the catalogue knows it: its stock left out, so that two versions with the
/// same hash of this differ only in stock.
fn without_stock(p: &pb::Product) -> pb::Product {
    let mut p = p.clone();
    p.stock_quantity = 0;
    for w in &mut p.warehouses {
        w.stock_quantity = 0;
        w.reserved_quantity = 0;
    }
    p
}
