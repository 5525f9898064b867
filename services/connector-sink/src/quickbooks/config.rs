//! Per-connection QuickBooks Online settings.
use nopbridge_runtime::config::{require_secret, ConfigError};
use secrecy::SecretString;
use serde::Deserialize;

/// How a customer whose DisplayName is taken (6240) is resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayNameRule {
    /// Use the existing customer of that name (active or not); when the name belongs to a
    /// vendor or employee, fall back to disambiguating.
    Adopt,
    /// Create the customer under the name plus ` #<store customer id>` (or the command id).
    #[default]
    Disambiguate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QboConnectionConfig {
    /// The connection id commands carry (the Kafka key of `sink.quickbooks_online.commands.v1`).
    pub connection_id: String,
    /// The company id (`realmId`).
    pub realm_id: String,
    /// API host; the company URL is `<base_url>/v3/company/<realm_id>`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// OAuth 2.0 token endpoint.
    #[serde(default = "default_token_url")]
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Refresh token from the consent flow. Used only when the database holds none for this
    /// connection: after the first refresh the rotated token in the database is the truth.
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// The company's home currency (ISO-4217).
    #[serde(default = "default_home_currency")]
    pub home_currency: String,
    /// Create items that no SKU lookup finds; off → the command is dead-lettered with a reason.
    #[serde(default)]
    pub create_missing_items: bool,
    /// DisplayName conflict (6240) rule: `adopt` or `disambiguate`.
    #[serde(default)]
    pub display_name_conflict: DisplayNameRule,
    /// Income account (by name) for items the connector creates.
    #[serde(default = "default_income_account")]
    pub income_account: String,
    /// Account (by name) refunds are paid from when the tender names none.
    #[serde(default = "default_refund_account")]
    pub refund_account: String,
    #[serde(default = "default_minor_version")]
    pub minor_version: u32,
    #[serde(default)]
    pub limits: QboLimits,
    #[serde(default)]
    pub retry: QboRetry,
    /// Follow this company's item quantities into the store (see `stock_watch.rs`); off when
    /// absent.
    #[serde(default)]
    pub stock_watch: Option<StockWatchConfig>,
}

/// Stock back-sync: QuickBooks on-hand changes the bridge did not cause become stock
/// adjustments of the store's products (by SKU).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockWatchConfig {
    /// Tenant and store id of the store that follows this company's stock: its events are
    /// routed to that store's write-back connection.
    pub tenant: String,
    pub store: String,
    /// Change-data-capture poll interval. Signed webhooks wake the watch sooner.
    #[serde(default = "default_watch_interval_ms")]
    pub interval_ms: u64,
    /// How far each poll reaches back before the last one ended: QuickBooks stamps changes
    /// in whole seconds, so a change in the last poll's second could otherwise be missed.
    /// Re-reading is harmless: a change already counted counts as nothing.
    #[serde(default = "default_watch_overlap_secs")]
    pub overlap_secs: u32,
    /// Appended to `canonical.inventory_level.v1` (tests sharing a broker).
    #[serde(default)]
    pub topic_suffix: String,
}

const fn default_watch_interval_ms() -> u64 {
    60_000
}
const fn default_watch_overlap_secs() -> u32 {
    60
}

fn default_base_url() -> String {
    "https://quickbooks.api.intuit.com".into()
}
fn default_token_url() -> String {
    "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer".into()
}
fn default_home_currency() -> String {
    "USD".into()
}
fn default_income_account() -> String {
    "Sales of Product Income".into()
}
fn default_refund_account() -> String {
    "Checking".into()
}
const fn default_minor_version() -> u32 {
    75
}

impl QboConnectionConfig {
    pub fn company_url(&self) -> String {
        format!(
            "{}/v3/company/{}",
            self.base_url.trim_end_matches('/'),
            self.realm_id
        )
    }

    pub(crate) fn validate(&self, at: &str) -> Result<(), ConfigError> {
        for (k, v) in [
            ("connection_id", &self.connection_id),
            ("realm_id", &self.realm_id),
            ("client_id", &self.client_id),
        ] {
            if v.trim().is_empty() {
                return Err(ConfigError::key(format!("{at}.{k}"), "must not be empty"));
            }
        }
        require_secret(&format!("{at}.client_secret"), &self.client_secret)?;
        if self.home_currency.len() != 3 {
            return Err(ConfigError::key(
                format!("{at}.home_currency"),
                "must be an ISO-4217 code",
            ));
        }
        if let Some(w) = &self.stock_watch {
            for (k, v) in [("tenant", &w.tenant), ("store", &w.store)] {
                if v.trim().is_empty() {
                    return Err(ConfigError::key(
                        format!("{at}.stock_watch.{k}"),
                        "must name the store whose stock follows this company",
                    ));
                }
            }
            if w.interval_ms == 0 {
                return Err(ConfigError::key(
                    format!("{at}.stock_watch.interval_ms"),
                    "must be positive",
                ));
            }
        }
        self.limits.validate(&format!("{at}.limits"))
    }
}

/// The realm's limits (Intuit: 500 requests/min, 10 in flight, 40 batch calls/min, ≤30 items).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QboLimits {
    pub requests_per_minute: u32,
    pub max_in_flight: usize,
    pub batch_calls_per_minute: u32,
    /// 1 disables batching.
    pub batch_max_items: usize,
    /// Length of the limit window in real milliseconds: 60 000 for QuickBooks; shorter for a
    /// clock-scaled emulator (time scale 60 → 1 000).
    pub window_ms: u64,
    /// How much longer than the window a call is counted, in per mille: the server counts a
    /// call from its arrival, a moment after we sent it, so without it a full window could
    /// overlap the server's by a call or two.
    pub headroom_per_mille: u32,
}

impl Default for QboLimits {
    fn default() -> Self {
        Self {
            requests_per_minute: 500,
            max_in_flight: 10,
            batch_calls_per_minute: 40,
            batch_max_items: 30,
            window_ms: 60_000,
            headroom_per_mille: 20,
        }
    }
}

impl QboLimits {
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        if self.requests_per_minute == 0 || self.max_in_flight == 0 || self.window_ms == 0 {
            return Err(ConfigError::key(at, "limits must be positive"));
        }
        if !(1..=30).contains(&self.batch_max_items) {
            return Err(ConfigError::key(
                format!("{at}.batch_max_items"),
                "must be 1..=30",
            ));
        }
        Ok(())
    }
}

/// Retries inside one command (the consumer loop retries the whole command on top).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QboRetry {
    /// Attempts per request for 5xx, timeouts and dropped connections (429 does not count).
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Wait after a 429 without Retry-After (Intuit: 60 s), jittered by up to +25 %.
    pub throttle_wait_ms: u64,
    /// Throttled waits per request before the command is handed back as transient.
    pub max_throttle_waits: u32,
    pub request_timeout_ms: u64,
    /// How long a command waits for a disconnected connection to be re-authorised before it
    /// is dead-lettered with class `auth`.
    pub disconnected_wait_ms: u64,
    /// How often a waiting command checks the database for a new refresh token.
    pub disconnected_poll_ms: u64,
}

impl Default for QboRetry {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff_ms: 250,
            max_backoff_ms: 30_000,
            throttle_wait_ms: 60_000,
            max_throttle_waits: 20,
            request_timeout_ms: 120_000,
            disconnected_wait_ms: 600_000,
            disconnected_poll_ms: 5_000,
        }
    }
}
