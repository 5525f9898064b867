//! Postings become store write-back commands once per order and action (real broker and
//! PostgreSQL): a later update of the same document, a redelivered result and the store
//! target's own results send nothing again.
use anyhow::{Context, Result};
use nopbridge_kafka::{ensure_topics, read_topic, Handler, Producer, Record, TopicSpec};
use nopbridge_proto::{
    commands::v1::{
        command::Body, Command, CommandResult, OrderReference, ResultStatus, TargetKind,
        TargetRecord, WriteBackAction,
    },
    events::v1::{Money, OrderStatus},
};
use nopbridge_reconciler::{
    ledger::Ledger,
    write_back::{WriteBack, WriteBackRule},
    LedgerFeed,
};
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use std::time::Duration;

fn posted(order_id: i64, status: ResultStatus, entity: &str, version: &str) -> CommandResult {
    CommandResult {
        command_id: format!("cmd-{order_id}-{version}"),
        connection_id: "qbo-1".into(),
        target: TargetKind::QuickbooksOnline as i32,
        tenant_id: "acme".into(),
        store_id: "1".into(),
        source_event_ids: vec![format!("evt-{order_id}-{version}")],
        order: Some(OrderReference {
            order_id,
            order_number: order_id.to_string(),
            ..OrderReference::default()
        }),
        status: status as i32,
        records: vec![TargetRecord {
            entity: entity.into(),
            target_id: "177".into(),
            version: version.into(),
            document_number: format!("WEB{order_id}"),
            total: Some(Money {
                minor_units: 12_345,
                currency: "USD".into(),
            }),
            role: "sale".into(),
        }],
        attempts: 1,
        command_kind: "post_sale".into(),
        ..CommandResult::default()
    }
}

fn record(offset: i64, r: &CommandResult) -> Record {
    Record {
        topic: "sink.results.v1".into(),
        partition: 0,
        offset,
        key: Some(r.connection_id.as_bytes().to_vec()),
        payload: Some(r.encode_to_vec()),
        headers: Vec::new(),
        timestamp_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_order_is_written_back_once_per_action() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let db = TestDb::create().await?;
    let topic = unique("sink.nopcommerce.commands");
    ensure_topics(&kafka, &[TopicSpec::new(&topic, 1)]).await?;
    let ledger = Ledger::connect(&db.url).await?;
    let feed = LedgerFeed {
        ledger: ledger.clone(),
        write_back: Some(WriteBack {
            rules: vec![WriteBackRule {
                connection_id: "qbo-1".into(),
                store_connection: "shop-1".into(),
                note: "Posted to {target} as {entity} {document}".into(),
                note_visible_to_customer: false,
                mark_paid: true,
                order_status: Some("complete".into()),
            }],
            producer: Producer::new(&kafka)?,
            pool: ledger.pool().clone(),
            topic: topic.clone(),
        }),
    };

    // An invoice (not paid in the books): note and status, no mark-paid.
    let invoice = posted(7, ResultStatus::Created, "Invoice", "0");
    feed.handle(&record(1, &invoice)).await?;
    // Redelivered, then updated twice (the store's echo of the write-back among them).
    feed.handle(&record(1, &invoice)).await?;
    feed.handle(&record(
        2,
        &posted(7, ResultStatus::Updated, "Invoice", "1"),
    ))
    .await?;
    // A sales receipt for another order: paid in the books.
    feed.handle(&record(
        3,
        &posted(8, ResultStatus::Created, "SalesReceipt", "0"),
    ))
    .await?;
    // The store target's own result is not an accounting posting.
    let mut own = posted(9, ResultStatus::Created, "OrderNote", "0");
    own.target = TargetKind::Nopcommerce as i32;
    own.connection_id = "shop-1".into();
    feed.handle(&record(4, &own)).await?;

    let commands: Vec<Command> = read_topic(&kafka, &topic, 100, Duration::from_secs(3))
        .await?
        .iter()
        .map(|r| Command::decode(r.payload()))
        .collect::<Result<_, _>>()?;
    let mut seen: Vec<(i64, WriteBackAction)> = commands
        .iter()
        .map(|c| match &c.body {
            Some(Body::StoreWriteBack(w)) => Ok((w.order_id, w.action())),
            _ => Err(anyhow::anyhow!("not a write-back: {c:?}")),
        })
        .collect::<Result<_>>()?;
    seen.sort_by_key(|(o, a)| (*o, *a as i32));
    assert_eq!(
        seen,
        vec![
            (7, WriteBackAction::AddOrderNote),
            (7, WriteBackAction::SetOrderStatus),
            (8, WriteBackAction::AddOrderNote),
            (8, WriteBackAction::SetOrderStatus),
            (8, WriteBackAction::MarkPaid),
        ]
    );
    let note = commands
        .iter()
        .find_map(|c| match &c.body {
            Some(Body::StoreWriteBack(w))
                if w.order_id == 7 && w.action() == WriteBackAction::AddOrderNote =>
            {
                Some(w.note.clone())
            }
            _ => None,
        })
        .context("note for order 7")?;
    assert_eq!(note, "Posted to QuickBooks Online as Invoice WEB7");
    for c in &commands {
        assert_eq!(c.connection_id, "shop-1");
        assert_eq!(c.target, TargetKind::Nopcommerce as i32);
        if let Some(Body::StoreWriteBack(w)) = &c.body {
            if w.action() == WriteBackAction::SetOrderStatus {
                assert_eq!(w.order_status(), OrderStatus::Complete);
            }
        }
    }
    Ok(())
}
