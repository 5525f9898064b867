//! Domain events raised by store mutations (the subset of nopCommerce's events the
//! emulator turns into webhook notifications).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "order.placed")]
    OrderPlaced,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged,
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    #[serde(rename = "order.voided")]
    OrderVoided,
    #[serde(rename = "shipment.sent")]
    ShipmentSent,
    #[serde(rename = "shipment.delivered")]
    ShipmentDelivered,
    #[serde(rename = "return_request.created")]
    ReturnRequestCreated,
    #[serde(rename = "product.stock_changed")]
    ProductStockChanged,
    #[serde(rename = "customer.registered")]
    CustomerRegistered,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::OrderPlaced => "order.placed",
            EventKind::OrderPaid => "order.paid",
            EventKind::OrderStatusChanged => "order.status_changed",
            EventKind::OrderRefunded => "order.refunded",
            EventKind::OrderVoided => "order.voided",
            EventKind::ShipmentSent => "shipment.sent",
            EventKind::ShipmentDelivered => "shipment.delivered",
            EventKind::ReturnRequestCreated => "return_request.created",
            EventKind::ProductStockChanged => "product.stock_changed",
            EventKind::CustomerRegistered => "customer.registered",
        }
    }

    /// The entity the notification's `entity_id` refers to.
    pub fn entity_type(self) -> &'static str {
        match self {
            EventKind::OrderPlaced
            | EventKind::OrderPaid
            | EventKind::OrderStatusChanged
            | EventKind::OrderRefunded
            | EventKind::OrderVoided => "order",
            EventKind::ShipmentSent | EventKind::ShipmentDelivered => "shipment",
            EventKind::ReturnRequestCreated => "return_request",
            EventKind::ProductStockChanged => "product",
            EventKind::CustomerRegistered => "customer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEvent {
    pub kind: EventKind,
    pub entity_id: i32,
    pub store_id: Option<i32>,
    pub occurred_at: DateTime<Utc>,
}
