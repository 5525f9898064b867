//! Orders: the order with its lines, addresses, gift cards and reward points becomes an
//! Order event, and each payment change a PaymentTransaction event.
use super::{fingerprint, Input, Kind, Prepared, SyncError};
use crate::canonical::order::{self as map, OrderBundle};
use crate::canonical::payment::{self, PaymentState};
use crate::client::dto::*;
use crate::client::ApiError;
use crate::connection::Connection;
use crate::db::EntityRow;
use crate::emit::hash_of;
use crate::settings::Dialect;
use futures::future::try_join_all;
use nopbridge_proto::events::v1 as pb;
use std::collections::HashMap;

use super::Outcome;

impl Connection {
    pub(super) async fn prepare_order(&self, input: Input<'_>) -> Result<Prepared, SyncError> {
        let Some(raw) = input.raw else {
            return Err(SyncError::NotFound(format!("order {}", input.id)));
        };
        let mut dto = match self.decode::<OrderDto>(Kind::Order, input.id, raw).await? {
            Ok(d) => d,
            Err(rejected) => return Ok(rejected),
        };
        if let Err(reason) = dto.normalize() {
            return self.reject(Kind::Order, input.id, raw, &reason).await;
        }
        if dto.store_id != self.store_id() {
            return Ok(self.other_store(Kind::Order, input.id, raw, dto.store_id));
        }
        let bundle = match self.order_bundle(dto).await {
            Ok(b) => b,
            Err(SyncError::Api(ApiError::Malformed { path, reason, .. })) => {
                let why = format!("a related record at {path} does not decode: {reason}");
                return self.reject(Kind::Order, input.id, raw, &why).await;
            }
            Err(e) => return Err(e),
        };
        let order = match map::to_canonical(&bundle, &self.ctx) {
            Ok(o) => o,
            Err(e) => {
                return self
                    .reject(Kind::Order, input.id, raw, &e.to_string())
                    .await
            }
        };
        let o = &bundle.order;
        let hash = hash_of(&order);
        let id = o.id.to_string();
        let prev_payment: Option<PaymentState> = input
            .prev
            .filter(|p| !p.content_hash.is_empty() && !p.deleted)
            .and_then(|p| p.state.get("payment"))
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let mut events = Vec::new();
        let changed = input
            .prev
            .is_none_or(|p| p.content_hash != hash || p.deleted);
        let (txns, state) = payment::derive(prev_payment, &order);
        if changed {
            for t in txns {
                let h = hash_of(&t);
                let occurred = t.occurred_at.as_ref().and_then(to_time);
                let tid = t.transaction_id.clone();
                events.push(self.emitter.prepare(
                    t,
                    &tid,
                    &[&id],
                    &h,
                    pb::ChangeKind::Upsert,
                    occurred,
                ));
            }
            // A new order happened when it was placed; a change, when it is seen.
            let occurred = input.prev.is_none().then_some(o.created_on_utc);
            events.insert(
                0,
                self.emitter.prepare(
                    order.clone(),
                    &id,
                    &[&id],
                    &hash,
                    pb::ChangeKind::Upsert,
                    occurred,
                ),
            );
        }
        let n = events.len();
        Ok(Prepared {
            events,
            rows: vec![EntityRow {
                entity: Kind::Order.name(),
                entity_id: id,
                content_hash: hash,
                state: serde_json::json!({"source": fingerprint(raw), "payment": state}),
                open: map::is_open(o),
                deleted: false,
                created_at: Some(o.created_on_utc),
            }],
            outcome: Some(if changed {
                Outcome::Emitted(n)
            } else {
                Outcome::Unchanged
            }),
        })
    }

    /// The order's related records: through separate calls on the backend, nested in the
    /// order on the community API (which has no gift-card or reward-point usage).
    async fn order_bundle(&self, mut order: OrderDto) -> Result<OrderBundle, SyncError> {
        if self.client.dialect() == Dialect::Community {
            let items = std::mem::take(&mut order.order_items);
            let products = items
                .iter()
                .filter_map(|i| i.product.clone())
                .map(|p| (p.id, p))
                .collect();
            return Ok(OrderBundle {
                billing: order.billing_address.take(),
                shipping: order.shipping_address.take(),
                order,
                items,
                products,
                gift_cards: Vec::new(),
                reward_points: None,
            });
        }
        let c = &self.client;
        let id = order.id;
        let address = |a: Option<i64>| async move {
            match a {
                Some(a) => c.address(a).await,
                None => Ok(None),
            }
        };
        let reward = async {
            match order.redeemed_reward_points_entry_id {
                Some(r) => c.reward_points_entry(r).await,
                None => Ok(None),
            }
        };
        let (items, billing, shipping, usage, reward_points) = futures::try_join!(
            c.order_items(id),
            address(order.billing_address_id),
            address(order.shipping_address_id),
            c.gift_card_usage(id),
            reward,
        )?;
        let product_ids: Vec<i64> = items.iter().map(|i| i.product_id).collect();
        let products = self.products(&product_ids).await?;
        let gift_cards = try_join_all(usage.into_iter().map(|u| async move {
            let code = self.gift_card_code(u.gift_card_id).await?;
            Ok::<_, SyncError>((u, code))
        }))
        .await?;
        Ok(OrderBundle {
            order,
            items,
            products,
            billing,
            shipping,
            gift_cards,
            reward_points,
        })
    }

    /// Products of order lines, from the cache or the store (a deleted one is left out:
    /// its line keeps the product id without SKU).
    pub(crate) async fn products(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, ProductDto>, SyncError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.caches.products.read();
            for id in ids {
                match cache.get(id) {
                    Some(p) => {
                        found.insert(*id, p.clone());
                    }
                    None => missing.push(*id),
                }
            }
        }
        missing.sort_unstable();
        missing.dedup();
        let fetched = try_join_all(missing.into_iter().map(|id| async move {
            let raw = self.client.product_record(id).await?;
            Ok::<_, SyncError>(raw.and_then(|r| serde_json::from_str::<ProductDto>(r.get()).ok()))
        }))
        .await?;
        let mut cache = self.caches.products.write();
        for p in fetched.into_iter().flatten() {
            cache.insert(p.id, p.clone());
            found.insert(p.id, p);
        }
        Ok(found)
    }

    async fn gift_card_code(&self, id: i64) -> Result<Option<String>, SyncError> {
        if let Some(code) = self.caches.gift_card_codes.read().get(&id) {
            return Ok(code.clone());
        }
        let code = self
            .client
            .gift_card(id)
            .await?
            .and_then(|g| g.gift_card_coupon_code);
        self.caches.gift_card_codes.write().insert(id, code.clone());
        Ok(code)
    }
}

fn to_time(t: &prost_types::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
}
