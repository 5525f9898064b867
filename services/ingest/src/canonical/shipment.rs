//! Shipment and ReturnRequest events.
use super::{text, ts, ts_opt, Fields, MapError};
use crate::client::dto::{OrderItemRefDto, ReturnRequestDto, ShipmentDto, ShipmentItemDto};
use nopbridge_model::Currency;
use nopbridge_proto::events::v1 as pb;
use std::collections::HashMap;

/// `lines`: order item id → (product id, SKU).
pub fn shipment(
    s: &ShipmentDto,
    items: &[ShipmentItemDto],
    lines: &HashMap<i64, (i64, String)>,
) -> Result<pb::Shipment, MapError> {
    let f = Fields {
        entity: "shipment",
        id: s.id,
    };
    let total_weight = match &s.total_weight {
        Some(w) => Some(f.rate("total_weight", w)?.to_proto()),
        None => None,
    };
    Ok(pb::Shipment {
        meta: None,
        shipment_id: s.id,
        order_id: s.order_id,
        tracking_number: text(&s.tracking_number),
        total_weight,
        items: items
            .iter()
            .map(|i| {
                let (product_id, sku) = lines.get(&i.order_item_id).cloned().unwrap_or_default();
                pb::ShipmentItem {
                    shipment_item_id: i.id,
                    order_item_id: i.order_item_id,
                    product_id,
                    sku,
                    quantity: i.quantity,
                    warehouse_id: i.warehouse_id,
                }
            })
            .collect(),
        created_at: Some(ts(s.created_on_utc)),
        shipped_at: ts_opt(s.shipped_date_utc),
        delivered_at: ts_opt(s.delivery_date_utc),
        ready_for_pickup_at: ts_opt(s.ready_for_pickup_date_utc),
        admin_comment: text(&s.admin_comment),
    })
}

pub fn return_status(id: i32) -> pb::ReturnRequestStatus {
    use pb::ReturnRequestStatus as R;
    match id {
        0 => R::Pending,
        10 => R::Received,
        20 => R::ReturnAuthorized,
        30 => R::ItemsRepaired,
        40 => R::ItemsRefunded,
        50 => R::RequestRejected,
        60 => R::Cancelled,
        _ => R::Unspecified,
    }
}

/// Pending, received or authorized: the request can still move.
pub fn return_is_open(status_id: i32) -> bool {
    matches!(status_id, 0 | 10 | 20)
}

/// The line value is the order line's incl-tax price per unit × requested quantity.
pub fn return_request(
    r: &ReturnRequestDto,
    item: &OrderItemRefDto,
    sku: &str,
    cur: Currency,
) -> Result<pb::ReturnRequest, MapError> {
    let f = Fields {
        entity: "return request",
        id: r.id,
    };
    let status = return_status(r.return_request_status_id);
    if status == pb::ReturnRequestStatus::Unspecified {
        return Err(f.err(
            "return_request_status_id",
            format!("unknown status id {}", r.return_request_status_id),
        ));
    }
    let line = f.minor("order_item.price_incl_tax", &item.price_incl_tax, cur)?;
    let value = if item.quantity > 0 {
        let n = i128::from(line) * i128::from(r.quantity);
        let d = i128::from(item.quantity);
        i64::try_from(nopbridge_model::decimal::div_round_half_away(n, d))
            .map_err(|_| f.err("quantity", "line value overflows"))?
    } else {
        0
    };
    Ok(pb::ReturnRequest {
        meta: None,
        return_request_id: r.id,
        custom_number: r.custom_number.clone(),
        store_id: r.store_id,
        order_id: item.order_id,
        order_item_id: r.order_item_id,
        product_id: item.product_id,
        sku: sku.to_string(),
        customer_id: r.customer_id,
        quantity: r.quantity,
        returned_quantity: r.returned_quantity,
        reason_for_return: r.reason_for_return.clone(),
        requested_action: r.requested_action.clone(),
        customer_comments: text(&r.customer_comments),
        staff_notes: text(&r.staff_notes),
        status: status as i32,
        line_value_incl_tax: Some(pb::Money {
            minor_units: value,
            currency: cur.code().to_string(),
        }),
        created_at: Some(ts(r.created_on_utc)),
        updated_at: Some(ts(r.updated_on_utc)),
    })
}
