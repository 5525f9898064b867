//! GP failures as the sink loop sees them: transient, or permanent with the eConnect error
//! number, procedure and description, a class, and what an operator should do.
use super::service::GpError;
use crate::target::Failure;
use nopbridge_proto::commands::v1::TargetError;

/// eConnect's subtotal mismatch (also a header/line SOPTYPE mismatch, MRKDNPCT without
/// DEFPRICING=1); confirmed (errata 7).
pub const SUBTOTAL_MISMATCH: i64 = 67;
/// Item does not allow back orders; confirmed (errata 7).
pub const BACK_ORDER: i64 = 4776;

pub fn class_of(e: &GpError, duplicate_document: i64) -> &'static str {
    match e {
        GpError::Invalid { class, .. } => class,
        GpError::Auth(_) => "auth",
        GpError::Config(_) => "config",
        GpError::Unavailable { .. } => "retries_exhausted",
        GpError::Store(_) => "internal",
        GpError::Rejected {
            number, exception, ..
        } => match *number {
            SUBTOTAL_MISMATCH => "arithmetic",
            BACK_ORDER => "stock",
            n if n == duplicate_document => "duplicate",
            _ if exception.contains("Schema") => "schema",
            _ => "validation",
        },
    }
}

fn explain(e: &GpError, duplicate_document: i64) -> &'static str {
    match e {
        GpError::Rejected { number, exception, .. } => match *number {
            SUBTOTAL_MISMATCH => "eConnect error 67: the header's SUBTOTAL is not the sum of the lines' extended prices (or a line's SOPTYPE differs from the header's). The connector checks this before sending, so the document was changed on the way or the connector has a bug; report it with the document number.",
            BACK_ORDER => "eConnect error 4776: an item on the document has too little stock at the site and does not allow back orders. Receive or adjust the stock in GP (or allow back orders on the item), then replay.",
            n if n == duplicate_document => "The SOP number is already used in GP by a different document (another customer or amount). Check the document in GP; renumber or remove one of them, then replay.",
            _ if exception.contains("Schema") => "eConnect refused the document's structure (element order, a required node). This is a connector bug; report it with the detail.",
            _ => "eConnect refused the document; see the error number and description, fix the cause in GP set-up (IDs, customer, item, site) or the mapping, then replay.",
        },
        GpError::Auth(_) => "The GP integration endpoint refused the shared secret or client certificate. Fix the connection's credentials, restart the connector, then replay.",
        GpError::Config(_) => "The GP integration endpoint or company is not reachable as configured. Fix the connection's endpoint, then replay.",
        GpError::Unavailable { .. } => "The GP integration endpoint stayed unavailable through every retry. Replay the command once it is back.",
        GpError::Store(_) => "The connector's own database failed; check it, the command is retried.",
        GpError::Invalid { .. } => "The command cannot be posted as it is; see the detail, fix the cause (mapping, GP set-up or configuration), then replay.",
    }
}

pub fn target_error(e: &GpError, duplicate_document: i64) -> TargetError {
    let (code, element, detail) = match e {
        GpError::Rejected {
            number,
            procedure,
            description,
            ..
        } => (
            if *number == 0 {
                String::new()
            } else {
                number.to_string()
            },
            procedure.clone(),
            description.clone(),
        ),
        other => (String::new(), String::new(), other.to_string()),
    };
    TargetError {
        code,
        element,
        detail,
        explanation: explain(e, duplicate_document).into(),
        class: class_of(e, duplicate_document).into(),
    }
}

pub fn failure(e: GpError, duplicate_document: i64) -> Failure {
    let error = target_error(&e, duplicate_document);
    match e {
        GpError::Unavailable { .. } | GpError::Store(_) => Failure::Transient(error),
        _ => Failure::Permanent(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(number: i64) -> GpError {
        GpError::Rejected {
            number,
            procedure: "taSopLineIvcInsert".into(),
            description: "Item does not allow back orders".into(),
            exception: "eConnectException".into(),
        }
    }

    #[test]
    fn back_orders_and_arithmetic_are_permanent_with_an_explanation() {
        let Failure::Permanent(t) = failure(rejected(4776), 9101) else {
            panic!("4776 is permanent");
        };
        assert_eq!(
            (t.code.as_str(), t.class.as_str(), t.element.as_str()),
            ("4776", "stock", "taSopLineIvcInsert")
        );
        assert!(t.explanation.contains("stock"));
        let Failure::Permanent(t) = failure(rejected(67), 9101) else {
            panic!("67 is permanent");
        };
        assert_eq!(t.class, "arithmetic");
        assert!(matches!(
            failure(
                GpError::Unavailable {
                    attempts: 6,
                    reason: "HTTP 503".into()
                },
                9101
            ),
            Failure::Transient(_)
        ));
    }
}
