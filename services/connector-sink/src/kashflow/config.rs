//! Per-connection KashFlow settings (`[[service.kashflow]]`).
use nopbridge_runtime::config::{require_secret, ConfigError};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KfConnectionConfig {
    /// The connection id commands carry (the Kafka key of `sink.kashflow.commands.v1`).
    pub connection_id: String,
    /// REST v2 base, e.g. `https://api.kashflow.com/v2` (or the emulator's `…/v2`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub username: String,
    pub password: SecretString,
    /// The account's memorable word; only the asked characters are ever sent.
    pub memorable_word: SecretString,
    /// The account's home currency (ISO-4217).
    #[serde(default = "default_home_currency")]
    pub home_currency: String,
    /// Sales nominal of product lines and of products the connector creates, unless the
    /// line's mapped account is a nominal code.
    #[serde(default = "default_sales_nominal")]
    pub sales_nominal: i64,
    /// Nominal of shipping lines (KashFlow has no freight field), unless mapped.
    #[serde(default = "default_shipping_nominal")]
    pub shipping_nominal: i64,
    /// Nominal of discount, fee, gift card, reward and rounding lines, unless mapped.
    #[serde(default = "default_sales_nominal")]
    pub other_nominal: i64,
    /// Bank account (`/bankaccounts` id) payments go to when the tender names none.
    #[serde(default = "default_bank_account")]
    pub bank_account_id: i64,
    /// Payment method id used when a tender's method is neither an id nor a known name.
    #[serde(default = "default_payment_method")]
    pub default_payment_method: i64,
    /// Tender payment method name → KashFlow method id (else looked up by name).
    #[serde(default)]
    pub payment_methods: BTreeMap<String, i64>,
    /// Create products that no (nominal, code) lookup finds when a sale needs them.
    #[serde(default = "yes")]
    pub create_missing_products: bool,
    /// Customer code prefix when a command carries no target code.
    #[serde(default = "default_code_prefix")]
    pub customer_code_prefix: String,
    #[serde(default)]
    pub limits: KfLimits,
    #[serde(default)]
    pub retry: KfRetry,
}

fn default_base_url() -> String {
    "https://api.kashflow.com/v2".into()
}
fn default_home_currency() -> String {
    "GBP".into()
}
const fn default_sales_nominal() -> i64 {
    4000
}
const fn default_shipping_nominal() -> i64 {
    4905
}
const fn default_bank_account() -> i64 {
    1201
}
const fn default_payment_method() -> i64 {
    3
}
const fn yes() -> bool {
    true
}
fn default_code_prefix() -> String {
    "WEB".into()
}

impl KfConnectionConfig {
    pub(crate) fn validate(&self, at: &str) -> Result<(), ConfigError> {
        for (k, v) in [
            ("connection_id", &self.connection_id),
            ("username", &self.username),
            ("base_url", &self.base_url),
        ] {
            if v.trim().is_empty() {
                return Err(ConfigError::key(format!("{at}.{k}"), "must not be empty"));
            }
        }
        require_secret(&format!("{at}.password"), &self.password)?;
        require_secret(&format!("{at}.memorable_word"), &self.memorable_word)?;
        if self.home_currency.len() != 3 {
            return Err(ConfigError::key(
                format!("{at}.home_currency"),
                "must be an ISO-4217 code",
            ));
        }
        if self.limits.max_in_flight == 0 {
            return Err(ConfigError::key(
                format!("{at}.limits.max_in_flight"),
                "must be positive",
            ));
        }
        Ok(())
    }

    pub fn api_url(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

/// KashFlow publishes no limit; clients run 5–12 workers (reference A7).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KfLimits {
    pub max_in_flight: usize,
    /// 0 = unpaced; else calls are spread evenly at this rate.
    pub requests_per_minute: u32,
    /// Renew the session before a call once it sat idle this long (KashFlow ends it after
    /// 60 minutes of inactivity; clients renew at 45).
    pub session_renew_idle_ms: u64,
}

impl Default for KfLimits {
    fn default() -> Self {
        Self {
            max_in_flight: 8,
            requests_per_minute: 0,
            session_renew_idle_ms: 45 * 60_000,
        }
    }
}

/// Retries inside one command (the consumer loop retries the whole command on top).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KfRetry {
    /// Attempts per request for 5xx, timeouts and dropped connections (429 does not count).
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Wait after a 429 without Retry-After, jittered by up to +25 %.
    pub throttle_wait_ms: u64,
    pub max_throttle_waits: u32,
    pub request_timeout_ms: u64,
}

impl Default for KfRetry {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 30_000,
            throttle_wait_ms: 5_000,
            max_throttle_waits: 20,
            request_timeout_ms: 60_000,
        }
    }
}
