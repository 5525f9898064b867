//! transform: consume canonical events → map them with each connection's rules (the pure
//! `nopbridge-mapping` crate) → produce target commands → store the offset. A mapping error
//! for one connection goes to `dlq.transform.v1` with its reason (and `dlq_connection_id`),
//! while the other connections routed from the same event still get their commands.
mod handler;
mod settings;

pub use handler::TransformHandler;
pub use settings::Settings;

use nopbridge_kafka::{DeadLetter, Producer};
use nopbridge_runtime::{
    config::ServiceConfig,
    service::{self, ServiceError, ServiceParts},
    topics, ControlState,
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub type Config = ServiceConfig<Settings>;

pub const NAME: &str = "transform";

pub fn inputs() -> Vec<String> {
    topics::CANONICAL
        .iter()
        .map(|(e, _)| topics::canonical(e))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Kafka(#[from] nopbridge_kafka::KafkaError),
    #[error("{0}")]
    Mapping(#[from] nopbridge_mapping::ConfigError),
}

pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), TransformError> {
    let mapper = cfg.service.load_mapper()?;
    let producer = Producer::new(&cfg.kafka)?;
    let dlq_topic = cfg
        .consumer
        .dlq_topic
        .clone()
        .unwrap_or_else(|| topics::dlq("transform"));
    let control = ControlState::new(NAME);
    let handler = Arc::new(TransformHandler::new(
        mapper,
        producer.clone(),
        DeadLetter::new(producer, dlq_topic),
        cfg.service.command_topic_suffix.clone(),
        control.clone(),
    ));
    let (reload_handler, settings) = (handler.clone(), cfg.service.clone());
    control.on_reload(Arc::new(move || {
        let mapper = settings
            .load_mapper()
            .map_err(|e| format!("mapping config refused, the running one stays: {e}"))?;
        let summary = format!("{} connections loaded", mapper.connections().len());
        reload_handler.replace_mapper(mapper);
        Ok(summary)
    }));
    let parts =
        ServiceParts::from_config(NAME, "transform", &inputs(), cfg, handler).with_control(control);
    service::run(parts, shutdown).await?;
    Ok(())
}
