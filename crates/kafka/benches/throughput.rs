//! Broker throughput with 1 KiB order events: raw producer, raw consumer, and the
//! at-least-once loop with a no-op handler. Prints figures later benches compare against.
//! `cargo bench -p nopbridge-kafka --bench throughput` (BENCH_MESSAGES, default 20000;
//! KAFKA_BOOTSTRAP_SERVERS or a local tansu).
use futures::{stream::FuturesUnordered, StreamExt};
use nopbridge_kafka::{
    ensure_topics, run_consumer, CancellationToken, CloudEvent, ConsumerConfig, ConsumerHandle,
    Handler, HandlerError, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec,
};
use nopbridge_proto::events::v1 as ev;
use nopbridge_testkit::{unique, Broker};
use prost::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

/// An order event padded with items to about 1 KiB encoded.
fn order_payload() -> Vec<u8> {
    let money = |m| {
        Some(ev::Money {
            minor_units: m,
            currency: "USD".into(),
        })
    };
    let mut order = ev::Order {
        order_id: 1043,
        order_guid: "6f1c1c4e-8d7a-4a51-9a53-0d7c2f1f9e10".into(),
        store_currency: "USD".into(),
        order_total: money(12_345),
        ..Default::default()
    };
    while order.encoded_len() < 1024 {
        order.items.push(ev::OrderItem {
            sku: format!("SKU-{}", order.items.len()),
            product_name: "Widget".into(),
            quantity: 1,
            price_excl_tax: money(1_000),
            ..Default::default()
        });
    }
    order.encode_to_vec()
}

struct Noop(AtomicU64, parking_lot::Mutex<Option<Instant>>);

impl Handler for Noop {
    async fn handle(&self, _: &Record) -> Result<(), HandlerError> {
        self.1.lock().get_or_insert_with(Instant::now);
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("bench.orders");
    ensure_topics(&kafka, &[TopicSpec::new(&topic, 3)]).await?;
    let payload = order_payload();
    let producer = Producer::new(&kafka)?;

    // Producer: keep up to 1000 sends in flight.
    let start = Instant::now();
    let mut inflight = FuturesUnordered::new();
    for i in 0..n {
        let key = format!("acme/1/order/{}", i % 1000);
        let ce = CloudEvent::protobuf(format!("e{i}"), "bench", "nopbridge.events.v1.Order");
        let (p, t, pl) = (producer.clone(), topic.clone(), payload.clone());
        inflight.push(async move {
            p.send(OutgoingRecord::new(&t, key.as_bytes(), &pl).event(&ce, None))
                .await
        });
        if inflight.len() >= 1000 {
            if let Some(r) = inflight.next().await {
                r?;
            }
        }
    }
    while let Some(r) = inflight.next().await {
        r?;
    }
    let produce = start.elapsed();

    // Raw consumer: time from the first record to the last.
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", unique("bench-raw"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[&topic])?;
    let mut first = None;
    for _ in 0..n {
        consumer.recv().await?;
        first.get_or_insert_with(Instant::now);
    }
    let raw = first.map(|f| f.elapsed()).unwrap_or_default();
    drop(consumer);

    // At-least-once loop, no-op handler.
    let noop = Arc::new(Noop(AtomicU64::new(0), parking_lot::Mutex::new(None)));
    let cfg = ConsumerConfig::new(unique("bench-loop"), vec![topic.clone()], "bench");
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (kafka, noop, stop, producer) =
            (kafka.clone(), noop.clone(), stop.clone(), producer.clone());
        async move {
            run_consumer(
                &kafka,
                cfg.clone(),
                noop,
                producer,
                ConsumerHandle::new(&cfg.group_id),
                stop,
            )
            .await
        }
    });
    while noop.0.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let looped = noop.1.lock().map(|f| f.elapsed()).unwrap_or_default();
    stop.cancel();
    run.await??;

    println!(
        "kafka throughput, {n} order events of {} bytes, broker {}",
        payload.len(),
        broker.bootstrap()
    );
    println!(
        "  producer (idempotent, acks=all):        {:>9.0} msgs/s",
        rate(n, produce)
    );
    println!(
        "  consumer (raw StreamConsumer):          {:>9.0} msgs/s",
        rate(n, raw)
    );
    println!(
        "  consumer (at-least-once loop, no-op):   {:>9.0} msgs/s",
        rate(n, looped)
    );
    Ok(())
}
