use crate::summaries::is_summary_connection;
use nopbridge_mapping::{ConfigError as MappingConfigError, Mapper};
use nopbridge_runtime::config::{require_secret, ConfigError, Validate};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// `[service]` settings of transform.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Mapping config files, one YAML per connection (see crates/mapping/README.md).
    #[serde(default)]
    pub mapping_files: Vec<PathBuf>,
    /// Or a directory: every `*.yaml` / `*.yml` in it.
    #[serde(default)]
    pub mapping_dir: Option<PathBuf>,
    /// Appended to every command topic name (tests isolate their topics with it).
    #[serde(default)]
    pub command_topic_suffix: String,
    /// PostgreSQL keeping the days of daily-summary connections (their orders until the day
    /// is posted). Required when a connection has `posting.mode: daily_summary`.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// How often the closer looks for days to close.
    #[serde(default = "default_check_ms")]
    pub summary_check_interval_ms: u64,
}

const fn default_check_ms() -> u64 {
    30_000
}

impl Settings {
    pub fn load_mapper(&self) -> Result<Mapper, MappingConfigError> {
        match &self.mapping_dir {
            Some(dir) => Mapper::from_dir(dir),
            None => Mapper::from_files(&self.mapping_files),
        }
    }

    /// Refuses a mapping with daily-summary connections when there is no database to keep
    /// their days in.
    pub fn check_summary_database(&self, mapper: &Mapper) -> Result<(), String> {
        if self.database_url.is_some() {
            return Ok(());
        }
        match mapper.connections().iter().find(|c| is_summary_connection(c)) {
            Some(c) => Err(format!(
                "connection {} posts daily summaries (posting.mode: daily_summary), which keep their days in PostgreSQL: set service.database_url (NOPBRIDGE_SERVICE__DATABASE_URL)",
                c.config.connection_id
            )),
            None => Ok(()),
        }
    }
}

impl Validate for Settings {
    /// Loads the mapping now, so a bad file stops the service at start with file, line and key.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.mapping_files.is_empty() && self.mapping_dir.is_none() {
            return Err(ConfigError::key(
                "service.mapping_files",
                "no mapping config: set service.mapping_files or service.mapping_dir",
            ));
        }
        if let Some(url) = &self.database_url {
            require_secret("service.database_url", url)?;
        }
        if self.summary_check_interval_ms == 0 {
            return Err(ConfigError::key(
                "service.summary_check_interval_ms",
                "must be at least 1",
            ));
        }
        let mapper = self
            .load_mapper()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.check_summary_database(&mapper)
            .map_err(|m| ConfigError::key("service.database_url", m))
    }
}
