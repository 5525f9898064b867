//! A daily summary posted as a GL journal ([`super::journal`] builds it). GP numbers
//! journals itself (JRNENTRY), so sending one again would make a second journal (reference
//! §B7: "Auto-number is not idempotent: put the external ID in REFRENCE or ORDOCNUM and
//! pre-check"). The journal carries the summary's document number (deterministic from the
//! command) in REFRENCE and in every line's ORDOCNUM, and is looked up by it before every
//! try: a redelivery, a lost answer or a crash between posting and recording finds it.
use super::{
    documents::{document_number, log_fitting, record, Submitted},
    encoder::{self, Fitter},
    journal::{self, JournalPlan},
    service::GpError,
    xml::{self, Node, Txn},
    GpConnector,
};
use crate::target::Outcome;
use nopbridge_proto::commands::v1::{Command, PostSale, ResultStatus};
use nopbridge_proto::events::v1::Money;
use serde_json::Value;

/// (ACTNUMST, debit, credit) of a journal line, cents; what two journals are compared by.
type Posting = (String, i64, i64);

fn cents(v: Option<&str>, currency: &str) -> i64 {
    let exp = encoder::exponent(currency);
    v.and_then(|s| s.trim().parse::<rust_decimal::Decimal>().ok())
        .map(|d| d * rust_decimal::Decimal::from(10i64.pow(exp)))
        .and_then(|d| rust_decimal::prelude::ToPrimitive::to_i64(&d.round()))
        .unwrap_or_default()
}

fn postings_of_nodes(nodes: &[Node], currency: &str) -> Vec<Posting> {
    let mut p: Vec<Posting> = nodes
        .iter()
        .filter(|n| n.name == "taGLTransactionLineInsert")
        .map(|n| {
            (
                n.get("ACTNUMST").unwrap_or_default().trim().to_uppercase(),
                cents(n.get("DEBITAMT"), currency),
                cents(n.get("CRDTAMNT"), currency),
            )
        })
        .collect();
    p.sort();
    p
}

fn postings_of_journal(found: &Value, currency: &str) -> Vec<Posting> {
    let text = |l: &Value, k: &str| l.get(k).and_then(Value::as_str).map(str::to_string);
    let mut p: Vec<Posting> = found
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| {
            (
                text(l, "ACTNUMST")
                    .unwrap_or_default()
                    .trim()
                    .to_uppercase(),
                cents(text(l, "DEBITAMT").as_deref(), currency),
                cents(text(l, "CRDTAMNT").as_deref(), currency),
            )
        })
        .collect();
    p.sort();
    p
}

fn journal_number(found: &Value) -> String {
    match found.get("JRNENTRY") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        _ => String::new(),
    }
}

impl GpConnector {
    pub(super) async fn post_journal(
        &self,
        cmd: &Command,
        s: &PostSale,
    ) -> Result<Outcome, GpError> {
        let options = s.dynamics_gp.as_ref();
        let accounts = options.and_then(|o| o.journal.as_ref()).ok_or_else(|| {
            GpError::invalid("internal", "a journal summary without its accounts")
        })?;
        let mut fit = Fitter::default();
        let doc = document_number(cmd)?;
        let reference = fit.key("REFRENCE", &doc);
        let document = fit.key("ORDOCNUM", &doc);
        let currency = if s.currency.is_empty() {
            self.cfg.home_currency.clone()
        } else {
            s.currency.to_ascii_uppercase()
        };
        let date = if s.txn_date.is_empty() {
            chrono::Utc::now().format("%Y-%m-%d").to_string()
        } else {
            s.txn_date.clone()
        };
        let batch = match options
            .map(|o| o.batch_number.trim())
            .filter(|b| !b.is_empty())
        {
            Some(b) => fit.text("BACHNUMB", b),
            None => encoder::batch(&self.cfg.batch_prefix, &date),
        };
        let foreign = self.foreign(
            &currency,
            s.exchange_rate
                .as_ref()
                .and_then(|r| r.home_per_document.as_ref()),
        )?;
        let note = format!("{} [nopbridge {}]", s.memo, cmd.command_id);
        let plan = JournalPlan {
            batch: &batch,
            reference: &reference,
            document: &document,
            date: &date,
            currency: &currency,
            foreign,
            note: &note,
            entries: journal::entries(s, accounts)?,
        };
        let (nodes, totals) = journal::journal(&plan, &mut fit)?;
        let want = postings_of_nodes(&nodes, &currency);
        let xml = xml::render(&[Txn {
            kind: "GLTransactionType",
            nodes,
        }])
        .map_err(|e| GpError::invalid("internal", e.to_string()))?;
        log_fitting(&fit);
        let _g = self.flights.lock(&format!("gl/{reference}")).await;
        let find = || self.journal_by_reference(&reference);
        let (status, number, attempts) = match self.submit_checked(&xml, find).await? {
            Submitted::Created(echo, attempts) => (
                ResultStatus::Created,
                xml::text_of(&echo, "JRNENTRY").unwrap_or_default(),
                attempts,
            ),
            Submitted::Found(found, attempts) => {
                let held = postings_of_journal(&found, &currency);
                let number = journal_number(&found);
                if held != want {
                    return Err(GpError::invalid(
                        "drift",
                        format!("GP journal {number} with reference {reference} is not this summary's: it posts {held:?}, the summary {want:?}; correct or delete the journal in GP (an unposted one can be edited; a posted one needs a correcting entry), then replay"),
                    ));
                }
                (ResultStatus::Unchanged, number, attempts)
            }
        };
        let mut rec = record("GLJournal", number, "sale");
        rec.document_number = reference.clone();
        rec.total = Some(Money {
            minor_units: totals.debits,
            currency: currency.clone(),
        });
        Ok(Outcome {
            status,
            records: vec![rec],
            request_id: String::new(),
            attempts,
        })
    }

    /// The journal GP holds under this reference (what SQL over GL10000/GL20000 by REFRENCE
    /// gives); two are a conflict for a person to settle.
    async fn journal_by_reference(&self, reference: &str) -> Result<Option<Value>, GpError> {
        let path = format!("journals?reference={}", urlencoding::encode(reference));
        let found = self
            .service
            .read(&path)
            .await?
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        match found.len() {
            0 | 1 => Ok(found.into_iter().next()),
            n => Err(GpError::invalid(
                "duplicate",
                format!("GP holds {n} journals with reference {reference}; delete all but one in GP, then replay"),
            )),
        }
    }
}
