//! GLTransactionType: a journal header with its lines; numbers assigned when JRNENTRY is
//! empty or 0, accounts from the chart, one side per line, debits equal to credits.

use rust_decimal::Decimal;

use crate::fault::{Fault, FaultKind};
use crate::schema::Txn;

use super::masters::view;
use super::{key, parse_date, round2, Assignment, Batch, Company, Ctx, Journal};

const HDR: &str = "taGLTransactionHeaderInsert";

impl Company {
    pub(super) fn gl_transaction(
        &mut self,
        txn: &Txn,
        ctx: &Ctx,
    ) -> Result<Vec<Assignment>, Fault> {
        let e = ctx.errors();
        let mut header = None;
        let mut lines = Vec::new();
        for node in &txn.nodes {
            match node.name.as_str() {
                "taGLTransactionHeaderInsert" => header = Some(node),
                "taGLTransactionLineInsert" => lines.push(node),
                "eConnectProcessInfo" | "taRequesterTrxDisabler" => {}
                other => {
                    return Err(Fault::plain(
                        FaultKind::Unsupported,
                        format!("The node {other} is not supported by this emulator."),
                    ))
                }
            }
        }
        let Some(header_node) = header else {
            return Ok(Vec::new());
        };
        let h = view(header_node)?;
        let batch = h.str("BACHNUMB");
        if batch.is_empty() {
            return Err(h.fault(e.missing_value, "A batch number (BACHNUMB) is required"));
        }
        if parse_date(&h.str("TRXDATE")).is_none() {
            return Err(h.fault(
                e.invalid_value,
                format!("TRXDATE {} is not a valid date", h.str("TRXDATE")),
            ));
        }
        match h.int("TRXTYPE") {
            0 => {}
            1 if h.opt("RVRSNGDT").and_then(|d| parse_date(&d)).is_some() => {}
            1 => return Err(h.fault(e.missing_value, "A reversing journal needs RVRSNGDT")),
            t => return Err(h.fault(e.invalid_value, format!("TRXTYPE {t} must be 0 or 1"))),
        }
        if h.str("REFRENCE").is_empty() {
            return Err(h.fault(e.missing_value, "REFRENCE is required"));
        }
        if let Some(currency) = h.opt("CURNCYID") {
            if !self.has(&self.config.currencies, &currency, ctx) {
                return Err(h.fault(
                    e.unknown_setup_id,
                    format!("Currency ID {currency} does not exist"),
                ));
            }
        }
        let mut assignments = Vec::new();
        let number = match h.int("JRNENTRY") {
            0 => {
                while self.journals.contains_key(&self.next_journal) {
                    self.next_journal += 1;
                }
                let n = self.next_journal;
                self.next_journal += 1;
                assignments.push(Assignment {
                    txn_index: header_node.txn_index,
                    field: "JRNENTRY".into(),
                    value: n.to_string(),
                });
                n
            }
            n if self.journals.contains_key(&n) => {
                return Err(h.fault(
                    e.duplicate_journal,
                    format!("Journal entry {n} already exists"),
                ))
            }
            n => n,
        };
        if lines.is_empty() {
            return Err(h.fault(e.missing_value, "A journal needs at least one line"));
        }
        let (mut debits, mut credits) = (Decimal::ZERO, Decimal::ZERO);
        let mut stored = Vec::new();
        for node in &lines {
            let v = view(node)?;
            if key(&v.str("BACHNUMB")) != key(&batch)
                || (v.int("JRNENTRY") != 0 && v.int("JRNENTRY") != number)
            {
                return Err(v.fault(
                    e.line_header_mismatch,
                    "BACHNUMB and JRNENTRY must match the journal header",
                ));
            }
            let account = v.str("ACTNUMST");
            if account.is_empty() && v.int("ACTINDX") == 0 {
                return Err(v.fault(e.missing_value, "ACTNUMST or ACTINDX is required"));
            }
            if !account.is_empty() && !self.has(&self.config.gl_accounts, &account, ctx) {
                return Err(v.fault(
                    e.unknown_account,
                    format!("Account {account} does not exist"),
                ));
            }
            let (debit, credit) = (round2(v.dec("DEBITAMT")), round2(v.dec("CRDTAMNT")));
            if debit < Decimal::ZERO
                || credit < Decimal::ZERO
                || (debit.is_zero() == credit.is_zero())
            {
                return Err(v.fault(
                    e.invalid_value,
                    "A line needs either a debit or a credit amount, not both",
                ));
            }
            debits += debit;
            credits += credit;
            let mut values = v.full_values();
            values.insert("JRNENTRY".into(), number.to_string());
            stored.push(values);
        }
        if ctx.validation().check_journal_balance && debits != credits {
            return Err(Fault::procedure(
                e.unbalanced_journal,
                HDR,
                format!("Debits {debits} do not equal credits {credits}"),
                &h.node.values,
            ));
        }
        let mut header_values = h.full_values();
        header_values.insert("JRNENTRY".into(), number.to_string());
        self.journals.insert(
            number,
            Journal {
                number,
                batch: batch.clone(),
                header: header_values,
                lines: stored,
            },
        );
        let entry = self.batches.entry(key(&batch)).or_insert_with(|| Batch {
            series: "Financial".into(),
            documents: 0,
            total: "0".into(),
        });
        entry.documents += 1;
        let sum: Decimal = entry.total.parse().unwrap_or_default();
        entry.total = (sum + debits).normalize().to_string();
        self.counters.journals += 1;
        Ok(assignments)
    }
}
