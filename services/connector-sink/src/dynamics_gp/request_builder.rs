//! Command → eConnect nodes (pure: customer number, item numbers and set-up IDs resolved).
//!
//! A sale is one `SOPTransactionType`: product lines as `taSopLineIvcInsert` (XTNDPRCE =
//! the net amount, a unit price that multiplies to it, the line's tax in TAXAMNT), shipping
//! as FREIGHT with its tax in FRTTXAMT, fees and rounding as MISCAMNT with MSCTXAMT,
//! discounts, gift cards and reward points as TRDISAMT, tax details per line when every
//! taxed part has a tax detail ID, payments as `taCreateSopPaymentInsertRecord`, and the
//! header with the errata-1 arithmetic: TAXAMNT is the line tax only and
//! DOCAMNT = SUBTOTAL − TRDISAMT + FREIGHT + MISCAMNT + TAXAMNT + FRTTXAMT + MSCTXAMT,
//! which must be the command's total before anything is sent.
use super::{
    encoder::{self, Fitter},
    service::GpError,
    xml::Node,
};
use nopbridge_proto::commands::v1::{DocumentLine, LineKind, PostalAddress};

/// GP's line sequence step (LNITMSEQ 16384, 32768, …).
pub const LINE_STEP: i64 = 16384;

/// One payment recorded with the document.
#[derive(Debug, Clone)]
pub struct PaymentPlan {
    /// PYMTTYPE: 4 cash, 5 check, 6 credit card payment (invoices); 1–3 deposits (orders).
    pub kind: i16,
    pub card: Option<String>,
    pub checkbook: Option<String>,
    pub amount: i64,
    pub reference: String,
}

/// Everything a SOP document needs, resolved.
pub struct SopPlan<'a> {
    pub soptype: i16,
    pub docid: &'a str,
    pub number: &'a str,
    pub customer: &'a str,
    pub customer_name: &'a str,
    pub date: &'a str,
    pub batch: &'a str,
    pub site: &'a str,
    pub currency: &'a str,
    /// CURNCYID and XCHGRATE for a foreign-currency document.
    pub foreign: Option<(String, String)>,
    pub lines: &'a [DocumentLine],
    /// ITEMNMBR per line (product lines only).
    pub items: Vec<Option<String>>,
    /// TAXDTLID per line (None: no detail ID known).
    pub tax_details: Vec<Option<String>>,
    pub payments: Vec<PaymentPlan>,
    pub total: i64,
    pub reference: &'a str,
    pub customer_po: &'a str,
    pub ship_to: Option<&'a PostalAddress>,
    pub tracking: &'a [String],
}

/// The header figures, minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SopTotals {
    pub subtotal: i64,
    pub trade_discount: i64,
    pub freight: i64,
    pub misc: i64,
    pub tax: i64,
    pub freight_tax: i64,
    pub misc_tax: i64,
    pub document: i64,
    pub paid: i64,
}

fn minor(m: Option<&nopbridge_proto::events::v1::Money>) -> i64 {
    m.map(|m| m.minor_units).unwrap_or_default()
}

fn invalid(message: String) -> GpError {
    GpError::invalid("validation", message)
}

/// The nodes of the document (lines, tracking, taxes, payments, header) and its totals.
pub fn sop(plan: &SopPlan<'_>, fit: &mut Fitter) -> Result<(Vec<Node>, SopTotals), GpError> {
    let cur = plan.currency;
    let mut t = SopTotals::default();
    let mut nodes = Vec::new();
    let mut taxes = Vec::new();
    // (line node index, tax) of product lines, to absorb a discount's tax.
    let mut product_lines: Vec<usize> = Vec::new();
    let mut discount_tax = 0i64;
    let (mut freight_detail, mut misc_detail) = (None, None);
    let mut details_complete = true;
    for (i, l) in plan.lines.iter().enumerate() {
        let amount = minor(l.amount.as_ref());
        let tax = minor(l.tax_amount.as_ref());
        let detail = plan.tax_details.get(i).cloned().flatten();
        if tax != 0 && detail.is_none() {
            details_complete = false;
        }
        match l.kind() {
            LineKind::Description => {}
            LineKind::Product | LineKind::Unspecified => {
                if amount < 0 || tax < 0 {
                    return Err(invalid(format!(
                        "line {} is a product with a negative amount or tax; GP takes returns as SOP type 4",
                        l.line_number
                    )));
                }
                let item = plan.items.get(i).cloned().flatten().ok_or_else(|| {
                    GpError::invalid(
                        "reference",
                        format!("line {} has no item number", l.line_number),
                    )
                })?;
                let qty = l.quantity.max(1);
                let price = encoder::unit_price(amount, qty, cur).ok_or_else(|| {
                    invalid(format!(
                        "line {}: no unit price with 5 decimals makes {} for quantity {qty}",
                        l.line_number,
                        encoder::amount(amount, cur)
                    ))
                })?;
                let seq = LINE_STEP * (product_lines.len() as i64 + 1);
                let mut n = Node::new("taSopLineIvcInsert");
                n.set("SOPTYPE", plan.soptype.to_string())
                    .set("SOPNUMBE", plan.number)
                    .set("CUSTNMBR", plan.customer)
                    .set("DOCDATE", plan.date)
                    .set("LOCNCODE", plan.site)
                    .set("ITEMNMBR", item)
                    .set("UNITPRCE", price.to_string())
                    .set("XTNDPRCE", encoder::amount(amount, cur))
                    .set("QUANTITY", qty.to_string())
                    .set("TAXAMNT", encoder::amount(tax, cur))
                    .set("LNITMSEQ", seq.to_string())
                    .set("DOCID", plan.docid);
                if !l.description.is_empty() {
                    n.set("ITEMDESC", fit.text("ITEMDESC", &l.description));
                }
                if let Some(d) = &detail {
                    let mut x = Node::new("taSopLineIvcTaxInsert");
                    x.set("SOPTYPE", plan.soptype.to_string())
                        .set("TAXTYPE", "0")
                        .set("SOPNUMBE", plan.number)
                        .set("CUSTNMBR", plan.customer)
                        .set("LNITMSEQ", seq.to_string())
                        .set("SALESAMT", encoder::amount(amount, cur))
                        .set("TAXDTLID", d.clone())
                        .set("STAXAMNT", encoder::amount(tax, cur));
                    taxes.push(x);
                }
                product_lines.push(nodes.len());
                nodes.push(n);
                t.subtotal += amount;
                t.tax += tax;
            }
            LineKind::Shipping => {
                t.freight += amount;
                t.freight_tax += tax;
                freight_detail = freight_detail.or(detail);
            }
            LineKind::PaymentFee | LineKind::Rounding if amount >= 0 => {
                t.misc += amount;
                t.misc_tax += tax;
                misc_detail = misc_detail.or(detail);
            }
            // Discounts, gift cards, reward points, negative rounding.
            _ => {
                t.trade_discount -= amount;
                discount_tax += tax;
            }
        }
    }
    if plan.tracking.is_empty() && nodes.is_empty() {
        return Err(invalid(
            "the document has no product line; GP needs at least one line item".into(),
        ));
    }
    // A discount's (negative) tax lowers the tax of the most-taxed product line.
    if discount_tax != 0 {
        let (pos, _) = product_lines
            .iter()
            .map(|&p| {
                (
                    p,
                    nodes[p]
                        .get("TAXAMNT")
                        .and_then(|v| v.parse::<rust_decimal::Decimal>().ok())
                        .unwrap_or_default(),
                )
            })
            .max_by_key(|(_, tax)| *tax)
            .ok_or_else(|| invalid("a discount carries tax but there is no product line".into()))?;
        let old = nodes[pos]
            .get("TAXAMNT")
            .and_then(|v| v.parse::<rust_decimal::Decimal>().ok())
            .unwrap_or_default();
        let new = old + encoder::decimal(discount_tax, cur);
        if new < rust_decimal::Decimal::ZERO {
            return Err(invalid(
                "the discount's tax exceeds every line's tax".into(),
            ));
        }
        let seq = nodes[pos].get("LNITMSEQ").unwrap_or_default().to_string();
        nodes[pos].set("TAXAMNT", new.to_string());
        if let Some(x) = taxes
            .iter_mut()
            .find(|x| x.get("LNITMSEQ") == Some(seq.as_str()))
        {
            x.set("STAXAMNT", new.to_string());
        }
        t.tax += discount_tax;
    }
    for (kind, amount, tax, detail, field) in [
        ("1", t.freight, t.freight_tax, &freight_detail, "FRTTXAMT"),
        ("2", t.misc, t.misc_tax, &misc_detail, "MSCTXAMT"),
    ] {
        if tax == 0 {
            continue;
        }
        let Some(d) = detail else { continue };
        let mut x = Node::new("taSopLineIvcTaxInsert");
        x.set("SOPTYPE", plan.soptype.to_string())
            .set("TAXTYPE", kind)
            .set("SOPNUMBE", plan.number)
            .set("CUSTNMBR", plan.customer)
            .set("LNITMSEQ", "0")
            .set(field, encoder::amount(tax, cur))
            .set(
                if kind == "1" { "FREIGHT" } else { "MISCAMNT" },
                encoder::amount(amount, cur),
            )
            .set("TAXDTLID", d.clone());
        taxes.push(x);
    }
    t.document =
        t.subtotal - t.trade_discount + t.freight + t.misc + t.tax + t.freight_tax + t.misc_tax;
    if t.document != plan.total {
        return Err(GpError::invalid(
            "balance",
            format!(
                "the document does not balance: SUBTOTAL {} − TRDISAMT {} + FREIGHT {} + MISCAMNT {} + TAXAMNT {} + FRTTXAMT {} + MSCTXAMT {} = {}, the command's total is {} ({cur}); nothing was posted",
                encoder::amount(t.subtotal, cur),
                encoder::amount(t.trade_discount, cur),
                encoder::amount(t.freight, cur),
                encoder::amount(t.misc, cur),
                encoder::amount(t.tax, cur),
                encoder::amount(t.freight_tax, cur),
                encoder::amount(t.misc_tax, cur),
                encoder::amount(t.document, cur),
                encoder::amount(plan.total, cur),
            ),
        ));
    }
    if t.trade_discount > t.subtotal {
        return Err(invalid("the discounts exceed the lines' subtotal; GP refuses a trade discount above the subtotal".into()));
    }
    for tracking in plan.tracking {
        let mut n = Node::new("taSopTrackingNum");
        n.set("SOPTYPE", plan.soptype.to_string())
            .set("SOPNUMBE", plan.number)
            .set("Tracking_Number", fit.text("Tracking_Number", tracking));
        nodes.push(n);
    }
    // Tax details only when complete: GP reconciles them with every line's tax.
    if details_complete {
        nodes.extend(taxes);
    }
    for (i, p) in plan.payments.iter().enumerate() {
        let mut n = payment(
            plan.soptype,
            plan.number,
            plan.customer,
            plan.date,
            cur,
            p,
            fit,
        );
        n.set("SEQNUMBR", ((i as i64 + 1) * LINE_STEP).to_string());
        nodes.push(n);
        t.paid += p.amount;
    }
    if t.paid > t.document {
        return Err(invalid(format!(
            "the payments {} exceed the document amount {}",
            encoder::amount(t.paid, cur),
            encoder::amount(t.document, cur)
        )));
    }
    let mut h = Node::new("taSopHdrIvcInsert");
    h.set("SOPTYPE", plan.soptype.to_string())
        .set("DOCID", plan.docid)
        .set("SOPNUMBE", plan.number)
        .set("TAXAMNT", encoder::amount(t.tax, cur))
        .set("LOCNCODE", plan.site)
        .set("DOCDATE", plan.date)
        .set("FREIGHT", encoder::amount(t.freight, cur))
        .set("MISCAMNT", encoder::amount(t.misc, cur))
        .set("TRDISAMT", encoder::amount(t.trade_discount, cur))
        .set("CUSTNMBR", plan.customer)
        .set("CUSTNAME", fit.text("CUSTNAME", plan.customer_name))
        .set("SUBTOTAL", encoder::amount(t.subtotal, cur))
        .set("DOCAMNT", encoder::amount(t.document, cur))
        .set("PYMTRCVD", encoder::amount(t.paid, cur))
        .set("BACHNUMB", plan.batch)
        .set("FRTTXAMT", encoder::amount(t.freight_tax, cur))
        .set("MSCTXAMT", encoder::amount(t.misc_tax, cur))
        .set("REFRENCE", fit.text("REFRENCE", plan.reference));
    if !plan.customer_po.is_empty() {
        h.set("CSTPONBR", fit.text("CSTPONBR", plan.customer_po));
    }
    if let Some(a) = plan.ship_to {
        address(&mut h, a, fit, "ShipToName");
    }
    if let Some((id, rate)) = &plan.foreign {
        h.set("CURNCYID", id.clone()).set("XCHGRATE", rate.clone());
    }
    nodes.push(h);
    Ok((nodes, t))
}

/// One payment of a SOP document (Action 1, new): with the document, or added to it later.
pub fn payment(
    soptype: i16,
    number: &str,
    customer: &str,
    date: &str,
    currency: &str,
    p: &PaymentPlan,
    fit: &mut Fitter,
) -> Node {
    let mut n = Node::new("taCreateSopPaymentInsertRecord");
    n.set("SOPTYPE", soptype.to_string())
        .set("SOPNUMBE", number)
        .set("CUSTNMBR", customer)
        .set("DOCDATE", date)
        .set("DOCAMNT", encoder::amount(p.amount, currency))
        .set("PYMTTYPE", p.kind.to_string())
        .set("Action", "1");
    if let Some(c) = &p.checkbook {
        n.set("CHEKBKID", c.clone());
    }
    if let Some(c) = &p.card {
        n.set("CARDNAME", c.clone());
    }
    if !p.reference.is_empty() {
        let r = fit.text("RCTNCCRD", &p.reference);
        n.set(
            if p.kind == 6 || p.kind == 3 {
                "RCTNCCRD"
            } else {
                "CHEKNMBR"
            },
            r,
        );
    }
    n
}

/// Address elements shared by the customer, address and SOP header nodes.
pub fn address(n: &mut Node, a: &PostalAddress, fit: &mut Fitter, name_field: &'static str) {
    let name = if a.name.is_empty() {
        &a.company
    } else {
        &a.name
    };
    if !name.is_empty() {
        n.set(name_field, fit.text(name_field, name));
    }
    for (i, field) in ["ADDRESS1", "ADDRESS2", "ADDRESS3"].into_iter().enumerate() {
        if let Some(line) = a.lines.get(i) {
            n.set(field, fit.text(field, line));
        }
    }
    n.set("CITY", fit.text("CITY", &a.city))
        .set("STATE", fit.text("STATE", &a.region))
        .set("ZIPCODE", fit.text("ZIPCODE", &a.postal_code))
        .set("COUNTRY", fit.text("COUNTRY", &a.country_code));
}

#[cfg(test)]
mod tests {
    use super::*;
    use nopbridge_proto::events::v1::Money;

    fn gbp(m: i64) -> Option<Money> {
        Some(Money {
            minor_units: m,
            currency: "GBP".into(),
        })
    }

    fn line(kind: LineKind, qty: i64, amount: i64, tax: i64) -> DocumentLine {
        DocumentLine {
            kind: kind as i32,
            quantity: qty,
            amount: gbp(amount),
            tax_amount: gbp(tax),
            ..DocumentLine::default()
        }
    }

    /// The reference's B12.2 sample with errata 1: header TAXAMNT is the line tax only.
    #[test]
    fn header_arithmetic_follows_the_errata() {
        let lines = [
            line(LineKind::Product, 2, 2000, 400),
            line(LineKind::Product, 1, 3550, 710),
            line(LineKind::Shipping, 1, 499, 100),
        ];
        let plan = SopPlan {
            soptype: 3,
            docid: "STDINV",
            number: "WEB100457",
            customer: "WEB000123",
            customer_name: "Harriet",
            date: "2025-03-14",
            batch: "WEB20250314",
            site: "MAIN",
            currency: "GBP",
            foreign: None,
            lines: &lines,
            items: vec![Some("A".into()), Some("B".into()), None],
            tax_details: vec![
                Some("UKVAT20S".into()),
                Some("UKVAT20S".into()),
                Some("UKVAT20S".into()),
            ],
            payments: vec![PaymentPlan {
                kind: 6,
                card: Some("VISA".into()),
                checkbook: None,
                amount: 7259,
                reference: "pi".into(),
            }],
            total: 7259,
            reference: "order",
            customer_po: "100457",
            ship_to: None,
            tracking: &["1Z999".into()],
        };
        let (nodes, t) = sop(&plan, &mut Fitter::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                t.subtotal,
                t.tax,
                t.freight,
                t.freight_tax,
                t.document,
                t.paid
            ),
            (5550, 1110, 499, 100, 7259, 7259)
        );
        let h = nodes
            .last()
            .map(|n| (n.get("TAXAMNT"), n.get("DOCAMNT"), n.get("FRTTXAMT")))
            .unwrap_or_default();
        assert_eq!(h, (Some("11.10"), Some("72.59"), Some("1.00")));
        assert!(nodes.iter().any(|n| n.name == "taSopTrackingNum"));
        assert_eq!(
            nodes
                .iter()
                .filter(|n| n.name == "taSopLineIvcTaxInsert")
                .count(),
            3
        );
        let unbalanced = SopPlan {
            total: 7260,
            ..plan
        };
        assert!(matches!(
            sop(&unbalanced, &mut Fitter::default()),
            Err(GpError::Invalid {
                class: "balance",
                ..
            })
        ));
    }
}
