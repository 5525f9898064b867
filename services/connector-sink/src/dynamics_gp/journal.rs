//! A daily summary as a GL journal (`GLTransactionType`, reference §B4.4), pure: the day's
//! takings debited to the payment method's clearing account (gift card and reward point
//! tenders to their own accounts), each summary line credited to its account (a negative
//! line, a discount or a redemption, debited), the tax credited per tax code to its tax
//! payable account. Entries to one account (and tax detail) are netted into one journal
//! line, so the accountant sees one line per account; debits must equal credits, and both
//! the summary's total, to the cent before anything is sent.
use super::{
    encoder::{self, Fitter},
    service::GpError,
    xml::Node,
};
use nopbridge_proto::commands::v1::{GpJournal, LineKind, PostSale, TenderKind};

/// GL line sequence step (SQNCLINE 16384, 32768, …), as GP's own entry window numbers them.
const LINE_STEP: i64 = 16384;

/// One posting: `amount` > 0 debits `account`, < 0 credits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub account: String,
    pub description: String,
    pub amount: i64,
    /// TAXDTLID of a tax entry.
    pub tax_detail: Option<String>,
}

/// Everything the journal needs, resolved.
pub struct JournalPlan<'a> {
    pub batch: &'a str,
    /// REFRENCE (30): the external id GP finds the journal by.
    pub reference: &'a str,
    /// ORDOCNUM (20) of every line: the same id, for GP's line inquiries.
    pub document: &'a str,
    pub date: &'a str,
    pub currency: &'a str,
    /// CURNCYID and XCHGRATE for a foreign-currency journal.
    pub foreign: Option<(String, String)>,
    pub note: &'a str,
    pub entries: Vec<Entry>,
}

/// The sides of a journal, minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalTotals {
    pub debits: i64,
    pub credits: i64,
}

fn minor(m: Option<&nopbridge_proto::events::v1::Money>) -> i64 {
    m.map(|m| m.minor_units).unwrap_or_default()
}

fn invalid(message: String) -> GpError {
    GpError::invalid("validation", message)
}

fn unbalanced(message: String) -> GpError {
    GpError::invalid("balance", message)
}

/// The entries of a daily summary: tenders, lines and tax.
pub fn entries(sale: &PostSale, accounts: &GpJournal) -> Result<Vec<Entry>, GpError> {
    let cur = &sale.currency;
    let total = minor(sale.total.as_ref());
    let mut out = Vec::new();
    let mut tendered = 0i64;
    for (i, t) in sale.tenders.iter().enumerate() {
        let amount = minor(t.amount.as_ref());
        if amount == 0 || t.kind() == TenderKind::Unspecified {
            continue;
        }
        let (account, what) = match t.kind() {
            TenderKind::Payment => (accounts.clearing_account.as_str(), "Takings"),
            TenderKind::GiftCard => (t.deposit_account.as_str(), "Gift cards redeemed"),
            _ => (t.deposit_account.as_str(), "Reward points redeemed"),
        };
        if account.trim().is_empty() {
            return Err(invalid(format!(
                "tender {i} ({what}) has no GL account; set dynamics_gp.journal.clearing_account(s) or the redemption's items account in the mapping, then replay"
            )));
        }
        out.push(Entry {
            account: account.trim().to_string(),
            description: format!("{what} {}", t.store_payment_method),
            amount,
            tax_detail: None,
        });
        tendered += amount;
    }
    if tendered != total {
        return Err(unbalanced(format!(
            "the tenders come to {} but the summary's total is {} ({cur}); nothing was posted",
            encoder::amount(tendered, cur),
            encoder::amount(total, cur)
        )));
    }
    let mut lines = 0i64;
    for l in &sale.lines {
        let amount = minor(l.amount.as_ref());
        if l.kind() == LineKind::Description || amount == 0 {
            continue;
        }
        if l.account.trim().is_empty() {
            return Err(invalid(format!(
                "line {} ({}) has no GL account; set items.income_account / items.<kind>.account in the mapping, then replay",
                l.line_number, l.description
            )));
        }
        out.push(Entry {
            account: l.account.trim().to_string(),
            description: match l.kind() {
                LineKind::Product | LineKind::Unspecified => "Sales".into(),
                LineKind::Shipping => "Shipping".into(),
                LineKind::Discount => "Discounts".into(),
                LineKind::PaymentFee => "Payment fees".into(),
                LineKind::GiftCard => "Gift cards redeemed".into(),
                LineKind::RewardPoints => "Reward points redeemed".into(),
                _ => "Rounding".into(),
            },
            amount: -amount,
            tax_detail: None,
        });
        lines += amount;
    }
    let tax = sale.tax.as_ref();
    let total_tax = minor(tax.and_then(|t| t.total_tax.as_ref()));
    let rates: Vec<_> = tax.map(|t| t.rates.iter().collect()).unwrap_or_default();
    let by_rate: i64 = rates.iter().map(|r| minor(r.tax_amount.as_ref())).sum();
    if rates.is_empty() || by_rate != total_tax {
        if !rates.is_empty() {
            return Err(unbalanced(format!(
                "the tax rates come to {} but the summary's tax is {} ({cur}); nothing was posted",
                encoder::amount(by_rate, cur),
                encoder::amount(total_tax, cur)
            )));
        }
        if total_tax != 0 {
            out.push(tax_entry(accounts, "", total_tax)?);
        }
    } else {
        for r in rates {
            let amount = minor(r.tax_amount.as_ref());
            if amount != 0 {
                out.push(tax_entry(accounts, r.tax_code.trim(), amount)?);
            }
        }
    }
    if lines + total_tax != total {
        return Err(unbalanced(format!(
            "the lines {} and tax {} do not come to the summary's total {} ({cur}); nothing was posted",
            encoder::amount(lines, cur),
            encoder::amount(total_tax, cur),
            encoder::amount(total, cur)
        )));
    }
    Ok(out)
}

fn tax_entry(accounts: &GpJournal, code: &str, amount: i64) -> Result<Entry, GpError> {
    let account = accounts
        .tax_accounts
        .get(code)
        .map(String::as_str)
        .filter(|a| !a.trim().is_empty())
        .unwrap_or(accounts.tax_account.as_str());
    if account.trim().is_empty() {
        return Err(invalid(format!(
            "tax code {code:?} has no tax payable account; set dynamics_gp.journal.tax_accounts or tax_account in the mapping, then replay"
        )));
    }
    Ok(Entry {
        account: account.trim().to_string(),
        description: if code.is_empty() {
            "Sales tax".into()
        } else {
            format!("Tax {code}")
        },
        amount: -amount,
        // A tax detail ID is at most 15 characters; a longer code is a description only.
        tax_detail: (!code.is_empty() && code.chars().count() <= 15).then(|| code.to_string()),
    })
}

/// The journal's nodes (lines, then the header) and its sides. Entries to one account and
/// tax detail are netted; an account that nets to zero gets no line.
pub fn journal(
    plan: &JournalPlan<'_>,
    fit: &mut Fitter,
) -> Result<(Vec<Node>, JournalTotals), GpError> {
    let cur = plan.currency;
    let mut netted: Vec<Entry> = Vec::new();
    for e in &plan.entries {
        if e.account.chars().count() > 75 {
            return Err(invalid(format!(
                "GL account {} is longer than GP's 75 characters (ACTNUMST); fix the mapping, then replay",
                e.account
            )));
        }
        match netted
            .iter_mut()
            .find(|n| n.account.eq_ignore_ascii_case(&e.account) && n.tax_detail == e.tax_detail)
        {
            Some(n) => n.amount += e.amount,
            None => netted.push(e.clone()),
        }
    }
    let mut t = JournalTotals::default();
    let mut nodes = Vec::new();
    for (i, e) in netted.iter().filter(|e| e.amount != 0).enumerate() {
        let (debit, credit) = if e.amount > 0 {
            (e.amount, 0)
        } else {
            (0, -e.amount)
        };
        t.debits += debit;
        t.credits += credit;
        let mut n = Node::new("taGLTransactionLineInsert");
        n.set("BACHNUMB", plan.batch)
            .set("JRNENTRY", "")
            .set("SQNCLINE", (LINE_STEP * (i as i64 + 1)).to_string())
            .set("ACTNUMST", e.account.clone())
            .set("DEBITAMT", encoder::amount(debit, cur))
            .set("CRDTAMNT", encoder::amount(credit, cur))
            .set("DSCRIPTN", fit.text("DSCRIPTN", &e.description))
            .set("ORDOCNUM", plan.document);
        if let Some(d) = &e.tax_detail {
            n.set("TAXDTLID", d.clone());
        }
        nodes.push(n);
    }
    if nodes.is_empty() {
        return Err(invalid(
            "the summary has nothing to post: every amount is zero".into(),
        ));
    }
    if t.debits != t.credits {
        return Err(unbalanced(format!(
            "the journal does not balance: debits {} credits {} ({cur}); nothing was posted",
            encoder::amount(t.debits, cur),
            encoder::amount(t.credits, cur)
        )));
    }
    let mut h = Node::new("taGLTransactionHeaderInsert");
    h.set("BACHNUMB", plan.batch)
        .set("JRNENTRY", "")
        .set("REFRENCE", plan.reference)
        .set("TRXDATE", plan.date)
        .set("TRXTYPE", "0")
        .set("NOTETEXT", fit.text("NOTETEXT", plan.note));
    if let Some((id, rate)) = &plan.foreign {
        h.set("CURNCYID", id.clone()).set("XCHGRATE", rate.clone());
    }
    nodes.push(h);
    Ok((nodes, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics_gp::xml::{self, Txn};
    use nopbridge_proto::commands::v1::{DocumentLine, TaxDetail, TaxRateLine, Tender};
    use nopbridge_proto::events::v1::Money;

    fn gbp(m: i64) -> Option<Money> {
        Some(Money {
            minor_units: m,
            currency: "GBP".into(),
        })
    }

    fn line(kind: LineKind, amount: i64, account: &str) -> DocumentLine {
        DocumentLine {
            kind: kind as i32,
            quantity: 1,
            amount: gbp(amount),
            account: account.into(),
            ..DocumentLine::default()
        }
    }

    fn accounts() -> GpJournal {
        GpJournal {
            clearing_account: "000-1200-00".into(),
            tax_accounts: [("UKVAT20S".to_string(), "000-2310-00".to_string())].into(),
            tax_account: "000-2320-00".into(),
        }
    }

    /// A day of 2 sales (60.49 net + 12.10 VAT at 20 %, and a 5 % line), a discount, and a
    /// gift card tender: the reference's B12.2 figures summed.
    fn summary() -> PostSale {
        PostSale {
            currency: "GBP".into(),
            lines: vec![
                line(LineKind::Product, 5550, "000-4100-00"),
                line(LineKind::Product, 1000, "000-4100-00"),
                line(LineKind::Shipping, 499, "000-4510-00"),
                line(LineKind::Discount, -500, "000-4300-00"),
                line(LineKind::Description, 0, ""),
            ],
            tax: Some(TaxDetail {
                total_tax: gbp(1260),
                rates: vec![
                    TaxRateLine {
                        tax_code: "UKVAT20S".into(),
                        tax_amount: gbp(1210),
                        ..TaxRateLine::default()
                    },
                    TaxRateLine {
                        tax_code: "UKVAT5S".into(),
                        tax_amount: gbp(50),
                        ..TaxRateLine::default()
                    },
                ],
                ..TaxDetail::default()
            }),
            total: gbp(7809),
            tenders: vec![
                Tender {
                    kind: TenderKind::Payment as i32,
                    amount: gbp(7309),
                    store_payment_method: "Payments.Manual".into(),
                    ..Tender::default()
                },
                Tender {
                    kind: TenderKind::GiftCard as i32,
                    amount: gbp(500),
                    deposit_account: "000-2300-00".into(),
                    ..Tender::default()
                },
            ],
            ..PostSale::default()
        }
    }

    fn plan(entries: Vec<Entry>) -> JournalPlan<'static> {
        JournalPlan {
            batch: "WEB20250314",
            reference: "WEBS20250314-3-1A2B",
            document: "WEBS20250314-3-1A2B",
            date: "2025-03-14",
            currency: "GBP",
            foreign: None,
            note: "Daily summary [nopbridge x]",
            entries,
        }
    }

    fn cents(n: &Node, field: &str) -> i64 {
        n.get(field)
            .and_then(|v| v.parse::<rust_decimal::Decimal>().ok())
            .map(|d| (d * rust_decimal::Decimal::from(100)).round())
            .and_then(|d| rust_decimal::prelude::ToPrimitive::to_i64(&d))
            .unwrap_or(i64::MIN)
    }

    #[test]
    fn debits_equal_credits_to_the_cent_with_one_line_per_account() {
        let e = entries(&summary(), &accounts()).unwrap_or_else(|e| panic!("{e}"));
        let (nodes, t) =
            journal(&plan(e), &mut Fitter::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t,
            JournalTotals {
                debits: 8309,
                credits: 8309
            }
        );
        let lines: Vec<(&str, i64, i64)> = nodes
            .iter()
            .filter(|n| n.name == "taGLTransactionLineInsert")
            .map(|n| {
                (
                    n.get("ACTNUMST").unwrap_or_default(),
                    cents(n, "DEBITAMT"),
                    cents(n, "CRDTAMNT"),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                ("000-1200-00", 7309, 0), // the day's takings, to clearing
                ("000-2300-00", 500, 0),  // gift cards redeemed
                ("000-4100-00", 0, 6550), // two product lines, one sales line
                ("000-4510-00", 0, 499),
                ("000-4300-00", 500, 0), // the discount is a debit
                ("000-2310-00", 0, 1210),
                ("000-2320-00", 0, 50), // a code without its own account: the default
            ]
        );
        let tax = nodes
            .iter()
            .find(|n| n.get("ACTNUMST") == Some("000-2310-00"));
        assert_eq!(tax.and_then(|n| n.get("TAXDTLID")), Some("UKVAT20S"));
        // Every line carries the header's batch, an empty JRNENTRY (GP numbers the journal)
        // and the external id.
        assert!(nodes
            .iter()
            .all(|n| n.get("BACHNUMB") == Some("WEB20250314") && n.get("JRNENTRY") == Some("")));
        let h = nodes.last().cloned().unwrap_or_else(|| Node::new("none"));
        assert_eq!(
            (
                h.name,
                h.get("REFRENCE"),
                h.get("TRXDATE"),
                h.get("TRXTYPE")
            ),
            (
                "taGLTransactionHeaderInsert",
                Some("WEBS20250314-3-1A2B"),
                Some("2025-03-14"),
                Some("0")
            )
        );
    }

    #[test]
    fn the_document_is_in_schema_order_within_lengths() {
        let mut s = summary();
        s.lines[0].description = "x".repeat(40);
        let e = entries(&s, &accounts()).unwrap_or_else(|e| panic!("{e}"));
        let mut fit = Fitter::default();
        let (nodes, _) = journal(&plan(e), &mut fit).unwrap_or_else(|e| panic!("{e}"));
        let doc = xml::render(&[Txn {
            kind: "GLTransactionType",
            nodes,
        }])
        .unwrap_or_else(|e| panic!("{e}"));
        let at = |s: &str| doc.find(s).unwrap_or(usize::MAX);
        assert!(at("<taGLTransactionLineInsert_Items>") < at("<taGLTransactionHeaderInsert>"));
        assert!(at("<BACHNUMB>") < at("<JRNENTRY>"));
        // Line: ... CRDTAMNT before DEBITAMT before ACTNUMST (the XSD's order).
        let line = &doc[at("<taGLTransactionLineInsert>")..];
        let l = |s: &str| line.find(s).unwrap_or(usize::MAX);
        assert!(l("<SQNCLINE>") < l("<CRDTAMNT>") && l("<CRDTAMNT>") < l("<DEBITAMT>"));
        assert!(l("<DEBITAMT>") < l("<ACTNUMST>") && l("<ACTNUMST>") < l("<DSCRIPTN>"));
        assert!(l("<DSCRIPTN>") < l("<ORDOCNUM>"));
        let header = &doc[at("<taGLTransactionHeaderInsert>")..];
        let h = |s: &str| header.find(s).unwrap_or(usize::MAX);
        assert!(h("<REFRENCE>") < h("<TRXDATE>") && h("<TRXDATE>") < h("<TRXTYPE>"));
        assert!(h("<TRXTYPE>") < h("<NOTETEXT>"));
        // Descriptions fit GP's 30 characters; long account strings are refused.
        assert!(doc.contains("<DSCRIPTN>Sales</DSCRIPTN>"));
        let long = Entry {
            account: "9".repeat(76),
            description: "x".into(),
            amount: 1,
            tax_detail: None,
        };
        assert!(matches!(
            journal(&plan(vec![long]), &mut Fitter::default()),
            Err(GpError::Invalid {
                class: "validation",
                ..
            })
        ));
        let mut fit = Fitter::default();
        assert_eq!(fit.text("DSCRIPTN", &"d".repeat(40)).len(), 30);
    }

    #[test]
    fn a_summary_that_does_not_balance_or_lacks_an_account_posts_nothing() {
        let mut s = summary();
        s.tenders[0].amount = gbp(7308);
        assert!(matches!(
            entries(&s, &accounts()),
            Err(GpError::Invalid {
                class: "balance",
                ..
            })
        ));
        let mut s = summary();
        s.lines[2].amount = gbp(498);
        assert!(matches!(
            entries(&s, &accounts()),
            Err(GpError::Invalid {
                class: "balance",
                ..
            })
        ));
        let mut s = summary();
        s.lines[1].account.clear();
        assert!(matches!(
            entries(&s, &accounts()),
            Err(GpError::Invalid {
                class: "validation",
                ..
            })
        ));
        let none = GpJournal {
            tax_accounts: Default::default(),
            tax_account: String::new(),
            ..accounts()
        };
        assert!(entries(&summary(), &none).is_err());
        // Entries that net to one side only cannot balance.
        let lopsided = vec![
            Entry {
                account: "000-1200-00".into(),
                description: "Takings".into(),
                amount: 100,
                tax_detail: None,
            },
            Entry {
                account: "000-4100-00".into(),
                description: "Sales".into(),
                amount: -99,
                tax_detail: None,
            },
        ];
        assert!(matches!(
            journal(&plan(lopsided), &mut Fitter::default()),
            Err(GpError::Invalid {
                class: "balance",
                ..
            })
        ));
    }
}
