//! Emulator settings. Every fact the reference (shared/reference/kashflow_gp.md, part A)
//! marks as uncertain is a field here, with the most likely value as default.

use serde::{Deserialize, Serialize};

pub use nopbridge_emu_support::FaultConfig;

/// Whole-emulator configuration (TOML file for the binary, struct literal for tests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// TCP port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// Emulated seconds per real second: 60.0 makes one emulated minute last one real second
    /// (the 60-minute idle expiry then takes one real minute).
    pub time_scale: f64,
    /// KashFlow accounts (one company each, with its own login and data).
    pub accounts: Vec<AccountConfig>,
    pub session: SessionConfig,
    pub paging: PagingConfig,
    pub validation: ValidationConfig,
    pub rate_limit: RateLimitConfig,
    pub faults: FaultConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            time_scale: 1.0,
            accounts: vec![AccountConfig::default()],
            session: SessionConfig::default(),
            paging: PagingConfig::default(),
            validation: ValidationConfig::default(),
            rate_limit: RateLimitConfig::default(),
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

/// One KashFlow company with its API user and seeded reference data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountConfig {
    pub username: String,
    pub password: String,
    /// Characters of this word are asked for by 1-based position (case-insensitive).
    pub memorable_word: String,
    pub company_name: String,
    /// Login answers 401 AccountLocked.
    pub locked_out: bool,
    /// ISO 4217 home currency.
    pub home_currency: String,
    /// Number of the first auto-numbered invoice.
    pub first_invoice_number: i64,
    /// Nominal used for a line without NominalCode.
    pub default_sales_nominal: i64,
    pub nominals: Vec<NominalSeed>,
    /// Configured VAT percentages (`/vat/settings/vatrates`).
    pub vat_rates: Vec<f64>,
    pub bank_accounts: Vec<BankAccountSeed>,
    pub payment_methods: Vec<PaymentMethodSeed>,
    /// Currencies accepted on customers and invoices (ISO codes).
    pub currencies: Vec<String>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        let nominal = |code: i64, name: &str, classification: &str| NominalSeed {
            code,
            name: name.into(),
            classification: classification.into(),
        };
        Self {
            username: "emulator".into(),
            password: "emulator-password".into(),
            memorable_word: "pineapple".into(),
            company_name: "Emulated Trading Ltd".into(),
            locked_out: false,
            home_currency: "GBP".into(),
            first_invoice_number: 1,
            default_sales_nominal: 4000,
            nominals: vec![
                nominal(1200, "Bank Current Account", "Bank"),
                nominal(1210, "Card Receipts", "Bank"),
                nominal(2200, "VAT Liability", "Liabilities"),
                nominal(4000, "Sales Type A", "Sales"),
                nominal(4001, "Sales Type B", "Sales"),
                nominal(4900, "Miscellaneous Income", "Sales"),
                nominal(4905, "Carriage on Sales", "Sales"),
            ],
            vat_rates: vec![0.0, 5.0, 20.0],
            bank_accounts: vec![
                BankAccountSeed {
                    id: 1201,
                    name: "Current Account".into(),
                    nominal_code: 1200,
                },
                BankAccountSeed {
                    id: 1211,
                    name: "Card Receipts".into(),
                    nominal_code: 1210,
                },
            ],
            payment_methods: vec![
                PaymentMethodSeed {
                    id: 1,
                    name: "Cash".into(),
                },
                PaymentMethodSeed {
                    id: 2,
                    name: "Cheque".into(),
                },
                PaymentMethodSeed {
                    id: 3,
                    name: "Credit/Debit Card".into(),
                },
                PaymentMethodSeed {
                    id: 4,
                    name: "PayPal".into(),
                },
                PaymentMethodSeed {
                    id: 5,
                    name: "BACS".into(),
                },
            ],
            currencies: vec!["GBP".into(), "EUR".into(), "USD".into()],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NominalSeed {
    pub code: i64,
    pub name: String,
    /// "Sales", "Bank", "Liabilities", …; products may only sit under Sales nominals.
    pub classification: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankAccountSeed {
    pub id: i64,
    pub name: String,
    pub nominal_code: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodSeed {
    pub id: i64,
    pub name: String,
}

/// The two-step session token (reference A2.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Idle lifetime of a session token, emulated seconds ("60 minutes of inactivity").
    pub idle_timeout_secs: u64,
    /// Lifetime of the temporary token from step 1, emulated seconds (not published).
    pub temporary_token_ttl_secs: u64,
    /// How many memorable-word characters step 1 asks for.
    pub memorable_positions: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 3600,
            temporary_token_ttl_secs: 300,
            memorable_positions: 3,
        }
    }
}

/// What happens when `perpage` exceeds the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverMax {
    /// 400 ValidationError.
    #[default]
    Reject,
    /// Served with the maximum page size.
    Cap,
}

/// Response shape of endpoints the sources disagree on (errata 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ListShape {
    /// A bare JSON array.
    #[default]
    Bare,
    /// The `{Data, MetaData}` envelope with `page`/`perpage`.
    Paged,
}

/// The `{Data, MetaData}` envelope (reference A3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagingConfig {
    pub max_per_page: usize,
    pub customers_per_page: usize,
    pub invoices_per_page: usize,
    /// `/products/list`.
    pub products_per_page: usize,
    pub perpage_over_max: OverMax,
    /// `GET /products`.
    pub products_shape: ListShape,
    /// `GET /nominals`.
    pub nominals_shape: ListShape,
    /// Default page size of `/products` and `/nominals` when they are paged.
    pub reference_per_page: usize,
}

impl Default for PagingConfig {
    fn default() -> Self {
        Self {
            max_per_page: 100,
            customers_per_page: 50,
            invoices_per_page: 50,
            products_per_page: 10,
            perpage_over_max: OverMax::Reject,
            products_shape: ListShape::Bare,
            nominals_shape: ListShape::Bare,
            reference_per_page: 50,
        }
    }
}

/// A supplied invoice Number that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NumberCollision {
    /// 400 ValidationError.
    #[default]
    Reject,
    /// Silently takes the next free number.
    Renumber,
}

/// `PaymentLines` on an invoice PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaymentLinesOnPut {
    /// The list is the invoice's full set: lines with `Id` are kept (and may change), lines
    /// without are added, stored lines not listed are removed.
    #[default]
    Replace,
    /// Lines without `Id` are added; nothing is removed.
    Append,
}

/// What an invoice with a negative total (a credit note) meets. The REST resource map has no
/// credit-note endpoint; KashFlow's own practice is a sales invoice with negative quantities
/// or rates, whose payment lines are the money paid back. Not verified in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CreditNotes {
    /// Accepted: negative net, VAT and gross; stock of managed products goes back up by the
    /// credited quantity; payment lines (positive amounts) record the money paid back, up to
    /// the credit's gross.
    #[default]
    NegativeInvoices,
    /// 400 ValidationError (`{"Error":"ValidationError","Message":…}`), nothing stored.
    Refused,
}

/// Validation details the reference leaves open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// Longest customer code accepted (none published; at least 20 expected).
    pub max_customer_code_length: usize,
    /// Longest product code accepted.
    pub max_product_code_length: usize,
    /// A line's VATAmount may differ from round(Qty×Rate×VATLevel/100) by this much.
    pub vat_tolerance: f64,
    /// Ignore the client's VATAmount and compute it (unknown whether KashFlow does).
    pub recalculate_vat: bool,
    pub invoice_number_collision: NumberCollision,
    /// A line whose ProductCode is not a product under its nominal: 400 (true) or kept as a
    /// free-text line (false).
    pub reject_unknown_product: bool,
    /// Stock may go below zero through sales invoices.
    pub allow_negative_stock: bool,
    /// Payments beyond the gross amount are accepted (status stays "Paid").
    pub allow_overpayment: bool,
    /// An invoice needs at least one line.
    pub require_line_items: bool,
    pub payment_lines_on_put: PaymentLinesOnPut,
    /// `PUT /products/{nominal}/{code}` may set QuantityInStock (no stock endpoint exists).
    pub product_put_sets_quantity: bool,
    /// Products come back with the legacy names `ManagesStock`/`WarnAt` instead of
    /// `ManageStockLevel`/`StockWarningQuantity` (errata 6: clients should read both).
    pub legacy_product_field_names: bool,
    /// A customer with invoices cannot be deleted.
    pub protect_customers_with_invoices: bool,
    /// Invoices whose total is negative (credit notes).
    pub credit_notes: CreditNotes,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            max_customer_code_length: 50,
            max_product_code_length: 50,
            vat_tolerance: 0.01,
            recalculate_vat: false,
            invoice_number_collision: NumberCollision::Reject,
            reject_unknown_product: true,
            allow_negative_stock: true,
            allow_overpayment: false,
            require_line_items: true,
            payment_lines_on_put: PaymentLinesOnPut::Replace,
            product_put_sets_quantity: true,
            legacy_product_field_names: false,
            protect_customers_with_invoices: true,
            credit_notes: CreditNotes::NegativeInvoices,
        }
    }
}

/// No rate limit is published; off by default, a per-account window when on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Requests per emulated minute per account.
    pub requests_per_minute: u32,
    /// `Retry-After` seconds on a 429.
    pub retry_after_secs: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            requests_per_minute: 600,
            retry_after_secs: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_file_parses() {
        let cfg = EmulatorConfig::from_toml(include_str!("../kashflow-emulator.example.toml"))
            .map_err(|e| e.to_string());
        assert_eq!(cfg.as_ref().map(|c| c.accounts.len()), Ok(2));
        assert_eq!(cfg.as_ref().map(|c| c.time_scale), Ok(60.0));
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        assert!(EmulatorConfig::from_toml("time_scal = 2.0").is_err());
    }
}
