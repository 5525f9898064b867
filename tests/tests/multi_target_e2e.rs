//! End to end into three back offices: the seeded store's orders (`E2E_ORDERS`, default 500)
//! go through ingest, transform, connector-sink and the reconciler (all in this process, a
//! real broker and PostgreSQL), routed by store: store 1 to QuickBooks Online, store 2 to
//! KashFlow, store 3 to Dynamics GP (the demo mappings in config/mapping). The KashFlow and GP
//! emulators throttle (429 with Retry-After), fail (503/500), drop connections before and
//! after the write, and KashFlow ends sessions. Each paid order is posted exactly once, in
//! its store's back office only, and every document balances to the cent against the store
//! order (totals and tax computed here from the store's own records); nothing is lost: an
//! order that cannot be posted is dead-lettered with its reason in the ledger, and the test
//! names each one and why (GP has none of one item the UK store sold, so its orders are
//! refused with eConnect 4776). Refunds are posted in all three: GP returns and KashFlow
//! credit notes (negative invoices of the sale's customer, paid back in full) add up, to the
//! cent, to what the store refunded. Then a person raises one KashFlow invoice's total and
//! deletes one GP document, and a repair (the reconciler's Reconcile with repair, as
//! `nopbridge reconcile --repair` runs it) reports them corrected and recreated: the invoice
//! put back in place, the document posted again, no document twice, every total right.
mod stack;

use anyhow::{bail, Context, Result};
use nopbridge_emu_dynamics_gp::FaultConfig as GpFaults;
use nopbridge_emu_kashflow::FaultConfig as KfFaults;
use nopbridge_kafka::{read_topic, OutgoingRecord, Producer};
use nopbridge_proto::commands::v1::Command;
use prost::Message;
use rust_decimal::Decimal;
use serde_json::Value;
use stack::{
    cents, e2e_orders, e2e_wait, eventually, Opts, Stack, GP_COMPANY, GP_STORE, KF_STORE, KF_USER,
    STORE, TAKEN,
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Mutex,
    time::{Duration, Instant},
};

/// An amount as the emulators render it (JSON number or decimal string) in cents.
fn json_cents(v: &Value) -> Option<i64> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    s.parse::<Decimal>().ok().map(cents)
}

/// What a store order must become, from the store's records.
#[derive(Debug, Clone)]
struct Want {
    store: i32,
    /// The document total in the store currency (USD), cents.
    total: i64,
    /// The order's tax, cents.
    tax: i64,
    /// What the store refunded, cents.
    refunded: i64,
    /// Upper-cased SKUs of its lines.
    skus: BTreeSet<String>,
}

/// The paid orders of the three stores. QuickBooks posts reward points as a tender, so its
/// documents also hold what the points paid (nopCommerce's order total is net of them);
/// KashFlow and GP post them as a negative line (total = order total).
fn expected(stack: &Stack) -> BTreeMap<i64, Want> {
    stack.store.handle().read(|st| {
        st.orders
            .iter()
            .filter(|o| {
                !o.deleted
                    && [STORE, KF_STORE, GP_STORE].contains(&o.store_id)
                    && TAKEN.contains(&o.payment_status_id)
            })
            .map(|o| {
                let points = o
                    .redeemed_reward_points_entry_id
                    .and_then(|id| st.reward_points.iter().find(|r| r.id == id))
                    .map_or(Decimal::ZERO, |r| r.used_amount);
                let total = if o.store_id == STORE {
                    o.order_total + points
                } else {
                    o.order_total
                };
                let skus = st
                    .order_items
                    .iter()
                    .filter(|i| i.order_id == o.id)
                    .filter_map(|i| st.products.iter().find(|p| p.id == i.product_id))
                    .filter_map(|p| p.sku.as_ref().map(|s| s.to_uppercase()))
                    .collect();
                (
                    i64::from(o.id),
                    Want {
                        store: o.store_id,
                        total: cents(total),
                        tax: cents(o.order_tax),
                        refunded: cents(o.refunded_amount),
                        skus,
                    },
                )
            })
            .collect()
    })
}

/// One ledger row of an order.
#[derive(Debug, Clone)]
struct Row {
    posted: bool,
    status: String,
    error: String,
}

async fn ledger_rows(stack: &Stack) -> Result<BTreeMap<(String, i64), Row>> {
    let rows: Vec<(String, String, String, bool, String)> = sqlx::query_as(
        "SELECT connection_id, source_id, status, target_id IS NOT NULL, COALESCE(last_error, '')
         FROM sync_ledger WHERE entity_type = 'order'",
    )
    .fetch_all(stack.ledger.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(conn, id, status, posted, error)| {
            Some((
                (conn, id.parse().ok()?),
                Row {
                    posted,
                    status,
                    error,
                },
            ))
        })
        .collect())
}

/// Order id of a document number ("WEB" + the order number, which is the order id).
fn order_of(number: &str) -> Option<i64> {
    number
        .trim()
        .to_ascii_uppercase()
        .strip_prefix("WEB")?
        .parse()
        .ok()
}

/// Order commands of these connections that have neither a result nor a dead letter yet,
/// leaving out the orders in `except` (refused sales, whose later payments wait on the topic
/// for a sale that never comes before they are dead-lettered).
async fn unanswered(stack: &Stack, connections: &[String], except: &[String]) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(DISTINCT c.command_id) FROM audit_trail c
         WHERE c.kind = 'command' AND c.connection_id = ANY($1) AND NOT c.source_id = ANY($2)
           AND NOT EXISTS (SELECT 1 FROM audit_trail r
                           WHERE r.kind IN ('result', 'dead_letter') AND r.command_id = c.command_id)",
    )
    .bind(connections)
    .bind(except)
    .fetch_one(stack.ledger.pool())
    .await?)
}

/// What GP says about a refund that came before its sale was posted.
const REFUND_BEFORE_SALE: &str = "the refund names no customer and no sale";
/// What GP says about a payment whose invoice is not in GP.
const GP_PAYMENT_BEFORE_SALE: &str = "to apply the payment to: the order's sale was never posted";
/// What KashFlow's connector says about a refund whose sale is not in KashFlow.
const KF_REFUND_BEFORE_SALE: &str = "the refund's sale was never posted";

/// A refund event can be mapped before its order's event: GP and KashFlow then have no sale
/// to take the customer from, and once its requeues are spent the refund is dead-lettered
/// saying "post the order's sale first, then replay". Replays (as an operator would) each
/// such dead letter whose sale its back office now holds, once; `done` keeps the dead
/// letters replayed.
async fn replay_early_refunds(
    stack: &Stack,
    producer: &Producer,
    done: &Mutex<BTreeSet<(i32, i64)>>,
) -> Result<()> {
    let back = stack.back.as_ref().context("back offices")?;
    let letters = read_topic(
        &stack.kafka,
        &stack.dlq_sink,
        100_000,
        Duration::from_secs(1),
    )
    .await?;
    for d in letters.iter().filter(|d| {
        let message = d.header_str("dlq_error_message").unwrap_or_default();
        (d.key.as_deref() == Some(back.gp_conn.as_bytes()) && message.contains(REFUND_BEFORE_SALE))
            || (d.key.as_deref() == Some(back.kf_conn.as_bytes())
                && message.contains(KF_REFUND_BEFORE_SALE))
    }) {
        let at = (d.partition, d.offset);
        let order = Command::decode(d.payload())
            .ok()
            .and_then(|c| c.order)
            .map_or(0, |o| o.order_id);
        let kashflow = d.key.as_deref() == Some(back.kf_conn.as_bytes());
        let sale_posted = if kashflow {
            back.kashflow
                .handle()
                .invoices(KF_USER)
                .iter()
                .any(|i| i["CustomerReference"] == format!("WEB{order}").as_str())
        } else {
            back.gp
                .handle()
                .sop_document(GP_COMPANY, 3, &format!("WEB{order}"))
                .is_some()
        };
        if !sale_posted || done.lock().map_or(true, |s| s.contains(&at)) {
            continue;
        }
        let to = d.header_str("dlq_source_topic").context("source topic")?;
        let key = if kashflow {
            &back.kf_conn
        } else {
            &back.gp_conn
        };
        let mut out = OutgoingRecord::new(&to, key.as_bytes(), d.payload());
        for (k, v) in d.headers.iter().filter(|(k, _)| !k.starts_with("dlq_")) {
            out = out.header(k.clone(), v.clone().unwrap_or_default());
        }
        producer.send(out).await?;
        if let Ok(mut s) = done.lock() {
            s.insert(at);
        }
    }
    Ok(())
}

/// Order id of a GP return number or a KashFlow credit note's reference: the sale's number,
/// `R` and 6 hex digits of the refund.
fn order_of_return(number: &str) -> Option<i64> {
    let n = number.trim();
    let (head, tail) = n.split_at(n.len().checked_sub(7)?);
    let hex = tail.strip_prefix('R')?;
    hex.chars()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| order_of(head))
        .flatten()
}

#[test]
fn the_demo_mappings_load_and_route_the_three_stores_and_stock_back_to_the_store() -> Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/mapping");
    let mapper = nopbridge_mapping::Mapper::from_dir(&dir)?;
    let routes: BTreeSet<(String, String, Vec<String>)> = mapper
        .connections()
        .iter()
        .map(|c| {
            (
                c.config.connection_id.clone(),
                c.config.target.name().to_string(),
                c.config.stores.clone(),
            )
        })
        .collect();
    for want in [
        ("qbo-realm-1", "quickbooks_online", "1"),
        ("kashflow-eu-1", "kashflow", "2"),
        ("gp-uk-1", "dynamics_gp", "3"),
        ("shop-1-write-back", "nopcommerce", "1"),
    ] {
        assert!(
            routes.contains(&(want.0.into(), want.1.into(), vec![want.2.into()])),
            "{want:?} in {routes:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_post_once_into_their_own_back_office_under_faults_and_balance() -> Result<()> {
    let started = Instant::now();
    let n = e2e_orders();
    if std::env::var_os("E2E_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
    let stack = Stack::start(Opts {
        orders: n,
        back_offices: true,
        gp_short_item: true,
        ..Opts::default()
    })
    .await?;
    let back = stack.back.as_ref().context("back offices")?;
    let (kf, gp) = (back.kashflow.handle(), back.gp.handle());
    kf.set_faults(KfFaults {
        throttle_probability: 0.05,
        unavailable_probability: 0.05,
        drop_before_probability: 0.03,
        drop_after_probability: 0.05,
        session_expiry_probability: 0.02,
        retry_after_secs: 1,
        seed: Some(8),
        ..KfFaults::default()
    });
    gp.set_faults(GpFaults {
        throttle_probability: 0.05,
        unavailable_probability: 0.04,
        server_error_probability: 0.03,
        drop_before_probability: 0.03,
        drop_after_probability: 0.06,
        retry_after_secs: 1,
        seed: Some(21),
        ..GpFaults::default()
    });

    let want = expected(&stack);
    let short = back.gp_short_item.clone();
    let conn_of = |store: i32| match store {
        STORE => stack.qbo_conn.clone(),
        KF_STORE => back.kf_conn.clone(),
        _ => back.gp_conn.clone(),
    };
    let per_store = |s: i32| want.values().filter(|w| w.store == s).count();
    eprintln!(
        "{n} orders; paid: {} QuickBooks (store {STORE}), {} KashFlow (store {KF_STORE}), {} GP (store {GP_STORE}); GP has none of {short:?}",
        per_store(STORE),
        per_store(KF_STORE),
        per_store(GP_STORE)
    );
    assert!(
        per_store(KF_STORE) > 0 && per_store(GP_STORE) > 0,
        "the seeded store has paid orders in stores 2 and 3"
    );

    // Settled: every paid order posted, or dead-lettered with a reason, in its connection.
    let settled = eventually(
        "every paid order posted or dead-lettered",
        e2e_wait(150),
        || {
            let want = &want;
            let conn_of = &conn_of;
            let stack = &stack;
            async move {
                let rows = ledger_rows(stack).await?;
                let open = want
                    .iter()
                    .filter(|(id, w)| {
                        !rows
                            .get(&(conn_of(w.store), **id))
                            .is_some_and(|r| r.posted || r.status == "dead_lettered")
                    })
                    .count();
                Ok((open == 0).then_some(rows))
            }
        },
    )
    .await;
    let rows = match settled {
        Ok(rows) => rows,
        Err(e) => {
            let rows = ledger_rows(&stack).await?;
            let open: Vec<String> = want
                .iter()
                .filter(|(id, w)| {
                    !rows
                        .get(&(conn_of(w.store), **id))
                        .is_some_and(|r| r.posted || r.status == "dead_lettered")
                })
                .take(20)
                .map(|(id, w)| {
                    format!(
                        "order {id} (store {}): {:?}",
                        w.store,
                        rows.get(&(conn_of(w.store), *id))
                    )
                })
                .collect();
            bail!(
                "{e}; open: {open:#?}; KashFlow {:?}; GP {:?}",
                kf.counters(),
                gp.counters()
            );
        }
    };
    let settled_at = started.elapsed();

    // Why each order that is not posted is not: it must be a reason the test expects.
    let mut dead: BTreeMap<i64, String> = BTreeMap::new();
    for (id, w) in &want {
        let r = &rows[&(conn_of(w.store), *id)];
        if !r.posted {
            assert!(
                !r.error.is_empty(),
                "order {id} is dead-lettered without a reason"
            );
            dead.insert(*id, r.error.clone());
        }
    }
    for (id, why) in &dead {
        let w = &want[id];
        let short_sold = w.store == GP_STORE && short.as_ref().is_some_and(|s| w.skus.contains(s));
        eprintln!(
            "not posted: order {id} (store {}, GP short item on it: {short_sold}): {why}",
            w.store
        );
        assert!(
            short_sold && why.contains("4776"),
            "order {id} of store {} was not posted for a reason the test does not expect: {why}",
            w.store
        );
    }
    // Every other order command of KashFlow and GP answered (payments, refunds and voids too).
    let conns = [back.kf_conn.clone(), back.gp_conn.clone()];
    let refused: Vec<String> = dead.keys().map(i64::to_string).collect();
    eventually(
        "every KashFlow and GP command answered",
        Duration::from_secs(60),
        || {
            let (stack, conns, refused) = (&stack, &conns, &refused);
            async move { Ok((unanswered(stack, conns, refused).await? == 0).then_some(())) }
        },
    )
    .await?;
    // And every paid UK order with the short item is refused, not posted.
    for (id, w) in want.iter().filter(|(_, w)| w.store == GP_STORE) {
        if short.as_ref().is_some_and(|s| w.skus.contains(s)) {
            assert!(
                dead.contains_key(id),
                "order {id} has {short:?}, which GP has none of, yet it posted"
            );
        }
    }

    // The books, once every payment has landed: one document per order, in its own back
    // office only, balancing to the cent.
    let posted = |store: i32| -> BTreeSet<i64> {
        want.iter()
            .filter(|(id, w)| w.store == store && !dead.contains_key(id))
            .map(|(id, _)| *id)
            .collect()
    };
    let (qbo_posted, kf_posted, gp_posted) = (posted(STORE), posted(KF_STORE), posted(GP_STORE));
    let store_of: BTreeMap<i64, i32> = stack.store.handle().read(|st| {
        st.orders
            .iter()
            .map(|o| (i64::from(o.id), o.store_id))
            .collect()
    });
    let kf_refunded = kf_posted.iter().filter(|id| want[*id].refunded > 0).count();
    assert!(
        kf_refunded > 0,
        "the seeded store refunds some orders of store {KF_STORE}, so credit notes are checked"
    );
    let problems = || -> Vec<String> {
        let mut p = Vec::new();
        // QuickBooks: sales receipts and invoices by DocNumber.
        let docs = stack.sales_docs();
        for (number, copies) in &docs {
            let order = order_of(number);
            if copies.len() != 1 {
                p.push(format!(
                    "QuickBooks: {number} posted {} times",
                    copies.len()
                ));
            }
            if order.and_then(|o| store_of.get(&o)) != Some(&STORE) {
                p.push(format!(
                    "QuickBooks holds {number}, not an order of store {STORE}"
                ));
            }
        }
        for id in &qbo_posted {
            match docs.get(&format!("WEB{id}")).and_then(|c| c.first()) {
                None => p.push(format!("QuickBooks: no document for order {id}")),
                Some(d) => {
                    let total = d["TotalAmt"].as_f64().map(|f| (f * 100.0).round() as i64);
                    if total != Some(want[id].total) {
                        p.push(format!(
                            "QuickBooks: order {id} total {total:?}, the store's {}",
                            want[id].total
                        ));
                    }
                }
            }
        }
        // KashFlow: invoices by CustomerReference; total, VAT and payments in USD. Refunds
        // are credit notes (negative invoices) referenced by the sale's number, R and a hash.
        let mut invoices: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for inv in kf.invoices(KF_USER) {
            let r = inv["CustomerReference"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            invoices.entry(r).or_default().push(inv);
        }
        // Credit notes per order: what they credit, cents.
        let mut credited: BTreeMap<i64, i64> = BTreeMap::new();
        for (r, copies) in &invoices {
            if copies.len() != 1 {
                p.push(format!("KashFlow: {r} invoiced {} times", copies.len()));
            }
            let credit_note = order_of(r).is_none();
            let order = order_of(r).or_else(|| order_of_return(r));
            if order.and_then(|o| store_of.get(&o)) != Some(&KF_STORE) {
                p.push(format!(
                    "KashFlow holds {r}, not an order of store {KF_STORE}"
                ));
            }
            let (Some(o), true, Some(note)) = (order, credit_note, copies.first()) else {
                continue;
            };
            let gross = json_cents(&note["GrossAmount"]).unwrap_or(0);
            *credited.entry(o).or_default() -= gross;
            let paid: i64 = note["PaymentLines"].as_array().map_or(0, |ls| {
                ls.iter().filter_map(|l| json_cents(&l["Amount"])).sum()
            });
            let vat = json_cents(&note["VATAmount"]).unwrap_or(0);
            let net = json_cents(&note["NetAmount"]).unwrap_or(0);
            if gross >= 0 || net + vat != gross || paid != -gross {
                p.push(format!(
                    "KashFlow: credit note {r} net {net} VAT {vat} gross {gross}, paid back {paid}"
                ));
            }
            let sale_customer = invoices
                .get(&format!("WEB{o}"))
                .and_then(|c| c.first())
                .map(|s| s["CustomerCode"].clone());
            if sale_customer.as_ref() != Some(&note["CustomerCode"]) {
                p.push(format!(
                    "KashFlow: credit note {r} is for customer {}, the sale for {sale_customer:?}",
                    note["CustomerCode"]
                ));
            }
            if note["Currency"]["Code"] != "USD" {
                p.push(format!("KashFlow: credit note {r} in {}", note["Currency"]));
            }
        }
        for id in &kf_posted {
            let got = credited.get(id).copied().unwrap_or(0);
            if got != want[id].refunded {
                p.push(format!(
                    "KashFlow: order {id} credit notes total {got}, the store refunded {}",
                    want[id].refunded
                ));
            }
        }
        for id in &kf_posted {
            let Some(inv) = invoices.get(&format!("WEB{id}")).and_then(|c| c.first()) else {
                p.push(format!("KashFlow: no invoice for order {id}"));
                continue;
            };
            let w = &want[id];
            let gross = json_cents(&inv["GrossAmount"]);
            let vat = json_cents(&inv["VATAmount"]);
            let paid: Option<i64> = inv["PaymentLines"]
                .as_array()
                .map(|ls| ls.iter().filter_map(|l| json_cents(&l["Amount"])).sum());
            if gross != Some(w.total) || vat != Some(w.tax) {
                p.push(format!(
                    "KashFlow: order {id} gross {gross:?} VAT {vat:?}, the store's {} and {}",
                    w.total, w.tax
                ));
            }
            if paid != gross {
                p.push(format!(
                    "KashFlow: order {id} paid {paid:?} of {gross:?} ({} payment lines)",
                    inv["PaymentLines"].as_array().map_or(0, Vec::len)
                ));
            }
            if inv["Currency"]["Code"] != "USD" {
                p.push(format!("KashFlow: order {id} in {}", inv["Currency"]));
            }
        }
        // GP: SOP invoices by SOPNUMBE; DOCAMNT, the three taxes and the payments in USD.
        let mut sop: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for d in gp.sop_documents(GP_COMPANY) {
            let key = format!(
                "{}/{}",
                d["SOPTYPE"],
                d["SOPNUMBE"].as_str().unwrap_or_default().trim()
            );
            sop.entry(key).or_default().push(d);
        }
        // Returns (SOPTYPE 4) per order: their amounts and customers.
        let mut returned: BTreeMap<i64, i64> = BTreeMap::new();
        for (k, copies) in &sop {
            if copies.len() != 1 {
                p.push(format!("GP: {k} held {} times", copies.len()));
            }
            let (soptype, number) = k.split_once('/').unwrap_or_default();
            let order = match soptype {
                "3" => order_of(number),
                "4" => order_of_return(number),
                _ => None,
            };
            if order.and_then(|o| store_of.get(&o)) != Some(&GP_STORE) {
                p.push(format!("GP holds {k}, not an order of store {GP_STORE}"));
            }
            if let (Some(o), "4", Some(d)) = (order, soptype, copies.first()) {
                *returned.entry(o).or_default() += json_cents(&d["header"]["DOCAMNT"]).unwrap_or(0);
                let sale_customer = sop
                    .get(&format!("3/WEB{o}"))
                    .and_then(|c| c.first())
                    .map(|s| s["header"]["CUSTNMBR"].clone());
                if sale_customer
                    .as_ref()
                    .is_some_and(|c| *c != d["header"]["CUSTNMBR"])
                {
                    p.push(format!(
                        "GP: return {number} is for customer {}, the sale for {:?}",
                        d["header"]["CUSTNMBR"], sale_customer
                    ));
                }
            }
        }
        for id in &gp_posted {
            let got = returned.get(id).copied().unwrap_or(0);
            if got != want[id].refunded {
                p.push(format!(
                    "GP: order {id} returns total {got}, the store refunded {}",
                    want[id].refunded
                ));
            }
        }
        for id in &gp_posted {
            let Some(d) = sop.get(&format!("3/WEB{id}")).and_then(|c| c.first()) else {
                p.push(format!("GP: no SOP invoice for order {id}"));
                continue;
            };
            let w = &want[id];
            let h = &d["header"];
            let amount = |f: &str| json_cents(&h[f]).unwrap_or(0);
            let tax = amount("TAXAMNT") + amount("FRTTXAMT") + amount("MSCTXAMT");
            if json_cents(&h["DOCAMNT"]) != Some(w.total) || tax != w.tax {
                p.push(format!(
                    "GP: order {id} DOCAMNT {:?} tax {tax}, the store's {} and {}",
                    json_cents(&h["DOCAMNT"]),
                    w.total,
                    w.tax
                ));
            }
            if json_cents(&h["PYMTRCVD"]) != Some(w.total) {
                p.push(format!(
                    "GP: order {id} PYMTRCVD {:?} of {}",
                    json_cents(&h["PYMTRCVD"]),
                    w.total
                ));
            }
            if h["CURNCYID"] != "Z-US$" {
                p.push(format!("GP: order {id} in {}", h["CURNCYID"]));
            }
        }
        p
    };
    let producer = Producer::new(&stack.kafka)?;
    let replayed = Mutex::new(BTreeSet::new());
    let checked = eventually(
        "the books hold every posted order once, balanced",
        Duration::from_secs(60),
        || {
            let (stack, producer, replayed, problems) = (&stack, &producer, &replayed, &problems);
            async move {
                replay_early_refunds(stack, producer, replayed).await?;
                let p = problems();
                Ok(p.is_empty().then_some(()))
            }
        },
    )
    .await;
    eprintln!(
        "GP and KashFlow refunds dead-lettered before their sale, then replayed: {}",
        replayed.lock().map_or(0, |s| s.len())
    );
    if let Err(e) = checked {
        let p = problems();
        bail!("{e}: {} problems: {:#?}", p.len(), &p[..p.len().min(30)]);
    }

    // GP invoices paid later got their payment added on its own (DOCNUMBR from the command).
    let paid_later = gp
        .sop_documents(GP_COMPANY)
        .iter()
        .filter(|d| {
            d["payments"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["DOCNUMBR"].as_str().is_some_and(|n| n.starts_with("PAY")))
            })
        })
        .count();
    eprintln!("GP invoices whose payment was added later: {paid_later}");
    if n >= 300 {
        assert!(paid_later > 0, "the seeded store pays some UK orders later");
    }

    // The faults happened, and were ridden out.
    let (kc, gc) = (kf.counters(), gp.counters());
    eprintln!("KashFlow emulator: {kc:?}");
    eprintln!("GP emulator: {gc:?}");
    assert!(
        kc.throttled > 0 && kc.unavailable > 0 && kc.dropped > 0,
        "KashFlow faults: {kc:?}"
    );
    assert!(
        gc.throttled > 0 && gc.dropped > 0 && gc.server_errors + gc.unavailable > 0,
        "GP faults: {gc:?}"
    );
    if n >= 300 {
        assert!(
            kc.unauthorized > 0 && kc.logins >= 2,
            "KashFlow sessions ended and were renewed: {kc:?}"
        );
    }

    // Every dead letter of the two new connections, with its reason.
    let letters: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT connection_id, COALESCE(entity_type, ''), COALESCE(source_id, ''),
                COALESCE(detail->>'message', '')
         FROM audit_trail WHERE kind = 'dead_letter' AND connection_id = ANY($1) ORDER BY id",
    )
    .bind(vec![back.kf_conn.clone(), back.gp_conn.clone()])
    .fetch_all(stack.ledger.pool())
    .await?;
    for (conn, entity, id, message) in &letters {
        let kashflow = conn == &back.kf_conn;
        let order = id.parse::<i64>().ok().and_then(|o| want.get(&o));
        eprintln!(
            "dead letter: {} {entity} {id}: {message}",
            if kashflow { "KashFlow" } else { "GP" }
        );
        // GP's short item refuses its orders; a GP or KashFlow refund that came before its
        // sale (past its requeues) was replayed above (and its return or credit note checked).
        let refunded = order.is_some_and(|w| w.refunded > 0);
        let refused = id.parse().is_ok_and(|o: i64| dead.contains_key(&o));
        let explained = if kashflow {
            message.contains(KF_REFUND_BEFORE_SALE) && refunded
        } else {
            (message.contains("4776") && refused)
                || (message.contains(REFUND_BEFORE_SALE) && refunded)
                // The later payment of a refused sale, once its requeues are spent.
                || (message.contains(GP_PAYMENT_BEFORE_SALE) && refused)
        };
        assert!(
            explained,
            "a dead letter the test does not expect: {conn} {entity} {id}: {message}"
        );
    }
    eprintln!(
        "posted {} QuickBooks, {} KashFlow ({kf_refunded} refunded: credit notes), {} GP; {} orders not posted; settled in {settled_at:?}, checked in {:?}",
        qbo_posted.len(),
        kf_posted.len(),
        gp_posted.len(),
        dead.len(),
        started.elapsed()
    );

    // Drift: a person raises one KashFlow invoice's total and deletes one GP document; a
    // repair (`reconcile --repair` over the days they were ordered) finds and repairs both,
    // in place and posted again, and the books hold every order once, balanced, as before.
    kf.set_faults(KfFaults::default());
    gp.set_faults(GpFaults::default());
    let created: BTreeMap<i64, chrono::DateTime<chrono::Utc>> = stack.store.handle().read(|st| {
        st.orders
            .iter()
            .map(|o| (i64::from(o.id), o.created_on_utc))
            .collect()
    });
    let unrefunded = |posted: &BTreeSet<i64>| -> Vec<i64> {
        posted
            .iter()
            .copied()
            .filter(|id| want[id].refunded == 0)
            .collect()
    };
    // A GP order paid at sale: posted again, its document carries its payment with it (a
    // payment added later is its own command, which the repair of the order does not send).
    let paid_at_sale = |id: &i64| {
        gp.sop_document(GP_COMPANY, 3, &format!("WEB{id}"))
            .and_then(|d| d["payments"].as_array().cloned())
            .is_some_and(|ps| {
                !ps.is_empty()
                    && ps
                        .iter()
                        .all(|p| !p["DOCNUMBR"].as_str().is_some_and(|n| n.starts_with("PAY")))
            })
    };
    let gp_candidates: Vec<i64> = unrefunded(&gp_posted)
        .into_iter()
        .filter(paid_at_sale)
        .collect();
    // The closest pair in time keeps the repair's date range (and its re-emitted orders) small.
    let (changed, deleted) = unrefunded(&kf_posted)
        .into_iter()
        .flat_map(|k| gp_candidates.iter().map(move |g| (k, *g)))
        .min_by_key(|(k, g)| (created[k] - created[g]).num_milliseconds().abs())
        .context("a KashFlow and a GP order without refunds")?;
    let kf_invoice = |id: i64| {
        kf.invoices(KF_USER)
            .into_iter()
            .find(|i| i["CustomerReference"] == format!("WEB{id}").as_str())
            .and_then(|i| i["Number"].as_i64())
            .and_then(|n| kf.invoice(KF_USER, n))
    };
    let before = kf_invoice(changed).context("the KashFlow invoice")?;
    let number = before["Number"].as_i64().context("its number")?;
    let mut lines = before["LineItems"].as_array().cloned().unwrap_or_default();
    lines.push(
        serde_json::json!({"NominalCode": 4000, "Description": "Added by hand",
        "Quantity": 1, "Rate": 10, "VATLevel": 20, "VATAmount": 2}),
    );
    let token = kf.open_session(KF_USER).context("a KashFlow session")?;
    let r = reqwest::Client::new()
        .put(format!("{}/invoices/{number}", back.kashflow.api_url()))
        .header("authorization", format!("KfToken {token}"))
        .json(&serde_json::json!({ "LineItems": lines }))
        .send()
        .await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    assert_ne!(
        json_cents(&kf_invoice(changed).context("changed")?["GrossAmount"]),
        Some(want[&changed].total)
    );
    gp.delete_sop_document(GP_COMPANY, 3, &format!("WEB{deleted}"))
        .map_err(anyhow::Error::msg)?;
    assert!(
        !problems().is_empty(),
        "the books differ from the store now"
    );

    let span = |id: i64| created[&id];
    let from = span(changed).min(span(deleted)) - chrono::Duration::seconds(1);
    let to = span(changed).max(span(deleted)) + chrono::Duration::seconds(1);
    let reconciler = nopbridge_reconciler::reconcile::Reconciler {
        ledger: stack.ledger.clone(),
        kafka: stack.kafka.clone(),
        producer: Producer::new(&stack.kafka)?,
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let repair = reconciler
        .run(
            Some(from),
            Some(to),
            true,
            Duration::from_secs(120),
            None,
            tx,
        )
        .await?;
    let kinds: BTreeMap<(String, String), &str> = repair
        .drift
        .iter()
        .map(|d| ((d.order_id.clone(), d.connection_id.clone()), d.kind))
        .collect();
    eprintln!(
        "repair of {} orders ({from} to {to}): {:?}",
        repair.orders, repair.drift
    );
    assert_eq!(
        kinds.get(&(changed.to_string(), back.kf_conn.clone())),
        Some(&"corrected"),
        "{:#?}",
        repair.drift
    );
    assert_eq!(
        kinds.get(&(deleted.to_string(), back.gp_conn.clone())),
        Some(&"recreated"),
        "{:#?}",
        repair.drift
    );
    // Anything else is an order GP refused all along (its short item), refused again.
    for d in &repair.drift {
        let id: i64 = d.order_id.parse().unwrap_or_default();
        if id != changed && id != deleted {
            assert!(
                d.kind == "failed" && dead.contains_key(&id),
                "drift the test does not expect: {d:?}"
            );
        }
    }
    let p = problems();
    assert!(p.is_empty(), "after the repair: {p:#?}");
    let after = kf_invoice(changed).context("the corrected invoice")?;
    assert_eq!(after["Number"], before["Number"], "corrected in place");
    let returned = gp
        .sop_document(GP_COMPANY, 3, &format!("WEB{deleted}"))
        .context("the GP document, posted again")?;
    assert_eq!(
        json_cents(&returned["header"]["DOCAMNT"]),
        Some(want[&deleted].total)
    );
    stack.shutdown().await;
    Ok(())
}
