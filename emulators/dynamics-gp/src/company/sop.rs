//! SOPTransactionType: lines, tracking numbers, detailed taxes and payments, then the
//! header with eConnect's checks: header/line agreement (error 67), duplicate numbers,
//! setup IDs, stock and back orders (4776), and the totals identity of errata 1.

use rust_decimal::Decimal;

use crate::fault::{Fault, FaultKind};
use crate::schema::{Node, Txn};

use super::masters::view;
use super::{key, parse_date, round2, Assignment, Batch, Company, Ctx, SopDocument, SopLine, View};

const HDR: &str = "taSopHdrIvcInsert";
const LINE_SEQUENCE_STEP: i64 = 16384;

/// Nodes of the served SOP subset; any other node in the document is refused.
const IGNORED: [&str; 2] = ["eConnectProcessInfo", "taRequesterTrxDisabler"];

fn unsupported(name: &str) -> Fault {
    Fault::plain(
        FaultKind::Unsupported,
        format!("The node {name} is not supported by this emulator."),
    )
}

struct Parts<'a> {
    header: Option<&'a Node>,
    lines: Vec<&'a Node>,
    taxes: Vec<&'a Node>,
    payments: Vec<&'a Node>,
    tracking: Vec<&'a Node>,
}

impl Company {
    pub(super) fn sop_transaction(
        &mut self,
        txn: &Txn,
        ctx: &Ctx,
    ) -> Result<Vec<Assignment>, Fault> {
        let mut parts = Parts {
            header: None,
            lines: Vec::new(),
            taxes: Vec::new(),
            payments: Vec::new(),
            tracking: Vec::new(),
        };
        // Customer and item nodes riding in the document are processed first, in order.
        for node in &txn.nodes {
            match node.name.as_str() {
                "taSopHdrIvcInsert" => parts.header = Some(node),
                "taSopLineIvcInsert" => parts.lines.push(node),
                "taSopLineIvcTaxInsert" => parts.taxes.push(node),
                "taCreateSopPaymentInsertRecord" => parts.payments.push(node),
                "taSopTrackingNum" => parts.tracking.push(node),
                "taUpdateCreateItemRcd"
                | "taUpdateCreateCustomerRcd"
                | "taCreateCustomerAddress" => {
                    self.master_node(node, ctx)?;
                }
                n if IGNORED.contains(&n) => {}
                n => return Err(unsupported(n)),
            }
        }
        let Some(header_node) = parts.header else {
            if parts.lines.is_empty() && parts.taxes.is_empty() && parts.payments.is_empty() {
                return Ok(Vec::new());
            }
            if parts.lines.is_empty()
                && parts.taxes.is_empty()
                && parts.tracking.is_empty()
                && ctx.validation().payments_on_existing_documents
            {
                self.add_payments(&parts.payments, ctx)?;
                return Ok(Vec::new());
            }
            let first = parts
                .lines
                .first()
                .or(parts.payments.first())
                .or(parts.taxes.first());
            let values = first.map(|n| n.values.clone()).unwrap_or_default();
            return Err(Fault::procedure(
                ctx.errors().missing_value,
                HDR,
                "The document has no header (taSopHdrIvcInsert)",
                &values,
            ));
        };
        let h = view(header_node)?;
        let soptype = i16::try_from(h.int("SOPTYPE")).unwrap_or(0);
        if !(1..=4).contains(&soptype) {
            return Err(h.fault(
                ctx.errors().invalid_value,
                format!(
                    "SOPTYPE {soptype} is not supported (1 quote, 2 order, 3 invoice, 4 return)"
                ),
            ));
        }
        let docid = h.str("DOCID");
        if !self
            .config
            .doc_ids
            .iter()
            .any(|d| d.soptype == soptype && key(&d.docid) == key(&docid))
        {
            return Err(h.fault(
                ctx.errors().unknown_doc_id,
                format!("Document ID {docid} does not exist for SOP type {soptype}"),
            ));
        }
        // Auto-numbering: an empty SOPNUMBE takes the DOCID's next number everywhere.
        let mut assignments = Vec::new();
        let number = match h.opt("SOPNUMBE") {
            Some(n) => n,
            None => {
                let n = self.next_sop_number(soptype, &docid).ok_or_else(|| {
                    h.fault(
                        ctx.errors().unknown_doc_id,
                        format!("Document ID {docid} has no numbering"),
                    )
                })?;
                assignments.push(Assignment {
                    txn_index: header_node.txn_index,
                    field: "SOPNUMBE".into(),
                    value: n.clone(),
                });
                n
            }
        };
        let doc_key = (soptype, key(&number));
        if let Some(existing) = self.sop.get(&doc_key).cloned() {
            if existing.posted {
                return Err(h.fault(
                    ctx.errors().posted_document,
                    format!("SOP document {number} is posted and cannot be changed"),
                ));
            }
            if h.int("UpdateExisting") != 1 || !ctx.validation().allow_update_existing {
                return Err(h.fault(
                    ctx.errors().duplicate_document,
                    format!("SOP number {number} already exists"),
                ));
            }
            self.release(&existing);
            self.sop.remove(&doc_key);
        }
        let customer_number = h.str("CUSTNMBR");
        let lines = parts
            .lines
            .iter()
            .enumerate()
            .map(|(i, n)| self.sop_line(n, i, &h, soptype, &number, ctx))
            .collect::<Result<Vec<_>, _>>()?;
        let tracking = parts
            .tracking
            .iter()
            .map(|n| {
                let v = view(n)?;
                Self::same_document(&v, soptype, &number, None, ctx)?;
                Ok(v.str("Tracking_Number"))
            })
            .collect::<Result<Vec<_>, Fault>>()?;
        let taxes = self.sop_taxes(&parts.taxes, &h, &lines, soptype, &number, ctx)?;
        let payments =
            self.sop_payments(&parts.payments, soptype, &number, &customer_number, ctx)?;
        let header_values = self.sop_header(&h, &lines, &payments, ctx)?;
        let batch = h.str("BACHNUMB");
        let total = round2(h.dec("DOCAMNT"));
        let entry = self.batches.entry(key(&batch)).or_insert_with(|| Batch {
            series: "Sales".into(),
            documents: 0,
            total: "0".into(),
        });
        entry.documents += 1;
        let sum: Decimal = entry.total.parse().unwrap_or_default();
        entry.total = (sum + total).normalize().to_string();
        let mut header_values = header_values;
        header_values.insert("SOPNUMBE".into(), number.clone());
        self.sop.insert(
            doc_key.clone(),
            SopDocument {
                soptype,
                number: number.clone(),
                batch,
                header: header_values,
                lines,
                taxes,
                payments: payments.iter().map(|(v, _)| v.clone()).collect(),
                tracking,
                posted: false,
            },
        );
        self.counters.sop_documents += 1;
        if ctx.validation().auto_post && matches!(soptype, 3 | 4) {
            self.post_document(&doc_key);
        }
        Ok(assignments)
    }

    /// SOPTYPE, SOPNUMBE (empty = the assigned number) and CUSTNMBR agree with the header.
    fn same_document(
        v: &View,
        soptype: i16,
        number: &str,
        customer: Option<&str>,
        ctx: &Ctx,
    ) -> Result<(), Fault> {
        if v.int("SOPTYPE") != i64::from(soptype) {
            // eConnect reports a header/line type mismatch as the subtotal error.
            return Err(Fault::procedure(
                ctx.errors().subtotal_mismatch,
                HDR,
                "Subtotal does not match the line item totals",
                &v.node.values,
            ));
        }
        if v.opt("SOPNUMBE").is_some_and(|n| key(&n) != key(number)) {
            return Err(v.fault(
                ctx.errors().line_header_mismatch,
                format!("SOPNUMBE does not match the document number {number}"),
            ));
        }
        if let Some(c) = customer {
            if v.opt("CUSTNMBR").is_some_and(|n| key(&n) != key(c)) {
                return Err(v.fault(
                    ctx.errors().line_header_mismatch,
                    format!("CUSTNMBR does not match the document customer {c}"),
                ));
            }
        }
        Ok(())
    }

    fn sop_line(
        &mut self,
        node: &Node,
        index: usize,
        h: &View,
        soptype: i16,
        number: &str,
        ctx: &Ctx,
    ) -> Result<SopLine, Fault> {
        let v = view(node)?;
        let e = ctx.errors();
        let customer = h.str("CUSTNMBR");
        Self::same_document(&v, soptype, number, Some(&customer), ctx)?;
        if parse_date(&v.str("DOCDATE")).is_none() {
            return Err(v.fault(
                e.invalid_value,
                format!("DOCDATE {} is not a valid date", v.str("DOCDATE")),
            ));
        }
        if !self.customers.contains_key(&key(&v.str("CUSTNMBR"))) {
            return Err(v.fault(
                e.unknown_customer,
                format!("Customer {} does not exist", v.str("CUSTNMBR")),
            ));
        }
        let item_number = v.str("ITEMNMBR");
        let non_inventory = v.int("NONINVEN") == 1;
        let item = self.items.get(&key(&item_number)).cloned();
        if item.is_none() && !non_inventory {
            return Err(v.fault(e.unknown_item, format!("Item {item_number} does not exist")));
        }
        let site = v
            .opt("LOCNCODE")
            .or_else(|| h.opt("LOCNCODE"))
            .or_else(|| {
                item.as_ref()
                    .and_then(|i| i.values.get("LOCNCODE").cloned())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| self.config.default_site.clone());
        if !self.has_site(&site) {
            return Err(v.fault(e.unknown_site, format!("Site ID {site} does not exist")));
        }
        let quantity = v.dec("QUANTITY");
        if quantity <= Decimal::ZERO {
            return Err(v.fault(e.invalid_value, "QUANTITY must be greater than zero"));
        }
        if v.dec("MRKDNPCT") != Decimal::ZERO && h.int("DEFPRICING") != 1 {
            return Err(v.fault(
                e.subtotal_mismatch,
                "Subtotal does not match the line item totals",
            ));
        }
        if v.dec("UNITPRCE") < Decimal::ZERO || v.dec("TAXAMNT") < Decimal::ZERO {
            return Err(v.fault(e.invalid_value, "Prices and taxes cannot be negative"));
        }
        let expected = round2((v.dec("UNITPRCE") - v.dec("MRKDNAMT")) * quantity);
        let extended = if v.sent("XTNDPRCE") {
            round2(v.dec("XTNDPRCE"))
        } else {
            expected
        };
        if ctx.validation().check_extended_price && extended != expected {
            return Err(v.fault(
                e.extended_price_mismatch,
                format!(
                    "Extended price {extended} does not equal unit price x quantity ({expected})"
                ),
            ));
        }
        let c = &self.config;
        for (field, list) in [
            ("ITMTSHID", &c.tax_schedules),
            ("TAXSCHID", &c.tax_schedules),
            ("SHIPMTHD", &c.shipping_methods),
            ("PRCLEVEL", &c.price_levels),
        ] {
            if let Some(value) = v.opt(field) {
                if !self.has(list, &value, ctx) {
                    return Err(v.fault(
                        e.unknown_setup_id,
                        format!("{field} {value} does not exist in setup"),
                    ));
                }
            }
        }
        let inventory = !non_inventory && item.as_ref().is_some_and(|i| i.tracks_quantity());
        let (mut fulfilled, mut back_ordered, mut cancelled) =
            (quantity, Decimal::ZERO, Decimal::ZERO);
        if inventory && matches!(soptype, 2 | 3) {
            let allows_back_orders = item.as_ref().is_some_and(|i| i.allows_back_orders());
            let entry = self
                .items
                .get_mut(&key(&item_number))
                .map(|i| *i.sites.entry(key(&site)).or_default())
                .unwrap_or_default();
            let available = entry.available().max(Decimal::ZERO);
            if quantity > available {
                let shortage = quantity - available;
                match v.int("QtyShrtOpt") {
                    5 | 6 => {
                        fulfilled = available;
                        cancelled = shortage;
                    }
                    1 | 2 if ctx.validation().allow_override_shortage => {}
                    _ if allows_back_orders => {
                        fulfilled = available;
                        back_ordered = shortage;
                    }
                    _ => {
                        return Err(v.fault(e.back_order, "Item does not allow back orders"));
                    }
                }
            }
            if let Some(site_qty) = self
                .items
                .get_mut(&key(&item_number))
                .and_then(|i| i.sites.get_mut(&key(&site)))
            {
                site_qty.allocated += fulfilled;
            }
        }
        let sequence = if v.sent("LNITMSEQ") && v.int("LNITMSEQ") != 0 {
            v.int("LNITMSEQ")
        } else {
            LINE_SEQUENCE_STEP * (index as i64 + 1)
        };
        Ok(SopLine {
            values: v.full_values(),
            item: item_number,
            site,
            sequence,
            quantity,
            fulfilled,
            back_ordered,
            cancelled,
            extended,
            tax: round2(v.dec("TAXAMNT")),
            inventory,
        })
    }

    fn sop_taxes(
        &self,
        nodes: &[&Node],
        h: &View,
        lines: &[SopLine],
        soptype: i16,
        number: &str,
        ctx: &Ctx,
    ) -> Result<Vec<super::Values>, Fault> {
        let e = ctx.errors();
        let header_level = h.int("USINGHEADERLEVELTAXES") == 1;
        let mut per_line: std::collections::BTreeMap<i64, Decimal> = Default::default();
        let (mut freight_tax, mut misc_tax, mut header_tax) =
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let mut out = Vec::new();
        for node in nodes {
            let v = view(node)?;
            Self::same_document(&v, soptype, number, Some(&h.str("CUSTNMBR")), ctx)?;
            let detail = v.str("TAXDTLID");
            if !self.has(&self.config.tax_details, &detail, ctx) {
                return Err(v.fault(
                    e.unknown_setup_id,
                    format!("Tax detail {detail} does not exist"),
                ));
            }
            match v.int("TAXTYPE") {
                0 if header_level => {
                    if v.int("LNITMSEQ") != 0 || v.dec("SALESAMT") != Decimal::ZERO {
                        return Err(v.fault(
                            e.invalid_value,
                            "Header-level tax rows need LNITMSEQ 0 and SALESAMT 0",
                        ));
                    }
                    header_tax += round2(v.dec("STAXAMNT"));
                }
                0 => {
                    let seq = v.int("LNITMSEQ");
                    if !lines.iter().any(|l| l.sequence == seq) {
                        return Err(v.fault(e.invalid_value, format!("No line has LNITMSEQ {seq}")));
                    }
                    *per_line.entry(seq).or_default() += round2(v.dec("STAXAMNT"));
                }
                1 => freight_tax += round2(v.dec("FRTTXAMT")),
                2 => misc_tax += round2(v.dec("MSCTXAMT")),
                t => return Err(v.fault(e.invalid_value, format!("TAXTYPE {t} must be 0, 1 or 2"))),
            }
            out.push(v.full_values());
        }
        if nodes.is_empty() || !ctx.validation().check_tax_details {
            return Ok(out);
        }
        let mismatch = |what: String| {
            Fault::procedure(
                e.tax_mismatch,
                "taSopLineIvcTaxInsert",
                what,
                &h.node.values,
            )
        };
        if header_level {
            if header_tax != round2(h.dec("TAXAMNT")) {
                return Err(mismatch(format!(
                    "Tax detail total {header_tax} does not equal the document tax {}",
                    round2(h.dec("TAXAMNT"))
                )));
            }
        } else {
            for line in lines {
                let detail = per_line.get(&line.sequence).copied().unwrap_or_default();
                if detail != line.tax {
                    return Err(mismatch(format!(
                        "Tax details of line {} total {detail}, the line tax is {}",
                        line.sequence, line.tax
                    )));
                }
            }
        }
        if freight_tax != round2(h.dec("FRTTXAMT")) {
            return Err(mismatch(format!(
                "Freight tax details total {freight_tax}, FRTTXAMT is {}",
                round2(h.dec("FRTTXAMT"))
            )));
        }
        if misc_tax != round2(h.dec("MSCTXAMT")) {
            return Err(mismatch(format!(
                "Miscellaneous tax details total {misc_tax}, MSCTXAMT is {}",
                round2(h.dec("MSCTXAMT"))
            )));
        }
        Ok(out)
    }

    pub(super) fn sop_payments(
        &self,
        nodes: &[&Node],
        soptype: i16,
        number: &str,
        customer: &str,
        ctx: &Ctx,
    ) -> Result<Vec<(super::Values, Decimal)>, Fault> {
        let e = ctx.errors();
        let mut out = Vec::new();
        for node in nodes {
            let v = view(node)?;
            Self::same_document(&v, soptype, number, Some(customer), ctx)?;
            if soptype == 1 {
                return Err(v.fault(e.invalid_value, "Quotes cannot take payments"));
            }
            if v.int("Action") != 1 {
                return Err(v.fault(
                    e.invalid_value,
                    "Only Action 1 (new payment) is possible while the document is created",
                ));
            }
            let kind = v.int("PYMTTYPE");
            if !(1..=6).contains(&kind) {
                return Err(v.fault(e.invalid_value, format!("PYMTTYPE {kind} must be 1 to 6")));
            }
            if ctx.validation().enforce_payment_type_split {
                let deposit = kind <= 3;
                if deposit && soptype != 2 || !deposit && soptype == 2 {
                    return Err(v.fault(
                        e.invalid_value,
                        format!("Payment type {kind} does not apply to SOP type {soptype} (deposits go on orders, payments on invoices)"),
                    ));
                }
            }
            let amount = round2(v.dec("DOCAMNT"));
            if amount <= Decimal::ZERO {
                return Err(v.fault(e.missing_value, "DOCAMNT must be greater than zero"));
            }
            if matches!(kind, 3 | 6) {
                let card = v.str("CARDNAME");
                if card.is_empty() || !self.has(&self.config.card_names, &card, ctx) {
                    return Err(v.fault(
                        e.unknown_setup_id,
                        format!("Credit card ID {card} does not exist"),
                    ));
                }
            }
            if let Some(checkbook) = v.opt("CHEKBKID") {
                if !self.has(&self.config.checkbooks, &checkbook, ctx) {
                    return Err(v.fault(
                        e.unknown_setup_id,
                        format!("Checkbook ID {checkbook} does not exist"),
                    ));
                }
            }
            let mut values = v.full_values();
            values.insert("SOPNUMBE".into(), number.to_string());
            out.push((values, amount));
        }
        Ok(out)
    }

    /// The header checks, in the order the procedure runs them.
    fn sop_header(
        &self,
        h: &View,
        lines: &[SopLine],
        payments: &[(super::Values, Decimal)],
        ctx: &Ctx,
    ) -> Result<super::Values, Fault> {
        let e = ctx.errors();
        let v = ctx.validation();
        let customer_number = h.str("CUSTNMBR");
        let Some(customer) = self.customers.get(&key(&customer_number)) else {
            return Err(h.fault(
                e.unknown_customer,
                format!("Customer {customer_number} does not exist"),
            ));
        };
        if customer.values.get("INACTIVE").map(String::as_str) == Some("1") {
            return Err(h.fault(
                e.invalid_value,
                format!("Customer {customer_number} is inactive"),
            ));
        }
        if customer.primary_address().is_none() {
            return Err(h.fault(
                e.missing_value,
                format!("Customer {customer_number} has no address ID"),
            ));
        }
        if h.str("BACHNUMB").is_empty() {
            return Err(h.fault(e.missing_value, "A batch number (BACHNUMB) is required"));
        }
        for date in [
            "DOCDATE",
            "DUEDATE",
            "ORDRDATE",
            "INVODATE",
            "QUOTEDAT",
            "QUOEXPDA",
            "ReqShipDate",
        ] {
            if let Some(d) = h.opt(date) {
                if parse_date(&d).is_none() {
                    return Err(h.fault(e.invalid_value, format!("{date} {d} is not a valid date")));
                }
            }
        }
        if let Some(site) = h.opt("LOCNCODE") {
            if !self.has_site(&site) {
                return Err(h.fault(e.unknown_site, format!("Site ID {site} does not exist")));
            }
        }
        let c = &self.config;
        for (field, list) in [
            ("TAXSCHID", &c.tax_schedules),
            ("FRTSCHID", &c.tax_schedules),
            ("MSCSCHID", &c.tax_schedules),
            ("SHIPMTHD", &c.shipping_methods),
            ("PYMTRMID", &c.payment_terms),
            ("CURNCYID", &c.currencies),
            ("PRCLEVEL", &c.price_levels),
        ] {
            if let Some(value) = h.opt(field) {
                if !self.has(list, &value, ctx) {
                    return Err(h.fault(
                        e.unknown_setup_id,
                        format!("{field} {value} does not exist in setup"),
                    ));
                }
            }
        }
        for address in ["PRSTADCD", "PRBTADCD"] {
            if let Some(code) = h.opt(address) {
                if !customer.addresses.contains_key(&key(&code)) {
                    return Err(h.fault(
                        e.invalid_value,
                        format!("Address ID {code} does not exist for customer {customer_number}"),
                    ));
                }
            }
        }
        if h.int("CREATETAXES") == 1 {
            return Err(Fault::plain(
                FaultKind::Unsupported,
                "CREATETAXES=1 (tax calculated by GP) is not supported by this emulator; send the taxes",
            ));
        }
        for money in [
            "SUBTOTAL", "TRDISAMT", "FREIGHT", "MISCAMNT", "TAXAMNT", "FRTTXAMT", "MSCTXAMT",
            "DOCAMNT", "PYMTRCVD",
        ] {
            if h.dec(money) < Decimal::ZERO {
                return Err(h.fault(e.invalid_value, format!("{money} cannot be negative")));
            }
        }
        let line_total: Decimal = lines.iter().map(|l| l.extended).sum();
        let subtotal = round2(h.dec("SUBTOTAL"));
        if subtotal != line_total {
            return Err(h.fault(
                e.subtotal_mismatch,
                "Subtotal does not match the line item totals",
            ));
        }
        let tax = round2(h.dec("TAXAMNT"));
        if h.int("USINGHEADERLEVELTAXES") != 1 {
            let line_tax: Decimal = lines.iter().map(|l| l.tax).sum();
            if tax != line_tax {
                return Err(h.fault(
                    e.tax_mismatch,
                    format!("TAXAMNT {tax} does not equal the line taxes {line_tax} (freight and misc tax go in FRTTXAMT/MSCTXAMT)"),
                ));
            }
        }
        let trade = round2(h.dec("TRDISAMT"));
        if trade > subtotal {
            return Err(h.fault(e.invalid_value, "The trade discount exceeds the subtotal"));
        }
        let expected = subtotal - trade
            + round2(h.dec("FREIGHT"))
            + round2(h.dec("MISCAMNT"))
            + tax
            + round2(h.dec("FRTTXAMT"))
            + round2(h.dec("MSCTXAMT"));
        let document = round2(h.dec("DOCAMNT"));
        if v.check_document_amount && document != expected {
            return Err(h.fault(
                e.document_amount_mismatch,
                format!("DOCAMNT {document} does not equal SUBTOTAL - TRDISAMT + FREIGHT + MISCAMNT + TAXAMNT + FRTTXAMT + MSCTXAMT ({expected})"),
            ));
        }
        let paid: Decimal = payments.iter().map(|(_, a)| *a).sum();
        if paid > document {
            return Err(h.fault(
                e.payment_exceeds_document,
                format!("Payments of {paid} exceed the document amount {document}"),
            ));
        }
        let received = round2(h.dec("PYMTRCVD"));
        if v.check_payment_received && received != paid {
            return Err(h.fault(
                e.payment_received_mismatch,
                format!("PYMTRCVD {received} does not equal the payments sent ({paid})"),
            ));
        }
        Ok(h.full_values())
    }
}
