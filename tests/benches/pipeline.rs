//! The pipeline bench (issue 6): the four services as release processes between the
//! nopCommerce emulator and an unthrottled QuickBooks emulator (both in this process), on a
//! local tansu (or `KAFKA_BOOTSTRAP_SERVERS`) and PostgreSQL.
//!
//! 1. Throughput: the store's history (`BENCH_ORDERS`, default 6000) backfilled and posted;
//!    paid orders per second in steady state (first posted document to the last), next to the
//!    broker's raw pass-through over the same four stages (a producer, two relays and a
//!    consumer, the same message count and size) in the same run. Target: at least 25 %.
//! 2. Latency: orders placed at `BENCH_RATE` per second (default 100) for `BENCH_SECONDS`
//!    (default 20), each announced by the store's webhook; from placement to the sink's
//!    result for its document (p50, p99). Target: p99 under 250 ms.
//! 3. Resident memory of each service: idle (started, nothing to do) and the peak under load.
//!    Targets: under 30 MB idle and 150 MB under load.
//!
//! `cargo build --release --bins && cargo bench -p nopbridge-tests --bench pipeline`
//! (`BENCH_ONLY=throughput` or `latency` runs one part; `BENCH_TOPICS=1` also prints each
//! part's records per order on each topic).
#[path = "../tests/stack/mod.rs"]
mod stack;

use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use nopbridge_emu_nopcommerce::{model::PaymentStatus, AddressInput, PlaceOrder, PlaceOrderItem};
use nopbridge_kafka::{
    ensure_topics, run_consumer, CancellationToken, ConsumerConfig, ConsumerHandle, Handler,
    HandlerError, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec,
};
use nopbridge_proto::commands::v1::CommandResult;
use nopbridge_testkit::unique;
use prost::Message;
use stack::{env_or, Opts, Stack, STORE, TAKEN};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// target/release, where `cargo build --release --bins` put the services.
fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("the bench's directory")?
        .to_path_buf();
    for svc in stack::SERVICES {
        let bin = dir.join(format!("nopbridge-{svc}"));
        if !bin.exists() {
            bail!(
                "{} is missing: build the services first (cargo build --release --bins)",
                bin.display()
            );
        }
    }
    Ok(dir)
}

/// Resident set size of a process in bytes (Linux).
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Samples every service's RSS until stopped; keeps the peak per service.
struct RssSampler {
    peaks: Arc<parking_lot::Mutex<BTreeMap<String, u64>>>,
    stop: CancellationToken,
}

impl RssSampler {
    fn start(pids: Vec<(String, u32)>) -> Self {
        let peaks: Arc<parking_lot::Mutex<BTreeMap<String, u64>>> = Arc::default();
        let stop = CancellationToken::new();
        let (p, s) = (peaks.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.is_cancelled() {
                for (name, pid) in &pids {
                    if let Some(r) = rss(*pid) {
                        let mut peaks = p.lock();
                        let e = peaks.entry(name.clone()).or_default();
                        *e = (*e).max(r);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { peaks, stop }
    }

    fn finish(self) -> BTreeMap<String, u64> {
        self.stop.cancel();
        let peaks = self.peaks.lock().clone();
        peaks
    }
}

/// CPU time (user + system, in clock ticks of 10 ms) used so far by every process on the
/// machine, summed by what it is: each service by name, the broker, PostgreSQL, and this
/// process (the emulators and the bench). Differences over the steady state show where an
/// order's CPU goes.
fn cpu_by_role() -> BTreeMap<String, u64> {
    let me = std::process::id().to_string();
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": fields after the closing parenthesis, utime is the 12th.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map_or("", |(_, c)| c);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        let role = if pid == me {
            "emulators+bench".to_string()
        } else if let Some(svc) = stack::SERVICES
            .iter()
            .find(|s| comm.starts_with("nopbridge-") && format!("nopbridge-{s}").starts_with(comm))
        {
            // The kernel keeps the first 15 characters of a process name.
            svc.to_string()
        } else if comm.starts_with("tansu") {
            "tansu".to_string()
        } else if comm.starts_with("postgres") {
            "postgresql".to_string()
        } else {
            continue;
        };
        *out.entry(role).or_default() += ticks;
    }
    out
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Forwards every record to `to` (or only counts it when `to` is None): one stage of the raw
/// pass-through, on the same consumer loop the services use.
struct Relay {
    to: Option<String>,
    producer: Producer,
    seen: AtomicU64,
}

impl Handler for Relay {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        if let Some(to) = &self.to {
            self.producer
                .send(OutgoingRecord::new(
                    to,
                    record.key.as_deref().unwrap_or_default(),
                    record.payload(),
                ))
                .await
                .map_err(|e| HandlerError::transient(e.to_string()))?;
        }
        self.seen.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// `n` messages of `size` bytes through a producer, two relays and a counting consumer (the
/// four services' places); the time from the first send to the last count.
async fn raw_pass_through(kafka: &KafkaConfig, n: usize, size: usize) -> Result<Duration> {
    let topics: Vec<String> = (0..3).map(|i| unique(&format!("bench.hop{i}"))).collect();
    let specs: Vec<TopicSpec> = topics.iter().map(|t| TopicSpec::new(t, 3)).collect();
    ensure_topics(kafka, &specs).await?;
    let stop = CancellationToken::new();
    let mut stages = Vec::new();
    for (i, from) in topics.iter().enumerate() {
        let relay = Arc::new(Relay {
            to: topics.get(i + 1).cloned(),
            producer: Producer::new(kafka)?,
            seen: AtomicU64::new(0),
        });
        let mut cfg = ConsumerConfig::new(unique("bench-relay"), vec![from.clone()], "bench");
        cfg.concurrency = 32;
        let (kafka, handler, stop, producer) = (
            kafka.clone(),
            relay.clone(),
            stop.clone(),
            Producer::new(kafka)?,
        );
        tokio::spawn(async move {
            let handle = ConsumerHandle::new(&cfg.group_id);
            run_consumer(&kafka, cfg, handler, producer, handle, stop).await
        });
        stages.push(relay);
    }
    let last = stages.last().context("stages")?.clone();
    let payload = vec![7u8; size];
    let producer = Producer::new(kafka)?;
    // One message through first: the stages have joined their groups, as the services had.
    producer
        .send(OutgoingRecord::new(&topics[0], b"warm-up", &payload))
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while last.seen.load(Ordering::Relaxed) < 1 {
        if Instant::now() > deadline {
            bail!("raw pass-through: the warm-up message did not arrive within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let start = Instant::now();
    // Up to 1000 sends in flight, as the kafka crate's throughput bench.
    futures::stream::iter(0..n)
        .map(|i| {
            let key = format!("k{}", i % 1000);
            let (producer, topic, payload) = (&producer, &topics[0], &payload);
            async move {
                producer
                    .send(OutgoingRecord::new(topic, key.as_bytes(), payload))
                    .await
            }
        })
        .buffer_unordered(1000)
        .try_collect::<Vec<_>>()
        .await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while (last.seen.load(Ordering::Relaxed) as usize) < n + 1 {
        if Instant::now() > deadline {
            bail!(
                "raw pass-through: {} of {n} within 600 s",
                last.seen.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = start.elapsed();
    stop.cancel();
    Ok(took)
}

/// Collects the sink's results of one connection: order id → completion time.
struct Results {
    connection: String,
    done: parking_lot::Mutex<HashMap<i64, chrono::DateTime<chrono::Utc>>>,
}

impl Handler for Results {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let Ok(r) = CommandResult::decode(record.payload()) else {
            return Ok(());
        };
        if r.connection_id != self.connection {
            return Ok(());
        }
        let (Some(order), Some(at)) = (r.order.as_ref(), r.completed_at.as_ref()) else {
            return Ok(());
        };
        let at = chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))
            .unwrap_or_default();
        // The first result of an order is its document's.
        self.done.lock().entry(order.order_id).or_insert(at);
        Ok(())
    }
}

/// Busy and total CPU time of the machine so far (the first line of /proc/stat).
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let t: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let idle = t.get(3)? + t.get(4)?;
    let total: u64 = t.iter().sum();
    Some((total - idle, total))
}

/// Waits (at most 30 s) until the machine is at least 90 % idle over half a second: what the
/// last part left behind (processes ending, PostgreSQL dropping databases and vacuuming)
/// would otherwise be measured as this part's.
async fn wait_quiet() {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        let Some((b0, t0)) = cpu_times() else { return };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some((b1, t1)) = cpu_times() else { return };
        if (b1 - b0) as f64 <= 0.1 * (t1 - t0).max(1) as f64 {
            return;
        }
    }
    println!("  (the machine did not become idle within 30 s; figures below may be low)");
}

/// CPU milliseconds per posted order of each process since `before` (from `cpu_by_role`).
fn print_cpu(before: &BTreeMap<String, u64>, posted: usize, took: Duration) {
    let used: Vec<String> = cpu_by_role()
        .into_iter()
        .map(|(role, t)| {
            let ms = t.saturating_sub(before.get(&role).copied().unwrap_or(0)) as f64 * 10.0;
            format!("{role} {:.1}", ms / posted.max(1) as f64)
        })
        .collect();
    println!(
        "  CPU ms per posted order ({:.1} s of wall time, 2 cores = 2,000 ms/s): {}",
        took.as_secs_f64(),
        used.join(", ")
    );
}

/// PostgreSQL's work so far in each service's database: commits ("<service> commits") and
/// rows inserted, updated or deleted per table ("<service> <table>"). The statistics reach
/// these views within a second of each transaction, so differences over many seconds hold.
async fn pg_counts(stack: &Stack) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (service, url) in ["ingest", "connector-sink", "reconciler"]
        .into_iter()
        .zip(stack.database_urls())
    {
        let pool = sqlx::PgPool::connect(url).await?;
        let commits: i64 = sqlx::query_scalar(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await?;
        out.insert(format!("{service} commits"), commits);
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT relname::text, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables",
        )
        .fetch_all(&pool)
        .await?;
        for (table, n) in rows {
            out.insert(format!("{service} {table}"), n);
        }
        pool.close().await;
    }
    Ok(out)
}

/// PostgreSQL commits and row writes per posted order since `before` (from `pg_counts`).
async fn print_pg(stack: &Stack, before: &BTreeMap<String, i64>, posted: usize) -> Result<()> {
    // Let the last second's statistics arrive.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let used: Vec<String> = pg_counts(stack)
        .await?
        .into_iter()
        .map(|(k, n)| (k.clone(), n - before.get(&k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {:.2}", n as f64 / posted.max(1) as f64))
        .collect();
    println!("  PostgreSQL per posted order: {}", used.join(", "));
    Ok(())
}

/// What the back office and the store were asked per posted order.
fn print_requests(stack: &Stack, posted: usize) {
    let per = |n: u64| n as f64 / posted.max(1) as f64;
    let c = stack.books.handle().counters();
    println!(
        "  QuickBooks per posted order: {:.1} requests ({:.1} queries, {:.1} reads, {:.1} creates, {:.1} batch calls)",
        per(c.requests),
        per(c.queries),
        per(c.reads),
        per(c.creates),
        per(c.batch_calls),
    );
    let store: Vec<String> = stack
        .store
        .handle()
        .request_counts()
        .into_iter()
        .map(|(route, n)| format!("{route} {:.2}", per(n)))
        .collect();
    println!(
        "  store API requests per posted order: {}",
        store.join(", ")
    );
}

/// Records per posted order on each topic of the stack (reads every topic: tens of seconds).
async fn print_topics(stack: &Stack, posted: usize) -> Result<()> {
    let mut topics = stack.canonical.clone();
    topics.extend([
        stack.canonical[0].replace("canonical.order.v1", "ingest.notifications.v1"),
        stack.qbo_commands.clone(),
        stack.store_commands.clone(),
        nopbridge_runtime::topics::SINK_RESULTS.to_string(),
        stack.dlq_transform.clone(),
        stack.dlq_sink.clone(),
    ]);
    for t in topics {
        let n = nopbridge_kafka::read_topic(&stack.kafka, &t, usize::MAX, Duration::from_secs(3))
            .await?
            .len();
        println!(
            "  {t}: {:.2} records per order",
            n as f64 / posted.max(1) as f64
        );
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn throughput(bins: &Path) -> Result<(f64, f64, BTreeMap<String, u64>)> {
    let orders: usize = env_or("BENCH_ORDERS", 6000);
    let stack = Stack::start(Opts {
        orders,
        processes: Some(bins.to_path_buf()),
        unthrottled: true,
        production_polling: true,
        ..Opts::default()
    })
    .await?;
    let sampler = RssSampler::start(stack.pids());
    let expected = stack.store.handle().read(|st| {
        st.orders
            .iter()
            .filter(|o| !o.deleted && o.store_id == STORE && TAKEN.contains(&o.payment_status_id))
            .count()
    });
    // Steady state: from the first document posted to the last (the services' start-up and
    // consumer-group joins left out, as the raw pass-through's warm-up leaves them out).
    let deadline = Instant::now() + Duration::from_secs(1800);
    // When the first document was posted: the time, the count then, CPU and PostgreSQL work.
    type Start = (Instant, usize, BTreeMap<String, u64>, BTreeMap<String, i64>);
    let mut first: Option<Start> = None;
    let took = loop {
        // A count, not `sales_docs`: copying every document 50 times a second would take
        // the CPU the pipeline is being measured on.
        let posted = ["SalesReceipt", "Invoice"]
            .iter()
            .map(|e| stack.books.handle().count(&stack.realm, e))
            .sum::<usize>();
        if posted > 0 && first.is_none() {
            first = Some((
                Instant::now(),
                posted,
                cpu_by_role(),
                pg_counts(&stack).await?,
            ));
        }
        if posted >= expected {
            break first
                .as_ref()
                .map(|(at, ..)| at.elapsed())
                .unwrap_or_default();
        }
        if Instant::now() > deadline {
            bail!("{posted} of {expected} orders posted within 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let peaks = sampler.finish();
    print_requests(&stack, expected);
    let timed = expected - first.as_ref().map_or(0, |(_, n, ..)| *n);
    if let Some((_, _, cpu, pg)) = &first {
        print_cpu(cpu, timed, took);
        print_pg(&stack, pg, timed).await?;
    }
    if std::env::var("BENCH_TOPICS").is_ok() {
        print_topics(&stack, expected).await?;
    }
    let pipeline = timed as f64 / took.as_secs_f64().max(1e-9);
    // The same count of messages the size of a canonical order event, through four stages,
    // once the pipeline's tail (the ledger and write-backs catching up) is done. A run takes
    // a few seconds and varies by a third from run to run: the median of three is compared.
    let mut raws = Vec::new();
    for _ in 0..3 {
        wait_quiet().await;
        let took = raw_pass_through(&stack.kafka, timed, 1024).await?;
        raws.push(timed as f64 / took.as_secs_f64().max(1e-9));
    }
    raws.sort_by(f64::total_cmp);
    let raw_rate = raws[1];
    println!(
        "throughput: {orders} store orders, {expected} paid ones posted; {timed} after the first in {took:.2?} → {pipeline:.0} orders/s; \
         raw pass-through over four stages: {raw_rate:.0} msgs/s (median of {:.0}, {:.0}, {:.0}); pipeline / raw: {:.0} % (target ≥ 25 %)",
        raws[0],
        raws[1],
        raws[2],
        100.0 * pipeline / raw_rate
    );
    stack.shutdown().await;
    Ok((pipeline, raw_rate, peaks))
}

async fn latency(bins: &Path) -> Result<(Vec<f64>, BTreeMap<String, u64>, BTreeMap<String, u64>)> {
    let rate: f64 = env_or("BENCH_RATE", 100.0);
    let seconds: f64 = env_or("BENCH_SECONDS", 20.0);
    let stack = Stack::start(Opts {
        webhooks: true,
        processes: Some(bins.to_path_buf()),
        unthrottled: true,
        ..Opts::default()
    })
    .await?;
    let results = Arc::new(Results {
        connection: stack.qbo_conn.clone(),
        done: parking_lot::Mutex::default(),
    });
    let stop = CancellationToken::new();
    {
        let mut cfg = ConsumerConfig::new(
            unique("bench-results"),
            vec![nopbridge_runtime::topics::SINK_RESULTS.to_string()],
            "bench",
        );
        cfg.concurrency = 32;
        // The sink's completion time is in the result: reading it late costs no accuracy.
        cfg.fetch_wait_max_ms = Some(200);
        let (kafka, handler, stop, producer) = (
            stack.kafka.clone(),
            results.clone(),
            stop.clone(),
            Producer::new(&stack.kafka)?,
        );
        tokio::spawn(async move {
            let handle = ConsumerHandle::new(&cfg.group_id);
            run_consumer(&kafka, cfg, handler, producer, handle, stop).await
        });
    }
    // Idle: the services are up with nothing to do.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle: BTreeMap<String, u64> = stack
        .pids()
        .into_iter()
        .filter_map(|(name, pid)| Some((name, rss(pid)?)))
        .collect();
    let sampler = RssSampler::start(stack.pids());

    let h = stack.store.handle().clone();
    let (customers, products) = h.read(|st| {
        let customers: Vec<i32> = st
            .customers
            .iter()
            .filter(|c| !c.deleted && c.email.is_some())
            .map(|c| c.id)
            .take(50)
            .collect();
        let products: Vec<i32> = st
            .products
            .iter()
            .filter(|p| p.published && !p.deleted && p.stock_quantity > 1000)
            .map(|p| p.id)
            .take(20)
            .collect();
        (customers, products)
    });
    if customers.is_empty() || products.is_empty() {
        bail!("the store has no customers or no products in stock to order");
    }
    let count = (rate * seconds) as usize;
    let (cpu_before, pg_before, started) =
        (cpu_by_role(), pg_counts(&stack).await?, Instant::now());
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut placed: HashMap<i64, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..count {
        tick.tick().await;
        let mut order = PlaceOrder::new(
            STORE,
            customers[i % customers.len()],
            vec![PlaceOrderItem::new(products[i % products.len()], 1)],
        );
        order.payment_status = PaymentStatus::Paid;
        order.payment_method = "Payments.Manual".into();
        order.billing_address = Some(AddressInput {
            first_name: Some("Bench".into()),
            last_name: Some(format!("Buyer {i}")),
            email: Some(format!("bench{i}@example.com")),
            country_id: Some(1),
            city: Some("Boston".into()),
            address1: Some("1 Harbor St".into()),
            zip_postal_code: Some("02110".into()),
            ..AddressInput::default()
        });
        let now = chrono::Utc::now();
        let id = h.place_order(&order)?;
        placed.insert(i64::from(id), now);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while results.done.lock().len() < placed.len() {
        if Instant::now() > deadline {
            bail!(
                "{} of {} orders posted within 300 s of the last placement",
                results.done.lock().len(),
                placed.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let load = sampler.finish();
    stop.cancel();
    print_requests(&stack, placed.len());
    print_cpu(&cpu_before, placed.len(), started.elapsed());
    print_pg(&stack, &pg_before, placed.len()).await?;
    if std::env::var("BENCH_TOPICS").is_ok() {
        print_topics(&stack, placed.len()).await?;
    }
    let done = results.done.lock().clone();
    let first = placed.values().min().copied();
    // (seconds since the first placement, latency in ms) per posted order.
    let timed: Vec<(i64, f64)> = placed
        .iter()
        .filter_map(|(id, at)| {
            let ms = (*done.get(id)? - *at).num_microseconds()? as f64 / 1000.0;
            Some(((*at - first?).num_seconds(), ms))
        })
        .collect();
    let mut ms: Vec<f64> = timed.iter().map(|(_, ms)| *ms).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "latency: {} orders at {rate}/s, webhook to posted: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p99 < 250 ms)",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
    // A p99 that grows from window to window means per-order cost grows with the topics.
    let mut windows: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (second, ms) in timed {
        windows.entry(second / 5).or_default().push(ms);
    }
    let p99s: Vec<String> = windows
        .into_values()
        .map(|mut w| {
            w.sort_by(f64::total_cmp);
            format!("{:.0}", percentile(&w, 0.99))
        })
        .collect();
    println!("  p99 by 5 s of placement: {} ms", p99s.join(", "));
    stack.shutdown().await;
    Ok((ms, idle, load))
}

#[tokio::main]
async fn main() -> Result<()> {
    let bins = bin_dir()?;
    // BENCH_ONLY=throughput or latency runs one part (the other's figures print as 0).
    let only: String = env_or("BENCH_ONLY", String::new());
    let backfill_peak = match only.as_str() {
        "latency" => BTreeMap::new(),
        _ => throughput(&bins).await?.2,
    };
    let (idle, load) = match only.as_str() {
        "throughput" => (BTreeMap::new(), BTreeMap::new()),
        _ => {
            wait_quiet().await;
            let (_, idle, load) = latency(&bins).await?;
            (idle, load)
        }
    };
    println!("resident memory per service (targets: idle < 30 MB, under load < 150 MB):");
    for svc in stack::SERVICES {
        let peak = backfill_peak
            .get(svc)
            .copied()
            .unwrap_or(0)
            .max(load.get(svc).copied().unwrap_or(0));
        println!(
            "  {svc:<15} idle {:>6.1} MB   peak under load {:>6.1} MB",
            mb(idle.get(svc).copied().unwrap_or(0)),
            mb(peak)
        );
    }
    Ok(())
}
