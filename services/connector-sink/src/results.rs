//! `CommandResult`s on `sink.results.v1`, keyed by connection id, as CloudEvents.
use crate::quickbooks::{Outcome, QboError};
use nopbridge_kafka::{CloudEvent, KafkaError, OutgoingRecord, Producer, TraceContext};
use nopbridge_proto::commands::v1::{
    Command, CommandResult, ResultStatus, TargetError, TargetKind,
};
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
        let ce = CloudEvent::protobuf(
            format!("{}:{status}", result.command_id),
            "nopbridge/connector-sink/quickbooks_online",
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

fn base(cmd: &Command, attempts: u32, latency: Duration) -> CommandResult {
    CommandResult {
        command_id: cmd.command_id.clone(),
        connection_id: cmd.connection_id.clone(),
        target: TargetKind::QuickbooksOnline as i32,
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

pub fn success(cmd: &Command, o: &Outcome, attempts: u32, latency: Duration) -> CommandResult {
    let mut r = base(cmd, attempts, latency);
    r.status = o.status as i32;
    r.records = o.records.clone();
    r.request_id = o.request_id.clone();
    r
}

pub fn failure(
    cmd: &Command,
    error: TargetError,
    attempts: u32,
    latency: Duration,
) -> CommandResult {
    let mut r = base(cmd, attempts, latency);
    r.status = ResultStatus::Failed as i32;
    r.error = Some(error);
    r
}

/// The error class recorded on the result and the dead letter.
pub fn class_of(e: &QboError) -> &'static str {
    match e {
        QboError::Invalid { class, .. } => class,
        QboError::Disconnected(_) => "auth",
        QboError::Unavailable { .. } => "retries_exhausted",
        QboError::Store(_) => "internal",
        QboError::Rejected { .. } => match e.code().unwrap_or_default() {
            "6240" | "6140" | "630" => "duplicate",
            "610" | "620" | "2500" => "reference",
            "100" | "120" | "3100" | "3200" => "auth",
            "5010" => "conflict",
            _ => "validation",
        },
    }
}

/// What a fault means and what to do, for the operator reading the DLQ.
pub fn explain(code: &str) -> &'static str {
    match code {
        "6240" => "The name is already used by another customer, vendor or employee in QuickBooks. Rename one of them or set display_name_conflict, then replay.",
        "6140" => "The document number is already used by another document of this type. Check for a manual entry with that number.",
        "610" => "A referenced customer, item or account is inactive or deleted in QuickBooks. Reactivate it (or remove the stale mapping), then replay.",
        "2500" => "A referenced id is invalid (deleted, inactive or a category item). Fix the reference in QuickBooks or the mapping, then replay.",
        "2010" => "QuickBooks does not accept a field the connector sent; this is a connector bug, report it.",
        "2020" => "A field QuickBooks requires is missing; check the mapping for this document type.",
        "2050" => "A value is longer than QuickBooks allows; check the mapping's fitting of names and numbers.",
        "5010" => "The document changed in QuickBooks while the connector updated it, more times than it retries. Replay the command.",
        "6000" => "QuickBooks refused the document for a business rule (see the detail); fix it in QuickBooks or the mapping, then replay.",
        "6070" | "6090" | "6100" => "A line's amounts, discount or tax code are inconsistent; check the mapping of lines and tax codes.",
        "6190" | "6210" => "The company's subscription or accounting period does not allow posting on this date.",
        "4000" | "4001" | "4002" => "A lookup query was refused; this is a connector bug, report it with the detail.",
        "100" | "120" | "3100" | "3200" => "QuickBooks refused the credentials; re-authorise the connection.",
        _ => "QuickBooks refused the request; see the code and detail, fix the cause, then replay.",
    }
}

pub fn target_error(e: &QboError) -> TargetError {
    let class = class_of(e).to_string();
    match e {
        QboError::Rejected { status, .. } => {
            let f = e.first_fault().cloned().unwrap_or_default();
            let code = if f.code.is_empty() { status.to_string() } else { f.code.clone() };
            let detail = if f.detail.is_empty() { f.message.clone() } else { f.detail.clone() };
            TargetError { explanation: explain(&code).into(), code, element: f.element, detail, class }
        }
        other => TargetError {
            code: String::new(),
            element: String::new(),
            detail: other.to_string(),
            explanation: match other {
                QboError::Disconnected(_) => "The connection's authorisation was revoked or expired. Re-authorise it; waiting commands then continue, dead-lettered ones can be replayed.".into(),
                QboError::Unavailable { .. } => "QuickBooks stayed unavailable through every retry. Replay the command once it is back.".into(),
                _ => other.to_string(),
            },
            class,
        },
    }
}
