//! transform: consume canonical events → map them with each connection's rules (the pure
//! `nopbridge-mapping` crate) → produce target commands → store the offset. A mapping error
//! for one connection goes to `dlq.transform.v1` with its reason (and `dlq_connection_id`),
//! while the other connections routed from the same event still get their commands.
//! Daily-summary connections collect their orders per business day in PostgreSQL and post
//! each closed day's summaries ([`summaries`]).
mod handler;
mod settings;
pub mod summaries;

pub use handler::TransformHandler;
pub use settings::Settings;

use nopbridge_kafka::{DeadLetter, Producer};
use nopbridge_runtime::{
    config::ServiceConfig,
    service::{self, ServiceError, ServiceParts},
    topics, ControlState,
};
use parking_lot::RwLock;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use summaries::{Clock, SharedMapper, Summaries, SummariesApi};
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
    #[error(transparent)]
    Summaries(#[from] summaries::StoreError),
    #[error("{0}")]
    Config(String),
}

pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), TransformError> {
    run_with_clock(cfg, Arc::new(chrono::Utc::now), shutdown).await
}

/// Like [`run`], with the clock daily summaries close their days by (tests move it).
pub async fn run_with_clock(
    cfg: Config,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<(), TransformError> {
    let loaded = cfg.service.load_mapper()?;
    cfg.service
        .check_summary_database(&loaded)
        .map_err(TransformError::Config)?;
    let mapper: SharedMapper = Arc::new(RwLock::new(Arc::new(loaded)));
    let producer = Producer::new(&cfg.kafka)?;
    let dlq_topic = cfg
        .consumer
        .dlq_topic
        .clone()
        .unwrap_or_else(|| topics::dlq("transform"));
    let dlq = DeadLetter::new(producer.clone(), dlq_topic);
    let control = ControlState::new(NAME);
    let summaries = match &cfg.service.database_url {
        Some(url) => {
            let store = summaries::Store::connect(url.expose_secret(), 8).await?;
            Some(Arc::new(Summaries::new(
                store,
                mapper.clone(),
                producer.clone(),
                dlq.clone(),
                cfg.service.command_topic_suffix.clone(),
                control.clone(),
                clock,
            )))
        }
        None => None,
    };
    let handler = Arc::new(TransformHandler::new(
        mapper,
        producer,
        dlq,
        cfg.service.command_topic_suffix.clone(),
        control.clone(),
        summaries.clone(),
    ));
    let (reload_handler, settings) = (handler.clone(), cfg.service.clone());
    control.on_reload(Arc::new(move || {
        let mapper = settings
            .load_mapper()
            .map_err(|e| format!("mapping config refused, the running one stays: {e}"))?;
        settings
            .check_summary_database(&mapper)
            .map_err(|e| format!("mapping config refused, the running one stays: {e}"))?;
        let summary = format!("{} connections loaded", mapper.connections().len());
        reload_handler.replace_mapper(mapper);
        Ok(summary)
    }));
    let token = cfg.grpc.auth_token.clone();
    let every = Duration::from_millis(cfg.service.summary_check_interval_ms.max(1));
    let mut parts =
        ServiceParts::from_config(NAME, "transform", &inputs(), cfg, handler).with_control(control);
    let closer_stop = shutdown.child_token();
    let closer = match &summaries {
        Some(s) => {
            let api = SummariesApi::new(s.clone());
            parts = parts.with_services(Box::new(move |routes| {
                routes.add_service(api.into_server(token))
            }));
            Some(tokio::spawn(
                s.clone().run_closer(every, closer_stop.clone()),
            ))
        }
        None => None,
    };
    let result = service::run(parts, shutdown).await;
    closer_stop.cancel();
    if let Some(mut c) = closer {
        // A close cut short stays `closing` and is finished by the next start.
        if tokio::time::timeout(Duration::from_secs(5), &mut c)
            .await
            .is_err()
        {
            c.abort();
        }
    }
    result?;
    Ok(())
}
