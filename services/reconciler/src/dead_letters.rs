//! Reads a record from a dead-letter topic into a ledger entry: which entity, for which
//! connection, and why it failed (from the `dlq_*` context headers).
use crate::ledger::{command_key, target_name, DeadLetterEntry, EntityKey};
use nopbridge_kafka::Record;
use nopbridge_proto::{commands::v1::Command, events::v1::EventMeta};
use prost::Message;

/// Every canonical event starts with its metadata at field 1, so this decodes any of them.
#[derive(Clone, PartialEq, Message)]
struct MetaOnly {
    #[prost(message, optional, tag = "1")]
    meta: Option<EventMeta>,
}

/// Header transform adds when a mapping failed for one routed connection only.
pub const CONNECTION_HEADER: &str = "dlq_connection_id";

pub fn parse(record: &Record) -> DeadLetterEntry {
    let h = |k: &str| record.header_str(k).unwrap_or_default();
    let source_topic = h("dlq_source_topic");
    let fallback_key = || EntityKey {
        connection_id: h(CONNECTION_HEADER),
        entity_type: "record".into(),
        source_id: format!(
            "{source_topic}/{}/{}",
            h("dlq_source_partition"),
            h("dlq_source_offset")
        ),
    };
    let mut entry = DeadLetterEntry {
        key: fallback_key(),
        target: String::new(),
        order_number: None,
        command_id: None,
        stage: h("dlq_stage"),
        error_class: h("dlq_error_class"),
        message: h("dlq_error_message"),
        attempts: h("dlq_attempts").parse().unwrap_or(1),
    };
    let payload = record.payload();
    let kind = crate::steps::kind_of(&source_topic);
    if matches!(kind, crate::steps::Kind::Command) {
        if let Ok(cmd) = Command::decode(payload) {
            entry.target = target_name(cmd.target).to_string();
            entry.command_id = Some(cmd.command_id.clone());
            entry.key = command_key(
                &cmd.connection_id,
                cmd.kind_name(),
                cmd.order.as_ref(),
                &cmd.source_event_ids,
                &cmd.command_id,
            );
            entry.order_number = cmd
                .order
                .as_ref()
                .filter(|o| o.order_id != 0)
                .map(|o| o.order_number.clone())
                .filter(|n| !n.is_empty());
        }
    } else if let crate::steps::Kind::Event(entity) = kind {
        if let Some(meta) = MetaOnly::decode(payload).ok().and_then(|m| m.meta) {
            entry.key = EntityKey {
                connection_id: h(CONNECTION_HEADER),
                entity_type: entity.to_string(),
                source_id: meta.entity_id,
            };
        }
    }
    entry
}
