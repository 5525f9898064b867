//! The at-least-once consumer loop.
//!
//! One task polls the broker and hands each record to a lane chosen by its key, so one key's
//! records are handled in order while different keys run concurrently on `concurrency`
//! lanes. A lane retries transient failures with jittered backoff and sends permanent ones
//! (and exhausted retries) to the dead-letter topic. Only then is the record marked done;
//! the loop commits, per partition, everything below the oldest record not yet done.
mod offsets;
mod status;

pub use status::{ConsumerStatus, PartitionLag};

use crate::{
    dlq::{DeadLetter, DeadLetterContext},
    ConsumerConfig, KafkaConfig, KafkaError, Producer, Record,
};
use chrono::Utc;
use offsets::{OffsetTracker, Tp};
use parking_lot::Mutex;
use rdkafka::{
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer},
    ClientContext, Offset, TopicPartitionList,
};
use status::Counters;
use std::{
    collections::{hash_map::DefaultHasher, HashMap, VecDeque},
    future::Future,
    hash::{Hash, Hasher},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn, Instrument};

/// What a handler reports for one record.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (timeouts, 429/5xx, a dependency down).
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (undecodable payload, invalid data): dead-letter the record.
    #[error("{class}: {message}")]
    Permanent { class: String, message: String },
}

impl HandlerError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient(message.into())
    }

    pub fn permanent(class: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Permanent {
            class: class.into(),
            message: message.into(),
        }
    }
}

/// Handles one record. It returns only when the record's effect is durable (written to a
/// topic, a database or a target system), because the offset is committed right after.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, record: &Record) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// What orders this record: records with equal keys are handled one after another in
    /// offset order, different keys may run concurrently. `None` (the default) uses the Kafka
    /// key, or the partition for keyless records. A handler whose topic is keyed coarsely
    /// (one key per target connection) returns a finer key (one per order) to get concurrency
    /// without reordering what must stay ordered.
    fn ordering_key(&self, _record: &Record) -> Option<Vec<u8>> {
        None
    }

    /// True when a record makes every earlier record of its ordering key redundant, as a
    /// "look at entity X again" notification does: the loop then skips a record whose key
    /// already has a later record on its way to the same lane (that one is handled after
    /// it, in order). The skipped record counts as done; nothing is lost, because the later
    /// record stays uncommitted until it is handled.
    fn later_supersedes(&self) -> bool {
        false
    }
}

type LoopConsumer = StreamConsumer<LoopContext>;

/// Shared view of a running consumer loop: status for the control API, pause and resume.
#[derive(Clone)]
pub struct ConsumerHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    group_id: String,
    counters: Counters,
    paused: watch::Sender<bool>,
    tracker: Arc<Mutex<OffsetTracker>>,
    /// With [`Handler::later_supersedes`]: per partition and ordering key, the offset of the
    /// newest record dispatched and not yet handled.
    newest: Mutex<HashMap<(Tp, u64), i64>>,
    /// Rebalances (revocations and assignments) so far: partitions may have moved at each.
    rebalances: Arc<std::sync::atomic::AtomicU64>,
    /// Set while the loop runs; dropped at its end so the consumer leaves its group at once.
    consumer: Mutex<Option<Arc<LoopConsumer>>>,
}

impl ConsumerHandle {
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(HandleInner {
                group_id: group_id.into(),
                counters: Counters::default(),
                paused: watch::channel(false).0,
                tracker: Arc::default(),
                newest: Mutex::default(),
                rebalances: Arc::default(),
                consumer: Mutex::new(None),
            }),
        }
    }

    pub fn pause(&self) {
        self.inner.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.inner.paused.send_replace(false);
    }

    pub fn is_paused(&self) -> bool {
        *self.inner.paused.borrow()
    }

    /// How many rebalances this loop has seen: partitions may have moved since a different
    /// count was read.
    pub fn rebalances(&self) -> u64 {
        self.inner.rebalances.load(Ordering::Acquire)
    }

    /// Whether `topic`/`partition` is assigned to this loop now.
    pub fn owns(&self, topic: &str, partition: i32) -> bool {
        let consumer = self.inner.consumer.lock().clone();
        consumer
            .and_then(|c| c.assignment().ok())
            .is_some_and(|a| a.find_partition(topic, partition).is_some())
    }

    /// Counters plus the lag of every assigned partition (asks the broker).
    pub async fn status(&self) -> ConsumerStatus {
        let c = &self.inner.counters;
        let consumer = self.inner.consumer.lock().clone();
        let lag = match consumer {
            Some(consumer) => tokio::task::spawn_blocking(move || partition_lag(&consumer))
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        ConsumerStatus {
            group_id: self.inner.group_id.clone(),
            records_total: c.records.load(Ordering::Relaxed),
            records_per_second: c.rate(),
            superseded: c.superseded.load(Ordering::Relaxed),
            transient_errors: c.transient.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            paused: self.is_paused(),
            in_flight: self.inner.tracker.lock().in_flight(),
            lag,
        }
    }
}

fn partition_lag(consumer: &LoopConsumer) -> Vec<PartitionLag> {
    let timeout = Duration::from_secs(5);
    let Ok(assignment) = consumer.assignment() else {
        return Vec::new();
    };
    let committed = consumer
        .committed_offsets(assignment.clone(), timeout)
        .unwrap_or(assignment);
    // One broker round trip per partition: run them side by side, or Status takes seconds.
    let elements: Vec<(String, i32, i64)> = committed
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(o) => o,
                _ => -1,
            };
            (e.topic().to_string(), e.partition(), offset)
        })
        .collect();
    std::thread::scope(|scope| {
        let asks: Vec<_> = elements
            .into_iter()
            .map(|e| scope.spawn(move || lag_of(consumer, e, timeout)))
            .collect();
        asks.into_iter()
            .filter_map(|a| a.join().ok().flatten())
            .collect()
    })
}

fn lag_of(
    consumer: &LoopConsumer,
    (topic, partition, committed_offset): (String, i32, i64),
    timeout: Duration,
) -> Option<PartitionLag> {
    let (_, high) = consumer.fetch_watermarks(&topic, partition, timeout).ok()?;
    let lag = if committed_offset < 0 {
        high
    } else {
        (high - committed_offset).max(0)
    };
    Some(PartitionLag {
        topic,
        partition,
        committed_offset,
        high_watermark: high,
        lag,
    })
}

struct LoopContext {
    tracker: Arc<Mutex<OffsetTracker>>,
    assignment_changed: AtomicBool,
    rebalances: Arc<std::sync::atomic::AtomicU64>,
}

impl ClientContext for LoopContext {}

impl ConsumerContext for LoopContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::AcqRel);
        if let Rebalance::Revoke(revoked) = rebalance {
            // Commit what is done before the partitions move; records still in flight will be
            // delivered again to the new owner (at-least-once), and their late completions
            // here are ignored. The commit is asynchronous: this callback runs inside the
            // poll, and a broker that is slow to answer mid-rebalance must not stall the loop.
            let done = {
                let mut tracker = self.tracker.lock();
                let done = tracker.take_commits();
                for e in revoked.elements() {
                    tracker.revoke(&(e.topic().to_string(), e.partition()));
                }
                done
            };
            commit(consumer, done, CommitMode::Async);
            info!(partitions = revoked.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::AcqRel);
        if let Rebalance::Assign(tpl) = rebalance {
            info!(partitions = tpl.count(), "partitions assigned");
        }
        self.assignment_changed.store(true, Ordering::Release);
    }
}

fn commit<C: Consumer<X>, X: ConsumerContext>(
    consumer: &C,
    commits: Vec<(Tp, i64)>,
    mode: CommitMode,
) {
    if commits.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), next) in &commits {
        if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next)) {
            warn!(error = %e, topic, partition, "bad offset to commit");
        }
    }
    match consumer.commit(&tpl, mode) {
        Ok(()) => debug!(partitions = commits.len(), "offsets committed"),
        // Not fatal: the records are handled again after a restart (at-least-once).
        Err(e) => warn!(error = %e, "offset commit failed"),
    }
}

struct Work {
    record: Record,
    generation: u64,
    /// Hash of the record's ordering key.
    key_hash: u64,
}

/// Runs until `shutdown` is cancelled: then stops fetching, lets the lanes finish what they
/// hold (up to `drain_timeout_ms`), commits and returns.
pub async fn run_consumer<H: Handler>(
    kafka: &KafkaConfig,
    cfg: ConsumerConfig,
    handler: Arc<H>,
    producer: Producer,
    handle: ConsumerHandle,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    let context = LoopContext {
        tracker: handle.inner.tracker.clone(),
        assignment_changed: AtomicBool::new(false),
        rebalances: handle.inner.rebalances.clone(),
    };
    let mut client = kafka.consumer_config()?;
    if let Some(wait) = cfg.fetch_wait_max_ms {
        client.set("fetch.wait.max.ms", wait.to_string());
    }
    client
        .set("group.id", &cfg.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range,roundrobin");
    let consumer: Arc<LoopConsumer> = Arc::new(client.create_with_context(context)?);
    let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    *handle.inner.consumer.lock() = Some(consumer.clone());
    info!(group = %cfg.group_id, topics = ?cfg.topics, "consumer started");

    let lanes_stop = CancellationToken::new();
    let lane_ctx = Arc::new(Lane {
        handler,
        dlq: DeadLetter::new(producer, cfg.dlq_topic()),
        cfg: cfg.clone(),
        handle: handle.clone(),
        stop: lanes_stop.clone(),
    });
    let mut senders = Vec::with_capacity(cfg.concurrency.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..cfg.concurrency.max(1) {
        let (tx, rx) = mpsc::channel::<Work>(cfg.lane_capacity.max(1));
        senders.push(tx);
        tasks.spawn(lane_ctx.clone().run(rx));
    }

    let mut paused_rx = handle.inner.paused.subscribe();
    let mut held: VecDeque<Record> = VecDeque::new();
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.commit_interval_ms.max(10)));
    let mut paused = false;
    let mut result = Ok(());
    loop {
        if consumer
            .context()
            .assignment_changed
            .swap(false, Ordering::AcqRel)
            && paused
        {
            set_paused(&consumer, true);
        }
        if !paused {
            if let Some(record) = held.pop_front() {
                dispatch(&senders, &handle, lane_ctx.handler.as_ref(), record).await;
                continue;
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {
                let done = handle.inner.tracker.lock().take_commits();
                commit(consumer.as_ref(), done, CommitMode::Async);
            }
            changed = paused_rx.changed() => {
                if changed.is_err() { break; }
                let want = *paused_rx.borrow_and_update();
                if want != paused {
                    paused = want;
                    set_paused(&consumer, paused);
                    info!(paused, "consumer pause state changed");
                }
            }
            msg = consumer.recv() => match msg {
                Ok(m) => {
                    let record = Record::from_message(&m);
                    drop(m);
                    if paused { held.push_back(record) } else { dispatch(&senders, &handle, lane_ctx.handler.as_ref(), record).await }
                }
                Err(e) if is_fatal(&e) => { error!(error = %e, "consumer failed"); result = Err(e.into()); break; }
                Err(e) => warn!(error = %e, "consumer error (retrying)"),
            },
        }
    }

    // Stop fetching; let the lanes finish what they hold, within the deadline.
    drop(senders);
    let drained = tokio::time::timeout(Duration::from_millis(cfg.drain_timeout_ms), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!("drain deadline passed; unfinished records will be delivered again");
        lanes_stop.cancel();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let done = handle.inner.tracker.lock().take_commits();
    commit(consumer.as_ref(), done, CommitMode::Sync);
    consumer.unsubscribe();
    handle.inner.consumer.lock().take();
    drop(consumer);
    info!(group = %cfg.group_id, "consumer stopped");
    result
}

fn is_fatal(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::Fatal
                | C::GroupAuthorizationFailed
                | C::TopicAuthorizationFailed
                | C::SaslAuthenticationFailed
        )
    )
}

fn set_paused(consumer: &LoopConsumer, paused: bool) {
    let Ok(assignment) = consumer.assignment() else {
        return;
    };
    let r = if paused {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    if let Err(e) = r {
        warn!(error = %e, paused, "could not change pause state");
    }
}

async fn dispatch<H: Handler>(
    senders: &[mpsc::Sender<Work>],
    handle: &ConsumerHandle,
    handler: &H,
    record: Record,
) {
    let tp = (record.topic.clone(), record.partition);
    let generation = handle.inner.tracker.lock().begin(&tp, record.offset);
    // Same key → same lane → in order. Keyless records keep their partition's order.
    let mut h = DefaultHasher::new();
    match (handler.ordering_key(&record), &record.key) {
        (Some(k), _) => k.hash(&mut h),
        (None, Some(k)) => k.hash(&mut h),
        (None, None) => tp.hash(&mut h),
    }
    let key_hash = h.finish();
    if handler.later_supersedes() {
        handle
            .inner
            .newest
            .lock()
            .insert((tp, key_hash), record.offset);
    }
    let lane = (key_hash % senders.len() as u64) as usize;
    if senders[lane]
        .send(Work {
            record,
            generation,
            key_hash,
        })
        .await
        .is_err()
    {
        warn!("lane closed; record will be delivered again after restart");
    }
}

struct Lane<H> {
    handler: Arc<H>,
    dlq: DeadLetter,
    cfg: ConsumerConfig,
    handle: ConsumerHandle,
    stop: CancellationToken,
}

impl<H: Handler> Lane<H> {
    async fn run(self: Arc<Self>, mut rx: mpsc::Receiver<Work>) {
        while let Some(Work {
            record,
            generation,
            key_hash,
        }) = rx.recv().await
        {
            let handled = if self.superseded(&record, key_hash) {
                self.handle
                    .inner
                    .counters
                    .superseded
                    .fetch_add(1, Ordering::Relaxed);
                true
            } else {
                // The handler runs inside the record's span, so what it produces continues
                // the trace (see `OutgoingRecord::event`).
                let span = crate::otel::consume_span(&record, &self.cfg.group_id);
                self.process(&record).instrument(span).await
            };
            if handled {
                let tp = (record.topic.clone(), record.partition);
                self.handle
                    .inner
                    .tracker
                    .lock()
                    .complete(&tp, record.offset, generation);
                self.handle.inner.counters.record_done();
            } else {
                return;
            }
        }
    }

    /// True when a later record of the same key is already on its way to this lane (see
    /// [`Handler::later_supersedes`]). The newest record of a key clears its entry.
    fn superseded(&self, record: &Record, key_hash: u64) -> bool {
        if !self.handler.later_supersedes() {
            return false;
        }
        let key = ((record.topic.clone(), record.partition), key_hash);
        let mut newest = self.handle.inner.newest.lock();
        match newest.get(&key) {
            Some(&offset) if offset > record.offset => true,
            _ => {
                newest.remove(&key);
                false
            }
        }
    }

    /// Returns true when the record's outcome is durable (handled or dead-lettered).
    async fn process(&self, record: &Record) -> bool {
        let counters = &self.handle.inner.counters;
        let mut first_failure = None;
        let mut attempts = 0;
        let (class, message) = loop {
            attempts += 1;
            match self.handler.handle(record).await {
                Ok(()) => return true,
                Err(HandlerError::Permanent { class, message }) => break (class, message),
                Err(HandlerError::Transient(message)) => {
                    counters.transient.fetch_add(1, Ordering::Relaxed);
                    first_failure.get_or_insert_with(Utc::now);
                    if attempts >= self.cfg.retry.max_attempts {
                        break ("retries_exhausted".to_string(), message);
                    }
                    debug!(attempts, %message, "transient failure, retrying");
                    if !self.sleep(self.cfg.retry.backoff(attempts)).await {
                        return false;
                    }
                }
            }
        };
        let now = Utc::now();
        let ctx = DeadLetterContext {
            stage: self.cfg.stage.clone(),
            error_class: class,
            message,
            attempts,
            first_failure_at: first_failure.unwrap_or(now),
            last_failure_at: now,
            extra_headers: Vec::new(),
        };
        // The dead letter must be durable before the offset moves past the record.
        let mut dlq_attempt = 0;
        loop {
            match self.dlq.send(record, &ctx).await {
                Ok(()) => break,
                Err(e) => {
                    dlq_attempt += 1;
                    warn!(error = %e, topic = self.dlq.topic(), "dead-letter write failed, retrying");
                    if !self.sleep(self.cfg.retry.backoff(dlq_attempt)).await {
                        return false;
                    }
                }
            }
        }
        counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        warn!(
            topic = %record.topic, partition = record.partition, offset = record.offset,
            class = %ctx.error_class, attempts, "record dead-lettered"
        );
        true
    }

    /// Sleeps unless the loop is being stopped; false when stopped.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.stop.cancelled() => false,
        }
    }
}
