//! A backfill over three connections (two tenants, three stores of one site), crashed in the
//! middle and restarted: every order of the emulator ends up on `canonical.order.v1` under
//! its own key, each with one event id (no gaps, no duplicates). 2,000 orders by default;
//! `INGEST_BACKFILL_ORDERS=10000` runs the full size.
mod common;

use anyhow::Result;
use common::*;
use nopbridge_emu_nopcommerce::{EmulatorConfig, FaultConfig};
use nopbridge_ingest::{backfill::progress_name, sync::Kind};
use nopbridge_proto::events::v1 as ev;
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const CONNECTIONS: [(&str, &str, i64); 3] = [
    ("acme-main", "acme", 1),
    ("acme-eu", "acme", 2),
    ("globex-uk", "globex", 3),
];

fn orders() -> usize {
    std::env::var("INGEST_BACKFILL_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

async fn progress(ingest: &Ingest, conn: &str) -> Option<(u64, u64)> {
    let name = progress_name(conn, Kind::Order);
    ingest
        .control
        .status()
        .await
        .progress
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| (p.done, p.total))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crashed_backfill_resumes_without_gaps_or_duplicates() -> Result<()> {
    let env = Env::new().await?;
    let n = orders();
    let emu = emulator(EmulatorConfig {
        seed: 11,
        orders: n,
        ..EmulatorConfig::default()
    })
    .await?;
    let h = emu.handle().clone();
    let expected: BTreeMap<i64, usize> = CONNECTIONS
        .iter()
        .map(|(_, _, store)| {
            let s = i32::try_from(*store).unwrap_or(0);
            (
                *store,
                h.read(|st| {
                    st.orders
                        .iter()
                        .filter(|o| !o.deleted && o.store_id == s)
                        .count()
                }),
            )
        })
        .collect();
    assert_eq!(expected.values().sum::<usize>(), n);

    let service: String = CONNECTIONS
        .iter()
        .map(|(id, tenant, store)| {
            connection(
                id,
                tenant,
                *store,
                &emu.base_url(),
                "backfill_from = \"2023-01-01T00:00:00Z\"\nconcurrency = 16\npage_size = 100\n\
                 poll_interval_ms = 1000\nrepoll_interval_ms = 3600000\n\
                 initial_backoff_ms = 20\nmax_backoff_ms = 200\nmax_attempts = 8",
            )
        })
        .collect();
    let topic = env.canonical("order");
    let collecting = Collecting::start(&env.kafka(), vec![topic.clone()]).await?;

    let first = Ingest::start(env.config(&service)?);
    // Some weather on the way: rate limits, server errors, an expired token.
    h.set_faults(FaultConfig {
        rate_limit_probability: 0.01,
        server_error_probability: 0.01,
        burst_length: 2,
        ..FaultConfig::default()
    });
    let crash_at = (expected[&1] / 3) as u64;
    let started = std::time::Instant::now();
    let (done_at_crash, total_at_crash) = eventually(
        "a third of the main store's backfill",
        Duration::from_secs(600),
        || async {
            progress(&first, "acme-main")
                .await
                .filter(|(done, _)| *done >= crash_at)
        },
    )
    .await?;
    assert!(
        done_at_crash < total_at_crash,
        "the crash comes in the middle of the backfill ({done_at_crash}/{total_at_crash})"
    );
    h.expire_tokens();
    // A crash: the task is dropped mid-page, nothing is flushed or committed on purpose.
    first.task.abort();
    let _ = first.task.await;

    let second = Ingest::start(env.config(&service)?);
    for (id, _, store) in CONNECTIONS {
        let want = expected[&store] as u64;
        let (done, total) = eventually(
            &format!("backfill of {id}"),
            Duration::from_secs(900),
            || async {
                progress(&second, id)
                    .await
                    .filter(|(done, total)| done >= total && *total > 0)
            },
        )
        .await?;
        assert_eq!(total, want, "{id}: total planned = orders of store {store}");
        assert_eq!(
            done, want,
            "{id}: every order walked once (cursor survived the crash)"
        );
    }
    h.clear_faults();
    let backfill_time = started.elapsed();

    // Every order of every store, each with exactly one event id.
    let by_key = eventually(
        "every order on the topic",
        Duration::from_secs(300),
        || async {
            let mut by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for r in collecting.on(&topic) {
                let ce = r.cloud_event().expect("CloudEvents headers");
                by_key.entry(r.key_str()).or_default().insert(ce.id);
            }
            (by_key.len() >= n).then_some(by_key)
        },
    )
    .await?;
    let records = collecting.on(&topic);
    let mut per_store: BTreeMap<String, usize> = BTreeMap::new();
    for key in by_key.keys() {
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts[2], "order", "{key}");
        *per_store
            .entry(format!("{}/{}", parts[0], parts[1]))
            .or_default() += 1;
    }
    assert_eq!(
        per_store,
        BTreeMap::from([
            ("acme/1".to_string(), expected[&1]),
            ("acme/2".to_string(), expected[&2]),
            ("globex/3".to_string(), expected[&3]),
        ]),
        "no gaps: the emulator's orders per store"
    );
    let doubled: Vec<_> = by_key.iter().filter(|(_, ids)| ids.len() != 1).collect();
    assert!(
        doubled.is_empty(),
        "orders with two different events: {:?}",
        &doubled[..doubled.len().min(5)]
    );
    for r in &records {
        let o = ev::Order::decode(r.payload())?;
        let meta = o.meta.expect("meta");
        assert_eq!(
            meta.event_id,
            r.cloud_event().map(|c| c.id).unwrap_or_default()
        );
        assert_eq!(
            r.key_str(),
            format!("{}/{}/order/{}", meta.tenant_id, meta.store_id, o.order_id)
        );
    }
    println!(
        "{n} orders backfilled in {backfill_time:.1?} (crash at {done_at_crash}), {} records \
         ({} re-sent with the same event id after the crash)",
        records.len(),
        records.len() - by_key.len()
    );
    second.stop().await?;
    collecting.stop().await;
    emu.shutdown().await;
    Ok(())
}
