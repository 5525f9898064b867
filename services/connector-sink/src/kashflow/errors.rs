//! KashFlow failures as the sink loop sees them: transient, or permanent with KashFlow's
//! `Error` code and `Message`, a class, and what an operator should do.
use super::service::KfError;
use crate::target::Failure;
use nopbridge_proto::commands::v1::TargetError;

pub fn class_of(e: &KfError) -> &'static str {
    match e {
        KfError::Invalid { class, .. } => class,
        KfError::Auth(_) => "auth",
        KfError::Unavailable { .. } => "retries_exhausted",
        KfError::Store(_) => "internal",
        KfError::NotFound(_) => "reference",
        KfError::Rejected { message, .. } => {
            let m = message.to_ascii_lowercase();
            if m.contains("already exists") {
                "duplicate"
            } else if m.contains("does not exist") {
                "reference"
            } else {
                "validation"
            }
        }
    }
}

fn explain(e: &KfError) -> &'static str {
    match e {
        KfError::Rejected { message, .. } => {
            let m = message.to_ascii_lowercase();
            if m.contains("credit note") || (m.contains("negative") && m.contains("total")) {
                "KashFlow refused the refund's credit note (an invoice with negative quantities): this account does not take them. Record the refund in KashFlow by hand, then mark the dead letter handled."
            } else if m.contains("vat") {
                "KashFlow refused a line's VAT: the rate must be one set up in the account (VAT settings) and the amount must match it. Fix the mapping's VAT rates or the account, then replay."
            } else if m.contains("nominal") {
                "A nominal code the connector used does not exist (or is not a sales nominal) in this KashFlow account. Fix the connection's nominal codes or the mapping's accounts, then replay."
            } else if m.contains("product") {
                "A product code on a line does not exist under its nominal. Create the product (or enable create_missing_products), then replay."
            } else if m.contains("stock") {
                "KashFlow has too little stock for a line. Adjust the stock in KashFlow, then replay."
            } else if m.contains("payment") {
                "KashFlow refused a payment line (method, bank account or amount). Check the mapping's payment methods, then replay."
            } else {
                "KashFlow refused the request; see the detail, fix the cause (mapping, KashFlow data or configuration), then replay."
            }
        }
        KfError::NotFound(_) => "A record the command refers to is not in KashFlow (e.g. the invoice a payment is for). Post it first, then replay.",
        KfError::Auth(_) => "KashFlow refused the connection's login (user, password or memorable word, or the account is locked). Fix the credentials, restart the connector, then replay.",
        KfError::Unavailable { .. } => "KashFlow stayed unavailable through every retry. Replay the command once it is back.",
        KfError::Store(_) => "The connector's own database failed; check it, the command is retried.",
        KfError::Invalid { .. } => "The command cannot be posted as it is; see the detail, fix the cause (mapping, KashFlow data or configuration), then replay.",
    }
}

pub fn target_error(e: &KfError) -> TargetError {
    let (code, detail) = match e {
        KfError::Rejected {
            status,
            error,
            message,
        } => (
            if error.is_empty() {
                status.to_string()
            } else {
                error.clone()
            },
            message.clone(),
        ),
        KfError::NotFound(m) => ("NotFound".into(), m.clone()),
        other => (String::new(), other.to_string()),
    };
    TargetError {
        code,
        element: String::new(),
        detail,
        explanation: explain(e).into(),
        class: class_of(e).into(),
    }
}

impl From<KfError> for Failure {
    fn from(e: KfError) -> Self {
        let error = target_error(&e);
        match e {
            KfError::Unavailable { .. } | KfError::Store(_) => Failure::Transient(error),
            KfError::Invalid {
                class: "shutdown", ..
            } => Failure::Transient(error),
            // A refund or payment whose sale is not in KashFlow (yet): put back, then permanent.
            KfError::Invalid {
                class: crate::target::PREREQUISITE,
                ..
            } => Failure::NotYet(error),
            KfError::Rejected { .. }
            | KfError::NotFound(_)
            | KfError::Auth(_)
            | KfError::Invalid { .. } => Failure::Permanent(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_error_keeps_kashflows_words_and_is_permanent() {
        let e = KfError::Rejected {
            status: 400,
            error: "ValidationError".into(),
            message: "Line 1: VAT rate 17% is not set up for this account.".into(),
        };
        let Failure::Permanent(t) = Failure::from(e) else {
            panic!("validation is permanent");
        };
        assert_eq!(t.code, "ValidationError");
        assert_eq!(t.class, "validation");
        assert!(t.detail.contains("17%"));
        assert!(t.explanation.contains("VAT"));
        assert!(matches!(
            Failure::from(KfError::Unavailable {
                attempts: 6,
                reason: "HTTP 503".into()
            }),
            Failure::Transient(_)
        ));
    }

    #[test]
    fn a_refund_without_its_sale_waits_for_it() {
        let e = KfError::invalid(
            crate::target::PREREQUISITE,
            "the refund's sale was never posted",
        );
        let Failure::NotYet(t) = Failure::from(e) else {
            panic!("a missing sale is a prerequisite, put back before it fails");
        };
        assert_eq!(t.class, "prerequisite");
        assert!(t.detail.contains("never posted"));
    }
}
