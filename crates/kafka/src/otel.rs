//! Connects `traceparent` headers with tracing spans, so an OpenTelemetry exporter sees one
//! trace across every Kafka hop: each consumed record is handled inside a `consume <topic>`
//! span whose parent is the record's traceparent, and what the handler produces carries that
//! span's (or a nested span's) context onward.
use crate::{Record, TraceContext};
use opentelemetry::{
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
    Context,
};
use tracing_opentelemetry::{OpenTelemetrySpanExt, SetParentError};

impl TraceContext {
    /// The context of the current tracing span, when an OpenTelemetry layer records it.
    pub fn current() -> Option<Self> {
        let cx = tracing::Span::current().context();
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| Self {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            sampled: sc.is_sampled(),
        })
    }

    /// An OpenTelemetry context whose remote parent is this trace context.
    pub fn to_otel_context(&self) -> Context {
        let flags = if self.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.span_id),
            flags,
            true,
            TraceState::default(),
        ))
    }
}

/// The span a consumer handles `record` in (OpenTelemetry messaging conventions).
pub(crate) fn consume_span(record: &Record, group: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "consume",
        otel.name = %format_args!("consume {}", record.topic),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.destination.name = %record.topic,
        messaging.destination.partition.id = record.partition,
        messaging.kafka.offset = record.offset,
        messaging.consumer.group.name = %group,
    );
    if let Some(parent) = record.trace_context() {
        match span.set_parent(parent.to_otel_context()) {
            // No OpenTelemetry layer, or the span is filtered out: nothing to connect.
            Ok(()) | Err(SetParentError::LayerNotFound | SetParentError::SpanDisabled) => {}
            Err(e) => tracing::debug!(error = %e, "could not link the record's traceparent"),
        }
    }
    span
}
