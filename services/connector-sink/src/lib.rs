//! connector-sink: reads `sink.quickbooks_online.commands.v1`, posts each command to the
//! QuickBooks Online company of its connection, and reports the outcome on `sink.results.v1`
//! (failures also on `dlq.connector_sink.v1`). Layout: [`config`], [`sink`] (the handler),
//! [`results`], [`xref`] (own state in PostgreSQL) and one folder per target. The QuickBooks
//! target also watches its company's stock for the store (`quickbooks/stock_watch.rs`, woken
//! by the webhook receiver in `quickbooks/webhooks.rs`).
pub mod config;
pub mod dynamics_gp;
pub mod kashflow;
pub mod keyed_lock;
pub mod nopcommerce;
pub mod quickbooks;
pub mod results;
pub mod sink;
pub mod target;
pub mod xref;

pub use config::{Config, SinkSettings};

use nopbridge_kafka::{Producer, TopicSpec};
use nopbridge_runtime::{
    service::{self, ServiceError, ServiceParts},
    topics, ControlState,
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub const NAME: &str = "connector-sink";
pub const STAGE: &str = "connector_sink";

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Kafka(#[from] nopbridge_kafka::KafkaError),
    #[error(transparent)]
    Store(#[from] xref::StoreError),
    #[error("HTTP client: {0}")]
    Http(String),
    #[error("cannot listen for QuickBooks webhooks on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
}

/// The command topics this service reads: one per registered target.
pub fn inputs() -> Vec<String> {
    target::TARGETS
        .iter()
        .map(|t| topics::commands(t.name))
        .collect()
}

/// Runs the service until `shutdown`; the handler shares the control state, so connector
/// health (DISCONNECTED after `invalid_grant`) shows in the Status call.
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), SinkError> {
    let control = ControlState::new(NAME);
    let producer = Producer::new(&cfg.kafka)?;
    let max_attempts = cfg.consumer.retry.max_attempts;
    let handler =
        sink::SinkHandler::with_attempts(&cfg.service, producer, control.clone(), max_attempts)
            .await?;
    for w in handler.stock_watches() {
        tokio::spawn(w.clone().run(shutdown.child_token()));
    }
    if let Some(hooks) = &cfg.service.quickbooks_webhooks {
        let listener = tokio::net::TcpListener::bind(hooks.listen)
            .await
            .map_err(|e| SinkError::Listen(hooks.listen, e))?;
        let serve = quickbooks::webhooks::serve(
            listener,
            hooks.verifier_token.clone(),
            handler.stock_watches().to_vec(),
            control.clone(),
            shutdown.child_token(),
        );
        tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "QuickBooks webhook receiver stopped");
            }
        });
    }
    let mut parts = ServiceParts::from_config(NAME, STAGE, &inputs(), cfg, Arc::new(handler))
        .with_control(control);
    parts.topics.push(TopicSpec::new(topics::SINK_RESULTS, 3));
    service::run(parts, shutdown).await?;
    Ok(())
}
