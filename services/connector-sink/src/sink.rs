//! The sink loop's handler: decode the command, post it through its connection, write the
//! result, and only then let the offset move. Permanent failures write a FAILED result and go
//! to the dead-letter topic (the consumer loop does that), so a bad record never blocks its
//! partition; transient ones are retried by the loop with the same requestids.
use crate::{
    config::SinkSettings,
    quickbooks::{HealthFn, QboConnector, QboError},
    results::{self, ResultWriter},
    xref::Store,
    SinkError,
};
use nopbridge_kafka::{Handler, HandlerError, Producer, Record};
use nopbridge_proto::{
    commands::v1::Command,
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
use tracing::{info, warn};

pub struct SinkHandler {
    connectors: HashMap<String, Arc<QboConnector>>,
    results: ResultWriter,
    control: ControlState,
    /// Handler attempts per command id so far (the loop retries transient failures).
    tries: Mutex<HashMap<String, (u32, Instant)>>,
    /// The loop's attempt bound: at the last one a transient failure becomes a FAILED result.
    max_attempts: u32,
}

pub fn health_fn(control: ControlState) -> HealthFn {
    Arc::new(move |connection: &str, state: HealthState, detail: &str| {
        control.set_connector_health(ConnectorHealth {
            connection_id: connection.to_string(),
            target: "quickbooks_online".into(),
            state: state as i32,
            detail: detail.to_string(),
            last_success_at: None,
            paused: false,
        });
    })
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

    pub async fn with_attempts(
        settings: &SinkSettings,
        producer: Producer,
        control: ControlState,
        max_attempts: u32,
    ) -> Result<Self, SinkError> {
        let mut connectors = HashMap::new();
        if let Some(url) = &settings.database_url {
            let store = Store::connect(url.expose_secret(), settings.database_pool).await?;
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(32)
                .build()
                .map_err(|e| SinkError::Http(e.to_string()))?;
            for c in &settings.quickbooks {
                let health = health_fn(control.clone());
                health(&c.connection_id, HealthState::Healthy, "configured");
                let connector =
                    QboConnector::new(c.clone(), store.clone(), http.clone(), health).await?;
                connectors.insert(c.connection_id.clone(), Arc::new(connector));
            }
        }
        Ok(Self {
            connectors,
            results: ResultWriter::new(producer, topics::SINK_RESULTS),
            control,
            tries: Mutex::default(),
            max_attempts: max_attempts.max(1),
        })
    }

    pub fn connector(&self, connection_id: &str) -> Option<&Arc<QboConnector>> {
        self.connectors.get(connection_id)
    }

    async fn fail(
        &self,
        record: &Record,
        cmd: &Command,
        e: &QboError,
        attempts: u32,
        started: Instant,
    ) -> HandlerError {
        let error = results::target_error(e);
        let class = error.class.clone();
        let message = format!(
            "{}{}{}: {} — {}",
            if error.code.is_empty() {
                String::new()
            } else {
                format!("QuickBooks {} ", error.code)
            },
            if error.element.is_empty() {
                String::new()
            } else {
                format!("on {} ", error.element)
            },
            results::command_kind(cmd),
            error.detail,
            error.explanation
        );
        let result = results::failure(cmd, error, attempts, started.elapsed());
        if let Err(k) = self
            .results
            .write(&result, record.trace_context().as_ref())
            .await
        {
            // The result must be durable before the record is dead-lettered.
            return HandlerError::transient(format!("writing the FAILED result: {k}"));
        }
        self.tries.lock().remove(&cmd.command_id);
        warn!(command = %cmd.command_id, connection = %cmd.connection_id, %class, "command failed permanently");
        HandlerError::permanent(class, message)
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
        let Some(connector) = self.connectors.get(&cmd.connection_id) else {
            let e = QboError::invalid(
                "config",
                format!(
                    "connection '{}' is not configured in this connector-sink",
                    cmd.connection_id
                ),
            );
            return Err(self.fail(record, &cmd, &e, attempt, started).await);
        };
        let outcome = loop {
            if connector.is_disconnected() {
                let wait = Duration::from_millis(connector.config().retry.disconnected_wait_ms);
                match connector.wait_connected(wait).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let e = QboError::Disconnected(
                            "the connection stayed disconnected while this command waited".into(),
                        );
                        return Err(self.fail(record, &cmd, &e, attempt, started).await);
                    }
                    Err(e) => return Err(HandlerError::transient(e.to_string())),
                }
            }
            match connector.execute(&cmd).await {
                Ok(o) => break o,
                Err(QboError::Disconnected(_)) => continue,
                Err(e @ (QboError::Unavailable { .. } | QboError::Store(_))) => {
                    if attempt >= self.max_attempts {
                        return Err(self.fail(record, &cmd, &e, attempt, started).await);
                    }
                    return Err(HandlerError::transient(e.to_string()));
                }
                Err(e) => return Err(self.fail(record, &cmd, &e, attempt, started).await),
            }
        };
        let result = results::success(
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
        self.control.set_connector_health(ConnectorHealth {
            connection_id: cmd.connection_id.clone(),
            target: "quickbooks_online".into(),
            state: HealthState::Healthy as i32,
            detail: String::new(),
            last_success_at: Some(nopbridge_runtime::control::timestamp(chrono::Utc::now())),
            paused: false,
        });
        info!(command = %cmd.command_id, status = ?outcome.status, "command posted");
        Ok(())
    }
}
