//! reconciler: reads connector results and dead letters into the ledger (issue 6). Today it
//! joins its group, checks record contracts and reports status.
use nopbridge_runtime::{
    config::{NoSettings, ServiceConfig},
    contract::ContractCheck,
    service::{self, ServiceError, ServiceParts},
    topics,
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub type Config = ServiceConfig<NoSettings>;

pub const NAME: &str = "reconciler";

pub fn inputs() -> Vec<String> {
    let mut t = vec![topics::SINK_RESULTS.to_string()];
    t.extend(
        ["transform", "connector_sink"]
            .iter()
            .map(|s| topics::dlq(s)),
    );
    t
}

pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), ServiceError> {
    let handler = Arc::new(ContractCheck::new()?);
    service::run(
        ServiceParts::from_config(NAME, "reconciler", &inputs(), cfg, handler),
        shutdown,
    )
    .await
}
