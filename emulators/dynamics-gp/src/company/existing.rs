//! What happens to an unposted SOP document after it was entered: payments added later
//! (`taCreateSopPaymentInsertRecord` without the header, setting
//! `payments_on_existing_documents`), and what a person does in Sales Transaction Entry: edit
//! a line's quantity or price, delete the document. Posted documents are history in GP: none
//! of these apply to them.

use rust_decimal::Decimal;

use crate::fault::Fault;
use crate::schema::Node;

use super::masters::view;
use super::{key, round2, Company, Ctx, SopDocument};

const PAYMENT: &str = "taCreateSopPaymentInsertRecord";

/// A money column as GP shows it (2 decimals).
fn money(d: Decimal) -> String {
    format!("{:.2}", round2(d))
}

fn header_money(doc: &SopDocument, field: &str) -> Decimal {
    doc.header
        .get(field)
        .and_then(|v| v.trim().parse().ok())
        .map(round2)
        .unwrap_or_default()
}

impl Company {
    /// Payments (Action 1) for existing unposted documents: each names its document by
    /// SOPTYPE and SOPNUMBE, with the document's customer; Action 1 always adds (a DOCNUMBR
    /// already on it only refused by setting); the payments may not exceed DOCAMNT; PYMTRCVD
    /// goes up by them. All or nothing (the caller works on a copy).
    pub(super) fn add_payments(&mut self, nodes: &[&Node], ctx: &Ctx) -> Result<(), Fault> {
        let e = ctx.errors();
        for node in nodes {
            let v = view(node)?;
            let soptype = i16::try_from(v.int("SOPTYPE")).unwrap_or(0);
            let number = v.str("SOPNUMBE");
            let k = (soptype, key(&number));
            let Some(doc) = self.sop.get(&k).cloned() else {
                return Err(v.fault(
                    e.unknown_document,
                    format!("SOP document {number} (type {soptype}) does not exist"),
                ));
            };
            if doc.posted {
                return Err(v.fault(
                    e.posted_document,
                    format!("SOP document {number} is posted and cannot be changed"),
                ));
            }
            let customer = doc.header.get("CUSTNMBR").cloned().unwrap_or_default();
            let mut added = self.sop_payments(&[*node], soptype, &doc.number, &customer, ctx)?;
            let Some((values, amount)) = added.pop() else {
                continue;
            };
            let docnumbr = values.get("DOCNUMBR").map(|d| key(d)).unwrap_or_default();
            if ctx.validation().refuse_duplicate_payment_numbers
                && !docnumbr.is_empty()
                && doc
                    .payments
                    .iter()
                    .any(|p| p.get("DOCNUMBR").is_some_and(|d| key(d) == docnumbr))
            {
                return Err(Fault::procedure(
                    e.duplicate_payment,
                    PAYMENT,
                    format!("Payment {docnumbr} already exists on SOP document {number}"),
                    &node.values,
                ));
            }
            let received = header_money(&doc, "PYMTRCVD") + amount;
            let document = header_money(&doc, "DOCAMNT");
            if received > document {
                return Err(v.fault(
                    e.payment_exceeds_document,
                    format!("Payments of {received} exceed the document amount {document}"),
                ));
            }
            if let Some(d) = self.sop.get_mut(&k) {
                d.payments.push(values);
                d.header.insert("PYMTRCVD".into(), money(received));
            }
        }
        Ok(())
    }

    /// The unposted document a person works on; `posted` says what GP does with a posted one.
    fn unposted(
        &self,
        soptype: i16,
        number: &str,
        posted: &str,
    ) -> Result<((i16, String), SopDocument), String> {
        let k = (soptype, key(number));
        let doc = self
            .sop
            .get(&k)
            .cloned()
            .ok_or_else(|| format!("SOP document {number} (type {soptype}) does not exist"))?;
        if doc.posted {
            return Err(format!("SOP document {number} is posted; GP {posted}"));
        }
        Ok((k, doc))
    }

    /// A person changes a line's quantity and unit price in Sales Transaction Entry: GP
    /// recomputes the extended price, SUBTOTAL and DOCAMNT (the line's tax stays as it was:
    /// this emulator does not calculate tax) and moves the allocation by the change.
    pub fn edit_sop_line(
        &mut self,
        soptype: i16,
        number: &str,
        sequence: i64,
        quantity: Decimal,
        unit_price: Decimal,
    ) -> Result<(), String> {
        let (k, mut doc) = self.unposted(soptype, number, "keeps posted documents as they are")?;
        if quantity <= Decimal::ZERO || unit_price < Decimal::ZERO {
            return Err("the quantity must be positive and the price not negative".into());
        }
        let line = doc
            .lines
            .iter_mut()
            .find(|l| l.sequence == sequence)
            .ok_or_else(|| format!("SOP document {number} has no line {sequence}"))?;
        let change = quantity - line.quantity;
        if line.inventory && matches!(soptype, 2 | 3) && !change.is_zero() {
            let site = self
                .items
                .get_mut(&key(&line.item))
                .map(|i| i.sites.entry(key(&line.site)).or_default())
                .ok_or_else(|| format!("item {} does not exist", line.item))?;
            if change > site.available() {
                return Err(format!(
                    "not enough {} at {} for {quantity}",
                    line.item, line.site
                ));
            }
            site.allocated += change;
            line.fulfilled += change;
        }
        line.quantity = quantity;
        line.extended = round2(quantity * unit_price);
        line.values
            .insert("QUANTITY".into(), quantity.normalize().to_string());
        line.values
            .insert("UNITPRCE".into(), unit_price.normalize().to_string());
        line.values.insert("XTNDPRCE".into(), money(line.extended));
        let old = header_money(&doc, "DOCAMNT");
        let subtotal: Decimal = doc.lines.iter().map(|l| l.extended).sum();
        let amount = subtotal - header_money(&doc, "TRDISAMT")
            + header_money(&doc, "FREIGHT")
            + header_money(&doc, "MISCAMNT")
            + header_money(&doc, "TAXAMNT")
            + header_money(&doc, "FRTTXAMT")
            + header_money(&doc, "MSCTXAMT");
        if amount < header_money(&doc, "PYMTRCVD") || subtotal < header_money(&doc, "TRDISAMT") {
            return Err(format!(
                "SOP document {number} would come to {amount}, below what was received or discounted"
            ));
        }
        doc.header.insert("SUBTOTAL".into(), money(subtotal));
        doc.header.insert("DOCAMNT".into(), money(amount));
        if let Some(b) = self.batches.get_mut(&key(&doc.batch)) {
            let total: Decimal = b.total.parse().unwrap_or_default();
            b.total = (total - old + amount).normalize().to_string();
        }
        self.sop.insert(k, doc);
        Ok(())
    }

    /// A person deletes an unposted document in Sales Transaction Entry: its allocation is
    /// released and its number is free again. A posted document cannot be deleted.
    pub fn delete_sop(&mut self, soptype: i16, number: &str) -> Result<(), String> {
        let (k, doc) = self.unposted(
            soptype,
            number,
            "cannot delete posted documents (void or return them)",
        )?;
        self.release(&doc);
        self.sop.remove(&k);
        if let Some(b) = self.batches.get_mut(&key(&doc.batch)) {
            let total: Decimal = b.total.parse().unwrap_or_default();
            b.total = (total - header_money(&doc, "DOCAMNT"))
                .normalize()
                .to_string();
            b.documents = b.documents.saturating_sub(1);
        }
        Ok(())
    }
}
