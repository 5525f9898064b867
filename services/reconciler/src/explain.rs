//! Dead letters in words an operator can act on: what the failure class means and what to do.

/// The explanation shown beside a dead letter's reason, from its `dlq_error_class`.
pub fn explain(error_class: &str) -> &'static str {
    match error_class {
        "retries_exhausted" => {
            "The target kept failing with temporary errors (timeouts, 5xx, throttling) until the \
             retry budget ran out. Check the connection's health in `nopbridge status`, then replay."
        }
        "validation" | "balance" => {
            "The record breaks a rule of the mapping or of the target (a required field, a total \
             that does not balance, an unknown code). Fix the store data or the mapping config \
             named in the reason, reload, then replay."
        }
        "reference" | "missing_reference" => {
            "Something the document points at is missing in the target (an item, a customer, an \
             account) and the mapping does not allow creating it. Create or map it, then replay."
        }
        "auth" | "disconnected" => {
            "The connection's credentials were refused (the refresh token was revoked or expired). \
             Reconnect the connection, then replay."
        }
        "late_order" | "late_change" | "not_in_summary" => {
            "A daily-summary connection already posted the order's business day without it (or \
             with an earlier version): nopbridge will not post it again. Record the order, or the \
             difference, in the books by hand; replaying it only dead-letters it again \
             (services/transform/README.md, \"Late orders\")."
        }
        "decode" | "contract" => {
            "The record does not match the topic's contract (a producer bug or a wrong topic). \
             Replaying will fail the same way; report it with the trace."
        }
        _ => {
            "The target refused the record permanently; the reason gives its code and detail. \
             Fix the cause it names, then replay."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn every_class_has_an_action() {
        for class in [
            "retries_exhausted",
            "validation",
            "reference",
            "auth",
            "decode",
            "late_order",
            "x",
        ] {
            let text = explain(class);
            assert!(
                text.contains("replay") || text.contains("report"),
                "{class}: {text}"
            );
        }
        assert_ne!(explain("decode"), explain("validation"));
        assert!(explain("late_change").contains("by hand"));
    }
}
