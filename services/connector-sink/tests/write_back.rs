//! Write-back to the store (target `nopcommerce`) against the nopCommerce emulator: order
//! notes, mark paid, cancel and stock go through the plugin's processing endpoints, each
//! exactly once when commands are redelivered, also under 429/503 bursts.
use anyhow::{anyhow, Context, Result};
use nopbridge_connector_sink::{config::SinkSettings, sink::SinkHandler};
use nopbridge_emu_nopcommerce::{spawn, EmulatorConfig, FaultConfig, LiveConfig, RunningEmulator};
use nopbridge_kafka::{ensure_topics, Handler, Producer, Record, TopicSpec};
use nopbridge_proto::{
    commands::v1::{
        command::Body, AdjustStock, Command, ItemRef, StoreWriteBack, TargetKind, WriteBackAction,
    },
    events::v1::OrderStatus,
};
use nopbridge_runtime::ControlState;
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;

const PENDING_PAYMENT: i32 = 10;
const PAID: i32 = 30;

struct Setup {
    _broker: Broker,
    _db: TestDb,
    emu: RunningEmulator,
    handler: SinkHandler,
    connection: String,
}

async fn setup() -> Result<Setup> {
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    ensure_topics(
        &kafka,
        &[TopicSpec::new(nopbridge_runtime::topics::SINK_RESULTS, 3)],
    )
    .await?;
    let db = TestDb::create().await?;
    let emu = spawn(EmulatorConfig {
        seed: 7,
        orders: 60,
        live: LiveConfig {
            orders_per_minute: 0.0,
            actions_per_minute: 0.0,
            customers_per_minute: 0.0,
        },
        ..EmulatorConfig::default()
    })
    .await?;
    let connection = unique("shop");
    let settings: SinkSettings = toml::from_str(&format!(
        r#"
database_url = "{db}"
[[nopcommerce]]
connection_id = "{connection}"
base_url = "{base}"
username = "admin"
password = "admin-password"
initial_backoff_ms = 10
max_backoff_ms = 100
max_attempts = 10
"#,
        db = db.url,
        base = emu.base_url(),
    ))?;
    let handler = SinkHandler::with_attempts(
        &settings,
        Producer::new(&kafka)?,
        ControlState::new("connector-sink"),
        3,
    )
    .await?;
    Ok(Setup {
        _broker: broker,
        _db: db,
        emu,
        handler,
        connection,
    })
}

fn command(connection: &str, id: &str, body: Body) -> Command {
    Command {
        command_id: id.into(),
        connection_id: connection.into(),
        target: TargetKind::Nopcommerce as i32,
        body: Some(body),
        ..Command::default()
    }
}

fn write_back(connection: &str, id: &str, action: WriteBackAction, order_id: i64) -> Command {
    command(
        connection,
        id,
        Body::StoreWriteBack(StoreWriteBack {
            action: action as i32,
            order_id,
            note: format!("Posted to QuickBooks as SalesReceipt WEB{order_id}"),
            order_status: OrderStatus::Cancelled as i32,
            ..StoreWriteBack::default()
        }),
    )
}

async fn deliver(s: &Setup, cmd: &Command) -> Result<()> {
    let record = Record {
        topic: "sink.nopcommerce.commands.v1".into(),
        partition: 0,
        offset: 0,
        key: Some(cmd.connection_id.as_bytes().to_vec()),
        payload: Some(cmd.encode_to_vec()),
        headers: Vec::new(),
        timestamp_ms: None,
    };
    s.handler.handle(&record).await.map_err(|e| anyhow!("{e}"))
}

/// An open order whose payment is still pending (can be marked paid and cancelled).
fn pending_orders(emu: &RunningEmulator) -> Vec<i64> {
    emu.handle().read(|st| {
        st.orders
            .iter()
            .filter(|o| !o.deleted && o.payment_status_id == PENDING_PAYMENT)
            .filter(|o| o.order_status_id != OrderStatus::Cancelled as i32)
            .map(|o| i64::from(o.id))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_payments_cancellations_and_stock_are_written_once() -> Result<()> {
    let s = setup().await?;
    let h = s.emu.handle().clone();
    let pending = pending_orders(&s.emu);
    let [paid_later, cancelled, ..] = pending.as_slice() else {
        return Err(anyhow!(
            "the seeded store has fewer than two pending orders"
        ));
    };
    let notes_before = h.order_notes(*paid_later as i32).len();

    // The note, redelivered twice, under a 429/503 weather.
    h.set_faults(FaultConfig {
        rate_limit_probability: 0.1,
        server_error_probability: 0.1,
        burst_length: 2,
        retry_after_secs: 0,
        ..FaultConfig::default()
    });
    let note = write_back(
        &s.connection,
        "note-1",
        WriteBackAction::AddOrderNote,
        *paid_later,
    );
    for _ in 0..3 {
        deliver(&s, &note).await?;
    }
    let pay = write_back(
        &s.connection,
        "pay-1",
        WriteBackAction::MarkPaid,
        *paid_later,
    );
    for _ in 0..2 {
        deliver(&s, &pay).await?;
    }
    let cancel = write_back(
        &s.connection,
        "cancel-1",
        WriteBackAction::SetOrderStatus,
        *cancelled,
    );
    deliver(&s, &cancel).await?;
    deliver(&s, &cancel).await?;
    h.clear_faults();

    let notes = h.order_notes(*paid_later as i32);
    let ours: Vec<_> = notes
        .iter()
        .filter(|n| n.note == format!("Posted to QuickBooks as SalesReceipt WEB{paid_later}"))
        .collect();
    assert_eq!(ours.len(), 1, "one accounting note, not one per delivery");
    let order = h.order(*paid_later as i32).context("order")?;
    assert_eq!(order.payment_status_id, PAID);
    assert!(
        notes.len() > notes_before + 1,
        "marking paid went through the processing service, which writes its own note"
    );
    let c = h.order(*cancelled as i32).context("order")?;
    assert_eq!(c.order_status_id, 40, "nopCommerce's Cancelled");

    // Stock by SKU: one adjustment, with the command id in the history message.
    let (product_id, sku, before) = h
        .read(|st| {
            st.products
                .iter()
                .find(|p| {
                    !p.deleted && !p.use_multiple_warehouses && p.sku.is_some() && p.manages_stock()
                })
                .map(|p| (p.id, p.sku.clone().unwrap_or_default(), p.stock_quantity))
        })
        .context("a stock-managed product")?;
    let adjust = command(
        &s.connection,
        "stock-1",
        Body::AdjustStock(AdjustStock {
            item: Some(ItemRef {
                sku: sku.clone(),
                ..ItemRef::default()
            }),
            delta: 5,
            quantity_on_hand: i64::from(before) + 5,
            reason: "QuickBooks quantity on hand".into(),
            ..AdjustStock::default()
        }),
    );
    deliver(&s, &adjust).await?;
    deliver(&s, &adjust).await?;
    let after = h
        .product(product_id)
        .map(|p| p.stock_quantity)
        .context("product")?;
    assert_eq!(after, before + 5, "redelivery adjusted the stock again");
    let marked = h.read(|st| {
        st.history_of(product_id)
            .iter()
            .filter(|r| r.message.contains("[nopbridge stock-1]"))
            .count()
    });
    assert_eq!(marked, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_back_is_a_permanent_failure_with_the_store_reason() -> Result<()> {
    let s = setup().await?;
    let h = s.emu.handle().clone();
    let id = *pending_orders(&s.emu).first().context("a pending order")?;
    // Cancelled orders cannot be marked paid: the store's answer, not a retry storm.
    h.cancel_order(id as i32).map_err(|e| anyhow!("{e:?}"))?;
    let pay = write_back(&s.connection, "pay-refused", WriteBackAction::MarkPaid, id);
    let err = deliver(&s, &pay).await.expect_err("refused");
    assert!(
        err.to_string().contains("cannot be marked as paid"),
        "the reason names what the store refused: {err}"
    );
    assert_ne!(h.order(id as i32).context("order")?.payment_status_id, PAID);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_stock_is_adjusted_once_even_when_the_update_after_its_history_was_lost(
) -> Result<()> {
    let s = setup().await?;
    let h = s.emu.handle().clone();
    let (product_id, sku, warehouse, before) = h
        .read(|st| {
            st.products
                .iter()
                .filter(|p| !p.deleted && p.use_multiple_warehouses && p.sku.is_some())
                .find_map(|p| {
                    let w = st.pwi_of(p.id).into_iter().next()?;
                    Some((p.id, p.sku.clone()?, w.warehouse_id, w.stock_quantity))
                })
        })
        .context("a multi-warehouse product with a warehouse row")?;
    let stock_in = || {
        h.read(|st| {
            st.pwi_of(product_id)
                .into_iter()
                .find(|w| w.warehouse_id == warehouse)
                .map(|w| w.stock_quantity)
        })
    };
    let adjust = |id: &str, warehouse_id: i64| {
        command(
            &s.connection,
            id,
            Body::AdjustStock(AdjustStock {
                item: Some(ItemRef {
                    sku: sku.clone(),
                    ..ItemRef::default()
                }),
                delta: 7,
                store_warehouse_id: warehouse_id,
                reason: "Bill 12 received in QuickBooks".into(),
                ..AdjustStock::default()
            }),
        )
    };
    let cmd = adjust("wh-1", i64::from(warehouse));
    deliver(&s, &cmd).await?;
    deliver(&s, &cmd).await?;
    assert_eq!(stock_in(), Some(before + 7), "applied once");
    // The history row landed but the warehouse update did not (a failure between the two
    // calls): the redelivery finds the marker, sees the old stock and makes the update.
    h.write(|st| {
        st.add_stock_history(
            product_id,
            7,
            before + 14,
            Some(warehouse),
            "Bill 12 received in QuickBooks [nopbridge wh-2]".into(),
            chrono::Utc::now(),
        )
    });
    deliver(&s, &adjust("wh-2", i64::from(warehouse))).await?;
    assert_eq!(stock_in(), Some(before + 14));
    let marked = h.read(|st| {
        st.history_of(product_id)
            .iter()
            .filter(|r| r.message.contains("[nopbridge wh-"))
            .count()
    });
    assert_eq!(marked, 2, "one history row per command");
    // A warehouse the product does not stock in: a reason, not a guess.
    let err = deliver(&s, &adjust("wh-3", 999))
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("no stock in warehouse 999"),
        "{err}"
    );
    Ok(())
}
