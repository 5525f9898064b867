//! QuickBooks failures as the sink loop sees them: transient, disconnected or permanent, with
//! the Fault's code, element and detail, a class, and what an operator should do.
use super::service::QboError;
use crate::target::{Failure, PREREQUISITE};
use nopbridge_proto::commands::v1::TargetError;

/// The error class recorded on the result and the dead letter.
pub fn class_of(e: &QboError) -> &'static str {
    match e {
        QboError::Invalid { class, .. } => class,
        QboError::Disconnected(_) => "auth",
        QboError::Unavailable { .. } => "retries_exhausted",
        QboError::Store(_) => "internal",
        QboError::Rejected { .. } => match e.code().unwrap_or_default() {
            "6240" | "6140" | "630" => "duplicate",
            "610" | "620" | "2500" => "reference",
            "100" | "120" | "3100" | "3200" => "auth",
            "5010" => "conflict",
            _ => "validation",
        },
    }
}

/// What a fault means and what to do, for the operator reading the DLQ.
pub fn explain(code: &str) -> &'static str {
    match code {
        "6240" => "The name is already used by another customer, vendor or employee in QuickBooks. Rename one of them or set display_name_conflict, then replay.",
        "6140" => "The document number is already used by another document of this type. Check for a manual entry with that number.",
        "610" => "A referenced customer, item or account is inactive or deleted in QuickBooks. Reactivate it (or remove the stale mapping), then replay.",
        "2500" => "A referenced id is invalid (deleted, inactive or a category item). Fix the reference in QuickBooks or the mapping, then replay.",
        "2010" => "QuickBooks does not accept a field the connector sent; this is a connector bug, report it.",
        "2020" => "A field QuickBooks requires is missing; check the mapping for this document type.",
        "2050" => "A value is longer than QuickBooks allows; check the mapping's fitting of names and numbers.",
        "5010" => "The document changed in QuickBooks while the connector updated it, more times than it retries. Replay the command.",
        "6000" => "QuickBooks refused the document for a business rule (see the detail); fix it in QuickBooks or the mapping, then replay.",
        "6070" | "6090" | "6100" => "A line's amounts, discount or tax code are inconsistent; check the mapping of lines and tax codes.",
        "6190" | "6210" => "The company's subscription or accounting period does not allow posting on this date.",
        "4000" | "4001" | "4002" => "A lookup query was refused; this is a connector bug, report it with the detail.",
        "100" | "120" | "3100" | "3200" => "QuickBooks refused the credentials; re-authorise the connection.",
        _ => "QuickBooks refused the request; see the code and detail, fix the cause, then replay.",
    }
}

pub fn target_error(e: &QboError) -> TargetError {
    let class = class_of(e).to_string();
    match e {
        QboError::Rejected { status, .. } => {
            let f = e.first_fault().cloned().unwrap_or_default();
            let code = if f.code.is_empty() {
                status.to_string()
            } else {
                f.code.clone()
            };
            let detail = if f.detail.is_empty() {
                f.message.clone()
            } else {
                f.detail.clone()
            };
            TargetError {
                explanation: explain(&code).into(),
                code,
                element: f.element,
                detail,
                class,
            }
        }
        other => TargetError {
            code: String::new(),
            element: String::new(),
            detail: other.to_string(),
            explanation: match other {
                QboError::Disconnected(_) => "The connection's authorisation was revoked or expired. Re-authorise it; waiting commands then continue, dead-lettered ones can be replayed.".into(),
                QboError::Unavailable { .. } => "QuickBooks stayed unavailable through every retry. Replay the command once it is back.".into(),
                QboError::Store(_) => "The connector's own database failed; check it, the command is retried.".into(),
                _ => "The command cannot be posted as it is; see the detail, fix the cause (mapping, QuickBooks data or configuration), then replay.".into(),
            },
            class,
        },
    }
}

impl From<QboError> for Failure {
    fn from(e: QboError) -> Self {
        let error = target_error(&e);
        match e {
            QboError::Disconnected(_) => Failure::Disconnected(error),
            QboError::Unavailable { .. } | QboError::Store(_) => Failure::Transient(error),
            // The connector stopped mid-command: nothing is wrong with the command.
            QboError::Invalid {
                class: "shutdown", ..
            } => Failure::Transient(error),
            QboError::Invalid {
                class: PREREQUISITE,
                ..
            } => Failure::NotYet(error),
            QboError::Rejected { .. } | QboError::Invalid { .. } => Failure::Permanent(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quickbooks::Fault;

    #[test]
    fn a_fault_keeps_its_code_element_and_detail_and_says_what_to_do() {
        let e = QboError::Rejected {
            status: 400,
            faults: vec![Fault {
                code: "6240".into(),
                element: "DisplayName".into(),
                message: "Duplicate Name Exists Error".into(),
                detail: "The name supplied already exists.".into(),
            }],
        };
        let Failure::Permanent(t) = Failure::from(e) else {
            panic!("a 6240 is permanent");
        };
        assert_eq!(
            (t.code.as_str(), t.element.as_str(), t.class.as_str()),
            ("6240", "DisplayName", "duplicate")
        );
        assert_eq!(t.detail, "The name supplied already exists.");
        assert!(t.explanation.contains("display_name_conflict"));
    }

    #[test]
    fn unavailable_and_stopping_are_transient_and_revoked_credentials_disconnect() {
        let unavailable = QboError::Unavailable {
            attempts: 6,
            reason: "HTTP 503".into(),
        };
        assert!(matches!(Failure::from(unavailable), Failure::Transient(_)));
        assert!(matches!(
            Failure::from(QboError::invalid("shutdown", "connector is stopping")),
            Failure::Transient(_)
        ));
        assert!(matches!(
            Failure::from(QboError::Disconnected("invalid_grant".into())),
            Failure::Disconnected(t) if t.class == "auth"
        ));
    }
}
