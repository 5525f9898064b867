//! The sink loop's handler, the same for every target: decode the command, route it to its
//! connection, post it, write the result, and only then let the offset move. Permanent
//! failures write a FAILED result and go to the dead-letter topic (the consumer loop does
//! that), so a bad record never blocks its partition; transient ones are retried by the loop
//! with the same idempotency keys.
//!
//! Command topics are keyed by connection, so one connection's rate limiter lives in one
//! consumer; [`SinkHandler::ordering_key`] orders records per store order instead, so
//! different orders of one connection run concurrently (their writes share the connection's
//! pacing and batches) while one order's commands stay in order.
use crate::{
    config::SinkSettings,
    quickbooks::StockWatch,
    results::{self, ResultWriter},
    target::{Connection, Failure, HealthFn, Shared, Target, TARGETS},
    xref::Store,
    SinkError,
};
use nopbridge_kafka::{Handler, HandlerError, OutgoingRecord, Producer, Record};
use nopbridge_proto::{
    commands::v1::{command::Body, Command, TargetError, TargetKind},
    control::v1::{ConnectorHealth, HealthState},
};
use nopbridge_runtime::{topics, ControlState};
use parking_lot::Mutex;
use prost::Message;
use secrecy::ExposeSecret;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::{error, info, warn};

/// How often a command of a paused connection looks whether it was resumed.
const PAUSE_POLL: Duration = Duration::from_millis(200);
/// The header counting how often a command whose prerequisite is missing
/// ([`Failure::NotYet`]) went back to the end of its topic. The waits before each requeue
/// double from `prerequisite_first_wait_ms` up to [`REQUEUE_MAX_WAIT`]; with the defaults
/// (10 requeues from 200 ms) the prerequisite's own command has about two and a half
/// minutes to arrive and be posted.
const REQUEUE_HEADER: &str = "nopbridge_requeues";
const REQUEUE_MAX_WAIT: Duration = Duration::from_secs(30);

pub struct SinkHandler {
    connections: HashMap<String, Arc<dyn Connection>>,
    results: ResultWriter,
    /// Puts commands waiting for a prerequisite back on their topic.
    producer: Producer,
    max_requeues: u32,
    first_requeue_wait: Duration,
    control: ControlState,
    /// Handler attempts per command id so far (the loop retries transient failures).
    tries: Mutex<HashMap<String, (u32, Instant)>>,
    /// The loop's attempt bound: at the last one a transient failure becomes a FAILED result.
    max_attempts: u32,
    stock_watches: Vec<Arc<StockWatch>>,
}

/// Health reports of one connection go to the control API (Status, `connector_up` metric);
/// a disconnection is also an alert: an error log with `alert = "connector_disconnected"` and
/// the `alerts` counter on /metrics.
pub fn health_fn(control: ControlState, target: &'static Target, connection: &str) -> HealthFn {
    let connection = connection.to_string();
    Arc::new(move |state: HealthState, detail: &str| {
        if state == HealthState::Disconnected {
            error!(%connection, target = target.name, alert = "connector_disconnected", "{detail}");
            control.count(
                "alerts",
                &[
                    ("kind", "connector_disconnected"),
                    ("connection", connection.as_str()),
                ],
                1,
            );
        }
        control.set_connector_health(ConnectorHealth {
            connection_id: connection.clone(),
            target: target.name.into(),
            state: state as i32,
            detail: detail.to_string(),
            last_success_at: None,
            paused: false,
        });
    })
}

/// What orders a command among the others of its connection: its store order, else the
/// customer or item it upserts, else the command alone.
pub fn ordering_key(cmd: &Command) -> String {
    let scope = format!("{}/{}/{}", cmd.connection_id, cmd.tenant_id, cmd.store_id);
    if let Some(o) = &cmd.order {
        if o.order_id != 0 {
            return format!("{scope}/order/{}", o.order_id);
        }
        if !o.order_guid.is_empty() {
            return format!("{scope}/order/{}", o.order_guid);
        }
    }
    match &cmd.body {
        Some(Body::UpsertCustomer(u)) => match &u.customer {
            Some(c) if !c.email.is_empty() => format!("{scope}/customer/{}", c.email),
            Some(c) => format!("{scope}/customer/{}", c.store_customer_id),
            None => format!("{scope}/command/{}", cmd.command_id),
        },
        Some(Body::UpsertItem(u)) => match &u.item {
            Some(i) if !i.sku.is_empty() => format!("{scope}/item/{}", i.sku),
            _ => format!("{scope}/command/{}", cmd.command_id),
        },
        _ => format!("{scope}/command/{}", cmd.command_id),
    }
}

impl SinkHandler {
    pub async fn build(
        settings: &SinkSettings,
        producer: Producer,
        control: ControlState,
    ) -> Result<Self, SinkError> {
        Self::with_attempts(
            settings,
            producer,
            control,
            nopbridge_kafka::RetryPolicy::default().max_attempts,
        )
        .await
    }

    /// Builds every configured connection of every registered target.
    pub async fn with_attempts(
        settings: &SinkSettings,
        producer: Producer,
        control: ControlState,
        max_attempts: u32,
    ) -> Result<Self, SinkError> {
        let mut connections: HashMap<String, Arc<dyn Connection>> = HashMap::new();
        let stock_watches = Mutex::new(Vec::new());
        if let Some(url) = &settings.database_url {
            let store = Store::connect(url.expose_secret(), settings.database_pool).await?;
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(32)
                .build()
                .map_err(|e| SinkError::Http(e.to_string()))?;
            let health = |target: &'static Target, connection: &str| {
                let h = health_fn(control.clone(), target, connection);
                h(HealthState::Healthy, "configured");
                h
            };
            let shared = Shared {
                settings,
                store: &store,
                http: &http,
                health: &health,
                control: &control,
                producer: &producer,
                stock_watches: &stock_watches,
            };
            for target in TARGETS {
                for c in (target.connect)(&shared).await? {
                    connections.insert(c.connection_id().to_string(), c);
                }
            }
        }
        Ok(Self {
            connections,
            results: ResultWriter::new(producer.clone(), topics::SINK_RESULTS),
            producer,
            max_requeues: settings.prerequisite_requeues,
            first_requeue_wait: Duration::from_millis(settings.prerequisite_first_wait_ms),
            control,
            tries: Mutex::default(),
            max_attempts: max_attempts.max(1),
            stock_watches: stock_watches.into_inner(),
        })
    }

    /// The QuickBooks stock watches of the configured connections (the service runs them).
    pub fn stock_watches(&self) -> &[Arc<StockWatch>] {
        &self.stock_watches
    }

    pub fn connection(&self, connection_id: &str) -> Option<&Arc<dyn Connection>> {
        self.connections.get(connection_id)
    }

    async fn fail(
        &self,
        record: &Record,
        target: &Target,
        cmd: &Command,
        error: TargetError,
        attempts: u32,
        started: Instant,
    ) -> HandlerError {
        let class = error.class.clone();
        let mut message = String::new();
        if !error.code.is_empty() {
            message.push_str(&format!("{} {} ", target.name, error.code));
        }
        if !error.element.is_empty() {
            message.push_str(&format!("on {} ", error.element));
        }
        message.push_str(&format!(
            "{}: {} — {}",
            cmd.kind_name(),
            error.detail,
            error.explanation
        ));
        let result = results::failure(target, cmd, error, attempts, started.elapsed());
        if let Err(k) = self
            .results
            .write(&result, record.trace_context().as_ref())
            .await
        {
            // The result must be durable before the record is dead-lettered.
            return HandlerError::transient(format!("writing the FAILED result: {k}"));
        }
        self.tries.lock().remove(&cmd.command_id);
        self.control.count(
            "commands",
            &[("target", target.name), ("status", "failed")],
            1,
        );
        warn!(command = %cmd.command_id, connection = %cmd.connection_id, %class, "command failed permanently");
        HandlerError::permanent(class, message)
    }

    /// Holds the command while an operator paused its connection (control API `Pause`).
    async fn while_paused(&self, connection_id: &str) {
        let mut logged = false;
        while self.control.is_connection_paused(connection_id) {
            if !logged {
                info!(connection = %connection_id, "connection paused; commands wait");
                logged = true;
            }
            tokio::time::sleep(PAUSE_POLL).await;
        }
    }
}

/// Unknown connection or a command routed to another target's connection.
fn misrouted(detail: String) -> TargetError {
    TargetError {
        code: String::new(),
        element: String::new(),
        detail,
        explanation: "Add the connection to this connector-sink's [service] configuration (or fix the mapping's connection id), then replay.".into(),
        class: "config".into(),
    }
}

/// How often this record was put back already.
fn requeues(record: &Record) -> u32 {
    record
        .header_str(REQUEUE_HEADER)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl SinkHandler {
    /// Waits (holding only this command's ordering key), then appends the record again with
    /// its headers and the count one up. A crash between the two leaves a copy: the same
    /// command id, which the target applies once.
    async fn requeue(&self, record: &Record, requeues: u32) -> Result<(), HandlerError> {
        let wait = self
            .first_requeue_wait
            .saturating_mul(1 << requeues.min(16))
            .min(REQUEUE_MAX_WAIT);
        tokio::time::sleep(wait).await;
        let key = record.key.clone().unwrap_or_default();
        let mut out = OutgoingRecord::new(&record.topic, &key, record.payload());
        for (k, v) in &record.headers {
            if k != REQUEUE_HEADER {
                out = out.header(k.clone(), v.clone().unwrap_or_default());
            }
        }
        out = out.header(REQUEUE_HEADER, (requeues + 1).to_string());
        self.producer
            .send(out)
            .await
            .map(|_| ())
            .map_err(|e| HandlerError::transient(format!("putting the command back: {e}")))
    }
}

impl Handler for SinkHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let cmd = Command::decode(record.payload()).map_err(|e| {
            HandlerError::permanent(
                "decode",
                format!("not a nopbridge.commands.v1.Command: {e}"),
            )
        })?;
        let (attempt, started) = {
            let mut tries = self.tries.lock();
            let entry = tries
                .entry(cmd.command_id.clone())
                .or_insert((0, Instant::now()));
            entry.0 += 1;
            *entry
        };
        let Some(conn) = self.connections.get(&cmd.connection_id) else {
            let target = TARGETS
                .iter()
                .find(|t| t.kind as i32 == cmd.target)
                .copied()
                .unwrap_or(TARGETS[0]);
            let e = misrouted(format!(
                "connection '{}' is not configured in this connector-sink",
                cmd.connection_id
            ));
            return Err(self.fail(record, target, &cmd, e, attempt, started).await);
        };
        let target = conn.target();
        if cmd.target != TargetKind::Unspecified as i32 && cmd.target != target.kind as i32 {
            let e = misrouted(format!(
                "connection '{}' is a {} connection but the command is for {:?}",
                cmd.connection_id,
                target.name,
                cmd.target()
            ));
            return Err(self.fail(record, target, &cmd, e, attempt, started).await);
        }
        self.while_paused(&cmd.connection_id).await;
        // A waiting command calls nobody: it polls for a re-authorisation and fails as `auth`
        // when none comes within the connection's wait.
        let mut disconnected = conn.is_disconnected();
        let outcome = loop {
            if disconnected {
                match conn.wait_connected(conn.disconnected_wait()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let e = TargetError {
                            detail: "the connection stayed disconnected while this command waited"
                                .into(),
                            explanation: "The connection's authorisation was revoked or expired. Re-authorise it, then replay the dead-lettered commands.".into(),
                            class: "auth".into(),
                            ..TargetError::default()
                        };
                        return Err(self.fail(record, target, &cmd, e, attempt, started).await);
                    }
                    Err(e) => return Err(HandlerError::transient(e.error().detail.clone())),
                }
            }
            match conn.execute(&cmd).await {
                Ok(o) => break o,
                Err(Failure::Disconnected(_)) => disconnected = true,
                Err(Failure::Transient(e)) => {
                    if attempt >= self.max_attempts {
                        return Err(self.fail(record, target, &cmd, e, attempt, started).await);
                    }
                    return Err(HandlerError::transient(e.detail));
                }
                Err(Failure::Permanent(e)) => {
                    return Err(self.fail(record, target, &cmd, e, attempt, started).await)
                }
                Err(Failure::NotYet(e)) => {
                    let requeues = requeues(record);
                    if requeues >= self.max_requeues {
                        return Err(self.fail(record, target, &cmd, e, attempt, started).await);
                    }
                    self.requeue(record, requeues).await?;
                    self.tries.lock().remove(&cmd.command_id);
                    info!(command = %cmd.command_id, requeues = requeues + 1, reason = %e.detail, "command put back until what it needs is posted");
                    return Ok(());
                }
            }
        };
        let result = results::success(
            target,
            &cmd,
            &outcome,
            attempt + outcome.attempts.saturating_sub(1),
            started.elapsed(),
        );
        self.results
            .write(&result, record.trace_context().as_ref())
            .await
            .map_err(|e| HandlerError::transient(format!("writing the result: {e}")))?;
        self.tries.lock().remove(&cmd.command_id);
        let status = outcome.status.as_str_name().to_ascii_lowercase();
        self.control.count(
            "commands",
            &[
                ("target", target.name),
                ("status", status.trim_start_matches("result_status_")),
            ],
            1,
        );
        self.control.set_connector_health(ConnectorHealth {
            connection_id: cmd.connection_id.clone(),
            target: target.name.into(),
            state: HealthState::Healthy as i32,
            detail: String::new(),
            last_success_at: Some(nopbridge_runtime::control::timestamp(chrono::Utc::now())),
            paused: false,
        });
        info!(command = %cmd.command_id, status = ?outcome.status, "command posted");
        Ok(())
    }

    fn ordering_key(&self, record: &Record) -> Option<Vec<u8>> {
        let cmd = Command::decode(record.payload()).ok()?;
        Some(ordering_key(&cmd).into_bytes())
    }
}
