//! transform: reads the canonical event topics and (issue 5) maps them to target commands.
//! Today it checks every event against its topic contract and dead-letters what does not
//! decode, so a bad record never reaches a connector.
use nopbridge_runtime::{
    config::{NoSettings, ServiceConfig},
    contract::ContractCheck,
    service::{self, ServiceError, ServiceParts},
    topics,
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub type Config = ServiceConfig<NoSettings>;

pub const NAME: &str = "transform";

pub fn inputs() -> Vec<String> {
    topics::CANONICAL
        .iter()
        .map(|(e, _)| topics::canonical(e))
        .collect()
}

pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), ServiceError> {
    let handler = Arc::new(ContractCheck::new()?);
    service::run(
        ServiceParts::from_config(NAME, "transform", &inputs(), cfg, handler),
        shutdown,
    )
    .await
}
