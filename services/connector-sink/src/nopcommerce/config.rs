//! Per-connection settings of the nopCommerce write-back target (the official Web API
//! Backend plugin: the free community API has no notes, no processing actions and no stock
//! history, reference §4).
use nopbridge_runtime::config::{require_secret, ConfigError};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NopConnectionConfig {
    /// The connection id write-back commands carry (the key of `sink.nopcommerce.commands.v1`).
    pub connection_id: String,
    /// The store's URL; the API is under `<base_url>/api-backend`.
    pub base_url: String,
    /// An administrator account of the store.
    pub username: String,
    pub password: SecretString,
    /// Attempts per call for 429, 5xx, timeouts and dropped connections.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_backoff")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
    #[serde(default = "default_timeout")]
    pub request_timeout_ms: u64,
}

const fn default_attempts() -> u32 {
    6
}
const fn default_backoff() -> u64 {
    200
}
const fn default_max_backoff() -> u64 {
    10_000
}
const fn default_timeout() -> u64 {
    30_000
}

impl NopConnectionConfig {
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if self.connection_id.trim().is_empty() {
            return Err(ConfigError::key(
                format!("{key}.connection_id"),
                "must not be empty",
            ));
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(ConfigError::key(
                format!("{key}.base_url"),
                format!("`{}` is not an http(s) URL", self.base_url),
            ));
        }
        if self.username.trim().is_empty() {
            return Err(ConfigError::key(
                format!("{key}.username"),
                "must not be empty",
            ));
        }
        require_secret(&format!("{key}.password"), &self.password)
    }
}
