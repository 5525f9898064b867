//! Drift repair at the QuickBooks target: a command marked `verify_target` checks the
//! document its cross reference points at, corrects a total a person changed and posts a
//! deleted document again (under a new requestid), without ever making a second copy.
mod common;

use anyhow::{anyhow, Context, Result};
use common::*;
use nopbridge_connector_sink::sink::SinkHandler;
use nopbridge_kafka::{Handler, Producer};
use nopbridge_proto::commands::v1::Command;
use nopbridge_runtime::ControlState;
use serde_json::{json, Value};

async fn post(handler: &SinkHandler, cmd: &Command) -> Result<()> {
    handler
        .handle(&record(cmd, 0))
        .await
        .map_err(|e| anyhow!("{e}"))
}

fn receipts_numbered(h: &Harness, doc: &str) -> Vec<Value> {
    h.entities("SalesReceipt")
        .into_iter()
        .filter(|r| str_of(r, "DocNumber") == doc)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_commands_correct_changed_totals_and_recreate_deleted_documents() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let handler = SinkHandler::with_attempts(
        &h.config()?.service,
        Producer::new(&h.kafka)?,
        ControlState::new("connector-sink"),
        5,
    )
    .await?;
    let mut changed = order(&h.connection, 5001, "Ana Silva", "ana@example.com");
    let mut deleted = order(&h.connection, 5002, "Bo Li", "bo@example.com");
    post(&handler, &changed).await?;
    post(&handler, &deleted).await?;

    // A person edits one receipt's lines and deletes the other.
    let a = receipts_numbered(&h, "WEB-5001")
        .pop()
        .context("receipt 5001")?;
    let a_id = str_of(&a, "Id").to_string();
    let line = a["Line"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["DetailType"] == "SalesItemLineDetail"))
        .cloned()
        .context("an item line")?;
    let item = line["SalesItemLineDetail"]["ItemRef"].clone();
    h.emu_post(
        "salesreceipt",
        json!({"Id": a["Id"], "SyncToken": a["SyncToken"], "sparse": true,
               "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1.0,
                         "SalesItemLineDetail": {"ItemRef": item, "Qty": 1, "UnitPrice": 1.0}}]}),
    )
    .await?;
    let b = receipts_numbered(&h, "WEB-5002")
        .pop()
        .context("receipt 5002")?;
    h.emu_post(
        "salesreceipt?operation=delete",
        json!({"Id": b["Id"], "SyncToken": b["SyncToken"]}),
    )
    .await?;
    assert_ne!(
        cents(&receipts_numbered(&h, "WEB-5001")[0])?,
        total_of(&changed)
    );
    assert!(receipts_numbered(&h, "WEB-5002").is_empty());

    // A plain redelivery trusts the cross reference: the drift stays.
    post(&handler, &changed).await?;
    assert_ne!(
        cents(&receipts_numbered(&h, "WEB-5001")[0])?,
        total_of(&changed)
    );

    // The repair, delivered twice.
    changed.verify_target = true;
    deleted.verify_target = true;
    for _ in 0..2 {
        post(&handler, &changed).await?;
        post(&handler, &deleted).await?;
    }
    let a = receipts_numbered(&h, "WEB-5001");
    assert_eq!(a.len(), 1, "corrected in place, not posted again");
    assert_eq!(str_of(&a[0], "Id"), a_id, "the same document");
    assert_eq!(cents(&a[0])?, total_of(&changed));
    let b = receipts_numbered(&h, "WEB-5002");
    assert_eq!(b.len(), 1, "posted again once");
    assert_eq!(cents(&b[0])?, total_of(&deleted));
    Ok(())
}
