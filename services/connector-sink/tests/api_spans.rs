//! Every QuickBooks call joins the trace of the command it is for (an in-memory OpenTelemetry
//! exporter). Its own test binary because it installs the global tracing subscriber: the
//! consumer loop and the batcher run on other tasks.
mod common;

use anyhow::{bail, Context, Result};
use common::*;
use nopbridge_kafka::{OutgoingRecord, TraceContext};
use opentelemetry::trace::{TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use prost::Message;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

async fn spans_named(
    exporter: &InMemorySpanExporter,
    name: &str,
    at_least: usize,
) -> Result<Vec<SpanData>> {
    let end = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let spans: Vec<SpanData> = exporter
            .get_finished_spans()?
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        if spans.len() >= at_least {
            return Ok(spans);
        }
        if tokio::time::Instant::now() > end {
            bail!(
                "{} finished {name:?} spans within 90 s, wanted {at_least}",
                spans.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickbooks_calls_are_spans_in_the_trace_of_their_command() -> Result<()> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("nopbridge-test")));
    tracing::subscriber::set_global_default(subscriber).context("global subscriber")?;

    let h = Harness::start(Opts::default()).await?;
    let (task, stop) = h.start_sink()?;
    let cmd = order(&h.connection, 7701, "Ana Silva", "ana@example.com");
    let root = TraceContext::new_root();
    let payload = cmd.encode_to_vec();
    h.producer
        .send(
            OutgoingRecord::new(&h.commands_topic, cmd.connection_id.as_bytes(), &payload)
                .header("traceparent", root.to_header()),
        )
        .await?;
    h.wait_results(1, Duration::from_secs(90)).await?;
    // Lookups (customer, items) and the receipt's creation: several calls.
    let calls = spans_named(&exporter, "qbo request", 3).await?;
    stop.cancel();
    let _ = task.await;

    let trace = TraceId::from_bytes(root.trace_id);
    let posts: Vec<&SpanData> = calls
        .iter()
        .filter(|s| {
            s.attributes.iter().any(|kv| {
                kv.key.as_str() == "url.path" && kv.value.as_str().contains("salesreceipt")
            })
        })
        .collect();
    assert!(
        !posts.is_empty(),
        "the receipt's POST has a span: {calls:#?}"
    );
    for s in &calls {
        assert_eq!(
            s.span_context.trace_id(),
            trace,
            "{} {:?}",
            s.name,
            s.attributes
        );
        assert!(
            s.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "http.response.status_code"),
            "status recorded: {:?}",
            s.attributes
        );
    }
    provider.shutdown()?;
    Ok(())
}
