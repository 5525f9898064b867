//! Reads through the official Web API Backend (`/api-backend`): flat snake_case DTOs, 0-based
//! pages, lists newest first with inclusive created bounds.
use super::dto::*;
use super::{ApiError, ApiResult, NopClient};
use crate::settings::Dialect;
use chrono::{DateTime, SecondsFormat, Utc};

fn q(v: impl ToString) -> String {
    v.to_string()
}

/// Date filters always carry a designator: without one the server reads its local time
/// (reference pitfall 3).
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn page_query(page_index: u32, page_size: u32) -> [(&'static str, String); 2] {
    [("pageIndex", q(page_index)), ("pageSize", q(page_size))]
}

impl NopClient {
    fn official(&self, what: &'static str) -> ApiResult<()> {
        match self.dialect() {
            Dialect::Official => Ok(()),
            Dialect::Community => Err(ApiError::Unsupported(what)),
        }
    }

    /// One record by its GetById path, kept raw; `None` on 404.
    async fn record(&self, path: &str) -> ApiResult<Option<RawRecord>> {
        self.get_opt(path, &[]).await
    }

    /// Orders of `store_id` created in `[from, to]`, newest first.
    pub async fn order_page(
        &self,
        store_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page_index: u32,
        page_size: u32,
    ) -> ApiResult<Page> {
        self.official("order search")?;
        let mut query = vec![
            ("storeId", q(store_id)),
            ("createdFromUtc", iso(from)),
            ("createdToUtc", iso(to)),
        ];
        query.extend(page_query(page_index, page_size));
        self.get("/api-backend/Order/Search", &query).await
    }

    pub async fn order_count(
        &self,
        store_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> ApiResult<i64> {
        self.official("order search")?;
        let page: Page = self
            .get(
                "/api-backend/Order/Search",
                &[
                    ("storeId", q(store_id)),
                    ("createdFromUtc", iso(from)),
                    ("createdToUtc", iso(to)),
                    ("getOnlyTotalCount", q(true)),
                    ("pageSize", q(1)),
                ],
            )
            .await?;
        Ok(page.total_count)
    }

    pub async fn order_record(&self, id: i64) -> ApiResult<Option<RawRecord>> {
        match self.dialect() {
            Dialect::Official => {
                self.record(&format!("/api-backend/Order/GetById/{id}"))
                    .await
            }
            Dialect::Community => self.community_one("orders", id).await,
        }
    }

    /// Several orders in one call (deleted ones are absent).
    pub async fn orders_by_ids(&self, ids: &[i64]) -> ApiResult<Vec<RawRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match self.dialect() {
            Dialect::Official => {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                let path = format!("/api-backend/Order/GetByIds/{}", list.join(";"));
                self.get(&path, &[]).await
            }
            Dialect::Community => self.community_orders_by_ids(ids).await,
        }
    }

    pub async fn order_items(&self, order_id: i64) -> ApiResult<Vec<OrderItemDto>> {
        self.official("order items")?;
        self.get(
            &format!("/api-backend/OrderItem/GetOrderItems/{order_id}"),
            &[],
        )
        .await
    }

    pub async fn order_item(&self, id: i64) -> ApiResult<Option<OrderItemRefDto>> {
        self.official("order items")?;
        self.get_opt(&format!("/api-backend/OrderItem/GetById/{id}"), &[])
            .await
    }

    pub async fn address(&self, id: i64) -> ApiResult<Option<AddressDto>> {
        self.official("addresses")?;
        self.get_opt(&format!("/api-backend/Address/GetById/{id}"), &[])
            .await
    }

    pub async fn gift_card_usage(&self, order_id: i64) -> ApiResult<Vec<GiftCardUsageDto>> {
        self.official("gift cards")?;
        let path =
            format!("/api-backend/GiftCardUsageHistory/GetGiftCardUsageHistoryByOrder/{order_id}");
        self.get(&path, &[]).await
    }

    pub async fn gift_card(&self, id: i64) -> ApiResult<Option<GiftCardDto>> {
        self.official("gift cards")?;
        self.get_opt(&format!("/api-backend/GiftCard/GetById/{id}"), &[])
            .await
    }

    pub async fn reward_points_entry(&self, id: i64) -> ApiResult<Option<RewardPointsDto>> {
        self.official("reward points")?;
        self.get_opt(
            &format!("/api-backend/RewardPointsHistory/GetById/{id}"),
            &[],
        )
        .await
    }

    /// Customers created in `[from, to]`, newest first (guests included).
    pub async fn customer_page(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page_index: u32,
        page_size: u32,
    ) -> ApiResult<Page> {
        self.official("customer search")?;
        let mut query = vec![("createdFromUtc", iso(from)), ("createdToUtc", iso(to))];
        query.extend(page_query(page_index, page_size));
        self.get("/api-backend/Customer/GetAll", &query).await
    }

    pub async fn customer_count(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> ApiResult<i64> {
        self.official("customer search")?;
        let page: Page = self
            .get(
                "/api-backend/Customer/GetAll",
                &[
                    ("createdFromUtc", iso(from)),
                    ("createdToUtc", iso(to)),
                    ("getOnlyTotalCount", q(true)),
                    ("pageSize", q(1)),
                ],
            )
            .await?;
        Ok(page.total_count)
    }

    pub async fn customer_record(&self, id: i64) -> ApiResult<Option<RawRecord>> {
        match self.dialect() {
            Dialect::Official => {
                self.record(&format!("/api-backend/Customer/GetById/{id}"))
                    .await
            }
            Dialect::Community => self.community_one("customers", id).await,
        }
    }

    pub async fn customer_addresses(&self, customer_id: i64) -> ApiResult<Vec<AddressDto>> {
        self.official("customer addresses")?;
        let path = format!("/api-backend/Customer/GetAddressesByCustomerId/{customer_id}");
        Ok(self.get_opt(&path, &[]).await?.unwrap_or_default())
    }

    pub async fn product_record(&self, id: i64) -> ApiResult<Option<RawRecord>> {
        match self.dialect() {
            Dialect::Official => {
                self.record(&format!("/api-backend/Product/GetById/{id}"))
                    .await
            }
            Dialect::Community => self.community_one("products", id).await,
        }
    }

    /// Products whose UpdatedOnUtc is at or after `from`, by id.
    pub async fn products_updated_page(
        &self,
        from: DateTime<Utc>,
        page_index: u32,
        page_size: u32,
    ) -> ApiResult<Page> {
        self.official("product search")?;
        let mut query = vec![("updatedFromUtc", iso(from))];
        query.extend(page_query(page_index, page_size));
        self.get("/api-backend/Product/Search", &query).await
    }

    pub async fn warehouse_inventory(
        &self,
        product_id: i64,
    ) -> ApiResult<Vec<WarehouseInventoryDto>> {
        match self.dialect() {
            Dialect::Official => {
                let path = format!(
                    "/api-backend/ProductWarehouse/GetAllProductWarehouseInventoryRecords/{product_id}"
                );
                Ok(self.get_opt(&path, &[]).await?.unwrap_or_default())
            }
            Dialect::Community => self.community_warehouse_inventory(product_id).await,
        }
    }

    pub async fn currencies(&self) -> ApiResult<Vec<CurrencyDto>> {
        match self.dialect() {
            Dialect::Official => self.get("/api-backend/Currency/GetAll", &[]).await,
            Dialect::Community => self.community_currencies().await,
        }
    }

    pub async fn warehouses(&self) -> ApiResult<Vec<WarehouseDto>> {
        self.official("warehouses")?;
        self.get("/api-backend/Warehouse/GetAll", &[]).await
    }

    /// The newest stock quantity history row of a product; `Ok(None)` when the product is
    /// gone (404), `Ok(Some(None))` when it has no history.
    pub async fn newest_stock_history(
        &self,
        product_id: i64,
    ) -> ApiResult<Option<Option<StockHistoryDto>>> {
        self.official("stock quantity history")?;
        let path = format!("/api-backend/Product/GetStockQuantityHistory/{product_id}");
        let page: Option<Page> = self.get_opt(&path, &page_query(0, 1)).await?;
        let Some(page) = page else { return Ok(None) };
        match page.items.first() {
            None => Ok(Some(None)),
            Some(raw) => serde_json::from_str(raw.get())
                .map(|h| Some(Some(h)))
                .map_err(|e| ApiError::Malformed {
                    path,
                    reason: e.to_string(),
                    raw: raw.get().as_bytes().to_vec(),
                }),
        }
    }

    /// Shipments created in `[from, to]`; `not_delivered` keeps only those not delivered.
    pub async fn shipment_page(
        &self,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
        not_delivered: bool,
        page_index: u32,
        page_size: u32,
    ) -> ApiResult<Page> {
        self.official("shipments")?;
        let mut query = vec![("createdToUtc", iso(to))];
        query.extend(page_query(page_index, page_size));
        if let Some(from) = from {
            query.push(("createdFromUtc", iso(from)));
        }
        if not_delivered {
            query.push(("loadNotDelivered", q(true)));
        }
        self.get("/api-backend/Shipment/GetAll", &query).await
    }

    pub async fn shipment_record(&self, id: i64) -> ApiResult<Option<RawRecord>> {
        self.official("shipments")?;
        self.record(&format!("/api-backend/Shipment/GetById/{id}"))
            .await
    }

    pub async fn shipment_items(&self, shipment_id: i64) -> ApiResult<Vec<ShipmentItemDto>> {
        self.official("shipments")?;
        let path = format!("/api-backend/ShipmentItem/GetByShipmentId/{shipment_id}");
        Ok(self.get_opt(&path, &[]).await?.unwrap_or_default())
    }

    pub async fn return_page(
        &self,
        store_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page_index: u32,
        page_size: u32,
    ) -> ApiResult<Page> {
        self.official("return requests")?;
        let mut query = vec![
            ("storeId", q(store_id)),
            ("createdFromUtc", iso(from)),
            ("createdToUtc", iso(to)),
        ];
        query.extend(page_query(page_index, page_size));
        self.get("/api-backend/ReturnRequest/Search", &query).await
    }

    pub async fn return_record(&self, id: i64) -> ApiResult<Option<RawRecord>> {
        self.official("return requests")?;
        self.record(&format!("/api-backend/ReturnRequest/GetById/{id}"))
            .await
    }
}
