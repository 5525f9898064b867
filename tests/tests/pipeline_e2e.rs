//! End to end: orders from the nopCommerce emulator through ingest, transform, connector-sink
//! and the reconciler into the QuickBooks emulator (all four services in this process, a real
//! broker and PostgreSQL). Each order is posted once with its total, the store gets its note,
//! the ledger is complete and reconciliation finds no drift; then a person changes one
//! document's total and deletes another in QuickBooks, and a repair corrects both without a
//! duplicate. `E2E_ORDERS` sets the store's order count (default 500).
mod stack;

use anyhow::{bail, Context, Result};
use nopbridge_kafka::Producer;
use nopbridge_reconciler::reconcile::Reconciler;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use stack::{cents, e2e_orders, e2e_wait, eventually, Opts, Stack, STORE, TAKEN};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

fn qbo_cents(v: &Value) -> i64 {
    v["TotalAmt"]
        .as_f64()
        .map(|f| (f * 100.0).round() as i64)
        .unwrap_or(i64::MIN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_post_once_are_written_back_and_drift_is_repaired() -> Result<()> {
    let n = e2e_orders();
    if std::env::var_os("E2E_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
    let stack = Stack::start(Opts {
        orders: n,
        ..Opts::default()
    })
    .await?;
    let (kafka, books, realm, qbo_conn) =
        (&stack.kafka, &stack.books, &stack.realm, &stack.qbo_conn);
    let ledger = stack.ledger.clone();

    // The orders whose money was taken: each must become one sales document.
    let h = stack.store.handle().clone();
    let expected: BTreeMap<i64, i64> = h.read(|st| {
        st.orders
            .iter()
            .filter(|o| !o.deleted && o.store_id == STORE && TAKEN.contains(&o.payment_status_id))
            // The demo mapping posts reward points as a tender: the document's total also
            // holds what the points paid (nopCommerce's order total is net of them).
            .map(|o| {
                let points = o
                    .redeemed_reward_points_entry_id
                    .and_then(|id| st.reward_points.iter().find(|r| r.id == id))
                    .map_or(Decimal::ZERO, |r| r.used_amount);
                (i64::from(o.id), cents(o.order_total + points))
            })
            .collect()
    });
    assert!(
        expected.len() > n / 4,
        "the seeded store has paid orders ({})",
        expected.len()
    );
    let posted_ids = |ledger: nopbridge_reconciler::ledger::Ledger, conn: String| async move {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT source_id FROM sync_ledger WHERE connection_id = $1 AND entity_type = 'order' AND target_id IS NOT NULL",
        )
        .bind(conn)
        .fetch_all(ledger.pool())
        .await?;
        Ok::<BTreeSet<String>, anyhow::Error>(ids.into_iter().collect())
    };
    let waited = eventually(
        "every paid order posted and in the ledger",
        e2e_wait(900),
        || {
            let (ledger, conn) = (ledger.clone(), qbo_conn.clone());
            let want = expected.len();
            async move {
                let ids = posted_ids(ledger, conn).await?;
                Ok((ids.len() >= want).then_some(ids))
            }
        },
    )
    .await;
    if let Err(e) = &waited {
        for topic in [
            &stack.canonical[0],
            &stack.qbo_commands,
            &stack.store_commands,
            &stack.dlq_transform,
            &stack.dlq_sink,
        ] {
            let n = nopbridge_kafka::read_topic(kafka, topic, 100_000, Duration::from_secs(2))
                .await
                .map(|r| r.len())
                .unwrap_or_default();
            eprintln!("{topic}: {n} records");
        }
        let dead =
            nopbridge_kafka::read_topic(kafka, &stack.dlq_sink, 20, Duration::from_secs(2)).await?;
        for d in dead.iter().take(8) {
            eprintln!("sink dead letter: {:?}", d.header_str("dlq_error_message"));
        }
        let dead: Vec<(String, String)> = sqlx::query_as(
            "SELECT source_id, COALESCE(last_error, '') FROM sync_ledger WHERE status IN ('dead_lettered', 'failed') LIMIT 20",
        )
        .fetch_all(ledger.pool())
        .await?;
        bail!("{e}; dead letters: {dead:#?}");
    }
    let posted = waited?;
    for id in expected.keys() {
        assert!(
            posted.contains(&id.to_string()),
            "order {id} is not in the ledger"
        );
    }

    // In QuickBooks: one document per order, the one the ledger names, with the order's total.
    let docs = stack.sales_docs();
    for (number, copies) in &docs {
        assert_eq!(
            copies.len(),
            1,
            "DocNumber {number} posted {} times",
            copies.len()
        );
    }
    let by_id: BTreeMap<String, Value> = docs
        .values()
        .map(|c| {
            (
                c[0]["Id"].as_str().unwrap_or_default().to_string(),
                c[0].clone(),
            )
        })
        .collect();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT source_id, target_id FROM sync_target_records WHERE connection_id = $1 AND entity_type = 'order' AND role = 'sale'",
    )
    .bind(qbo_conn)
    .fetch_all(ledger.pool())
    .await?;
    let mut by_order: BTreeMap<i64, Value> = BTreeMap::new();
    for (order, target) in rows {
        if let (Ok(id), Some(doc)) = (order.parse::<i64>(), by_id.get(&target)) {
            by_order.insert(id, doc.clone());
        }
    }
    for (id, total) in &expected {
        let doc = by_order
            .get(id)
            .with_context(|| format!("no document for order {id}"))?;
        assert_eq!(
            qbo_cents(doc),
            *total,
            "order {id}: document total against the store order"
        );
    }

    // Written back: the note, once, on every posted order.
    eventually("notes written back", Duration::from_secs(300), || {
        let h = h.clone();
        let ids: Vec<i64> = expected.keys().copied().collect();
        async move {
            let missing = ids
                .iter()
                .filter(|id| {
                    h.order_notes(**id as i32)
                        .iter()
                        .filter(|n| n.note.starts_with("Sent to accounting: QuickBooks Online"))
                        .count()
                        != 1
                })
                .count();
            Ok((missing == 0).then_some(()))
        }
    })
    .await?;

    // No drift; then a person edits one document and deletes another.
    let checker = Reconciler {
        ledger: ledger.clone(),
        kafka: kafka.clone(),
        producer: Producer::new(kafka)?,
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let clean = checker
        .run(None, None, false, Duration::ZERO, Some(qbo_conn), tx)
        .await?;
    assert!(
        clean.drift.is_empty(),
        "drift after a clean run: {:#?}",
        clean.drift
    );
    assert!(clean.orders as usize >= expected.len());

    // Sales receipts: an invoice with a payment applied cannot go below it (6000).
    let receipts: Vec<i64> = by_order
        .iter()
        .filter(|(_, d)| d["_entity"] == "salesreceipt")
        .map(|(id, _)| *id)
        .collect();
    let mut ids = receipts.iter();
    let (changed, deleted) = (
        *ids.next().context("an order")?,
        *ids.next().context("a second order")?,
    );
    let person = reqwest::Client::new();
    let token = books.handle().issue_tokens(realm).access_token;
    let edit = |path: String, body: Value| {
        let req = person
            .post(format!("{}/{path}", books.company_url(realm)))
            .bearer_auth(&token)
            .header("accept", "application/json")
            .json(&body);
        async move {
            let r = req.send().await?;
            if !r.status().is_success() {
                bail!("{path}: {} {}", r.status(), r.text().await?);
            }
            Ok(())
        }
    };
    let doc = &by_order[&changed];
    let entity = doc["_entity"].as_str().unwrap_or("salesreceipt");
    let item_line = doc["Line"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["DetailType"] == "SalesItemLineDetail"))
        .cloned()
        .context("an item line")?;
    edit(
        entity.into(),
        json!({"Id": doc["Id"], "SyncToken": doc["SyncToken"], "sparse": true,
               "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1.0,
                         "SalesItemLineDetail": {"ItemRef": item_line["SalesItemLineDetail"]["ItemRef"], "Qty": 1, "UnitPrice": 1.0}}]}),
    )
    .await?;
    let doc = &by_order[&deleted];
    let entity = doc["_entity"].as_str().unwrap_or("salesreceipt");
    edit(
        format!("{entity}?operation=delete"),
        json!({"Id": doc["Id"], "SyncToken": doc["SyncToken"]}),
    )
    .await?;

    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let repair = checker
        .run(
            None,
            None,
            true,
            Duration::from_secs(300),
            Some(qbo_conn),
            tx,
        )
        .await?;
    let kinds: BTreeMap<String, &str> = repair
        .drift
        .iter()
        .map(|d| (d.order_id.clone(), d.kind))
        .collect();
    assert_eq!(
        kinds.get(&changed.to_string()),
        Some(&"corrected"),
        "{:#?}",
        repair.drift
    );
    assert_eq!(
        kinds.get(&deleted.to_string()),
        Some(&"recreated"),
        "{:#?}",
        repair.drift
    );
    assert_eq!(repair.drift.len(), 2, "{:#?}", repair.drift);

    let docs = stack.sales_docs();
    for (number, copies) in &docs {
        assert_eq!(copies.len(), 1, "DocNumber {number} twice after the repair");
    }
    let totals: BTreeMap<String, i64> = docs
        .iter()
        .map(|(n, c)| (n.clone(), qbo_cents(&c[0])))
        .collect();
    for id in [changed, deleted] {
        let number = by_order[&id]["DocNumber"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            totals.get(&number),
            Some(&expected[&id]),
            "order {id} after the repair"
        );
    }
    stack.shutdown().await;
    Ok(())
}
