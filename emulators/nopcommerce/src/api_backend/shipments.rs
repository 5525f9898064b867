//! Shipments, shipment items and return requests.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::orders::tri;
use super::support::{not_found, problem, store_error};
use super::{params, path_id, Q};
use crate::json::{clean_text, dec_opt, ok, ts_opt};
use crate::model::{ReturnRequest, ReturnRequestStatus, Shipment};
use crate::state::Shared;

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// `Shipment/GetAll`: newest first.
pub async fn get_all(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let order_id = tri!(p.int("orderId")).unwrap_or(0);
    let from = tri!(p.date("createdFromUtc"));
    let to = tri!(p.date("createdToUtc"));
    let not_shipped = tri!(p.bool("loadNotShipped")).unwrap_or(false);
    let not_delivered = tri!(p.bool("loadNotDelivered")).unwrap_or(false);
    let tracking = p.str("trackingNumber").map(str::to_string);
    let paging = tri!(p.paging());
    let page = s.read(|st| {
        let mut hits: Vec<&Shipment> = st
            .shipments
            .iter()
            .filter(|x| st.order(x.order_id).is_some())
            .filter(|x| order_id == 0 || x.order_id == order_id)
            .filter(|x| from.is_none_or(|f| f <= x.created_on_utc))
            .filter(|x| to.is_none_or(|t| t >= x.created_on_utc))
            .filter(|x| !not_shipped || x.shipped_date_utc.is_none())
            .filter(|x| !not_delivered || x.delivery_date_utc.is_none())
            .filter(|x| {
                tracking.as_ref().is_none_or(|t| {
                    x.tracking_number
                        .as_deref()
                        .is_some_and(|n| n.contains(t.as_str()))
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.created_on_utc
                .cmp(&a.created_on_utc)
                .then(b.id.cmp(&a.id))
        });
        paging.apply(hits)
    });
    ok(&page)
}

pub async fn get_by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.shipment(id).cloned()) {
        Some(x) => ok(&x),
        None => not_found("Shipment"),
    }
}

/// `Shipment/GetByOrderId/{orderId}?shipped=`.
pub async fn by_order(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let id = tri!(path_id(&id, "orderId"));
    let shipped = tri!(params(&s, q).bool("shipped"));
    match s.read(|st| {
        st.order(id).map(|_| {
            st.shipments_of(id)
                .into_iter()
                .filter(|x| shipped.is_none_or(|want| x.shipped_date_utc.is_some() == want))
                .cloned()
                .collect::<Vec<_>>()
        })
    }) {
        Some(rows) => ok(&rows),
        None => not_found("Order"),
    }
}

#[derive(Debug, Deserialize)]
pub struct ShipmentCreate {
    order_id: i32,
    tracking_number: Option<String>,
    #[serde(default, with = "dec_opt")]
    total_weight: Option<Decimal>,
    admin_comment: Option<String>,
    #[serde(default, with = "ts_opt")]
    created_on_utc: Option<DateTime<Utc>>,
}

/// `Shipment/Create` → the shipment (add items with ShipmentItem/Create, then Ship).
pub async fn create(State(s): State<Arc<Shared>>, body: JsonBody<ShipmentCreate>) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return problem(&e.body_text(), Some(("model", e.body_text()))),
    };
    let now = req.created_on_utc.unwrap_or_else(crate::json::now);
    let created = s.write(|st| {
        st.order(req.order_id)?;
        let id = st.insert_shipment(
            req.order_id,
            req.tracking_number.as_deref().map(clean_text),
            req.total_weight.map(crate::money::db4),
            now,
        );
        if let Ok(sh) = st.shipment_mut(id) {
            sh.admin_comment = req.admin_comment.as_deref().map(clean_text);
        }
        st.shipment(id).cloned()
    });
    match created {
        Some(x) => ok(&x),
        None => not_found("Order"),
    }
}

/// `PUT Shipment/Update`: raw update of the whole DTO (no status change, no events, as a
/// repository update in nopCommerce; use OrderProcessing/Ship and Deliver for that).
pub async fn update(State(s): State<Arc<Shared>>, body: JsonBody<Shipment>) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return problem(&e.body_text(), Some(("model", e.body_text()))),
    };
    let result = s.write(|st| {
        let sh = st.shipment_mut(req.id)?;
        if sh.order_id != req.order_id {
            return Err(crate::store::StoreError::Refused(
                "order_id cannot change".into(),
            ));
        }
        sh.tracking_number = req.tracking_number.as_deref().map(clean_text);
        sh.total_weight = req.total_weight.map(crate::money::db4);
        sh.shipped_date_utc = req.shipped_date_utc;
        sh.delivery_date_utc = req.delivery_date_utc;
        sh.admin_comment = req.admin_comment.as_deref().map(clean_text);
        Ok(sh.clone())
    });
    match result {
        Ok(x) => ok(&x),
        Err(e) => store_error(e),
    }
}

pub async fn items(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "shipmentId"));
    match s.read(|st| {
        st.shipment(id).map(|_| {
            st.shipment_items_of(id)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        })
    }) {
        Some(rows) => ok(&rows),
        None => not_found("Shipment"),
    }
}

#[derive(Debug, Deserialize)]
pub struct ShipmentItemCreate {
    shipment_id: i32,
    order_item_id: i32,
    quantity: i32,
    #[serde(default)]
    warehouse_id: i32,
}

pub async fn create_item(
    State(s): State<Arc<Shared>>,
    body: JsonBody<ShipmentItemCreate>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return problem(&e.body_text(), Some(("model", e.body_text()))),
    };
    let result = s.write(|st| {
        let shipment = st
            .shipment(req.shipment_id)
            .ok_or(crate::store::StoreError::NotFound("Shipment"))?;
        let item = st
            .order_item(req.order_item_id)
            .filter(|i| i.order_id == shipment.order_id)
            .ok_or(crate::store::StoreError::NotFound("OrderItem"))?;
        if req.quantity <= 0 || st.shipment_quantity(item.id) + req.quantity > item.quantity {
            return Err(crate::store::StoreError::Refused(
                "Quantity exceeds the items left to ship".into(),
            ));
        }
        let id = st.insert_shipment_item(
            req.shipment_id,
            req.order_item_id,
            req.quantity,
            req.warehouse_id,
        );
        Ok(st
            .shipment_items
            .get(usize::try_from(id - 1).unwrap_or(usize::MAX))
            .cloned())
    });
    match result {
        Ok(Some(row)) => ok(&row),
        Ok(None) => not_found("ShipmentItem"),
        Err(e) => store_error(e),
    }
}

/// `ReturnRequest/Search`: `rs` is the status **name**; newest first.
pub async fn search_returns(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let store_id = tri!(p.int("storeId")).unwrap_or(0);
    let customer_id = tri!(p.int("customerId")).unwrap_or(0);
    let order_item_id = tri!(p.int("orderItemId")).unwrap_or(0);
    let number = p.str("customNumber").map(str::to_string);
    let status = match p.str("rs") {
        None => None,
        Some(name) => match ReturnRequestStatus::from_name(name) {
            Some(st) => Some(st.id()),
            None => {
                return problem(
                    &format!("The value '{name}' is not valid."),
                    Some(("rs", format!("The value '{name}' is not valid."))),
                )
            }
        },
    };
    let from = tri!(p.date("createdFromUtc"));
    let to = tri!(p.date("createdToUtc"));
    let paging = tri!(p.paging());
    let page = s.read(|st| {
        let mut hits: Vec<&ReturnRequest> = st
            .return_requests
            .iter()
            .filter(|r| store_id == 0 || r.store_id == store_id)
            .filter(|r| customer_id == 0 || r.customer_id == customer_id)
            .filter(|r| order_item_id == 0 || r.order_item_id == order_item_id)
            .filter(|r| number.as_ref().is_none_or(|n| &r.custom_number == n))
            .filter(|r| status.is_none_or(|x| r.return_request_status_id == x))
            .filter(|r| from.is_none_or(|f| f <= r.created_on_utc))
            .filter(|r| to.is_none_or(|t| t >= r.created_on_utc))
            .collect();
        hits.sort_by(|a, b| {
            b.created_on_utc
                .cmp(&a.created_on_utc)
                .then(b.id.cmp(&a.id))
        });
        paging.apply(hits)
    });
    ok(&page)
}

pub async fn return_by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.return_request(id).cloned()) {
        Some(r) => ok(&r),
        None => not_found("ReturnRequest"),
    }
}

/// `PUT ReturnRequest/Update` with the whole DTO → the updated request.
pub async fn update_return(
    State(s): State<Arc<Shared>>,
    body: JsonBody<ReturnRequest>,
) -> Response {
    let mut rr = match body {
        Ok(Json(r)) => r,
        Err(e) => return problem(&e.body_text(), Some(("model", e.body_text()))),
    };
    rr.staff_notes = rr.staff_notes.as_deref().map(clean_text);
    rr.customer_comments = rr.customer_comments.as_deref().map(clean_text);
    rr.reason_for_return = clean_text(&rr.reason_for_return);
    rr.requested_action = clean_text(&rr.requested_action);
    rr.custom_number = clean_text(&rr.custom_number);
    let id = rr.id;
    match s.write(|st| {
        st.update_return_request(rr, crate::json::now())
            .map(|_| st.return_request(id).cloned())
    }) {
        Ok(Some(r)) => ok(&r),
        Ok(None) => not_found("ReturnRequest"),
        Err(e) => store_error(e),
    }
}
