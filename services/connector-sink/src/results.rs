//! `CommandResult`s on `sink.results.v1`, keyed by connection id, as CloudEvents.
use crate::target::{Outcome, Target};
use nopbridge_kafka::{CloudEvent, KafkaError, OutgoingRecord, Producer, TraceContext};
use nopbridge_proto::commands::v1::{Command, CommandResult, ResultStatus, TargetError};
use prost::Message;
use std::time::Duration;

pub const RESULT_TYPE: &str = "nopbridge.commands.v1.CommandResult";

#[derive(Clone)]
pub struct ResultWriter {
    producer: Producer,
    topic: String,
}

impl ResultWriter {
    pub fn new(producer: Producer, topic: impl Into<String>) -> Self {
        Self {
            producer,
            topic: topic.into(),
        }
    }

    pub async fn write(
        &self,
        result: &CommandResult,
        trace: Option<&TraceContext>,
    ) -> Result<(), KafkaError> {
        let payload = result.encode_to_vec();
        let status = result.status().as_str_name().to_ascii_lowercase();
        let target = result.target().as_str_name().to_ascii_lowercase();
        let target = target.trim_start_matches("target_kind_");
        let ce = CloudEvent::protobuf(
            format!("{}:{status}", result.command_id),
            format!("nopbridge/connector-sink/{target}"),
            RESULT_TYPE,
        )
        .with_subject(result.connection_id.clone());
        self.producer
            .send(
                OutgoingRecord::new(&self.topic, result.connection_id.as_bytes(), &payload)
                    .event(&ce, trace),
            )
            .await
            .map(|_| ())
    }
}

pub fn command_kind(cmd: &Command) -> &'static str {
    use nopbridge_proto::commands::v1::command::Body;
    match &cmd.body {
        Some(Body::UpsertCustomer(_)) => "upsert_customer",
        Some(Body::UpsertItem(_)) => "upsert_item",
        Some(Body::PostSale(_)) => "post_sale",
        Some(Body::ApplyPayment(_)) => "apply_payment",
        Some(Body::PostRefund(_)) => "post_refund",
        Some(Body::VoidDocument(_)) => "void_document",
        Some(Body::AdjustStock(_)) => "adjust_stock",
        Some(Body::StoreWriteBack(_)) => "store_write_back",
        None => "unknown",
    }
}

fn base(target: &Target, cmd: &Command, attempts: u32, latency: Duration) -> CommandResult {
    CommandResult {
        command_id: cmd.command_id.clone(),
        connection_id: cmd.connection_id.clone(),
        target: target.kind as i32,
        tenant_id: cmd.tenant_id.clone(),
        store_id: cmd.store_id.clone(),
        source_event_ids: cmd.source_event_ids.clone(),
        order: cmd.order.clone(),
        attempts,
        latency_ms: latency.as_millis() as u64,
        completed_at: Some(nopbridge_runtime::control::timestamp(chrono::Utc::now())),
        command_kind: command_kind(cmd).into(),
        ..CommandResult::default()
    }
}

pub fn success(
    target: &Target,
    cmd: &Command,
    o: &Outcome,
    attempts: u32,
    latency: Duration,
) -> CommandResult {
    let mut r = base(target, cmd, attempts, latency);
    r.status = o.status as i32;
    r.records = o.records.clone();
    r.request_id = o.request_id.clone();
    r
}

pub fn failure(
    target: &Target,
    cmd: &Command,
    error: TargetError,
    attempts: u32,
    latency: Duration,
) -> CommandResult {
    let mut r = base(target, cmd, attempts, latency);
    r.status = ResultStatus::Failed as i32;
    r.error = Some(error);
    r
}
