//! One store order is one connected OpenTelemetry trace across the four services: from the
//! webhook's receipt in ingest, through the store API fetch, every Kafka hop (notification,
//! canonical event, sink command, result), the QuickBooks calls, to the reconciler's ledger
//! write and the write-back to the store. An in-memory exporter collects the spans; its own
//! test binary because it installs the global tracing subscriber.
mod stack;

use anyhow::{bail, Context, Result};
use nopbridge_emu_nopcommerce::{model::PaymentStatus, AddressInput, PlaceOrder, PlaceOrderItem};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use stack::{Opts, Stack, STORE};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn attr_has(span: &SpanData, key: &str, part: &str) -> bool {
    attr(span, key).is_some_and(|v| v.as_str().contains(part))
}

/// The spans of the trace in which the sales receipt was posted, once it also holds the
/// last hop: the reconciler's reading of the write-back's result.
async fn order_trace(exporter: &InMemorySpanExporter) -> Result<Vec<SpanData>> {
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let spans = exporter.get_finished_spans()?;
        let sale: Option<TraceId> = spans
            .iter()
            .find(|s| {
                s.name == "qbo request"
                    && attr_has(s, "url.path", "salesreceipt")
                    && attr_has(s, "http.request.method", "POST")
            })
            .map(|s| s.span_context.trace_id());
        if let Some(trace) = sale {
            let of_trace: Vec<SpanData> = spans
                .into_iter()
                .filter(|s| s.span_context.trace_id() == trace)
                .collect();
            let note_posted = of_trace.iter().any(|s| {
                s.name == "nopcommerce request" && attr_has(s, "url.path", "OrderNote/Create")
            });
            // The sale's result and the note's result.
            let results_read = of_trace
                .iter()
                .filter(|s| {
                    attr_has(s, "messaging.consumer.group.name", "reconciler")
                        && attr_has(s, "messaging.destination.name", "sink.results.v1")
                })
                .count();
            if note_posted && results_read >= 2 {
                return Ok(of_trace);
            }
        }
        if tokio::time::Instant::now() > end {
            let spans = exporter.get_finished_spans()?;
            let names: BTreeSet<String> = spans.iter().map(|s| s.name.to_string()).collect();
            let of_sale: Vec<String> = spans
                .iter()
                .filter(|s| Some(s.span_context.trace_id()) == sale)
                .map(|s| format!("{} {:?}", s.name, s.attributes))
                .collect();
            bail!(
                "no complete trace of the order within 60 s; span names seen: {names:?}; \
                 the sale's trace: {of_sale:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_order_is_one_connected_trace_across_the_four_services() -> Result<()> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("nopbridge-test")));
    tracing::subscriber::set_global_default(subscriber).context("global subscriber")?;

    let stack = Stack::start(Opts {
        webhooks: true,
        ..Opts::default()
    })
    .await?;
    let h = stack.store.handle().clone();
    let (customer, product) = h.read(|st| {
        let customer = st
            .customers
            .iter()
            .find(|c| !c.deleted && c.email.is_some())
            .map(|c| c.id);
        let product = st
            .products
            .iter()
            .find(|p| p.published && !p.deleted && p.stock_quantity > 10)
            .map(|p| p.id);
        (customer, product)
    });
    let mut order = PlaceOrder::new(
        STORE,
        customer.context("a registered customer")?,
        vec![PlaceOrderItem::new(
            product.context("a product in stock")?,
            2,
        )],
    );
    order.payment_status = PaymentStatus::Paid;
    order.billing_address = Some(AddressInput {
        first_name: Some("Siobhán".into()),
        last_name: Some("O'Neill".into()),
        email: Some("siobhan@example.com".into()),
        country_id: Some(1),
        city: Some("Boston".into()),
        address1: Some("1 Harbor St".into()),
        zip_postal_code: Some("02110".into()),
        ..AddressInput::default()
    });
    order.payment_method = "Payments.Manual".into();
    let order_id = h.place_order(&order)?;

    let spans = order_trace(&exporter).await?;
    let trace = spans[0].span_context.trace_id();

    // Connected: one root (the webhook's receipt); every other span's parent is in the trace.
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    let roots: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.parent_span_id == SpanId::INVALID)
        .collect();
    assert_eq!(roots.len(), 1, "one root span: {roots:#?}");
    assert_eq!(roots[0].name, "webhook receive");
    for s in &spans {
        assert!(
            s.parent_span_id == SpanId::INVALID || ids.contains(&s.parent_span_id),
            "span {} ({:?}) of trace {trace} has a parent outside it",
            s.name,
            s.attributes
        );
    }

    // Every service took part, each in its own consumer group.
    let consumed_by = |group: &str, topic: &str| {
        spans.iter().any(|s| {
            attr_has(s, "messaging.consumer.group.name", group)
                && attr_has(s, "messaging.destination.name", topic)
        })
    };
    assert!(consumed_by("ingest", "ingest.notifications.v1"), "ingest");
    assert!(consumed_by("transform", "canonical.order.v1"), "transform");
    assert!(
        consumed_by("sink", "sink.quickbooks_online.commands.v1"),
        "connector-sink"
    );
    assert!(consumed_by("reconciler", "sink.results.v1"), "reconciler");
    assert!(
        consumed_by("sink", "sink.nopcommerce.commands.v1"),
        "write-back"
    );
    // The external calls: the store fetch of this order, QuickBooks, the note.
    assert!(
        spans.iter().any(|s| s.name == "nopcommerce request"
            && attr_has(s, "url.path", &format!("/Order/GetById/{order_id}"))),
        "ingest's fetch of order {order_id} is in the trace"
    );
    assert!(spans.iter().any(|s| s.name == "qbo request"));
    assert!(spans.iter().any(|s| s.name == "ledger write"));

    stack.shutdown().await;
    provider.shutdown()?;
    Ok(())
}
