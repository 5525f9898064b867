//! Emulator settings. Every fact the reference marks as uncertain is a field here, with the
//! most likely value as default.

use serde::{Deserialize, Serialize};

/// Whole-emulator configuration (TOML file for the binary, struct literal for tests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// TCP port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// Emulated seconds per real second: 60.0 makes one emulated minute last one real second.
    pub time_scale: f64,
    /// Realms created at start-up.
    pub realms: Vec<RealmConfig>,
    /// Create a realm with `default_realm` settings the first time an unknown realm id is used.
    pub auto_create_realms: bool,
    /// Settings used for auto-created realms.
    pub default_realm: RealmConfig,
    pub limits: LimitsConfig,
    pub oauth: OAuthConfig,
    pub idempotency: IdempotencyConfig,
    pub validation: ValidationConfig,
    pub query: QueryConfig,
    pub webhooks: WebhookConfig,
    pub faults: FaultConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            time_scale: 1.0,
            realms: vec![RealmConfig::default()],
            auto_create_realms: true,
            default_realm: RealmConfig::default(),
            limits: LimitsConfig::default(),
            oauth: OAuthConfig::default(),
            idempotency: IdempotencyConfig::default(),
            validation: ValidationConfig::default(),
            query: QueryConfig::default(),
            webhooks: WebhookConfig::default(),
            faults: FaultConfig::default(),
        }
    }
}

impl EmulatorConfig {
    /// Reads a TOML file (the binary's `--config`).
    pub fn from_toml(text: &str) -> Result<Self, crate::Error> {
        toml::from_str(text).map_err(|e| crate::Error::Config(e.to_string()))
    }
}

/// One company (realm).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealmConfig {
    pub realm_id: String,
    pub company_name: String,
    /// ISO code of the home currency.
    pub home_currency: String,
    /// Multicurrency on: transactions may carry a foreign `CurrencyRef`.
    pub multicurrency: bool,
    /// "US": line TaxCodeRef is `TAX`/`NON` and the transaction tax code sets the rate.
    /// Anything else: every sales line needs a real TaxCode id (non-US model).
    pub country: String,
    /// Sales-form preference "custom transaction numbers": off → omitted DocNumber is
    /// auto-sequenced; on → omitted DocNumber stays blank.
    pub custom_txn_numbers: bool,
    /// `SalesFormsPrefs.AllowShipping`: the SHIPPING_ITEM_ID pseudo item is accepted.
    pub allow_shipping: bool,
    /// `SalesFormsPrefs.AllowDiscount`: DiscountLineDetail lines are accepted.
    pub allow_discount: bool,
}

impl Default for RealmConfig {
    fn default() -> Self {
        Self {
            realm_id: "9341452248471234".into(),
            company_name: "Emulated Company".into(),
            home_currency: "USD".into(),
            multicurrency: true,
            country: "US".into(),
            custom_txn_numbers: false,
            allow_shipping: true,
            allow_discount: true,
        }
    }
}

/// Throttling, per realm (reference section 4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub enabled: bool,
    /// Requests per emulated minute per realm (batch calls included).
    pub requests_per_minute: u32,
    /// Requests in flight at once per realm.
    pub max_in_flight: usize,
    /// Batch calls per emulated minute per realm.
    pub batch_calls_per_minute: u32,
    /// Each batch item counts as one request toward `requests_per_minute` (the docs only say
    /// "each batch counts"; default counts the batch call once).
    pub batch_items_count_individually: bool,
    /// Maximum items in one batch (sources say 10, 25 or 30).
    pub batch_max_items: usize,
    /// Probability that a 429 carries the XML fault body instead of JSON.
    pub throttle_xml_probability: f64,
    /// `Retry-After` seconds on 429 (the real service sends none as far as known).
    pub retry_after_secs: Option<u64>,
    /// Whether throttled requests count toward the per-minute window.
    pub throttled_requests_count: bool,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            requests_per_minute: 500,
            max_in_flight: 10,
            batch_calls_per_minute: 40,
            batch_items_count_individually: false,
            batch_max_items: 30,
            throttle_xml_probability: 0.5,
            retry_after_secs: None,
            throttled_requests_count: false,
        }
    }
}

/// OAuth 2.0 token endpoint and bearer checks (reference section 5).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// Require a valid bearer token on /v3 calls.
    pub require_auth: bool,
    pub client_id: String,
    pub client_secret: String,
    /// Access-token lifetime in emulated seconds.
    pub access_token_ttl_secs: u64,
    /// Idle lifetime of a refresh token in emulated seconds (rolling 100 days).
    pub refresh_token_ttl_secs: u64,
    /// A refresh returns a new refresh-token value once the current one is this old
    /// (emulated seconds); 0 rotates on every refresh, which exposes refresh races.
    pub rotation_interval_secs: u64,
    /// After rotation the previous refresh token keeps working this long (emulated seconds),
    /// then gives `invalid_grant`.
    pub refresh_grace_secs: u64,
    /// Probability that a 401 carries the XML (code 100) body instead of the JSON gateway body.
    pub auth_fault_xml_probability: f64,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            require_auth: true,
            client_id: "emulator-client".into(),
            client_secret: "emulator-secret".into(),
            access_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 8_726_400,
            rotation_interval_secs: 0,
            refresh_grace_secs: 0,
            auth_fault_xml_probability: 0.0,
        }
    }
}

/// `requestid` replay cache (reference section 1.11 and errata 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// Cache fault responses too (default: successes only, so a corrected retry works).
    pub cache_faults: bool,
    /// Maximum requestid length (batch uses `max_batch_len`).
    pub max_len: usize,
    pub max_batch_len: usize,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            cache_faults: false,
            max_len: 50,
            max_batch_len: 36,
        }
    }
}

/// Validation details the reference leaves open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// DisplayName/Name uniqueness ignores case.
    pub names_case_insensitive: bool,
    /// DisplayName maximum length (errata 4: 500).
    pub display_name_max: usize,
    /// Duplicate DocNumber per entity type → 6140 (unless `include=allowduplicatedocnum`).
    pub unique_doc_numbers: bool,
    /// Inventory quantity changes bump the Item's SyncToken.
    pub inventory_bumps_item_sync_token: bool,
    /// RefundReceipt needs DepositToAccountRef (recalled, not verified).
    pub refund_receipt_requires_deposit_account: bool,
    /// Tracked items refuse transactions dated before InvStartDate (6000; recalled).
    pub enforce_inventory_start_date: bool,
    /// US line without TaxCodeRef: TAX when the item is Taxable (as the QBO form does), else
    /// NON; off → always NON.
    pub line_tax_default_from_item: bool,
    /// Rounding of money to cents (lines, tax, totals, home amounts).
    pub rounding: Rounding,
}

/// Rounding to cents (reference 7.4 recalls half-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    #[default]
    HalfUp,
    HalfEven,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            names_case_insensitive: true,
            display_name_max: 500,
            unique_doc_numbers: true,
            inventory_bumps_item_sync_token: false,
            refund_receipt_requires_deposit_account: true,
            enforce_inventory_start_date: true,
            line_tax_default_from_item: true,
            rounding: Rounding::HalfUp,
        }
    }
}

/// Query-language details the reference leaves open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// `STARTPOSITION 0` → 4001 (unverified; MAXRESULTS 0 always is).
    pub reject_startposition_zero: bool,
    /// String comparisons ignore case.
    pub case_insensitive: bool,
    /// `PrimaryEmailAddr` filterable on Customer (disputed).
    pub customer_email_filterable: bool,
    /// `PrimaryEmailAddr` filterable on Vendor (a 2017 report says no).
    pub vendor_email_filterable: bool,
    /// Rows per page when MAXRESULTS is absent.
    pub default_max_results: usize,
    /// Upper bound for MAXRESULTS (larger values are capped).
    pub max_results_cap: usize,
    /// CDC look-back window in days and object cap.
    pub cdc_max_days: i64,
    pub cdc_max_objects: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            reject_startposition_zero: true,
            case_insensitive: true,
            customer_email_filterable: true,
            vendor_email_filterable: false,
            default_max_results: 100,
            max_results_cap: 1000,
            cdc_max_days: 30,
            cdc_max_objects: 1000,
        }
    }
}

/// Payload format of webhook deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Legacy,
    CloudEvents,
}

/// Webhook deliveries (reference section 6).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receiver URL; none disables deliveries.
    pub url: Option<String>,
    /// Key of the `intuit-signature` HMAC.
    pub verifier_token: String,
    pub format: WebhookFormat,
    /// Events are gathered this long (emulated ms) before a delivery.
    pub batch_window_ms: u64,
    /// Receiver must answer 200 within this (emulated ms) or the delivery is retried.
    pub ack_timeout_ms: u64,
    /// Waits between attempts in emulated seconds; the last one repeats.
    pub retry_schedule_secs: Vec<u64>,
    /// Give up after this many attempts.
    pub max_attempts: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: None,
            verifier_token: "emulator-verifier-token".into(),
            format: WebhookFormat::Legacy,
            batch_window_ms: 1000,
            ack_timeout_ms: 3000,
            retry_schedule_secs: vec![10, 20, 30, 300, 1200, 7200, 14400, 21600],
            max_attempts: 12,
        }
    }
}

/// Injected faults on /v3 calls; changeable at run time through the handle.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added latency per request, emulated ms (scaled by the clock).
    pub latency_ms: u64,
    /// Extra random latency up to this many emulated ms.
    pub latency_jitter_ms: u64,
    /// Probability of a 429 ThrottleExceeded regardless of the real limits.
    pub throttle_probability: f64,
    /// Probability of a 503 Service Unavailable.
    pub unavailable_probability: f64,
    /// Probability of a 500 SystemFault (code 10000).
    pub server_error_probability: f64,
    /// Probability of closing the connection without a response before executing.
    pub drop_before_probability: f64,
    /// Probability of executing the request, then closing the connection without a response
    /// (the client cannot know whether the write happened).
    pub drop_after_probability: f64,
    /// Seed for the fault dice (reproducible runs); none seeds from entropy.
    pub seed: Option<u64>,
    /// Apply the same faults to the OAuth token endpoint (refreshes must then be retried).
    pub apply_to_token_endpoint: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_file_parses() {
        let cfg = EmulatorConfig::from_toml(include_str!("../qbo-emulator.example.toml"));
        let cfg = cfg.map_err(|e| e.to_string());
        assert_eq!(cfg.as_ref().map(|c| c.realms.len()), Ok(2));
        assert_eq!(cfg.as_ref().map(|c| c.time_scale), Ok(60.0));
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        assert!(EmulatorConfig::from_toml("time_scal = 2.0").is_err());
    }
}
