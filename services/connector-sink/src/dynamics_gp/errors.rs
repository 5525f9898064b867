//! GP failures as the sink loop sees them: transient, or permanent with the eConnect error
//! number, procedure and description, a class, and what an operator should do.
use super::{config::GpErrorNumbers, service::GpError};
use crate::target::{Failure, PREREQUISITE};
use nopbridge_proto::commands::v1::TargetError;

/// eConnect's subtotal mismatch (also a header/line SOPTYPE mismatch, MRKDNPCT without
/// DEFPRICING=1); confirmed (errata 7).
pub const SUBTOTAL_MISMATCH: i64 = 67;
/// Item does not allow back orders; confirmed (errata 7).
pub const BACK_ORDER: i64 = 4776;

pub fn class_of(e: &GpError, numbers: &GpErrorNumbers) -> &'static str {
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
            n if n == numbers.duplicate_document
                || n == numbers.duplicate_adjustment
                || n == numbers.duplicate_payment =>
            {
                "duplicate"
            }
            n if n == numbers.unknown_item || n == numbers.unknown_site => "reference",
            _ if exception.contains("Schema") => "schema",
            _ => "validation",
        },
    }
}

fn explain(e: &GpError, numbers: &GpErrorNumbers) -> &'static str {
    match e {
        GpError::Rejected { number, exception, .. } => match *number {
            SUBTOTAL_MISMATCH => "eConnect error 67: the header's SUBTOTAL is not the sum of the lines' extended prices (or a line's SOPTYPE differs from the header's). The connector checks this before sending, so the document was changed on the way or the connector has a bug; report it with the document number.",
            BACK_ORDER => "eConnect error 4776: an item on the document has too little stock at the site and does not allow back orders. Receive or adjust the stock in GP (or allow back orders on the item), then replay.",
            n if n == numbers.duplicate_document => "The SOP number is already used in GP by a different document (another customer or amount). Check the document in GP; renumber or remove one of them, then replay.",
            n if n == numbers.duplicate_adjustment => "The inventory transaction number (IVDOCNBR) is already used in GP by a different adjustment (another item, site or quantity). Check the transaction in GP; remove or renumber it, then replay.",
            n if n == numbers.unknown_item => "GP has no item with this number (ITEMNMBR). Create the item in GP, or map the store SKU to the GP item number (items.sku_overrides in the mapping), then replay.",
            n if n == numbers.unknown_site => "GP has no site with this ID (LOCNCODE / TRXLOCTN). Create the site in GP, or fix the site in the mapping (stock.sites, stock.default_site, dynamics_gp.site) or the connection's `site`, then replay.",
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

pub fn target_error(e: &GpError, numbers: &GpErrorNumbers) -> TargetError {
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
        explanation: explain(e, numbers).into(),
        class: class_of(e, numbers).into(),
    }
}

pub fn failure(e: GpError, numbers: &GpErrorNumbers) -> Failure {
    let error = target_error(&e, numbers);
    match e {
        GpError::Unavailable { .. } | GpError::Store(_) => Failure::Transient(error),
        GpError::Invalid {
            class: PREREQUISITE,
            ..
        } => Failure::NotYet(error),
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
        let numbers = GpErrorNumbers::default();
        let Failure::Permanent(t) = failure(rejected(4776), &numbers) else {
            panic!("4776 is permanent");
        };
        assert_eq!(
            (t.code.as_str(), t.class.as_str(), t.element.as_str()),
            ("4776", "stock", "taSopLineIvcInsert")
        );
        assert!(t.explanation.contains("stock"));
        let Failure::Permanent(t) = failure(rejected(67), &numbers) else {
            panic!("67 is permanent");
        };
        assert_eq!(t.class, "arithmetic");
        assert!(matches!(
            failure(
                GpError::Unavailable {
                    attempts: 6,
                    reason: "HTTP 503".into()
                },
                &numbers
            ),
            Failure::Transient(_)
        ));
    }
}
