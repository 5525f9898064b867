//! Per-connection Dynamics GP settings (`[[service.dynamics_gp]]`): where the eConnect
//! integration endpoint is, how to authenticate to it, and the company's set-up IDs the
//! documents use (DOCIDs per SOP type, site, batch, checkbook, cards, tax details).
use nopbridge_runtime::config::{require_secret, ConfigError};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpConnectionConfig {
    /// The connection id commands carry (the Kafka key of `sink.dynamics_gp.commands.v1`).
    pub connection_id: String,
    /// The company's integration endpoint, e.g. `https://gp-bridge.example/gp/TWO/econnect`.
    pub endpoint: String,
    /// Shared secret sent as `Authorization: Bearer …`; or use a client certificate.
    #[serde(default)]
    pub shared_secret: Option<SecretString>,
    /// PEM with the client certificate and its key (certificate authentication).
    #[serde(default)]
    pub client_identity_pem: Option<SecretString>,
    /// Extra CA (PEM) the endpoint's certificate is signed by.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Home currency (ISO-4217); documents in another currency carry CURNCYID and XCHGRATE.
    #[serde(default = "default_home_currency")]
    pub home_currency: String,
    /// ISO-4217 → GP currency ID (e.g. EUR = "Z-EURO").
    #[serde(default)]
    pub currency_ids: BTreeMap<String, String>,
    /// What a sale becomes: an invoice (SOPTYPE 3, payments) or an order (SOPTYPE 2,
    /// deposits) that GP transfers to an invoice when it is fulfilled.
    #[serde(default)]
    pub sale_document: SaleDocument,
    /// SOP document IDs per type.
    #[serde(default)]
    pub doc_ids: GpDocIds,
    /// Site (LOCNCODE) of lines and items when the command names none.
    #[serde(default = "default_site")]
    pub site: String,
    /// Batch number prefix: the batch is the prefix plus the document date (YYYYMMDD),
    /// fitted to 15 characters.
    #[serde(default = "default_batch_prefix")]
    pub batch_prefix: String,
    /// Customer address ID created with customers (errata 5: required).
    #[serde(default = "default_address_code")]
    pub address_code: String,
    /// Customer class for created customers (empty: none).
    #[serde(default)]
    pub customer_class: String,
    /// Unit of measure schedule for created items.
    #[serde(default = "default_uom")]
    pub uom_schedule: String,
    /// Item class for created items (empty: none).
    #[serde(default)]
    pub item_class: String,
    /// Create customers and items a document needs inside the same eConnect document.
    #[serde(default = "yes")]
    pub create_missing: bool,
    /// Checkbook of cash and check payments.
    #[serde(default = "default_checkbook")]
    pub checkbook: String,
    /// Tender payment method → GP credit card ID (CARDNAME); a tender whose method is not
    /// here is taken as a card ID when it is one of `cards`, else posted as a cash payment.
    #[serde(default)]
    pub card_ids: BTreeMap<String, String>,
    /// Credit card IDs set up in the company.
    #[serde(default = "default_cards")]
    pub cards: Vec<String>,
    /// VAT/tax rate percent (e.g. "20") → tax detail ID, when a line carries no tax code.
    #[serde(default)]
    pub tax_details: BTreeMap<String, String>,
    /// Customer number prefix when a command carries no target code.
    #[serde(default = "default_code_prefix")]
    pub customer_prefix: String,
    /// eConnect error numbers that are only known per installation (errata 7).
    #[serde(default)]
    pub errors: GpErrorNumbers,
    #[serde(default)]
    pub limits: GpLimits,
    #[serde(default)]
    pub retry: GpRetry,
}

fn default_home_currency() -> String {
    "GBP".into()
}
fn default_site() -> String {
    "MAIN".into()
}
fn default_batch_prefix() -> String {
    "WEB".into()
}
fn default_address_code() -> String {
    "PRIMARY".into()
}
fn default_uom() -> String {
    "EACH".into()
}
fn default_checkbook() -> String {
    "UPTOWN TRUST".into()
}
fn default_cards() -> Vec<String> {
    ["VISA", "MASTERCARD", "AMEX", "PAYPAL"]
        .map(String::from)
        .to_vec()
}
fn default_code_prefix() -> String {
    "WEB".into()
}
const fn yes() -> bool {
    true
}

impl GpConnectionConfig {
    pub(crate) fn validate(&self, at: &str) -> Result<(), ConfigError> {
        for (k, v) in [
            ("connection_id", &self.connection_id),
            ("endpoint", &self.endpoint),
            ("site", &self.site),
        ] {
            if v.trim().is_empty() {
                return Err(ConfigError::key(format!("{at}.{k}"), "must not be empty"));
            }
        }
        match (&self.shared_secret, &self.client_identity_pem) {
            (Some(s), _) => require_secret(&format!("{at}.shared_secret"), s)?,
            (None, Some(p)) => require_secret(&format!("{at}.client_identity_pem"), p)?,
            (None, None) => {
                return Err(ConfigError::key(
                    format!("{at}.shared_secret"),
                    "a shared secret or a client certificate (client_identity_pem) is required",
                ))
            }
        }
        if self.site.chars().count() > 10 {
            return Err(ConfigError::key(
                format!("{at}.site"),
                "LOCNCODE is at most 10 characters",
            ));
        }
        for (k, v) in [
            ("doc_ids.invoice", &self.doc_ids.invoice),
            ("doc_ids.order", &self.doc_ids.order),
            ("doc_ids.return", &self.doc_ids.r#return),
        ] {
            if v.is_empty() || v.chars().count() > 15 {
                return Err(ConfigError::key(
                    format!("{at}.{k}"),
                    "DOCID is 1 to 15 characters",
                ));
            }
        }
        if self.limits.max_in_flight == 0 {
            return Err(ConfigError::key(
                format!("{at}.limits.max_in_flight"),
                "must be positive",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleDocument {
    #[default]
    Invoice,
    Order,
}

impl SaleDocument {
    pub fn soptype(self) -> i16 {
        match self {
            Self::Invoice => 3,
            Self::Order => 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpDocIds {
    pub invoice: String,
    pub order: String,
    pub r#return: String,
}

impl Default for GpDocIds {
    fn default() -> Self {
        Self {
            invoice: "STDINV".into(),
            order: "STDORD".into(),
            r#return: "STDRTN".into(),
        }
    }
}

/// Error numbers of `DYNAMICS..taErrorCode` that the reference could not confirm.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpErrorNumbers {
    /// A SOP number that already exists for the type.
    pub duplicate_document: i64,
    /// A SOP document that is already posted (a resend after its batch was posted).
    pub posted_document: i64,
    pub customer_exists: i64,
    pub item_exists: i64,
    /// An item number (ITEMNMBR) the company does not have.
    pub unknown_item: i64,
    /// A site ID (LOCNCODE / TRXLOCTN) the company does not have.
    pub unknown_site: i64,
    /// An inventory transaction number (IVDOCNBR) that already exists.
    pub duplicate_adjustment: i64,
    /// A payment number (DOCNUMBR) already on the SOP document.
    pub duplicate_payment: i64,
}

impl Default for GpErrorNumbers {
    fn default() -> Self {
        Self {
            duplicate_document: 9101,
            posted_document: 9121,
            customer_exists: 9104,
            item_exists: 9105,
            unknown_item: 9103,
            unknown_site: 9106,
            duplicate_adjustment: 9122,
            duplicate_payment: 9125,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpLimits {
    /// Documents in flight at once (eConnect runs each in one SQL transaction).
    pub max_in_flight: usize,
}

impl Default for GpLimits {
    fn default() -> Self {
        Self { max_in_flight: 4 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpRetry {
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub throttle_wait_ms: u64,
    pub max_throttle_waits: u32,
    pub request_timeout_ms: u64,
}

impl Default for GpRetry {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            throttle_wait_ms: 5_000,
            max_throttle_waits: 20,
            request_timeout_ms: 120_000,
        }
    }
}
