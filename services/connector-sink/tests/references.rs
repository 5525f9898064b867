//! References as the mapping describes them: the customer match rules, items created with the
//! mapping's type and accounts, lines the mapping points at accounts, and remembered
//! references that went stale in QuickBooks. Commands go straight to the handler (the
//! consumer loop is covered by the other suites); QuickBooks is the emulator.
mod common;

use anyhow::{anyhow, Result};
use common::*;
use nopbridge_connector_sink::{quickbooks::PollOutcome, sink::SinkHandler};
use nopbridge_kafka::{Handler, Producer};
use nopbridge_proto::commands::v1::{
    command::Body, Command, CommandResult, CustomerMatchRule, ItemRef, ItemType, LineKind,
    ResultStatus, TargetKind, UpsertItem,
};
use nopbridge_runtime::ControlState;
use serde_json::{json, Value};
use std::time::Duration;

async fn handler(h: &Harness) -> Result<SinkHandler> {
    let cfg = h.config()?;
    Ok(SinkHandler::with_attempts(
        &cfg.service,
        Producer::new(&h.kafka)?,
        ControlState::new("connector-sink"),
        5,
    )
    .await?)
}

async fn post(handler: &SinkHandler, cmd: &Command) -> Result<()> {
    handler
        .handle(&record(cmd, 0))
        .await
        .map_err(|e| anyhow!("{e}"))
}

fn by_id(all: &[Value], id: &Value) -> Value {
    all.iter()
        .find(|v| &v["Id"] == id)
        .cloned()
        .unwrap_or_default()
}

fn account_id(h: &Harness, name: &str) -> Value {
    h.entities("Account")
        .into_iter()
        .find(|a| str_of(a, "Name") == name)
        .map(|a| a["Id"].clone())
        .unwrap_or_default()
}

fn result_of(results: &[CommandResult], cmd: &Command) -> Vec<ResultStatus> {
    results
        .iter()
        .filter(|r| r.command_id == cmd.command_id)
        .map(CommandResult::status)
        .collect()
}

/// An UpsertItem for an inventory lamp: 12 on hand, $49 (cost $21), the mapping's accounts.
fn lamp(h: &Harness, n: u64, sku: &str, name: &str) -> Command {
    Command {
        command_id: command_id(&h.connection, n, "upsert_item"),
        connection_id: h.connection.clone(),
        target: TargetKind::QuickbooksOnline as i32,
        tenant_id: "acme".into(),
        store_id: "1".into(),
        body: Some(Body::UpsertItem(UpsertItem {
            item: Some(ItemRef {
                sku: sku.into(),
                name: name.into(),
                ..ItemRef::default()
            }),
            name: name.into(),
            description: format!("Brass {}", name.to_lowercase()),
            item_type: ItemType::Inventory as i32,
            unit_price: usd(4900),
            unit_cost: usd(2100),
            income_account: "Sales of Product Income".into(),
            expense_account: "Cost of Goods Sold".into(),
            asset_account: "Inventory Asset".into(),
            track_quantity: true,
            quantity_on_hand: 12,
            taxable: true,
            active: true,
            ..UpsertItem::default()
        })),
        ..Command::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixed_rule_posts_every_buyer_to_one_customer_without_their_details() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let handler = handler(&h).await?;
    for (n, buyer, email) in [
        (1, "Ann Lee", "ann@example.com"),
        (2, "Bo Li", "bo@example.com"),
    ] {
        let mut cmd = order(&h.connection, n, buyer, email);
        let c = sale_of(&mut cmd)
            .customer
            .get_or_insert_with(Default::default);
        c.match_rule = CustomerMatchRule::Fixed as i32;
        c.display_name = "Web Sales".into();
        post(&handler, &cmd).await?;
    }
    let customers = h.entities("Customer");
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(str_of(&customers[0], "DisplayName"), "Web Sales");
    assert!(customers[0].get("PrimaryEmailAddr").is_none());
    let receipts = h.entities("SalesReceipt");
    assert_eq!(receipts.len(), 2);
    assert!(receipts
        .iter()
        .all(|r| r["CustomerRef"]["value"] == customers[0]["Id"]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_rule_does_not_adopt_a_namesake_with_another_email() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let namesake = h
        .emu_post(
            "customer",
            json!({"DisplayName": "Sam Green", "PrimaryEmailAddr": {"Address": "sam@other.example"}}),
        )
        .await?;
    let handler = handler(&h).await?;
    let mut cmd = order(&h.connection, 3, "Sam Green", "sam@example.com");
    sale_of(&mut cmd)
        .customer
        .get_or_insert_with(Default::default)
        .match_rule = CustomerMatchRule::Email as i32;
    post(&handler, &cmd).await?;
    let customers = h.entities("Customer");
    assert_eq!(customers.len(), 2, "{customers:?}");
    let receipt = &h.entities("SalesReceipt")[0];
    assert_ne!(receipt["CustomerRef"]["value"], namesake["Customer"]["Id"]);
    let ours = by_id(&customers, &receipt["CustomerRef"]["value"]);
    assert_eq!(str_of(&ours, "DisplayName"), "Sam Green #4");
    assert_eq!(ours["PrimaryEmailAddr"]["Address"], "sam@example.com");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_made_inactive_in_quickbooks_is_resolved_again_not_dead_lettered() -> Result<()>
{
    let h = Harness::start(Opts::default()).await?;
    let handler = handler(&h).await?;
    post(
        &handler,
        &order(&h.connection, 10, "Ivy Hart", "ivy@example.com"),
    )
    .await?;
    let first = h.entities("Customer")[0].clone();
    // Someone deactivates the customer in QuickBooks; the connector still remembers its id.
    h.emu_post(
        "customer",
        json!({"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": true, "Active": false}),
    )
    .await?;
    let again = order(&h.connection, 11, "Ivy Hart", "ivy@example.com");
    post(&handler, &again).await?;
    let receipts = h.entities("SalesReceipt");
    assert_eq!(receipts.len(), 2);
    let second = by_id(
        &h.entities("Customer"),
        &receipts[1]["CustomerRef"]["value"],
    );
    assert_ne!(second["Id"], first["Id"]);
    assert_eq!(second["Active"], true);
    assert_eq!(str_of(&second, "DisplayName"), "Ivy Hart");
    let results = h.wait_results(2, Duration::from_secs(30)).await?;
    assert_eq!(result_of(&results, &again), [ResultStatus::Created]);
    Ok(())
}

/// Two sink processes remember references in memory; when one of them finds a customer gone
/// stale and resolves it again, the other's remembered id costs it one refused try, then it
/// uses the new customer (no third one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_another_process_resolved_again_is_followed_not_duplicated() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let (a, b) = (handler(&h).await?, handler(&h).await?);
    let ivy = |n| order(&h.connection, n, "Ivy Hart", "ivy@example.com");
    post(&a, &ivy(10)).await?;
    post(&b, &ivy(11)).await?;
    let first = h.entities("Customer")[0].clone();
    h.emu_post(
        "customer",
        json!({"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": true, "Active": false}),
    )
    .await?;
    post(&a, &ivy(12)).await?;
    post(&b, &ivy(13)).await?;
    let customers = h.entities("Customer");
    assert_eq!(customers.len(), 2, "{customers:?}");
    let receipts = h.entities("SalesReceipt");
    assert_eq!(receipts.len(), 4);
    let (by_a, by_b) = (&receipts[2], &receipts[3]);
    assert_ne!(by_a["CustomerRef"]["value"], first["Id"]);
    assert_eq!(by_b["CustomerRef"]["value"], by_a["CustomerRef"]["value"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_the_mapping_points_at_accounts_post_and_balance() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let handler = handler(&h).await?;
    h.emu_post(
        "item",
        json!({"Name": "Express shipping", "Type": "Service", "IncomeAccountRef": {"value": account_id(&h, "Shipping Income")}}),
    )
    .await?;
    let mut cmd = order(&h.connection, 20, "Fay Moss", "fay@example.com");
    let sale = sale_of(&mut cmd);
    // The mapping's shipping item, a payment fee on an account, a discount on an account.
    sale.lines[2].item = Some(ItemRef {
        target_item: "Express shipping".into(),
        name: "Express shipping".into(),
        ..ItemRef::default()
    });
    let mut fee = shipping(4, 150, "USD");
    fee.kind = LineKind::PaymentFee as i32;
    fee.description = "Cash on delivery fee".into();
    fee.account = "Services".into();
    let mut discount = shipping(5, -300, "USD");
    discount.kind = LineKind::Discount as i32;
    discount.description = "Coupon".into();
    discount.account = "Discounts given".into();
    sale.lines.extend([fee, discount]);
    let total = sale.total.as_ref().map(|m| m.minor_units).unwrap_or(0) + 150 - 300;
    sale.total = usd(total);
    sale.tenders[0].amount = usd(total);
    post(&handler, &cmd).await?;

    let receipt = h.entities("SalesReceipt")[0].clone();
    assert_eq!(cents(&receipt)?, total);
    let items = h.entities("Item");
    let lines = receipt["Line"].as_array().cloned().unwrap_or_default();
    let item_of = |n: usize| by_id(&items, &lines[n]["SalesItemLineDetail"]["ItemRef"]["value"]);
    assert_eq!(str_of(&item_of(2), "Name"), "Express shipping");
    let fee_item = item_of(3);
    assert_eq!(str_of(&fee_item, "Name"), "Payment fee");
    assert_eq!(
        fee_item["IncomeAccountRef"]["value"],
        account_id(&h, "Services")
    );
    let discount = lines
        .iter()
        .find(|l| l["DetailType"] == "DiscountLineDetail")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        discount["DiscountLineDetail"]["DiscountAccountRef"]["value"],
        account_id(&h, "Discounts given"),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_item_creates_the_item_the_mapping_describes() -> Result<()> {
    let h = Harness::start(Opts {
        create_missing_items: false,
        ..Opts::default()
    })
    .await?;
    let handler = handler(&h).await?;
    let cmd = lamp(&h, 30, "LAMP-9", "Desk lamp");
    post(&handler, &cmd).await?;
    // A replay finds it by SKU: still one.
    post(&handler, &cmd).await?;
    let items: Vec<Value> = h
        .entities("Item")
        .into_iter()
        .filter(|i| str_of(i, "Sku") == "LAMP-9")
        .collect();
    assert_eq!(items.len(), 1);
    let lamp = &items[0];
    assert_eq!(str_of(lamp, "Type"), "Inventory");
    assert_eq!(lamp["QtyOnHand"].as_f64(), Some(12.0));
    assert_eq!(lamp["UnitPrice"].as_f64(), Some(49.0));
    assert_eq!(lamp["PurchaseCost"].as_f64(), Some(21.0));
    assert_eq!(
        lamp["AssetAccountRef"]["value"],
        account_id(&h, "Inventory Asset")
    );
    assert_eq!(
        lamp["ExpenseAccountRef"]["value"],
        account_id(&h, "Cost of Goods Sold")
    );
    let results = h.wait_results(1, Duration::from_secs(30)).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut statuses = result_of(&results, &cmd);
    while statuses.len() < 2 && tokio::time::Instant::now() < deadline {
        statuses = result_of(&h.results().await?, &cmd);
    }
    assert_eq!(statuses, [ResultStatus::Created, ResultStatus::Unchanged]);
    Ok(())
}

/// An inventory item the bridge makes is known to the stock watch from its creation, so
/// goods received in QuickBooks before the watch next polls still reach the store (the
/// watch's first sight of an item would otherwise take them in as its baseline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_received_right_after_the_bridge_made_the_item_reaches_the_store() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let suffix = nopbridge_testkit::unique("-watch");
    std::fs::write(
        &h.config_path,
        std::fs::read_to_string(&h.config_path)?
            + &format!(
                "[service.quickbooks.stock_watch]\ntenant = \"acme\"\nstore = \"1\"\n\
                 interval_ms = 600000\ntopic_suffix = \"{suffix}\"\n"
            ),
    )?;
    nopbridge_kafka::ensure_topics(
        &h.kafka,
        &[nopbridge_kafka::TopicSpec::new(
            format!("canonical.inventory_level.v1{suffix}"),
            1,
        )],
    )
    .await?;
    let handler = handler(&h).await?;
    let watch = handler.stock_watches()[0].clone();
    assert!(matches!(watch.poll().await?, PollOutcome::Baseline(_)));
    let floor_lamp = lamp(&h, 40, "LAMP-7", "Floor lamp");
    post(&handler, &floor_lamp).await?;
    let item = h
        .entities("Item")
        .into_iter()
        .find(|i| str_of(i, "Sku") == "LAMP-7")
        .ok_or_else(|| anyhow!("the lamp was not made"))?;
    let vendor = h
        .emu_post("vendor", json!({"DisplayName": "Lamp Works Ltd"}))
        .await?;
    h.emu_post(
        "bill",
        json!({"VendorRef": {"value": vendor["Vendor"]["Id"]},
            "Line": [{"Amount": 50, "DetailType": "ItemBasedExpenseLineDetail",
                "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 10, "UnitPrice": 5}}]}),
    )
    .await?;
    // The first poll to see the lamp sees the bill too: its 10 go to the store.
    assert_eq!(watch.poll().await?, PollOutcome::Moves(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_the_mapping_already_suffixed_with_its_currency_keeps_one_suffix() -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let handler = handler(&h).await?;
    let lines = vec![
        product(1, "TEE-1", "Organic tee", 1, 2000, "EUR", true),
        shipping(2, 500, "EUR"),
    ];
    let cmd = sale(
        &h.connection,
        40,
        "Lea Roth (EUR)",
        "lea@example.de",
        "EUR",
        Some((108, 2)),
        lines,
        380,
        nopbridge_proto::commands::v1::SaleDocumentKind::SalesReceipt,
    );
    post(&handler, &cmd).await?;
    let customers = h.entities("Customer");
    assert_eq!(customers.len(), 1);
    assert_eq!(str_of(&customers[0], "DisplayName"), "Lea Roth (EUR)");
    Ok(())
}
