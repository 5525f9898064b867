//! QuickBooks Online pacing: posted writes per emulated minute for one realm under the
//! emulator's real limits (500 requests/min, 10 in flight, 40 batch calls/min, 30 items per
//! batch) on a scaled clock, as a fraction of the realm's write ceiling; then the same workload
//! through a one-request-per-write client (the same connector with batching off) in the same
//! run, and the ratio of the two. Every write must be posted exactly once (nothing lost to
//! throttling): checked against the emulator's inspection API at the end of each client's run.
//!
//! `cargo bench -p nopbridge-connector-sink --bench qbo_pacing` (needs PostgreSQL on
//! 127.0.0.1:5432). Knobs: QBO_BENCH_TIME_SCALE (default 10: one emulated minute is 6 s),
//! QBO_BENCH_MINUTES (measured emulated minutes, default 3, after one warm-up minute),
//! QBO_BENCH_LATENCY_MS (emulated latency per call, default 250), QBO_BENCH_CONCURRENCY
//! (commands in flight, as the sink's consumer lanes would run them, default 128).
#[path = "../tests/common/mod.rs"]
mod common;

use anyhow::{bail, Context, Result};
use nopbridge_connector_sink::{
    quickbooks::{QboConnectionConfig, QboConnector},
    target::Connection,
    xref::Store,
};
use nopbridge_emu_quickbooks::{spawn, EmulatorConfig, FaultConfig, RealmConfig, RunningEmulator};
use nopbridge_proto::commands::v1::ResultStatus;
use nopbridge_testkit::TestDb;
use serde_json::json;
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

/// The realm's limits as the emulator enforces them (its defaults, Intuit's figures).
const REQUESTS_PER_MINUTE: f64 = 500.0;
const BATCH_CALLS_PER_MINUTE: f64 = 40.0;
const BATCH_ITEMS: f64 = 30.0;
/// People and products in the workload: their customers and items are resolved during the
/// warm-up, so every measured command is one document write.
const PEOPLE: u64 = 20;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Knobs {
    scale: f64,
    minutes: u32,
    latency_ms: u64,
    concurrency: usize,
}

struct Figures {
    writes_per_minute: f64,
    requests_per_minute: f64,
    batch_calls_per_minute: f64,
    items_per_batch: f64,
    throttled: u64,
    posted: u64,
    failed: u64,
    documents: usize,
}

fn main() -> Result<()> {
    let knobs = Knobs {
        scale: env_or("QBO_BENCH_TIME_SCALE", 10.0),
        minutes: env_or("QBO_BENCH_MINUTES", 3u32).max(1),
        latency_ms: env_or("QBO_BENCH_LATENCY_MS", 250),
        concurrency: env_or("QBO_BENCH_CONCURRENCY", 128usize).max(1),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(knobs))
}

async fn run(k: Knobs) -> Result<()> {
    let emu = spawn(EmulatorConfig {
        time_scale: k.scale,
        ..EmulatorConfig::default()
    })
    .await?;
    emu.handle().set_faults(FaultConfig {
        latency_ms: k.latency_ms,
        latency_jitter_ms: k.latency_ms / 2,
        ..FaultConfig::default()
    });
    let db = TestDb::create().await?;
    let store = Store::connect(&db.url, 16).await?;
    let ceiling =
        BATCH_CALLS_PER_MINUTE * BATCH_ITEMS + (REQUESTS_PER_MINUTE - BATCH_CALLS_PER_MINUTE);
    println!(
        "QuickBooks Online pacing: one realm, limits {REQUESTS_PER_MINUTE} requests/min, 10 in flight, \
         {BATCH_CALLS_PER_MINUTE} batch calls/min of <= {BATCH_ITEMS} items; clock x{}, {} ms emulated latency, \
         {} commands in flight, {} emulated minutes measured after one warm-up minute",
        k.scale, k.latency_ms, k.concurrency, k.minutes
    );
    let batched = measure(&emu, &store, &k, "batched", 30).await?;
    let naive = measure(&emu, &store, &k, "one-per-write", 1).await?;
    println!(
        "{:<22} {:>11} {:>16} {:>13} {:>12} {:>11} {:>6} {:>6} {:>6}",
        "client",
        "writes/min",
        "of ceiling",
        "requests/min",
        "batches/min",
        "items/batch",
        "429s",
        "posted",
        "lost"
    );
    for (name, f, ceil) in [
        ("batched (/batch <=30)", &batched, ceiling),
        ("one request per write", &naive, REQUESTS_PER_MINUTE),
    ] {
        println!(
            "{name:<22} {:>11.1} {:>7.1}% of {ceil:<4} {:>13.1} {:>12.1} {:>11.1} {:>6} {:>6} {:>6}",
            f.writes_per_minute,
            100.0 * f.writes_per_minute / ceil,
            f.requests_per_minute,
            f.batch_calls_per_minute,
            f.items_per_batch,
            f.throttled,
            f.posted,
            f.failed + (f.posted.saturating_sub(f.documents as u64)),
        );
    }
    let ratio = batched.writes_per_minute / naive.writes_per_minute;
    let share = batched.writes_per_minute / ceiling;
    println!(
        "batched / one-per-write: {ratio:.2}x (target >= 3x: {}); batched at {:.1}% of the realm's write ceiling of {ceiling} (target >= 90% with nothing lost: {})",
        if ratio >= 3.0 { "met" } else { "MISSED" },
        100.0 * share,
        if share >= 0.9 && batched.failed == 0 && naive.failed == 0 { "met" } else { "MISSED" },
    );
    Ok(())
}

async fn measure(
    emu: &RunningEmulator,
    store: &Store,
    k: &Knobs,
    label: &str,
    batch_max_items: usize,
) -> Result<Figures> {
    let realm = format!("{}", 9_341_452_300_000u64 + batch_max_items as u64);
    emu.handle().add_realm(RealmConfig {
        realm_id: realm.clone(),
        ..RealmConfig::default()
    });
    let tokens = emu.handle().issue_tokens(&realm);
    let window_ms = (60_000.0 / k.scale).round() as u64;
    let connection = format!("bench-{label}");
    let cfg: QboConnectionConfig = serde_json::from_value(json!({
        "connection_id": connection,
        "realm_id": realm,
        "base_url": emu.base_url(),
        "token_url": emu.token_url(),
        "client_id": "emulator-client",
        "client_secret": "emulator-secret",
        "refresh_token": tokens.refresh_token,
        "create_missing_items": true,
        "limits": { "window_ms": window_ms, "batch_max_items": batch_max_items },
        "retry": { "throttle_wait_ms": window_ms, "initial_backoff_ms": 20, "max_backoff_ms": 500 },
    }))?;
    let http = reqwest::Client::new();
    let connector = Arc::new(
        QboConnector::new(
            cfg,
            store.clone(),
            http,
            Arc::new(|_, _| {}),
            nopbridge_runtime::Meter::off(),
        )
        .await?,
    );

    let order = |n: u64| {
        let who = n % PEOPLE;
        common::order(
            &connection,
            n,
            &format!("Customer {who}"),
            &format!("c{who}@example.com"),
        )
    };
    // Warm-up: customers and items exist and are cross-referenced.
    for n in 0..PEOPLE {
        let o = connector.execute(&order(n)).await;
        o.map_err(|e| anyhow::anyhow!("warm-up order {n}: {:?}", e.error()))?;
    }

    let next = Arc::new(AtomicU64::new(PEOPLE));
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicU64::new(PEOPLE));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..k.concurrency {
        let (connector, next, stop, posted, failed, connection) = (
            connector.clone(),
            next.clone(),
            stop.clone(),
            posted.clone(),
            failed.clone(),
            connection.clone(),
        );
        workers.spawn(async move {
            while !stop.load(Ordering::Acquire) {
                let n = next.fetch_add(1, Ordering::AcqRel);
                let who = n % PEOPLE;
                let cmd = common::order(
                    &connection,
                    n,
                    &format!("Customer {who}"),
                    &format!("c{who}@example.com"),
                );
                match connector.execute(&cmd).await {
                    Ok(o) if o.status == ResultStatus::Created => {
                        posted.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(o) => {
                        eprintln!("order {n}: {:?}", o.status);
                        failed.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(f) => {
                        let e = f.error();
                        eprintln!("order {n}: {} {}", e.class, e.detail);
                        failed.fetch_add(1, Ordering::AcqRel);
                    }
                }
            }
        });
    }
    let window = Duration::from_millis(window_ms);
    tokio::time::sleep(window).await;
    let (t0, c0) = (emu.handle().now(), counters(emu, &realm)?);
    tokio::time::sleep(window * k.minutes).await;
    let (t1, c1) = (emu.handle().now(), counters(emu, &realm)?);
    stop.store(true, Ordering::Release);
    while let Some(r) = workers.join_next().await {
        r.context("bench worker")?;
    }
    let minutes = (t1 - t0).num_milliseconds() as f64 / 60_000.0;
    if minutes <= 0.0 {
        bail!("the emulated clock did not move");
    }
    let documents = emu.handle().entities(&realm, "SalesReceipt").len();
    let posted = posted.load(Ordering::Acquire);
    if documents as u64 != posted {
        bail!("{label}: {posted} orders reported posted, {documents} receipts in QuickBooks");
    }
    let batch_calls = (c1.2 - c0.2) as f64;
    Ok(Figures {
        writes_per_minute: (c1.0 - c0.0) as f64 / minutes,
        requests_per_minute: (c1.1 - c0.1) as f64 / minutes,
        batch_calls_per_minute: batch_calls / minutes,
        items_per_batch: if batch_calls > 0.0 {
            (c1.3 - c0.3) as f64 / batch_calls
        } else {
            0.0
        },
        throttled: connector.stats().throttled.load(Ordering::Acquire),
        posted,
        failed: failed.load(Ordering::Acquire),
        documents,
    })
}

/// (creates, requests) the emulator counted for the realm, (batch calls, batch items) it
/// counted overall: the clients run one after the other, so the deltas are the realm's.
fn counters(emu: &RunningEmulator, realm: &str) -> Result<(u64, u64, u64, u64)> {
    let r = emu
        .handle()
        .realm_counters(realm)
        .context("realm counters")?;
    let all = emu.handle().counters();
    Ok((r.creates, r.requests, all.batch_calls, all.batch_items))
}
