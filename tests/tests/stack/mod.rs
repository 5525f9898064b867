//! The whole pipeline for cross-service tests: a broker, three PostgreSQL databases, the
//! nopCommerce and QuickBooks emulators (the company set up as the demo mapping expects) and
//! the four services running in this process on their own topics and consumer groups.
//! With [`Opts::back_offices`] the store's second and third stores are also ingested and
//! routed to the KashFlow and Dynamics GP emulators (the demo mappings
//! config/mapping/kashflow-demo.yaml and gp-demo.yaml).
#![allow(dead_code)]
use anyhow::{bail, Context, Result};
use nopbridge_emu_dynamics_gp::{self as gp, EmulatorConfig as GpConfig};
use nopbridge_emu_kashflow::{self as kf, EmulatorConfig as KfConfig};
use nopbridge_emu_nopcommerce::{self as nop, EmulatorConfig as NopConfig, LiveConfig};
use nopbridge_emu_quickbooks::{self as qbo, EmulatorConfig as QboConfig};
use nopbridge_kafka::{ensure_topics, CancellationToken, KafkaConfig, TopicSpec};
use nopbridge_reconciler::ledger::Ledger;
use nopbridge_testkit::{unique, Broker, TestDb};
use serde_json::{json, Value};
use std::{collections::BTreeMap, future::Future, path::Path, time::Duration};
use tokio::task::JoinHandle;

/// The store the QuickBooks connection is for.
pub const STORE: i32 = 1;
/// The store routed to KashFlow (config/mapping/kashflow-demo.yaml) with [`Opts::back_offices`].
pub const KF_STORE: i32 = 2;
/// The store routed to Dynamics GP (config/mapping/gp-demo.yaml) with [`Opts::back_offices`].
pub const GP_STORE: i32 = 3;
/// The KashFlow emulator's API user (its account).
pub const KF_USER: &str = "emulator";
/// The GP company the GP connection posts to.
pub const GP_COMPANY: &str = "TWO";
/// What GP has on hand of every store item at the start.
pub const GP_STOCK: f64 = 100_000.0;
/// nopCommerce PaymentStatus ids that mean the money was taken: Paid, PartiallyRefunded, Refunded.
pub const TAKEN: [i32; 3] = [30, 35, 40];

/// A setting from the environment, or `default` when it is unset or unreadable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How many orders the store is seeded with in the end-to-end tests (`E2E_ORDERS`, 500).
pub fn e2e_orders() -> usize {
    env_or("E2E_ORDERS", 500)
}

/// How long an end-to-end test's stages may take (`E2E_WAIT_SECS`, else `default_secs`).
pub fn e2e_wait(default_secs: u64) -> Duration {
    Duration::from_secs(env_or("E2E_WAIT_SECS", default_secs))
}

/// A store amount in cents.
pub fn cents(d: rust_decimal::Decimal) -> i64 {
    (d * rust_decimal::Decimal::from(100))
        .round()
        .try_into()
        .unwrap_or(i64::MIN)
}

/// The four services, by the name of their binary (`nopbridge-<name>`).
pub const SERVICES: [&str; 4] = ["ingest", "transform", "connector-sink", "reconciler"];
/// The canonical entities ingest writes, in the order of [`Stack::canonical`].
pub const ENTITIES: [&str; 7] = [
    "order",
    "customer",
    "product",
    "inventory_level",
    "payment_transaction",
    "shipment",
    "return_request",
];

pub struct Opts {
    /// Orders the store is seeded with.
    pub orders: usize,
    pub seed: u64,
    /// Ingest learns of orders only from the store's signed webhooks (no polling, no
    /// backfill) instead of backfilling and polling.
    pub webhooks: bool,
    /// Also ingest stores 2 and 3 and post them to KashFlow and Dynamics GP (their emulators
    /// in process, see [`BackOffices`]).
    pub back_offices: bool,
    /// With `back_offices`: GP has none of one item the UK store sold (the one in the fewest
    /// paid UK orders), so those orders are refused (eConnect 4776) and dead-lettered.
    pub gp_short_item: bool,
    /// Run the services as processes from this directory (`nopbridge-<service>` binaries,
    /// e.g. target/release) instead of in this process (the pipeline bench measures their
    /// memory).
    pub processes: Option<std::path::PathBuf>,
    /// QuickBooks without rate limits, on both sides (the emulator's and the sink's pacing).
    pub unthrottled: bool,
    /// Ingest polls at its production intervals (new records every 30 s, open orders every
    /// 5 min) instead of the tests' 0.5 s and 2 s, which would re-read every open order of
    /// the store every two seconds: the pipeline bench measures the backfill, not that.
    pub production_polling: bool,
    /// The QuickBooks stock watch follows the company's stock into store 1, woken only by
    /// the emulator's signed webhooks (its interval is ten minutes), and transform routes
    /// back-office stock to the store write-back connection.
    pub stock_watch: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            orders: 0,
            seed: 2026,
            webhooks: false,
            back_offices: false,
            gp_short_item: false,
            processes: None,
            unthrottled: false,
            production_polling: false,
            stock_watch: false,
        }
    }
}

/// The KashFlow and Dynamics GP side of the stack ([`Opts::back_offices`]).
pub struct BackOffices {
    /// KashFlow account [`KF_USER`]: VAT rates 0, 5, 7 and 20 %, 60 emulated seconds per
    /// real second (its 60-minute idle expiry passes in a minute).
    pub kashflow: kf::RunningEmulator,
    pub kf_conn: String,
    pub kf_commands: String,
    /// GP company [`GP_COMPANY`] with the store's items ([`GP_STOCK`] each at MAIN) and a
    /// tax detail for the store's 7 % rate.
    pub gp: gp::RunningEmulator,
    pub gp_conn: String,
    pub gp_commands: String,
    /// The item GP has none of ([`Opts::gp_short_item`]).
    pub gp_short_item: Option<String>,
}

pub struct Stack {
    pub broker: Broker,
    pub kafka: KafkaConfig,
    pub store: nop::RunningEmulator,
    pub books: qbo::RunningEmulator,
    pub realm: String,
    pub qbo_conn: String,
    pub shop_conn: String,
    pub canonical: Vec<String>,
    pub qbo_commands: String,
    pub store_commands: String,
    pub dlq_transform: String,
    pub dlq_sink: String,
    pub ledger: Ledger,
    pub back: Option<BackOffices>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// With [`Opts::processes`]: the services' processes.
    children: Vec<(&'static str, tokio::process::Child)>,
    dbs: [TestDb; 3],
    _dir: tempfile::TempDir,
}

const WEBHOOK_SECRET: &str = "stack-webhook-secret";
/// The QuickBooks app's webhook verifier token in the stack.
const QBO_VERIFIER: &str = "stack-qbo-verifier";

fn write(dir: &Path, name: &str, text: &str) -> Result<std::path::PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text)?;
    Ok(p)
}

/// The part of a service's config every service shares.
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

pub fn spawn<F, E>(name: &'static str, f: F) -> JoinHandle<()>
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

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The company setup the demo mapping expects (config/qbo-demo-company.json), made through
/// the API as an accountant would.
pub async fn set_up_company(books: &qbo::RunningEmulator, realm: &str) -> Result<()> {
    let setup: Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/qbo-demo-company.json"
    ))?)?;
    let token = books.handle().issue_tokens(realm).access_token;
    let http = reqwest::Client::new();
    for entity in ["Account", "PaymentMethod", "Item"] {
        for mut body in setup[entity].as_array().cloned().unwrap_or_default() {
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

/// The item GP should have none of: a stock-managed one (GP checks stock only for inventory
/// items), sold in the fewest (but some) paid orders of the GP store.
fn rarest_gp_item(store: &nop::RunningEmulator) -> Option<String> {
    store.handle().read(|st| {
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for o in st.orders.iter().filter(|o| {
            !o.deleted && o.store_id == GP_STORE && TAKEN.contains(&o.payment_status_id)
        }) {
            let skus: std::collections::BTreeSet<String> = st
                .order_items
                .iter()
                .filter(|i| i.order_id == o.id)
                .filter_map(|i| st.products.iter().find(|p| p.id == i.product_id))
                .filter(|p| p.manage_inventory_method_id != 0 && !p.is_gift_card)
                .filter_map(|p| p.sku.clone())
                .collect();
            for sku in skus {
                *count.entry(sku.to_uppercase()).or_default() += 1;
            }
        }
        count
            .into_iter()
            .min_by_key(|(sku, n)| (*n, sku.clone()))
            .map(|(sku, _)| sku)
    })
}

/// The KashFlow and GP emulators, set up as the demo mappings expect.
async fn spawn_back_offices(
    store: &nop::RunningEmulator,
    short: bool,
) -> Result<(kf::RunningEmulator, gp::RunningEmulator, Option<String>)> {
    let kashflow = kf::spawn(KfConfig {
        time_scale: 60.0,
        accounts: vec![kf::AccountConfig {
            username: KF_USER.into(),
            vat_rates: vec![0.0, 5.0, 7.0, 20.0],
            ..kf::AccountConfig::default()
        }],
        ..KfConfig::default()
    })
    .await?;
    let short_item = if short { rarest_gp_item(store) } else { None };
    let items: Vec<gp::ItemSeed> = store.handle().read(|st| {
        st.products
            .iter()
            .filter_map(|p| Some((p.sku.clone()?.to_uppercase(), p.name.clone())))
            .map(|(sku, name)| gp::ItemSeed {
                quantities: [(
                    "MAIN".to_string(),
                    if short_item.as_deref() == Some(sku.as_str()) {
                        0.0
                    } else {
                        GP_STOCK
                    },
                )]
                .into(),
                itemnmbr: sku,
                description: name.chars().take(100).collect(),
                allow_back_orders: false,
            })
            .collect()
    });
    let gp = spawn_gp(items).await?;
    Ok((kashflow, gp, short_item))
}

/// The GP emulator with the demo company (its default tax details and VAT7R) holding `items`.
pub async fn spawn_gp(items: Vec<gp::ItemSeed>) -> Result<gp::RunningEmulator> {
    let mut company = gp::CompanyConfig {
        name: GP_COMPANY.into(),
        items,
        ..gp::CompanyConfig::default()
    };
    company.tax_details.push("VAT7R".into());
    Ok(gp::spawn(GpConfig {
        companies: vec![company],
        ..GpConfig::default()
    })
    .await?)
}

impl Stack {
    pub async fn start(opts: Opts) -> Result<Self> {
        let broker = Broker::start().await?;
        let kafka = broker.kafka_config();
        let dbs = [
            TestDb::create().await?,
            TestDb::create().await?,
            TestDb::create().await?,
        ];
        let [ingest_db, sink_db, ledger_db] = &dbs;
        let s = format!("-{}", unique("e2e"));
        let t = |base: &str| format!("{base}{s}");
        let webhook_port = free_port()?;
        let mut store_cfg = NopConfig {
            seed: opts.seed,
            orders: opts.orders,
            live: LiveConfig {
                orders_per_minute: 0.0,
                actions_per_minute: 0.0,
                customers_per_minute: 0.0,
            },
            ..NopConfig::default()
        };
        if opts.webhooks {
            store_cfg.webhook.url = Some(format!(
                "http://127.0.0.1:{webhook_port}/webhooks/nopcommerce/shop-ingest"
            ));
            store_cfg.webhook.secret = WEBHOOK_SECRET.into();
        }
        let store = nop::spawn(store_cfg).await?;
        let mut books_cfg = QboConfig {
            time_scale: 60.0,
            ..QboConfig::default()
        };
        books_cfg.limits.enabled = !opts.unthrottled;
        let qbo_hook_port = free_port()?;
        if opts.stock_watch {
            books_cfg.webhooks.url = Some(format!(
                "http://127.0.0.1:{qbo_hook_port}/webhooks/quickbooks"
            ));
            books_cfg.webhooks.verifier_token = QBO_VERIFIER.into();
        }
        let books = qbo::spawn(books_cfg).await?;
        let realm = books.default_realm();
        let refresh = books.handle().issue_tokens(&realm).refresh_token;
        set_up_company(&books, &realm).await?;
        let back_emulators = if opts.back_offices {
            Some(spawn_back_offices(&store, opts.gp_short_item).await?)
        } else {
            None
        };

        let (qbo_conn, shop_conn) = (unique("qbo"), unique("shop"));
        let (kf_conn, gp_conn) = (unique("kashflow"), unique("gp"));
        let canonical: Vec<String> = ENTITIES
            .iter()
            .map(|e| t(&format!("canonical.{e}.v1")))
            .collect();
        let (qbo_commands, store_commands) = (
            t("sink.quickbooks_online.commands.v1"),
            t("sink.nopcommerce.commands.v1"),
        );
        let (kf_commands, gp_commands) = (
            t("sink.kashflow.commands.v1"),
            t("sink.dynamics_gp.commands.v1"),
        );
        // The command topics the sink consumes (and the reconciler reads).
        let mut commands = vec![qbo_commands.clone(), store_commands.clone()];
        if back_emulators.is_some() {
            commands.push(kf_commands.clone());
            commands.push(gp_commands.clone());
        }
        let (dlq_transform, dlq_sink) = (t("dlq.transform.v1"), t("dlq.connector_sink.v1"));
        let mut specs: Vec<TopicSpec> = canonical.iter().map(|c| TopicSpec::new(c, 3)).collect();
        for topic in &commands {
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
        let mut mappings = vec![mapping];
        if opts.stock_watch {
            mappings.push(write(
                dir.path(),
                "store.yaml",
                &format!(
                    "connection_id: {shop_conn}\ntarget: nopcommerce\ntenant: acme\nstores: [\"{STORE}\"]\n"
                ),
            )?);
        }
        if back_emulators.is_some() {
            for (file, demo_id, id) in [
                ("kashflow-demo.yaml", "kashflow-eu-1", &kf_conn),
                ("gp-demo.yaml", "gp-uk-1", &gp_conn),
            ] {
                let text = std::fs::read_to_string(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../config/mapping")
                        .join(file),
                )?
                .replace(
                    &format!("connection_id: {demo_id}"),
                    &format!("connection_id: {id}"),
                );
                mappings.push(write(dir.path(), file, &text)?);
            }
        }
        let mapping_files: Vec<String> = mappings
            .iter()
            .map(|m| format!("\"{}\"", m.display()))
            .collect();
        let sources = if opts.webhooks {
            "polling = false\n"
        } else if opts.production_polling {
            "backfill_from = \"2000-01-01T00:00:00Z\"\n"
        } else {
            "backfill_from = \"2000-01-01T00:00:00Z\"\npoll_interval_ms = 500\nrepoll_interval_ms = 2000\n"
        };
        let connection = |id: &str, store_id: i32| {
            format!(
                "[[service.connections]]\nid = \"{id}\"\ntenant = \"acme\"\nstore_id = {store_id}\n\
                 base_url = \"{}\"\nusername = \"admin\"\npassword = \"admin-password\"\n{sources}\
                 country_codes = {{ 1 = \"US\", 74 = \"FR\", 80 = \"GB\", 81 = \"DE\" }}\n",
                store.base_url(),
            )
        };
        let mut connections = connection("shop-ingest", STORE);
        if back_emulators.is_some() {
            connections.push_str(&connection("shop-ingest-eu", KF_STORE));
            connections.push_str(&connection("shop-ingest-uk", GP_STORE));
        }
        let ingest = write(
            dir.path(),
            "ingest.toml",
            &format!(
                "{}[service]\ndatabase_url = \"{}\"\ntopic_suffix = \"{s}\"\n\
                 webhook_secret = \"{WEBHOOK_SECRET}\"\nwebhook_listen = \"127.0.0.1:{webhook_port}\"\n\
                 {connections}",
                common(bootstrap, &unique("ingest"), &[t("ingest.notifications.v1")], &t("dlq.ingest.v1")),
                ingest_db.url,
            ),
        )?;
        let transform = write(
            dir.path(),
            "transform.toml",
            &format!(
                "{}[service]\nmapping_files = [{}]\ncommand_topic_suffix = \"{s}\"\n",
                common(bootstrap, &unique("transform"), &canonical, &dlq_transform),
                mapping_files.join(", ")
            ),
        )?;
        let back_sections = match &back_emulators {
            None => String::new(),
            Some((kashflow, gp, _)) => format!(
                "[[service.kashflow]]\nconnection_id = \"{kf_conn}\"\nbase_url = \"{}\"\n\
                 username = \"{KF_USER}\"\npassword = \"emulator-password\"\nmemorable_word = \"pineapple\"\n\
                 home_currency = \"GBP\"\nsales_nominal = 4000\nshipping_nominal = 4905\nother_nominal = 4900\n\
                 bank_account_id = 1201\n\
                 [service.kashflow.limits]\nmax_in_flight = 8\n\
                 [service.kashflow.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 400\nmax_attempts = 8\n\
                 throttle_wait_ms = 200\nrequest_timeout_ms = 10000\n\
                 [[service.dynamics_gp]]\nconnection_id = \"{gp_conn}\"\nendpoint = \"{}\"\n\
                 shared_secret = \"{}\"\nhome_currency = \"GBP\"\n\
                 currency_ids = {{ USD = \"Z-US$\", EUR = \"Z-EURO\" }}\nsale_document = \"invoice\"\n\
                 site = \"MAIN\"\nbatch_prefix = \"WEB\"\ncheckbook = \"UPTOWN TRUST\"\n\
                 tax_details = {{ \"20\" = \"UKVAT20S\", \"5\" = \"UKVAT5S\", \"7\" = \"VAT7R\", \"0\" = \"UKVAT0S\" }}\n\
                 [service.dynamics_gp.doc_ids]\ninvoice = \"STDINV\"\norder = \"STDORD\"\nreturn = \"STDRTN\"\n\
                 [service.dynamics_gp.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 400\nmax_attempts = 8\n\
                 throttle_wait_ms = 200\nrequest_timeout_ms = 10000\n",
                kashflow.api_url(),
                gp.econnect_url(GP_COMPANY),
                gp.handle().shared_secret(),
            ),
        };
        let stock_watch = if opts.stock_watch {
            format!(
                "[service.quickbooks.stock_watch]\ntenant = \"acme\"\nstore = \"{STORE}\"\n\
                 interval_ms = 600000\ntopic_suffix = \"{s}\"\n"
            )
        } else {
            String::new()
        };
        let qbo_hooks = if opts.stock_watch {
            format!(
                "[service.quickbooks_webhooks]\nlisten = \"127.0.0.1:{qbo_hook_port}\"\n\
                 verifier_token = \"{QBO_VERIFIER}\"\n"
            )
        } else {
            String::new()
        };
        let sink_limits = if opts.unthrottled {
            "requests_per_minute = 1000000\nbatch_calls_per_minute = 1000000\nmax_in_flight = 64\n"
        } else {
            ""
        };
        // The QuickBooks emulator's clock runs 60 times faster: the minute Intuit asks a
        // client to wait after a bare 429 is a second here.
        let sink = write(
            dir.path(),
            "connector-sink.toml",
            &format!(
                "{}[service]\ndatabase_url = \"{}\"\n\
                 [[service.quickbooks]]\nconnection_id = \"{qbo_conn}\"\nrealm_id = \"{realm}\"\n\
                 base_url = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"emulator-client\"\n\
                 client_secret = \"emulator-secret\"\nrefresh_token = \"{refresh}\"\n\
                 home_currency = \"USD\"\ncreate_missing_items = true\n\
                 [service.quickbooks.limits]\nwindow_ms = 1000\n{sink_limits}\
                 [service.quickbooks.retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 500\nrequest_timeout_ms = 10000\n\
                 throttle_wait_ms = 1000\n\
                 {stock_watch}\
                 [[service.nopcommerce]]\nconnection_id = \"{shop_conn}\"\nbase_url = \"{}\"\n\
                 username = \"admin\"\npassword = \"admin-password\"\ninitial_backoff_ms = 20\n\
                 {back_sections}{qbo_hooks}",
                common(bootstrap, &unique("sink"), &commands, &dlq_sink),
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
        ];
        reconciler_inputs.extend(commands.iter().cloned());
        reconciler_inputs.push(canonical[0].clone());
        reconciler_inputs.push(canonical[4].clone());
        let reconciler = write(
            dir.path(),
            "reconciler.toml",
            &format!(
                "{}[service]\ndatabase_url = \"{}\"\ntopic_suffix = \"{s}\"\n\
                 [[service.write_back]]\nconnection_id = \"{qbo_conn}\"\nstore_connection = \"{shop_conn}\"\n{}",
                common(bootstrap, &unique("reconciler"), &reconciler_inputs, &t("dlq.reconciler.v1")),
                ledger_db.url,
                if back_emulators.is_some() {
                    format!(
                        "[[service.write_back]]\nconnection_id = \"{kf_conn}\"\nstore_connection = \"{shop_conn}\"\n\
                         [[service.write_back]]\nconnection_id = \"{gp_conn}\"\nstore_connection = \"{shop_conn}\"\n"
                    )
                } else {
                    String::new()
                },
            ),
        )?;

        let stop = CancellationToken::new();
        let (mut tasks, mut children) = (Vec::new(), Vec::new());
        let configs = [
            ("ingest", ingest),
            ("transform", transform),
            ("connector-sink", sink),
            ("reconciler", reconciler),
        ];
        if let Some(bins) = &opts.processes {
            for (name, config) in configs {
                let log = std::fs::File::create(dir.path().join(format!("{name}.log")))?;
                let child = tokio::process::Command::new(bins.join(format!("nopbridge-{name}")))
                    .arg("--config")
                    .arg(&config)
                    .stdout(log.try_clone()?)
                    .stderr(log)
                    .kill_on_drop(true)
                    .spawn()
                    .with_context(|| format!("starting nopbridge-{name}"))?;
                children.push((name, child));
            }
        } else {
            let [ingest, transform, sink, reconciler] = configs.map(|(_, c)| Some(c));
            use nopbridge_runtime::config::load;
            tasks = vec![
                spawn("ingest", nopbridge_ingest::run(load(ingest)?, stop.clone())),
                spawn(
                    "transform",
                    nopbridge_transform::run(load(transform)?, stop.clone()),
                ),
                spawn(
                    "connector-sink",
                    nopbridge_connector_sink::run(load(sink)?, stop.clone()),
                ),
                spawn(
                    "reconciler",
                    nopbridge_reconciler::run(load(reconciler)?, stop.clone()),
                ),
            ];
        }
        let ledger = Ledger::connect(&ledger_db.url).await?;
        let back = back_emulators.map(|(kashflow, gp, gp_short_item)| BackOffices {
            kashflow,
            kf_conn,
            kf_commands,
            gp,
            gp_conn,
            gp_commands,
            gp_short_item,
        });
        Ok(Self {
            broker,
            kafka,
            store,
            books,
            realm,
            qbo_conn,
            shop_conn,
            canonical,
            qbo_commands,
            store_commands,
            dlq_transform,
            dlq_sink,
            ledger,
            back,
            stop,
            tasks,
            children,
            dbs,
            _dir: dir,
        })
    }

    /// Sales documents in QuickBooks by DocNumber (SalesReceipt and Invoice).
    pub fn sales_docs(&self) -> BTreeMap<String, Vec<Value>> {
        let mut by: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for entity in ["SalesReceipt", "Invoice"] {
            for mut d in self.books.handle().entities(&self.realm, entity) {
                let n = d["DocNumber"].as_str().unwrap_or_default().to_string();
                d["_entity"] = json!(entity.to_ascii_lowercase());
                by.entry(n).or_default().push(d);
            }
        }
        by
    }

    /// The services' process ids (with [`Opts::processes`]).
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.children
            .iter()
            .filter_map(|(name, c)| Some((name.to_string(), c.id()?)))
            .collect()
    }

    /// The services' databases: ingest's, connector-sink's and the ledger's.
    pub fn database_urls(&self) -> [&str; 3] {
        self.dbs.each_ref().map(|db| db.url.as_str())
    }

    /// Stops the four services and waits for them.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        for (_, mut c) in self.children {
            let _ = c.kill().await;
        }
    }
}

/// Polls `check` until it gives Some, or fails after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> Result<T>
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
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
