//! Daily summaries end to end in transform, on the real broker and PostgreSQL, with the
//! closer's clock moved by hand: orders of two business days are collected (the latest
//! version of each), a day closes once its time has come and posts one summary per payment
//! method, redeliveries and a restart post nothing new, late orders and late changes are
//! dead-lettered with what to do, an operator closes the other day early, and a close cut
//! short after producing posts the very same commands again.
use anyhow::{bail, Context, Result};
use chrono::DateTime;
use nopbridge_kafka::{
    ensure_topics, read_topic, CloudEvent, KafkaConfig, OutgoingRecord, Producer, Record, TopicSpec,
};
use nopbridge_proto::{
    commands::v1::{command::Body, Command, PostSale},
    control::v1::{
        control_client::ControlClient, summaries_client::SummariesClient, CloseDayRequest,
        DayState, ListDaysRequest, StatusRequest, SummaryDay,
    },
    events::v1 as ev,
};
use nopbridge_testkit::{
    orders::{paid_order, timestamp, usd},
    unique, Broker, TestDb,
};
use prost::Message;
use sqlx::Connection as _;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::{future::Future, net::TcpListener, path::Path, time::Duration};
use tonic::transport::Channel;

/// 2024-03-14T09:21:07Z: the 14th in the connection's UTC-5.
const DAY1_PAID: i64 = 1_710_408_067;
const DAY2_PAID: i64 = DAY1_PAID + 86_400;
/// 2024-03-15T04:00Z: the 14th has not ended in UTC-5 (it ends at 05:00Z).
const START: i64 = 1_710_475_200;
/// 2024-03-15T06:30Z: the 14th ended and its hour of grace is over; the 15th is still on.
const AFTER_DAY1: i64 = 1_710_484_200;
const CONN: &str = "qbo-realm-1";

/// The shared paid order with shipping as given; `total` is what the order claims (8000 +
/// shipping + 710 balances); `version` orders versions of one order by `ingested_at`.
fn order(id: i64, paid: i64, method: &str, shipping: i64, total: i64, version: i64) -> ev::Order {
    let base = paid_order(id, paid);
    ev::Order {
        meta: Some(ev::EventMeta {
            event_id: format!("evt-{id}-{version}"),
            ingested_at: timestamp(paid + version),
            ..base.meta.clone().unwrap_or_default()
        }),
        payment_method_system_name: method.into(),
        shipping_excl_tax: usd(shipping),
        shipping_incl_tax: usd(shipping),
        order_total: usd(total),
        ..base
    }
}

fn paid(id: i64, day: i64, method: &str) -> ev::Order {
    order(id, day, method, 800, 9510, 1)
}

/// The example mapping as a daily-summary connection (UTC-5, an hour of grace).
fn summary_mapping() -> Result<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/mapping/examples/connection.yaml");
    let text = std::fs::read_to_string(path)?;
    let text = text
        .replace("mode: per_order ", "mode: daily_summary")
        .replace("  # close_after_minutes: 60 ", "  close_after_minutes: 60")
        .replace("fixed_customer: \"\"", "fixed_customer: \"Web Sales\"");
    if !text.contains("close_after_minutes: 60") || !text.contains("daily_summary") {
        bail!("the example mapping changed; adapt the test's edits");
    }
    Ok(text)
}

#[derive(Clone)]
struct Harness {
    kafka: KafkaConfig,
    producer: Producer,
    source: String,
    commands: String,
    dlq: String,
    config: std::path::PathBuf,
    clock: Arc<AtomicI64>,
    port: u16,
    /// Highest offset produced per partition of the source topic.
    sent: BTreeMap<i32, i64>,
}

/// What a test's transforms share: the broker, the database, the topics and the files.
struct Fixture {
    _broker: Broker,
    db: TestDb,
    dir: tempfile::TempDir,
    bootstrap: String,
    group: String,
    mapping: std::path::PathBuf,
    suffix: String,
}

impl Fixture {
    /// A transform config listening on a port of its own (same group, topics and database).
    fn replica(&self, h: &Harness, name: &str, check_ms: u64) -> Result<Harness> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[kafka]\nbootstrap_servers = \"{}\"\n[grpc]\nlisten = \"127.0.0.1:{port}\"\n\
                 [consumer]\ngroup_id = \"{}\"\ntopics = [\"{}\"]\ndlq_topic = \"{}\"\n\
                 commit_interval_ms = 100\n\
                 [service]\nmapping_files = [\"{}\"]\ncommand_topic_suffix = \"{}\"\n\
                 database_url = \"{}\"\nsummary_check_interval_ms = {check_ms}\n",
                self.bootstrap,
                self.group,
                h.source,
                h.dlq,
                self.mapping.display(),
                self.suffix,
                self.db.url,
            ),
        )?;
        Ok(Harness {
            config,
            port,
            ..h.clone()
        })
    }
}

/// A broker, a database, the topics and one transform's config (not started).
async fn fixture(check_ms: u64) -> Result<(Fixture, Harness)> {
    let broker = Broker::start().await?;
    let db = TestDb::create().await?;
    let kafka = broker.kafka_config();
    let (source, suffix, dlq) = (
        unique("canonical.order"),
        format!("-{}", unique("t")),
        unique("dlq.transform"),
    );
    let commands = format!("sink.quickbooks_online.commands.v1{suffix}");
    ensure_topics(
        &kafka,
        &[
            TopicSpec::new(&source, 2),
            TopicSpec::new(&commands, 1),
            TopicSpec::new(&dlq, 1),
        ],
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let mapping = dir.path().join("qbo.yaml");
    std::fs::write(&mapping, summary_mapping()?)?;
    let f = Fixture {
        bootstrap: broker.bootstrap().to_string(),
        _broker: broker,
        db,
        dir,
        group: unique("transform"),
        mapping,
        suffix,
    };
    let base = Harness {
        producer: Producer::new(&kafka)?,
        kafka,
        source,
        commands,
        dlq,
        config: std::path::PathBuf::new(),
        clock: Arc::new(AtomicI64::new(START)),
        port: 0,
        sent: BTreeMap::new(),
    };
    let h = f.replica(&base, "transform", check_ms)?;
    Ok((f, h))
}

impl Harness {
    async fn send(&mut self, o: &ev::Order, headers: &[(&str, &str)]) -> Result<()> {
        let payload = o.encode_to_vec();
        let ce = CloudEvent::protobuf(
            o.meta
                .as_ref()
                .map(|m| m.event_id.clone())
                .unwrap_or_default(),
            "test",
            "nopbridge.events.v1.Order",
        );
        let key = format!("acme/1/order/{}", o.order_id);
        let mut out = OutgoingRecord::new(&self.source, key.as_bytes(), &payload).event(&ce, None);
        for (k, v) in headers {
            out = out.header(*k, v.as_bytes().to_vec());
        }
        let (p, offset) = self.producer.send(out).await?;
        let e = self.sent.entry(p).or_insert(offset);
        *e = (*e).max(offset);
        Ok(())
    }

    fn start(
        &self,
    ) -> Result<(
        nopbridge_kafka::CancellationToken,
        tokio::task::JoinHandle<()>,
    )> {
        let cfg: nopbridge_transform::Config =
            nopbridge_runtime::config::load(Some(self.config.clone()))?;
        let stop = nopbridge_kafka::CancellationToken::new();
        let clock = self.clock.clone();
        let run = tokio::spawn(nopbridge_transform::run_with_clock(
            cfg,
            Arc::new(move || {
                DateTime::from_timestamp(clock.load(Ordering::SeqCst), 0).unwrap_or_default()
            }),
            stop.clone(),
        ));
        let run = tokio::spawn(async move {
            match run.await {
                Ok(Err(e)) => eprintln!("transform stopped: {e}"),
                Err(e) => eprintln!("transform panicked: {e}"),
                Ok(Ok(())) => {}
            }
        });
        Ok((stop, run))
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn summaries(&self) -> Result<SummariesClient<Channel>> {
        eventually("transform serving", || async {
            Ok(SummariesClient::connect(self.url()).await.ok())
        })
        .await
    }

    /// Waits until transform has handled and committed everything sent so far.
    async fn handled(&self) -> Result<()> {
        let control = eventually("transform serving", || async {
            Ok(ControlClient::connect(self.url()).await.ok())
        })
        .await?;
        eventually("every record sent handled and committed", || {
            let mut control = control.clone();
            async move {
                let s = control.status(StatusRequest {}).await?.into_inner();
                let done = self.sent.iter().all(|(p, o)| {
                    s.lag.iter().any(|l| {
                        l.topic == self.source && l.partition == *p && l.committed_offset > *o
                    })
                });
                Ok(done.then_some(()))
            }
        })
        .await
    }

    async fn days(&self) -> Result<Vec<SummaryDay>> {
        let mut api = self.summaries().await?;
        Ok(api
            .list_days(ListDaysRequest {
                connection_id: CONN.into(),
                include_closed: true,
                limit: 0,
            })
            .await?
            .into_inner()
            .days)
    }

    async fn day(&self, date: &str) -> Result<Option<SummaryDay>> {
        Ok(self
            .days()
            .await?
            .into_iter()
            .find(|d| d.business_date == date))
    }

    /// Every record on a topic (what is there now: each read ends after 5 s of nothing).
    async fn all(&self, topic: &str) -> Result<Vec<Record>> {
        Ok(read_topic(&self.kafka, topic, 1000, Duration::from_secs(5)).await?)
    }
}

/// Polls `check` until it gives Some (every 100 ms, at most a minute).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > end {
            bail!("{what}: not within a minute");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sale(cmd: &Command) -> Option<&PostSale> {
    match &cmd.body {
        Some(Body::PostSale(s)) => Some(s),
        _ => None,
    }
}

/// A summary command: (date, payment method) → (command id, total, included orders).
type Posted = ((String, String), (String, i64, Vec<i64>));

fn summaries(records: &[Record]) -> Vec<Posted> {
    records
        .iter()
        .filter_map(|r| Command::decode(r.payload()).ok())
        .filter_map(|c| {
            let s = sale(&c)?;
            let k = s.summary.as_ref()?;
            Some((
                (k.date.clone(), k.store_payment_method.clone()),
                (
                    c.command_id.clone(),
                    s.total.as_ref().map_or(0, |t| t.minor_units),
                    c.order
                        .as_ref()
                        .map(|o| o.included_order_ids.clone())
                        .unwrap_or_default(),
                ),
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_close_once_post_one_summary_per_group_and_late_orders_are_dead_lettered() -> Result<()>
{
    let (f, mut h) = fixture(100).await?;
    let (stop, run) = h.start()?;

    // Day 1 (2024-03-14): 1003 arrives first as a card payment, then paid by PayPal (its
    // latest version counts); 1004 does not balance; 1005 is not paid. Day 2: two orders.
    h.send(&paid(1001, DAY1_PAID, "Payments.Manual"), &[])
        .await?;
    h.send(&paid(1002, DAY1_PAID, "Payments.Manual"), &[])
        .await?;
    h.send(&paid(1003, DAY1_PAID, "Payments.Manual"), &[])
        .await?;
    h.send(
        &order(1003, DAY1_PAID, "Payments.PayPalCommerce", 800, 9510, 2),
        &[],
    )
    .await?;
    h.send(
        &order(1004, DAY1_PAID, "Payments.Manual", 800, 9999, 1),
        &[],
    )
    .await?;
    let mut unpaid = paid(1005, DAY1_PAID, "Payments.Manual");
    unpaid.payment_status = ev::PaymentStatus::Pending as i32;
    h.send(&unpaid, &[]).await?;
    h.send(&paid(2001, DAY2_PAID, "Payments.Manual"), &[])
        .await?;
    h.send(&paid(2002, DAY2_PAID, "Payments.Manual"), &[])
        .await?;
    h.handled().await?;

    let d1 = h.day("2024-03-14").await?.context("day 1 collected")?;
    assert_eq!((d1.state(), d1.orders), (DayState::Open, 3), "{d1:?}");
    // The 14th ends at 05:00Z (UTC-5) and an hour of grace follows.
    assert_eq!(
        d1.closes_at.as_ref().map(|t| t.seconds),
        Some(1_710_482_400)
    );
    let d2 = h.day("2024-03-15").await?.context("day 2 collected")?;
    assert_eq!((d2.state(), d2.orders), (DayState::Open, 2), "{d2:?}");
    assert!(
        summaries(&h.all(&h.commands).await?).is_empty(),
        "nothing is posted before a day closes"
    );

    // Time passes: day 1 is due, day 2 is not.
    h.clock.store(AFTER_DAY1, Ordering::SeqCst);
    let d1 = eventually("day 1 closed", || async {
        Ok(h.day("2024-03-14")
            .await?
            .filter(|d| d.state() == DayState::Closed))
    })
    .await?;
    assert_eq!((d1.summaries, d1.orders, d1.dead_lettered), (2, 3, 0));
    assert_eq!(d1.closed_by, "schedule");
    let posted = h.all(&h.commands).await?;
    let mut got = summaries(&posted);
    got.sort();
    let want = vec![
        (
            ("2024-03-14".to_string(), "Payments.Manual".to_string()),
            (19_020, vec![1001, 1002]),
        ),
        (
            (
                "2024-03-14".to_string(),
                "Payments.PayPalCommerce".to_string(),
            ),
            (9_510, vec![1003]),
        ),
    ];
    assert_eq!(
        got.iter()
            .map(|(k, (_, total, ids))| (k.clone(), (*total, ids.clone())))
            .collect::<Vec<_>>(),
        want,
        "one summary per payment method, from each order's latest version"
    );
    for r in &posted {
        assert_eq!(r.key_str(), CONN);
        let ce = r.cloud_event().context("CloudEvents headers")?;
        assert_eq!(ce.event_type, "nopbridge.commands.v1.Command");
        assert_eq!(ce.subject.as_deref(), Some("daily_summary/2024-03-14"));
        assert!(r.trace_context().is_some(), "traceparent");
    }
    assert_eq!(
        h.day("2024-03-15").await?.map(|d| d.state()),
        Some(DayState::Open)
    );
    // Status names the connection's open days (and when they close) as its health.
    let health = eventually("Status shows the open day", || async {
        let mut control = ControlClient::connect(h.url()).await?;
        let s = control.status(StatusRequest {}).await?.into_inner();
        Ok(s.connectors
            .into_iter()
            .find(|c| c.connection_id == CONN && c.detail.contains("2024-03-15 open")))
    })
    .await?;
    assert!(
        health.detail.contains("2 orders, closes 2024-03-16T06:00Z")
            && health.last_success_at.is_some(),
        "{health:?}"
    );

    // Redeliveries of day 1 post nothing and dead-letter nothing; 1001 shipped changes
    // nothing in its summary; a new order and a changed one for the closed day are late.
    for o in [
        paid(1001, DAY1_PAID, "Payments.Manual"),
        paid(1002, DAY1_PAID, "Payments.Manual"),
        order(1003, DAY1_PAID, "Payments.PayPalCommerce", 800, 9510, 2),
        paid(2001, DAY2_PAID, "Payments.Manual"),
    ] {
        h.send(&o, &[]).await?;
    }
    let mut shipped = order(1001, DAY1_PAID, "Payments.Manual", 800, 9510, 3);
    shipped.shipping_status = ev::ShippingStatus::Shipped as i32;
    h.send(&shipped, &[]).await?;
    h.send(&paid(1006, DAY1_PAID, "Payments.Manual"), &[])
        .await?;
    h.send(
        &order(1002, DAY1_PAID, "Payments.Manual", 1200, 9910, 4),
        &[],
    )
    .await?;
    h.handled().await?;

    // A restart posts nothing new either, and the redelivered records change nothing.
    stop.cancel();
    run.await?;
    let (stop, run) = h.start()?;
    h.send(&paid(2002, DAY2_PAID, "Payments.Manual"), &[])
        .await?;
    // A redelivered dead-lettered version is not dead-lettered twice.
    h.send(&paid(1006, DAY1_PAID, "Payments.Manual"), &[])
        .await?;
    h.handled().await?;
    assert_eq!(
        summaries(&h.all(&h.commands).await?).len(),
        2,
        "no summary posted twice, nothing posted for the open day"
    );

    // An operator closes day 2 before it ends: refused unless asked for explicitly.
    let mut api = h.summaries().await?;
    let early = api
        .close_day(CloseDayRequest {
            connection_id: CONN.into(),
            business_date: "2024-03-15".into(),
            before_day_end: false,
        })
        .await
        .expect_err("day 2 has not ended");
    assert_eq!(early.code(), tonic::Code::FailedPrecondition);
    assert!(early.message().contains("before_day_end"), "{early:?}");
    let future = api
        .close_day(CloseDayRequest {
            connection_id: CONN.into(),
            business_date: "2024-03-16".into(),
            before_day_end: true,
        })
        .await
        .expect_err("the 16th has not started");
    assert!(future.message().contains("not started"), "{future:?}");
    let closed = api
        .close_day(CloseDayRequest {
            connection_id: CONN.into(),
            business_date: "2024-03-15".into(),
            before_day_end: true,
        })
        .await?
        .into_inner();
    assert!(closed.closed_now);
    let d2 = closed.day.context("the day")?;
    assert_eq!(
        (d2.state(), d2.summaries, d2.orders, d2.closed_by.as_str()),
        (DayState::Closed, 1, 2, "operator")
    );
    let again = api
        .close_day(CloseDayRequest {
            connection_id: CONN.into(),
            business_date: "2024-03-15".into(),
            before_day_end: true,
        })
        .await?
        .into_inner();
    assert!(!again.closed_now, "closing a closed day posts nothing");
    let posted = h.all(&h.commands).await?;
    let mut got = summaries(&posted);
    got.sort();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        (got[0].0.clone(), got[0].1 .1, got[0].1 .2.clone()),
        (
            ("2024-03-14".to_string(), "Payments.Manual".to_string()),
            19_020,
            vec![1001, 1002]
        )
    );
    assert_eq!(
        (got[2].0.clone(), got[2].1 .1, got[2].1 .2.clone()),
        (
            ("2024-03-15".to_string(), "Payments.Manual".to_string()),
            19_020,
            vec![2001, 2002]
        )
    );

    // A replayed late order is looked at again (and is still late).
    h.send(
        &paid(1006, DAY1_PAID, "Payments.Manual"),
        &[("nopbridge_replay_of", "dlq/0/1")],
    )
    .await?;
    h.handled().await?;

    // Dead letters: the order that does not balance (at once, with what to do before the
    // day closes), the late order (twice: once more for its replay) and the late change.
    let dead: Vec<(i64, String, String)> = h
        .all(&h.dlq)
        .await?
        .iter()
        .map(|d| {
            (
                ev::Order::decode(d.payload()).map_or(0, |o| o.order_id),
                d.header_str("dlq_error_class").unwrap_or_default(),
                d.header_str("dlq_error_message").unwrap_or_default(),
            )
        })
        .collect();
    let mut classes: Vec<(i64, &str)> = dead.iter().map(|(id, c, _)| (*id, c.as_str())).collect();
    classes.sort();
    assert_eq!(
        classes,
        vec![
            (1002, "late_change"),
            (1004, "imbalance"),
            (1006, "late_order"),
            (1006, "late_order"),
        ],
        "{dead:#?}"
    );
    let reason = |id: i64, class: &str| {
        dead.iter()
            .find(|(i, c, _)| *i == id && c == class)
            .map(|(_, _, r)| r.clone())
            .unwrap_or_default()
    };
    let r = reason(1004, "imbalance");
    assert!(
        r.contains("replay this dead letter before the day closes"),
        "{r}"
    );
    let r = reason(1006, "late_order");
    assert!(
        r.contains("day 2024-03-14 of connection qbo-realm-1") && r.contains("by hand"),
        "{r}"
    );
    let r = reason(1002, "late_change");
    assert!(r.contains("changed since") && r.contains("by hand"), "{r}");

    // A close cut short after producing (the day still `closing`) produces the very same
    // commands again, which the sinks take once.
    let mut pg = sqlx::PgConnection::connect(&f.db.url).await?;
    sqlx::query(
        "UPDATE summary_days SET state = 'closing', closed_at = NULL \
         WHERE connection_id = $1 AND business_date = '2024-03-15'",
    )
    .bind(CONN)
    .execute(&mut pg)
    .await?;
    eventually("day 2 closed again", || async {
        Ok(h.day("2024-03-15")
            .await?
            .filter(|d| d.state() == DayState::Closed))
    })
    .await?;
    let again = h.all(&h.commands).await?;
    assert_eq!(again.len(), posted.len() + 1);
    let (first, second) = (&posted[posted.len() - 1], &again[again.len() - 1]);
    assert_eq!(
        first.payload(),
        second.payload(),
        "the same command, byte for byte"
    );

    stop.cancel();
    run.await?;
    Ok(())
}

/// Two transforms on one database, their closers racing every 20 ms: each day is closed by
/// one of them, and each summary produced once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_close_each_day_once() -> Result<()> {
    let (f, mut h) = fixture(20).await?;
    let other = f.replica(&h, "replica-2", 20)?;
    let (stop1, run1) = h.start()?;
    let (stop2, run2) = other.start()?;
    // Four days, two payment methods, three orders each.
    let mut id = 5000;
    for day in 0..4 {
        for method in ["Payments.Manual", "Payments.PayPalCommerce"] {
            for _ in 0..3 {
                id += 1;
                h.send(&paid(id, DAY1_PAID + day * 86_400, method), &[])
                    .await?;
            }
        }
    }
    eventually("24 orders collected over 4 days", || async {
        let days = h.days().await?;
        let n: u32 = days.iter().map(|d| d.orders).sum();
        Ok((days.len() == 4 && n == 24).then_some(()))
    })
    .await?;
    // 2024-03-18T07:00Z: the 17th (UTC-5) ended at 05:00Z, its grace is over.
    h.clock.store(1_710_745_200, Ordering::SeqCst);
    let days = eventually("every day closed", || async {
        let days = h.days().await?;
        Ok(days
            .iter()
            .all(|d| d.state() == DayState::Closed)
            .then_some(days))
    })
    .await?;
    assert!(
        days.iter().all(|d| (d.summaries, d.orders) == (2, 6)),
        "{days:?}"
    );
    let posted = summaries(&h.all(&h.commands).await?);
    assert_eq!(
        posted.len(),
        8,
        "one command per day and method: {posted:?}"
    );
    let groups: std::collections::BTreeSet<_> = posted.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(groups.len(), 8, "no group twice");
    assert!(posted
        .iter()
        .all(|(_, (_, total, ids))| *total == 3 * 9_510 && ids.len() == 3));
    stop1.cancel();
    stop2.cancel();
    run1.await?;
    run2.await?;
    Ok(())
}
