//! reconciler: keeps the sync ledger in PostgreSQL, fed from connector results
//! (`sink.results.v1`) and the dead-letter topics. Write-back, drift detection and the ledger
//! queries of the control API build on it (issue 6).
pub mod dead_letters;
pub mod explain;
mod grpc;
pub mod ledger;
pub mod reconcile;
pub mod replay;
mod step_writer;
pub mod steps;
pub mod write_back;

use ledger::{Ledger, LedgerError, Position};
use nopbridge_kafka::{Handler, HandlerError, Producer, Record};
use nopbridge_proto::commands::v1::CommandResult;
use nopbridge_runtime::{
    config::{require_secret, ConfigError, ServiceConfig, Validate},
    service::{self, ServiceError, ServiceParts},
    topics, ControlState,
};
use prost::Message;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use write_back::{WriteBack, WriteBackRule};

/// `[service]` settings of the reconciler.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// PostgreSQL URL of the ledger (may hold a password, so it is a secret). Required.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// What the store hears about posted documents, per accounting connection.
    #[serde(default)]
    pub write_back: Vec<WriteBackRule>,
    /// Appended to the write-back command topic (tests isolate their topics on a shared
    /// broker with it); empty in deployments.
    #[serde(default)]
    pub topic_suffix: String,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        write_back::validate_rules(&self.write_back)?;
        match &self.database_url {
            Some(s) => require_secret("service.database_url", s),
            None => Err(ConfigError::key(
                "service.database_url",
                "required secret is missing; set it in the config file or NOPBRIDGE_SERVICE__DATABASE_URL",
            )),
        }
    }
}

pub type Config = ServiceConfig<Settings>;

pub const NAME: &str = "reconciler";

/// The ledger's consumer waits up to this long per fetch unless `consumer.fetch_wait_max_ms`
/// says otherwise: results, dead letters and traces are not on the way from the store to the
/// books, and fetching ten times less often spares the broker (on tansu a fetch costs a
/// listing of every partition with new records).
const FETCH_WAIT_MS: u32 = 100;

/// Results and dead letters feed the ledger; order events and commands feed the trace.
pub fn inputs() -> Vec<String> {
    let mut t = vec![topics::SINK_RESULTS.to_string()];
    t.extend(
        ["ingest", "transform", "connector_sink"]
            .iter()
            .map(|s| topics::dlq(s)),
    );
    t.extend(["order", "payment_transaction"].map(topics::canonical));
    t.extend(
        topics::TARGETS
            .iter()
            .map(|target| topics::commands(target)),
    );
    t
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcilerError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Applies results and dead letters to the ledger, each record once.
pub struct LedgerFeed {
    pub ledger: Ledger,
    /// Write-back to the store after postings, when configured.
    pub write_back: Option<WriteBack>,
}

impl Handler for LedgerFeed {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let span = tracing::info_span!(
            "ledger write",
            otel.kind = "client",
            db.system.name = "postgresql",
        );
        self.apply(record).instrument(span).await
    }
}

impl LedgerFeed {
    async fn apply(&self, record: &Record) -> Result<(), HandlerError> {
        let pos = Position {
            topic: &record.topic,
            partition: record.partition,
            offset: record.offset,
        };
        let kind = steps::kind_of(&record.topic);
        let applied = match &kind {
            steps::Kind::Result => {
                let result = CommandResult::decode(record.payload()).map_err(|e| {
                    HandlerError::permanent(
                        "decode",
                        format!("not a nopbridge.commands.v1.CommandResult: {e}"),
                    )
                })?;
                let applied = self.ledger.record_result(pos, &result).await;
                // Also on a redelivered result: a write-back that failed last time is due.
                match (&applied, &self.write_back) {
                    (Ok(_), Some(w)) => w.on_result(&result).await.map(|_| true),
                    _ => applied,
                }
            }
            steps::Kind::DeadLetter => {
                self.ledger
                    .record_dead_letter(pos, &dead_letters::parse(record))
                    .await
            }
            steps::Kind::Event(_) | steps::Kind::Command => {
                steps::record(&self.ledger, pos, &kind, record).await
            }
        };
        // A database outage is transient: the record is retried, never skipped.
        applied
            .map(|_| ())
            .map_err(|e| HandlerError::transient(e.to_string()))
    }
}

pub async fn run(mut cfg: Config, shutdown: CancellationToken) -> Result<(), ReconcilerError> {
    cfg.consumer.fetch_wait_max_ms.get_or_insert(FETCH_WAIT_MS);
    let url = cfg
        .service
        .database_url
        .as_ref()
        .map(|s| s.expose_secret().to_string())
        .unwrap_or_default();
    let ledger = Ledger::connect(&url).await?;
    let producer = Producer::new(&cfg.kafka).map_err(ServiceError::from)?;
    let control = ControlState::new(NAME);
    let ledger_api = grpc::LedgerApi::new(
        replay::Replayer {
            ledger: ledger.clone(),
            kafka: cfg.kafka.clone(),
            producer: producer.clone(),
        },
        reconcile::Reconciler {
            ledger: ledger.clone(),
            kafka: cfg.kafka.clone(),
            producer,
        },
        control.clone(),
    );
    let token = cfg.grpc.auth_token.clone();
    let write_back = (!cfg.service.write_back.is_empty())
        .then(|| -> Result<WriteBack, ServiceError> {
            Ok(WriteBack {
                rules: cfg.service.write_back.clone(),
                producer: Producer::new(&cfg.kafka)?,
                pool: ledger.pool().clone(),
                topic: format!("{}{}", write_back::topic(), cfg.service.topic_suffix),
            })
        })
        .transpose()?;
    let handler = Arc::new(LedgerFeed { ledger, write_back });
    let parts = ServiceParts::from_config(NAME, "reconciler", &inputs(), cfg, handler)
        .with_control(control)
        .with_services(Box::new(move |routes| {
            routes.add_service(ledger_api.into_server(token))
        }));
    service::run(parts, shutdown).await?;
    Ok(())
}
