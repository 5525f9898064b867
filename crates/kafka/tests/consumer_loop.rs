//! The at-least-once loop against a real broker (tansu, or KAFKA_BOOTSTRAP_SERVERS).
use anyhow::{bail, Result};
use nopbridge_kafka::{
    ensure_topics, read_topic, run_consumer, CancellationToken, ConsumerConfig, ConsumerHandle,
    Handler, HandlerError, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec, DLQ_HEADERS,
};
use nopbridge_testkit::{unique, Broker};
use parking_lot::Mutex;
use std::{collections::HashMap, sync::Arc, time::Duration};

/// Remembers every sequence number handled per key; fails permanently on "poison".
#[derive(Default)]
struct Recorder {
    seen: Mutex<HashMap<String, Vec<u32>>>,
}

impl Handler for Recorder {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let payload = String::from_utf8_lossy(record.payload()).into_owned();
        if payload == "poison" {
            return Err(HandlerError::permanent("validation", "payload is poison"));
        }
        let seq: u32 = payload
            .parse()
            .map_err(|_| HandlerError::permanent("decode", "not a number"))?;
        self.seen
            .lock()
            .entry(record.key_str())
            .or_default()
            .push(seq);
        Ok(())
    }
}

impl Recorder {
    fn total(&self) -> usize {
        self.seen.lock().values().map(Vec::len).sum()
    }
}

async fn wait_for(deadline: Duration, mut done: impl FnMut() -> bool) -> Result<()> {
    let end = tokio::time::Instant::now() + deadline;
    while !done() {
        if tokio::time::Instant::now() > end {
            bail!("condition not met within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_goes_to_dlq_and_the_rest_are_handled_in_key_order() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("orders");
    let stage = unique("stage");
    let mut cfg = ConsumerConfig::new(unique("group"), vec![topic.clone()], stage.clone());
    let dlq = cfg.dlq_topic();
    cfg.concurrency = 4;
    ensure_topics(
        &kafka,
        &[TopicSpec::new(&topic, 3), TopicSpec::new(&dlq, 1)],
    )
    .await?;

    let producer = Producer::new(&kafka)?;
    let keys: Vec<String> = (0..20).map(|k| format!("tenant/1/order/{k}")).collect();
    let poison_at = 537;
    for i in 0..1000u32 {
        let key = &keys[i as usize % keys.len()];
        let payload = if i == poison_at {
            "poison".to_string()
        } else {
            i.to_string()
        };
        producer
            .send(
                OutgoingRecord::new(&topic, key.as_bytes(), payload.as_bytes())
                    .header("origin", "test"),
            )
            .await?;
    }

    let recorder = Arc::new(Recorder::default());
    let handle = ConsumerHandle::new(&cfg.group_id);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (kafka, cfg, recorder, handle, stop) = (
            kafka.clone(),
            cfg.clone(),
            recorder.clone(),
            handle.clone(),
            stop.clone(),
        );
        async move { run_consumer(&kafka, cfg, recorder, producer, handle, stop).await }
    });
    wait_for(Duration::from_secs(120), || recorder.total() >= 999).await?;
    let dead = read_topic(&kafka, &dlq, 1, Duration::from_secs(30)).await?;
    anyhow::ensure!(
        dead.len() == 1,
        "expected one dead letter, found {}",
        dead.len()
    );
    let status = handle.status().await;
    stop.cancel();
    run.await??;

    // The 999 good records, each once, in order per key.
    let seen = recorder.seen.lock();
    assert_eq!(recorder_total(&seen), 999);
    for (key, seqs) in seen.iter() {
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(seqs, &sorted, "records of {key} handled out of order");
    }
    // The poison record, byte for byte, with its context headers.
    let d = &dead[0];
    assert_eq!(d.payload(), b"poison");
    assert_eq!(d.key_str(), keys[poison_at as usize % keys.len()]);
    assert_eq!(
        d.header_str("origin").as_deref(),
        Some("test"),
        "original headers kept"
    );
    for h in DLQ_HEADERS {
        assert!(d.header(h).is_some(), "dead letter lacks {h}");
    }
    assert_eq!(d.header_str("dlq_source_topic"), Some(topic.clone()));
    assert_eq!(d.header_str("dlq_stage"), Some(stage));
    assert_eq!(
        d.header_str("dlq_error_class").as_deref(),
        Some("validation")
    );
    assert_eq!(d.header_str("dlq_attempts").as_deref(), Some("1"));
    assert_eq!(status.dead_lettered, 1);
    assert_eq!(status.records_total, 1000);
    Ok(())
}

fn recorder_total(seen: &HashMap<String, Vec<u32>>) -> usize {
    seen.values().map(Vec::len).sum()
}

/// Transient failures are retried on the same record; after a restart of the loop the
/// committed offsets mean nothing is handled twice that was already committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_offsets_survive_restart() -> Result<()> {
    struct Flaky {
        calls: Mutex<HashMap<i64, u32>>,
        done: Mutex<Vec<i64>>,
    }
    impl Handler for Flaky {
        async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
            let n = {
                let mut calls = self.calls.lock();
                let n = calls.entry(record.offset).or_default();
                *n += 1;
                *n
            };
            if record.offset % 5 == 0 && n < 3 {
                return Err(HandlerError::transient("target answered 503"));
            }
            self.done.lock().push(record.offset);
            Ok(())
        }
    }

    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("flaky");
    let mut cfg = ConsumerConfig::new(unique("group"), vec![topic.clone()], unique("stage"));
    cfg.retry.initial_backoff_ms = 5;
    cfg.retry.max_backoff_ms = 20;
    ensure_topics(&kafka, &[TopicSpec::new(&topic, 1)]).await?;
    let producer = Producer::new(&kafka)?;
    for i in 0..50u32 {
        producer
            .send(OutgoingRecord::new(&topic, b"k", i.to_string().as_bytes()))
            .await?;
    }

    let handler = Arc::new(Flaky {
        calls: Mutex::default(),
        done: Mutex::default(),
    });
    let handle = ConsumerHandle::new(&cfg.group_id);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (kafka, cfg, h, handle, stop, producer) = (
            kafka.clone(),
            cfg.clone(),
            handler.clone(),
            handle.clone(),
            stop.clone(),
            producer.clone(),
        );
        async move { run_consumer(&kafka, cfg, h, producer, handle, stop).await }
    });
    wait_for(Duration::from_secs(60), || handler.done.lock().len() >= 50).await?;
    let status = handle.status().await;
    stop.cancel();
    run.await??;
    assert_eq!(
        *handler.done.lock(),
        (0..50).collect::<Vec<i64>>(),
        "in order, each once"
    );
    assert_eq!(
        status.transient_errors, 20,
        "10 flaky records x 2 failed attempts"
    );
    assert_eq!(status.dead_lettered, 0);

    // Restart with the same group: the final commit at shutdown covered everything.
    for i in 50..55u32 {
        producer
            .send(OutgoingRecord::new(&topic, b"k", i.to_string().as_bytes()))
            .await?;
    }
    let again = Arc::new(Flaky {
        calls: Mutex::default(),
        done: Mutex::default(),
    });
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (kafka, cfg, h, stop) = (kafka.clone(), cfg.clone(), again.clone(), stop.clone());
        async move {
            run_consumer(
                &kafka,
                cfg.clone(),
                h,
                producer,
                ConsumerHandle::new(&cfg.group_id),
                stop,
            )
            .await
        }
    });
    wait_for(Duration::from_secs(60), || again.done.lock().len() >= 5).await?;
    stop.cancel();
    run.await??;
    assert_eq!(*again.done.lock(), (50..55).collect::<Vec<i64>>());
    Ok(())
}

/// Pause stops handling; resume picks up where it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("pausable");
    let cfg = ConsumerConfig::new(unique("group"), vec![topic.clone()], unique("stage"));
    ensure_topics(&kafka, &[TopicSpec::new(&topic, 1)]).await?;
    let producer = Producer::new(&kafka)?;
    let recorder = Arc::new(Recorder::default());
    let handle = ConsumerHandle::new(&cfg.group_id);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (kafka, cfg, r, handle, stop, producer) = (
            kafka.clone(),
            cfg.clone(),
            recorder.clone(),
            handle.clone(),
            stop.clone(),
            producer.clone(),
        );
        async move { run_consumer(&kafka, cfg, r, producer, handle, stop).await }
    });
    producer
        .send(OutgoingRecord::new(&topic, b"k", b"1"))
        .await?;
    wait_for(Duration::from_secs(30), || recorder.total() == 1).await?;
    handle.pause();
    // Wait until the loop has applied the pause before producing.
    wait_for(Duration::from_secs(10), || handle.is_paused()).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 2..=5u32 {
        producer
            .send(OutgoingRecord::new(&topic, b"k", i.to_string().as_bytes()))
            .await?;
    }
    // While paused nothing new is handled (observed over a bounded window).
    let mut paused_total = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        paused_total = paused_total.max(recorder.total());
    }
    assert_eq!(paused_total, 1, "handled while paused");
    assert!(handle.status().await.paused);
    handle.resume();
    wait_for(Duration::from_secs(30), || recorder.total() == 5).await?;
    stop.cancel();
    run.await??;
    Ok(())
}

/// A second member joins mid-run: partitions move between the two loops and, together,
/// they handle every record at least once (distinct offsets counted, none skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_mid_run_skips_nothing() -> Result<()> {
    /// Slow enough that the first member is still busy when the second joins.
    #[derive(Default)]
    struct Seen(Mutex<Vec<(i32, i64)>>);
    impl Handler for Seen {
        async fn handle(&self, r: &Record) -> Result<(), HandlerError> {
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.0.lock().push((r.partition, r.offset));
            Ok(())
        }
    }

    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("rebalance");
    let mut cfg = ConsumerConfig::new(unique("group"), vec![topic.clone()], unique("stage"));
    cfg.concurrency = 2;
    ensure_topics(&kafka, &[TopicSpec::new(&topic, 4)]).await?;
    let producer = Producer::new(&kafka)?;
    let total = 2_000usize;
    let sends = (0..total).map(|i| {
        let (p, t) = (producer.clone(), topic.clone());
        async move {
            p.send(OutgoingRecord::new(
                &t,
                format!("k{}", i % 50).as_bytes(),
                i.to_string().as_bytes(),
            ))
            .await
        }
    });
    for r in futures::future::join_all(sends).await {
        r?;
    }

    let (seen_a, seen_b) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    let spawn_member = |seen: Arc<Seen>, stop: CancellationToken| {
        let (kafka, cfg, producer) = (kafka.clone(), cfg.clone(), producer.clone());
        tokio::spawn(async move {
            let handle = ConsumerHandle::new(&cfg.group_id);
            run_consumer(&kafka, cfg, seen, producer, handle, stop).await
        })
    };
    let distinct = || {
        let mut all: std::collections::BTreeSet<(i32, i64)> =
            seen_a.0.lock().iter().copied().collect();
        all.extend(seen_b.0.lock().iter().copied());
        all
    };
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = spawn_member(seen_a.clone(), stop_a.clone());
    wait_for(Duration::from_secs(60), || seen_a.0.lock().len() >= 100).await?;
    let b = spawn_member(seen_b.clone(), stop_b.clone());
    wait_for(Duration::from_secs(180), || distinct().len() >= total).await?;
    stop_a.cancel();
    stop_b.cancel();
    a.await??;
    b.await??;

    assert!(
        !seen_b.0.lock().is_empty(),
        "the second member never got a partition"
    );
    let all = distinct();
    for p in 0..4 {
        let offsets: Vec<i64> = all
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, o)| *o)
            .collect();
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, expected, "partition {p} has a gap");
    }
    assert_eq!(all.len(), total);
    Ok(())
}

/// Records produced concurrently still start a batch each (kafka.batch_records = 1), so a
/// consumer can resume from any committed offset (tansu 0.6 returns nothing for an offset
/// inside a multi-record batch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_can_resume_from_any_offset() -> Result<()> {
    use rdkafka::{
        consumer::{Consumer, StreamConsumer},
        ClientConfig, Message, Offset, TopicPartitionList,
    };
    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("resume");
    ensure_topics(&kafka, &[TopicSpec::new(&topic, 1)]).await?;
    let producer = Producer::new(&kafka)?;
    let sends = (0..200u32).map(|i| {
        let (p, t) = (producer.clone(), topic.clone());
        async move {
            p.send(OutgoingRecord::new(&t, b"k", i.to_string().as_bytes()))
                .await
        }
    });
    for r in futures::future::join_all(sends).await {
        r?;
    }
    for start in [0i64, 1, 37, 120, 199] {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("group.id", unique("resume"))
            .create()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(start))?;
        consumer.assign(&tpl)?;
        let m = tokio::time::timeout(Duration::from_secs(10), consumer.recv()).await??;
        assert_eq!(m.offset(), start, "resumed at the wrong offset");
    }
    Ok(())
}

/// One Kafka key for everything (like a sink topic keyed by connection), a finer ordering key
/// from the handler: different orders run concurrently, one order's records stay in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_ordering_key_gives_concurrency_within_one_kafka_key() -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct PerOrder {
        seen: Mutex<HashMap<String, Vec<u32>>>,
        inside: AtomicUsize,
        most_inside: AtomicUsize,
    }
    fn split(r: &Record) -> (String, u32) {
        let p = String::from_utf8_lossy(r.payload()).into_owned();
        let (order, seq) = p.split_once(':').unwrap_or(("", "0"));
        (order.to_string(), seq.parse().unwrap_or(0))
    }
    impl Handler for PerOrder {
        async fn handle(&self, r: &Record) -> Result<(), HandlerError> {
            let n = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_inside.fetch_max(n, Ordering::SeqCst);
            // Stands for a call to a target system.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let (order, seq) = split(r);
            self.seen.lock().entry(order).or_default().push(seq);
            self.inside.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
        fn ordering_key(&self, r: &Record) -> Option<Vec<u8>> {
            Some(split(r).0.into_bytes())
        }
    }

    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("commands");
    let mut cfg = ConsumerConfig::new(unique("group"), vec![topic.clone()], unique("stage"));
    cfg.concurrency = 8;
    ensure_topics(&kafka, &[TopicSpec::new(&topic, 1)]).await?;
    let producer = Producer::new(&kafka)?;
    for i in 0..200u32 {
        let payload = format!("order-{}:{i}", i % 10);
        producer
            .send(OutgoingRecord::new(
                &topic,
                b"connection-1",
                payload.as_bytes(),
            ))
            .await?;
    }
    let handler = Arc::new(PerOrder::default());
    let handle = ConsumerHandle::new(&cfg.group_id);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (kafka, handler, stop) = (kafka.clone(), handler.clone(), stop.clone());
        async move { run_consumer(&kafka, cfg, handler, producer, handle, stop).await }
    });
    wait_for(Duration::from_secs(60), || {
        handler.seen.lock().values().map(Vec::len).sum::<usize>() >= 200
    })
    .await?;
    stop.cancel();
    run.await??;
    assert!(
        handler.most_inside.load(Ordering::SeqCst) > 1,
        "records of one Kafka key ran one at a time"
    );
    let seen = handler.seen.lock();
    assert_eq!(seen.len(), 10);
    for (order, seqs) in seen.iter() {
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(seqs, &sorted, "{order} handled out of order");
        assert_eq!(seqs.len(), 20);
    }
    Ok(())
}

/// Handles "look at key X again" records (later ones supersede earlier ones of the same
/// key); the first record it gets waits until the test opens the gate.
struct Refresher {
    gate: tokio::sync::Semaphore,
    handled: Mutex<Vec<(String, u32)>>,
}

impl Handler for Refresher {
    fn later_supersedes(&self) -> bool {
        true
    }

    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let seq: u32 = String::from_utf8_lossy(record.payload())
            .parse()
            .map_err(|_| HandlerError::permanent("decode", "not a number"))?;
        // The gate holds one permit per record let through.
        let permit = self.gate.acquire().await;
        if let Ok(p) = permit {
            p.forget();
        }
        self.handled.lock().push((record.key_str(), seq));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_with_a_later_one_of_its_key_queued_is_skipped_and_the_last_is_handled(
) -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = KafkaConfig::new(broker.bootstrap());
    let topic = unique("refresh");
    let mut cfg = ConsumerConfig::new(unique("group"), vec![topic.clone()], unique("stage"));
    cfg.concurrency = 1;
    ensure_topics(
        &kafka,
        &[
            TopicSpec::new(&topic, 1),
            TopicSpec::new(cfg.dlq_topic(), 1),
        ],
    )
    .await?;
    let producer = Producer::new(&kafka)?;
    // Ten records of key a, then one of key b: all on the one lane, in this order.
    for i in 0..10u32 {
        producer
            .send(OutgoingRecord::new(&topic, b"a", i.to_string().as_bytes()))
            .await?;
    }
    producer
        .send(OutgoingRecord::new(&topic, b"b", b"10"))
        .await?;

    let handler = Arc::new(Refresher {
        gate: tokio::sync::Semaphore::new(0),
        handled: Mutex::default(),
    });
    let handle = ConsumerHandle::new(&cfg.group_id);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (kafka, handler, handle, stop) =
            (kafka.clone(), handler.clone(), handle.clone(), stop.clone());
        async move { run_consumer(&kafka, cfg, handler, producer, handle, stop).await }
    });
    // Whatever reaches the handler waits at the gate until all eleven are dispatched.
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = handle.status().await;
        if s.in_flight as u64 + s.records_total >= 11 {
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < end, "not dispatched: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handler.gate.add_permits(11);
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    while handle.status().await.records_total < 11 {
        anyhow::ensure!(tokio::time::Instant::now() < end, "records not done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = handle.status().await;
    stop.cancel();
    run.await??;

    // a's records 1-8 were made redundant by 9, which was handled (record 0 too, when the
    // lane had taken it before record 1 arrived); b's only record was handled.
    let handled = handler.handled.lock().clone();
    let last: Vec<(String, u32)> = vec![("a".into(), 9), ("b".into(), 10)];
    assert!(
        handled == last || handled[..] == [vec![("a".into(), 0)], last.clone()].concat()[..],
        "handled {handled:?}"
    );
    assert_eq!(status.superseded, 11 - handled.len() as u64);
    assert_eq!(status.records_total, 11);
    Ok(())
}
