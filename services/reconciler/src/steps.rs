//! Canonical events and commands recorded in the audit trail, so one order's trace shows
//! every step from the store to the books.
use crate::ledger::{
    command_key, target_name, EntityKey, Ledger, LedgerError, Position, SUMMARY_ENTITY,
};
use nopbridge_kafka::Record;
use nopbridge_proto::{
    commands::v1::Command,
    events::v1::{EventMeta, Order, PaymentTransaction},
};
use prost::Message;
use serde_json::json;

/// What a record on an input topic is, by its topic name.
pub enum Kind {
    DeadLetter,
    Event(String),
    Command,
    Result,
}

pub fn kind_of(topic: &str) -> Kind {
    if topic.starts_with("dlq.") {
        Kind::DeadLetter
    } else if let Some(rest) = topic.split_once("canonical.").map(|(_, r)| r) {
        Kind::Event(
            rest.split(['.', '-'])
                .next()
                .unwrap_or_default()
                .to_string(),
        )
    } else if topic.contains(".commands") {
        Kind::Command
    } else {
        Kind::Result
    }
}

/// Order events and order-related payment events, decoded just enough to key them.
fn event_step(entity: &str, payload: &[u8]) -> Option<(String, EventMeta, serde_json::Value)> {
    match entity {
        "order" => {
            let o = Order::decode(payload).ok()?;
            let created_at = o
                .created_at
                .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
                .map(|t| t.to_rfc3339());
            let detail = json!({"order_status": o.order_status, "payment_status": o.payment_status,
                "shipping_status": o.shipping_status, "total_minor": o.order_total.as_ref().map(|m| m.minor_units),
                "currency": o.store_currency, "created_at": created_at});
            Some((o.order_id.to_string(), o.meta?, detail))
        }
        "payment_transaction" => {
            let p = PaymentTransaction::decode(payload).ok()?;
            let detail =
                json!({"kind": p.kind, "amount_minor": p.amount.as_ref().map(|m| m.minor_units)});
            Some((p.order_id.to_string(), p.meta?, detail))
        }
        _ => None,
    }
}

/// Records the step; Ok(false) when the record is not order-related or was already recorded.
pub async fn record(
    ledger: &Ledger,
    pos: Position<'_>,
    kind: &Kind,
    record: &Record,
) -> Result<bool, LedgerError> {
    match kind {
        Kind::Event(entity) => {
            let Some((order_id, meta, mut detail)) = event_step(entity, record.payload()) else {
                return Ok(false);
            };
            detail["entity"] = json!(entity);
            detail["event_id"] = json!(meta.event_id);
            detail["content_hash"] = json!(meta.content_hash);
            let key = EntityKey {
                connection_id: String::new(),
                entity_type: "order".into(),
                source_id: order_id,
            };
            ledger.record_step(pos, "event", &key, None, detail).await
        }
        Kind::Command => {
            let Ok(c) = Command::decode(record.payload()) else {
                return Ok(false);
            };
            let Some(order) = c.order.as_ref() else {
                return Ok(false);
            };
            let key = command_key(
                &c.connection_id,
                c.kind_name(),
                Some(order),
                &c.source_event_ids,
                &c.command_id,
            );
            if key.entity_type != "order" && key.entity_type != SUMMARY_ENTITY {
                return Ok(false);
            }
            let mut detail = json!({"command_kind": c.kind_name(), "target": target_name(c.target),
                "document_number": order.document_number, "source_event_ids": c.source_event_ids,
                "truncations": c.truncations.len()});
            if key.entity_type == SUMMARY_ENTITY {
                detail["included_orders"] = json!(order.included_order_ids.len());
                return ledger
                    .record_summary_command(
                        pos,
                        &key,
                        &c.command_id,
                        &order.included_order_ids,
                        detail,
                    )
                    .await;
            }
            ledger
                .record_step(pos, "command", &key, Some(&c.command_id), detail)
                .await
        }
        Kind::DeadLetter | Kind::Result => Ok(false),
    }
}
