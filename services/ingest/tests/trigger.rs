//! A backfill an operator starts through the Ingest gRPC service (`nopbridge backfill`):
//! progress streamed to the end, every store order emitted once, and a second run over the
//! same history emits nothing.
mod common;

use anyhow::{bail, Context, Result};
use common::*;
use nopbridge_emu_nopcommerce::EmulatorConfig;
use nopbridge_proto::control::v1::{
    ingest_client::IngestClient, BackfillProgress, BackfillRequest,
};
use std::collections::BTreeMap;
use std::time::Duration;
use tonic::{transport::Channel, Code};

const CONNECTION: &str = "acme-main";

async fn client(port: u16) -> Result<IngestClient<Channel>> {
    eventually("ingest's gRPC port", Duration::from_secs(30), || async {
        IngestClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .ok()
    })
    .await
}

/// Asks for a backfill since 2000 and reads the stream to its end; retries while the
/// connection is still starting.
async fn backfill(c: &mut IngestClient<Channel>) -> Result<BackfillProgress> {
    let request = || BackfillRequest {
        connection_id: CONNECTION.into(),
        since: Some(prost_types::Timestamp {
            seconds: 946_684_800,
            nanos: 0,
        }),
        wait: true,
    };
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        match c.backfill(request()).await {
            Ok(s) => break s.into_inner(),
            Err(s) if s.code() == Code::Unavailable && tokio::time::Instant::now() < end => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => bail!("backfill refused: {s}"),
        }
    };
    let mut last = None;
    while let Some(p) = stream.message().await? {
        last = Some(p);
    }
    last.context("the stream ended without progress")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_backfill_streams_progress_and_emits_each_order_once() -> Result<()> {
    let env = Env::new().await?;
    let emu = emulator(EmulatorConfig {
        seed: 5,
        orders: 300,
        ..EmulatorConfig::default()
    })
    .await?;
    let want = emu.handle().read(|st| {
        st.orders
            .iter()
            .filter(|o| !o.deleted && o.store_id == 1)
            .count()
    });
    let port = free_port();
    let mut cfg = env.config(&connection(
        CONNECTION,
        "acme",
        1,
        &emu.base_url(),
        "poll_interval_ms = 200\nrepoll_interval_ms = 3600000",
    ))?;
    cfg.grpc.listen = format!("127.0.0.1:{port}").parse()?;
    let topic = env.canonical("order");
    let collecting = Collecting::start(&env.kafka(), vec![topic.clone()]).await?;
    let ingest = Ingest::start(cfg);
    let mut c = client(port).await?;

    let unknown = c
        .backfill(BackfillRequest {
            connection_id: "nope".into(),
            since: None,
            wait: true,
        })
        .await;
    assert!(
        unknown.is_err_and(|s| s.code() == Code::InvalidArgument),
        "no date: refused"
    );

    // No backfill date configured: polling alone sees only new orders, none of the 300.
    let first = backfill(&mut c).await?;
    assert!(first.finished);
    let orders = first
        .progress
        .iter()
        .find(|p| p.name == format!("backfill {CONNECTION} orders"))
        .context("the orders' progress")?;
    assert_eq!((orders.done, orders.total), (want as u64, want as u64));

    let per_order = eventually(
        "every order on the canonical topic",
        Duration::from_secs(60),
        || {
            let events = collecting.decoded::<nopbridge_proto::events::v1::Order>(&topic);
            async move {
                let mut by: BTreeMap<String, usize> = BTreeMap::new();
                for e in events {
                    let id = e.meta.map(|m| m.entity_id).unwrap_or_default();
                    *by.entry(id).or_default() += 1;
                }
                (by.len() >= want).then_some(by)
            }
        },
    )
    .await?;
    assert_eq!(per_order.len(), want);
    assert!(per_order.values().all(|n| *n == 1), "each order once");

    // The same history again: planned and walked, nothing new emitted.
    let emitted = ingest.counter("events_emitted", ("connection", CONNECTION));
    let again = backfill(&mut c).await?;
    assert!(again.finished);
    assert_eq!(
        ingest.counter("events_emitted", ("connection", CONNECTION)),
        emitted
    );
    let unknown = c
        .backfill(BackfillRequest {
            connection_id: "nope".into(),
            since: Some(prost_types::Timestamp::default()),
            wait: true,
        })
        .await;
    assert!(unknown.is_err_and(|s| s.code() == Code::NotFound));

    ingest.stop().await?;
    collecting.stop().await;
    emu.shutdown().await;
    Ok(())
}
