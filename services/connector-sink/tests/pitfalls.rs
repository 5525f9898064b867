//! The QuickBooks pitfalls (reference section 8) as behaviour of the running sink: real
//! broker, real PostgreSQL, the emulator in process.
mod common;

use anyhow::Result;
use common::*;
use nopbridge_proto::commands::v1::{command::Body, ResultStatus, SaleDocumentKind};
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(90);

fn status_of(
    results: &[nopbridge_proto::commands::v1::CommandResult],
    id: &str,
) -> Vec<ResultStatus> {
    results
        .iter()
        .filter(|r| r.command_id == id)
        .map(|r| r.status())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sales_receipt_posts_once_with_its_total_doc_number_and_store_ids() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let (task, stop) = h.start_sink()?;
    let cmd = order(&h.connection, 100482, "Ana Silva", "ana@example.com");
    // Sent twice: a redelivery must not post a second receipt.
    h.send(&[cmd.clone(), cmd.clone()]).await?;
    let results = h.wait_results(1, WITHIN).await?;
    let receipts = h
        .wait_entities("SalesReceipt", WITHIN, |r| !r.is_empty())
        .await?;
    assert_eq!(receipts.len(), 1);
    let sr = &receipts[0];
    assert_eq!(cents(sr)?, total_of(&cmd));
    assert_eq!(str_of(sr, "DocNumber"), "WEB-100482");
    assert!(str_of(sr, "PrivateNote").contains("order 100482"));
    assert!(str_of(sr, "PrivateNote").contains(&cmd.command_id));
    let r = results
        .iter()
        .find(|r| r.command_id == cmd.command_id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(r.status(), ResultStatus::Created);
    assert!(r.records.iter().any(|t| t.entity == "SalesReceipt"
        && t.target_id == str_of(sr, "Id")
        && t.version == "0"));
    assert!(!r.request_id.is_empty() && r.request_id.len() <= 50);
    assert_eq!(r.command_kind, "post_sale");
    // The redelivery is reported unchanged once it is handled.
    let results = h.wait_results(1, WITHIN).await?;
    let deadline = tokio::time::Instant::now() + WITHIN;
    let mut statuses = status_of(&results, &cmd.command_id);
    while statuses.len() < 2 && tokio::time::Instant::now() < deadline {
        statuses = status_of(&h.results().await?, &cmd.command_id);
    }
    assert_eq!(statuses, [ResultStatus::Created, ResultStatus::Unchanged]);
    assert_eq!(
        h.entities("Customer")
            .iter()
            .filter(|c| str_of(c, "DisplayName") == "Ana Silva")
            .count(),
        1
    );
    stop.cancel();
    task.await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_name_used_by_a_vendor_gets_a_disambiguated_customer() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    h.emu_post("vendor", json!({"DisplayName": "Northwind Supplies"}))
        .await?;
    let (task, stop) = h.start_sink()?;
    let cmd = order(&h.connection, 7, "Northwind Supplies", "");
    h.send(std::slice::from_ref(&cmd)).await?;
    let results = h.wait_results(1, WITHIN).await?;
    assert_eq!(
        status_of(&results, &cmd.command_id),
        [ResultStatus::Created]
    );
    let customers = h.entities("Customer");
    let c: Vec<&Value> = customers
        .iter()
        .filter(|c| str_of(c, "DisplayName").starts_with("Northwind Supplies"))
        .collect();
    assert_eq!(c.len(), 1, "{customers:?}");
    assert_eq!(str_of(c[0], "DisplayName"), "Northwind Supplies #8");
    let receipts = h.entities("SalesReceipt");
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["CustomerRef"]["value"], c[0]["Id"]);
    stop.cancel();
    task.await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_rule_uses_the_existing_customer_of_that_name() -> Result<()> {
    let h = Harness::start(Opts {
        display_name_conflict: "adopt",
        ..Opts::default()
    })
    .await?;
    let existing = h
        .emu_post("customer", json!({"DisplayName": "Contoso Ltd"}))
        .await?;
    let (task, stop) = h.start_sink()?;
    let cmd = order(&h.connection, 8, "Contoso Ltd", "");
    h.send(std::slice::from_ref(&cmd)).await?;
    let results = h.wait_results(1, WITHIN).await?;
    assert_eq!(
        status_of(&results, &cmd.command_id),
        [ResultStatus::Created]
    );
    assert_eq!(h.entities("Customer").len(), 1);
    assert_eq!(
        h.entities("SalesReceipt")[0]["CustomerRef"]["value"],
        existing["Customer"]["Id"]
    );
    stop.cancel();
    task.await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apostrophes_and_unicode_in_names_are_found_again_not_duplicated() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let (task, stop) = h.start_sink()?;
    let names = [
        "Ana O'Neil",
        "Zoë Ålander – 北京",
        "Men\u{2019}s Shed \\ Co",
    ];
    let mut cmds = Vec::new();
    for (i, name) in names.iter().enumerate() {
        // Two orders per name from different store customers without email: the second finds
        // the first's customer by DisplayName (an escaped query), not by cross reference.
        cmds.push(order(&h.connection, 10 + i as u64, name, ""));
        cmds.push(order(&h.connection, 20 + i as u64, name, ""));
    }
    h.send(&cmds).await?;
    let results = h.wait_results(cmds.len(), WITHIN).await?;
    for c in &cmds {
        assert_eq!(
            status_of(&results, &c.command_id),
            [ResultStatus::Created],
            "{}",
            c.command_id
        );
    }
    let customers = h.entities("Customer");
    for name in names {
        let n = customers
            .iter()
            .filter(|c| str_of(c, "DisplayName") == name)
            .count();
        assert_eq!(n, 1, "{name}: {customers:?}");
    }
    assert_eq!(customers.len(), names.len());
    stop.cancel();
    task.await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_sku_with_creation_off_is_dead_lettered_and_later_records_post() -> Result<()> {
    let h = Harness::start(Opts {
        create_missing_items: false,
        ..Opts::default()
    })
    .await?;
    let income = h
        .entities("Account")
        .into_iter()
        .find(|a| str_of(a, "Name") == "Sales of Product Income")
        .map(|a| a["Id"].clone())
        .unwrap_or_default();
    for (name, sku) in [("Organic tee", "TEE-1"), ("Mug 12oz", "MUG-1")] {
        h.emu_post("item", json!({"Name": name, "Sku": sku, "Type": "NonInventory", "IncomeAccountRef": {"value": income}})).await?;
    }
    let (task, stop) = h.start_sink()?;
    let good1 = order(&h.connection, 1, "First Buyer", "first@example.com");
    let mut bad = order(&h.connection, 2, "Second Buyer", "second@example.com");
    if let Some(Body::PostSale(s)) = &mut bad.body {
        s.lines[1].item = Some(nopbridge_proto::commands::v1::ItemRef {
            sku: "NOPE-404".into(),
            name: "Ghost".into(),
            ..Default::default()
        });
    }
    let good2 = order(&h.connection, 3, "Third Buyer", "third@example.com");
    h.send(&[good1.clone(), bad.clone(), good2.clone()]).await?;
    let results = h.wait_results(3, WITHIN).await?;
    assert_eq!(
        status_of(&results, &good1.command_id),
        [ResultStatus::Created]
    );
    assert_eq!(
        status_of(&results, &good2.command_id),
        [ResultStatus::Created]
    );
    let failed = results
        .iter()
        .find(|r| r.command_id == bad.command_id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed.status(), ResultStatus::Failed);
    let err = failed.error.unwrap_or_default();
    assert_eq!(err.class, "reference");
    assert!(
        err.detail.contains("NOPE-404") && err.detail.contains("item creation is off"),
        "{}",
        err.detail
    );
    let dlq = h.dead_letters().await?;
    assert_eq!(dlq.len(), 1);
    assert_eq!(
        dlq[0].payload(),
        prost::Message::encode_to_vec(&bad).as_slice(),
        "byte for byte"
    );
    assert_eq!(
        dlq[0].header_str("dlq_error_class").as_deref(),
        Some("reference")
    );
    let reason = dlq[0].header_str("dlq_error_message").unwrap_or_default();
    assert!(
        reason.contains("NOPE-404") && reason.contains("create_missing_items"),
        "{reason}"
    );
    assert_eq!(h.entities("SalesReceipt").len(), 2);
    assert_eq!(
        h.entities("Item")
            .iter()
            .filter(|i| str_of(i, "Sku") == "NOPE-404")
            .count(),
        0
    );
    stop.cancel();
    task.await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_euro_order_posts_with_its_exchange_rate_and_a_euro_customer() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let (task, stop) = h.start_sink()?;
    let lines = vec![
        product(1, "TEE-1", "Organic tee", 2, 4000, "EUR", true),
        shipping(2, 500, "EUR"),
    ];
    let cmd = sale(
        &h.connection,
        55,
        "Eva Müller",
        "eva@example.de",
        "EUR",
        Some((10825, 4)),
        lines,
        760,
        SaleDocumentKind::SalesReceipt,
    );
    h.send(std::slice::from_ref(&cmd)).await?;
    let results = h.wait_results(1, WITHIN).await?;
    assert_eq!(
        status_of(&results, &cmd.command_id),
        [ResultStatus::Created]
    );
    let sr = &h.entities("SalesReceipt")[0];
    assert_eq!(sr["CurrencyRef"]["value"], "EUR");
    assert_eq!(sr["ExchangeRate"].to_string(), "1.0825");
    assert_eq!(cents(sr)?, total_of(&cmd));
    assert_eq!(total_of(&cmd), 5260);
    // Home amount = 52.60 × 1.0825 = 56.9395 → 56.94 (at rate 1 it would be 52.60).
    assert_eq!(sr["HomeTotalAmt"].to_string(), "56.94");
    let c = h
        .entities("Customer")
        .into_iter()
        .find(|c| c["Id"] == sr["CustomerRef"]["value"])
        .unwrap_or_default();
    assert_eq!(c["CurrencyRef"]["value"], "EUR");
    assert_eq!(str_of(&c, "DisplayName"), "Eva Müller (EUR)");
    stop.cancel();
    task.await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_after_posting_updates_the_same_document() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let (task, stop) = h.start_sink()?;
    let first = order(&h.connection, 900, "Olga Berg", "olga@example.com");
    // The store changed the order (a line amount and the memo); transform emits a new command
    // for the same document number.
    let mut changed = order(&h.connection, 900, "Olga Berg", "olga@example.com");
    changed.command_id = command_id(&h.connection, 900, "post_sale-v2");
    if let Some(Body::PostSale(s)) = &mut changed.body {
        s.lines[1].amount = usd(1500);
        s.total = usd(s.total.as_ref().map(|m| m.minor_units).unwrap_or(0) + 250);
        s.memo = "status: complete".into();
    }
    h.send(std::slice::from_ref(&first)).await?;
    h.wait_results(1, WITHIN).await?;
    // Someone edits the receipt in QuickBooks meanwhile: our SyncToken goes stale (5010 path).
    let sr = h.entities("SalesReceipt")[0].clone();
    h.emu_post("salesreceipt", json!({"Id": sr["Id"], "SyncToken": sr["SyncToken"], "sparse": true, "CustomerMemo": {"value": "thanks"}})).await?;
    h.send(std::slice::from_ref(&changed)).await?;
    let results = h.wait_results(2, WITHIN).await?;
    assert_eq!(
        status_of(&results, &changed.command_id),
        [ResultStatus::Updated]
    );
    let receipts = h.entities("SalesReceipt");
    assert_eq!(receipts.len(), 1, "the same document, not a second one");
    let now = &receipts[0];
    assert_eq!(now["Id"], sr["Id"]);
    assert_eq!(cents(now)?, total_of(&changed));
    assert!(str_of(now, "PrivateNote").contains("status: complete"));
    assert_eq!(str_of(now, "SyncToken"), "2");
    let r = results
        .iter()
        .find(|r| r.command_id == changed.command_id)
        .cloned()
        .unwrap_or_default();
    assert!(r
        .records
        .iter()
        .any(|t| t.target_id == str_of(now, "Id") && t.version == "2"));
    stop.cancel();
    task.await?;
    Ok(())
}
