//! ingest: turns nopCommerce activity into canonical events (issue 3). Its consumer reads
//! the buffered webhook notifications (`ingest.notifications.v1`), so the HTTP receiver can
//! acknowledge within the store's timeout and the fetch of the full entity happens with
//! at-least-once guarantees.
use nopbridge_runtime::{
    config::{require_secret, ConfigError, ServiceConfig, Validate},
    contract::ContractCheck,
    service::{self, ServiceError, ServiceParts},
    topics,
};
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// `[service]` settings of ingest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Shared secret the store signs webhook notifications with (HMAC-SHA256). Required.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        match &self.webhook_secret {
            Some(s) => require_secret("service.webhook_secret", s),
            None => Err(ConfigError::key(
                "service.webhook_secret",
                "required secret is missing; set it in the config file or NOPBRIDGE_SERVICE__WEBHOOK_SECRET",
            )),
        }
    }
}

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
