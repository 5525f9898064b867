//! A payment after the invoice: a `taCreateSopPaymentInsertRecord` (Action 1, new) for the
//! order's SOP document, sent on its own while the document is unposted (reference §B4.5
//! payment node, §B7 "check SOP10103 before adding later"). Action 1 always adds, so the
//! payment carries a DOCNUMBR derived from the command and is looked for on the document
//! before every try; it is never simply sent again. A payment whose document is not in GP
//! yet waits for it (`prerequisite`); a posted document takes no SOP payment: that is a
//! receivables cash receipt applied to the invoice (RMCashReceiptsType / RMApplyType), which
//! the reference gives no fields for, so it is refused with what to do.
use super::{
    documents::{document_number, log_fitting, record, Submitted},
    encoder::Fitter,
    request_builder,
    service::GpError,
    xml::{self, Txn},
    GpConnector,
};
use crate::target::{Outcome, PREREQUISITE};
use nopbridge_proto::commands::v1::{ApplyPayment, Command, ResultStatus, Tender};
use serde_json::Value;

/// The payment's DOCNUMBR (20): `PAY` and 17 hex digits of the command id's SHA-256, the
/// same on every delivery.
fn payment_number(cmd: &Command) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(cmd.command_id.as_bytes()));
    format!("PAY{}", digest[..17].to_uppercase())
}

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Whether the document GP holds already has the payment numbered `docnumbr`.
fn has_payment(doc: &Value, docnumbr: &str) -> bool {
    doc.get("payments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| text(p, "DOCNUMBR").eq_ignore_ascii_case(docnumbr))
}

impl GpConnector {
    /// The order's SOP document: under the connection's sale type first, then the other one
    /// (the mapping may post sales as either); `(soptype, document)`.
    async fn sale_document(&self, number: &str) -> Result<Option<(i16, Value)>, GpError> {
        let own = self.cfg.sale_document.soptype();
        for soptype in [own, 5 - own] {
            let path = format!("sop/{soptype}/{}", urlencoding::encode(number));
            if let Some(found) = self.service.read(&path).await? {
                return Ok(Some((soptype, found)));
            }
        }
        Ok(None)
    }

    pub(super) async fn apply_payment(
        &self,
        cmd: &Command,
        p: &ApplyPayment,
    ) -> Result<Outcome, GpError> {
        let tender = Tender {
            amount: p.amount.clone(),
            ..p.tender.clone().unwrap_or_default()
        };
        let amount = tender.amount.as_ref().map_or(0, |m| m.minor_units);
        if amount <= 0 {
            return Ok(Outcome::skipped());
        }
        let mut fit = Fitter::default();
        let number = fit.key("SOPNUMBE", &document_number(cmd)?);
        let docnumbr = payment_number(cmd);
        let _g = self.flights.lock(&format!("sop-payment/{number}")).await;
        let Some((soptype, found)) = self.sale_document(&number).await? else {
            return Err(GpError::invalid(
                PREREQUISITE,
                format!("no SOP document {number} in GP to apply the payment to: the order's sale was never posted (or was deleted); post the order's sale first (see its dead letter), then replay this payment"),
            ));
        };
        let outcome = |status, attempts| {
            let mut rec = record("SOPPayment", docnumbr.clone(), "payment");
            rec.document_number = number.clone();
            rec.total = p.amount.clone();
            Outcome {
                status,
                records: vec![rec],
                request_id: String::new(),
                attempts,
            }
        };
        if has_payment(&found, &docnumbr) {
            return Ok(outcome(ResultStatus::Unchanged, 1));
        }
        let posted = |number: &str| {
            GpError::invalid(
                "unsupported",
                format!("SOP document {number} is posted in GP, and a posted invoice takes no SOP payment: a payment on it is a receivables cash receipt applied to the invoice (RMCashReceiptsType), which this connector does not post; enter the cash receipt in GP"),
            )
        };
        if found.get("posted").and_then(Value::as_bool) == Some(true) {
            return Err(posted(&number));
        }
        let header = found.get("header").cloned().unwrap_or_default();
        let currency = p
            .amount
            .as_ref()
            .map(|m| m.currency.as_str())
            .filter(|c| !c.is_empty())
            .unwrap_or(&self.cfg.home_currency)
            .to_ascii_uppercase();
        let date = if p.payment_date.is_empty() {
            chrono::Utc::now().format("%Y-%m-%d").to_string()
        } else {
            p.payment_date.clone()
        };
        let mut node = request_builder::payment(
            soptype,
            &number,
            &text(&header, "CUSTNMBR"),
            &date,
            &currency,
            &self.payment(&tender, soptype),
            &mut fit,
        );
        node.set("DOCNUMBR", docnumbr.clone());
        let document = xml::render(&[Txn {
            kind: "SOPTransactionType",
            nodes: vec![node],
        }])
        .map_err(|e| GpError::invalid("internal", e.to_string()))?;
        log_fitting(&fit);
        let path = format!("sop/{soptype}/{}", urlencoding::encode(&number));
        let find = || async {
            Ok(self
                .service
                .read(&path)
                .await?
                .filter(|d| has_payment(d, &docnumbr)))
        };
        let errors = &self.cfg.errors;
        match self.submit_checked(&document, find).await {
            Ok(Submitted::Created(_, attempts)) => Ok(outcome(ResultStatus::Created, attempts)),
            Ok(Submitted::Found(_, attempts)) => Ok(outcome(ResultStatus::Unchanged, attempts)),
            // Made by a try this one did not see the answer of.
            Err(e) if e.number() == Some(errors.duplicate_payment) => {
                Ok(outcome(ResultStatus::Unchanged, 1))
            }
            Err(e) if e.number() == Some(errors.posted_document) => Err(posted(&number)),
            Err(e) => Err(e),
        }
    }
}
