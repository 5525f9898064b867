//! ingest: turns nopCommerce activity into canonical events (issue 3).
//!
//! - `webhook`: the receiver checks signature, timestamp and replay, buffers the thin
//!   notification on `ingest.notifications.v1` and acknowledges at once;
//! - `notifications`: the consumer of that topic fetches the full entity and emits;
//! - `poll` and `backfill`: per connection, new records by cursor, re-polls of records that
//!   can still change, and the historical backfill with progress in the Status call;
//! - `sync`: fetch → map (`canonical`) → compare content hash → emit (`emit`) → store
//!   (`db`); `client` speaks both API dialects.
pub mod backfill;
pub mod busy;
pub mod canonical;
pub mod client;
pub mod connection;
pub mod db;
pub mod emit;
pub mod notifications;
pub mod pending;
pub mod poll;
pub mod settings;
pub mod sync;
pub mod trigger;
pub mod webhook;

pub use settings::Settings;

use connection::{Connection, Registry};
use nopbridge_kafka::{ensure_topics, KafkaError, Producer, TopicSpec};
use nopbridge_runtime::{
    config::ServiceConfig,
    service::{self, ServiceError, ServiceParts},
    topics, ControlState,
};
use secrecy::ExposeSecret;
use std::{sync::Arc, time::Duration};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub type Config = ServiceConfig<Settings>;

pub const NAME: &str = "ingest";

/// The notifications topic the consumer reads (`topic_suffix` appended).
pub fn inputs(topic_suffix: &str) -> Vec<String> {
    vec![format!("{}{topic_suffix}", topics::INGEST_NOTIFICATIONS)]
}

/// The topics ingest writes, created at start when missing.
pub fn outputs(topic_suffix: &str) -> Vec<TopicSpec> {
    let mut t: Vec<TopicSpec> = topics::CANONICAL
        .iter()
        .map(|(e, _)| TopicSpec::new(format!("{}{topic_suffix}", topics::canonical(e)), 3))
        .collect();
    t.push(TopicSpec::new(
        format!("{}{topic_suffix}", topics::INGEST_NOTIFICATIONS),
        3,
    ));
    t.push(TopicSpec::new(
        format!("{}{topic_suffix}", topics::dlq("ingest")),
        1,
    ));
    t
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Connection(#[from] connection::ConnectionError),
    #[error("cannot listen for webhooks on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), IngestError> {
    run_with(cfg, ControlState::new(NAME), shutdown).await
}

/// Like [`run`], with a control state made by the caller (tests read its progress and
/// counters).
pub async fn run_with(
    cfg: Config,
    control: ControlState,
    shutdown: CancellationToken,
) -> Result<(), IngestError> {
    let settings = cfg.service.clone();
    let suffix = settings.topic_suffix.as_str();
    ensure_topics(&cfg.kafka, &outputs(suffix)).await?;
    let producer = Producer::new(&cfg.kafka)?;
    let db = match &settings.database_url {
        Some(url) => Some(db::Db::connect(url.expose_secret(), 16).await?),
        None => None,
    };
    let mut conns = Vec::new();
    if let Some(db) = &db {
        for c in &settings.connections {
            let conn = Connection::new(
                c.clone(),
                suffix,
                producer.clone(),
                db.clone(),
                control.clone(),
            )?;
            conns.push(Arc::new(conn));
        }
    }
    let registry = Registry::new(conns);
    let stop = shutdown.child_token();
    let mut tasks = JoinSet::new();
    let pending = Arc::new(pending::Pending::default());
    let handler = Arc::new(notifications::NotificationHandler::new(
        registry.clone(),
        pending.clone(),
    ));
    let deadline = Duration::from_millis(cfg.shutdown_deadline_ms);
    let mut cfg = cfg;
    if cfg.consumer.dlq_topic.is_none() && !suffix.is_empty() {
        cfg.consumer.dlq_topic = Some(format!("{}{suffix}", topics::dlq("ingest")));
    }
    let token = cfg.grpc.auth_token.clone();
    let api = trigger::IngestApi::new(registry.clone(), control.clone(), stop.clone());
    let mut parts = ServiceParts::from_config(NAME, NAME, &inputs(suffix), cfg, handler)
        .with_control(control.clone())
        .with_services(Box::new(move |routes| {
            routes.add_service(api.into_server(token))
        }));
    parts.topics.extend(outputs(suffix));
    if let (Some(addr), Some(secret)) = (settings.webhook_listen, settings.webhook_secret.clone()) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| IngestError::Listen { addr, source })?;
        info!(addr = %listener.local_addr().unwrap_or(addr), "webhook receiver listening");
        let receiver = webhook::Receiver {
            registry: registry.clone(),
            producer: producer.clone(),
            db: db.clone(),
            secret,
            tolerance: Duration::from_secs(settings.webhook_tolerance_secs),
            control: control.clone(),
            topic: inputs(suffix).remove(0),
            pending,
            consumer: parts.handle.clone(),
        };
        let stop = stop.clone();
        tasks.spawn(async move {
            if let Err(e) = webhook::serve(listener, receiver, stop).await {
                warn!(error = %e, "webhook receiver stopped");
            }
        });
    }
    for conn in registry.all() {
        if conn.settings.polling {
            tasks.spawn(poll::run(conn.clone(), stop.clone()));
        }
    }
    let result = service::run(parts, shutdown).await;
    stop.cancel();
    if tokio::time::timeout(deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        warn!("pollers did not stop within the deadline; their cursors stay where they were");
        tasks.abort_all();
    }
    Ok(result?)
}
