//! `[service]` settings: the webhook receiver, the state database and the store connections.
use chrono::{DateTime, Utc};
use nopbridge_runtime::config::{require_secret, ConfigError, Validate};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// `[service]` settings of ingest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Shared secret the store signs webhook notifications with (HMAC-SHA256). Required;
    /// a connection may override it with its own `webhook_secret`.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// Where the webhook receiver listens; no receiver when unset.
    #[serde(default)]
    pub webhook_listen: Option<SocketAddr>,
    /// Oldest accepted notification timestamp, seconds (either side of now).
    #[serde(default = "default_tolerance")]
    pub webhook_tolerance_secs: u64,
    /// PostgreSQL holding cursors, content hashes and seen delivery ids. Required when
    /// connections are configured.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// Appended to every topic ingest reads and writes (tests isolate their topics on a
    /// shared broker with it); empty in deployments.
    #[serde(default)]
    pub topic_suffix: String,
    /// Store connections (tenant, store, API dialect, credentials, schedule).
    #[serde(default)]
    pub connections: Vec<ConnectionSettings>,
}

const fn default_tolerance() -> u64 {
    300
}

/// Which nopCommerce API a connection talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// The official Web API Backend plugin (`/api-backend`): every entity.
    #[default]
    Official,
    /// The free community API (`/api`): orders, customers and products only.
    Community,
}

/// One store connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    /// Stable id (routing key, cursor key, webhook path `/webhooks/nopcommerce/{id}`).
    pub id: String,
    pub tenant: String,
    /// nopCommerce store id this connection ingests (orders of other stores are skipped).
    pub store_id: i64,
    #[serde(default)]
    pub dialect: Dialect,
    /// Store root, e.g. `https://shop.example.com` (the dialect adds `/api-backend` or `/api`).
    /// Connections with the same base URL are one site: a webhook about a record of another
    /// store of the site is handed to that store's connection.
    pub base_url: String,
    /// Host header to send (the community API answers for the store whose hosts match it).
    #[serde(default)]
    pub host: Option<String>,
    pub username: String,
    pub password: SecretString,
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// TaxSettings.PricesIncludeTax of the store (product prices include tax).
    #[serde(default)]
    pub prices_include_tax: bool,
    /// ISO code of the store's primary currency.
    #[serde(default = "default_currency")]
    pub store_currency: String,
    /// How often new records are looked for.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// How often non-terminal orders and undelivered shipments are fetched again.
    #[serde(default = "default_repoll_ms")]
    pub repoll_interval_ms: u64,
    /// Orders created within this many days are re-polled even when terminal (a complete
    /// order can still be refunded).
    #[serde(default = "default_window_days")]
    pub repoll_window_days: u32,
    /// Historical backfill starts here; without it only records created after the first
    /// start are ingested.
    #[serde(default)]
    pub backfill_from: Option<DateTime<Utc>>,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Concurrent entity fetches while paging.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Attempts per request on 429/5xx/timeouts before the error is reported.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Disables the polling loops (webhooks only).
    #[serde(default = "default_true")]
    pub polling: bool,
    /// The store's country ids → ISO-3166 alpha-2 codes (country ids are per database),
    /// e.g. `{ 1 = "US", 74 = "FR" }`.
    #[serde(default)]
    pub country_codes: BTreeMap<String, String>,
}

fn default_currency() -> String {
    "USD".into()
}
const fn default_poll_ms() -> u64 {
    30_000
}
const fn default_repoll_ms() -> u64 {
    300_000
}
const fn default_window_days() -> u32 {
    14
}
const fn default_page_size() -> u32 {
    250
}
const fn default_concurrency() -> usize {
    8
}
const fn default_timeout_ms() -> u64 {
    10_000
}
const fn default_attempts() -> u32 {
    6
}
const fn default_backoff_ms() -> u64 {
    200
}
const fn default_max_backoff_ms() -> u64 {
    10_000
}
const fn default_true() -> bool {
    true
}

impl ConnectionSettings {
    /// The country map with numeric ids (validated at start).
    pub fn countries(&self) -> BTreeMap<i64, String> {
        self.country_codes
            .iter()
            .filter_map(|(k, v)| Some((k.trim().parse().ok()?, v.to_ascii_uppercase())))
            .collect()
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        match &self.webhook_secret {
            Some(s) => require_secret("service.webhook_secret", s)?,
            None => {
                return Err(ConfigError::key(
                    "service.webhook_secret",
                    "required secret is missing; set it in the config file or NOPBRIDGE_SERVICE__WEBHOOK_SECRET",
                ))
            }
        }
        if !self.connections.is_empty() && self.database_url.is_none() {
            return Err(ConfigError::key(
                "service.database_url",
                "connections need a PostgreSQL database for cursors and content hashes",
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, c) in self.connections.iter().enumerate() {
            let key = format!("service.connections[{i}]");
            if c.id.trim().is_empty() || c.id.contains('/') {
                return Err(ConfigError::key(
                    format!("{key}.id"),
                    "must be non-empty, without '/'",
                ));
            }
            if !ids.insert(c.id.clone()) {
                return Err(ConfigError::key(
                    format!("{key}.id"),
                    "duplicate connection id",
                ));
            }
            if c.tenant.trim().is_empty() || c.username.trim().is_empty() {
                return Err(ConfigError::key(
                    key,
                    "tenant and username must not be empty",
                ));
            }
            require_secret(&format!("{key}.password"), &c.password)?;
            for (k, v) in &c.country_codes {
                if k.trim().parse::<i64>().is_err() || v.len() != 2 {
                    return Err(ConfigError::key(
                        format!("{key}.country_codes.{k}"),
                        "expected a country id = two-letter ISO code",
                    ));
                }
            }
            if let Some(s) = &c.webhook_secret {
                require_secret(&format!("{key}.webhook_secret"), s)?;
            }
            if nopbridge_model::Currency::new(&c.store_currency).is_err() {
                return Err(ConfigError::key(
                    format!("{key}.store_currency"),
                    "not an ISO-4217 code",
                ));
            }
            if c.page_size == 0 || c.concurrency == 0 || c.max_attempts == 0 {
                return Err(ConfigError::key(
                    key,
                    "page_size, concurrency and max_attempts must be > 0",
                ));
            }
            if c.dialect == Dialect::Community && c.page_size > crate::client::community::MAX_LIMIT
            {
                return Err(ConfigError::key(
                    format!("{key}.page_size"),
                    "the community API returns at most 250 records per call",
                ));
            }
            if !c.base_url.starts_with("http://") && !c.base_url.starts_with("https://") {
                return Err(ConfigError::key(
                    format!("{key}.base_url"),
                    "must be an http(s) URL",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(toml_text: &str) -> Result<Settings, String> {
        let s: Settings = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        s.validate().map(|_| s).map_err(|e| e.to_string())
    }

    const CONN: &str = r#"
webhook_secret = "s"
database_url = "postgres://x@127.0.0.1/db"
[[connections]]
id = "acme-main"
tenant = "acme"
store_id = 1
base_url = "http://127.0.0.1:8081"
username = "admin"
password = "pw"
"#;

    #[test]
    fn a_connection_gets_its_defaults() {
        let s = parse(CONN).unwrap();
        let c = &s.connections[0];
        assert_eq!(c.dialect, Dialect::Official);
        assert_eq!(
            (c.store_currency.as_str(), c.page_size, c.polling),
            ("USD", 250, true)
        );
    }

    #[test]
    fn invalid_connections_name_the_key() {
        let no_db = CONN.replace("database_url = \"postgres://x@127.0.0.1/db\"\n", "");
        assert!(parse(&no_db).unwrap_err().contains("service.database_url"));
        let dup = format!("{CONN}{}", &CONN[CONN.find("[[connections]]").unwrap()..]);
        assert!(parse(&dup).unwrap_err().contains("duplicate"));
        let big = CONN.replace(
            "store_id = 1",
            "store_id = 1\ndialect = \"community\"\npage_size = 500",
        );
        assert!(parse(&big)
            .unwrap_err()
            .contains("connections[0].page_size"));
        let blank = CONN.replace("password = \"pw\"", "password = \" \"");
        assert!(parse(&blank)
            .unwrap_err()
            .contains("connections[0].password"));
        let cur = CONN.replace("store_id = 1", "store_id = 1\nstore_currency = \"usd1\"");
        assert!(parse(&cur).unwrap_err().contains("store_currency"));
        assert!(parse("").unwrap_err().contains("service.webhook_secret"));
    }
}
