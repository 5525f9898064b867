//! Exactly once under faults: 1,000 orders while the emulator throttles, fails, drops
//! connections and expires the access token; and a kill -9 of the sink process mid-run.
mod common;

use anyhow::{bail, Result};
use common::*;
use nopbridge_emu_quickbooks::FaultConfig;
use nopbridge_proto::commands::v1::{Command, ResultStatus};
use std::{collections::HashMap, process::Command as Process, time::Duration};

fn orders(h: &Harness, from: u64, n: u64) -> Vec<Command> {
    (from..from + n)
        .map(|i| {
            let who = i % 40;
            order(
                &h.connection,
                i,
                &format!("Customer {who}"),
                &format!("c{who}@example.com"),
            )
        })
        .collect()
}

/// Every order is in QuickBooks exactly once, with the command's total to the cent.
fn assert_posted_once(h: &Harness, cmds: &[Command]) -> Result<()> {
    let receipts = h.entities("SalesReceipt");
    let mut by_doc: HashMap<String, Vec<i64>> = HashMap::new();
    for r in &receipts {
        by_doc
            .entry(str_of(r, "DocNumber").to_string())
            .or_default()
            .push(cents(r)?);
    }
    for c in cmds {
        let doc = c
            .order
            .as_ref()
            .map(|o| o.document_number.clone())
            .unwrap_or_default();
        match by_doc.get(&doc).map(Vec::as_slice) {
            Some([total]) => assert_eq!(*total, total_of(c), "{doc}: total"),
            other => bail!("{doc}: expected one receipt, found {other:?}"),
        }
    }
    assert_eq!(receipts.len(), cmds.len(), "no receipt beyond the orders");
    let customers = h.entities("Customer");
    assert_eq!(
        customers.len(),
        40,
        "one customer per person, none duplicated"
    );
    assert_eq!(
        h.entities("Item")
            .iter()
            .filter(|i| !str_of(i, "Sku").is_empty())
            .count(),
        2
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_orders_under_faults_and_a_token_expiry_post_exactly_once() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let cmds = orders(&h, 1, 1000);
    h.send(&cmds).await?;
    // 30 % of calls fail: 10 % 429, 10 % 503, 10 % dropped connections (half after the
    // write ran, so only the requestid stands between a retry and a duplicate).
    h.emu.handle().set_faults(FaultConfig {
        throttle_probability: 0.10,
        unavailable_probability: 0.10,
        drop_before_probability: 0.05,
        drop_after_probability: 0.05,
        seed: Some(7),
        ..FaultConfig::default()
    });
    let (task, stop) = h.start_sink()?;
    h.wait_entities("SalesReceipt", Duration::from_secs(300), |r| r.len() >= 300)
        .await?;
    h.emu.handle().expire_access_tokens(&h.realm);
    let results = h.wait_results(cmds.len(), Duration::from_secs(600)).await?;
    stop.cancel();
    task.await?;
    let c = h.emu.handle().counters();
    assert!(
        c.throttled > 0 && c.unavailable > 0 && c.dropped > 0,
        "{c:?}"
    );
    assert!(
        c.unauthorized > 0 && c.token_refreshes >= 2,
        "the forced expiry was met: {c:?}"
    );
    assert!(
        c.idempotent_replays > 0,
        "dropped-after writes were replayed: {c:?}"
    );
    assert!(
        c.batch_calls > 0 && c.batch_items > 2 * c.batch_calls,
        "queued independent writes went out in batches: {c:?}"
    );
    for cmd in &cmds {
        let r: Vec<_> = results
            .iter()
            .filter(|r| r.command_id == cmd.command_id)
            .collect();
        assert!(
            !r.is_empty() && r.iter().all(|r| r.status() != ResultStatus::Failed),
            "{}: {r:?}",
            cmd.command_id
        );
    }
    assert!(
        results.iter().any(|r| r.attempts > 1),
        "retries are counted in results"
    );
    assert_posted_once(&h, &cmds)?;
    assert!(h.dead_letters().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_sink_mid_run_then_restart_still_posts_exactly_once() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let cmds = orders(&h, 1, 400);
    h.send(&cmds).await?;
    h.emu.handle().set_faults(FaultConfig {
        drop_after_probability: 0.1,
        seed: Some(11),
        ..FaultConfig::default()
    });
    let spawn = || {
        Process::new(env!("CARGO_BIN_EXE_nopbridge-connector-sink"))
            .arg("--config")
            .arg(&h.config_path)
            .env("RUST_LOG", "warn")
            .spawn()
    };
    let mut sink = spawn()?;
    h.wait_entities("SalesReceipt", Duration::from_secs(180), |r| r.len() >= 120)
        .await?;
    sink.kill()?; // SIGKILL: no drain, no commit
    sink.wait()?;
    let at_kill = h.entities("SalesReceipt").len();
    assert!(at_kill < cmds.len(), "killed mid-run ({at_kill} posted)");
    let mut sink = spawn()?;
    let done = h
        .wait_entities("SalesReceipt", Duration::from_secs(300), |r| {
            r.len() >= cmds.len()
        })
        .await;
    // Results of the restarted run cover every order (redelivered ones as UNCHANGED).
    let results = h.wait_results(cmds.len(), Duration::from_secs(120)).await;
    sink.kill()?;
    sink.wait()?;
    done?;
    results?;
    assert_posted_once(&h, &cmds)?;
    Ok(())
}
