//! Reads through the free community API (`/api`, SevenSpikes/F480 conventions): plural
//! wrappers even for one record, `since_id` cursoring with `limit` ≤ 250 and 1-based pages,
//! exclusive date bounds that must carry a `Z`. It has no shipments, return requests, stock
//! history, gift-card or reward-point usage (reference §3.3), so those reads are
//! [`ApiError::Unsupported`] and the pollers for them do not run on such connections.
use super::dto::{CurrencyDto, RawRecord, WarehouseInventoryDto};
use super::official::iso;
use super::{ApiError, ApiResult, NopClient};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;

/// The most records one call returns.
pub const MAX_LIMIT: u32 = 250;

#[derive(Deserialize)]
struct Root(HashMap<String, Vec<RawRecord>>);

#[derive(Deserialize)]
struct Count {
    count: i64,
}

impl NopClient {
    fn community(&self, what: &'static str) -> ApiResult<()> {
        match self.dialect() {
            crate::settings::Dialect::Community => Ok(()),
            crate::settings::Dialect::Official => Err(ApiError::Unsupported(what)),
        }
    }

    /// The records under the plural root key (`{"orders":[…]}`).
    async fn list(
        &self,
        root: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> ApiResult<Vec<RawRecord>> {
        let Root(mut map) = self.get(path, query).await?;
        map.remove(root).ok_or_else(|| ApiError::Malformed {
            path: path.to_string(),
            reason: format!("no `{root}` list in the answer"),
            raw: Vec::new(),
        })
    }

    /// One record by id (`/api/{root}/{id}`, answered as a one-element list); None on 404.
    pub(super) async fn community_one(&self, root: &str, id: i64) -> ApiResult<Option<RawRecord>> {
        let path = format!("/api/{root}/{id}");
        match self.list(root, &path, &[]).await {
            Ok(mut list) => Ok(list.pop()),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Orders with id > `since_id` (ascending), of the store the Host header names;
    /// `created_after` (exclusive) narrows the first page of a backfill.
    pub async fn community_orders(
        &self,
        since_id: i64,
        limit: u32,
        created_after: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<RawRecord>> {
        self.community("order listing")?;
        let mut query = vec![
            ("since_id", since_id.to_string()),
            ("limit", limit.min(MAX_LIMIT).to_string()),
        ];
        if let Some(t) = created_after {
            query.push(("created_at_min", iso(t)));
        }
        self.list("orders", "/api/orders", &query).await
    }

    /// Orders created after `created_after` (the count ignores since_id).
    pub async fn community_order_count(&self, created_after: DateTime<Utc>) -> ApiResult<i64> {
        self.community("order count")?;
        let c: Count = self
            .get(
                "/api/orders/count",
                &[("created_at_min", iso(created_after))],
            )
            .await?;
        Ok(c.count)
    }

    pub(super) async fn community_orders_by_ids(&self, ids: &[i64]) -> ApiResult<Vec<RawRecord>> {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let query = [("ids", list.join(",")), ("limit", MAX_LIMIT.to_string())];
        self.list("orders", "/api/orders", &query).await
    }

    pub async fn community_customers(
        &self,
        since_id: i64,
        limit: u32,
        created_after: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<RawRecord>> {
        self.community("customer listing")?;
        let mut query = vec![
            ("since_id", since_id.to_string()),
            ("limit", limit.min(MAX_LIMIT).to_string()),
        ];
        if let Some(t) = created_after {
            query.push(("created_at_min", iso(t)));
        }
        self.list("customers", "/api/customers", &query).await
    }

    /// Products (by id) updated after `updated_after` (exclusive); page is 1-based.
    pub async fn community_products(
        &self,
        updated_after: Option<DateTime<Utc>>,
        page: u32,
        limit: u32,
    ) -> ApiResult<Vec<RawRecord>> {
        self.community("product listing")?;
        let mut query = vec![
            ("page", page.max(1).to_string()),
            ("limit", limit.min(MAX_LIMIT).to_string()),
        ];
        if let Some(t) = updated_after {
            query.push(("updated_at_min", iso(t)));
        }
        self.list("products", "/api/products", &query).await
    }

    pub(super) async fn community_currencies(&self) -> ApiResult<Vec<CurrencyDto>> {
        let raw = self.list("currencies", "/api/currencies", &[]).await?;
        decode_all("/api/currencies", &raw)
    }

    pub(super) async fn community_warehouse_inventory(
        &self,
        product_id: i64,
    ) -> ApiResult<Vec<WarehouseInventoryDto>> {
        let query = [
            ("product_id", product_id.to_string()),
            ("limit", MAX_LIMIT.to_string()),
        ];
        let path = "/api/product_warehouse_inventories";
        let raw = self
            .list("product_warehouse_inventories", path, &query)
            .await?;
        decode_all(path, &raw)
    }
}

fn decode_all<T: serde::de::DeserializeOwned>(path: &str, raw: &[RawRecord]) -> ApiResult<Vec<T>> {
    raw.iter()
        .map(|r| {
            serde_json::from_str(r.get()).map_err(|e| ApiError::Malformed {
                path: path.to_string(),
                reason: e.to_string(),
                raw: r.get().as_bytes().to_vec(),
            })
        })
        .collect()
}
