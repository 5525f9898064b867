//! Layered typed config: struct defaults, then a TOML file, then `NOPBRIDGE_*` environment
//! variables (`__` separates levels: `NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS`). Every struct
//! denies unknown fields, so a typo fails at start with the key named.
use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use serde::{de::DeserializeOwned, Deserialize};
use std::{net::SocketAddr, path::PathBuf};
use thiserror::Error;

/// The variable naming the config file (besides `--config`).
pub const CONFIG_ENV: &str = "NOPBRIDGE_CONFIG";

#[derive(Debug, Error)]
pub enum ConfigError {
    /// Figment's message names the key, the expected shape and the source (file or variable).
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("invalid configuration: `{key}`: {reason}")]
    Key { key: String, reason: String },
    #[error("config file {path} not found (given by --config or {CONFIG_ENV})")]
    Missing { path: PathBuf },
}

impl ConfigError {
    pub fn key(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Key {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Checks that serde cannot express: non-empty secrets, consistent values.
pub trait Validate {
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Loads `T` from the file (if any) and the environment, then validates it.
pub fn load<T: DeserializeOwned + Validate>(file: Option<PathBuf>) -> Result<T, ConfigError> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::Missing { path });
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(Env::prefixed("NOPBRIDGE_").split("__").ignore(&["config"]));
    let cfg: T = figment.extract().map_err(|e| {
        // One line per problem; figment lists every error it found.
        ConfigError::Invalid(
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    cfg.validate()?;
    Ok(cfg)
}

/// The config path from `--config PATH` (or `--config=PATH`) or `NOPBRIDGE_CONFIG`.
pub fn config_path() -> Option<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// A required secret must be present (serde enforces that) and not blank.
pub fn require_secret(key: &str, value: &secrecy::SecretString) -> Result<(), ConfigError> {
    use secrecy::ExposeSecret;
    if value.expose_secret().trim().is_empty() {
        return Err(ConfigError::key(
            key,
            "secret is empty; set it in the file or the environment",
        ));
    }
    Ok(())
}

/// Where the gRPC control endpoint listens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    #[serde(default = "GrpcConfig::default_listen")]
    pub listen: SocketAddr,
    /// When set, Control calls must send `authorization: Bearer <token>`; health and
    /// reflection stay open for probes.
    #[serde(default)]
    pub auth_token: Option<secrecy::SecretString>,
}

impl GrpcConfig {
    fn default_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            listen: Self::default_listen(),
            auth_token: None,
        }
    }
}

/// The config of one service: the shared sections, plus the service's own under `[service]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig<S> {
    pub kafka: nopbridge_kafka::KafkaConfig,
    #[serde(default)]
    pub grpc: GrpcConfig,
    #[serde(default)]
    pub telemetry: crate::telemetry::TelemetryConfig,
    #[serde(default)]
    pub consumer: nopbridge_kafka::ConsumerConfig,
    /// How long a stopping service may take to finish in-flight work and commit.
    #[serde(default = "default_shutdown_deadline_ms")]
    pub shutdown_deadline_ms: u64,
    #[serde(default)]
    pub service: S,
}

const fn default_shutdown_deadline_ms() -> u64 {
    20_000
}

impl<S: Validate> Validate for ServiceConfig<S> {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.kafka.bootstrap_servers.trim().is_empty() {
            return Err(ConfigError::key(
                "kafka.bootstrap_servers",
                "must name at least one broker",
            ));
        }
        self.service.validate()
    }
}

/// For services without settings of their own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

impl Validate for NoSettings {}
