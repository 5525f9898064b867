//! The `[service]` section of connector-sink: where its own state lives and the target
//! connections it posts to.
use crate::{
    dynamics_gp::GpConnectionConfig, kashflow::KfConnectionConfig,
    nopcommerce::NopConnectionConfig, quickbooks::QboConnectionConfig,
};
use nopbridge_runtime::config::{require_secret, ConfigError, ServiceConfig, Validate};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeSet;

pub type Config = ServiceConfig<SinkSettings>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSettings {
    /// PostgreSQL URL for the connector's own state (cross references, OAuth tokens).
    /// Required as soon as a connection is configured. May carry a password, so it is secret.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// Pool size for that database.
    #[serde(default = "default_pool")]
    pub database_pool: u32,
    /// QuickBooks Online connections (one realm each).
    #[serde(default)]
    pub quickbooks: Vec<QboConnectionConfig>,
    /// The stores written back to (order notes, mark paid, status, stock).
    #[serde(default)]
    pub nopcommerce: Vec<NopConnectionConfig>,
    /// KashFlow accounts (one company each).
    #[serde(default)]
    pub kashflow: Vec<KfConnectionConfig>,
    /// Dynamics GP companies (one eConnect integration endpoint each).
    #[serde(default)]
    pub dynamics_gp: Vec<GpConnectionConfig>,
    /// A command whose prerequisite is not posted yet (a refund or payment before its sale)
    /// goes back to the end of its topic this often before it fails.
    #[serde(default = "default_prerequisite_requeues")]
    pub prerequisite_requeues: u32,
    /// The wait before its first requeue; each next one waits twice as long (at most 30 s).
    #[serde(default = "default_prerequisite_first_wait_ms")]
    pub prerequisite_first_wait_ms: u64,
    /// QuickBooks webhook receiver (they wake the stock watch of their realm); off when absent.
    #[serde(default)]
    pub quickbooks_webhooks: Option<QboWebhookConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QboWebhookConfig {
    /// Where `POST /webhooks/quickbooks` listens, e.g. "0.0.0.0:8081".
    pub listen: std::net::SocketAddr,
    /// The app's verifier token (Intuit's webhooks page): the key of `intuit-signature`.
    pub verifier_token: SecretString,
}

const fn default_pool() -> u32 {
    8
}
const fn default_prerequisite_requeues() -> u32 {
    10
}
const fn default_prerequisite_first_wait_ms() -> u64 {
    200
}

impl Validate for SinkSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !self.quickbooks.is_empty()
            || !self.nopcommerce.is_empty()
            || !self.kashflow.is_empty()
            || !self.dynamics_gp.is_empty()
        {
            match &self.database_url {
                Some(url) => require_secret("service.database_url", url)?,
                None => {
                    return Err(ConfigError::key(
                        "service.database_url",
                        "required when connections are configured (tokens and cross references live there)",
                    ))
                }
            }
        }
        if let Some(w) = &self.quickbooks_webhooks {
            require_secret(
                "service.quickbooks_webhooks.verifier_token",
                &w.verifier_token,
            )?;
        }
        let mut seen = BTreeSet::new();
        for (i, c) in self.nopcommerce.iter().enumerate() {
            c.validate(&format!("service.nopcommerce[{i}]"))?;
            if !seen.insert(c.connection_id.as_str()) {
                return Err(ConfigError::key(
                    format!("service.nopcommerce[{i}].connection_id"),
                    format!("`{}` is configured twice", c.connection_id),
                ));
            }
        }
        for (i, c) in self.quickbooks.iter().enumerate() {
            c.validate(&format!("service.quickbooks[{i}]"))?;
            if !seen.insert(c.connection_id.as_str()) {
                return Err(ConfigError::key(
                    format!("service.quickbooks[{i}].connection_id"),
                    format!("`{}` is configured twice", c.connection_id),
                ));
            }
        }
        for (i, c) in self.kashflow.iter().enumerate() {
            c.validate(&format!("service.kashflow[{i}]"))?;
            if !seen.insert(c.connection_id.as_str()) {
                return Err(ConfigError::key(
                    format!("service.kashflow[{i}].connection_id"),
                    format!("`{}` is configured twice", c.connection_id),
                ));
            }
        }
        for (i, c) in self.dynamics_gp.iter().enumerate() {
            c.validate(&format!("service.dynamics_gp[{i}]"))?;
            if !seen.insert(c.connection_id.as_str()) {
                return Err(ConfigError::key(
                    format!("service.dynamics_gp[{i}].connection_id"),
                    format!("`{}` is configured twice", c.connection_id),
                ));
            }
        }
        Ok(())
    }
}
