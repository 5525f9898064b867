//! Daily summaries across services: a store's orders are ingested, transform collects them
//! per business day for a back-office connection in `posting.mode: daily_summary`, the days
//! close (transform's clock moved past them) and connector-sink posts each day's summaries
//! while the back office's emulator throttles, fails and drops connections after
//! committing. Every paid order is in exactly one document, each document holds the day's
//! takings for its payment method to the cent, and no document is there twice. Then every
//! day is published again as after a crash between producing and marking it closed: the
//! same commands, and still one document each.
//! - Dynamics GP (store 3, `dynamics_gp.journal`): balanced GL journals (debits = credits),
//!   the takings debited to the method's clearing account.
//! - QuickBooks Online (store 1): sales receipts of the fixed customer.
mod stack;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration as Days, Utc};
use nopbridge_emu_dynamics_gp as gp;
use nopbridge_emu_nopcommerce::{self as nop, EmulatorConfig as NopConfig, LiveConfig};
use nopbridge_emu_quickbooks::{self as qbo, EmulatorConfig as QboConfig};
use nopbridge_kafka::{ensure_topics, read_topic, CancellationToken, KafkaConfig, TopicSpec};
use nopbridge_proto::commands::v1::{command::Body, Command, CommandResult};
use nopbridge_proto::control::v1::{summaries_client::SummariesClient, ListDaysRequest};
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::Connection as _;
use stack::{cents, eventually, free_port, set_up_company, spawn, GP_COMPANY, TAKEN};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// nopCommerce OrderStatus Cancelled (the mapping voids those: no summary).
const CANCELLED: i32 = 40;

fn cents_of(v: &Value) -> i64 {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return 0,
    };
    s.parse::<Decimal>().map(cents).unwrap_or_default()
}

/// The back office under test.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Gp,
    Qbo,
}

impl Target {
    fn store(self) -> i32 {
        match self {
            Target::Gp => 3,
            Target::Qbo => 1,
        }
    }

    /// The demo mapping's business days: UTC for GP, UTC-5 for QuickBooks.
    fn utc_offset_minutes(self) -> i64 {
        match self {
            Target::Gp => 0,
            Target::Qbo => -300,
        }
    }

    fn commands_topic(self) -> &'static str {
        match self {
            Target::Gp => "sink.dynamics_gp.commands.v1",
            Target::Qbo => "sink.quickbooks_online.commands.v1",
        }
    }

    /// The demo mapping as a daily-summary connection (GP's summaries as GL journals).
    fn mapping(self, conn: &str) -> Result<String> {
        let (file, demo_id) = match self {
            Target::Gp => ("gp-demo.yaml", "gp-uk-1"),
            Target::Qbo => ("qbo-demo.yaml", "qbo-realm-1"),
        };
        let demo = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../config/mapping")
                .join(file),
        )?;
        let mut edits = vec![
            (
                format!("connection_id: {demo_id}"),
                format!("connection_id: {conn}"),
            ),
            ("  mode: per_order".into(), "  mode: daily_summary".into()),
        ];
        match self {
            Target::Gp => edits.extend([
                (
                    "  match_rule: email_then_display_name".into(),
                    "  match_rule: fixed\n  fixed_customer: WEBSALES".into(),
                ),
                (
                    "  batch_prefix: WEB ".into(),
                    "  journal:\n    clearing_accounts: { Payments.PayPalCommerce: \"000-1210-00\" }\n    \
                     clearing_account: \"000-1200-00\"\n    tax_account: \"000-2310-00\"\n  batch_prefix: WEB "
                        .into(),
                ),
            ]),
            Target::Qbo => edits.push((
                "  fixed_customer: \"\"".into(),
                "  fixed_customer: \"Web Sales\"".into(),
            )),
        }
        let mut text = demo;
        for (from, to) in edits {
            if !text.contains(&from) {
                bail!("{file} has no {from:?} any more; adapt the test");
            }
            text = text.replacen(&from, &to, 1);
        }
        Ok(text)
    }
}

/// What the store says one paid order brings in: (business day, payment method, takings in
/// cents). QuickBooks posts reward points as a tender, so its takings include what the points
/// paid (nopCommerce's order total is net of them); GP posts them as a line.
fn takings(store: &nop::RunningEmulator, target: Target) -> BTreeMap<i64, (String, String, i64)> {
    store.handle().read(|st| {
        st.orders
            .iter()
            .filter(|o| {
                !o.deleted
                    && o.store_id == target.store()
                    && TAKEN.contains(&o.payment_status_id)
                    && o.order_status_id != CANCELLED
            })
            .map(|o| {
                let points = o
                    .redeemed_reward_points_entry_id
                    .and_then(|id| st.reward_points.iter().find(|r| r.id == id))
                    .map_or(Decimal::ZERO, |r| r.used_amount);
                let total = match target {
                    Target::Qbo => o.order_total + points,
                    Target::Gp => o.order_total,
                };
                let paid = o.paid_date_utc.unwrap_or(o.created_on_utc)
                    + Days::minutes(target.utc_offset_minutes());
                (
                    i64::from(o.id),
                    (
                        paid.date_naive().to_string(),
                        o.payment_method_system_name.clone(),
                        cents(total),
                    ),
                )
            })
            .collect()
    })
}

/// The part of a service's config every service shares.
fn common(bootstrap: &str, group: &str, topics: &[&str], dlq: &str, grpc: u16) -> String {
    let topics: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        "shutdown_deadline_ms = 5000\n[kafka]\nbootstrap_servers = \"{bootstrap}\"\n\
         [grpc]\nlisten = \"127.0.0.1:{grpc}\"\n[consumer]\ngroup_id = \"{group}\"\n\
         topics = [{}]\ndlq_topic = \"{dlq}\"\nconcurrency = 16\ncommit_interval_ms = 200\n\
         [consumer.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 500\n",
        topics.join(", ")
    )
}

/// Throttling, 5xx and answers lost after the write, on both emulators.
fn gp_faults() -> gp::FaultConfig {
    gp::FaultConfig {
        throttle_probability: 0.03,
        unavailable_probability: 0.03,
        server_error_probability: 0.03,
        drop_after_probability: 0.1,
        retry_after_secs: 1,
        seed: Some(7),
        ..gp::FaultConfig::default()
    }
}

fn qbo_faults() -> qbo::FaultConfig {
    qbo::FaultConfig {
        throttle_probability: 0.03,
        unavailable_probability: 0.03,
        server_error_probability: 0.03,
        drop_after_probability: 0.1,
        seed: Some(7),
        ..qbo::FaultConfig::default()
    }
}

/// The back office's emulator, set up as the demo mapping expects, with faults on.
enum Books {
    Gp(gp::RunningEmulator),
    Qbo(qbo::RunningEmulator, String),
}

impl Books {
    async fn start(target: Target) -> Result<Self> {
        Ok(match target {
            Target::Gp => {
                let books = stack::spawn_gp(Vec::new()).await?;
                books.handle().set_faults(gp_faults());
                Books::Gp(books)
            }
            Target::Qbo => {
                let books = qbo::spawn(QboConfig {
                    time_scale: 60.0,
                    ..QboConfig::default()
                })
                .await?;
                let realm = books.default_realm();
                set_up_company(&books, &realm).await?;
                books.handle().set_faults(qbo_faults());
                Books::Qbo(books, realm)
            }
        })
    }

    /// connector-sink's `[[service.…]]` section for `conn`.
    fn sink_section(&self, conn: &str) -> String {
        match self {
            Books::Gp(books) => format!(
                "[[service.dynamics_gp]]\nconnection_id = \"{conn}\"\nendpoint = \"{}\"\n\
                 shared_secret = \"{}\"\nhome_currency = \"GBP\"\n\
                 currency_ids = {{ USD = \"Z-US$\", EUR = \"Z-EURO\" }}\nsale_document = \"invoice\"\n\
                 site = \"MAIN\"\nbatch_prefix = \"WEB\"\ncheckbook = \"UPTOWN TRUST\"\n\
                 tax_details = {{ \"20\" = \"UKVAT20S\", \"5\" = \"UKVAT5S\", \"7\" = \"VAT7R\", \"0\" = \"UKVAT0S\" }}\n\
                 [service.dynamics_gp.doc_ids]\ninvoice = \"STDINV\"\norder = \"STDORD\"\nreturn = \"STDRTN\"\n\
                 [service.dynamics_gp.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 400\nmax_attempts = 8\n\
                 throttle_wait_ms = 200\nrequest_timeout_ms = 10000\n",
                books.econnect_url(GP_COMPANY),
                books.handle().shared_secret(),
            ),
            Books::Qbo(books, realm) => format!(
                "[[service.quickbooks]]\nconnection_id = \"{conn}\"\nrealm_id = \"{realm}\"\n\
                 base_url = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"emulator-client\"\n\
                 client_secret = \"emulator-secret\"\nrefresh_token = \"{}\"\n\
                 home_currency = \"USD\"\ncreate_missing_items = true\n\
                 [service.quickbooks.limits]\nwindow_ms = 1000\n\
                 [service.quickbooks.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 500\nrequest_timeout_ms = 10000\n\
                 throttle_wait_ms = 1000\n",
                books.base_url(),
                books.token_url(),
                books.handle().issue_tokens(realm).refresh_token,
            ),
        }
    }

    /// Every document the summaries became: GP journals, QuickBooks sales receipts.
    fn documents(&self) -> Vec<Value> {
        match self {
            Books::Gp(books) => books.handle().journals(GP_COMPANY),
            Books::Qbo(books, realm) => books.handle().entities(realm, "SalesReceipt"),
        }
    }

    fn faults_seen(&self) -> String {
        match self {
            Books::Gp(b) => format!("{:?}", b.handle().counters()),
            Books::Qbo(b, _) => format!("{:?}", b.handle().counters()),
        }
    }

    /// Checks the one document of a summary command and returns the orders it holds.
    fn check(
        &self,
        docs: &[Value],
        cmd: &Command,
        want: &BTreeMap<i64, (String, String, i64)>,
    ) -> Result<Vec<i64>> {
        let Some(Body::PostSale(sale)) = &cmd.body else {
            bail!("not a summary: {cmd:?}");
        };
        let key = sale.summary.as_ref().context("summary key")?;
        let order = cmd.order.as_ref().context("orders")?;
        let reference = order.document_number.to_ascii_uppercase();
        let number = |d: &Value| match self {
            Books::Gp(_) => d["header"]["REFRENCE"].as_str().map(str::to_string),
            Books::Qbo(..) => d["DocNumber"].as_str().map(str::to_string),
        };
        let mine: Vec<&Value> = docs
            .iter()
            .filter(|d| number(d).is_some_and(|n| n.trim().eq_ignore_ascii_case(&reference)))
            .collect();
        let [doc] = mine.as_slice() else {
            bail!("{reference}: {} documents", mine.len());
        };
        let mut store_takings = 0;
        for id in &order.included_order_ids {
            let (day, method, total) = want.get(id).context("a paid order of the store")?;
            assert_eq!(
                (day, method),
                (&key.date, &key.store_payment_method),
                "order {id}"
            );
            store_takings += total;
        }
        let takings = match self {
            Books::Gp(_) => {
                let lines = doc["lines"].as_array().context("lines")?;
                let side = |k: &str| -> i64 { lines.iter().map(|l| cents_of(&l[k])).sum() };
                assert_eq!(
                    side("DEBITAMT"),
                    side("CRDTAMNT"),
                    "{reference} balances: {lines:?}"
                );
                let clearing = if key.store_payment_method == "Payments.PayPalCommerce" {
                    "000-1210-00"
                } else {
                    "000-1200-00"
                };
                lines
                    .iter()
                    .filter(|l| l["ACTNUMST"].as_str().map(str::trim) == Some(clearing))
                    .map(|l| cents_of(&l["DEBITAMT"]))
                    .sum()
            }
            Books::Qbo(..) => {
                assert_eq!(
                    doc["CustomerRef"]["name"].as_str().map(str::trim),
                    Some("Web Sales"),
                    "{reference}: the fixed customer"
                );
                cents_of(&doc["TotalAmt"])
            }
        };
        assert_eq!(
            takings, store_takings,
            "{reference}: the day's takings to the cent"
        );
        Ok(order.included_order_ids.clone())
    }
}

async fn one_document_per_day_and_method(target: Target) -> Result<()> {
    if std::env::var_os("E2E_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
    let orders: usize = std::env::var("DAILY_SUMMARY_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let broker = Broker::start().await?;
    let kafka: KafkaConfig = broker.kafka_config();
    let (ingest_db, sink_db, transform_db) = (
        TestDb::create().await?,
        TestDb::create().await?,
        TestDb::create().await?,
    );
    let store = nop::spawn(NopConfig {
        seed: 2026,
        orders,
        live: LiveConfig {
            orders_per_minute: 0.0,
            actions_per_minute: 0.0,
            customers_per_minute: 0.0,
        },
        ..NopConfig::default()
    })
    .await?;
    let books = Books::start(target).await?;
    let want = takings(&store, target);
    if want.len() < 10 {
        bail!("the seeded store has only {} paid orders", want.len());
    }

    let s = format!("-{}", unique("ds"));
    let t = |base: &str| format!("{base}{s}");
    let conn = unique("books");
    let (orders_topic, notifications) = (t("canonical.order.v1"), t("ingest.notifications.v1"));
    let commands_topic = t(target.commands_topic());
    let (dlq_ingest, dlq_transform, dlq_sink) = (
        t("dlq.ingest.v1"),
        t("dlq.transform.v1"),
        t("dlq.connector_sink.v1"),
    );
    let results = nopbridge_runtime::topics::SINK_RESULTS;
    let mut specs: Vec<TopicSpec> = [&orders_topic, &commands_topic]
        .iter()
        .map(|t| TopicSpec::new(*t, 3))
        .collect();
    for d in [&dlq_ingest, &dlq_transform, &dlq_sink] {
        specs.push(TopicSpec::new(d, 1));
    }
    specs.push(TopicSpec::new(results, 3));
    ensure_topics(&kafka, &specs).await?;

    let dir = tempfile::tempdir()?;
    let bootstrap = broker.bootstrap();
    let mapping = dir.path().join("books.yaml");
    std::fs::write(&mapping, target.mapping(&conn)?)?;
    let ingest = dir.path().join("ingest.toml");
    std::fs::write(
        &ingest,
        format!(
            "{}[service]\ndatabase_url = \"{}\"\ntopic_suffix = \"{s}\"\nwebhook_secret = \"unused\"\n\
             [[service.connections]]\nid = \"shop\"\ntenant = \"acme\"\nstore_id = {}\n\
             base_url = \"{}\"\nusername = \"admin\"\npassword = \"admin-password\"\n\
             backfill_from = \"2000-01-01T00:00:00Z\"\npoll_interval_ms = 500\nrepoll_interval_ms = 2000\n\
             country_codes = {{ 1 = \"US\", 74 = \"FR\", 80 = \"GB\", 81 = \"DE\" }}\n",
            common(bootstrap, &unique("ingest"), &[&notifications], &dlq_ingest, 0),
            ingest_db.url,
            target.store(),
            store.base_url(),
        ),
    )?;
    let transform_port = free_port()?;
    let transform = dir.path().join("transform.toml");
    std::fs::write(
        &transform,
        format!(
            "{}[service]\nmapping_files = [\"{}\"]\ncommand_topic_suffix = \"{s}\"\n\
             database_url = \"{}\"\nsummary_check_interval_ms = 200\n",
            common(
                bootstrap,
                &unique("transform"),
                &[&orders_topic],
                &dlq_transform,
                transform_port
            ),
            mapping.display(),
            transform_db.url,
        ),
    )?;
    let sink = dir.path().join("sink.toml");
    std::fs::write(
        &sink,
        format!(
            "{}[service]\ndatabase_url = \"{}\"\n{}",
            common(bootstrap, &unique("sink"), &[&commands_topic], &dlq_sink, 0),
            sink_db.url,
            books.sink_section(&conn),
        ),
    )?;

    // Transform's clock stands still while the orders arrive, then moves past every day.
    let now = Utc::now().timestamp();
    let clock = Arc::new(AtomicI64::new(now));
    let tick = clock.clone();
    use nopbridge_runtime::config::load;
    let stop = CancellationToken::new();
    let tasks = vec![
        spawn(
            "ingest",
            nopbridge_ingest::run(load(Some(ingest))?, stop.clone()),
        ),
        spawn(
            "transform",
            nopbridge_transform::run_with_clock(
                load(Some(transform))?,
                Arc::new(move || {
                    DateTime::from_timestamp(tick.load(Ordering::SeqCst), 0).unwrap_or_default()
                }),
                stop.clone(),
            ),
        ),
        spawn(
            "connector-sink",
            nopbridge_connector_sink::run(load(Some(sink))?, stop.clone()),
        ),
    ];
    let api_url = format!("http://127.0.0.1:{transform_port}");
    let api = eventually("transform serving", Duration::from_secs(60), || async {
        Ok(SummariesClient::connect(api_url.clone()).await.ok())
    })
    .await?;
    let list = |closed: bool| {
        let mut api = api.clone();
        let conn = conn.clone();
        async move {
            Ok::<_, anyhow::Error>(
                api.list_days(ListDaysRequest {
                    connection_id: conn,
                    include_closed: closed,
                    limit: 100_000,
                })
                .await?
                .into_inner()
                .days,
            )
        }
    };

    let started = std::time::Instant::now();
    let phase = |what: &str| eprintln!("{:>6.1}s {what}", started.elapsed().as_secs_f64());
    // Every paid order collected under its day (nothing dead-lettered on the way).
    eventually(
        "every paid order collected",
        Duration::from_secs(600),
        || async {
            let n: u32 = list(false).await?.iter().map(|d| d.orders).sum();
            Ok((n as usize == want.len()).then_some(()))
        },
    )
    .await?;
    phase("collected");
    let days: BTreeSet<String> = want.values().map(|(d, _, _)| d.clone()).collect();
    assert_eq!(
        list(false).await?.len(),
        days.len(),
        "one open day per business day with paid orders"
    );

    // Two days later every day is over and its hour of grace passed.
    clock.store(now + 2 * 86_400 + 2 * 3_600, Ordering::SeqCst);
    let closed = eventually("every day closed", Duration::from_secs(120), || async {
        let all = list(true).await?;
        let open = list(false).await?;
        Ok((open.is_empty() && all.len() == days.len()).then_some(all))
    })
    .await?;
    phase("closed");
    let summaries: u32 = closed.iter().map(|d| d.summaries).sum();
    let in_summaries: u32 = closed.iter().map(|d| d.orders).sum();
    assert_eq!(in_summaries as usize, want.len(), "{closed:?}");
    assert!(closed.iter().all(|d| d.dead_lettered == 0), "{closed:?}");

    eventually(
        "a document per summary",
        Duration::from_secs(600),
        || async { Ok((books.documents().len() >= summaries as usize).then_some(())) },
    )
    .await?;

    phase("posted");
    // The summary commands transform produced, each checked against its one document.
    let commands: Vec<Command> =
        read_topic(&kafka, &commands_topic, 100_000, Duration::from_secs(5))
            .await?
            .iter()
            .filter_map(|r| Command::decode(r.payload()).ok())
            .collect();
    assert_eq!(
        commands.len(),
        summaries as usize,
        "one command per summary"
    );
    let check_books = || -> Result<()> {
        let docs = books.documents();
        assert_eq!(
            docs.len(),
            commands.len(),
            "one document per summary, never two"
        );
        let mut seen: BTreeSet<i64> = BTreeSet::new();
        for cmd in &commands {
            for id in books.check(&docs, cmd, &want)? {
                assert!(seen.insert(id), "order {id} in two summaries");
            }
        }
        assert_eq!(seen.len(), want.len(), "every paid order in a document");
        Ok(())
    };
    check_books()?;

    // As if transform had died after producing every day and before marking them closed:
    // each day is published again, byte for byte, and the books still hold one document each.
    let mut pg = sqlx::PgConnection::connect(&transform_db.url).await?;
    sqlx::query(
        "UPDATE summary_days SET state = 'closing', closed_at = NULL WHERE connection_id = $1",
    )
    .bind(&conn)
    .execute(&mut pg)
    .await?;
    let ids: BTreeSet<String> = commands.iter().map(|c| c.command_id.clone()).collect();
    eventually(
        "every summary answered twice",
        Duration::from_secs(600),
        || async {
            let answered: Vec<CommandResult> =
                read_topic(&kafka, results, 100_000, Duration::from_secs(3))
                    .await?
                    .iter()
                    .filter_map(|r| CommandResult::decode(r.payload()).ok())
                    .filter(|r| ids.contains(&r.command_id))
                    .collect();
            let twice = ids
                .iter()
                .all(|id| answered.iter().filter(|r| r.command_id == *id).count() >= 2);
            Ok(twice.then_some(()))
        },
    )
    .await?;
    phase("published again and answered");
    let again: Vec<Command> = read_topic(&kafka, &commands_topic, 100_000, Duration::from_secs(5))
        .await?
        .iter()
        .filter_map(|r| Command::decode(r.payload()).ok())
        .collect();
    assert_eq!(again.len(), 2 * commands.len());
    assert_eq!(
        again
            .iter()
            .map(|c| c.command_id.clone())
            .collect::<BTreeSet<_>>(),
        ids,
        "the same commands again"
    );
    check_books()?;
    let dead = read_topic(&kafka, &dlq_sink, 1000, Duration::from_secs(3)).await?;
    assert!(
        dead.is_empty(),
        "nothing dead-lettered by the sink: {:?}",
        dead.iter()
            .map(|d| d.header_str("dlq_error_message"))
            .collect::<Vec<_>>()
    );
    eprintln!(
        "{} paid orders over {} days: {} documents, each posted once and found again; {}",
        want.len(),
        days.len(),
        commands.len(),
        books.faults_seen()
    );

    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gp_daily_summary_connection_gets_one_balanced_journal_per_day_and_method() -> Result<()>
{
    one_document_per_day_and_method(Target::Gp).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quickbooks_daily_summary_connection_gets_one_sales_receipt_per_day_and_method(
) -> Result<()> {
    one_document_per_day_and_method(Target::Qbo).await
}
