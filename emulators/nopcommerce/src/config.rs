//! Emulator settings. Facts the reference marks as version-dependent or unverified are
//! settings here rather than guesses (see README.md for the mapping to the reference).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmulatorConfig {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Seed of the data generator and of the fault dice.
    pub seed: u64,
    /// Orders the generator places at start-up (0 = empty catalogue and store set-up only).
    pub orders: usize,
    pub credentials: Credentials,
    pub auth: AuthConfig,
    pub store: StoreSettings,
    pub owb: OwbSettings,
    pub community: CommunitySettings,
    pub webhook: WebhookConfig,
    pub faults: FaultConfig,
    pub generator: GeneratorConfig,
    pub live: LiveConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            seed: 42,
            orders: 0,
            credentials: Credentials::default(),
            auth: AuthConfig::default(),
            store: StoreSettings::default(),
            owb: OwbSettings::default(),
            community: CommunitySettings::default(),
            webhook: WebhookConfig::default(),
            faults: FaultConfig::default(),
            generator: GeneratorConfig::default(),
            live: LiveConfig::default(),
        }
    }
}

/// Background demo traffic after start-up (all off by default; at most 240 per minute
/// each).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct LiveConfig {
    /// New random orders per minute.
    pub orders_per_minute: f64,
    /// Life-cycle steps per minute on open orders (pay, capture, ship, deliver, cancel,
    /// partial refund).
    pub actions_per_minute: f64,
    /// New registered customers per minute.
    pub customers_per_minute: f64,
}

/// The admin account both APIs authenticate (OWB GetToken and community `/token`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Credentials {
    pub username: String,
    pub email: String,
    pub password: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            username: "admin".into(),
            email: "admin@example.test".into(),
            password: "admin-password".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// HMAC key of the issued JWTs.
    pub jwt_secret: String,
    /// Lifetime of OWB tokens, seconds.
    pub owb_token_ttl_secs: i64,
    /// Lifetime of community tokens (F480 `TokenExpiryInDays` = 365 by default), days.
    pub community_token_ttl_days: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: "nop-emulator-jwt-secret-change-me".into(),
            owb_token_ttl_secs: 3600,
            community_token_ttl_days: 365,
        }
    }
}

/// Store-wide nopCommerce settings that change stored values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreSettings {
    /// `ShoppingCartSettings.RoundPricesDuringCalculation` (installer default: on). Rounds
    /// unit prices, subtotals, shipping, discounts, OrderTax and OrderTotal to the currency;
    /// per-line tax and TaxRates amounts stay unrounded either way (errata 1).
    pub round_prices_during_calculation: bool,
    /// Decimal places of `Order.CurrencyRate`: 4 on fresh 4.30+ installs, 8 on databases
    /// created with 4.20 or earlier (errata 3).
    pub currency_rate_decimals: u32,
    /// `CurrencySettings.PrimaryExchangeRateCurrencyId` as a code: the currency whose Rate
    /// is 1. The primary store currency stays USD; with "EUR" here USD gets Rate 1.0870, so
    /// `Currency.Rate` cannot be used as the order rate directly (pitfall 12).
    pub primary_exchange_rate_currency: String,
    /// `OrderSettings.CompleteOrderWhenDelivered` (default true).
    pub complete_order_when_delivered: bool,
    /// `OrderSettings.CustomOrderNumberMask`; `{ID}` and `{YYYY}`, `{MM}`, `{DD}` are replaced.
    pub custom_order_number_mask: String,
    /// `OrderSettings.ReturnRequestNumberMask`.
    pub return_request_number_mask: String,
    /// Write the "\"…\" email has been queued" notes the services add when message templates
    /// are active (template activation is per install).
    pub write_email_notes: bool,
    /// Tax rate (percent) per tax category id, as the tax provider would answer.
    pub tax_rates_by_category: BTreeMap<i32, Decimal>,
    /// Tax category used for shipping (`TaxSettings.ShippingTaxClassId`); 0 = shipping not taxed.
    pub shipping_tax_category_id: i32,
    /// Format of the amounts inside `TaxRates`: false = normalized (`20:20.1;   `, §1.13),
    /// true = with the 4-decimal scale (`20.0000:20.1000;   `, errata 2).
    pub tax_rates_with_scale: bool,
    /// Which payment operations the (simulated) online payment gateway supports.
    pub gateway: GatewayCapabilities,
}

impl Default for StoreSettings {
    fn default() -> Self {
        let mut rates = BTreeMap::new();
        rates.insert(1, Decimal::new(20, 0));
        rates.insert(2, Decimal::new(5, 0));
        rates.insert(3, Decimal::ZERO);
        rates.insert(4, Decimal::new(7, 0));
        Self {
            round_prices_during_calculation: true,
            currency_rate_decimals: 4,
            primary_exchange_rate_currency: "USD".into(),
            complete_order_when_delivered: true,
            custom_order_number_mask: "{ID}".into(),
            return_request_number_mask: "{ID}".into(),
            write_email_notes: false,
            tax_rates_by_category: rates,
            shipping_tax_category_id: 1,
            tax_rates_with_scale: false,
            gateway: GatewayCapabilities::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayCapabilities {
    pub supports_capture: bool,
    pub supports_refund: bool,
    pub supports_partial_refund: bool,
    pub supports_void: bool,
}

impl Default for GatewayCapabilities {
    fn default() -> Self {
        Self {
            supports_capture: true,
            supports_refund: true,
            supports_partial_refund: true,
            supports_void: true,
        }
    }
}

/// Official Web API Backend details the spec leaves open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OwbSettings {
    /// Separators accepted in `osIds`/`psIds`/`ssIds`/`customerRoleIds` and `GetByIds/{ids}`
    /// (the spec documents `;` for path lists; query lists are unverified).
    pub id_list_separators: String,
    /// OWB v1.06 CustomerDto has no first/last name (pre-4.60); a 4.70 build has the columns.
    pub customer_names_in_dto: bool,
    /// Offset of the server's local time, minutes: date filters without an offset are read
    /// as server-local time (pitfall 3).
    pub server_utc_offset_minutes: i32,
}

impl Default for OwbSettings {
    fn default() -> Self {
        Self {
            id_list_separators: ";".into(),
            customer_names_in_dto: true,
            server_utc_offset_minutes: 0,
        }
    }
}

/// Free community API (SevenSpikes-style, F480 flavour by default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CommunitySettings {
    /// SS420 drops guests from `/api/customers`; F480 keeps them.
    pub exclude_guests_from_customer_list: bool,
    /// SS420/SS430B embed `customer` in every order; F480 dropped it.
    pub embed_customer_in_orders: bool,
    /// `/api/orders` answers only the store whose `Hosts` match the request Host header
    /// (falling back to the first store).
    pub scope_orders_to_host_store: bool,
    /// Every API call without the nopCommerce cookie creates a guest customer row (SS #87,
    /// nopCommerce #3193), so customer ids jump.
    pub create_guest_per_request: bool,
}

impl Default for CommunitySettings {
    fn default() -> Self {
        Self {
            exclude_guests_from_customer_list: false,
            embed_customer_in_orders: false,
            scope_orders_to_host_store: true,
            create_guest_per_request: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookConfig {
    /// Receiver URL; None disables notifications.
    pub url: Option<String>,
    pub secret: String,
    pub encoding: SignatureEncoding,
    /// Attempts per notification, the first included.
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Per-attempt HTTP timeout.
    pub timeout_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: None,
            secret: "nop-emulator-webhook-secret".into(),
            encoding: SignatureEncoding::Hex,
            max_attempts: 6,
            initial_backoff_ms: 200,
            max_backoff_ms: 10_000,
            timeout_ms: 3_000,
        }
    }
}

/// Fault knobs; also changeable at run time through the handle.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct FaultConfig {
    /// Added to every API request.
    pub latency_ms: u64,
    /// Extra random latency in 0..=jitter.
    pub latency_jitter_ms: u64,
    /// Probability that a request starts a burst of 429 answers.
    pub rate_limit_probability: f64,
    /// Probability that a request starts a burst of 503 answers.
    pub server_error_probability: f64,
    /// Requests per burst (at least 1).
    pub burst_length: u32,
    /// `Retry-After` seconds sent with 429.
    pub retry_after_secs: u32,
    /// Probability that the connection is closed without an answer (request not run).
    pub drop_connection_probability: f64,
    /// Probability that the request runs and then the connection closes without an answer.
    pub drop_after_processing_probability: f64,
    /// Probability that a 2xx/4xx answer keeps its status but has its body cut in half.
    pub malformed_body_probability: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratorConfig {
    pub stores: usize,
    pub products: usize,
    pub registered_customers: usize,
    pub guest_share: f64,
    /// First order time (RFC 3339); orders are spread forward from it.
    pub start: String,
    /// Average seconds between generated orders.
    pub order_interval_secs: i64,
    /// Send webhooks for the data generated at start-up.
    pub emit_webhooks: bool,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            stores: 3,
            products: 60,
            registered_customers: 400,
            guest_share: 0.25,
            start: "2024-01-01T00:00:00Z".into(),
            order_interval_secs: 900,
            emit_webhooks: false,
        }
    }
}
