use nopbridge_mapping::{ConfigError as MappingConfigError, Mapper};
use nopbridge_runtime::config::{ConfigError, Validate};
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
}

impl Settings {
    pub fn load_mapper(&self) -> Result<Mapper, MappingConfigError> {
        match &self.mapping_dir {
            Some(dir) => Mapper::from_dir(dir),
            None => Mapper::from_files(&self.mapping_files),
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
        self.load_mapper()
            .map(|_| ())
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}
