//! Shared test harness: a broker, a fresh database, the QuickBooks emulator in process, the
//! sink (in process or as the real binary) and command builders.
#![allow(dead_code)]

use anyhow::{anyhow, bail, Context, Result};
use nopbridge_connector_sink::Config;
use nopbridge_emu_quickbooks::{spawn, EmulatorConfig, RunningEmulator};
use nopbridge_kafka::{
    ensure_topics, read_topic, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec,
};
use nopbridge_proto::commands::v1::{
    command::Body, Command, CommandResult, CustomerRef, DocumentLine, ExchangeRate, ItemRef,
    LineKind, OrderReference, PartyName, PostSale, SaleDocumentKind, TargetKind, TaxDetail,
    TaxMode, Tender, TenderKind,
};
use nopbridge_proto::events::v1::{Decimal, Money};
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use serde_json::Value;
use std::{path::PathBuf, time::Duration};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const TIME_SCALE: f64 = 60.0;

pub struct Opts {
    pub create_missing_items: bool,
    pub display_name_conflict: &'static str,
    pub throttle_wait_ms: u64,
    pub disconnected_wait_ms: u64,
    pub consumer_attempts: u32,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            create_missing_items: true,
            display_name_conflict: "disambiguate",
            throttle_wait_ms: 300,
            disconnected_wait_ms: 600_000,
            consumer_attempts: 50,
        }
    }
}

pub struct Harness {
    pub broker: Broker,
    pub db: TestDb,
    pub emu: RunningEmulator,
    pub kafka: KafkaConfig,
    pub producer: Producer,
    pub realm: String,
    pub connection: String,
    pub commands_topic: String,
    pub dlq_topic: String,
    pub group: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Harness {
    pub async fn start(opts: Opts) -> Result<Self> {
        let broker = Broker::start().await?;
        let kafka = broker.kafka_config();
        let db = TestDb::create().await?;
        let emu = spawn(EmulatorConfig {
            time_scale: TIME_SCALE,
            ..EmulatorConfig::default()
        })
        .await?;
        let realm = emu.default_realm();
        let tokens = emu.handle().issue_tokens(&realm);
        let connection = unique("qbo");
        let commands_topic = unique("sink.quickbooks_online.commands");
        let dlq_topic = unique("dlq.connector_sink");
        let group = unique("sink");
        ensure_topics(
            &kafka,
            &[
                TopicSpec::new(&commands_topic, 3),
                TopicSpec::new(&dlq_topic, 1),
                // The service creates it at start; handler-level tests need it too.
                TopicSpec::new(nopbridge_runtime::topics::SINK_RESULTS, 3),
            ],
        )
        .await?;
        let producer = Producer::new(&kafka)?;
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("connector-sink.toml");
        // One emulated minute is one real second: the limit window shrinks with it.
        let toml = format!(
            r#"
shutdown_deadline_ms = 5000
[kafka]
bootstrap_servers = "{bootstrap}"
[grpc]
listen = "127.0.0.1:0"
[consumer]
group_id = "{group}"
topics = ["{commands_topic}"]
dlq_topic = "{dlq_topic}"
drain_timeout_ms = 2000
# Orders of one connection run concurrently (the sink orders by store order, not by key).
concurrency = 32
[consumer.retry]
max_attempts = {attempts}
initial_backoff_ms = 20
max_backoff_ms = 500
[service]
database_url = "{db}"
prerequisite_requeues = 4
prerequisite_first_wait_ms = 50
[[service.quickbooks]]
connection_id = "{connection}"
realm_id = "{realm}"
base_url = "{base}"
token_url = "{token_url}"
client_id = "emulator-client"
client_secret = "emulator-secret"
refresh_token = "{refresh}"
home_currency = "USD"
create_missing_items = {create}
display_name_conflict = "{rule}"
[service.quickbooks.limits]
window_ms = 1000
[service.quickbooks.retry]
initial_backoff_ms = 20
max_backoff_ms = 500
max_attempts = 8
throttle_wait_ms = {throttle}
request_timeout_ms = 10000
disconnected_wait_ms = {disc}
disconnected_poll_ms = 100
"#,
            bootstrap = broker.bootstrap(),
            attempts = opts.consumer_attempts,
            db = db.url,
            base = emu.base_url(),
            token_url = emu.token_url(),
            refresh = tokens.refresh_token,
            create = opts.create_missing_items,
            rule = opts.display_name_conflict,
            throttle = opts.throttle_wait_ms,
            disc = opts.disconnected_wait_ms,
        );
        std::fs::write(&config_path, toml)?;
        Ok(Self {
            broker,
            db,
            emu,
            kafka,
            producer,
            realm,
            connection,
            commands_topic,
            dlq_topic,
            group,
            dir,
            config_path,
        })
    }

    pub fn config(&self) -> Result<Config> {
        Ok(nopbridge_runtime::config::load(Some(
            self.config_path.clone(),
        ))?)
    }

    /// The sink in this process; cancel the token to stop it.
    pub fn start_sink(&self) -> Result<(JoinHandle<()>, CancellationToken)> {
        let cfg = self.config()?;
        let stop = CancellationToken::new();
        let s = stop.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = nopbridge_connector_sink::run(cfg, s).await {
                eprintln!("sink stopped with error: {e}");
            }
        });
        Ok((task, stop))
    }

    pub async fn send(&self, cmds: &[Command]) -> Result<()> {
        for c in cmds {
            let payload = c.encode_to_vec();
            self.producer
                .send(OutgoingRecord::new(
                    &self.commands_topic,
                    c.connection_id.as_bytes(),
                    &payload,
                ))
                .await?;
        }
        Ok(())
    }

    /// Results of this test's connection, latest per command id.
    pub async fn results(&self) -> Result<Vec<CommandResult>> {
        let records = read_topic(
            &self.kafka,
            nopbridge_runtime::topics::SINK_RESULTS,
            1_000_000,
            Duration::from_millis(1500),
        )
        .await?;
        Ok(records
            .iter()
            .filter_map(|r| CommandResult::decode(r.payload()).ok())
            .filter(|r| r.connection_id == self.connection)
            .collect())
    }

    /// Polls until `want` distinct commands have a result (bounded).
    pub async fn wait_results(&self, want: usize, within: Duration) -> Result<Vec<CommandResult>> {
        let end = tokio::time::Instant::now() + within;
        loop {
            let rs = self.results().await?;
            let mut ids: Vec<&str> = rs.iter().map(|r| r.command_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.len() >= want {
                return Ok(rs);
            }
            if tokio::time::Instant::now() > end {
                bail!("only {} of {want} results within {within:?}", ids.len());
            }
        }
    }

    pub async fn dead_letters(&self) -> Result<Vec<Record>> {
        Ok(read_topic(
            &self.kafka,
            &self.dlq_topic,
            100_000,
            Duration::from_millis(1500),
        )
        .await?)
    }

    /// A change made by a person in QuickBooks (straight to the emulator's API).
    pub async fn emu_post(&self, path: &str, body: Value) -> Result<Value> {
        let token = self.emu.handle().issue_tokens(&self.realm).access_token;
        let resp = reqwest::Client::new()
            .post(format!("{}/{path}", self.emu.company_url(&self.realm)))
            .bearer_auth(token)
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    }

    pub fn entities(&self, entity: &str) -> Vec<Value> {
        self.emu.handle().entities(&self.realm, entity)
    }

    /// Polls the emulator until `pred` holds for the entity list (bounded).
    pub async fn wait_entities(
        &self,
        entity: &str,
        within: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        let end = tokio::time::Instant::now() + within;
        loop {
            let all = self.entities(entity);
            if pred(&all) {
                return Ok(all);
            }
            if tokio::time::Instant::now() > end {
                bail!(
                    "{entity}: condition not met within {within:?} ({} objects)",
                    all.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A command as the consumer loop would hand it to the handler.
pub fn record(cmd: &Command, offset: i64) -> Record {
    Record {
        topic: "sink.quickbooks_online.commands.v1".into(),
        partition: 0,
        offset,
        key: Some(cmd.connection_id.as_bytes().to_vec()),
        payload: Some(cmd.encode_to_vec()),
        headers: vec![],
        timestamp_ms: None,
    }
}

/// The sale of a PostSale command.
pub fn sale_of(cmd: &mut Command) -> &mut PostSale {
    match &mut cmd.body {
        Some(Body::PostSale(s)) => s,
        _ => panic!("not a PostSale"),
    }
}

pub fn usd(minor: i64) -> Option<Money> {
    Some(Money {
        minor_units: minor,
        currency: "USD".into(),
    })
}

pub fn money(minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        minor_units: minor,
        currency: currency.into(),
    })
}

pub fn command_id(connection: &str, n: u64, what: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("{connection}/{n}/{what}").as_bytes(),
    )
    .to_string()
}

pub fn product(
    n: u32,
    sku: &str,
    name: &str,
    qty: i64,
    amount: i64,
    currency: &str,
    taxed: bool,
) -> DocumentLine {
    DocumentLine {
        line_number: n,
        kind: LineKind::Product as i32,
        item: Some(ItemRef {
            sku: sku.into(),
            name: name.into(),
            ..ItemRef::default()
        }),
        description: name.into(),
        quantity: qty,
        amount: money(amount, currency),
        tax_code: if taxed { "TAX".into() } else { "NON".into() },
        ..DocumentLine::default()
    }
}

pub fn shipping(n: u32, amount: i64, currency: &str) -> DocumentLine {
    DocumentLine {
        line_number: n,
        kind: LineKind::Shipping as i32,
        quantity: 1,
        amount: money(amount, currency),
        tax_code: "NON".into(),
        description: "Shipping".into(),
        ..DocumentLine::default()
    }
}

/// A paid-at-sale order: 2 products (one taxed), shipping, cart tax as the total override.
pub fn order(connection: &str, n: u64, customer: &str, email: &str) -> Command {
    let lines = vec![
        product(
            1,
            "TEE-1",
            "Organic tee",
            2,
            2500 + (n as i64 % 7) * 100,
            "USD",
            true,
        ),
        product(2, "MUG-1", "Mug 12oz", 1, 1250, "USD", false),
        shipping(3, 795, "USD"),
    ];
    let tax = 412 + (n as i64 % 5);
    sale(
        connection,
        n,
        customer,
        email,
        "USD",
        None,
        lines,
        tax,
        SaleDocumentKind::SalesReceipt,
    )
}

#[allow(clippy::too_many_arguments)]
pub fn sale(
    connection: &str,
    n: u64,
    customer: &str,
    email: &str,
    currency: &str,
    rate: Option<(i64, u32)>,
    lines: Vec<DocumentLine>,
    tax: i64,
    kind: SaleDocumentKind,
) -> Command {
    let net: i64 = lines
        .iter()
        .map(|l| l.amount.as_ref().map(|m| m.minor_units).unwrap_or(0))
        .sum();
    let total = net + tax;
    Command {
        command_id: command_id(connection, n, "post_sale"),
        connection_id: connection.into(),
        target: TargetKind::QuickbooksOnline as i32,
        tenant_id: "acme".into(),
        store_id: "1".into(),
        source_event_ids: vec![format!("evt-{n}")],
        order: Some(OrderReference {
            order_id: n as i64,
            order_guid: format!("guid-{n}"),
            order_number: n.to_string(),
            document_number: format!("WEB-{n}"),
            ..OrderReference::default()
        }),
        body: Some(Body::PostSale(PostSale {
            kind: kind as i32,
            customer: Some(CustomerRef {
                email: email.into(),
                display_name: customer.into(),
                store_customer_id: (n % 1000 + 1).to_string(),
                currency: currency.into(),
                ..CustomerRef::default()
            }),
            customer_name: Some(PartyName {
                display_name: customer.into(),
                full_name: customer.into(),
                ..PartyName::default()
            }),
            currency: currency.into(),
            exchange_rate: Some(ExchangeRate {
                document_currency: currency.into(),
                home_currency: "USD".into(),
                home_per_document: Some(match rate {
                    Some((u, s)) => Decimal { units: u, scale: s },
                    None => Decimal { units: 1, scale: 0 },
                }),
                ..ExchangeRate::default()
            }),
            lines,
            tax: Some(TaxDetail {
                mode: TaxMode::UsSalesTax as i32,
                total_tax: money(tax, currency),
                apply_tax_after_discount: true,
                ..TaxDetail::default()
            }),
            total: money(total, currency),
            tenders: vec![Tender {
                kind: TenderKind::Payment as i32,
                amount: money(total, currency),
                payment_method: "Visa".into(),
                ..Tender::default()
            }],
            txn_date: "2026-11-20".into(),
            ..PostSale::default()
        })),
        ..Command::default()
    }
}

pub fn total_of(c: &Command) -> i64 {
    match &c.body {
        Some(Body::PostSale(s)) => s.total.as_ref().map(|m| m.minor_units).unwrap_or(0),
        _ => 0,
    }
}

/// TotalAmt of an emulator object in cents.
pub fn cents(v: &Value) -> Result<i64> {
    let s = v.get("TotalAmt").context("no TotalAmt")?.to_string();
    let d: rust_decimal::Decimal = s.parse().map_err(|e| anyhow!("{s}: {e}"))?;
    use rust_decimal::prelude::ToPrimitive;
    (d * rust_decimal::Decimal::from(100))
        .round()
        .to_i64()
        .context("cents")
}

pub fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}
