//! Customers by Code (reference A5.1, A8): duplicate codes are refused unless
//! `CreateCustomerCodeIfDuplicate` asks for a new code to be minted.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{key, with_country_name, Account, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::json::{self, Object};

/// Write-only flags, never stored.
const FLAGS: [&str; 2] = [
    "CreateCustomerCodeIfDuplicate",
    "CreateCustomerNameIfEmptyOrNull",
];

/// Computed on every read.
const RESPONSE_ONLY: [&str; 14] = [
    "Id",
    "DisplayName",
    "CreatedDate",
    "LastUpdatedDate",
    "InvoicedNetAmount",
    "InvoicedVATAmount",
    "InvoiceCount",
    "TotalPaidAmount",
    "OutstandingBalance",
    "OverdueAmount",
    "FirstInvoiceDate",
    "LastInvoiceDate",
    "Code",
    "Name",
];

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// Everything else as the client sent it.
    pub fields: Object,
    pub created: NaiveDateTime,
    pub updated: NaiveDateTime,
}

impl Customer {
    /// Emails of the customer: top-level `Email` and every contact's.
    pub fn emails(&self) -> Vec<String> {
        let mut out: Vec<String> = json::text(&self.fields, "Email").into_iter().collect();
        if let Some(Value::Array(contacts)) = json::get(&self.fields, "Contacts") {
            for c in contacts.iter().filter_map(Value::as_object) {
                out.extend(json::text(c, "Email"));
            }
        }
        out
    }
}

impl Account {
    pub fn customer(&self, code: &str) -> ApiResult<&Customer> {
        self.customers
            .get(&key(code))
            .ok_or_else(|| ApiError::not_found(format!("Customer {code} does not exist.")))
    }

    /// A code from the name's letters and a counter, unique in this account.
    fn mint_code(&self, base: &str) -> String {
        let stem: String = base
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect::<String>()
            .to_uppercase();
        let stem = if stem.is_empty() { "CUST".into() } else { stem };
        (1..)
            .map(|n| format!("{stem}{n:02}"))
            .find(|c| !self.customers.contains_key(&key(c)))
            .unwrap_or(stem)
    }

    fn check_code_length(code: &str, ctx: &Ctx) -> ApiResult<()> {
        let max = ctx.validation.max_customer_code_length;
        if code.chars().count() > max {
            return Err(ApiError::validation(format!(
                "Customer code {code} is longer than {max} characters."
            )));
        }
        Ok(())
    }

    /// Validates the parts of a customer body both POST and PUT share.
    fn check_customer_fields(&self, body: &Object) -> ApiResult<()> {
        if let Some(c) = json::get(body, "Currency").and_then(Value::as_object) {
            self.currency(json::text(c, "Code").as_deref(), None)?;
        }
        if let Some(d) = json::decimal(body, "DiscountRate")? {
            if d < Decimal::ZERO || d > Decimal::ONE_HUNDRED {
                return Err(ApiError::validation(
                    "DiscountRate must be between 0 and 100.",
                ));
            }
        }
        for list in ["Contacts", "Addresses", "DeliveryAddresses"] {
            match json::get(body, list) {
                None | Some(Value::Array(_)) => {}
                Some(_) => return Err(ApiError::validation(format!("{list} must be a list."))),
            }
        }
        Ok(())
    }

    /// `POST /customers` → the stored customer.
    pub fn create_customer(&mut self, mut body: Object, ctx: &Ctx) -> ApiResult<Customer> {
        let mint = json::flag(&body, "CreateCustomerCodeIfDuplicate")?;
        let name_if_empty = json::flag(&body, "CreateCustomerNameIfEmptyOrNull")?;
        self.check_customer_fields(&body)?;
        let name = json::text(&body, "Name");
        let code = match json::text(&body, "Code") {
            Some(code) if self.customers.contains_key(&key(&code)) => {
                if !mint {
                    return Err(ApiError::validation(format!(
                        "Customer code {code} already exists."
                    )));
                }
                self.mint_code(&code)
            }
            Some(code) => code,
            None if mint => self.mint_code(name.as_deref().unwrap_or("CUST")),
            None => return Err(ApiError::validation("Customer code is required.")),
        };
        Self::check_code_length(&code, ctx)?;
        let name = match name {
            Some(n) => n,
            None if name_if_empty => code.clone(),
            None => return Err(ApiError::validation("Customer name is required.")),
        };
        for k in FLAGS.iter().chain(RESPONSE_ONLY.iter()) {
            json::take(&mut body, k);
        }
        let customer = Customer {
            id: self.id(),
            code: code.clone(),
            name,
            fields: body,
            created: ctx.now,
            updated: ctx.now,
        };
        self.customers.insert(key(&code), customer.clone());
        self.counters.customers_created += 1;
        Ok(customer)
    }

    /// `PUT /customers/{code}`: fields present replace stored ones. Returns the customer and
    /// whether its Code changed (201 instead of 200).
    pub fn update_customer(
        &mut self,
        code: &str,
        mut body: Object,
        ctx: &Ctx,
    ) -> ApiResult<(Customer, bool)> {
        let mut customer = self.customer(code)?.clone();
        self.check_customer_fields(&body)?;
        let new_code = json::text(&body, "Code").filter(|c| key(c) != key(&customer.code));
        if let Some(c) = &new_code {
            Self::check_code_length(c, ctx)?;
            if self.customers.contains_key(&key(c)) {
                return Err(ApiError::validation(format!(
                    "Customer code {c} already exists."
                )));
            }
        }
        if let Some(n) = json::text(&body, "Name") {
            customer.name = n;
        }
        for k in FLAGS.iter().chain(RESPONSE_ONLY.iter()) {
            json::take(&mut body, k);
        }
        for (k, v) in body {
            json::set(&mut customer.fields, &k, v);
        }
        customer.updated = ctx.now;
        let old_key = key(&customer.code);
        if let Some(c) = &new_code {
            customer.code = c.clone();
            self.customers.remove(&old_key);
            for inv in self.invoices.values_mut() {
                if key(&inv.customer_code) == old_key {
                    inv.customer_code = c.clone();
                }
            }
        }
        self.customers.insert(key(&customer.code), customer.clone());
        Ok((customer, new_code.is_some()))
    }

    pub fn delete_customer(&mut self, code: &str, ctx: &Ctx) -> ApiResult<()> {
        let k = key(self.customer(code)?.code.as_str());
        if ctx.validation.protect_customers_with_invoices
            && self.invoices.values().any(|i| key(&i.customer_code) == k)
        {
            return Err(ApiError::validation(format!(
                "Customer {code} has transactions and cannot be deleted."
            )));
        }
        self.customers.remove(&k);
        Ok(())
    }

    /// Customers whose code, email or name contains the text (case-insensitive).
    pub fn search_customers(&self, by: &str, text: &str) -> ApiResult<Vec<&Customer>> {
        let needle = text.trim().to_lowercase();
        let matches = |hay: &str| hay.to_lowercase().contains(&needle);
        let found = match by.to_lowercase().as_str() {
            "code" => self
                .customers
                .values()
                .filter(|c| matches(&c.code))
                .collect(),
            "name" => self
                .customers
                .values()
                .filter(|c| matches(&c.name))
                .collect(),
            "email" => self
                .customers
                .values()
                .filter(|c| c.emails().iter().any(|e| matches(e)))
                .collect(),
            other => {
                return Err(ApiError::validation(format!(
                    "searchBy must be code, email or name, not {other}."
                )))
            }
        };
        Ok(found)
    }

    /// Figures computed from the customer's invoices.
    pub fn customer_figures(&self, code: &str) -> CustomerFigures {
        let k = key(code);
        let mut f = CustomerFigures::default();
        for inv in self
            .invoices
            .values()
            .filter(|i| key(&i.customer_code) == k)
        {
            let t = inv.totals();
            f.net += t.net;
            f.vat += t.vat;
            f.paid += t.paid;
            f.outstanding += t.due;
            f.count += 1;
            f.first = Some(f.first.map_or(inv.issued, |d| d.min(inv.issued)));
            f.last = Some(f.last.map_or(inv.issued, |d| d.max(inv.issued)));
        }
        f
    }

    pub fn render_customer(&self, c: &Customer) -> Value {
        let mut o = c.fields.clone();
        let f = self.customer_figures(&c.code);
        let date =
            |d: Option<NaiveDateTime>| d.map(json::format_date).map_or(Value::Null, Value::from);
        for (k, v) in [
            ("Id", json!(c.id)),
            ("Code", json!(c.code)),
            ("Name", json!(c.name)),
            ("DisplayName", json!(c.name)),
            ("CreatedDate", json!(json::format_date(c.created))),
            ("LastUpdatedDate", json!(json::format_date(c.updated))),
            ("InvoicedNetAmount", json::number(f.net)),
            ("InvoicedVATAmount", json::number(f.vat)),
            ("InvoiceCount", json!(f.count)),
            ("TotalPaidAmount", json::number(f.paid)),
            ("OutstandingBalance", json::number(f.outstanding)),
            ("OverdueAmount", json!(0)),
            ("FirstInvoiceDate", date(f.first)),
            ("LastInvoiceDate", date(f.last)),
        ] {
            json::set(&mut o, k, v);
        }
        let currency = json::get(&o, "Currency")
            .and_then(Value::as_object)
            .and_then(|c| json::text(c, "Code"));
        if let Ok(cur) = self.currency(currency.as_deref(), None) {
            json::set(&mut o, "Currency", cur);
        }
        for list in ["Addresses", "DeliveryAddresses"] {
            if let Some(Value::Array(a)) = json::get(&o, list) {
                let named: Vec<Value> = a.iter().map(with_country_name).collect();
                json::set(&mut o, list, Value::Array(named));
            }
        }
        // The primary contact's email also shows at the top level, as in responses.
        if json::get(&o, "Email").is_none() {
            if let Some(e) = c.emails().first() {
                json::set(&mut o, "Email", json!(e));
            }
        }
        Value::Object(o)
    }
}

#[derive(Debug, Default, Clone)]
pub struct CustomerFigures {
    pub net: Decimal,
    pub vat: Decimal,
    pub paid: Decimal,
    pub outstanding: Decimal,
    pub count: u64,
    pub first: Option<NaiveDateTime>,
    pub last: Option<NaiveDateTime>,
}
