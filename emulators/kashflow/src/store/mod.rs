//! One KashFlow company's data: customers by Code, products by (nominal, code), nominals,
//! invoices with lines and payment lines, bulk payments. Every write validates first and
//! changes nothing when it fails.

mod customers;
mod invoices;
mod products;

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::config::{AccountConfig, ValidationConfig};
use crate::error::{ApiError, ApiResult};
use crate::json::{self, Object};

pub use customers::Customer;
pub use invoices::{Invoice, InvoiceLine, PaymentLine};
pub use products::Product;

#[derive(Debug, Clone)]
pub struct Nominal {
    pub id: i64,
    pub code: i64,
    pub name: String,
    pub classification: String,
    pub fields: Object,
}

impl Nominal {
    pub fn render(&self) -> Value {
        let mut o = self.fields.clone();
        json::set(&mut o, "Id", json!(self.id));
        json::set(&mut o, "Code", json!(self.code));
        json::set(&mut o, "Name", json!(self.name));
        json::set(&mut o, "Classification", json!(self.classification));
        o.entry("Archived").or_insert(json!(false));
        Value::Object(o)
    }
}

/// Per-account counters for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountCounters {
    pub customers_created: u64,
    pub products_created: u64,
    pub invoices_created: u64,
    pub payments_added: u64,
    pub validation_errors: u64,
}

pub struct Account {
    pub config: AccountConfig,
    next_id: i64,
    /// Keyed by upper-case code (lookups ignore case, as the SQL collation does).
    pub customers: BTreeMap<String, Customer>,
    /// Keyed by (nominal code, upper-case product code).
    pub products: BTreeMap<(i64, String), Product>,
    pub nominals: BTreeMap<i64, Nominal>,
    pub invoices: BTreeMap<i64, Invoice>,
    pub bulk_payments: BTreeMap<i64, Value>,
    pub counters: AccountCounters,
}

/// What the store needs from the request context.
pub struct Ctx<'a> {
    pub now: NaiveDateTime,
    pub validation: &'a ValidationConfig,
}

pub fn key(code: &str) -> String {
    code.trim().to_uppercase()
}

impl Account {
    pub fn new(config: AccountConfig) -> Self {
        let mut account = Self {
            next_id: 1000,
            customers: BTreeMap::new(),
            products: BTreeMap::new(),
            nominals: BTreeMap::new(),
            invoices: BTreeMap::new(),
            bulk_payments: BTreeMap::new(),
            counters: AccountCounters::default(),
            config,
        };
        for seed in account.config.nominals.clone() {
            let id = account.id();
            account.nominals.insert(
                seed.code,
                Nominal {
                    id,
                    code: seed.code,
                    name: seed.name,
                    classification: seed.classification,
                    fields: Object::new(),
                },
            );
        }
        account
    }

    /// Next database id (customers, products, invoices, payments share the sequence).
    pub fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn nominal(&self, code: i64) -> ApiResult<&Nominal> {
        self.nominals
            .get(&code)
            .ok_or_else(|| ApiError::validation(format!("Nominal code {code} does not exist.")))
    }

    pub fn vat_rates(&self) -> Vec<Decimal> {
        self.config
            .vat_rates
            .iter()
            .map(|r| json::config_decimal(*r))
            .collect()
    }

    pub fn currency(&self, code: Option<&str>, rate: Option<Decimal>) -> ApiResult<Value> {
        let code = code.unwrap_or(&self.config.home_currency).to_uppercase();
        if !self
            .config
            .currencies
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&code))
        {
            return Err(ApiError::validation(format!(
                "Currency {code} is not set up for this account."
            )));
        }
        let (name, symbol) = match code.as_str() {
            "GBP" => ("Pound Sterling", "£"),
            "EUR" => ("Euro", "€"),
            "USD" => ("US Dollar", "$"),
            _ => ("", ""),
        };
        let rate = if code.eq_ignore_ascii_case(&self.config.home_currency) {
            Decimal::ONE
        } else {
            rate.unwrap_or(Decimal::ONE)
        };
        Ok(json!({"Code": code, "Name": name, "Symbol": symbol,
            "ExchangeRate": json::number(rate), "DisplaySymbolOnRight": false}))
    }

    /// `POST /nominals`: with `CreateWhenNotPresent` an existing code is returned as is
    /// (false in the tuple means "already existed").
    pub fn create_nominal(&mut self, mut body: Object) -> ApiResult<(Nominal, bool)> {
        let code =
            json::int(&body, "Code")?.ok_or_else(|| ApiError::validation("Code is required."))?;
        let when_absent = json::flag(&body, "CreateWhenNotPresent")?;
        if let Some(n) = self.nominals.get(&code) {
            if when_absent {
                return Ok((n.clone(), false));
            }
            return Err(ApiError::validation(format!(
                "Nominal code {code} already exists."
            )));
        }
        let name =
            json::text(&body, "Name").ok_or_else(|| ApiError::validation("Name is required."))?;
        let classification =
            json::text(&body, "Classification").unwrap_or_else(|| "Sales".to_string());
        for k in [
            "Code",
            "Name",
            "Classification",
            "CreateWhenNotPresent",
            "Id",
        ] {
            json::take(&mut body, k);
        }
        let nominal = Nominal {
            id: self.id(),
            code,
            name,
            classification,
            fields: body,
        };
        self.nominals.insert(code, nominal.clone());
        Ok((nominal, true))
    }

    /// Payment method and bank account of a payment must exist.
    pub fn check_payment_refs(&self, method: Option<i64>, account: Option<i64>) -> ApiResult<()> {
        if let Some(m) = method {
            if !self.config.payment_methods.iter().any(|p| p.id == m) {
                return Err(ApiError::validation(format!(
                    "Payment method {m} does not exist."
                )));
            }
        }
        if let Some(a) = account {
            if !self.config.bank_accounts.iter().any(|b| b.id == a) {
                return Err(ApiError::validation(format!(
                    "Bank account {a} does not exist."
                )));
            }
        }
        Ok(())
    }

    /// Counts a failed write (for the inspection counters).
    pub fn failed<T>(&mut self, r: ApiResult<T>) -> ApiResult<T> {
        if r.is_err() {
            self.counters.validation_errors += 1;
        }
        r
    }
}

/// ISO-2 country names for `CountryName` (responses only); Greece is `EL` in KashFlow.
pub fn country_name(code: &str) -> Option<&'static str> {
    Some(match code.to_uppercase().as_str() {
        "GB" => "United Kingdom",
        "IE" => "Ireland",
        "FR" => "France",
        "DE" => "Germany",
        "ES" => "Spain",
        "IT" => "Italy",
        "NL" => "Netherlands",
        "BE" => "Belgium",
        "EL" => "Greece",
        "US" => "United States",
        _ => return None,
    })
}

/// Adds `CountryName` to an address object from its `CountryCode`.
pub fn with_country_name(address: &Value) -> Value {
    let mut a = address.clone();
    if let Value::Object(o) = &mut a {
        let name = json::string(o, "CountryCode")
            .and_then(|c| country_name(&c))
            .map(|n| json!(n))
            .unwrap_or(Value::Null);
        json::set(o, "CountryName", name);
    }
    a
}
