//! End to end: orders from the nopCommerce emulator through ingest, transform, connector-sink
//! and the reconciler into the QuickBooks emulator (all four services in this process, a real
//! broker and PostgreSQL). Each order is posted once with its total, the store gets its note,
//! the ledger is complete and reconciliation finds no drift; then a person changes one
//! document's total and deletes another in QuickBooks, and a repair corrects both without a
//! duplicate. `E2E_ORDERS` sets the store's order count (default 500).
use anyhow::{bail, Context, Result};
use nopbridge_emu_nopcommerce::{self as nop, EmulatorConfig as NopConfig, LiveConfig};
use nopbridge_emu_quickbooks::{self as qbo, EmulatorConfig as QboConfig};
use nopbridge_kafka::{ensure_topics, CancellationToken, Producer, TopicSpec};
use nopbridge_reconciler::{ledger::Ledger, reconcile::Reconciler};
use nopbridge_testkit::{unique, Broker, TestDb};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    path::Path,
    time::Duration,
};
use tokio::task::JoinHandle;

/// nopCommerce PaymentStatus ids that mean the money was taken: Paid, PartiallyRefunded, Refunded.
const TAKEN: [i32; 3] = [30, 35, 40];
const STORE: i32 = 1;

fn orders() -> usize {
    std::env::var("E2E_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

/// How long the stages may take (`E2E_WAIT_SECS`, default 900).
fn wait() -> Duration {
    Duration::from_secs(
        std::env::var("E2E_WAIT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(900),
    )
}

fn cents(d: Decimal) -> i64 {
    (d * Decimal::from(100))
        .round()
        .try_into()
        .unwrap_or(i64::MIN)
}

fn qbo_cents(v: &Value) -> i64 {
    v["TotalAmt"]
        .as_f64()
        .map(|f| (f * 100.0).round() as i64)
        .unwrap_or(i64::MIN)
}

async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let end = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > end {
            bail!("{what}: not within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<std::path::PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text)?;
    Ok(p)
}

fn common(bootstrap: &str, group: &str, topics: &[String], dlq: &str) -> String {
    let topics: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        "shutdown_deadline_ms = 5000\n[kafka]\nbootstrap_servers = \"{bootstrap}\"\n\
         [grpc]\nlisten = \"127.0.0.1:0\"\n[consumer]\ngroup_id = \"{group}\"\n\
         topics = [{}]\ndlq_topic = \"{dlq}\"\nconcurrency = 32\n\
         [consumer.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 500\n",
        topics.join(", ")
    )
}

/// Sales documents in QuickBooks by DocNumber (SalesReceipt and Invoice).
fn sales_docs(emu: &qbo::RunningEmulator, realm: &str) -> BTreeMap<String, Vec<Value>> {
    let mut by: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entity in ["SalesReceipt", "Invoice"] {
        for mut d in emu.handle().entities(realm, entity) {
            let n = d["DocNumber"].as_str().unwrap_or_default().to_string();
            d["_entity"] = json!(entity.to_ascii_lowercase());
            by.entry(n).or_default().push(d);
        }
    }
    by
}

/// The company setup the demo mapping expects (config/qbo-demo-company.json), made through
/// the API as an accountant would.
async fn set_up_company(books: &qbo::RunningEmulator, realm: &str) -> Result<()> {
    let setup: Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/qbo-demo-company.json"
    ))?)?;
    let token = books.handle().issue_tokens(realm).access_token;
    let http = reqwest::Client::new();
    for entity in ["Account", "PaymentMethod", "Item"] {
        for body in setup[entity].as_array().cloned().unwrap_or_default() {
            let mut body = body;
            if let Some(name) = body
                .get("IncomeAccount")
                .and_then(Value::as_str)
                .map(str::to_string)
            {
                let id = books
                    .handle()
                    .entities(realm, "Account")
                    .into_iter()
                    .find(|a| a["Name"] == name.as_str())
                    .map(|a| a["Id"].clone())
                    .with_context(|| format!("account {name}"))?;
                if let Some(o) = body.as_object_mut() {
                    o.remove("IncomeAccount");
                    o.insert("IncomeAccountRef".into(), json!({ "value": id }));
                }
            }
            let r = http
                .post(format!(
                    "{}/{}",
                    books.company_url(realm),
                    entity.to_ascii_lowercase()
                ))
                .bearer_auth(&token)
                .header("accept", "application/json")
                .json(&body)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!(
                    "setting up {entity} {body}: {} {}",
                    r.status(),
                    r.text().await?
                );
            }
        }
    }
    Ok(())
}

struct Services {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Services {
    async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn spawn<F, E>(name: &'static str, f: F) -> JoinHandle<()>
where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        if let Err(e) = f.await {
            eprintln!("{name} stopped: {e}");
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_post_once_are_written_back_and_drift_is_repaired() -> Result<()> {
    let n = orders();
    if std::env::var_os("E2E_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let (ingest_db, sink_db, ledger_db) = (
        TestDb::create().await?,
        TestDb::create().await?,
        TestDb::create().await?,
    );
    let store = nop::spawn(NopConfig {
        seed: 2026,
        orders: n,
        live: LiveConfig {
            orders_per_minute: 0.0,
            actions_per_minute: 0.0,
            customers_per_minute: 0.0,
        },
        ..NopConfig::default()
    })
    .await?;
    let books = qbo::spawn(QboConfig {
        time_scale: 60.0,
        ..QboConfig::default()
    })
    .await?;
    let realm = books.default_realm();
    let refresh = books.handle().issue_tokens(&realm).refresh_token;
    set_up_company(&books, &realm).await?;

    let s = format!("-{}", unique("e2e"));
    let t = |base: &str| format!("{base}{s}");
    let (qbo_conn, shop_conn) = (unique("qbo"), unique("shop"));
    let canonical: Vec<String> = [
        "order",
        "customer",
        "product",
        "inventory_level",
        "payment_transaction",
        "shipment",
        "return_request",
    ]
    .iter()
    .map(|e| t(&format!("canonical.{e}.v1")))
    .collect();
    let (qbo_commands, store_commands) = (
        t("sink.quickbooks_online.commands.v1"),
        t("sink.nopcommerce.commands.v1"),
    );
    let (dlq_transform, dlq_sink) = (t("dlq.transform.v1"), t("dlq.connector_sink.v1"));
    let mut specs: Vec<TopicSpec> = canonical.iter().map(|c| TopicSpec::new(c, 3)).collect();
    for topic in [&qbo_commands, &store_commands] {
        specs.push(TopicSpec::new(topic, 3));
    }
    for topic in [&dlq_transform, &dlq_sink] {
        specs.push(TopicSpec::new(topic, 1));
    }
    specs.push(TopicSpec::new(nopbridge_runtime::topics::SINK_RESULTS, 3));
    ensure_topics(&kafka, &specs).await?;

    let dir = tempfile::tempdir()?;
    let bootstrap = broker.bootstrap();
    let mapping = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/mapping/qbo-demo.yaml"
    ))?
    .replace(
        "connection_id: qbo-realm-1",
        &format!("connection_id: {qbo_conn}"),
    );
    let mapping = write(dir.path(), "qbo.yaml", &mapping)?;
    let ingest = write(
        dir.path(),
        "ingest.toml",
        &format!(
            "{}[service]\ndatabase_url = \"{}\"\ntopic_suffix = \"{s}\"\nwebhook_secret = \"unused\"\n\
             [[service.connections]]\nid = \"shop-ingest\"\ntenant = \"acme\"\nstore_id = {STORE}\n\
             base_url = \"{}\"\nusername = \"admin\"\npassword = \"admin-password\"\n\
             backfill_from = \"2000-01-01T00:00:00Z\"\npoll_interval_ms = 500\nrepoll_interval_ms = 2000\n\
             country_codes = {{ 1 = \"US\", 74 = \"FR\", 80 = \"GB\", 81 = \"DE\" }}\n",
            common(bootstrap, &unique("ingest"), &[t("ingest.notifications.v1")], &t("dlq.ingest.v1")),
            ingest_db.url,
            store.base_url(),
        ),
    )?;
    let transform = write(
        dir.path(),
        "transform.toml",
        &format!(
            "{}[service]\nmapping_files = [\"{}\"]\ncommand_topic_suffix = \"{s}\"\n",
            common(bootstrap, &unique("transform"), &canonical, &dlq_transform),
            mapping.display()
        ),
    )?;
    let sink = write(
        dir.path(),
        "connector-sink.toml",
        &format!(
            "{}[service]\ndatabase_url = \"{}\"\n\
             [[service.quickbooks]]\nconnection_id = \"{qbo_conn}\"\nrealm_id = \"{realm}\"\n\
             base_url = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"emulator-client\"\n\
             client_secret = \"emulator-secret\"\nrefresh_token = \"{refresh}\"\n\
             home_currency = \"USD\"\ncreate_missing_items = true\n\
             [service.quickbooks.limits]\nwindow_ms = 1000\n\
             [service.quickbooks.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 500\nrequest_timeout_ms = 10000\n\
             [[service.nopcommerce]]\nconnection_id = \"{shop_conn}\"\nbase_url = \"{}\"\n\
             username = \"admin\"\npassword = \"admin-password\"\ninitial_backoff_ms = 20\n",
            common(bootstrap, &unique("sink"), &[qbo_commands.clone(), store_commands.clone()], &dlq_sink),
            sink_db.url,
            books.base_url(),
            books.token_url(),
            store.base_url(),
        ),
    )?;
    let mut reconciler_inputs = vec![
        nopbridge_runtime::topics::SINK_RESULTS.to_string(),
        dlq_transform.clone(),
        dlq_sink.clone(),
        qbo_commands.clone(),
        store_commands.clone(),
    ];
    reconciler_inputs.extend(canonical[..1].iter().cloned());
    reconciler_inputs.push(canonical[4].clone());
    let reconciler = write(
        dir.path(),
        "reconciler.toml",
        &format!(
            "{}[service]\ndatabase_url = \"{}\"\ntopic_suffix = \"{s}\"\n\
             [[service.write_back]]\nconnection_id = \"{qbo_conn}\"\nstore_connection = \"{shop_conn}\"\n",
            common(bootstrap, &unique("reconciler"), &reconciler_inputs, &t("dlq.reconciler.v1")),
            ledger_db.url,
        ),
    )?;

    let stop = CancellationToken::new();
    let services = Services {
        tasks: vec![
            spawn(
                "ingest",
                nopbridge_ingest::run(nopbridge_runtime::config::load(Some(ingest))?, stop.clone()),
            ),
            spawn(
                "transform",
                nopbridge_transform::run(
                    nopbridge_runtime::config::load(Some(transform))?,
                    stop.clone(),
                ),
            ),
            spawn(
                "connector-sink",
                nopbridge_connector_sink::run(
                    nopbridge_runtime::config::load(Some(sink))?,
                    stop.clone(),
                ),
            ),
            spawn(
                "reconciler",
                nopbridge_reconciler::run(
                    nopbridge_runtime::config::load(Some(reconciler))?,
                    stop.clone(),
                ),
            ),
        ],
        stop,
    };

    // The orders whose money was taken: each must become one sales document.
    let h = store.handle().clone();
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
    let ledger = Ledger::connect(&ledger_db.url).await?;
    let posted_ids = |ledger: Ledger, conn: String| async move {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT source_id FROM sync_ledger WHERE connection_id = $1 AND entity_type = 'order' AND target_id IS NOT NULL",
        )
        .bind(conn)
        .fetch_all(ledger.pool())
        .await?;
        Ok::<BTreeSet<String>, anyhow::Error>(ids.into_iter().collect())
    };
    let waited = eventually("every paid order posted and in the ledger", wait(), || {
        let (ledger, conn) = (ledger.clone(), qbo_conn.clone());
        let want = expected.len();
        async move {
            let ids = posted_ids(ledger, conn).await?;
            Ok((ids.len() >= want).then_some(ids))
        }
    })
    .await;
    if let Err(e) = &waited {
        for topic in [
            &canonical[0],
            &qbo_commands,
            &store_commands,
            &dlq_transform,
            &dlq_sink,
        ] {
            let n = nopbridge_kafka::read_topic(&kafka, topic, 100_000, Duration::from_secs(2))
                .await
                .map(|r| r.len())
                .unwrap_or_default();
            eprintln!("{topic}: {n} records");
        }
        let dead =
            nopbridge_kafka::read_topic(&kafka, &dlq_sink, 20, Duration::from_secs(2)).await?;
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
    let docs = sales_docs(&books, &realm);
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
    .bind(&qbo_conn)
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
        producer: Producer::new(&kafka)?,
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let clean = checker
        .run(None, None, false, Duration::ZERO, Some(&qbo_conn), tx)
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
    let token = books.handle().issue_tokens(&realm).access_token;
    let edit = |path: String, body: Value| {
        let req = person
            .post(format!("{}/{path}", books.company_url(&realm)))
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
            Some(&qbo_conn),
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

    let docs = sales_docs(&books, &realm);
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
    services.shutdown().await;
    Ok(())
}
