//! KashFlow end to end: a real broker and database, the KashFlow emulator in process. Orders
//! (`NB_SINK_ORDERS`, default 200) post exactly once while the emulator throttles, fails,
//! drops connections (also after the write ran) and ends sessions (forced, random and by
//! idle expiry); every invoice balances to the penny; a VAT validation failure is
//! dead-lettered with KashFlow's words and later orders still post; stock is readable.
//! Refunds are credit notes (negative invoices) of the sale's customer, posted once also when
//! answers are lost or the command is delivered again; a refund without its sale is
//! dead-lettered saying so. A payment (or refund) that arrives before its sale waits for it.
mod support;

use anyhow::{bail, Context, Result};
use nopbridge_connector_sink::{kashflow::KfConnector, xref::Store};
use nopbridge_emu_kashflow::{spawn, EmulatorConfig, FaultConfig, InjectedFault, RunningEmulator};
use nopbridge_proto::commands::v1::{
    command::Body, Command, ItemRef, ItemType, LineKind, ResultStatus, SaleDocumentKind,
    TargetKind, UpsertItem,
};
use serde_json::Value;
use std::{collections::HashMap, sync::Arc, time::Duration};
use support::*;

const USER: &str = "emulator";
const PEOPLE: u64 = 40;

fn section(emu: &RunningEmulator) -> impl Fn(&str) -> String + '_ {
    move |connection| {
        format!(
            r#"
[[service.kashflow]]
connection_id = "{connection}"
base_url = "{api}"
username = "{USER}"
password = "emulator-password"
memorable_word = "pineapple"
home_currency = "GBP"
payment_methods = {{ VISA = 3, BACS = 5 }}
[service.kashflow.limits]
max_in_flight = 8
[service.kashflow.retry]
initial_backoff_ms = 20
max_backoff_ms = 400
max_attempts = 8
throttle_wait_ms = 200
request_timeout_ms = 10000
"#,
            api = emu.api_url()
        )
    }
}

async fn emulator() -> Result<RunningEmulator> {
    Ok(spawn(EmulatorConfig {
        time_scale: 60.0,
        ..EmulatorConfig::default()
    })
    .await?)
}

fn item(connection: &str, sku: &str, qty: i64) -> Command {
    Command {
        command_id: command_id(connection, 0, &format!("item-{sku}")),
        connection_id: connection.into(),
        target: TargetKind::Kashflow as i32,
        tenant_id: "acme".into(),
        store_id: "uk".into(),
        body: Some(Body::UpsertItem(UpsertItem {
            item: Some(ItemRef {
                sku: sku.into(),
                name: format!("Product {sku}"),
                ..ItemRef::default()
            }),
            name: format!("Product {sku}"),
            item_type: ItemType::Inventory as i32,
            unit_price: money(1000, "GBP"),
            track_quantity: true,
            quantity_on_hand: qty,
            active: true,
            ..UpsertItem::default()
        })),
        ..Command::default()
    }
}

/// Orders in sending order: each invoice order is followed by its payment.
fn workload(connection: &str, n: u64) -> (Vec<Command>, Vec<Command>) {
    let mut sales = Vec::new();
    let mut all = Vec::new();
    for i in 1..=n {
        let sale = vat_order(connection, TargetKind::Kashflow, i, PEOPLE);
        let paid_later = sale_kind(&sale) == SaleDocumentKind::Invoice;
        let total = total_of(&sale);
        all.push(sale.clone());
        sales.push(sale);
        if paid_later {
            all.push(payment(connection, TargetKind::Kashflow, i, total, "BACS"));
        }
    }
    (sales, all)
}

/// The sink, running, on a KashFlow account with 100 each of TEE-1 and MUG-1 in stock.
async fn running_with_stock(
    emu: &RunningEmulator,
) -> Result<(
    Sink,
    tokio::task::JoinHandle<()>,
    tokio_util::sync::CancellationToken,
)> {
    let sink = Sink::start("kashflow", section(emu)).await?;
    let c = sink.connection.clone();
    sink.send(&[item(&c, "TEE-1", 100), item(&c, "MUG-1", 100)])
        .await?;
    let (task, stop) = sink.start_sink()?;
    sink.wait_results(2, Duration::from_secs(60)).await?;
    Ok((sink, task, stop))
}

fn sale_kind(c: &Command) -> SaleDocumentKind {
    match &c.body {
        Some(Body::PostSale(s)) => s.kind(),
        _ => SaleDocumentKind::Unspecified,
    }
}

fn doc(c: &Command) -> String {
    c.order
        .as_ref()
        .map(|o| o.document_number.clone())
        .unwrap_or_default()
}

fn invoices_by_reference(emu: &RunningEmulator) -> HashMap<String, Vec<Value>> {
    let mut by: HashMap<String, Vec<Value>> = HashMap::new();
    for inv in emu.handle().invoices(USER) {
        let r = inv["CustomerReference"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        by.entry(r).or_default().push(inv);
    }
    by
}

async fn wait_invoices(emu: &RunningEmulator, at_least: usize, within: Duration) -> Result<()> {
    let end = tokio::time::Instant::now() + within;
    while emu.handle().invoices(USER).len() < at_least {
        if tokio::time::Instant::now() > end {
            bail!("fewer than {at_least} invoices within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_post_exactly_once_under_faults_and_session_expiry_and_balance_to_the_penny(
) -> Result<()> {
    let emu = emulator().await?;
    let sink = Sink::start("kashflow", section(&emu)).await?;
    let c = sink.connection.clone();
    let n = order_count();

    // Products first, stock-managed, so every sale line takes stock.
    let items = [item(&c, "TEE-1", 100_000), item(&c, "MUG-1", 100_000)];
    sink.send(&items).await?;
    let (task, stop) = sink.start_sink()?;
    sink.wait_results(2, Duration::from_secs(60)).await?;

    let (sales, mut cmds) = workload(&c, n);
    // A line at 17 % VAT, which the account does not have: KashFlow refuses it.
    let mut bad = vat_order(&c, TargetKind::Kashflow, n + 1, PEOPLE);
    let l = &mut sale_of(&mut bad).lines[1];
    l.tax_rate_percent = Some(nopbridge_proto::events::v1::Decimal {
        units: 17,
        scale: 0,
    });
    let half = cmds.len() / 2;
    cmds.insert(half, bad.clone());

    emu.handle().set_faults(FaultConfig {
        throttle_probability: 0.05,
        unavailable_probability: 0.05,
        drop_before_probability: 0.03,
        drop_after_probability: 0.06,
        session_expiry_probability: 0.02,
        retry_after_secs: 1,
        seed: Some(8),
        ..FaultConfig::default()
    });
    sink.send(&cmds).await?;
    wait_invoices(&emu, sales.len() / 3, Duration::from_secs(300)).await?;
    // Every session ends at once, then KashFlow's idle expiry passes (60 emulated minutes).
    emu.handle().expire_sessions(None);
    emu.handle().force_faults(InjectedFault::ExpireSession, 3);
    emu.handle().advance_clock(Duration::from_secs(3700));
    let results = sink
        .wait_results(cmds.len() + items.len(), Duration::from_secs(600))
        .await?;
    stop.cancel();
    task.await?;

    let counters = emu.handle().counters();
    assert!(
        counters.throttled > 0 && counters.unavailable > 0 && counters.dropped > 0,
        "{counters:?}"
    );
    assert!(
        counters.unauthorized > 0 && counters.logins >= 2,
        "sessions were renewed: {counters:?}"
    );

    // Every good order once, with the command's totals; receipts and later payments paid.
    let by_ref = invoices_by_reference(&emu);
    for s in &sales {
        let d = doc(s);
        let Some([inv]) = by_ref.get(&d).map(Vec::as_slice) else {
            bail!(
                "{d}: expected one invoice, found {:?}",
                by_ref.get(&d).map(Vec::len)
            );
        };
        assert_eq!(cents(&inv["GrossAmount"]), Some(total_of(s)), "{d}: gross");
        let Some(Body::PostSale(sale)) = &s.body else {
            bail!("not a sale")
        };
        let tax = sale
            .tax
            .as_ref()
            .and_then(|t| t.total_tax.as_ref())
            .map_or(0, |m| m.minor_units);
        assert_eq!(cents(&inv["VATAmount"]), Some(tax), "{d}: VAT");
        assert_eq!(inv["Status"], "Paid", "{d}: {inv}");
        let payments = inv["PaymentLines"].as_array().context("payment lines")?;
        assert_eq!(payments.len(), 1, "{d}: one payment, never two");
        assert_eq!(cents(&payments[0]["Amount"]), Some(total_of(s)));
        let nominals: Vec<i64> = inv["LineItems"]
            .as_array()
            .context("lines")?
            .iter()
            .filter_map(|l| l["NominalCode"].as_i64())
            .collect();
        assert_eq!(nominals, vec![4000, 4000, 4905], "{d}: nominal codes");
    }
    assert!(
        !by_ref.contains_key(&doc(&bad)),
        "the refused order posted nothing"
    );
    assert_eq!(by_ref.len(), sales.len(), "no invoice beyond the orders");
    assert_eq!(
        emu.handle().customers(USER).len(),
        PEOPLE as usize,
        "one customer per person"
    );

    // Results: every command succeeded except the bad one, which is FAILED and dead-lettered.
    for cmd in cmds.iter().filter(|x| x.command_id != bad.command_id) {
        let rs: Vec<_> = results
            .iter()
            .filter(|r| r.command_id == cmd.command_id)
            .collect();
        assert!(
            !rs.is_empty() && rs.iter().all(|r| r.status() != ResultStatus::Failed),
            "{}: {rs:?}",
            cmd.command_id
        );
    }
    let failed: Vec<_> = results
        .iter()
        .filter(|r| r.command_id == bad.command_id)
        .collect();
    assert!(
        failed.iter().all(|r| r.status() == ResultStatus::Failed),
        "{failed:?}"
    );
    let e = failed
        .first()
        .and_then(|r| r.error.clone())
        .context("error")?;
    assert_eq!(
        (e.code.as_str(), e.class.as_str()),
        ("ValidationError", "validation")
    );
    assert!(e.detail.contains("17"), "{e:?}");
    // Creates whose answer was lost (dropped after the write) were found, not made again.
    let found_again = results
        .iter()
        .filter(|r| r.status() == ResultStatus::Unchanged && r.command_kind == "post_sale")
        .count();
    eprintln!("invoices found again after a lost answer: {found_again}");
    if n >= 100 {
        assert!(found_again > 0, "the lost-answer path was exercised");
    }
    let dlq = sink.dead_letters().await?;
    assert_eq!(dlq.len(), 1, "only the refused order is dead-lettered");
    let sale_record = results
        .iter()
        .find(|r| r.command_id == sales[0].command_id)
        .and_then(|r| r.records.iter().find(|x| x.role == "sale"))
        .context("sale record")?;
    assert!(!sale_record.target_id.is_empty());
    assert_eq!(
        sale_record.total.as_ref().map(|m| m.minor_units),
        Some(total_of(&sales[0]))
    );

    // Stock went down by what was sold, and the connector reads it back.
    let sold = |sku: &str| -> i64 {
        sales
            .iter()
            .filter_map(|s| match &s.body {
                Some(Body::PostSale(p)) => Some(p),
                _ => None,
            })
            .flat_map(|p| p.lines.iter())
            .filter(|l| {
                l.kind() == LineKind::Product && l.item.as_ref().is_some_and(|i| i.sku == sku)
            })
            .map(|l| l.quantity)
            .sum()
    };
    emu.handle().set_faults(FaultConfig::default());
    let cfg = sink.config()?.service.kashflow[0].clone();
    let store = Store::connect(&sink.db.url, 2).await?;
    let connector = KfConnector::new(
        cfg,
        store,
        reqwest::Client::new(),
        Arc::new(|_: nopbridge_proto::control::v1::HealthState, _: &str| {}),
        nopbridge_runtime::Meter::off(),
    );
    let tee = connector
        .stock_level(4000, "TEE-1")
        .await?
        .context("TEE-1")?;
    assert!(tee.managed);
    assert_eq!(
        tee.quantity_in_stock,
        rust_decimal::Decimal::from(100_000 - sold("TEE-1"))
    );
    let all = connector.stock_levels().await?;
    assert!(all.iter().any(|l| l.code == "MUG-1"
        && l.quantity_in_stock == rust_decimal::Decimal::from(100_000 - sold("MUG-1"))));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_sink_mid_run_then_restart_still_posts_and_pays_exactly_once() -> Result<()>
{
    let emu = emulator().await?;
    let sink = Sink::start("kashflow", section(&emu)).await?;
    let n = order_count();
    let (sales, cmds) = workload(&sink.connection, n);
    sink.send(&cmds).await?;
    emu.handle().set_faults(FaultConfig {
        drop_after_probability: 0.08,
        seed: Some(13),
        ..FaultConfig::default()
    });
    let invoices = || emu.handle().invoices(USER).len();
    let mut child = spawn_binary(&sink)?;
    let waited = wait_count(
        "invoices before the kill",
        sales.len() / 3,
        Duration::from_secs(300),
        invoices,
    )
    .await;
    child.kill()?; // SIGKILL: no drain, no commit
    child.wait()?;
    waited?;
    let at_kill = invoices();
    assert!(at_kill < sales.len(), "killed mid-run ({at_kill} posted)");
    let mut child = spawn_binary(&sink)?;
    let done = sink
        .wait_results(cmds.len(), Duration::from_secs(600))
        .await;
    child.kill()?;
    child.wait()?;
    done?;
    let by_ref = invoices_by_reference(&emu);
    for s in &sales {
        let d = doc(s);
        let Some([inv]) = by_ref.get(&d).map(Vec::as_slice) else {
            bail!(
                "{d}: expected one invoice, found {:?}",
                by_ref.get(&d).map(Vec::len)
            );
        };
        assert_eq!(cents(&inv["GrossAmount"]), Some(total_of(s)), "{d}");
        assert_eq!(
            inv["PaymentLines"].as_array().map(Vec::len),
            Some(1),
            "{d}: paid once"
        );
    }
    assert_eq!(by_ref.len(), sales.len());
    assert_eq!(emu.handle().customers(USER).len(), PEOPLE as usize);
    Ok(())
}

/// A session idle longer than `session_renew_idle_ms` is renewed before the next call, so
/// that call never meets KashFlow's idle expiry (no 401 at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_renewed_before_the_call_not_after_a_401() -> Result<()> {
    let emu = emulator().await?;
    let db = nopbridge_testkit::TestDb::create().await?;
    let cfg: nopbridge_connector_sink::kashflow::KfConnectionConfig = toml::from_str(&format!(
        r#"
connection_id = "kf-idle"
base_url = "{api}"
username = "{USER}"
password = "emulator-password"
memorable_word = "pineapple"
[limits]
session_renew_idle_ms = 300
"#,
        api = emu.api_url()
    ))?;
    let store = Store::connect(&db.url, 2).await?;
    let connector = KfConnector::new(
        cfg,
        store,
        reqwest::Client::new(),
        Arc::new(|_: nopbridge_proto::control::v1::HealthState, _: &str| {}),
        nopbridge_runtime::Meter::off(),
    );
    assert!(connector.stock_level(4000, "NONE").await?.is_none());
    // Longer than the renewal threshold, and KashFlow's own idle expiry passes meanwhile.
    tokio::time::sleep(Duration::from_millis(400)).await;
    emu.handle().advance_clock(Duration::from_secs(3700));
    assert!(connector.stock_level(4000, "NONE").await?.is_none());
    let c = emu.handle().counters();
    assert_eq!((c.logins, c.unauthorized), (2, 0), "{c:?}");
    assert_eq!(
        connector
            .stats()
            .renewals
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    Ok(())
}

/// A refund of order `n` as the mapping builds it from the store's payment event: no
/// customer, the sale's document number, the refund tender. `lines` are (sku, quantity,
/// net, VAT percent); an empty sku is the mapping's refund line (nominal 4000, no product).
fn refund(connection: &str, n: u64, what: &str, lines: &[(&str, i64, i64, i64)]) -> Command {
    use nopbridge_proto::commands::v1::{
        DocumentLine, PostRefund, RefundDocumentKind, TaxDetail, TaxMode, Tender, TenderKind,
    };
    let lines: Vec<DocumentLine> = lines
        .iter()
        .enumerate()
        .map(|(i, (sku, qty, net, pct))| {
            let mut l = vat_line(i as u32 + 1, LineKind::Product, sku, *qty, *net, *pct);
            if sku.is_empty() {
                l.item = None;
                l.account = "4000".into();
                l.description = format!("Refund for order {n}");
            }
            l
        })
        .collect();
    let net: i64 = lines
        .iter()
        .filter_map(|l| l.amount.as_ref())
        .map(|m| m.minor_units)
        .sum();
    let tax: i64 = lines
        .iter()
        .filter_map(|l| l.tax_amount.as_ref())
        .map(|m| m.minor_units)
        .sum();
    Command {
        command_id: command_id(connection, n, what),
        connection_id: connection.into(),
        target: TargetKind::Kashflow as i32,
        tenant_id: "acme".into(),
        store_id: "uk".into(),
        source_event_ids: vec![format!("evt-{what}-{n}")],
        order: Some(order_ref(n)),
        body: Some(Body::PostRefund(PostRefund {
            kind: RefundDocumentKind::CreditMemo as i32,
            customer: None,
            currency: "GBP".into(),
            lines,
            tax: Some(TaxDetail {
                mode: TaxMode::Vat as i32,
                total_tax: money(tax, "GBP"),
                ..TaxDetail::default()
            }),
            total: money(net + tax, "GBP"),
            tender: Some(Tender {
                kind: TenderKind::Payment as i32,
                amount: money(net + tax, "GBP"),
                payment_method: "VISA".into(),
                reference: format!("re_{n}_{what}"),
                ..Tender::default()
            }),
            txn_date: "2026-11-22".into(),
            original_document_number: order_ref(n).document_number,
            ..PostRefund::default()
        })),
        ..Command::default()
    }
}

fn refund_total(c: &Command) -> i64 {
    match &c.body {
        Some(Body::PostRefund(r)) => r.total.as_ref().map_or(0, |m| m.minor_units),
        _ => 0,
    }
}

/// Credit notes (negative invoices) of the emulator by `CustomerReference`.
fn credit_notes(emu: &RunningEmulator) -> HashMap<String, Vec<Value>> {
    invoices_by_reference(emu)
        .into_iter()
        .filter(|(_, v)| {
            v.iter()
                .any(|i| cents(&i["GrossAmount"]).is_some_and(|g| g < 0))
        })
        .collect()
}

fn stock_of(emu: &RunningEmulator, sku: &str) -> Option<i64> {
    emu.handle()
        .product(USER, 4000, sku)
        .and_then(|p| p["QuantityInStock"].as_f64())
        .map(|q| q as i64)
}

/// Checks one credit note against its refund command and sale: the sale's customer, net,
/// VAT and gross the command's negated to the penny, the tender paid back in full.
fn check_credit_note(note: &Value, cmd: &Command, sale: &Value) -> Result<()> {
    let Some(Body::PostRefund(r)) = &cmd.body else {
        bail!("not a refund");
    };
    let tax = r
        .tax
        .as_ref()
        .and_then(|t| t.total_tax.as_ref())
        .map_or(0, |m| m.minor_units);
    let total = refund_total(cmd);
    assert_eq!(
        note["CustomerCode"], sale["CustomerCode"],
        "the sale's customer"
    );
    assert_eq!(cents(&note["GrossAmount"]), Some(-total), "{note}");
    assert_eq!(cents(&note["VATAmount"]), Some(-tax), "{note}");
    assert_eq!(cents(&note["NetAmount"]), Some(-(total - tax)), "{note}");
    assert_eq!(
        cents(&note["TotalPaidAmount"]),
        Some(total),
        "paid back: {note}"
    );
    assert_eq!(note["Status"], "Paid");
    Ok(())
}

/// A refund is posted as a credit note (a negative invoice) against the customer of its
/// sale: lines and VAT from the command, the stock of a returned product back up, the refund
/// tender as the money paid back. A refund that arrives before its sale waits for it; a
/// redelivery finds the credit note instead of making a second; a refund whose sale was never
/// posted is dead-lettered saying what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_is_a_credit_note_of_the_sales_customer_posted_once() -> Result<()> {
    let emu = emulator().await?;
    let (sink, task, stop) = running_with_stock(&emu).await?;
    let c = sink.connection.clone();

    // Order 1 (a receipt): 2 TEE-1, 2 MUG-1 and shipping. One mug comes back, with £5 more.
    let sale = vat_order(&c, TargetKind::Kashflow, 1, 5);
    let early = refund(&c, 1, "refund-a", &[("MUG-1", 1, 1250, 5), ("", 1, 500, 0)]);
    let orphan = refund(&c, 2, "refund-a", &[("", 1, 700, 0)]);
    sink.send(&[early.clone(), orphan.clone()]).await?;
    sink.send(std::slice::from_ref(&sale)).await?;
    let results = sink.wait_results(5, Duration::from_secs(60)).await?;
    let posted = results
        .iter()
        .find(|r| r.command_id == early.command_id)
        .context("the early refund's result")?;
    assert_eq!(posted.status(), ResultStatus::Created, "{posted:?}");
    assert!(
        posted.records.iter().any(|r| r.role == "refund"
            && r.total.as_ref().map(|m| m.minor_units) == Some(refund_total(&early))),
        "{posted:?}"
    );
    let failed = results
        .iter()
        .find(|r| r.command_id == orphan.command_id)
        .context("the orphan refund's result")?;
    assert_eq!(failed.status(), ResultStatus::Failed);
    let e = failed.error.clone().context("error")?;
    assert_eq!(e.class, "prerequisite", "{e:?}");
    assert!(
        e.detail.contains("never posted") && e.detail.contains("WEB000002"),
        "{e:?}"
    );
    assert_eq!(sink.dead_letters().await?.len(), 1);

    // Delivered again (a redelivery after a crash): found, not made twice.
    sink.send(std::slice::from_ref(&early)).await?;
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    let again = loop {
        let mine: Vec<_> = sink
            .results()
            .await?
            .into_iter()
            .filter(|r| r.command_id == early.command_id)
            .collect();
        if mine.len() >= 2 {
            break mine;
        }
        if tokio::time::Instant::now() > end {
            bail!("no second result for the redelivered refund");
        }
    };
    assert!(
        again.iter().any(|r| r.status() == ResultStatus::Unchanged),
        "{again:?}"
    );
    stop.cancel();
    task.await?;

    let by_ref = invoices_by_reference(&emu);
    let Some([sold]) = by_ref.get("WEB000001").map(Vec::as_slice) else {
        bail!("one sale: {by_ref:#?}");
    };
    let notes = credit_notes(&emu);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let (reference, copies) = notes.iter().next().context("a credit note")?;
    assert!(reference.starts_with("WEB000001R"), "{reference}");
    let [note] = copies.as_slice() else {
        bail!("{reference} posted {} times", copies.len());
    };
    let note = emu
        .handle()
        .invoice(USER, note["Number"].as_i64().unwrap_or_default())
        .context("the credit note in full")?;
    check_credit_note(&note, &early, sold)?;
    assert_eq!(note["LineItems"][0]["ProductCode"], "MUG-1");
    assert_eq!(note["LineItems"][0]["Quantity"].as_f64(), Some(-1.0));
    assert_eq!(note["LineItems"][1]["NominalCode"], 4000);
    // Two mugs sold, one back.
    assert_eq!(stock_of(&emu, "MUG-1"), Some(99));
    assert_eq!(stock_of(&emu, "TEE-1"), Some(98));
    assert_eq!(
        emu.handle().customers(USER).len(),
        1,
        "no customer made up for the refund"
    );
    Ok(())
}

/// A payment whose event overtook its order's (they travel on different topics) reaches the
/// sink before the invoice: it is put back on the topic until the invoice is posted, then
/// paid once (a redelivery finds its payment line); a payment whose invoice never comes is
/// dead-lettered saying so once its requeues are spent. With `prerequisite_requeues = 0`
/// the early payment is dead-lettered at once and this test fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_before_its_invoice_waits_for_it_and_pays_once() -> Result<()> {
    let emu = emulator().await?;
    let (sink, task, stop) = running_with_stock(&emu).await?;
    let c = sink.connection.clone();

    // Orders 5 and 10 are invoices paid later; only order 5's sale is ever sent.
    let sale = vat_order(&c, TargetKind::Kashflow, 5, 5);
    assert_eq!(sale_kind(&sale), SaleDocumentKind::Invoice);
    let early = payment(&c, TargetKind::Kashflow, 5, total_of(&sale), "BACS");
    let orphan = payment(&c, TargetKind::Kashflow, 10, 1_000, "BACS");
    sink.send(&[early.clone(), orphan.clone()]).await?;
    sink.send(std::slice::from_ref(&sale)).await?;
    let results = sink.wait_results(5, Duration::from_secs(60)).await?;
    let paid = results
        .iter()
        .find(|r| r.command_id == early.command_id)
        .context("the early payment's result")?;
    assert_eq!(paid.status(), ResultStatus::Updated, "{paid:?}");
    let failed = results
        .iter()
        .find(|r| r.command_id == orphan.command_id)
        .context("the orphan payment's result")?;
    assert_eq!(failed.status(), ResultStatus::Failed, "{failed:?}");
    let e = failed.error.clone().context("error")?;
    assert_eq!(e.class, "prerequisite", "{e:?}");
    assert!(
        e.detail.contains("never posted") && e.detail.contains("WEB000010"),
        "{e:?}"
    );
    assert_eq!(sink.dead_letters().await?.len(), 1);

    // Delivered again: its payment line is found, not added twice.
    sink.deliver(std::slice::from_ref(&early), 2).await?;
    assert_eq!(
        sink.statuses(&early).await?,
        vec![ResultStatus::Updated, ResultStatus::Unchanged]
    );
    stop.cancel();
    task.await?;

    let by_ref = invoices_by_reference(&emu);
    let Some([inv]) = by_ref.get(&doc(&sale)).map(Vec::as_slice) else {
        bail!("one invoice: {by_ref:#?}");
    };
    let inv = emu
        .handle()
        .invoice(USER, inv["Number"].as_i64().unwrap_or_default())
        .context("the invoice in full")?;
    let payments = inv["PaymentLines"].as_array().context("payment lines")?;
    assert_eq!(payments.len(), 1, "paid once: {inv}");
    assert_eq!(cents(&payments[0]["Amount"]), Some(total_of(&sale)));
    assert_eq!(inv["Status"], "Paid");
    assert_eq!(by_ref.len(), 1, "nothing posted for the orphan payment");
    Ok(())
}

/// Drift repair (`verify_target`, what `reconcile --repair` sends): an invoice a person
/// changed in KashFlow is put back to the store's lines in place (the same invoice, its
/// payment line kept), one a person deleted is posted again; delivered twice, the second
/// finds both right. Never a second invoice for an order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_puts_a_changed_invoice_back_and_posts_a_deleted_one_again() -> Result<()> {
    let emu = emulator().await?;
    let (sink, task, stop) = running_with_stock(&emu).await?;
    let c = sink.connection.clone();
    let mut changed = vat_order(&c, TargetKind::Kashflow, 1, 5);
    let mut deleted = vat_order(&c, TargetKind::Kashflow, 2, 5);
    sink.send(&[changed.clone(), deleted.clone()]).await?;
    sink.wait_results(4, Duration::from_secs(60)).await?;

    // A person adds a line to one invoice and deletes the other, through KashFlow's API.
    let h = emu.handle();
    let number_of = |cmd: &Command| -> Option<i64> {
        invoices_by_reference(&emu)
            .get(&doc(cmd))
            .and_then(|v| v.first())
            .and_then(|i| i["Number"].as_i64())
    };
    let (a, b) = (
        number_of(&changed).context("invoice 1")?,
        number_of(&deleted).context("invoice 2")?,
    );
    let token = h.open_session(USER).context("a session")?;
    let person = reqwest::Client::new();
    let before = h.invoice(USER, a).context("invoice 1 in full")?;
    let mut lines = before["LineItems"].as_array().cloned().unwrap_or_default();
    lines.push(
        serde_json::json!({"NominalCode": 4000, "Description": "Added by hand",
        "Quantity": 1, "Rate": 10, "VATLevel": 20, "VATAmount": 2}),
    );
    let r = person
        .put(format!("{}/invoices/{a}", emu.api_url()))
        .header("authorization", format!("KfToken {token}"))
        .json(&serde_json::json!({ "LineItems": lines }))
        .send()
        .await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let r = person
        .delete(format!("{}/invoices/{b}", emu.api_url()))
        .header("authorization", format!("KfToken {token}"))
        .send()
        .await?;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        cents(&h.invoice(USER, a).context("changed")?["GrossAmount"]),
        Some(total_of(&changed) + 1200)
    );
    assert!(number_of(&deleted).is_none());

    // The repair, delivered twice.
    changed.verify_target = true;
    deleted.verify_target = true;
    for round in 1..=2 {
        sink.deliver(&[changed.clone(), deleted.clone()], round + 1)
            .await?;
    }
    stop.cancel();
    task.await?;
    use ResultStatus::{Created, Unchanged, Updated};
    assert_eq!(
        sink.statuses(&changed).await?,
        vec![Created, Updated, Unchanged]
    );
    assert_eq!(
        sink.statuses(&deleted).await?,
        vec![Created, Created, Unchanged]
    );

    let by_ref = invoices_by_reference(&emu);
    assert_eq!(by_ref.len(), 2, "{by_ref:#?}");
    for (cmd, same_number) in [(&changed, Some(a)), (&deleted, None)] {
        let Some([inv]) = by_ref.get(&doc(cmd)).map(Vec::as_slice) else {
            bail!("{}: one invoice", doc(cmd));
        };
        let number = inv["Number"].as_i64().context("number")?;
        if let Some(n) = same_number {
            assert_eq!(number, n, "corrected in place");
        }
        let inv = h.invoice(USER, number).context("in full")?;
        assert_eq!(
            cents(&inv["GrossAmount"]),
            Some(total_of(cmd)),
            "{}",
            doc(cmd)
        );
        assert_eq!(inv["LineItems"].as_array().map(Vec::len), Some(3));
        let paid = inv["PaymentLines"].as_array().context("payments")?;
        assert_eq!(paid.len(), 1, "{}: its payment, once", doc(cmd));
        assert_eq!(inv["Status"], "Paid");
    }
    // Stock follows: two orders' lines taken once each.
    let tee = h.product(USER, 4000, "TEE-1").context("TEE-1")?;
    assert_eq!(tee["QuantityInStock"].as_f64(), Some(96.0));
    Ok(())
}

/// Refunds while KashFlow drops connections after the write ran, throttles and fails: every
/// refund is one credit note, balancing to the penny against its command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_post_exactly_once_when_answers_are_lost() -> Result<()> {
    let emu = emulator().await?;
    let sink = Sink::start("kashflow", section(&emu)).await?;
    let c = sink.connection.clone();
    let items = [item(&c, "TEE-1", 1000), item(&c, "MUG-1", 1000)];
    sink.send(&items).await?;
    let (task, stop) = sink.start_sink()?;
    sink.wait_results(2, Duration::from_secs(60)).await?;
    let n = 12;
    let sales: Vec<Command> = (1..=n)
        .map(|i| vat_order(&c, TargetKind::Kashflow, i, 6))
        .collect();
    sink.send(&sales).await?;
    sink.wait_results(2 + n as usize, Duration::from_secs(120))
        .await?;
    let refunds: Vec<Command> = (1..=n)
        .map(|i| {
            refund(
                &c,
                i,
                "refund-a",
                &[
                    ("TEE-1", 1, 1250 + i as i64, 20),
                    ("", 1, 100 * i as i64, 0),
                ],
            )
        })
        .collect();
    emu.handle().set_faults(FaultConfig {
        throttle_probability: 0.05,
        unavailable_probability: 0.05,
        drop_after_probability: 0.3,
        retry_after_secs: 1,
        seed: Some(16),
        ..FaultConfig::default()
    });
    sink.send(&refunds).await?;
    let results = sink
        .wait_results(2 + 2 * n as usize, Duration::from_secs(300))
        .await?;
    stop.cancel();
    task.await?;
    assert!(
        emu.handle().counters().dropped > 0,
        "{:?}",
        emu.handle().counters()
    );
    for r in &refunds {
        let res = results
            .iter()
            .find(|x| x.command_id == r.command_id)
            .context("a refund's result")?;
        assert_ne!(res.status(), ResultStatus::Failed, "{res:?}");
    }
    let by_ref = invoices_by_reference(&emu);
    let notes = credit_notes(&emu);
    assert_eq!(notes.len(), n as usize, "{:?}", notes.keys());
    for (i, r) in refunds.iter().enumerate() {
        let sale_doc = format!("WEB{:06}", i + 1);
        let sold = by_ref
            .get(&sale_doc)
            .and_then(|v| v.first())
            .context("the sale")?;
        let (reference, copies) = notes
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{sale_doc}R")))
            .context("the credit note")?;
        assert_eq!(copies.len(), 1, "{reference} posted {} times", copies.len());
        let note = emu
            .handle()
            .invoice(USER, copies[0]["Number"].as_i64().unwrap_or_default())
            .context("in full")?;
        check_credit_note(&note, r, sold)?;
    }
    // Each sale took 2 TEE-1, each credit note gave one back.
    assert_eq!(
        stock_of(&emu, "TEE-1"),
        Some(1000 - 2 * n as i64 + n as i64)
    );
    Ok(())
}

/// An account that does not take negative invoices (emulator setting `credit_notes =
/// refused`): the refund is dead-lettered with KashFlow's own validation error, nothing is
/// credited and no stock moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_credit_note_is_dead_lettered_with_kashflows_words() -> Result<()> {
    let emu = spawn(EmulatorConfig {
        time_scale: 60.0,
        validation: nopbridge_emu_kashflow::ValidationConfig {
            credit_notes: nopbridge_emu_kashflow::CreditNotes::Refused,
            ..Default::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    let sink = Sink::start("kashflow", section(&emu)).await?;
    let c = sink.connection.clone();
    let items = [item(&c, "TEE-1", 100), item(&c, "MUG-1", 100)];
    let sale = vat_order(&c, TargetKind::Kashflow, 1, 5);
    let back = refund(&c, 1, "refund-a", &[("MUG-1", 1, 1250, 5)]);
    sink.send(&items).await?;
    let (task, stop) = sink.start_sink()?;
    sink.wait_results(2, Duration::from_secs(60)).await?;
    sink.send(std::slice::from_ref(&sale)).await?;
    sink.wait_results(3, Duration::from_secs(60)).await?;
    sink.send(std::slice::from_ref(&back)).await?;
    let results = sink.wait_results(4, Duration::from_secs(60)).await?;
    stop.cancel();
    task.await?;
    let failed = results
        .iter()
        .find(|r| r.command_id == back.command_id)
        .context("the refund's result")?;
    assert_eq!(failed.status(), ResultStatus::Failed, "{failed:?}");
    let e = failed.error.clone().context("error")?;
    assert_eq!(
        (e.code.as_str(), e.class.as_str()),
        ("ValidationError", "validation")
    );
    assert!(e.detail.contains("credit notes cannot be posted"), "{e:?}");
    assert!(e.explanation.contains("by hand"), "{e:?}");
    assert_eq!(sink.dead_letters().await?.len(), 1);
    assert!(credit_notes(&emu).is_empty());
    assert_eq!(stock_of(&emu, "MUG-1"), Some(98));
    Ok(())
}
