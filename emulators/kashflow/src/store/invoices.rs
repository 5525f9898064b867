//! Sales invoices (reference A5.2–A5.4, A10): the customer must exist, every line carries a
//! configured VAT level, a VAT amount that matches it and a nominal code; product lines take
//! stock off the product; payment lines set the status. Totals are recomputed on every read.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{key, with_country_name, Account, Ctx};
use crate::config::{CreditNotes, NumberCollision, PaymentLinesOnPut};
use crate::error::{ApiError, ApiResult};
use crate::json::{self, round2, Object};

#[derive(Debug, Clone)]
pub struct InvoiceLine {
    pub number: i64,
    pub quantity: Decimal,
    pub rate: Decimal,
    pub vat_level: Decimal,
    pub vat_amount: Decimal,
    pub vat_exempt: bool,
    pub nominal_code: i64,
    pub product_code: Option<String>,
    /// Stock taken off (nominal, product key, quantity), given back if the line goes.
    pub stock_moved: Option<(i64, String, Decimal)>,
    pub fields: Object,
}

impl InvoiceLine {
    pub fn net(&self) -> Decimal {
        round2(self.quantity * self.rate)
    }
}

#[derive(Debug, Clone)]
pub struct PaymentLine {
    pub id: i64,
    pub date: NaiveDateTime,
    pub amount: Decimal,
    pub method: Option<i64>,
    pub account_id: Option<i64>,
    pub bulk_number: Option<i64>,
    pub fields: Object,
}

#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: i64,
    pub number: i64,
    pub customer_code: String,
    pub issued: NaiveDateTime,
    pub due: NaiveDateTime,
    pub currency_code: Option<String>,
    pub exchange_rate: Option<Decimal>,
    pub lines: Vec<InvoiceLine>,
    pub payments: Vec<PaymentLine>,
    pub fields: Object,
    pub created: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub net: Decimal,
    pub vat: Decimal,
    pub gross: Decimal,
    pub paid: Decimal,
    pub due: Decimal,
}

impl Invoice {
    pub fn totals(&self) -> Totals {
        let net: Decimal = self.lines.iter().map(InvoiceLine::net).sum();
        let vat: Decimal = self.lines.iter().map(|l| l.vat_amount).sum();
        let paid: Decimal = self.payments.iter().map(|p| p.amount).sum();
        let gross = net + vat;
        // A credit note's due is what is still to be paid back (zero or negative).
        let due = if gross < Decimal::ZERO {
            (gross + paid).min(Decimal::ZERO)
        } else {
            (gross - paid).max(Decimal::ZERO)
        };
        Totals {
            net,
            vat,
            gross,
            paid,
            due,
        }
    }

    /// A credit note: a sales invoice whose total is negative.
    pub fn is_credit_note(&self) -> bool {
        self.totals().gross < Decimal::ZERO
    }

    pub fn status(&self) -> &'static str {
        let t = self.totals();
        if t.paid.is_zero() && !t.gross.is_zero() {
            "Unpaid"
        } else if t.paid < t.gross.abs() {
            "PartPaid"
        } else {
            "Paid"
        }
    }

    pub fn reference(&self) -> Option<String> {
        json::text(&self.fields, "CustomerReference")
    }
}

/// Typed or response-only invoice properties (never echoed from the request).
const INVOICE_TYPED: [&str; 22] = [
    "Id",
    "Number",
    "CustomerCode",
    "IssuedDate",
    "DueDate",
    "PaidDate",
    "Currency",
    "LineItems",
    "PaymentLines",
    "NetAmount",
    "VATAmount",
    "GrossAmount",
    "TotalPaidAmount",
    "DueAmount",
    "Status",
    "CustomerName",
    "CustomerId",
    "Permalink",
    "OverdueDays",
    "CreatedDate",
    "LastPaymentDate",
    "Type",
];

const LINE_TYPED: [&str; 12] = [
    "Number",
    "Quantity",
    "Rate",
    "VATLevel",
    "VATAmount",
    "VATExempt",
    "NominalCode",
    "ProductCode",
    "NominalId",
    "NominalName",
    "ProductName",
    "Id",
];

const PAYMENT_TYPED: [&str; 7] = [
    "Id",
    "Date",
    "Amount",
    "Method",
    "AccountId",
    "BulkPaymentNumber",
    "BankTransactionId",
];

fn objects(v: Option<&Value>, what: &str) -> ApiResult<Vec<Object>> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_object()
                    .cloned()
                    .ok_or_else(|| ApiError::validation(format!("{what} must be objects.")))
            })
            .collect(),
        Some(_) => Err(ApiError::validation(format!("{what} must be a list."))),
    }
}

impl Account {
    pub fn invoice(&self, number: i64) -> ApiResult<&Invoice> {
        self.invoices
            .get(&number)
            .ok_or_else(|| ApiError::not_found(format!("Invoice {number} does not exist.")))
    }

    pub fn next_invoice_number(&self) -> i64 {
        self.invoices
            .keys()
            .next_back()
            .map_or(self.config.first_invoice_number, |n| {
                (n + 1).max(self.config.first_invoice_number)
            })
    }

    fn parse_line(&self, mut o: Object, index: usize, ctx: &Ctx) -> ApiResult<InvoiceLine> {
        let n = index + 1;
        let nominal_code =
            json::int(&o, "NominalCode")?.unwrap_or(self.config.default_sales_nominal);
        self.nominal(nominal_code)
            .map_err(|e| ApiError::validation(format!("Line {n}: {}", e.message)))?;
        let product_code = json::text(&o, "ProductCode");
        let product = product_code
            .as_deref()
            .and_then(|c| self.products.get(&(nominal_code, key(c))));
        if let (Some(code), None) = (&product_code, product) {
            if ctx.validation.reject_unknown_product {
                return Err(ApiError::validation(format!(
                    "Line {n}: product {code} does not exist under nominal {nominal_code}."
                )));
            }
        }
        let autofill = product.filter(|p| {
            json::boolean(&p.fields, "AutoFillLineItem")
                .ok()
                .flatten()
                .unwrap_or(false)
        });
        let fill = |name: &str| {
            autofill
                .and_then(|p| json::decimal(&p.fields, name).ok().flatten())
                .unwrap_or_default()
        };
        let quantity = json::decimal(&o, "Quantity")?.unwrap_or(Decimal::ONE);
        let rate = json::decimal(&o, "Rate")?.unwrap_or_else(|| fill("Price"));
        let vat_exempt = json::flag(&o, "VATExempt")?;
        let vat_level = if vat_exempt {
            Decimal::ZERO
        } else {
            json::decimal(&o, "VATLevel")?.unwrap_or_else(|| fill("VATRate"))
        };
        if !vat_exempt && !self.vat_rates().contains(&vat_level) {
            return Err(ApiError::validation(format!(
                "Line {n}: VAT rate {vat_level}% is not set up for this account."
            )));
        }
        let net = round2(quantity * rate);
        let expected = round2(net * vat_level / Decimal::ONE_HUNDRED);
        let vat_amount = match json::decimal(&o, "VATAmount")? {
            Some(_) if ctx.validation.recalculate_vat => expected,
            None => expected,
            Some(given) => {
                let tolerance = json::config_decimal(ctx.validation.vat_tolerance);
                if (given - expected).abs() > tolerance {
                    return Err(ApiError::validation(format!(
                        "Line {n}: VATAmount {given} does not match {vat_level}% of {net} ({expected})."
                    )));
                }
                round2(given)
            }
        };
        let stock_moved = product
            .filter(|p| p.manage_stock)
            .map(|p| (p.nominal_code, key(&p.code), quantity));
        let number = json::int(&o, "Number")?
            .filter(|v| *v > 0)
            .unwrap_or(n as i64);
        for k in LINE_TYPED {
            json::take(&mut o, k);
        }
        Ok(InvoiceLine {
            number,
            quantity,
            rate,
            vat_level,
            vat_amount,
            vat_exempt,
            nominal_code,
            product_code,
            stock_moved,
            fields: o,
        })
    }

    fn parse_lines(&self, body: &Object, ctx: &Ctx) -> ApiResult<Vec<InvoiceLine>> {
        let items = objects(json::get(body, "LineItems"), "LineItems")?;
        if items.is_empty() && ctx.validation.require_line_items {
            return Err(ApiError::validation(
                "An invoice needs at least one line item.",
            ));
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, o)| self.parse_line(o, i, ctx))
            .collect()
    }

    /// A new payment line (no `Id`), dated `default_date` when it has no date.
    fn parse_payment(
        &mut self,
        mut o: Object,
        default_date: NaiveDateTime,
    ) -> ApiResult<PaymentLine> {
        let amount = json::decimal(&o, "Amount")?
            .ok_or_else(|| ApiError::validation("Payment Amount is required."))?;
        if amount <= Decimal::ZERO {
            return Err(ApiError::validation(
                "Payment Amount must be greater than zero.",
            ));
        }
        let method = json::int(&o, "Method")?;
        let account_id = json::int(&o, "AccountId")?;
        self.check_payment_refs(method, account_id)?;
        let date = json::date(&o, "Date")?.unwrap_or(default_date);
        for k in PAYMENT_TYPED {
            json::take(&mut o, k);
        }
        Ok(PaymentLine {
            id: 0,
            date,
            amount: round2(amount),
            method,
            account_id,
            bulk_number: None,
            fields: o,
        })
    }

    /// Quantity each product needs after `removed` lines give stock back and `added` take it.
    fn check_stock(
        &self,
        removed: &[InvoiceLine],
        added: &[InvoiceLine],
        ctx: &Ctx,
    ) -> ApiResult<()> {
        if ctx.validation.allow_negative_stock {
            return Ok(());
        }
        let mut change: BTreeMap<(i64, String), Decimal> = BTreeMap::new();
        for (lines, sign) in [(removed, Decimal::ONE), (added, Decimal::NEGATIVE_ONE)] {
            for (n, c, q) in lines.iter().filter_map(|l| l.stock_moved.clone()) {
                *change.entry((n, c)).or_default() += sign * q;
            }
        }
        for ((n, c), delta) in change {
            if let Some(p) = self.products.get(&(n, c.clone())) {
                if p.quantity + delta < Decimal::ZERO {
                    return Err(ApiError::validation(format!(
                        "Insufficient stock for product {}: {} in stock.",
                        p.code, p.quantity
                    )));
                }
            }
        }
        Ok(())
    }

    fn move_stock(&mut self, lines: &[InvoiceLine], sign: Decimal) {
        for (n, c, q) in lines.iter().filter_map(|l| l.stock_moved.clone()) {
            if let Some(p) = self.products.get_mut(&(n, c)) {
                p.quantity += sign * q;
            }
        }
    }

    fn check_overpayment(&self, inv: &Invoice, ctx: &Ctx) -> ApiResult<()> {
        let t = inv.totals();
        // A credit note's payment lines are money paid back, up to what it credits.
        if !ctx.validation.allow_overpayment && t.paid > t.gross.abs() {
            return Err(ApiError::validation(format!(
                "Payments of {} exceed the invoice total of {}.",
                t.paid, t.gross
            )));
        }
        Ok(())
    }

    /// Per [`CreditNotes`]: an invoice with a negative total is a credit note, or refused.
    fn check_credit_note(inv: &Invoice, ctx: &Ctx) -> ApiResult<()> {
        if ctx.validation.credit_notes == CreditNotes::Refused && inv.is_credit_note() {
            return Err(ApiError::validation(format!(
                "Invoice total {} is negative; credit notes cannot be posted as invoices.",
                inv.totals().gross
            )));
        }
        Ok(())
    }

    fn assign_payment_ids(&mut self, payments: &mut [PaymentLine]) {
        for p in payments.iter_mut().filter(|p| p.id == 0) {
            p.id = self.id();
            self.counters.payments_added += 1;
        }
    }

    /// `POST /invoices` → the stored invoice.
    pub fn create_invoice(&mut self, mut body: Object, ctx: &Ctx) -> ApiResult<Invoice> {
        let code = json::text(&body, "CustomerCode")
            .ok_or_else(|| ApiError::validation("CustomerCode is required."))?;
        let customer_code = self
            .customers
            .get(&key(&code))
            .map(|c| c.code.clone())
            .ok_or_else(|| ApiError::validation(format!("Customer {code} does not exist.")))?;
        let number = match json::int(&body, "Number")?.filter(|n| *n != 0) {
            Some(n) if n < 0 => return Err(ApiError::validation("Number must be positive.")),
            Some(n) if self.invoices.contains_key(&n) => {
                match ctx.validation.invoice_number_collision {
                    NumberCollision::Reject => {
                        return Err(ApiError::validation(format!(
                            "Invoice number {n} already exists."
                        )))
                    }
                    NumberCollision::Renumber => self.next_invoice_number(),
                }
            }
            Some(n) => n,
            None => self.next_invoice_number(),
        };
        let issued = json::date(&body, "IssuedDate")?.unwrap_or(ctx.now);
        let due = json::date(&body, "DueDate")?.unwrap_or(issued);
        let (currency_code, exchange_rate) =
            match json::get(&body, "Currency").and_then(Value::as_object) {
                Some(c) => (json::text(c, "Code"), json::decimal(c, "ExchangeRate")?),
                None => (None, None),
            };
        self.currency(currency_code.as_deref(), exchange_rate)?;
        let lines = self.parse_lines(&body, ctx)?;
        let mut payments = objects(json::get(&body, "PaymentLines"), "PaymentLines")?
            .into_iter()
            .map(|p| self.parse_payment(p, issued))
            .collect::<ApiResult<Vec<_>>>()?;
        for k in INVOICE_TYPED {
            json::take(&mut body, k);
        }
        let mut invoice = Invoice {
            id: 0,
            number,
            customer_code,
            issued,
            due,
            currency_code,
            exchange_rate,
            lines,
            payments: Vec::new(),
            fields: body,
            created: ctx.now,
        };
        invoice.payments = payments.clone();
        Self::check_credit_note(&invoice, ctx)?;
        self.check_overpayment(&invoice, ctx)?;
        self.check_stock(&[], &invoice.lines, ctx)?;
        // Validated: commit.
        invoice.id = self.id();
        self.assign_payment_ids(&mut payments);
        invoice.payments = payments;
        self.move_stock(&invoice.lines, Decimal::NEGATIVE_ONE);
        self.invoices.insert(number, invoice.clone());
        self.counters.invoices_created += 1;
        Ok(invoice)
    }

    /// `PUT /invoices/{number}`: header fields present replace stored ones, `LineItems`
    /// replaces every line, `PaymentLines` per [`PaymentLinesOnPut`]. Returns the invoice and
    /// whether its Number changed (201 instead of 200).
    pub fn update_invoice(
        &mut self,
        number: i64,
        mut body: Object,
        ctx: &Ctx,
    ) -> ApiResult<(Invoice, bool)> {
        let old = self.invoice(number)?.clone();
        let mut inv = old.clone();
        if let Some(code) = json::text(&body, "CustomerCode") {
            inv.customer_code = self
                .customers
                .get(&key(&code))
                .map(|c| c.code.clone())
                .ok_or_else(|| ApiError::validation(format!("Customer {code} does not exist.")))?;
        }
        let renumber = json::int(&body, "Number")?.filter(|n| *n != 0 && *n != number);
        if let Some(n) = renumber {
            if n < 0 || self.invoices.contains_key(&n) {
                return Err(ApiError::validation(format!(
                    "Invoice number {n} already exists."
                )));
            }
            inv.number = n;
        }
        if let Some(d) = json::date(&body, "IssuedDate")? {
            inv.issued = d;
        }
        if let Some(d) = json::date(&body, "DueDate")? {
            inv.due = d;
        }
        if let Some(c) = json::get(&body, "Currency").and_then(Value::as_object) {
            inv.currency_code = json::text(c, "Code");
            inv.exchange_rate = json::decimal(c, "ExchangeRate")?;
            self.currency(inv.currency_code.as_deref(), inv.exchange_rate)?;
        }
        if json::get(&body, "LineItems").is_some() {
            inv.lines = self.parse_lines(&body, ctx)?;
        }
        if let Some(v) = json::get(&body, "PaymentLines") {
            let mut kept = match ctx.validation.payment_lines_on_put {
                PaymentLinesOnPut::Replace => Vec::new(),
                PaymentLinesOnPut::Append => old.payments.clone(),
            };
            for p in objects(Some(v), "PaymentLines")? {
                match json::int(&p, "Id")?.filter(|id| *id != 0) {
                    Some(id) => {
                        let existing =
                            old.payments.iter().find(|x| x.id == id).ok_or_else(|| {
                                ApiError::validation(format!(
                                    "Payment {id} does not belong to invoice {number}."
                                ))
                            })?;
                        let mut updated = self.parse_payment(p, existing.date)?;
                        updated.id = id;
                        updated.bulk_number = existing.bulk_number;
                        kept.retain(|x| x.id != id);
                        kept.push(updated);
                    }
                    None => kept.push(self.parse_payment(p, inv.issued)?),
                }
            }
            inv.payments = kept;
        }
        for k in INVOICE_TYPED {
            json::take(&mut body, k);
        }
        for (k, v) in body {
            json::set(&mut inv.fields, &k, v);
        }
        Self::check_credit_note(&inv, ctx)?;
        self.check_overpayment(&inv, ctx)?;
        self.check_stock(&old.lines, &inv.lines, ctx)?;
        // Validated: commit.
        let mut payments = std::mem::take(&mut inv.payments);
        self.assign_payment_ids(&mut payments);
        inv.payments = payments;
        self.move_stock(&old.lines, Decimal::ONE);
        self.move_stock(&inv.lines, Decimal::NEGATIVE_ONE);
        self.invoices.remove(&number);
        self.invoices.insert(inv.number, inv.clone());
        Ok((inv, renumber.is_some()))
    }

    /// `DELETE /invoices/{number}`: stock taken by its lines goes back.
    pub fn delete_invoice(&mut self, number: i64) -> ApiResult<()> {
        let inv = self.invoice(number)?.clone();
        self.move_stock(&inv.lines, Decimal::ONE);
        self.invoices.remove(&number);
        Ok(())
    }

    /// `POST /invoices/bulk/payments`: one payment line on each listed invoice, all or none.
    pub fn create_bulk_payment(&mut self, body: Object, ctx: &Ctx) -> ApiResult<Value> {
        let date = json::date(&body, "Date")?.unwrap_or(ctx.now);
        let method = json::int(&body, "Method")?;
        let account_id = json::int(&body, "AccountId")?;
        self.check_payment_refs(method, account_id)?;
        let number = match json::int(&body, "Number")?.filter(|n| *n > 0) {
            Some(n) if self.bulk_payments.contains_key(&n) => {
                return Err(ApiError::validation(format!(
                    "Bulk payment number {n} already exists."
                )))
            }
            Some(n) => n,
            None => self.bulk_payments.keys().next_back().map_or(1, |n| n + 1),
        };
        let items = objects(json::get(&body, "PaymentItems"), "PaymentItems")?;
        if items.is_empty() {
            return Err(ApiError::validation("PaymentItems must not be empty."));
        }
        let mut updated: Vec<Invoice> = Vec::new();
        for item in &items {
            let n = json::int(item, "ObjectNumber")?
                .ok_or_else(|| ApiError::validation("ObjectNumber is required."))?;
            let mut inv = match updated.iter().position(|i| i.number == n) {
                Some(pos) => updated.remove(pos),
                None => self
                    .invoice(n)
                    .map_err(|_| ApiError::validation(format!("Invoice {n} does not exist.")))?
                    .clone(),
            };
            let mut line = Object::new();
            line.insert(
                "Amount".into(),
                json::get(item, "Amount").cloned().unwrap_or(Value::Null),
            );
            line.insert("Method".into(), json!(method));
            line.insert("AccountId".into(), json!(account_id));
            if let Some(d) = json::get(item, "PaidDate") {
                line.insert("Date".into(), d.clone());
            }
            let mut payment = self.parse_payment(line, date)?;
            payment.bulk_number = Some(number);
            inv.payments.push(payment);
            self.check_overpayment(&inv, ctx)?;
            updated.push(inv);
        }
        for mut inv in updated {
            let mut payments = std::mem::take(&mut inv.payments);
            self.assign_payment_ids(&mut payments);
            inv.payments = payments;
            self.invoices.insert(inv.number, inv);
        }
        let mut stored = body.clone();
        json::set(&mut stored, "Number", json!(number));
        json::set(&mut stored, "Date", json!(json::format_date(date)));
        let stored = Value::Object(stored);
        self.bulk_payments.insert(number, stored.clone());
        Ok(stored)
    }

    fn render_line(&self, l: &InvoiceLine) -> Value {
        let mut o = l.fields.clone();
        let nominal = self.nominals.get(&l.nominal_code);
        let product_name = l
            .product_code
            .as_deref()
            .and_then(|c| self.products.get(&(l.nominal_code, key(c))))
            .map(|p| p.name.clone());
        for (k, v) in [
            ("Number", json!(l.number)),
            ("Quantity", json::number(l.quantity)),
            ("Rate", json::number(l.rate)),
            ("VATLevel", json::number(l.vat_level)),
            ("VATAmount", json::number(l.vat_amount)),
            ("VATExempt", json!(l.vat_exempt)),
            ("NominalCode", json!(l.nominal_code)),
            ("NominalId", json!(nominal.map(|n| n.id))),
            ("NominalName", json!(nominal.map(|n| n.name.clone()))),
            ("ProductCode", json!(l.product_code)),
            ("ProductName", json!(product_name)),
        ] {
            json::set(&mut o, k, v);
        }
        Value::Object(o)
    }

    fn render_payment(&self, invoice: i64, p: &PaymentLine) -> Value {
        let mut o = p.fields.clone();
        for (k, v) in [
            ("Id", json!(p.id)),
            ("Date", json!(json::format_date(p.date))),
            ("Amount", json::number(p.amount)),
            ("Method", json!(p.method)),
            ("AccountId", json!(p.account_id)),
            ("BulkPaymentNumber", json!(p.bulk_number)),
            ("BankTransactionId", json!(p.id + 500_000)),
            (
                "Permalink",
                json!(format!(
                    "https://app.kashflow.com/invoices/{invoice}/payments/{}",
                    p.id
                )),
            ),
        ] {
            json::set(&mut o, k, v);
        }
        Value::Object(o)
    }

    /// The full invoice (`full`) or a list row, where lines and payments are null.
    pub fn render_invoice(&self, inv: &Invoice, full: bool) -> Value {
        let mut o = inv.fields.clone();
        let t = inv.totals();
        let customer = self.customers.get(&key(&inv.customer_code));
        let last_payment = inv.payments.iter().map(|p| p.date).max();
        let status = inv.status();
        let paid_date = if status == "Paid" { last_payment } else { None };
        let date =
            |d: Option<NaiveDateTime>| d.map(json::format_date).map_or(Value::Null, Value::from);
        let currency = self
            .currency(inv.currency_code.as_deref(), inv.exchange_rate)
            .unwrap_or(Value::Null);
        let rate = inv
            .exchange_rate
            .filter(|_| currency["Code"] != json!(self.config.home_currency.to_uppercase()))
            .unwrap_or(Decimal::ONE);
        let (lines, payments) = if full {
            (
                Value::Array(inv.lines.iter().map(|l| self.render_line(l)).collect()),
                Value::Array(
                    inv.payments
                        .iter()
                        .map(|p| self.render_payment(inv.number, p))
                        .collect(),
                ),
            )
        } else {
            (Value::Null, Value::Null)
        };
        for (k, v) in [
            ("Id", json!(inv.id)),
            ("Number", json!(inv.number)),
            ("CustomerCode", json!(inv.customer_code)),
            ("CustomerName", json!(customer.map(|c| c.name.clone()))),
            ("CustomerId", json!(customer.map(|c| c.id))),
            ("IssuedDate", json!(json::format_date(inv.issued))),
            ("DueDate", json!(json::format_date(inv.due))),
            ("PaidDate", date(paid_date)),
            ("LastPaymentDate", date(last_payment)),
            ("Currency", currency),
            ("NetAmount", json::number(t.net)),
            ("VATAmount", json::number(t.vat)),
            ("GrossAmount", json::number(t.gross)),
            ("TotalPaidAmount", json::number(t.paid)),
            ("DueAmount", json::number(t.due)),
            (
                "HomeCurrencyGrossAmount",
                json::number(round2(t.gross * rate)),
            ),
            ("HomeCurrencyVATAmount", json::number(round2(t.vat * rate))),
            ("Status", json!(status)),
            ("OverdueDays", json!(0)),
            ("Type", json!("Invoice")),
            ("IsArchived", json!(false)),
            ("CreatedDate", json!(json::format_date(inv.created))),
            (
                "Permalink",
                json!(format!("https://app.kashflow.com/invoices/{}", inv.number)),
            ),
            ("LineItems", lines),
            ("PaymentLines", payments),
        ] {
            json::set(&mut o, k, v);
        }
        for a in ["Address", "DeliveryAddress"] {
            if let Some(addr) = json::get(&o, a).cloned() {
                json::set(&mut o, a, with_country_name(&addr));
            }
        }
        Value::Object(o)
    }
}
