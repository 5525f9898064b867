//! ingest: turns nopCommerce activity into canonical events (issue 3). Its consumer reads
//! the buffered webhook notifications (`ingest.notifications.v1`), so the HTTP receiver can
//! acknowledge within the store's timeout and the fetch of the full entity happens with
//! at-least-once guarantees.
pub mod busy;
pub mod canonical;
pub mod client;
pub mod connection;
pub mod db;
pub mod emit;
pub mod settings;
pub mod sync;

use nopbridge_runtime::{
    config::ServiceConfig,
    contract::ContractCheck,
    service::{self, ServiceError, ServiceParts},
    topics,
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub use settings::Settings;

pub type Config = ServiceConfig<Settings>;

pub const NAME: &str = "ingest";

pub fn inputs() -> Vec<String> {
    vec![topics::INGEST_NOTIFICATIONS.to_string()]
}

pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), ServiceError> {
    let handler = Arc::new(ContractCheck::new()?);
    service::run(
        ServiceParts::from_config(NAME, "ingest", &inputs(), cfg, handler),
        shutdown,
    )
    .await
}
