//! One trace across two Kafka hops, seen by an in-memory OpenTelemetry exporter.
//!
//! Its own test binary because it installs the global tracing subscriber: the consumer loop
//! runs its lanes on other tasks and threads, which a thread-local default would not reach.
use anyhow::{bail, Context as _, Result};
use nopbridge_kafka::{
    ensure_topics, run_consumer, CancellationToken, CloudEvent, ConsumerConfig, ConsumerHandle,
    Handler, HandlerError, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec, TraceContext,
};
use nopbridge_testkit::{unique, Broker};
use opentelemetry::{
    trace::{SpanId, SpanKind, TraceId, TracerProvider as _},
    Value,
};
use opentelemetry_sdk::{
    trace::{InMemorySpanExporter, SdkTracerProvider, SpanData},
    Resource,
};
use parking_lot::Mutex;
use std::{sync::Arc, time::Duration};
use tracing_subscriber::layer::SubscriberExt;

/// Hop 1's handler: passes each record on to the next topic, as a service stage does.
struct Forward {
    producer: Producer,
    to: String,
}

impl Handler for Forward {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let ce = CloudEvent::protobuf("evt-2", "nopbridge/test", "nopbridge.test.v1.Forwarded");
        let key = record.key.clone().unwrap_or_default();
        self.producer
            .send(
                OutgoingRecord::new(&self.to, &key, record.payload())
                    .event(&ce, record.trace_context().as_ref()),
            )
            .await
            .map(|_| ())
            .map_err(|e| HandlerError::transient(e.to_string()))
    }
}

/// Hop 2's handler: remembers the traceparent each record arrived with.
#[derive(Default)]
struct Collect {
    seen: Mutex<Vec<Option<TraceContext>>>,
}

impl Handler for Collect {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        self.seen.lock().push(record.trace_context());
        Ok(())
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn assert_messaging_attributes(span: &SpanData, topic: &str, group: &str) {
    let s = |v: &str| Some(Value::from(v.to_string()));
    assert_eq!(
        attr(span, "messaging.system").cloned(),
        s("kafka"),
        "{span:?}"
    );
    assert_eq!(attr(span, "messaging.destination.name").cloned(), s(topic));
    assert_eq!(
        attr(span, "messaging.consumer.group.name").cloned(),
        s(group)
    );
    assert_eq!(
        attr(span, "messaging.destination.partition.id").cloned(),
        Some(Value::I64(0))
    );
    assert_eq!(
        attr(span, "messaging.kafka.offset").cloned(),
        Some(Value::I64(0))
    );
    assert_eq!(span.span_kind, SpanKind::Consumer);
}

/// Polls the exporter until a span with `name` has ended.
async fn finished_span(exporter: &InMemorySpanExporter, name: &str) -> Result<SpanData> {
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let spans = exporter.get_finished_spans()?;
        if let Some(span) = spans.into_iter().find(|s| s.name == name) {
            return Ok(span);
        }
        if tokio::time::Instant::now() > end {
            bail!("no finished span {name:?} within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spawn_consumer<H: Handler>(
    kafka: &KafkaConfig,
    cfg: ConsumerConfig,
    handler: Arc<H>,
    producer: Producer,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), nopbridge_kafka::KafkaError>> {
    let (kafka, stop) = (kafka.clone(), stop.clone());
    let handle = ConsumerHandle::new(&cfg.group_id);
    tokio::spawn(async move { run_consumer(&kafka, cfg, handler, producer, handle, stop).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_forwarded_over_two_hops_yields_one_connected_trace() -> Result<()> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_resource(Resource::builder().with_service_name("test").build())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("nopbridge-test")));
    tracing::subscriber::set_global_default(subscriber).context("global subscriber")?;

    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let (first, second) = (unique("trace-in"), unique("trace-out"));
    let hop1 = ConsumerConfig::new(unique("group"), vec![first.clone()], unique("stage"));
    let hop2 = ConsumerConfig::new(unique("group"), vec![second.clone()], unique("stage"));
    ensure_topics(
        &kafka,
        &[
            TopicSpec::new(&first, 1),
            TopicSpec::new(&second, 1),
            TopicSpec::new(hop1.dlq_topic(), 1),
            TopicSpec::new(hop2.dlq_topic(), 1),
        ],
    )
    .await?;

    // The record enters with a root traceparent, as a webhook receipt would write it.
    let root = TraceContext::new_root();
    let producer = Producer::new(&kafka)?;
    let ce = CloudEvent::protobuf("evt-1", "nopbridge/test", "nopbridge.test.v1.Order");
    let mut entering = OutgoingRecord::new(&first, b"acme/1/order/7", b"payload").event(&ce, None);
    entering.headers.retain(|(k, _)| k != "traceparent");
    producer
        .send(entering.header("traceparent", root.to_header()))
        .await?;

    let stop = CancellationToken::new();
    let forward = Arc::new(Forward {
        producer: producer.clone(),
        to: second.clone(),
    });
    let collect = Arc::new(Collect::default());
    let runs = [
        spawn_consumer(&kafka, hop1.clone(), forward, producer.clone(), &stop),
        spawn_consumer(
            &kafka,
            hop2.clone(),
            collect.clone(),
            producer.clone(),
            &stop,
        ),
    ];

    let span1 = finished_span(&exporter, &format!("consume {first}")).await?;
    let span2 = finished_span(&exporter, &format!("consume {second}")).await?;
    stop.cancel();
    for run in runs {
        run.await??;
    }

    let trace_id = TraceId::from_bytes(root.trace_id);
    // Hop 1: a child of the traceparent the record arrived with.
    assert_eq!(span1.span_context.trace_id(), trace_id);
    assert_eq!(span1.parent_span_id, SpanId::from_bytes(root.span_id));
    assert!(span1.parent_span_is_remote);
    assert_messaging_attributes(&span1, &first, &hop1.group_id);
    // Hop 2: the same trace, a child of hop 1's span (not of hop 1's incoming header).
    assert_eq!(span2.span_context.trace_id(), trace_id);
    assert_eq!(span2.parent_span_id, span1.span_context.span_id());
    assert!(span2.parent_span_is_remote);
    assert_messaging_attributes(&span2, &second, &hop2.group_id);
    // The header on the wire names hop 1's span.
    let seen = collect.seen.lock().clone();
    assert_eq!(seen.len(), 1, "hop 2 handled {seen:?}");
    let header = seen[0].context("hop 2's record has no traceparent")?;
    assert_eq!(header.trace_id, root.trace_id);
    assert_eq!(header.span_id, span1.span_context.span_id().to_bytes());
    assert!(header.sampled);
    // Every span the two hops recorded belongs to the one trace.
    let spans = exporter.get_finished_spans()?;
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace_id));
    provider.shutdown()?;
    Ok(())
}
