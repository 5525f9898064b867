//! Daily summaries into Dynamics GP, across services: the store's UK orders (store 3) are
//! ingested, transform collects them per business day for a GP connection in
//! `posting.mode: daily_summary` with `dynamics_gp.journal`, the days close (transform's
//! clock moved past them), and connector-sink posts each day's summaries as GL journals
//! while the GP emulator throttles, fails and drops connections after committing. Every
//! paid order is in exactly one journal; each journal balances (debits = credits) and debits
//! its clearing account with the day's takings for its payment method, to the cent. Then
//! every day is re-published as after a crash between producing and marking it closed: the
//! same commands again, and still one journal each.
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use nopbridge_emu_dynamics_gp::{self as gp, EmulatorConfig as GpConfig, FaultConfig};
use nopbridge_emu_nopcommerce::{self as nop, EmulatorConfig as NopConfig, LiveConfig};
use nopbridge_kafka::{ensure_topics, read_topic, CancellationToken, KafkaConfig, TopicSpec};
use nopbridge_proto::commands::v1::{command::Body, Command, CommandResult};
use nopbridge_proto::control::v1::{summaries_client::SummariesClient, ListDaysRequest};
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::Connection as _;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const GP_STORE: i32 = 3;
const COMPANY: &str = "TWO";
/// nopCommerce PaymentStatus ids that mean the money was taken: Paid, PartiallyRefunded, Refunded.
const TAKEN: [i32; 3] = [30, 35, 40];
/// nopCommerce OrderStatus Cancelled (the mapping voids those: no summary).
const CANCELLED: i32 = 40;

fn cents(d: Decimal) -> i64 {
    (d * Decimal::from(100))
        .round()
        .try_into()
        .unwrap_or(i64::MIN)
}

fn cents_of(v: &Value) -> i64 {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return 0,
    };
    s.parse::<Decimal>().map(cents).unwrap_or_default()
}

/// What the store says one paid UK order brings in: (business day in UTC, payment method,
/// total in cents).
fn takings(store: &nop::RunningEmulator) -> BTreeMap<i64, (String, String, i64)> {
    store.handle().read(|st| {
        st.orders
            .iter()
            .filter(|o| {
                !o.deleted
                    && o.store_id == GP_STORE
                    && TAKEN.contains(&o.payment_status_id)
                    && o.order_status_id != CANCELLED
            })
            .map(|o| {
                let day = o.paid_date_utc.unwrap_or(o.created_on_utc).date_naive();
                (
                    i64::from(o.id),
                    (
                        day.to_string(),
                        o.payment_method_system_name.clone(),
                        cents(o.order_total),
                    ),
                )
            })
            .collect()
    })
}

/// Polls `check` until it gives Some, or fails after `within`.
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
        tokio::time::sleep(Duration::from_millis(250)).await;
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

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
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

/// The demo GP mapping (config/mapping/gp-demo.yaml) as a daily-summary connection whose
/// summaries are GL journals.
fn journal_mapping(conn: &str) -> Result<String> {
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/mapping/gp-demo.yaml"),
    )?;
    let edits = [
        ("connection_id: gp-uk-1", format!("connection_id: {conn}")),
        ("  mode: per_order", "  mode: daily_summary".to_string()),
        (
            "  match_rule: email_then_display_name",
            "  match_rule: fixed\n  fixed_customer: WEBSALES".to_string(),
        ),
        (
            "  batch_prefix: WEB ",
            "  journal:\n    clearing_accounts: { Payments.PayPalCommerce: \"000-1210-00\" }\n    \
             clearing_account: \"000-1200-00\"\n    tax_account: \"000-2310-00\"\n  batch_prefix: WEB "
                .to_string(),
        ),
    ];
    let mut text = demo;
    for (from, to) in edits {
        if !text.contains(from) {
            bail!("gp-demo.yaml has no {from:?} any more; adapt the test");
        }
        text = text.replacen(from, &to, 1);
    }
    Ok(text)
}

struct Services {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gp_daily_summary_connection_gets_one_balanced_journal_per_day_and_method() -> Result<()>
{
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
    let mut company = gp::CompanyConfig {
        name: COMPANY.into(),
        ..gp::CompanyConfig::default()
    };
    company.tax_details.push("VAT7R".into());
    let books = gp::spawn(GpConfig {
        companies: vec![company],
        ..GpConfig::default()
    })
    .await?;
    books.handle().set_faults(FaultConfig {
        throttle_probability: 0.03,
        unavailable_probability: 0.03,
        server_error_probability: 0.03,
        drop_after_probability: 0.1,
        retry_after_secs: 1,
        seed: Some(7),
        ..FaultConfig::default()
    });
    let want = takings(&store);
    if want.len() < 10 {
        bail!("the seeded store has only {} paid UK orders", want.len());
    }

    let s = format!("-{}", unique("ds"));
    let t = |base: &str| format!("{base}{s}");
    let conn = unique("gp");
    let (orders_topic, notifications) = (t("canonical.order.v1"), t("ingest.notifications.v1"));
    let gp_commands = t("sink.dynamics_gp.commands.v1");
    let (dlq_ingest, dlq_transform, dlq_sink) = (
        t("dlq.ingest.v1"),
        t("dlq.transform.v1"),
        t("dlq.connector_sink.v1"),
    );
    let results = nopbridge_runtime::topics::SINK_RESULTS;
    let mut specs: Vec<TopicSpec> = [&orders_topic, &gp_commands]
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
    let mapping = dir.path().join("gp.yaml");
    std::fs::write(&mapping, journal_mapping(&conn)?)?;
    let ingest = dir.path().join("ingest.toml");
    std::fs::write(
        &ingest,
        format!(
            "{}[service]\ndatabase_url = \"{}\"\ntopic_suffix = \"{s}\"\nwebhook_secret = \"unused\"\n\
             [[service.connections]]\nid = \"shop-uk\"\ntenant = \"acme\"\nstore_id = {GP_STORE}\n\
             base_url = \"{}\"\nusername = \"admin\"\npassword = \"admin-password\"\n\
             backfill_from = \"2000-01-01T00:00:00Z\"\npoll_interval_ms = 500\nrepoll_interval_ms = 2000\n\
             country_codes = {{ 1 = \"US\", 74 = \"FR\", 80 = \"GB\", 81 = \"DE\" }}\n",
            common(bootstrap, &unique("ingest"), &[&notifications], &dlq_ingest, 0),
            ingest_db.url,
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
            "{}[service]\ndatabase_url = \"{}\"\n\
             [[service.dynamics_gp]]\nconnection_id = \"{conn}\"\nendpoint = \"{}\"\n\
             shared_secret = \"{}\"\nhome_currency = \"GBP\"\n\
             currency_ids = {{ USD = \"Z-US$\", EUR = \"Z-EURO\" }}\nsale_document = \"invoice\"\n\
             site = \"MAIN\"\nbatch_prefix = \"WEB\"\ncheckbook = \"UPTOWN TRUST\"\n\
             tax_details = {{ \"20\" = \"UKVAT20S\", \"5\" = \"UKVAT5S\", \"7\" = \"VAT7R\", \"0\" = \"UKVAT0S\" }}\n\
             [service.dynamics_gp.doc_ids]\ninvoice = \"STDINV\"\norder = \"STDORD\"\nreturn = \"STDRTN\"\n\
             [service.dynamics_gp.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 400\nmax_attempts = 8\n\
             throttle_wait_ms = 200\nrequest_timeout_ms = 10000\n",
            common(bootstrap, &unique("sink"), &[&gp_commands], &dlq_sink, 0),
            sink_db.url,
            books.econnect_url(COMPANY),
            books.handle().shared_secret(),
        ),
    )?;

    // Transform's clock stands still while the orders arrive, then moves past every day.
    let now = Utc::now().timestamp();
    let clock = Arc::new(AtomicI64::new(now));
    let tick = clock.clone();
    use nopbridge_runtime::config::load;
    let stop = CancellationToken::new();
    let services = Services {
        tasks: vec![
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
        ],
        stop,
    };
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

    // Every paid order collected under its day (nothing dead-lettered on the way).
    eventually(
        "every paid UK order collected",
        Duration::from_secs(600),
        || async {
            let n: u32 = list(false).await?.iter().map(|d| d.orders).sum();
            Ok((n as usize == want.len()).then_some(()))
        },
    )
    .await?;
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
    let summaries: u32 = closed.iter().map(|d| d.summaries).sum();
    let in_summaries: u32 = closed.iter().map(|d| d.orders).sum();
    assert_eq!(in_summaries as usize, want.len(), "{closed:?}");
    assert!(closed.iter().all(|d| d.dead_lettered == 0), "{closed:?}");

    let journals_of = |books: &gp::RunningEmulator| books.handle().journals(COMPANY);
    eventually(
        "a journal per summary",
        Duration::from_secs(600),
        || async { Ok((journals_of(&books).len() >= summaries as usize).then_some(())) },
    )
    .await?;

    // The summary commands transform produced: reference → (day, method, orders).
    let commands: Vec<Command> = read_topic(&kafka, &gp_commands, 100_000, Duration::from_secs(5))
        .await?
        .iter()
        .filter_map(|r| Command::decode(r.payload()).ok())
        .collect();
    assert_eq!(
        commands.len(),
        summaries as usize,
        "one command per summary"
    );
    let check_books = |commands: &[Command]| -> Result<()> {
        let journals = journals_of(&books);
        assert_eq!(
            journals.len(),
            commands.len(),
            "one journal per summary, never two"
        );
        let mut seen: BTreeSet<i64> = BTreeSet::new();
        for cmd in commands {
            let Some(Body::PostSale(sale)) = &cmd.body else {
                bail!("not a summary: {cmd:?}");
            };
            let key = sale.summary.as_ref().context("summary key")?;
            let reference = cmd
                .order
                .as_ref()
                .map(|o| o.document_number.to_ascii_uppercase())
                .unwrap_or_default();
            let mine: Vec<&Value> = journals
                .iter()
                .filter(|j| {
                    j["header"]["REFRENCE"]
                        .as_str()
                        .is_some_and(|r| r.trim().eq_ignore_ascii_case(&reference))
                })
                .collect();
            let [j] = mine.as_slice() else {
                bail!("{reference}: {} journals", mine.len());
            };
            let lines = j["lines"].as_array().context("lines")?;
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
            let takings: i64 = lines
                .iter()
                .filter(|l| l["ACTNUMST"].as_str().map(str::trim) == Some(clearing))
                .map(|l| cents_of(&l["DEBITAMT"]))
                .sum();
            let ids = &cmd.order.as_ref().context("orders")?.included_order_ids;
            let mut store_takings = 0;
            for id in ids {
                let (day, method, total) = want.get(id).context("a paid UK order")?;
                assert_eq!(
                    (day, method),
                    (&key.date, &key.store_payment_method),
                    "order {id}"
                );
                store_takings += total;
                assert!(seen.insert(*id), "order {id} in two summaries");
            }
            assert_eq!(
                takings, store_takings,
                "{reference}: the day's takings to the cent"
            );
        }
        assert_eq!(seen.len(), want.len(), "every paid order in a journal");
        Ok(())
    };
    check_books(&commands)?;

    // As if transform had died after producing every day and before marking them closed:
    // each day is published again, byte for byte, and GP still holds one journal each.
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
    let again: Vec<Command> = read_topic(&kafka, &gp_commands, 100_000, Duration::from_secs(5))
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
    check_books(&commands)?;
    let dead = read_topic(&kafka, &dlq_sink, 1000, Duration::from_secs(3)).await?;
    assert!(
        dead.is_empty(),
        "nothing dead-lettered by the sink: {}",
        dead.len()
    );
    let counters = books.handle().counters();
    assert!(counters.dropped > 0, "faults were injected: {counters:?}");
    eprintln!(
        "{} paid UK orders over {} days: {} journals, each posted once and found again; GP {counters:?}",
        want.len(),
        days.len(),
        commands.len()
    );

    services.stop.cancel();
    for t in services.tasks {
        let _ = t.await;
    }
    Ok(())
}
