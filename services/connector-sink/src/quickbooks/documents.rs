//! Commands → QuickBooks documents: SalesReceipt when paid at sale, Invoice plus a linked
//! Payment otherwise, RefundReceipt or CreditMemo for refunds, sparse updates (current
//! SyncToken, 5010 → re-read and retry) for status changes, voids for cancellations.
use super::{
    batch::WriteOp,
    encoder::{self, minor_units, request_id},
    references::{CustomerDetails, NewItem, Resolved},
    request_builder::{self, DocView, LineRefs, SHIPPING_PSEUDO_ITEM},
    service::{QboError, QboRequest},
    QboConnector,
};
use crate::{target::Outcome, xref::Xref};
use nopbridge_proto::commands::v1::{
    command::Body, ApplyPayment, Command, CustomerRef, DocumentKind, DocumentLine, ItemRef,
    LineKind, PostRefund, PostSale, RefundDocumentKind, ResultStatus, SaleDocumentKind,
    TargetRecord, Tender, UpsertCustomer, UpsertItem, VoidDocument,
};
use nopbridge_proto::events::v1::Money;
use serde_json::{json, Value};
use tracing::warn;

const MAX_STALE_RETRIES: u32 = 5;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn record(
    entity: &str,
    id: &str,
    version: &str,
    doc: &str,
    total: Option<Money>,
    role: &str,
) -> TargetRecord {
    TargetRecord {
        entity: entity.into(),
        target_id: id.into(),
        version: version.into(),
        document_number: doc.into(),
        total,
        role: role.into(),
    }
}

fn customer_record(c: &Resolved) -> Option<TargetRecord> {
    c.created
        .then(|| record("Customer", &c.id, "0", "", None, "customer"))
}

impl QboConnector {
    /// Runs one command. A document QuickBooks refuses because a remembered customer or item
    /// was made inactive or deleted there (610, 2500) is tried once more after forgetting
    /// those cross references, so they are found again or recreated (pitfall 8).
    pub async fn execute_command(&self, cmd: &Command) -> Result<Outcome, QboError> {
        let first = self.run_command(cmd).await;
        let stale = matches!(
            first.as_ref().err().and_then(QboError::code),
            Some("610" | "2500")
        );
        if stale && self.forget_xref_hits(&cmd.command_id).await? {
            warn!(command = %cmd.command_id, "a remembered reference is stale in QuickBooks; resolving it again");
            let again = self.run_command(cmd).await;
            self.xref_hits.lock().remove(&cmd.command_id);
            return again;
        }
        self.xref_hits.lock().remove(&cmd.command_id);
        first
    }

    async fn run_command(&self, cmd: &Command) -> Result<Outcome, QboError> {
        match &cmd.body {
            Some(Body::PostSale(s)) => self.post_sale(cmd, s).await,
            Some(Body::ApplyPayment(p)) => self.apply_payment(cmd, p).await,
            Some(Body::PostRefund(r)) => self.post_refund(cmd, r).await,
            Some(Body::VoidDocument(v)) => self.void_document(cmd, v).await,
            Some(Body::UpsertCustomer(u)) => self.upsert_customer(cmd, u).await,
            Some(Body::UpsertItem(u)) => self.upsert_item(cmd, u).await,
            // Stock and store write-back are not QuickBooks Online commands.
            Some(_) => Ok(Outcome::skipped()),
            None => Err(QboError::invalid("validation", "the command has no body")),
        }
    }

    async fn line_refs(
        &self,
        cmd: &Command,
        lines: &[DocumentLine],
        tax: Option<&nopbridge_proto::commands::v1::TaxDetail>,
    ) -> Result<(LineRefs, u32, Vec<TargetRecord>), QboError> {
        let mut refs = LineRefs {
            items: Vec::with_capacity(lines.len()),
            tax_codes: Vec::with_capacity(lines.len()),
            accounts: Vec::with_capacity(lines.len()),
            txn_tax_code: None,
        };
        let (mut attempts, mut created) = (0, Vec::new());
        for l in lines {
            let named = l
                .item
                .as_ref()
                .filter(|i| !(i.target_item.is_empty() && i.sku.is_empty() && i.name.is_empty()));
            let spec = NewItem {
                description: &l.description,
                income_account: &l.account,
                ..NewItem::default()
            };
            let resolved = match (l.kind(), named) {
                (LineKind::Description, _) | (LineKind::Discount, _) => None,
                // Without a mapped shipping item, or mapped to it by name, QuickBooks'
                // shipping pseudo-item is used.
                (LineKind::Shipping, None) => None,
                (LineKind::Shipping, Some(i)) if is_shipping_pseudo_item(i) => None,
                (_, Some(i)) => Some(self.item(&cmd.command_id, i, &spec).await?),
                // A fee, gift card, reward or rounding line the mapping points at an account:
                // an item of that name, on that account.
                (kind, None) if !l.account.is_empty() && kind != LineKind::Product => {
                    let i = ItemRef {
                        name: line_item_name(kind).into(),
                        ..ItemRef::default()
                    };
                    Some(self.item_for_upsert(&cmd.command_id, &i, &spec).await?)
                }
                (_, None) => {
                    return Err(QboError::invalid(
                        "validation",
                        format!(
                            "line {} needs an item and names none (no SKU, no name, no mapped item or account)",
                            l.line_number
                        ),
                    ))
                }
            };
            if let Some(r) = &resolved {
                attempts += r.attempts;
                if r.created {
                    created.push(record("Item", &r.id, "0", "", None, "item"));
                }
            }
            refs.items.push(resolved.map(|r| r.id));
            let account = match (l.kind(), l.account.as_str()) {
                (LineKind::Discount, a) if !a.is_empty() => Some(self.account(a).await?),
                _ => None,
            };
            refs.accounts.push(account);
            let code = match l.tax_code.as_str() {
                "" => None,
                c => Some(self.tax_code(c).await?),
            };
            refs.tax_codes.push(code);
        }
        if let Some(t) = tax {
            if !t.txn_tax_code.is_empty() {
                refs.txn_tax_code = Some(self.tax_code(&t.txn_tax_code).await?);
            }
        }
        Ok((refs, attempts, created))
    }

    async fn tender_fields(
        &self,
        body: &mut Value,
        t: Option<&Tender>,
        deposit_default: Option<&str>,
    ) -> Result<(), QboError> {
        let method = t.map(|t| t.payment_method.as_str()).unwrap_or_default();
        if let Some(id) = self.payment_method(method).await? {
            body["PaymentMethodRef"] = json!({ "value": id });
        }
        let deposit = t
            .map(|t| t.deposit_account.as_str())
            .filter(|d| !d.is_empty())
            .or(deposit_default);
        if let Some(name) = deposit {
            body["DepositToAccountRef"] = json!({ "value": self.account(name).await? });
        }
        if let Some(r) = t.map(|t| t.reference.as_str()).filter(|r| !r.is_empty()) {
            body["PaymentRefNum"] = json!(encoder::doc_number(r));
        }
        Ok(())
    }

    async fn resolve_customer(
        &self,
        cmd: &Command,
        r: Option<&CustomerRef>,
        currency: &str,
        d: &CustomerDetails<'_>,
    ) -> Result<Resolved, QboError> {
        let r =
            r.ok_or_else(|| QboError::invalid("validation", "the command names no customer"))?;
        self.customer(&cmd.command_id, r, currency, d).await
    }

    async fn post_sale(&self, cmd: &Command, sale: &PostSale) -> Result<Outcome, QboError> {
        let entity = match sale.kind() {
            SaleDocumentKind::Invoice => "Invoice",
            _ => "SalesReceipt",
        };
        let view = DocView {
            currency: &sale.currency,
            rate: sale.exchange_rate.as_ref(),
            lines: &sale.lines,
            tax: sale.tax.as_ref(),
            total: sale.total.as_ref(),
            txn_date: &sale.txn_date,
            memo: &sale.memo,
            billing: sale.billing_address.as_ref(),
            shipping: sale.shipping_address.as_ref(),
        };
        request_builder::check_balance(&view)?;
        let doc = request_builder::document_number(cmd)
            .ok_or_else(|| QboError::invalid("validation", "the sale has no document number"))?;
        let mut existing = self
            .store
            .get(&self.cfg.connection_id, &format!("doc:{entity}"), &doc)
            .await?;
        // Drift repair reads the document first; a replay otherwise trusts the cross reference.
        let mut deleted_id = None;
        if let Some(x) = &existing {
            let current = match cmd.verify_target {
                true => Some(
                    self.current_total(entity, &x.target_id, &sale.currency)
                        .await?,
                ),
                false => None,
            };
            let want = sale.total.as_ref().map(|m| m.minor_units);
            let replay = x.command_id == cmd.command_id;
            match current {
                None if replay => return Ok(unchanged(cmd, entity, x, &doc, sale.total.clone())),
                Some(Some(total)) if replay && Some(total) == want => {
                    return Ok(unchanged(cmd, entity, x, &doc, sale.total.clone()))
                }
                Some(None) => deleted_id = Some(x.target_id.clone()),
                _ => {}
            }
        }
        if deleted_id.is_some() {
            existing = None;
        }
        let details = CustomerDetails {
            name: sale.customer_name.as_ref(),
            email: "",
            phone: "",
            billing: sale.billing_address.as_ref(),
            shipping: sale.shipping_address.as_ref(),
        };
        let customer = self
            .resolve_customer(cmd, sale.customer.as_ref(), &sale.currency, &details)
            .await?;
        let (refs, ref_attempts, mut records) =
            self.line_refs(cmd, &sale.lines, sale.tax.as_ref()).await?;
        records.extend(customer_record(&customer));
        let mut body =
            request_builder::document(cmd, &view, &refs, &customer.id, &self.cfg.home_currency)?;
        if entity == "SalesReceipt" {
            self.tender_fields(&mut body, sale.tenders.first(), None)
                .await?;
        }
        let attempts = customer.attempts + ref_attempts;
        if let Some(x) = existing {
            return self
                .update_document(
                    cmd,
                    entity,
                    &doc,
                    &x,
                    body,
                    sale.total.as_ref(),
                    records,
                    attempts,
                )
                .await;
        }
        // A document deleted in QuickBooks is posted again under a new requestid: the old
        // one would only replay the deleted document's creation.
        let rid = match &deleted_id {
            Some(old) => request_id(&cmd.command_id, &format!("sale:recreate:{old}")),
            None => request_id(&cmd.command_id, "sale"),
        };
        let created = self
            .batcher
            .write(WriteOp::create(entity, body.clone(), rid.clone()).batchable(true))
            .await;
        let (obj, write_attempts, status) = match created {
            Ok(w) => (w.entity, w.attempts, ResultStatus::Created),
            Err(e) if e.code() == Some("6140") => {
                // The number is taken: ours from an earlier run (adopt), or the document
                // posted before for this order (a status change: update it).
                let found = self.by_doc_number(entity, &doc).await?.ok_or(e)?;
                let x = Xref {
                    target_id: s(&found, "Id").into(),
                    version: s(&found, "SyncToken").into(),
                    command_id: String::new(),
                };
                if s(&found, "PrivateNote").contains(&cmd.command_id) {
                    (found, 1, ResultStatus::Created)
                } else {
                    return self
                        .update_document(
                            cmd,
                            entity,
                            &doc,
                            &x,
                            body,
                            sale.total.as_ref(),
                            records,
                            attempts + 1,
                        )
                        .await;
                }
            }
            Err(e) => return Err(e),
        };
        let id = s(&obj, "Id").to_string();
        let token = s(&obj, "SyncToken").to_string();
        self.store
            .put(
                &self.cfg.connection_id,
                &format!("doc:{entity}"),
                &doc,
                &Xref {
                    target_id: id.clone(),
                    version: token.clone(),
                    command_id: cmd.command_id.clone(),
                },
            )
            .await?;
        self.check_total(entity, &id, &obj, &sale.currency, sale.total.as_ref())?;
        records.push(record(
            entity,
            &id,
            &token,
            &doc,
            sale.total.clone(),
            "sale",
        ));
        Ok(Outcome {
            status,
            records,
            request_id: rid,
            attempts: attempts + write_attempts,
        })
    }

    /// The customer of the sale posted under `doc` (receipt or invoice).
    async fn customer_of_sale(&self, doc: &str) -> Result<Resolved, QboError> {
        for entity in ["SalesReceipt", "Invoice"] {
            let Some(x) = self
                .store
                .get(&self.cfg.connection_id, &format!("doc:{entity}"), doc)
                .await?
            else {
                continue;
            };
            let path = format!("{}/{}", entity.to_ascii_lowercase(), x.target_id);
            let r = self.service.call(&QboRequest::get(path)).await?;
            let id = r
                .body
                .get(entity)
                .and_then(|e| e.get("CustomerRef"))
                .and_then(|c| c.get("value"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !id.is_empty() {
                return Ok(Resolved {
                    id: id.to_string(),
                    created: false,
                    attempts: r.attempts,
                });
            }
        }
        Err(QboError::invalid(
            crate::target::PREREQUISITE,
            format!("the refund names no customer and no sale {doc} was posted to take it from; post the order's sale first (see its dead letter), then replay"),
        ))
    }

    /// The document's total in QuickBooks now; `None` when it was deleted there (610).
    async fn current_total(
        &self,
        entity: &str,
        id: &str,
        currency: &str,
    ) -> Result<Option<i64>, QboError> {
        let path = format!("{}/{id}", entity.to_ascii_lowercase());
        match self.service.call(&QboRequest::get(path)).await {
            Ok(r) => Ok(r
                .body
                .get(entity)
                .and_then(|e| e.get("TotalAmt"))
                .and_then(|v| minor_units(v, currency))
                .or(Some(i64::MIN))),
            Err(e) if e.code() == Some("610") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn by_doc_number(&self, entity: &str, doc: &str) -> Result<Option<Value>, QboError> {
        let rows = self
            .query(
                entity,
                &format!(
                    "SELECT * FROM {entity} WHERE DocNumber = {}",
                    encoder::literal(doc)
                ),
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    fn check_total(
        &self,
        entity: &str,
        id: &str,
        obj: &Value,
        currency: &str,
        total: Option<&Money>,
    ) -> Result<(), QboError> {
        let want = total.map(|m| m.minor_units).unwrap_or_default();
        let got = obj.get("TotalAmt").and_then(|v| minor_units(v, currency));
        if got != Some(want) {
            return Err(QboError::invalid(
                "total_mismatch",
                format!(
                    "{entity} {id} was posted but QuickBooks computed total {} {currency} where the order says {}; check the tax codes and lines of the mapping, then correct the document",
                    got.map(|g| encoder::money_decimal(g, currency).to_string()).unwrap_or_else(|| "?".into()),
                    encoder::money_decimal(want, currency)
                ),
            ));
        }
        Ok(())
    }

    /// Sparse update on the current SyncToken; 5010 → re-read and retry.
    #[allow(clippy::too_many_arguments)]
    async fn update_document(
        &self,
        cmd: &Command,
        entity: &str,
        doc: &str,
        x: &Xref,
        mut body: Value,
        total: Option<&Money>,
        mut records: Vec<TargetRecord>,
        attempts: u32,
    ) -> Result<Outcome, QboError> {
        let path = entity.to_ascii_lowercase();
        let mut token = x.version.clone();
        let mut tries = 0;
        let mut used = attempts;
        let obj = loop {
            tries += 1;
            if token.is_empty() {
                let current = self
                    .service
                    .call(&QboRequest::get(format!("{path}/{}", x.target_id)))
                    .await?;
                used += current.attempts;
                token = current
                    .body
                    .get(entity)
                    .map(|e| s(e, "SyncToken").to_string())
                    .unwrap_or_default();
            }
            body["Id"] = json!(x.target_id);
            body["SyncToken"] = json!(token);
            body["sparse"] = json!(true);
            let rid = request_id(&cmd.command_id, &format!("update:{token}"));
            match self
                .service
                .call(&QboRequest::post(&path, body.clone()).request_id(rid))
                .await
            {
                Ok(r) => {
                    used += r.attempts;
                    break r.body.get(entity).cloned().unwrap_or_default();
                }
                Err(e) if e.code() == Some("5010") && tries < MAX_STALE_RETRIES => token.clear(),
                Err(e) => return Err(e),
            }
        };
        let id = s(&obj, "Id").to_string();
        let new_token = s(&obj, "SyncToken").to_string();
        self.store
            .put(
                &self.cfg.connection_id,
                &format!("doc:{entity}"),
                doc,
                &Xref {
                    target_id: id.clone(),
                    version: new_token.clone(),
                    command_id: cmd.command_id.clone(),
                },
            )
            .await?;
        let currency = obj
            .get("CurrencyRef")
            .and_then(|c| c.get("value"))
            .and_then(Value::as_str)
            .unwrap_or(&self.cfg.home_currency)
            .to_string();
        self.check_total(entity, &id, &obj, &currency, total)?;
        records.push(record(entity, &id, &new_token, doc, total.cloned(), "sale"));
        Ok(Outcome {
            status: ResultStatus::Updated,
            records,
            request_id: request_id(&cmd.command_id, &format!("update:{token}")),
            attempts: used,
        })
    }

    async fn apply_payment(&self, cmd: &Command, p: &ApplyPayment) -> Result<Outcome, QboError> {
        let conn = &self.cfg.connection_id;
        let doc = request_builder::document_number(cmd).ok_or_else(|| {
            QboError::invalid("validation", "the payment names no invoice number")
        })?;
        let rid = request_id(&cmd.command_id, "payment");
        if let Some(x) = self.store.get(conn, "payment", &cmd.command_id).await? {
            return Ok(Outcome {
                status: ResultStatus::Unchanged,
                records: vec![record(
                    "Payment",
                    &x.target_id,
                    &x.version,
                    &doc,
                    p.amount.clone(),
                    "payment",
                )],
                request_id: rid,
                attempts: 0,
            });
        }
        let invoice = match self.store.get(conn, "doc:Invoice", &doc).await? {
            Some(x) => x.target_id,
            None => match self.by_doc_number("Invoice", &doc).await? {
                Some(v) => s(&v, "Id").to_string(),
                None => return Err(QboError::invalid(crate::target::PREREQUISITE, format!("invoice {doc} is not in QuickBooks: post the sale first (is it in the dead-letter topic?), then replay this payment"))),
            },
        };
        let currency = p
            .amount
            .as_ref()
            .map(|m| m.currency.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| self.cfg.home_currency.clone());
        let customer = self
            .resolve_customer(
                cmd,
                p.customer.as_ref(),
                &currency,
                &CustomerDetails::default(),
            )
            .await?;
        let amount = encoder::money(p.amount.as_ref(), &currency);
        let mut body = json!({
            "CustomerRef": { "value": customer.id },
            "TotalAmt": encoder::num(amount),
            "Line": [{ "Amount": encoder::num(amount), "LinkedTxn": [{ "TxnId": invoice, "TxnType": "Invoice" }] }],
            "PrivateNote": request_builder::private_note(cmd, &p.memo),
        });
        if !p.payment_date.is_empty() {
            body["TxnDate"] = json!(p.payment_date);
        }
        request_builder::currency_fields(
            &mut body,
            &currency,
            p.exchange_rate.as_ref(),
            &self.cfg.home_currency,
        )?;
        self.tender_fields(&mut body, p.tender.as_ref(), None)
            .await?;
        // Payments have no unique number QuickBooks enforces, so never batched: the requestid
        // alone keeps them single.
        let w = self
            .batcher
            .write(WriteOp::create("Payment", body, rid.clone()))
            .await?;
        let id = s(&w.entity, "Id").to_string();
        let token = s(&w.entity, "SyncToken").to_string();
        let x = Xref {
            target_id: id.clone(),
            version: token.clone(),
            command_id: cmd.command_id.clone(),
        };
        self.store.put(conn, "payment", &cmd.command_id, &x).await?;
        self.store.put(conn, "doc:Payment", &doc, &x).await?;
        let mut records: Vec<TargetRecord> = customer_record(&customer).into_iter().collect();
        records.push(record(
            "Payment",
            &id,
            &token,
            &doc,
            p.amount.clone(),
            "payment",
        ));
        Ok(Outcome {
            status: ResultStatus::Created,
            records,
            request_id: rid,
            attempts: w.attempts + customer.attempts,
        })
    }

    async fn post_refund(&self, cmd: &Command, r: &PostRefund) -> Result<Outcome, QboError> {
        let entity = match r.kind() {
            RefundDocumentKind::CreditMemo => "CreditMemo",
            _ => "RefundReceipt",
        };
        let view = DocView {
            currency: &r.currency,
            rate: r.exchange_rate.as_ref(),
            lines: &r.lines,
            tax: r.tax.as_ref(),
            total: r.total.as_ref(),
            txn_date: &r.txn_date,
            memo: &r.memo,
            billing: None,
            shipping: None,
        };
        request_builder::check_balance(&view)?;
        let doc = request_builder::document_number(cmd).unwrap_or_default();
        let rid = request_id(&cmd.command_id, "refund");
        let xkind = format!("doc:{entity}");
        let xkey = if doc.is_empty() {
            cmd.command_id.clone()
        } else {
            doc.clone()
        };
        if let Some(x) = self
            .store
            .get(&self.cfg.connection_id, &xkind, &xkey)
            .await?
        {
            if x.command_id == cmd.command_id {
                return Ok(Outcome {
                    status: ResultStatus::Unchanged,
                    records: vec![record(
                        entity,
                        &x.target_id,
                        &x.version,
                        &doc,
                        r.total.clone(),
                        "refund",
                    )],
                    request_id: rid,
                    attempts: 0,
                });
            }
        }
        // A refund from a payment event names no customer: it is the sale's customer.
        let customer = match r.customer.as_ref() {
            Some(c) => {
                self.resolve_customer(cmd, Some(c), &r.currency, &CustomerDetails::default())
                    .await?
            }
            None => {
                let sale = if r.original_document_number.is_empty() {
                    doc.clone()
                } else {
                    encoder::doc_number(&r.original_document_number)
                };
                self.customer_of_sale(&sale).await?
            }
        };
        let (refs, ref_attempts, mut records) =
            self.line_refs(cmd, &r.lines, r.tax.as_ref()).await?;
        records.extend(customer_record(&customer));
        let mut body =
            request_builder::document(cmd, &view, &refs, &customer.id, &self.cfg.home_currency)?;
        if doc.is_empty() {
            if let Some(o) = body.as_object_mut() {
                o.remove("DocNumber");
            }
        }
        if entity == "RefundReceipt" {
            let refund_account = self.cfg.refund_account.clone();
            self.tender_fields(&mut body, r.tender.as_ref(), Some(&refund_account))
                .await?;
        }
        let obj = match self.batcher.write(WriteOp::create(entity, body, rid.clone()).batchable(!doc.is_empty())).await {
            Ok(w) => w.entity,
            Err(e) if e.code() == Some("6140") => match self.by_doc_number(entity, &doc).await? {
                Some(found) if s(&found, "PrivateNote").contains(&cmd.command_id) => found,
                _ => return Err(QboError::invalid("duplicate", format!("{entity} number {doc} is already used by another refund; give each refund its own document number"))),
            },
            Err(e) => return Err(e),
        };
        let id = s(&obj, "Id").to_string();
        let token = s(&obj, "SyncToken").to_string();
        self.store
            .put(
                &self.cfg.connection_id,
                &xkind,
                &xkey,
                &Xref {
                    target_id: id.clone(),
                    version: token.clone(),
                    command_id: cmd.command_id.clone(),
                },
            )
            .await?;
        self.check_total(entity, &id, &obj, &r.currency, r.total.as_ref())?;
        records.push(record(entity, &id, &token, &doc, r.total.clone(), "refund"));
        Ok(Outcome {
            status: ResultStatus::Created,
            records,
            request_id: rid,
            attempts: customer.attempts + ref_attempts + 1,
        })
    }

    async fn void_document(&self, cmd: &Command, v: &VoidDocument) -> Result<Outcome, QboError> {
        let doc = if v.document_number.is_empty() {
            request_builder::document_number(cmd).unwrap_or_default()
        } else {
            encoder::doc_number(&v.document_number)
        };
        let mut records = Vec::new();
        let mut attempts = 0;
        let mut changed = false;
        for kind in v.documents() {
            let entity = match kind {
                DocumentKind::SalesReceipt => "SalesReceipt",
                DocumentKind::Invoice => "Invoice",
                DocumentKind::Payment => "Payment",
                DocumentKind::RefundReceipt => "RefundReceipt",
                DocumentKind::CreditMemo => "CreditMemo",
                DocumentKind::Unspecified => continue,
            };
            let id = match self
                .store
                .get(&self.cfg.connection_id, &format!("doc:{entity}"), &doc)
                .await?
            {
                Some(x) => x.target_id,
                None if entity != "Payment" => match self.by_doc_number(entity, &doc).await? {
                    Some(found) => s(&found, "Id").to_string(),
                    None => continue,
                },
                None => continue,
            };
            let path = entity.to_ascii_lowercase();
            let mut tries = 0;
            loop {
                tries += 1;
                let current = self
                    .service
                    .call(&QboRequest::get(format!("{path}/{id}")))
                    .await?;
                attempts += current.attempts;
                let obj = current.body.get(entity).cloned().unwrap_or_default();
                let token = s(&obj, "SyncToken").to_string();
                if s(&obj, "PrivateNote").starts_with("Voided") {
                    records.push(record(entity, &id, &token, &doc, None, "voided"));
                    break;
                }
                let (req_body, req) = if entity == "Invoice" {
                    (
                        json!({ "Id": id, "SyncToken": token }),
                        QboRequest::post(&path, Value::Null).param("operation", "void"),
                    )
                } else {
                    (
                        json!({ "Id": id, "SyncToken": token, "sparse": true }),
                        QboRequest::post(&path, Value::Null)
                            .param("operation", "update")
                            .param("include", "void"),
                    )
                };
                let mut req = req.request_id(request_id(
                    &cmd.command_id,
                    &format!("void:{entity}:{token}"),
                ));
                req.body = Some(req_body);
                match self.service.call(&req).await {
                    Ok(r) => {
                        attempts += r.attempts;
                        let t = r
                            .body
                            .get(entity)
                            .map(|e| s(e, "SyncToken").to_string())
                            .unwrap_or_default();
                        records.push(record(entity, &id, &t, &doc, None, "voided"));
                        changed = true;
                        break;
                    }
                    Err(e) if e.code() == Some("5010") && tries < MAX_STALE_RETRIES => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        // Nothing posted for this document: nothing to void.
        let status = if records.is_empty() {
            ResultStatus::Skipped
        } else if changed {
            ResultStatus::Voided
        } else {
            ResultStatus::Unchanged
        };
        Ok(Outcome {
            status,
            records,
            request_id: request_id(&cmd.command_id, "void"),
            attempts,
        })
    }

    async fn upsert_customer(
        &self,
        cmd: &Command,
        u: &UpsertCustomer,
    ) -> Result<Outcome, QboError> {
        let r = u.customer.clone().unwrap_or_default();
        let details = CustomerDetails {
            name: u.name.as_ref(),
            email: &u.email,
            phone: &u.phone,
            billing: u.billing_address.as_ref(),
            shipping: u.shipping_address.as_ref(),
        };
        let c = self
            .customer(&cmd.command_id, &r, &r.currency, &details)
            .await?;
        let status = if c.created {
            ResultStatus::Created
        } else {
            ResultStatus::Unchanged
        };
        Ok(Outcome {
            status,
            records: vec![record("Customer", &c.id, "", "", None, "customer")],
            request_id: request_id(&cmd.command_id, "customer"),
            attempts: c.attempts,
        })
    }

    async fn upsert_item(&self, cmd: &Command, u: &UpsertItem) -> Result<Outcome, QboError> {
        let mut r = u.item.clone().unwrap_or_default();
        if r.name.is_empty() {
            r.name = u.name.clone();
        }
        // A day before the change's UTC date: QuickBooks dates transactions in the company's
        // time zone and refuses one dated before InvStartDate (6000), and west of UTC the
        // company's today is still yesterday for part of the UTC day.
        let start_date = (cmd
            .occurred_at
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .unwrap_or_else(chrono::Utc::now)
            - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
        let spec = NewItem {
            description: &u.description,
            kind: u.item_type(),
            income_account: &u.income_account,
            expense_account: &u.expense_account,
            asset_account: &u.asset_account,
            unit_price: u.unit_price.as_ref(),
            unit_cost: u.unit_cost.as_ref(),
            quantity_on_hand: u.quantity_on_hand,
            start_date,
            taxable: Some(u.taxable),
        };
        let i = self.item_for_upsert(&cmd.command_id, &r, &spec).await?;
        let status = if i.created {
            ResultStatus::Created
        } else {
            ResultStatus::Unchanged
        };
        Ok(Outcome {
            status,
            records: vec![record("Item", &i.id, "", "", None, "item")],
            request_id: request_id(&cmd.command_id, "item"),
            attempts: i.attempts,
        })
    }
}

/// The name of the item a mapped non-product line posts through.
fn line_item_name(kind: LineKind) -> &'static str {
    match kind {
        LineKind::PaymentFee => "Payment fee",
        LineKind::GiftCard => "Gift card",
        LineKind::RewardPoints => "Reward points",
        LineKind::Rounding => "Rounding",
        LineKind::Shipping => "Shipping",
        _ => "Other charges",
    }
}

/// QuickBooks' shipping pseudo-item is an id, not an item to look up by name.
fn is_shipping_pseudo_item(i: &ItemRef) -> bool {
    [&i.target_item, &i.name]
        .iter()
        .any(|v| v.as_str() == SHIPPING_PSEUDO_ITEM)
}

/// A sale this very command posted before, as the cross reference remembers it.
fn unchanged(cmd: &Command, entity: &str, x: &Xref, doc: &str, total: Option<Money>) -> Outcome {
    Outcome {
        status: ResultStatus::Unchanged,
        records: vec![record(entity, &x.target_id, &x.version, doc, total, "sale")],
        request_id: request_id(&cmd.command_id, "sale"),
        attempts: 0,
    }
}
