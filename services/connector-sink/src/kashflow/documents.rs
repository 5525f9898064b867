//! What each command does in KashFlow. KashFlow has no idempotency key, so every create is
//! "look up, then create", and an unknown outcome (a dropped connection, a 5xx) is followed
//! by the lookup again before any second create: customers by Code (then email), products by
//! (nominal, code), invoices by `CustomerReference` = the document number, payment lines by
//! a note naming the command, credit notes (refunds: negative invoices of the sale's customer)
//! by `CustomerReference` = the sale's number + `R` + a hash of the command id. What was
//! found or made is remembered in `sink_xref`. A drift repair (`verify_target`) puts an
//! invoice a person changed back to the command's lines in place.
use super::{
    encoder::{self, LineRef, Totals},
    service::{KfError, KfRequest},
    KfConnector,
};
use crate::target::Outcome;
use nopbridge_proto::commands::v1::{
    command::Body, Command, DocumentKind, DocumentLine, LineKind, PostRefund, PostSale,
    ResultStatus, SaleDocumentKind, TargetRecord, Tender, TenderKind, UpsertCustomer,
};
use nopbridge_proto::events::v1::Money;
use serde_json::{json, Value};
use std::future::Future;

const XREF_CUSTOMER: &str = "kf_customer";
const XREF_PRODUCT: &str = "kf_product";
const XREF_INVOICE: &str = "kf_invoice";

/// What a customer lookup needs from a command.
struct CustomerView<'a> {
    code: String,
    email: &'a str,
    name: String,
    currency: &'a str,
}

fn record(entity: &str, id: impl Into<String>, role: &str) -> TargetRecord {
    TargetRecord {
        entity: entity.into(),
        target_id: id.into(),
        role: role.into(),
        ..TargetRecord::default()
    }
}

fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn rows(body: &Value) -> Vec<Value> {
    match body {
        Value::Array(a) => a.clone(),
        other => other
            .get("Data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

fn has_next_page(body: &Value) -> bool {
    body.get("MetaData")
        .and_then(|m| m.get("NextPageUrl"))
        .is_some_and(|u| u.as_str().is_some_and(|s| !s.is_empty()))
}

fn document_number(cmd: &Command) -> Result<String, KfError> {
    let o = cmd.order.as_ref();
    let n = o
        .map(|o| {
            if o.document_number.is_empty() {
                o.order_number.trim().to_string()
            } else {
                o.document_number.trim().to_string()
            }
        })
        .unwrap_or_default();
    if n.is_empty() {
        return Err(KfError::invalid(
            "validation",
            "the command names no document number (order.document_number); the connector cannot find the invoice again on a retry, nothing was posted",
        ));
    }
    Ok(n)
}

/// The credit note's `CustomerReference`: the command's own document number when it differs
/// from the sale's, else the sale's number (14 characters at most), `R` and 6 hex digits of
/// a hash of the command id. Deterministic, so a redelivery or a retry finds the credit note
/// it made; several refunds of one order stay apart.
fn credit_reference(cmd: &Command, sale: &str) -> String {
    let own = document_number(cmd).unwrap_or_default();
    if !own.is_empty() && own != sale {
        return own;
    }
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(cmd.command_id.as_bytes()))
    };
    let head: String = sale.chars().take(14).collect();
    format!("{head}R{}", digest[..6].to_uppercase())
}

fn is_duplicate(e: &KfError) -> bool {
    matches!(e, KfError::Rejected { message, .. } if message.to_ascii_lowercase().contains("already exists"))
}

impl KfConnector {
    pub(super) async fn execute_command(&self, cmd: &Command) -> Result<Outcome, KfError> {
        match &cmd.body {
            Some(Body::UpsertCustomer(u)) => self.upsert_customer(u).await,
            Some(Body::UpsertItem(u)) => self.upsert_item(u).await,
            Some(Body::PostSale(s)) => self.post_sale(cmd, s).await,
            Some(Body::ApplyPayment(p)) => self.apply_payment(cmd, p).await,
            Some(Body::VoidDocument(v)) => self.void(cmd, &v.documents).await,
            Some(Body::AdjustStock(a)) => self.adjust_stock(a).await,
            Some(Body::PostRefund(r)) => self.post_refund(cmd, r).await,
            Some(Body::StoreWriteBack(_)) => Ok(Outcome::skipped()),
            None => Err(KfError::invalid("validation", "the command has no body")),
        }
    }

    fn conn(&self) -> &str {
        &self.cfg.connection_id
    }

    /// Runs `create` until it succeeds, looking the record up with `find` before every try:
    /// a create whose answer was lost is found instead of made twice. `Ok((found, created))`.
    async fn find_or_create<T, F, FF, C, CF>(
        &self,
        find: F,
        create: C,
    ) -> Result<(T, bool), KfError>
    where
        F: Fn() -> FF,
        FF: Future<Output = Result<Option<T>, KfError>>,
        C: Fn() -> CF,
        CF: Future<Output = Result<T, KfError>>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(found) = find().await? {
                return Ok((found, false));
            }
            match create().await {
                Ok(made) => return Ok((made, true)),
                // Made by an earlier try whose answer was lost: find it next time round.
                Err(e) if is_duplicate(&e) && attempt < 3 => {}
                Err(KfError::Unavailable { reason, .. })
                    if attempt < self.service.max_attempts() =>
                {
                    tracing::debug!(%reason, attempt, "create outcome unknown; looking it up before trying again");
                    tokio::time::sleep(self.service.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    // ---- customers ----------------------------------------------------------------------

    async fn customer_by_code(&self, code: &str) -> Result<Option<Value>, KfError> {
        let path = format!("/customers/{}", urlencoding::encode(code));
        match self.service.call(&KfRequest::get(path)).await {
            Ok(r) => Ok(Some(r.body)),
            Err(KfError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The code of the customer with exactly this email (primary or any contact's).
    async fn customer_by_email(&self, email: &str) -> Result<Option<String>, KfError> {
        if email.trim().is_empty() {
            return Ok(None);
        }
        let want = email.trim().to_lowercase();
        let req = KfRequest::get("/customers/search")
            .param("searchBy", "email")
            .param("searchText", email.trim())
            .param("perpage", "100");
        let body = self.service.call(&req).await?.body;
        for c in rows(&body) {
            let mut emails = vec![text(&c, "Email")];
            for contact in c
                .get("Contacts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                emails.push(text(contact, "Email"));
            }
            if emails.iter().any(|e| e.trim().to_lowercase() == want) {
                return Ok(Some(text(&c, "Code")));
            }
        }
        Ok(None)
    }

    fn customer_body(v: &CustomerView<'_>, u: Option<&UpsertCustomer>) -> Value {
        let mut body = json!({ "Code": v.code, "Name": v.name });
        let (first, last, phone) = u
            .and_then(|u| {
                u.name
                    .as_ref()
                    .map(|n| (n.given_name.clone(), n.family_name.clone(), u.phone.clone()))
            })
            .unwrap_or_default();
        if !v.email.is_empty() || !first.is_empty() {
            body["Contacts"] = json!([{
                "IsPrimary": true, "ReceiveEmails": true, "Name": v.name,
                "Firstname": first, "LastName": last, "Email": v.email, "Telephone": phone,
            }]);
        }
        if let Some(u) = u {
            if let Some(a) = &u.billing_address {
                body["Addresses"] = json!([encoder::address(a)]);
            }
            if let Some(a) = &u.shipping_address {
                let mut d = encoder::address(a);
                d["Name"] = json!(a.name);
                body["DeliveryAddresses"] = json!([d]);
            }
            if !u.vat_number.is_empty() {
                body["VATNumber"] = json!(u.vat_number);
            }
        }
        if !v.currency.is_empty() {
            body["Currency"] = json!({ "Code": v.currency.to_ascii_uppercase() });
        }
        body
    }

    /// Code of the customer, found by cross reference, Code, then email, else created.
    async fn resolve_customer(
        &self,
        v: &CustomerView<'_>,
        upsert: Option<&UpsertCustomer>,
    ) -> Result<(String, bool), KfError> {
        let key = v.code.to_lowercase();
        if upsert.is_none() {
            if let Some(x) = self.store.get(self.conn(), XREF_CUSTOMER, &key).await? {
                return Ok((x.target_id, false));
            }
        }
        let _g = self.flights.lock(&format!("customer/{key}")).await;
        let find = || async {
            if let Some(c) = self.customer_by_code(&v.code).await? {
                return Ok(Some(text(&c, "Code")));
            }
            self.customer_by_email(v.email).await
        };
        let create = || async {
            let body = Self::customer_body(v, upsert);
            let r = self
                .service
                .call(&KfRequest::post("/customers", body))
                .await?;
            Ok(text(&r.body, "Code"))
        };
        let (code, created) = self.find_or_create(find, create).await?;
        let code = if code.is_empty() {
            v.code.clone()
        } else {
            code
        };
        self.store
            .put(
                self.conn(),
                XREF_CUSTOMER,
                &key,
                &crate::xref::Xref {
                    target_id: code.clone(),
                    version: String::new(),
                    command_id: String::new(),
                },
            )
            .await?;
        Ok((code, created))
    }

    async fn upsert_customer(&self, u: &UpsertCustomer) -> Result<Outcome, KfError> {
        let cref = u.customer.clone().unwrap_or_default();
        let email = if u.email.is_empty() {
            cref.email.as_str()
        } else {
            u.email.as_str()
        };
        let name = u
            .name
            .as_ref()
            .map(|n| {
                if n.full_name.is_empty() {
                    n.display_name.clone()
                } else {
                    n.full_name.clone()
                }
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| cref.display_name.clone());
        let v = CustomerView {
            code: encoder::customer_code(
                &self.cfg.customer_code_prefix,
                &cref.target_code,
                &cref.store_customer_id,
                email,
            ),
            email,
            name,
            currency: &cref.currency,
        };
        let (code, created) = self.resolve_customer(&v, Some(u)).await?;
        let mut attempts = 1;
        if !created {
            // KashFlow merges the fields sent; send the whole record (errata 4 is GP's, but
            // a full record keeps both targets alike).
            let mut body = Self::customer_body(
                &CustomerView {
                    code: code.clone(),
                    ..v
                },
                Some(u),
            );
            if let Some(o) = body.as_object_mut() {
                o.remove("Code");
            }
            let path = format!("/customers/{}", urlencoding::encode(&code));
            attempts = self
                .service
                .call(&KfRequest::put(path, body))
                .await?
                .attempts;
        }
        Ok(Outcome {
            status: if created {
                ResultStatus::Created
            } else {
                ResultStatus::Updated
            },
            records: vec![record("Customer", code, "customer")],
            request_id: String::new(),
            attempts,
        })
    }

    async fn sale_customer(&self, s: &PostSale) -> Result<(String, bool), KfError> {
        let cref = s.customer.clone().unwrap_or_default();
        let name = s
            .customer_name
            .as_ref()
            .map(|n| {
                if n.full_name.is_empty() {
                    n.display_name.clone()
                } else {
                    n.full_name.clone()
                }
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| cref.display_name.clone());
        let v = CustomerView {
            code: encoder::customer_code(
                &self.cfg.customer_code_prefix,
                &cref.target_code,
                &cref.store_customer_id,
                &cref.email,
            ),
            email: &cref.email,
            name: if name.is_empty() {
                cref.email.clone()
            } else {
                name
            },
            currency: &cref.currency,
        };
        self.resolve_customer(&v, None).await
    }

    // ---- products -----------------------------------------------------------------------

    fn nominal_of(&self, l: &DocumentLine) -> i64 {
        if let Ok(n) = l.account.trim().parse::<i64>() {
            return n;
        }
        match l.kind() {
            LineKind::Product | LineKind::Unspecified => self.cfg.sales_nominal,
            LineKind::Shipping => self.cfg.shipping_nominal,
            _ => self.cfg.other_nominal,
        }
    }

    async fn product(&self, nominal: i64, code: &str) -> Result<Option<Value>, KfError> {
        let path = format!("/products/{nominal}/{}", urlencoding::encode(code));
        match self.service.call(&KfRequest::get(path)).await {
            Ok(r) => Ok(Some(r.body)),
            Err(KfError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Finds the product, or creates it from `body` (a POST body) when allowed.
    async fn ensure_product(
        &self,
        nominal: i64,
        code: &str,
        body: Value,
        allow_create: bool,
    ) -> Result<bool, KfError> {
        let key = format!("{nominal}/{}", code.to_lowercase());
        if self
            .store
            .get(self.conn(), XREF_PRODUCT, &key)
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let _g = self.flights.lock(&format!("product/{key}")).await;
        let find = || async { Ok(self.product(nominal, code).await?.map(|_| ())) };
        let created = if allow_create {
            let create = || async {
                self.service
                    .call(&KfRequest::post("/products", body.clone()))
                    .await?;
                Ok(())
            };
            self.find_or_create(find, create).await?.1
        } else if find().await?.is_some() {
            false
        } else {
            return Err(KfError::invalid(
                "reference",
                format!("product {code} does not exist under nominal {nominal} and create_missing_products is off"),
            ));
        };
        self.store
            .put(
                self.conn(),
                XREF_PRODUCT,
                &key,
                &crate::xref::Xref {
                    target_id: code.to_string(),
                    version: String::new(),
                    command_id: String::new(),
                },
            )
            .await?;
        Ok(created)
    }

    async fn upsert_item(
        &self,
        u: &nopbridge_proto::commands::v1::UpsertItem,
    ) -> Result<Outcome, KfError> {
        let item = u.item.clone().unwrap_or_default();
        let code = if item.target_item.is_empty() {
            item.sku.clone()
        } else {
            item.target_item.clone()
        };
        if code.is_empty() {
            return Err(KfError::invalid(
                "validation",
                "the item has no SKU or target item; KashFlow keys products by code",
            ));
        }
        let nominal = u
            .income_account
            .trim()
            .parse()
            .unwrap_or(self.cfg.sales_nominal);
        let price = u
            .unit_price
            .as_ref()
            .map(|m| encoder::decimal(m.minor_units, &m.currency))
            .unwrap_or_default();
        let name = if u.name.is_empty() {
            code.clone()
        } else {
            u.name.clone()
        };
        let mut body = json!({
            "Code": code, "NominalCode": nominal, "Name": name, "Description": u.description,
            "Price": encoder::num(price), "ManageStockLevel": u.track_quantity,
        });
        let created = self
            .ensure_product(
                nominal,
                &code,
                {
                    let mut b = body.clone();
                    b["QuantityInStock"] = json!(u.quantity_on_hand);
                    b
                },
                true,
            )
            .await?;
        if !created {
            // Stock moves with invoices; an item update leaves the quantity alone.
            if let Some(o) = body.as_object_mut() {
                o.remove("Code");
                o.remove("NominalCode");
            }
            let path = format!("/products/{nominal}/{}", urlencoding::encode(&code));
            self.service.call(&KfRequest::put(path, body)).await?;
        }
        Ok(Outcome {
            status: if created {
                ResultStatus::Created
            } else {
                ResultStatus::Updated
            },
            records: vec![record("Product", format!("{nominal}/{code}"), "item")],
            request_id: String::new(),
            attempts: 1,
        })
    }

    async fn adjust_stock(
        &self,
        a: &nopbridge_proto::commands::v1::AdjustStock,
    ) -> Result<Outcome, KfError> {
        let item = a.item.clone().unwrap_or_default();
        let code = if item.target_item.is_empty() {
            item.sku.clone()
        } else {
            item.target_item.clone()
        };
        let nominal = a.site.trim().parse().unwrap_or(self.cfg.sales_nominal);
        let path = format!("/products/{nominal}/{}", urlencoding::encode(&code));
        let r = self
            .service
            .call(&KfRequest::put(
                path,
                json!({ "QuantityInStock": a.quantity_on_hand }),
            ))
            .await?;
        Ok(Outcome {
            status: ResultStatus::Updated,
            records: vec![record("Product", format!("{nominal}/{code}"), "item")],
            request_id: String::new(),
            attempts: r.attempts,
        })
    }

    /// Nominal and product code per line; products a line needs are made sure of.
    async fn line_refs(
        &self,
        lines: &[DocumentLine],
        currency: &str,
    ) -> Result<Vec<LineRef>, KfError> {
        let mut out = Vec::with_capacity(lines.len());
        for l in lines {
            let nominal = self.nominal_of(l);
            let item = l.item.clone().unwrap_or_default();
            let code = if item.target_item.is_empty() {
                item.sku.clone()
            } else {
                item.target_item.clone()
            };
            let product_code = if l.kind() == LineKind::Product && !code.is_empty() {
                let price = if l.quantity > 0 {
                    encoder::decimal(encoder::minor(l.amount.as_ref()), currency)
                        / rust_decimal::Decimal::from(l.quantity)
                } else {
                    rust_decimal::Decimal::ZERO
                };
                let name = if item.name.is_empty() {
                    l.description.clone()
                } else {
                    item.name.clone()
                };
                let body = json!({
                    "Code": code, "NominalCode": nominal, "Name": if name.is_empty() { code.clone() } else { name },
                    "Price": encoder::num(price.round_dp(4)), "ManageStockLevel": false,
                });
                self.ensure_product(nominal, &code, body, self.cfg.create_missing_products)
                    .await?;
                Some(code)
            } else {
                None
            };
            out.push(LineRef {
                nominal,
                product_code,
            });
        }
        Ok(out)
    }

    // ---- invoices and payments ----------------------------------------------------------

    async fn invoice(&self, number: &str) -> Result<Option<Value>, KfError> {
        match self
            .service
            .call(&KfRequest::get(format!("/invoices/{number}")))
            .await
        {
            Ok(r) => Ok(Some(r.body)),
            Err(KfError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The invoice whose `CustomerReference` is the document number: cross reference, then
    /// the invoice search (every page).
    async fn find_invoice(
        &self,
        customer: Option<&str>,
        doc: &str,
    ) -> Result<Option<Value>, KfError> {
        if let Some(x) = self.store.get(self.conn(), XREF_INVOICE, doc).await? {
            if let Some(inv) = self.invoice(&x.target_id).await? {
                return Ok(Some(inv));
            }
            self.store.forget(self.conn(), XREF_INVOICE, doc).await?;
        }
        let mut page = 1u32;
        loop {
            let mut req = KfRequest::get("/invoices")
                .param("searchtext", doc)
                .param("perpage", "100")
                .param("page", page.to_string());
            if let Some(c) = customer {
                req = req.param("customercode", c);
            }
            let body = self.service.call(&req).await?.body;
            for row in rows(&body) {
                if text(&row, "CustomerReference").trim() == doc {
                    let number = text(&row, "Number");
                    return self.invoice(&number).await;
                }
            }
            if !has_next_page(&body) || page > 1000 {
                return Ok(None);
            }
            page += 1;
        }
    }

    async fn remember_invoice(
        &self,
        doc: &str,
        number: &str,
        cmd: &Command,
    ) -> Result<(), KfError> {
        self.store
            .put(
                self.conn(),
                XREF_INVOICE,
                doc,
                &crate::xref::Xref {
                    target_id: number.to_string(),
                    version: String::new(),
                    command_id: cmd.command_id.clone(),
                },
            )
            .await?;
        Ok(())
    }

    async fn method_id(&self, t: &Tender) -> Result<i64, KfError> {
        if let Ok(id) = t.payment_method.trim().parse::<i64>() {
            return Ok(id);
        }
        if let Some(id) = self.cfg.payment_methods.get(&t.payment_method) {
            return Ok(*id);
        }
        let name = t.payment_method.trim().to_lowercase();
        if name.is_empty() {
            return Ok(self.cfg.default_payment_method);
        }
        if self.methods.lock().is_none() {
            let body = self
                .service
                .call(&KfRequest::get("/paymentmethods/invoice"))
                .await?
                .body;
            let map = rows(&body)
                .iter()
                .filter_map(|m| Some((text(m, "Name").to_lowercase(), m.get("Id")?.as_i64()?)))
                .collect();
            *self.methods.lock() = Some(map);
        }
        Ok(self
            .methods
            .lock()
            .as_ref()
            .and_then(|m| m.get(&name).copied())
            .unwrap_or(self.cfg.default_payment_method))
    }

    async fn payment_line(
        &self,
        cmd: &Command,
        i: usize,
        t: &Tender,
        date: &str,
        currency: &str,
    ) -> Result<Value, KfError> {
        let account = t
            .deposit_account
            .trim()
            .parse()
            .unwrap_or(self.cfg.bank_account_id);
        Ok(json!({
            "Date": encoder::date(date),
            "Amount": encoder::num(encoder::decimal(encoder::minor(t.amount.as_ref()), currency)),
            "Method": self.method_id(t).await?,
            "AccountId": account,
            "Reference": t.reference,
            "Note": encoder::payment_note(&cmd.command_id, i),
        }))
    }

    fn sale_records(code: &str, inv: &Value, doc: &str, currency: &str) -> Vec<TargetRecord> {
        let mut r = vec![record("Customer", code, "customer")];
        let mut sale = record("Invoice", text(inv, "Number"), "sale");
        sale.document_number = doc.to_string();
        sale.total = encoder::to_minor(inv.get("GrossAmount").unwrap_or(&Value::Null), currency)
            .map(|m| Money {
                minor_units: m,
                currency: currency.to_string(),
            });
        r.push(sale);
        for p in inv
            .get("PaymentLines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut pay = record("Payment", text(p, "Id"), "payment");
            pay.document_number = doc.to_string();
            pay.total =
                encoder::to_minor(p.get("Amount").unwrap_or(&Value::Null), currency).map(|m| {
                    Money {
                        minor_units: m,
                        currency: currency.to_string(),
                    }
                });
            r.push(pay);
        }
        r
    }

    /// Posts a sales invoice (or credit note) under `reference` once: found by its reference
    /// before every create (a deleted one is made again), remembered, and checked against
    /// the command's totals, to the minor unit. One found with other totals fails, unless
    /// the command is a drift repair (`verify_target`): then it is put back to the command's
    /// lines in place (PUT; its payment lines stay), never posted a second time.
    async fn post_invoice(
        &self,
        cmd: &Command,
        code: &str,
        reference: &str,
        body: &Value,
        totals: Totals,
        currency: &str,
    ) -> Result<(Value, ResultStatus), KfError> {
        let _g = self.flights.lock(&format!("invoice/{reference}")).await;
        let find = || self.find_invoice(Some(code), reference);
        let create = || async {
            Ok(self
                .service
                .call(&KfRequest::post("/invoices", body.clone()))
                .await?
                .body)
        };
        let (inv, created) = self.find_or_create(find, create).await?;
        let number = text(&inv, "Number");
        self.remember_invoice(reference, &number, cmd).await?;
        match Self::check_totals(&inv, totals, currency, reference) {
            Ok(()) if created => Ok((inv, ResultStatus::Created)),
            Ok(()) => Ok((inv, ResultStatus::Unchanged)),
            Err(_) if cmd.verify_target && !created => {
                let mut correction = body.clone();
                if let Some(o) = correction.as_object_mut() {
                    o.remove("PaymentLines");
                }
                let put = KfRequest::put(format!("/invoices/{number}"), correction);
                let fixed = self.service.call(&put).await?.body;
                Self::check_totals(&fixed, totals, currency, reference)?;
                tracing::info!(invoice = %number, %reference, "invoice changed in KashFlow: put back to the store's values");
                Ok((fixed, ResultStatus::Updated))
            }
            Err(e) => Err(e),
        }
    }

    fn check_totals(inv: &Value, want: Totals, currency: &str, doc: &str) -> Result<(), KfError> {
        let got = |k: &str| encoder::to_minor(inv.get(k).unwrap_or(&Value::Null), currency);
        if got("NetAmount") != Some(want.net)
            || got("VATAmount") != Some(want.vat)
            || got("GrossAmount") != Some(want.gross)
        {
            return Err(KfError::invalid(
                "balance",
                format!(
                    "invoice {} ({doc}) has net {} VAT {} gross {} in KashFlow but the command says {} + {} = {}; check it in KashFlow",
                    text(inv, "Number"),
                    text(inv, "NetAmount"),
                    text(inv, "VATAmount"),
                    text(inv, "GrossAmount"),
                    encoder::decimal(want.net, currency),
                    encoder::decimal(want.vat, currency),
                    encoder::decimal(want.gross, currency),
                ),
            ));
        }
        Ok(())
    }

    /// A document in another currency than the company's carries its rate to the home
    /// currency; without one nothing is posted.
    fn set_currency(
        &self,
        body: &mut Value,
        currency: &str,
        rate: Option<&nopbridge_proto::commands::v1::ExchangeRate>,
        what: &str,
    ) -> Result<(), KfError> {
        if currency.eq_ignore_ascii_case(&self.cfg.home_currency) {
            return Ok(());
        }
        let rate = rate
            .and_then(|r| r.home_per_document.as_ref())
            .filter(|d| d.units > 0 && d.scale <= 28)
            .map(|d| rust_decimal::Decimal::new(d.units, d.scale))
            .ok_or_else(|| KfError::invalid("currency", format!("the {what} is in {currency} but carries no exchange rate to {}; nothing was posted", self.cfg.home_currency)))?;
        body["Currency"] = json!({ "Code": currency, "ExchangeRate": encoder::num(rate) });
        Ok(())
    }

    async fn post_sale(&self, cmd: &Command, s: &PostSale) -> Result<Outcome, KfError> {
        let doc = document_number(cmd)?;
        let currency = if s.currency.is_empty() {
            self.cfg.home_currency.clone()
        } else {
            s.currency.to_ascii_uppercase()
        };
        let total = encoder::minor(s.total.as_ref());
        let (code, _) = self.sale_customer(s).await?;
        let refs = self.line_refs(&s.lines, &currency).await?;
        let (items, totals) =
            encoder::line_items(&s.lines, &refs, s.tax.as_ref(), total, &currency)?;
        let mut body = json!({
            "CustomerCode": code,
            "IssuedDate": encoder::date(&s.txn_date),
            "DueDate": encoder::date(&s.txn_date),
            "CustomerReference": doc,
            "LineItems": items,
        });
        self.set_currency(&mut body, &currency, s.exchange_rate.as_ref(), "document")?;
        if let Some(a) = &s.billing_address {
            body["Address"] = encoder::address(a);
        }
        if let Some(a) = &s.shipping_address {
            let mut d = encoder::address(a);
            d["Name"] = json!(a.name);
            body["DeliveryAddress"] = d;
            body["UseCustomDeliveryAddress"] = json!(true);
        }
        if s.kind() == SaleDocumentKind::SalesReceipt {
            let mut payments = Vec::new();
            for (i, t) in s.tenders.iter().enumerate() {
                if encoder::minor(t.amount.as_ref()) > 0 && t.kind() != TenderKind::Unspecified {
                    payments.push(self.payment_line(cmd, i, t, &s.txn_date, &currency).await?);
                }
            }
            body["PaymentLines"] = Value::Array(payments);
        }
        let (inv, status) = self
            .post_invoice(cmd, &code, &doc, &body, totals, &currency)
            .await?;
        Ok(Outcome {
            status,
            records: Self::sale_records(&code, &inv, &doc, &currency),
            request_id: String::new(),
            attempts: 1,
        })
    }

    /// A refund is a credit note: a sales invoice with negative quantities against the
    /// sale's customer (KashFlow's practice; the REST map has no credit-note endpoint), the
    /// refund tender as its payment line (the money paid back). Its `CustomerReference` is
    /// [`credit_reference`], looked up before every create like the invoices'.
    async fn post_refund(&self, cmd: &Command, r: &PostRefund) -> Result<Outcome, KfError> {
        let sale_doc = if r.original_document_number.trim().is_empty() {
            document_number(cmd)?
        } else {
            r.original_document_number.trim().to_string()
        };
        let reference = credit_reference(cmd, &sale_doc);
        let currency = if r.currency.is_empty() {
            self.cfg.home_currency.clone()
        } else {
            r.currency.to_ascii_uppercase()
        };
        let total = encoder::minor(r.total.as_ref());
        if total <= 0 {
            return Err(KfError::invalid(
                "validation",
                format!("the refund of {sale_doc} has total {total}; a credit note needs a positive refund total, nothing was posted"),
            ));
        }
        // The credit note is the sale's customer's, whatever the refund names.
        let sale = self.find_invoice(None, &sale_doc).await?.ok_or_else(|| {
            KfError::invalid(
                crate::target::PREREQUISITE,
                format!("no invoice with reference {sale_doc} in KashFlow to credit: the refund's sale was never posted (or was voided); post the order's sale first (see its dead letter), then replay this refund"),
            )
        })?;
        let code = text(&sale, "CustomerCode");
        if code.is_empty() {
            return Err(KfError::invalid(
                "validation",
                format!("KashFlow invoice {} ({sale_doc}) has no CustomerCode to credit; check it in KashFlow", text(&sale, "Number")),
            ));
        }
        let refs = self.line_refs(&r.lines, &currency).await?;
        let (mut items, totals) =
            encoder::line_items(&r.lines, &refs, r.tax.as_ref(), total, &currency)?;
        encoder::credit(&mut items);
        let totals = Totals {
            net: -totals.net,
            vat: -totals.vat,
            gross: -totals.gross,
        };
        let mut body = json!({
            "CustomerCode": code,
            "IssuedDate": encoder::date(&r.txn_date),
            "DueDate": encoder::date(&r.txn_date),
            "CustomerReference": reference,
            "LineItems": items,
        });
        self.set_currency(&mut body, &currency, r.exchange_rate.as_ref(), "refund")?;
        let mut payments = Vec::new();
        if let Some(t) = r.tender.as_ref() {
            let paid = encoder::minor(t.amount.as_ref());
            if paid > total {
                return Err(KfError::invalid(
                    "balance",
                    format!(
                        "the refund of {sale_doc} pays back {} but credits {}; nothing was posted",
                        encoder::decimal(paid, &currency),
                        encoder::decimal(total, &currency)
                    ),
                ));
            }
            if paid > 0 && t.kind() != TenderKind::Unspecified {
                payments.push(self.payment_line(cmd, 0, t, &r.txn_date, &currency).await?);
            }
        }
        body["PaymentLines"] = Value::Array(payments);
        let (note, status) = self
            .post_invoice(cmd, &code, &reference, &body, totals, &currency)
            .await?;
        let mut records = Self::sale_records(&code, &note, &reference, &currency);
        for rec in &mut records {
            match rec.role.as_str() {
                "sale" => {
                    rec.entity = "CreditNote".into();
                    rec.role = "refund".into();
                    // The refund's size (KashFlow's gross is negative).
                    rec.total = rec.total.take().map(|m| Money {
                        minor_units: m.minor_units.abs(),
                        ..m
                    });
                }
                "payment" => rec.role = "refund_payment".into(),
                _ => {}
            }
        }
        Ok(Outcome {
            status,
            records,
            request_id: String::new(),
            attempts: 1,
        })
    }

    async fn apply_payment(
        &self,
        cmd: &Command,
        p: &nopbridge_proto::commands::v1::ApplyPayment,
    ) -> Result<Outcome, KfError> {
        let doc = document_number(cmd)?;
        let currency = p
            .amount
            .as_ref()
            .map(|m| m.currency.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| self.cfg.home_currency.clone());
        let tender = Tender {
            amount: p.amount.clone(),
            ..p.tender.clone().unwrap_or_default()
        };
        if encoder::minor(tender.amount.as_ref()) <= 0 {
            return Ok(Outcome::skipped());
        }
        let note = encoder::payment_note(&cmd.command_id, 0);
        let line = self
            .payment_line(cmd, 0, &tender, &p.payment_date, &currency)
            .await?;
        let _g = self.flights.lock(&format!("invoice/{doc}")).await;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // The payment's event can overtake the sale's: wait for the invoice (put back on
            // the topic), then fail as `prerequisite`.
            let inv = self.find_invoice(None, &doc).await?.ok_or_else(|| {
                KfError::invalid(
                    crate::target::PREREQUISITE,
                    format!("no invoice with reference {doc} in KashFlow to apply the payment to: the order's sale was never posted (or was voided); post the order's sale first (see its dead letter), then replay this payment"),
                )
            })?;
            let number = text(&inv, "Number");
            let existing: Vec<Value> = inv
                .get("PaymentLines")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(mine) = existing.iter().find(|l| text(l, "Note") == note) {
                let mut pay = record("Payment", text(mine, "Id"), "payment");
                pay.document_number = doc.clone();
                pay.total = p.amount.clone();
                return Ok(Outcome {
                    status: ResultStatus::Unchanged,
                    records: vec![pay],
                    request_id: String::new(),
                    attempts: attempt,
                });
            }
            // The whole list: PUT replaces payment lines by Id and adds the ones without.
            let mut lines: Vec<Value> = existing
                .iter()
                .map(|l| json!({
                    "Id": l.get("Id"), "Date": l.get("Date"), "Amount": l.get("Amount"), "Method": l.get("Method"),
                    "AccountId": l.get("AccountId"), "Reference": l.get("Reference"), "Note": l.get("Note"),
                }))
                .collect();
            lines.push(line.clone());
            let req = KfRequest::put(
                format!("/invoices/{number}"),
                json!({ "PaymentLines": lines }),
            )
            .once();
            match self.service.call(&req).await {
                Ok(r) => {
                    let mine = r
                        .body
                        .get("PaymentLines")
                        .and_then(Value::as_array)
                        .and_then(|ls| ls.iter().find(|l| text(l, "Note") == note).cloned());
                    let mut pay = record(
                        "Payment",
                        mine.map(|m| text(&m, "Id")).unwrap_or_default(),
                        "payment",
                    );
                    pay.document_number = doc.clone();
                    pay.total = p.amount.clone();
                    return Ok(Outcome {
                        status: ResultStatus::Updated,
                        records: vec![pay],
                        request_id: String::new(),
                        attempts: attempt,
                    });
                }
                Err(KfError::Unavailable { .. }) if attempt < self.service.max_attempts() => {
                    tokio::time::sleep(self.service.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// KashFlow has no void: the invoice (with its payment lines) is deleted, which gives
    /// its stock back. Nothing posted is nothing to do.
    async fn void(&self, cmd: &Command, kinds: &[i32]) -> Result<Outcome, KfError> {
        let doc = document_number(cmd)?;
        let wants_invoice = kinds.is_empty()
            || kinds.iter().any(|k| {
                matches!(
                    DocumentKind::try_from(*k),
                    Ok(DocumentKind::Invoice | DocumentKind::SalesReceipt)
                )
            });
        if !wants_invoice {
            return Ok(Outcome::skipped());
        }
        let _g = self.flights.lock(&format!("invoice/{doc}")).await;
        let Some(inv) = self.find_invoice(None, &doc).await? else {
            return Ok(Outcome {
                status: ResultStatus::Unchanged,
                records: vec![],
                request_id: String::new(),
                attempts: 1,
            });
        };
        let number = text(&inv, "Number");
        match self
            .service
            .call(&KfRequest::delete(format!("/invoices/{number}")))
            .await
        {
            Ok(_) | Err(KfError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        self.store.forget(self.conn(), XREF_INVOICE, &doc).await?;
        let mut r = record("Invoice", number, "sale");
        r.document_number = doc;
        Ok(Outcome {
            status: ResultStatus::Voided,
            records: vec![r],
            request_id: String::new(),
            attempts: 1,
        })
    }
}
