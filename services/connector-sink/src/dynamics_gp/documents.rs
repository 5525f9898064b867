//! What each command does in GP. Masters go as full records with UpdateIfExists=1 (errata
//! 4), so sending one twice is harmless. A sale is one SOP document carrying the customer
//! and items it needs (created in the same SQL transaction when GP has none), its lines,
//! taxes, payments and header. Its SOPNUMBE is the command's document number, so a document
//! whose answer was lost comes back as a duplicate number: the connector reads it, checks
//! customer and amount, and reports it as posted (UNCHANGED) instead of failing. A stock
//! change is an inventory adjustment (IVInventoryTransactionType, IVDOCTYP 1) whose IVDOCNBR
//! comes from the command id, with the same duplicate handling.
use super::{
    encoder::{self, Fitter},
    request_builder::{self, PaymentPlan, SopPlan, SopTotals},
    service::GpError,
    xml::{self, Node, Txn},
    GpConnector,
};
use crate::{target::Outcome, xref::Xref};
use nopbridge_proto::commands::v1::{
    command::Body, AdjustStock, Command, DocumentLine, DynamicsGpOptions, LineKind, PostalAddress,
    ResultStatus, SaleDocumentKind, TargetRecord, Tender, TenderKind, UpsertCustomer, UpsertItem,
};
use nopbridge_proto::events::v1::Money;
use serde_json::Value;
use tracing::info;

const XREF_CUSTOMER: &str = "gp_customer";
const XREF_ITEM: &str = "gp_item";
const XREF_SOP: &str = "gp_sop";
const XREF_IV: &str = "gp_iv";
/// IVDOCTYP of an adjustment (2 is a variance).
const IV_ADJUSTMENT: i16 = 1;

pub(super) fn record(entity: &str, id: impl Into<String>, role: &str) -> TargetRecord {
    TargetRecord {
        entity: entity.into(),
        target_id: id.into(),
        role: role.into(),
        ..TargetRecord::default()
    }
}

fn xref(id: &str, cmd: &Command) -> Xref {
    Xref {
        target_id: id.to_string(),
        version: String::new(),
        command_id: cmd.command_id.clone(),
    }
}

fn minor(m: Option<&Money>) -> i64 {
    m.map(|m| m.minor_units).unwrap_or_default()
}

/// The customer a document is for, as GP needs it.
struct CustomerPlan<'a> {
    number: String,
    name: String,
    email: &'a str,
    phone: &'a str,
    billing: Option<&'a PostalAddress>,
    currency: &'a str,
}

impl GpConnector {
    pub(super) async fn execute_command(&self, cmd: &Command) -> Result<Outcome, GpError> {
        match &cmd.body {
            Some(Body::UpsertCustomer(u)) => self.upsert_customer(cmd, u).await,
            Some(Body::UpsertItem(u)) => self.upsert_item(cmd, u).await,
            Some(Body::PostSale(s))
                if s.summary.is_some()
                    && s.dynamics_gp.as_ref().is_some_and(|o| o.journal.is_some()) =>
            {
                self.post_journal(cmd, s).await
            }
            Some(Body::PostSale(s)) => {
                let lines = &s.lines;
                let kind = s.kind();
                let tenders: &[Tender] = if kind == SaleDocumentKind::SalesReceipt {
                    &s.tenders
                } else {
                    &[]
                };
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
                let customer = CustomerPlan {
                    number: encoder::customer_number(
                        &self.cfg.customer_prefix,
                        &cref.target_code,
                        &cref.store_customer_id,
                        &cref.email,
                    ),
                    name: if name.is_empty() {
                        cref.email.clone()
                    } else {
                        name
                    },
                    email: &cref.email,
                    phone: "",
                    billing: s.billing_address.as_ref().or(s.shipping_address.as_ref()),
                    currency: &s.currency,
                };
                let setup = self.sale_setup(s.dynamics_gp.as_ref())?;
                let doc = Doc {
                    soptype: setup.soptype,
                    docid: setup.docid,
                    site: setup.site,
                    batch: setup.batch,
                    number: document_number(cmd)?,
                    currency: &s.currency,
                    rate: s
                        .exchange_rate
                        .as_ref()
                        .and_then(|r| r.home_per_document.as_ref()),
                    lines,
                    tenders,
                    total: minor(s.total.as_ref()),
                    date: &s.txn_date,
                    ship_to: s.shipping_address.as_ref(),
                };
                self.post_sop(cmd, &customer, &doc).await
            }
            Some(Body::PostRefund(r)) => {
                let cref = r.customer.clone().unwrap_or_default();
                let setup = self.return_setup(r.dynamics_gp.as_ref())?;
                // A refund from a payment event names no customer: it is the sale's customer.
                let (number, name) = match &r.customer {
                    None => {
                        let sale_type =
                            self.sale_type(r.dynamics_gp.as_ref().map_or(0, |o| o.sale_sop_type))?;
                        self.customer_of_sale(cmd, &r.original_document_number, sale_type)
                            .await?
                    }
                    Some(_) => (
                        encoder::customer_number(
                            &self.cfg.customer_prefix,
                            &cref.target_code,
                            &cref.store_customer_id,
                            &cref.email,
                        ),
                        if cref.display_name.is_empty() {
                            cref.email.clone()
                        } else {
                            cref.display_name.clone()
                        },
                    ),
                };
                let customer = CustomerPlan {
                    number,
                    name,
                    email: &cref.email,
                    phone: "",
                    billing: None,
                    currency: &r.currency,
                };
                let doc = Doc {
                    soptype: setup.soptype,
                    docid: setup.docid,
                    site: setup.site,
                    batch: setup.batch,
                    number: refund_number(cmd, &r.original_document_number)?,
                    currency: &r.currency,
                    rate: r
                        .exchange_rate
                        .as_ref()
                        .and_then(|x| x.home_per_document.as_ref()),
                    lines: &r.lines,
                    tenders: &[],
                    total: minor(r.total.as_ref()),
                    date: &r.txn_date,
                    ship_to: None,
                };
                self.post_sop(cmd, &customer, &doc).await
            }
            Some(Body::ApplyPayment(p)) => self.apply_payment(cmd, p).await,
            Some(Body::VoidDocument(_)) => self.void(cmd).await,
            Some(Body::AdjustStock(a)) => self.adjust_stock(cmd, a).await,
            Some(Body::StoreWriteBack(_)) => Ok(Outcome::skipped()),
            None => Err(GpError::invalid("validation", "the command has no body")),
        }
    }

    fn conn(&self) -> &str {
        &self.cfg.connection_id
    }

    /// Customer number and name of the sale GP holds for the order (`original`, else the
    /// command's document number).
    async fn customer_of_sale(
        &self,
        cmd: &Command,
        original: &str,
        sale_type: i16,
    ) -> Result<(String, String), GpError> {
        let doc = if original.trim().is_empty() {
            document_number(cmd)?
        } else {
            original.trim().to_string()
        };
        let number = Fitter::default().key("SOPNUMBE", &doc);
        let path = format!("sop/{sale_type}/{}", urlencoding::encode(&number));
        let found = self.service.read(&path).await?;
        let text = |k: &str| {
            found
                .as_ref()
                .and_then(|f| f.get("header"))
                .and_then(|h| h.get(k))
                .and_then(Value::as_str)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let customer = text("CUSTNMBR");
        if customer.is_empty() {
            return Err(GpError::invalid(
                crate::target::PREREQUISITE,
                format!("the refund names no customer and no sale {number} was posted to take it from; post the order's sale first (see its dead letter), then replay"),
            ));
        }
        Ok((customer, text("CUSTNAME")))
    }

    fn customer_node(&self, c: &CustomerPlan<'_>, fit: &mut Fitter) -> Node {
        let mut n = Node::new("taUpdateCreateCustomerRcd");
        n.set("CUSTNMBR", c.number.clone())
            .set("CUSTNAME", fit.text("CUSTNAME", &c.name))
            .set("ADRSCODE", self.cfg.address_code.clone())
            .set("CNTCPRSN", fit.text("CNTCPRSN", &c.name));
        if let Some(a) = c.billing {
            request_builder::address(&mut n, a, fit, "CNTCPRSN");
            n.set("CCode", fit.text("CCode", &a.country_code));
            if !a.phone.is_empty() {
                n.set("PHNUMBR1", fit.text("PHNUMBR1", &a.phone));
            }
        }
        if !c.phone.is_empty() {
            n.set("PHNUMBR1", fit.text("PHNUMBR1", c.phone));
        }
        if let Some(id) = self.currency_id(c.currency) {
            n.set("CURNCYID", id);
        }
        if !c.email.is_empty() {
            n.set("ToEmail_Recipient", fit.text("ToEmail_Recipient", c.email));
        }
        if !self.cfg.customer_class.is_empty() {
            n.set("CUSTCLAS", self.cfg.customer_class.clone())
                .set("UseCustomerClass", "1");
        }
        n.set("CreateAddress", "1").set("UpdateIfExists", "1");
        n
    }

    fn item_node(
        &self,
        number: &str,
        site: &str,
        description: &str,
        kind: i16,
        price: Option<String>,
        fit: &mut Fitter,
    ) -> Node {
        let mut n = Node::new("taUpdateCreateItemRcd");
        n.set("ITEMNMBR", number)
            .set(
                "ITEMDESC",
                fit.text(
                    "ITEMDESC",
                    if description.is_empty() {
                        number
                    } else {
                        description
                    },
                ),
            )
            .set("ITEMTYPE", kind.to_string())
            .set("UOMSCHDL", self.cfg.uom_schedule.clone())
            .set("LOCNCODE", site);
        if let Some(p) = price {
            n.set("LISTPRCE", p);
        }
        if !self.cfg.item_class.is_empty() {
            n.set("ITMCLSCD", self.cfg.item_class.clone())
                .set("UseItemClass", "1");
        }
        n.set("UpdateIfExists", "1");
        n
    }

    /// GP currency ID of a foreign currency (None for the home currency).
    fn currency_id(&self, currency: &str) -> Option<String> {
        if currency.is_empty() || currency.eq_ignore_ascii_case(&self.cfg.home_currency) {
            return None;
        }
        self.cfg
            .currency_ids
            .get(&currency.to_ascii_uppercase())
            .cloned()
    }

    /// CURNCYID and XCHGRATE of a document in a foreign currency (None at home); a currency
    /// without a GP currency ID or a rate posts nothing.
    pub(super) fn foreign(
        &self,
        currency: &str,
        rate: Option<&nopbridge_proto::events::v1::Decimal>,
    ) -> Result<Option<(String, String)>, GpError> {
        match self.currency_id(currency) {
            None if currency.is_empty() || currency.eq_ignore_ascii_case(&self.cfg.home_currency) => Ok(None),
            None => Err(GpError::invalid("currency", format!("no GP currency ID is configured for {currency} (currency_ids); nothing was posted"))),
            Some(id) => {
                let rate = rate
                    .filter(|r| r.units > 0 && r.scale <= 28)
                    .map(|r| rust_decimal::Decimal::new(r.units, r.scale).normalize().to_string())
                    .ok_or_else(|| GpError::invalid("currency", format!("the document is in {currency} but carries no exchange rate; nothing was posted")))?;
                Ok(Some((id, rate)))
            }
        }
    }

    /// Whether GP (or the cross reference) already has this master record.
    async fn known(&self, kind: &str, path: &str, number: &str) -> Result<bool, GpError> {
        if self.store.get(self.conn(), kind, number).await?.is_some() {
            return Ok(true);
        }
        Ok(self
            .service
            .read(&format!("{path}/{}", urlencoding::encode(number)))
            .await?
            .is_some())
    }

    async fn submit_master(
        &self,
        kind: &'static str,
        node: Node,
        fit: &Fitter,
    ) -> Result<u32, GpError> {
        let doc = xml::render(&[Txn {
            kind,
            nodes: vec![node],
        }])
        .map_err(|e| GpError::invalid("internal", e.to_string()))?;
        log_fitting(fit);
        Ok(self.service.submit("CreateEntity", &doc).await?.1)
    }

    async fn upsert_customer(&self, cmd: &Command, u: &UpsertCustomer) -> Result<Outcome, GpError> {
        let cref = u.customer.clone().unwrap_or_default();
        let email = if u.email.is_empty() {
            cref.email.as_str()
        } else {
            u.email.as_str()
        };
        let mut fit = Fitter::default();
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
        let number = fit.key(
            "CUSTNMBR",
            &encoder::customer_number(
                &self.cfg.customer_prefix,
                &cref.target_code,
                &cref.store_customer_id,
                email,
            ),
        );
        let plan = CustomerPlan {
            number: number.clone(),
            name,
            email,
            phone: &u.phone,
            billing: u.billing_address.as_ref().or(u.shipping_address.as_ref()),
            currency: &cref.currency,
        };
        let _g = self.flights.lock(&format!("customer/{number}")).await;
        let existed = self.known(XREF_CUSTOMER, "customers", &number).await?;
        let mut node = self.customer_node(&plan, &mut fit);
        if !u.active {
            node.set("INACTIVE", "1");
        }
        let attempts = self
            .submit_master("RMCustomerMasterType", node, &fit)
            .await?;
        self.store
            .put(self.conn(), XREF_CUSTOMER, &number, &xref(&number, cmd))
            .await?;
        Ok(Outcome {
            status: if existed {
                ResultStatus::Updated
            } else {
                ResultStatus::Created
            },
            records: vec![record("Customer", number, "customer")],
            request_id: String::new(),
            attempts,
        })
    }

    async fn upsert_item(&self, cmd: &Command, u: &UpsertItem) -> Result<Outcome, GpError> {
        let item = u.item.clone().unwrap_or_default();
        let raw = if item.target_item.is_empty() {
            &item.sku
        } else {
            &item.target_item
        };
        if raw.is_empty() {
            return Err(GpError::invalid(
                "validation",
                "the item has no SKU or target item; GP keys items by ITEMNMBR",
            ));
        }
        let mut fit = Fitter::default();
        let number = fit.key("ITEMNMBR", raw);
        let kind = match u.item_type() {
            nopbridge_proto::commands::v1::ItemType::Service => 5,
            nopbridge_proto::commands::v1::ItemType::NonInventory => 4,
            _ => 1,
        };
        let price = u
            .unit_price
            .as_ref()
            .map(|m| encoder::amount(m.minor_units, &m.currency));
        let _g = self.flights.lock(&format!("item/{number}")).await;
        let existed = self.known(XREF_ITEM, "items", &number).await?;
        let name = if u.name.is_empty() {
            &u.description
        } else {
            &u.name
        };
        let node = self.item_node(&number, &self.cfg.site, name, kind, price, &mut fit);
        let attempts = self.submit_master("IVItemMasterType", node, &fit).await?;
        self.store
            .put(self.conn(), XREF_ITEM, &number, &xref(&number, cmd))
            .await?;
        Ok(Outcome {
            status: if existed {
                ResultStatus::Updated
            } else {
                ResultStatus::Created
            },
            records: vec![record("Item", number, "item")],
            request_id: String::new(),
            attempts,
        })
    }

    fn tax_detail(&self, l: &DocumentLine) -> Option<String> {
        if !l.tax_code.trim().is_empty() && !matches!(l.tax_code.as_str(), "TAX" | "NON") {
            return Some(l.tax_code.trim().to_string());
        }
        let rate = l
            .tax_rate_percent
            .as_ref()
            .filter(|d| d.scale <= 28)
            .map(|d| {
                rust_decimal::Decimal::new(d.units, d.scale)
                    .normalize()
                    .to_string()
            })?;
        self.cfg.tax_details.get(&rate).cloned()
    }

    /// A tender as a SOP payment: card payment (6) or cash payment (4) on an invoice, card
    /// deposit (3) or cash deposit (1) on an order.
    pub(super) fn payment(&self, t: &Tender, soptype: i16) -> PaymentPlan {
        let method = t.payment_method.trim();
        let card = self.cfg.card_ids.get(method).cloned().or_else(|| {
            self.cfg
                .cards
                .iter()
                .find(|c| c.eq_ignore_ascii_case(method))
                .cloned()
        });
        PaymentPlan {
            kind: match (card.is_some(), soptype == 2) {
                (true, false) => 6,
                (false, false) => 4,
                (true, true) => 3,
                (false, true) => 1,
            },
            checkbook: card.is_none().then(|| self.cfg.checkbook.clone()),
            card,
            amount: minor(t.amount.as_ref()),
            reference: t.reference.clone(),
        }
    }

    /// Is the SOP document GP holds under this number the one the command describes?
    fn same_document(
        found: &Value,
        customer: &str,
        totals: &SopTotals,
        currency: &str,
    ) -> Result<(), String> {
        let h = found.get("header").cloned().unwrap_or_default();
        let text = |k: &str| {
            h.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let amount = text("DOCAMNT").parse::<rust_decimal::Decimal>().ok();
        let want = encoder::decimal(totals.document, currency);
        if !text("CUSTNMBR").eq_ignore_ascii_case(customer) || amount != Some(want) {
            return Err(format!(
                "GP holds this number for customer {} with DOCAMNT {}, the command is for {customer} with {want}",
                text("CUSTNMBR"),
                text("DOCAMNT")
            ));
        }
        Ok(())
    }

    async fn post_sop(
        &self,
        cmd: &Command,
        c: &CustomerPlan<'_>,
        d: &Doc<'_>,
    ) -> Result<Outcome, GpError> {
        let mut fit = Fitter::default();
        let currency = if d.currency.is_empty() {
            self.cfg.home_currency.as_str()
        } else {
            d.currency
        };
        let number = fit.key("SOPNUMBE", &d.number);
        let customer = fit.key("CUSTNMBR", &c.number);
        let date = if d.date.is_empty() {
            chrono::Utc::now().format("%Y-%m-%d").to_string()
        } else {
            d.date.to_string()
        };
        let foreign = self.foreign(currency, d.rate)?;
        // Masters the document needs, created inside it when GP has none.
        let mut masters = Vec::new();
        let customer_plan = CustomerPlan {
            number: customer.clone(),
            name: c.name.clone(),
            ..*c
        };
        let new_customer = !self.known(XREF_CUSTOMER, "customers", &customer).await?;
        if new_customer {
            if !self.cfg.create_missing {
                return Err(GpError::invalid(
                    "reference",
                    format!("customer {customer} does not exist in GP and create_missing is off"),
                ));
            }
            masters.push(self.customer_node(&customer_plan, &mut fit));
        }
        let mut items = Vec::with_capacity(d.lines.len());
        let mut new_items = Vec::new();
        for l in d.lines {
            if !matches!(l.kind(), LineKind::Product | LineKind::Unspecified) {
                items.push(None);
                continue;
            }
            let r = l.item.clone().unwrap_or_default();
            let raw = if r.target_item.is_empty() {
                r.sku.clone()
            } else {
                r.target_item.clone()
            };
            if raw.is_empty() {
                return Err(GpError::invalid(
                    "reference",
                    format!("line {} has no SKU or target item", l.line_number),
                ));
            }
            let n = fit.key("ITEMNMBR", &raw);
            if !new_items.contains(&n) && !self.known(XREF_ITEM, "items", &n).await? {
                if !self.cfg.create_missing {
                    return Err(GpError::invalid(
                        "reference",
                        format!("item {n} does not exist in GP and create_missing is off"),
                    ));
                }
                let name = if r.name.is_empty() {
                    l.description.clone()
                } else {
                    r.name.clone()
                };
                masters.push(self.item_node(&n, &d.site, &name, 1, None, &mut fit));
                new_items.push(n.clone());
            }
            items.push(Some(n));
        }
        let batch = match &d.batch {
            Some(b) => fit.text("BACHNUMB", b),
            None => encoder::batch(&self.cfg.batch_prefix, &date),
        };
        let reference = format!(
            "nopCommerce order {}",
            cmd.order
                .as_ref()
                .map(|o| o.order_number.as_str())
                .unwrap_or_default()
        );
        let plan = SopPlan {
            soptype: d.soptype,
            docid: &d.docid,
            number: &number,
            customer: &customer,
            customer_name: &c.name,
            date: &date,
            batch: &batch,
            site: &d.site,
            currency,
            foreign,
            lines: d.lines,
            items,
            tax_details: d.lines.iter().map(|l| self.tax_detail(l)).collect(),
            payments: d
                .tenders
                .iter()
                .filter(|t| minor(t.amount.as_ref()) > 0 && t.kind() != TenderKind::Unspecified)
                .map(|t| self.payment(t, d.soptype))
                .collect(),
            total: d.total,
            reference: &reference,
            customer_po: cmd
                .order
                .as_ref()
                .map(|o| o.order_number.as_str())
                .unwrap_or_default(),
            ship_to: d.ship_to,
            tracking: &[],
        };
        let (mut nodes, totals) = request_builder::sop(&plan, &mut fit)?;
        masters.append(&mut nodes);
        let render = |nodes: Vec<Node>| {
            xml::render(&[Txn {
                kind: "SOPTransactionType",
                nodes,
            }])
            .map_err(|e| GpError::invalid("internal", e.to_string()))
        };
        let document = render(masters.clone())?;
        let key = format!("{}/{number}", d.soptype);
        let path = format!("sop/{}/{}", d.soptype, urlencoding::encode(&number));
        let _g = self.flights.lock(&format!("sop/{key}")).await;
        let outcome = |status, attempts| {
            self.sop_outcome(status, &customer, &number, d, &totals, currency, attempts)
        };
        // Drift repair reads GP first: the same document stands, a changed one is put back in
        // place, a deleted one is posted again below.
        if cmd.verify_target {
            if let Some(found) = self.service.read(&path).await? {
                if Self::same_document(&found, &customer, &totals, currency).is_ok() {
                    return Ok(outcome(ResultStatus::Unchanged, 1));
                }
                for n in masters.iter_mut().filter(|n| n.name == "taSopHdrIvcInsert") {
                    n.set("UpdateExisting", "1");
                }
                log_fitting(&fit);
                let attempts = self.correct_sop(&number, &found, &render(masters)?).await?;
                return Ok(outcome(ResultStatus::Updated, attempts));
            }
        } else if self.store.get(self.conn(), XREF_SOP, &key).await?.is_some() {
            // A replay of a posted command: GP has it, nothing is sent.
            if let Some(found) = self.service.read(&path).await? {
                Self::same_document(&found, &customer, &totals, currency)
                    .map_err(|m| GpError::invalid("duplicate", m))?;
                return Ok(outcome(ResultStatus::Unchanged, 1));
            }
        }
        log_fitting(&fit);
        let errors = &self.cfg.errors;
        let (status, attempts) = self
            .submit_once(
                &document,
                &path,
                &[errors.duplicate_document, errors.posted_document],
                (errors.duplicate_document, "taSopHdrIvcInsert"),
                &format!("SOP number {number}"),
                |found| Self::same_document(found, &customer, &totals, currency),
            )
            .await?;
        self.store
            .put(self.conn(), XREF_SOP, &key, &xref(&number, cmd))
            .await?;
        if new_customer {
            self.store
                .put(self.conn(), XREF_CUSTOMER, &customer, &xref(&customer, cmd))
                .await?;
        }
        for n in &new_items {
            self.store
                .put(self.conn(), XREF_ITEM, n, &xref(n, cmd))
                .await?;
        }
        Ok(outcome(status, attempts))
    }

    /// A SOP document a person changed in GP, put back to the command's values: resent with
    /// UpdateExisting=1, which replaces an unposted document (reference §B4.5). GP keeps a
    /// posted document as it is, so that one is refused with what a GP user does instead.
    async fn correct_sop(
        &self,
        number: &str,
        found: &Value,
        document: &str,
    ) -> Result<u32, GpError> {
        let held = found
            .get("header")
            .and_then(|h| h.get("DOCAMNT"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string();
        let posted = |why: &str| {
            GpError::invalid(
                "drift",
                format!("SOP document {number} differs in GP (DOCAMNT {held}) and {why}; GP does not change posted documents: enter a return (SOP type 4) or a correcting invoice for the difference in GP"),
            )
        };
        if found.get("posted").and_then(Value::as_bool) == Some(true) {
            return Err(posted("is posted"));
        }
        let errors = &self.cfg.errors;
        match self.service.submit("CreateTransactionEntity", document).await {
            Ok((_, attempts)) => {
                info!(%number, was = %held, "SOP document changed in GP: updated in place to the store's values");
                Ok(attempts)
            }
            Err(e) if e.number() == Some(errors.posted_document) => {
                Err(posted("was posted meanwhile"))
            }
            Err(e) if e.number() == Some(errors.duplicate_document) => Err(GpError::invalid(
                "drift",
                format!("SOP document {number} differs in GP (DOCAMNT {held}) and GP refused to update it in place (UpdateExisting): correct or delete it in GP, then replay"),
            )),
            Err(e) => Err(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn sop_outcome(
        &self,
        status: ResultStatus,
        customer: &str,
        number: &str,
        d: &Doc<'_>,
        t: &SopTotals,
        currency: &str,
        attempts: u32,
    ) -> Outcome {
        let money = |m: i64| {
            Some(Money {
                minor_units: m,
                currency: currency.to_string(),
            })
        };
        let mut sale = record(
            if d.soptype == 4 {
                "SOPReturn"
            } else {
                "SOPInvoice"
            },
            number,
            if d.soptype == 4 { "refund" } else { "sale" },
        );
        sale.document_number = number.to_string();
        sale.total = money(t.document);
        let mut records = vec![record("Customer", customer, "customer"), sale];
        if t.paid > 0 {
            let mut p = record("SOPPayment", number, "payment");
            p.document_number = number.to_string();
            p.total = money(t.paid);
            records.push(p);
        }
        Outcome {
            status,
            records,
            request_id: String::new(),
            attempts,
        }
    }

    /// Voiding needs SOPVoidDocumentType, which is not posted yet: nothing posted is nothing
    /// to do; a posted document is refused with what to do.
    async fn void(&self, cmd: &Command) -> Result<Outcome, GpError> {
        let number = Fitter::default().key("SOPNUMBE", &document_number(cmd)?);
        for soptype in [3, 2] {
            if self
                .service
                .read(&format!("sop/{soptype}/{}", urlencoding::encode(&number)))
                .await?
                .is_some()
            {
                return Err(GpError::invalid(
                    "unsupported",
                    format!("SOP document {number} (type {soptype}) exists in GP; voiding is not posted by this connector, void or delete it in GP"),
                ));
            }
        }
        Ok(Outcome {
            status: ResultStatus::Unchanged,
            records: vec![],
            request_id: String::new(),
            attempts: 1,
        })
    }
}

impl GpConnector {
    /// A store stock change as an inventory adjustment: one line of TRXQTY = the change at
    /// the command's site (else the connection's), in the batch `{batch_prefix}IV{date}`,
    /// numbered from the command id so a redelivery meets its own document.
    async fn adjust_stock(&self, cmd: &Command, a: &AdjustStock) -> Result<Outcome, GpError> {
        if a.delta == 0 {
            // Only a change can be posted: GP's on-hand leaves out unposted adjustments, so
            // an absolute level cannot be turned into a safe adjustment here.
            info!(command_id = %cmd.command_id, "stock level without a change: nothing to adjust in GP");
            return Ok(Outcome::skipped());
        }
        let mut fit = Fitter::default();
        let r = a.item.clone().unwrap_or_default();
        let raw = if r.target_item.trim().is_empty() {
            r.sku.trim()
        } else {
            r.target_item.trim()
        };
        if raw.is_empty() {
            return Err(GpError::invalid(
                "reference",
                "the stock change names no SKU or GP item number; nothing was posted",
            ));
        }
        let item = fit.key("ITEMNMBR", raw);
        let site = if a.site.trim().is_empty() {
            self.cfg.site.clone()
        } else {
            a.site.trim().to_string()
        };
        if site.chars().count() > 10 {
            return Err(GpError::invalid(
                "validation",
                format!("site {site} is longer than GP's 10-character site ID (TRXLOCTN); fix stock.sites / stock.default_site in the mapping, then replay"),
            ));
        }
        let number = adjustment_number(cmd);
        let date = cmd
            .occurred_at
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .unwrap_or_else(chrono::Utc::now)
            .format("%Y-%m-%d")
            .to_string();
        let batch = encoder::batch(&format!("{}IV", self.cfg.batch_prefix), &date);
        let reason = if a.reason.trim().is_empty() {
            "nopCommerce stock change"
        } else {
            a.reason.trim()
        };
        let note = fit.text(
            "NOTETEXT",
            &format!("{reason} [nopbridge {}]", cmd.command_id),
        );
        let mut line = Node::new("taIVTransactionLineInsert");
        line.set("IVDOCNBR", number.clone())
            .set("IVDOCTYP", IV_ADJUSTMENT.to_string())
            .set("ITEMNMBR", item.clone())
            .set("LNSEQNBR", "16384")
            .set("TRXQTY", a.delta.to_string())
            .set("TRXLOCTN", site.clone());
        let mut header = Node::new("taIVTransactionHeaderInsert");
        header
            .set("BACHNUMB", batch)
            .set("IVDOCNBR", number.clone())
            .set("IVDOCTYP", IV_ADJUSTMENT.to_string())
            .set("DOCDATE", date)
            .set("NOTETEXT", note);
        let document = xml::render(&[Txn {
            kind: "IVInventoryTransactionType",
            nodes: vec![line, header],
        }])
        .map_err(|e| GpError::invalid("internal", e.to_string()))?;
        let path = format!("iv/{}", urlencoding::encode(&number));
        let _g = self.flights.lock(&format!("iv/{number}")).await;
        let outcome = |status, attempts| {
            let mut rec = record("IVAdjustment", number.clone(), "item");
            rec.document_number = number.clone();
            Outcome {
                status,
                records: vec![rec, record("Item", item.clone(), "item")],
                request_id: String::new(),
                attempts,
            }
        };
        // A replay of a posted command: GP has it, nothing is sent.
        if self
            .store
            .get(self.conn(), XREF_IV, &number)
            .await?
            .is_some()
        {
            if let Some(found) = self.service.read(&path).await? {
                Self::same_adjustment(&found, &item, &site, a.delta)
                    .map_err(|m| GpError::invalid("duplicate", m))?;
                return Ok(outcome(ResultStatus::Unchanged, 1));
            }
        }
        log_fitting(&fit);
        let duplicate = self.cfg.errors.duplicate_adjustment;
        let (status, attempts) = self
            .submit_once(
                &document,
                &path,
                &[duplicate],
                (duplicate, "taIVTransactionHeaderInsert"),
                &format!("Document number {number}"),
                |found| Self::same_adjustment(found, &item, &site, a.delta),
            )
            .await?;
        self.store
            .put(self.conn(), XREF_IV, &number, &xref(&number, cmd))
            .await?;
        Ok(outcome(status, attempts))
    }

    /// Submits a transaction document. A duplicate-number refusal (`duplicates`) means an
    /// earlier try whose answer was lost may have posted it: the document GP holds at `path`
    /// is read back and taken as posted (UNCHANGED) when `same` says it is this one, else the
    /// refusal stands as `refusal` (number, eConnect procedure) naming `what`.
    async fn submit_once(
        &self,
        document: &str,
        path: &str,
        duplicates: &[i64],
        refusal: (i64, &str),
        what: &str,
        same: impl Fn(&Value) -> Result<(), String>,
    ) -> Result<(ResultStatus, u32), GpError> {
        match self
            .service
            .submit("CreateTransactionEntity", document)
            .await
        {
            Ok((_, attempts)) => Ok((ResultStatus::Created, attempts)),
            Err(e) if e.number().is_some_and(|n| duplicates.contains(&n)) => {
                let found = self.service.read(path).await?.ok_or(e)?;
                if let Err(m) = same(&found) {
                    return Err(GpError::Rejected {
                        number: refusal.0,
                        procedure: refusal.1.into(),
                        description: format!("{what} already exists: {m}"),
                        exception: "eConnectException".into(),
                    });
                }
                info!(%what, "already in GP as this command describes it: taken as posted");
                Ok((ResultStatus::Unchanged, 1))
            }
            Err(e) => Err(e),
        }
    }

    /// Submits a document GP would take twice (eConnect has no idempotency for it: an
    /// auto-numbered journal, a payment added to an existing document). It is never simply
    /// sent again: before every try `find` looks for what an earlier try (this delivery's,
    /// or one before a crash) made, and a find ends it (UNCHANGED with what was found).
    pub(super) async fn submit_checked<T, F, FF>(
        &self,
        document: &str,
        find: F,
    ) -> Result<Submitted<T>, GpError>
    where
        F: Fn() -> FF,
        FF: std::future::Future<Output = Result<Option<T>, GpError>>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(found) = find().await? {
                return Ok(Submitted::Found(found, attempt));
            }
            match self
                .service
                .submit_unrepeated("CreateTransactionEntity", document)
                .await
            {
                Ok((echo, _)) => return Ok(Submitted::Created(echo, attempt)),
                Err(GpError::Unavailable { reason, .. })
                    if attempt < self.service.max_attempts() =>
                {
                    tracing::debug!(%reason, attempt, "GP outcome unknown; looking for the document before sending it again");
                    tokio::time::sleep(self.service.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Is the inventory transaction GP holds under this number the one the command describes?
    fn same_adjustment(found: &Value, item: &str, site: &str, delta: i64) -> Result<(), String> {
        let lines = found
            .get("lines")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let text = |l: &Value, k: &str| {
            l.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let same = lines.len() == 1
            && lines.iter().all(|l| {
                text(l, "ITEMNMBR").eq_ignore_ascii_case(item)
                    && text(l, "TRXLOCTN").eq_ignore_ascii_case(site)
                    && text(l, "TRXQTY").parse::<rust_decimal::Decimal>().ok()
                        == Some(rust_decimal::Decimal::from(delta))
            });
        if !same {
            let held: Vec<String> = lines
                .iter()
                .map(|l| {
                    format!(
                        "{} {} at {}",
                        text(l, "TRXQTY"),
                        text(l, "ITEMNMBR"),
                        text(l, "TRXLOCTN")
                    )
                })
                .collect();
            return Err(format!(
                "GP holds this number for {}, the command is for {delta} {item} at {site}",
                held.join(", ")
            ));
        }
        Ok(())
    }
}

/// An adjustment's IVDOCNBR (17 characters): `ADJ` and 14 hex digits of the command id's
/// hash, so every delivery of one command carries the same number.
fn adjustment_number(cmd: &Command) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(cmd.command_id.as_bytes()));
    format!("ADJ{}", digest[..14].to_uppercase())
}

/// What [`GpConnector::submit_checked`] did: made it (GP's echo) or found it; with the tries.
pub(super) enum Submitted<T> {
    Created(String, u32),
    Found(T, u32),
}

/// SOP type, DOCID, site and batch of a document: the command's (the mapping config's
/// `dynamics_gp:`) where it names them, else the connection's.
struct Setup {
    soptype: i16,
    docid: String,
    site: String,
    /// None: `batch_prefix` + the document date.
    batch: Option<String>,
}

impl GpConnector {
    /// The SOP type sales post as: the command's (2 or 3), else the connection's.
    fn sale_type(&self, requested: i32) -> Result<i16, GpError> {
        match requested {
            0 => Ok(self.cfg.sale_document.soptype()),
            2 => Ok(2),
            3 => Ok(3),
            t => Err(GpError::invalid(
                "validation",
                format!("the command asks for SOP type {t} for a sale; a sale is an order (2) or an invoice (3): fix dynamics_gp.sale_document in the mapping, then replay"),
            )),
        }
    }

    fn sale_setup(&self, o: Option<&DynamicsGpOptions>) -> Result<Setup, GpError> {
        let soptype = self.sale_type(o.map_or(0, |o| o.sop_type))?;
        let own = if soptype == 2 {
            &self.cfg.doc_ids.order
        } else {
            &self.cfg.doc_ids.invoice
        };
        self.setup(soptype, own, o)
    }

    fn return_setup(&self, o: Option<&DynamicsGpOptions>) -> Result<Setup, GpError> {
        if let Some(t) = o.map(|o| o.sop_type).filter(|t| !matches!(t, 0 | 4)) {
            return Err(GpError::invalid(
                "validation",
                format!("the command asks for SOP type {t} for a return; a return is SOP type 4: fix the mapping, then replay"),
            ));
        }
        self.setup(4, &self.cfg.doc_ids.r#return, o)
    }

    fn setup(
        &self,
        soptype: i16,
        own_docid: &str,
        o: Option<&DynamicsGpOptions>,
    ) -> Result<Setup, GpError> {
        let pick =
            |theirs: Option<&str>, own: &str| match theirs.map(str::trim).filter(|v| !v.is_empty())
            {
                Some(v) => v.to_string(),
                None => own.to_string(),
            };
        let docid = pick(o.map(|o| o.doc_id.as_str()), own_docid);
        let site = pick(o.map(|o| o.site.as_str()), &self.cfg.site);
        for (what, value, max) in [("DOCID", &docid, 15), ("site ID (LOCNCODE)", &site, 10)] {
            if value.chars().count() > max {
                return Err(GpError::invalid(
                    "validation",
                    format!("{what} {value} is longer than GP's {max} characters: fix dynamics_gp in the mapping (or the connection's setting), then replay"),
                ));
            }
        }
        let batch = o
            .map(|o| o.batch_number.trim())
            .filter(|b| !b.is_empty())
            .map(str::to_string);
        Ok(Setup {
            soptype,
            docid,
            site,
            batch,
        })
    }
}

/// A SOP document to post.
struct Doc<'a> {
    soptype: i16,
    docid: String,
    site: String,
    batch: Option<String>,
    number: String,
    currency: &'a str,
    rate: Option<&'a nopbridge_proto::events::v1::Decimal>,
    lines: &'a [DocumentLine],
    tenders: &'a [Tender],
    total: i64,
    date: &'a str,
    ship_to: Option<&'a PostalAddress>,
}

pub(super) fn log_fitting(fit: &Fitter) {
    for f in &fit.fitted {
        info!(element = f.element, max = f.max, fitted = %f.fitted, "GP field fitted");
    }
}

pub(super) fn document_number(cmd: &Command) -> Result<String, GpError> {
    let n = cmd
        .order
        .as_ref()
        .map(|o| {
            if o.document_number.is_empty() {
                o.order_number.trim().to_string()
            } else {
                o.document_number.trim().to_string()
            }
        })
        .unwrap_or_default();
    if n.is_empty() {
        return Err(GpError::invalid(
            "validation",
            "the command names no document number (order.document_number); GP needs a fixed SOPNUMBE so a retry finds the document, nothing was posted",
        ));
    }
    Ok(n)
}

/// A return's number: the command's own when it differs from the sale's, else the sale's
/// number with R and a short hash of the command (several refunds per order stay apart).
fn refund_number(cmd: &Command, original: &str) -> Result<String, GpError> {
    let own = document_number(cmd)?;
    if !original.is_empty() && own != original {
        return Ok(own);
    }
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(cmd.command_id.as_bytes()))
    };
    let head: String = own.chars().take(14).collect();
    Ok(format!("{head}R{}", &digest[..6].to_uppercase()))
}
