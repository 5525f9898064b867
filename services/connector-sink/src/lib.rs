//! connector-sink: reads the per-target command topics and (issues 4 and 8) posts them to
//! QuickBooks Online, KashFlow, Dynamics GP and the store. Today it joins its group, checks
//! record contracts and reports status.
use nopbridge_runtime::{
    config::{NoSettings, ServiceConfig},
    contract::ContractCheck,
    service::{self, ServiceError, ServiceParts},
    topics,
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub type Config = ServiceConfig<NoSettings>;

pub const NAME: &str = "connector-sink";

pub fn inputs() -> Vec<String> {
    topics::TARGETS
        .iter()
        .map(|t| topics::commands(t))
        .collect()
}

pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), ServiceError> {
    let handler = Arc::new(ContractCheck::new()?);
    service::run(
        ServiceParts::from_config(NAME, "connector_sink", &inputs(), cfg, handler),
        shutdown,
    )
    .await
}
