//! Shared harness for the KashFlow and Dynamics GP tests: a real broker, a fresh database,
//! the sink in process on a unique command topic, and VAT order builders. The emulators are
//! started by each test file (the `[service]` section is theirs).
#![allow(dead_code)]

use anyhow::{bail, Result};
use nopbridge_connector_sink::Config;
use nopbridge_kafka::{
    ensure_topics, read_topic, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec,
};
use nopbridge_proto::commands::v1::{
    command::Body, ApplyPayment, Command, CommandResult, CustomerRef, DocumentLine, ExchangeRate,
    ItemRef, LineKind, OrderReference, PartyName, PostSale, ResultStatus, SaleDocumentKind,
    TargetKind, TaxDetail, TaxMode, Tender, TenderKind,
};
use nopbridge_proto::events::v1::{Decimal, Money};
use nopbridge_testkit::{unique, Broker, TestDb};
use prost::Message;
use std::{path::PathBuf, time::Duration};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Orders per end-to-end test (`NB_SINK_ORDERS`, default 200).
pub fn order_count() -> u64 {
    std::env::var("NB_SINK_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(200)
}

pub struct Sink {
    pub broker: Broker,
    pub db: TestDb,
    pub kafka: KafkaConfig,
    pub producer: Producer,
    pub connection: String,
    pub commands_topic: String,
    pub dlq_topic: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Sink {
    /// Broker, database and topics; `service` is the target's `[[service.<target>]]` section
    /// for `connection` (after `[service]` with the database).
    pub async fn start(target: &str, service: impl Fn(&str) -> String) -> Result<Self> {
        let broker = Broker::start().await?;
        let kafka = broker.kafka_config();
        let db = TestDb::create().await?;
        let connection = unique(target);
        let commands_topic = unique(&format!("sink.{target}.commands"));
        let dlq_topic = unique("dlq.connector_sink");
        let group = unique("sink");
        ensure_topics(
            &kafka,
            &[
                TopicSpec::new(&commands_topic, 3),
                TopicSpec::new(&dlq_topic, 1),
                TopicSpec::new(nopbridge_runtime::topics::SINK_RESULTS, 3),
            ],
        )
        .await?;
        let producer = Producer::new(&kafka)?;
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("connector-sink.toml");
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
concurrency = 32
[consumer.retry]
max_attempts = 50
initial_backoff_ms = 20
max_backoff_ms = 500
[service]
database_url = "{db}"
prerequisite_requeues = 4
prerequisite_first_wait_ms = 50
{section}
"#,
            bootstrap = broker.bootstrap(),
            db = db.url,
            section = service(&connection),
        );
        std::fs::write(&config_path, toml)?;
        Ok(Self {
            broker,
            db,
            kafka,
            producer,
            connection,
            commands_topic,
            dlq_topic,
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

    /// Results of this test's connection.
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

    /// Statuses of one command's results so far, in the order they were written.
    pub async fn statuses(&self, cmd: &Command) -> Result<Vec<ResultStatus>> {
        Ok(self
            .results()
            .await?
            .iter()
            .filter(|r| r.command_id == cmd.command_id)
            .map(|r| r.status())
            .collect())
    }

    /// Sends `cmds` and waits (bounded) until each has `n` results.
    pub async fn deliver(&self, cmds: &[Command], n: usize) -> Result<()> {
        self.send(cmds).await?;
        let end = tokio::time::Instant::now() + Duration::from_secs(60);
        for c in cmds {
            while self.statuses(c).await?.len() < n {
                if tokio::time::Instant::now() > end {
                    bail!("command {} has fewer than {n} results", c.command_id);
                }
            }
        }
        Ok(())
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
}

pub fn command_id(connection: &str, n: u64, what: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("{connection}/{n}/{what}").as_bytes(),
    )
    .to_string()
}

pub fn money(minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        minor_units: minor,
        currency: currency.into(),
    })
}

/// VAT on a net amount at a whole percent, rounded half away from zero.
pub fn vat(net: i64, percent: i64) -> i64 {
    let x = net * percent;
    (x + x.signum() * 50) / 100
}

/// A line with its VAT (rate in whole percent).
pub fn vat_line(
    n: u32,
    kind: LineKind,
    sku: &str,
    qty: i64,
    net: i64,
    percent: i64,
) -> DocumentLine {
    DocumentLine {
        line_number: n,
        kind: kind as i32,
        item: (!sku.is_empty()).then(|| ItemRef {
            sku: sku.into(),
            name: format!("Product {sku}"),
            ..ItemRef::default()
        }),
        description: if sku.is_empty() {
            "Shipping".into()
        } else {
            format!("Product {sku}")
        },
        quantity: qty,
        amount: money(net, "GBP"),
        tax_amount: money(vat(net, percent), "GBP"),
        tax_rate_percent: Some(Decimal {
            units: percent,
            scale: 0,
        }),
        ..DocumentLine::default()
    }
}

/// A UK order: two products (20 % and 5 %) and shipping (20 %), VAT per line. Every fifth
/// order is an invoice paid later; the rest are paid at sale.
pub fn vat_order(connection: &str, target: TargetKind, n: u64, people: u64) -> Command {
    let who = n % people;
    let lines = vec![
        vat_line(
            1,
            LineKind::Product,
            "TEE-1",
            2,
            2500 + (n as i64 % 7) * 100 + 1,
            20,
        ),
        vat_line(
            2,
            LineKind::Product,
            "MUG-1",
            1 + (n as i64 % 3),
            1250 * (1 + (n as i64 % 3)),
            5,
        ),
        vat_line(3, LineKind::Shipping, "", 1, 399 + (n as i64 % 4), 20),
    ];
    let kind = if n.is_multiple_of(5) {
        SaleDocumentKind::Invoice
    } else {
        SaleDocumentKind::SalesReceipt
    };
    sale(connection, target, n, who, lines, kind)
}

pub fn sale(
    connection: &str,
    target: TargetKind,
    n: u64,
    who: u64,
    lines: Vec<DocumentLine>,
    kind: SaleDocumentKind,
) -> Command {
    let net: i64 = lines
        .iter()
        .map(|l| l.amount.as_ref().map_or(0, |m| m.minor_units))
        .sum();
    let tax: i64 = lines
        .iter()
        .map(|l| l.tax_amount.as_ref().map_or(0, |m| m.minor_units))
        .sum();
    let total = net + tax;
    Command {
        command_id: command_id(connection, n, "post_sale"),
        connection_id: connection.into(),
        target: target as i32,
        tenant_id: "acme".into(),
        store_id: "uk".into(),
        source_event_ids: vec![format!("evt-{n}")],
        order: Some(order_ref(n)),
        body: Some(Body::PostSale(PostSale {
            kind: kind as i32,
            customer: Some(CustomerRef {
                email: format!("person{who}@example.co.uk"),
                display_name: format!("Person {who}"),
                store_customer_id: (who + 1).to_string(),
                currency: "GBP".into(),
                ..CustomerRef::default()
            }),
            customer_name: Some(PartyName {
                given_name: "Person".into(),
                family_name: who.to_string(),
                display_name: format!("Person {who}"),
                full_name: format!("Person {who}"),
                ..PartyName::default()
            }),
            currency: "GBP".into(),
            exchange_rate: Some(ExchangeRate {
                document_currency: "GBP".into(),
                home_currency: "GBP".into(),
                home_per_document: Some(Decimal { units: 1, scale: 0 }),
                ..ExchangeRate::default()
            }),
            lines,
            tax: Some(TaxDetail {
                mode: TaxMode::Vat as i32,
                total_tax: money(tax, "GBP"),
                ..TaxDetail::default()
            }),
            total: money(total, "GBP"),
            tenders: if kind == SaleDocumentKind::SalesReceipt {
                vec![Tender {
                    kind: TenderKind::Payment as i32,
                    amount: money(total, "GBP"),
                    payment_method: "VISA".into(),
                    reference: format!("pi_{n}"),
                    ..Tender::default()
                }]
            } else {
                vec![]
            },
            txn_date: "2026-11-20".into(),
            ..PostSale::default()
        })),
        ..Command::default()
    }
}

pub fn order_ref(n: u64) -> OrderReference {
    OrderReference {
        order_id: n as i64,
        order_guid: format!("guid-{n}"),
        order_number: n.to_string(),
        document_number: format!("WEB{n:06}"),
        ..OrderReference::default()
    }
}

/// The later payment of an invoice order.
pub fn payment(connection: &str, target: TargetKind, n: u64, amount: i64, method: &str) -> Command {
    Command {
        command_id: command_id(connection, n, "apply_payment"),
        connection_id: connection.into(),
        target: target as i32,
        tenant_id: "acme".into(),
        store_id: "uk".into(),
        source_event_ids: vec![format!("evt-pay-{n}")],
        order: Some(order_ref(n)),
        body: Some(Body::ApplyPayment(ApplyPayment {
            amount: money(amount, "GBP"),
            tender: Some(Tender {
                kind: TenderKind::Payment as i32,
                amount: money(amount, "GBP"),
                payment_method: method.into(),
                reference: format!("late_{n}"),
                ..Tender::default()
            }),
            payment_date: "2026-11-21".into(),
            ..ApplyPayment::default()
        })),
        ..Command::default()
    }
}

pub fn total_of(c: &Command) -> i64 {
    match &c.body {
        Some(Body::PostSale(s)) => s.total.as_ref().map_or(0, |m| m.minor_units),
        _ => 0,
    }
}

pub fn sale_of(cmd: &mut Command) -> &mut PostSale {
    match &mut cmd.body {
        Some(Body::PostSale(s)) => s,
        _ => panic!("not a PostSale"),
    }
}

/// A JSON amount (number or string) in cents.
pub fn cents(v: &serde_json::Value) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    let s = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let d: rust_decimal::Decimal = s.trim().parse().ok()?;
    (d * rust_decimal::Decimal::from(100)).round().to_i64()
}

/// The real sink binary on this harness's config (killed with SIGKILL by the tests).
pub fn spawn_binary(sink: &Sink) -> std::io::Result<std::process::Child> {
    std::process::Command::new(env!("CARGO_BIN_EXE_nopbridge-connector-sink"))
        .arg("--config")
        .arg(&sink.config_path)
        .env("RUST_LOG", "warn")
        .spawn()
}

/// Polls `count` until it reaches `at_least` (bounded).
pub async fn wait_count(
    what: &str,
    at_least: usize,
    within: Duration,
    count: impl Fn() -> usize,
) -> Result<usize> {
    let end = tokio::time::Instant::now() + within;
    loop {
        let n = count();
        if n >= at_least {
            return Ok(n);
        }
        if tokio::time::Instant::now() > end {
            bail!("{what}: {n} of {at_least} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
