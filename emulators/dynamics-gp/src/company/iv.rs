//! IVInventoryTransactionType: an inventory adjustment (IVDOCTYP 1) or variance (2), lines
//! then header. The document number must be new (an empty one takes the next number); items
//! must exist and keep quantities, sites must exist; with OverrideQty=0 a decrease may not
//! take more than the site has available. The document waits in its batch; posting
//! (`post_batch`, or `auto_post`) moves each line's TRXQTY into on-hand at TRXLOCTN.

use rust_decimal::Decimal;

use crate::fault::{Fault, FaultKind};
use crate::schema::{Node, Txn};

use super::masters::view;
use super::{key, parse_date, Assignment, Batch, Company, Ctx, IvDocument, IvLine};

const HDR: &str = "taIVTransactionHeaderInsert";

impl Company {
    pub(super) fn iv_transaction(
        &mut self,
        txn: &Txn,
        ctx: &Ctx,
    ) -> Result<Vec<Assignment>, Fault> {
        let e = ctx.errors();
        let mut header = None;
        let mut lines: Vec<&Node> = Vec::new();
        for node in &txn.nodes {
            match node.name.as_str() {
                HDR => header = Some(node),
                "taIVTransactionLineInsert" => lines.push(node),
                // An item riding in the document is created (or updated) first.
                "taUpdateCreateItemRcd" => {
                    self.master_node(node, ctx)?;
                }
                "eConnectProcessInfo" | "taRequesterTrxDisabler" => {}
                other => {
                    return Err(Fault::plain(
                        FaultKind::Unsupported,
                        format!("The node {other} is not supported by this emulator."),
                    ))
                }
            }
        }
        // The schema requires the header; this is only reached without one if it was nil.
        let Some(header_node) = header else {
            return Ok(Vec::new());
        };
        let h = view(header_node)?;
        let batch = h.str("BACHNUMB");
        if batch.is_empty() {
            return Err(h.fault(e.missing_value, "A batch number (BACHNUMB) is required"));
        }
        let doctype = match h.int("IVDOCTYP") {
            t @ (1 | 2) => t as i16,
            t => {
                return Err(h.fault(
                    e.invalid_value,
                    format!("IVDOCTYP {t} must be 1 (adjustment) or 2 (variance)"),
                ))
            }
        };
        if parse_date(&h.str("DOCDATE")).is_none() {
            return Err(h.fault(
                e.invalid_value,
                format!("DOCDATE {} is not a valid date", h.str("DOCDATE")),
            ));
        }
        let mut assignments = Vec::new();
        let number = match h.opt("IVDOCNBR") {
            Some(n) => n,
            None => {
                let n = self.next_iv_number();
                assignments.push(Assignment {
                    txn_index: header_node.txn_index,
                    field: "IVDOCNBR".into(),
                    value: n.clone(),
                });
                n
            }
        };
        if self.iv.contains_key(&key(&number)) {
            return Err(h.fault(
                e.duplicate_adjustment,
                format!("Document number {number} already exists"),
            ));
        }
        if lines.is_empty() {
            return Err(h.fault(
                e.missing_value,
                "An inventory transaction needs at least one line (taIVTransactionLineInsert)",
            ));
        }
        let mut stored = Vec::with_capacity(lines.len());
        // What this document has taken from each (item, site) so far.
        let mut taken: Vec<((String, String), Decimal)> = Vec::new();
        for (i, node) in lines.iter().enumerate() {
            let v = view(node)?;
            if v.opt("IVDOCNBR").is_some_and(|n| key(&n) != key(&number))
                || v.int("IVDOCTYP") != i64::from(doctype)
            {
                return Err(v.fault(
                    e.line_header_mismatch,
                    format!("IVDOCNBR and IVDOCTYP must match the document header ({number}, {doctype})"),
                ));
            }
            let item_number = v.str("ITEMNMBR");
            let Some(item) = self.items.get(&key(&item_number)) else {
                return Err(v.fault(
                    e.unknown_item,
                    format!("Item number {item_number} does not exist"),
                ));
            };
            if !item.tracks_quantity() {
                return Err(v.fault(
                    e.invalid_value,
                    format!("Item {item_number} is not an inventory item and keeps no quantities"),
                ));
            }
            let site = v.str("TRXLOCTN");
            if site.is_empty() {
                return Err(v.fault(e.missing_value, "A site (TRXLOCTN) is required"));
            }
            if !self.has_site(&site) {
                return Err(v.fault(e.unknown_site, format!("Site ID {site} does not exist")));
            }
            let quantity = v.dec("TRXQTY");
            if quantity.is_zero() {
                return Err(v.fault(e.invalid_value, "TRXQTY must not be zero"));
            }
            if v.opt("UNITCOST")
                .is_some_and(|_| v.dec("UNITCOST") < Decimal::ZERO)
            {
                return Err(v.fault(e.invalid_value, "UNITCOST cannot be negative"));
            }
            if quantity < Decimal::ZERO && v.int("OverrideQty") == 0 {
                let slot = (key(&item_number), key(&site));
                let before = taken
                    .iter()
                    .find(|(k, _)| *k == slot)
                    .map(|(_, q)| *q)
                    .unwrap_or_default();
                let available = item
                    .sites
                    .get(&key(&site))
                    .map(|q| q.available())
                    .unwrap_or_default();
                if before - quantity > available {
                    return Err(v.fault(
                        e.quantity_shortage,
                        format!(
                            "The quantity to remove ({}) is more than the {} available at site {site}",
                            -quantity,
                            available.normalize()
                        ),
                    ));
                }
                match taken.iter_mut().find(|(k, _)| *k == slot) {
                    Some((_, q)) => *q -= quantity,
                    None => taken.push((slot, -quantity)),
                }
            }
            let mut values = v.full_values();
            values.insert("IVDOCNBR".into(), number.clone());
            stored.push(IvLine {
                item: item_number,
                site,
                quantity,
                sequence: i as i64 + 1,
                values,
            });
        }
        let mut header_values = h.full_values();
        header_values.insert("IVDOCNBR".into(), number.clone());
        let entry = self.batches.entry(key(&batch)).or_insert_with(|| Batch {
            series: "Inventory".into(),
            documents: 0,
            total: "0".into(),
        });
        entry.documents += 1;
        let sum: Decimal = entry.total.parse().unwrap_or_default();
        let moved: Decimal = stored.iter().map(|l| l.quantity).sum();
        entry.total = (sum + moved).normalize().to_string();
        self.iv.insert(
            key(&number),
            IvDocument {
                doctype,
                number: number.clone(),
                batch,
                header: header_values,
                lines: stored,
                posted: false,
            },
        );
        self.counters.iv_documents += 1;
        if ctx.validation().auto_post {
            self.post_iv(&key(&number));
        }
        Ok(assignments)
    }

    /// The next free automatic IVDOCNBR.
    fn next_iv_number(&mut self) -> String {
        loop {
            let candidate = format!("IVADJ{:09}", self.next_iv);
            self.next_iv += 1;
            if !self.iv.contains_key(&key(&candidate)) {
                return candidate;
            }
        }
    }

    /// Posts an inventory document: each line's quantity moves into on-hand at its site.
    pub fn post_iv(&mut self, number: &str) {
        let Some(doc) = self.iv.get(number).cloned() else {
            return;
        };
        if doc.posted {
            return;
        }
        for line in &doc.lines {
            if let Some(item) = self.items.get_mut(&key(&line.item)) {
                item.sites.entry(key(&line.site)).or_default().on_hand += line.quantity;
            }
        }
        if let Some(d) = self.iv.get_mut(number) {
            d.posted = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HDR;

    #[test]
    fn the_header_node_is_the_schema_name() {
        let s = crate::schema::schema();
        assert!(s.nodes.contains_key(HDR));
        let iv = &s.txns["IVInventoryTransactionType"];
        let line = iv
            .iter()
            .position(|c| c.name == "taIVTransactionLineInsert_Items");
        let header = iv.iter().position(|c| c.name == HDR);
        assert!(line < header);
        assert!(iv.iter().any(|c| c.name == HDR && c.required));
    }
}
