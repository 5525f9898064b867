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
        command_kind: cmd.kind_name().into(),
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
