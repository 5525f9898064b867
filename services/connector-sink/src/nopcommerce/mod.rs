//! The store as a target: write-back through the Web API Backend plugin.
//!
//! - order note: the accounting document number, written once (the order's notes are read
//!   first, so a redelivered command adds nothing);
//! - mark paid: `CanMarkOrderAsPaid` then `MarkOrderAsPaid` (OrderProcessingService, so the
//!   store's events, notes and PaidDateUtc follow); an order already paid is unchanged;
//! - order status: nopCommerce derives Processing/Complete from payment and shipping, and its
//!   API has no setter besides cancel (a raw order PUT fires no events, reference pitfall 8),
//!   so Cancelled → `CancelOrder`, anything else → `CheckOrderStatus`, then the result says
//!   whether the store reached the status;
//! - stock: `AdjustInventory` with the command id in the message, so the stock history says
//!   where a change came from and a redelivered command finds it there and adds nothing.
mod client;
mod config;

pub use config::NopConnectionConfig;

use crate::{
    target::{Connection, Failure, Outcome, Shared, Target},
    SinkError,
};
use client::NopClient;
use futures::future::BoxFuture;
use nopbridge_proto::{
    commands::v1::{
        command::Body, AdjustStock, Command, ResultStatus, StoreWriteBack, TargetKind,
        TargetRecord, WriteBackAction,
    },
    events::v1::OrderStatus,
};
use nopbridge_runtime::Meter;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

pub static TARGET: Target = Target {
    name: "nopcommerce",
    kind: TargetKind::Nopcommerce,
    connect,
};

fn connect<'a>(
    shared: &'a Shared<'a>,
) -> BoxFuture<'a, Result<Vec<Arc<dyn Connection>>, SinkError>> {
    Box::pin(async move {
        Ok(shared
            .settings
            .nopcommerce
            .iter()
            .map(|c| {
                Arc::new(NopConnector {
                    client: NopClient::new(
                        shared.http.clone(),
                        c.clone(),
                        Meter::new(shared.control, TARGET.name, &c.connection_id),
                    ),
                    id: c.connection_id.clone(),
                }) as Arc<dyn Connection>
            })
            .collect())
    })
}

/// nopCommerce's PaymentStatus.Paid.
const PAID: i32 = 30;

/// nopCommerce's OrderStatus ids (10 Pending, 20 Processing, 30 Complete, 40 Cancelled).
fn store_status_id(s: OrderStatus) -> Option<i32> {
    match s {
        OrderStatus::Pending => Some(10),
        OrderStatus::Processing => Some(20),
        OrderStatus::Complete => Some(30),
        OrderStatus::Cancelled => Some(40),
        OrderStatus::Unspecified => None,
    }
}

pub struct NopConnector {
    id: String,
    client: NopClient,
}

impl Connection for NopConnector {
    fn connection_id(&self) -> &str {
        &self.id
    }

    fn target(&self) -> &'static Target {
        &TARGET
    }

    fn execute<'a>(&'a self, cmd: &'a Command) -> BoxFuture<'a, Result<Outcome, Failure>> {
        Box::pin(async move {
            match &cmd.body {
                Some(Body::StoreWriteBack(w)) => self.write_back(w).await,
                Some(Body::AdjustStock(s)) => self.adjust_stock(&cmd.command_id, s).await,
                // Accounting commands are not for the store.
                Some(_) => Ok(Outcome::skipped()),
                None => Err(Failure::permanent(
                    "validation",
                    "the command has no body",
                    "a producer sent an empty command; report it",
                )),
            }
        })
    }
}

fn outcome(status: ResultStatus, entity: &str, id: i64) -> Outcome {
    Outcome {
        status,
        records: vec![TargetRecord {
            entity: entity.into(),
            target_id: id.to_string(),
            role: "write_back".into(),
            ..TargetRecord::default()
        }],
        request_id: String::new(),
        attempts: 1,
    }
}

impl NopConnector {
    async fn write_back(&self, w: &StoreWriteBack) -> Result<Outcome, Failure> {
        let id = w.order_id;
        let Some(order) = self.client.order(id).await? else {
            return Err(Failure::permanent(
                "reference",
                format!("order {id} is not in the store"),
                "the order was deleted in the store after it was posted; nothing to write back",
            ));
        };
        match w.action() {
            WriteBackAction::AddOrderNote => {
                self.note(id, &w.note, w.note_visible_to_customer).await
            }
            WriteBackAction::MarkPaid if order.payment_status_id == PAID => {
                Ok(outcome(ResultStatus::Unchanged, "Order", id))
            }
            WriteBackAction::MarkPaid => {
                if !self.client.can("MarkOrderAsPaid", id).await? {
                    return Err(Failure::permanent(
                        "validation",
                        format!("order {id} cannot be marked as paid (payment status id {})", order.payment_status_id),
                        "the store refuses: the order is cancelled, voided or refunded; settle it in the store admin",
                    ));
                }
                self.client
                    .send(
                        Method::GET,
                        &format!("OrderProcessing/MarkOrderAsPaid/{id}"),
                        None,
                    )
                    .await?;
                Ok(outcome(ResultStatus::Updated, "Order", id))
            }
            WriteBackAction::SetOrderStatus => {
                self.status(id, order.order_status_id, w.order_status).await
            }
            WriteBackAction::Unspecified => Err(Failure::permanent(
                "validation",
                "write-back action unspecified",
                "a producer sent a write-back without an action; report it",
            )),
        }
    }

    async fn note(&self, order_id: i64, text: &str, visible: bool) -> Result<Outcome, Failure> {
        if self
            .client
            .notes(order_id)
            .await?
            .iter()
            .any(|n| n.note == text)
        {
            return Ok(outcome(ResultStatus::Unchanged, "OrderNote", order_id));
        }
        self.client
            .send(
                Method::POST,
                "OrderNote/Create",
                Some(json!({
                    "order_id": order_id,
                    "note": text,
                    "download_id": 0,
                    "display_to_customer": visible,
                })),
            )
            .await?;
        Ok(outcome(ResultStatus::Created, "OrderNote", order_id))
    }

    async fn status(&self, id: i64, now: i32, want: i32) -> Result<Outcome, Failure> {
        let want_status = OrderStatus::try_from(want).unwrap_or(OrderStatus::Unspecified);
        let Some(want) = store_status_id(want_status) else {
            return Err(Failure::permanent(
                "validation",
                format!("write-back status {want} is not an order status"),
                "the write-back configuration names no status; set one or turn status write-back off",
            ));
        };
        if now == want {
            return Ok(outcome(ResultStatus::Unchanged, "Order", id));
        }
        if want_status == OrderStatus::Cancelled {
            if !self.client.can("CancelOrder", id).await? {
                return Err(Failure::permanent(
                    "validation",
                    format!("order {id} cannot be cancelled"),
                    "the store refuses to cancel it (already cancelled or complete); settle it in the store admin",
                ));
            }
            self.client
                .send(
                    Method::GET,
                    &format!("OrderProcessing/CancelOrder/{id}?notifyCustomer=false"),
                    None,
                )
                .await?;
            return Ok(outcome(ResultStatus::Updated, "Order", id));
        }
        self.client
            .send(
                Method::GET,
                &format!("OrderProcessing/CheckOrderStatus/{id}"),
                None,
            )
            .await?;
        match self.client.order(id).await? {
            Some(o) if o.order_status_id == want => Ok(outcome(ResultStatus::Updated, "Order", id)),
            Some(o) => Err(Failure::permanent(
                "validation",
                format!("order {id} stays in status id {} (wanted {want})", o.order_status_id),
                "nopCommerce sets Processing and Complete itself from payment and shipping; its API has no status setter. Use a note, or ship/pay the order in the store",
            )),
            None => Err(Failure::permanent("reference", format!("order {id} disappeared"), "the order was deleted in the store")),
        }
    }

    async fn adjust_stock(&self, command_id: &str, s: &AdjustStock) -> Result<Outcome, Failure> {
        let item = s.item.clone().unwrap_or_default();
        let product_id = match item.store_product_id.trim().parse::<i64>() {
            Ok(id) => id,
            Err(_) => match self.client.product_by_sku(&item.sku).await? {
                Some(p) => p.id,
                None => {
                    return Err(Failure::permanent(
                        "reference",
                        format!("no product with SKU `{}` in the store", item.sku),
                        "create the product in the store or fix its SKU, then replay",
                    ))
                }
            },
        };
        if s.delta == 0 {
            return Ok(outcome(ResultStatus::Unchanged, "Product", product_id));
        }
        let marker = format!("[nopbridge {command_id}]");
        let history = self.client.stock_history(product_id).await?;
        let done = history.iter().find(|h| h.message.contains(&marker));
        let reason = if s.reason.is_empty() {
            "stock from accounting"
        } else {
            s.reason.as_str()
        };
        let message = format!("{reason} {marker}");
        if s.store_warehouse_id != 0 {
            let after = done.map(|h| h.stock_quantity);
            return self
                .adjust_warehouse(product_id, s.store_warehouse_id, s.delta, &message, after)
                .await;
        }
        if done.is_some() {
            return Ok(outcome(ResultStatus::Unchanged, "Product", product_id));
        }
        let path = format!(
            "Product/AdjustInventory/{product_id}?quantityToChange={}&message={}",
            s.delta,
            urlencoding::encode(&message)
        );
        self.client
            .send(Method::POST, &path, Some(json!("")))
            .await?;
        Ok(outcome(ResultStatus::Updated, "Product", product_id))
    }

    /// One warehouse's stock. nopCommerce has no single call for it (AdjustInventory only
    /// reserves on multi-warehouse products), so: the history row with the marker first,
    /// then the warehouse row. A redelivery that finds the marker (`after`, the stock it
    /// recorded) still makes the update when the row shows the stock from before it, so a
    /// failure between the two calls is neither lost nor applied twice.
    async fn adjust_warehouse(
        &self,
        product_id: i64,
        warehouse_id: i64,
        delta: i64,
        message: &str,
        after: Option<i64>,
    ) -> Result<Outcome, Failure> {
        let rows: Vec<serde_json::Value> = self
            .client
            .get(&format!(
                "ProductWarehouse/GetAllProductWarehouseInventoryRecords/{product_id}"
            ))
            .await?
            .unwrap_or_default();
        let field = |r: &serde_json::Value, k: &str| r.get(k).and_then(serde_json::Value::as_i64);
        let Some(mut row) = rows
            .into_iter()
            .find(|r| field(r, "warehouse_id") == Some(warehouse_id))
        else {
            return Err(Failure::permanent(
                "reference",
                format!("product {product_id} keeps no stock in warehouse {warehouse_id}"),
                "add the warehouse to the product's inventory in the store, or set stock.store_warehouse of the store connection to one it uses, then replay",
            ));
        };
        let stock = field(&row, "stock_quantity").unwrap_or(0);
        match after {
            Some(after) if stock != after - delta => {
                return Ok(outcome(ResultStatus::Unchanged, "Product", product_id))
            }
            Some(_) => {}
            None => {
                let path = format!(
                    "Product/AddStockQuantityHistoryEntry/{product_id}?quantityAdjustment={delta}&stockQuantity={}&warehouseId={warehouse_id}&message={}",
                    stock + delta,
                    urlencoding::encode(message)
                );
                self.client.send(Method::GET, &path, None).await?;
            }
        }
        row["stock_quantity"] = json!(stock + delta);
        self.client
            .send(Method::PUT, "ProductWarehouse/Update", Some(row))
            .await?;
        Ok(outcome(ResultStatus::Updated, "Product", product_id))
    }
}
