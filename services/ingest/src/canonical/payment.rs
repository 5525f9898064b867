//! PaymentTransaction events derived from an order's payment status and refunded amount:
//! nopCommerce keeps no payment table (reference §1.12.5), so each observed change becomes a
//! transaction. A transaction depends only on the order states before and after it, so
//! deriving again after a crash gives the same transactions (and event ids).
use nopbridge_proto::events::v1 as pb;
use serde::{Deserialize, Serialize};

/// What ingest last saw of an order's payment side (stored with its content hash).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentState {
    /// nopbridge PaymentStatus number.
    pub payment_status: i32,
    pub refunded_minor: i64,
}

fn kind_name(k: pb::PaymentTransactionKind) -> &'static str {
    use pb::PaymentTransactionKind as K;
    match k {
        K::Unspecified => "unspecified",
        K::Authorization => "authorization",
        K::Capture => "capture",
        K::Refund => "refund",
        K::PartialRefund => "partial_refund",
        K::Void => "void",
    }
}

/// How far a payment got: pending < authorized < paid (refunds included) < voided.
fn rank(s: i32) -> u8 {
    use pb::PaymentStatus as S;
    match S::try_from(s).unwrap_or(S::Unspecified) {
        S::Pending | S::Unspecified => 0,
        S::Authorized => 1,
        S::Paid | S::PartiallyRefunded | S::Refunded => 2,
        S::Voided => 3,
    }
}

/// The transactions between `prev` (None: first sight, as if pending and unrefunded) and
/// `order`, with the state after them.
pub fn derive(
    prev: Option<PaymentState>,
    order: &pb::Order,
) -> (Vec<pb::PaymentTransaction>, PaymentState) {
    use pb::PaymentStatus as S;
    use pb::PaymentTransactionKind as K;
    let was = prev.map_or(S::Pending as i32, |p| p.payment_status);
    let refunded_before = prev.map_or(0, |p| p.refunded_minor);
    let now = order.payment_status;
    let total = order.order_total.clone().unwrap_or_default();
    let refunded = order.refunded_amount.clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut push = |kind: K, amount: pb::Money, cumulative: i64, status: S, reference: &str| {
        out.push(pb::PaymentTransaction {
            meta: None,
            transaction_id: format!("{}:{}:{}", order.order_id, kind_name(kind), cumulative),
            order_id: order.order_id,
            order_guid: order.order_guid.clone(),
            custom_order_number: order.custom_order_number.clone(),
            kind: kind as i32,
            amount: Some(amount),
            refunded_total: Some(pb::Money {
                minor_units: if matches!(kind, K::Refund | K::PartialRefund) {
                    cumulative
                } else {
                    refunded_before
                },
                currency: total.currency.clone(),
            }),
            payment_method_system_name: order.payment_method_system_name.clone(),
            gateway_reference: reference.to_string(),
            payment_status: status as i32,
            // Capture time is the paid date; a refund or void has no date at the store
            // (reference §1.12.5), so consumers use the event's occurred_at.
            occurred_at: match kind {
                K::Capture => order.paid_at,
                K::Authorization => order.created_at,
                _ => None,
            },
        });
    };
    if rank(was) < 1 && rank(now) == 1 {
        push(
            K::Authorization,
            total.clone(),
            total.minor_units,
            S::Authorized,
            &order.authorization_transaction_id,
        );
    }
    if rank(was) < 2 && rank(now) == 2 {
        let reference = if order.capture_transaction_id.is_empty() {
            &order.authorization_transaction_id
        } else {
            &order.capture_transaction_id
        };
        push(
            K::Capture,
            total.clone(),
            total.minor_units,
            S::Paid,
            reference,
        );
    }
    if refunded.minor_units > refunded_before {
        let (kind, status) = if now == S::Refunded as i32 {
            (K::Refund, S::Refunded)
        } else {
            (K::PartialRefund, S::PartiallyRefunded)
        };
        let delta = pb::Money {
            minor_units: refunded.minor_units - refunded_before,
            currency: refunded.currency.clone(),
        };
        push(
            kind,
            delta,
            refunded.minor_units,
            status,
            &order.capture_transaction_id,
        );
    }
    if rank(was) < 3 && rank(now) == 3 {
        push(
            K::Void,
            total.clone(),
            total.minor_units,
            S::Voided,
            &order.authorization_transaction_id,
        );
    }
    (
        out,
        PaymentState {
            payment_status: now,
            refunded_minor: refunded.minor_units.max(refunded_before),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::PaymentStatus as S;
    use pb::PaymentTransactionKind as K;

    fn usd(m: i64) -> Option<pb::Money> {
        Some(pb::Money {
            minor_units: m,
            currency: "USD".into(),
        })
    }

    fn order(status: S, refunded: i64) -> pb::Order {
        pb::Order {
            order_id: 42,
            payment_status: status as i32,
            order_total: usd(12_060),
            refunded_amount: usd(refunded),
            capture_transaction_id: "ch_1".into(),
            ..Default::default()
        }
    }

    fn kinds(t: &[pb::PaymentTransaction]) -> Vec<(K, i64, String)> {
        t.iter()
            .map(|t| {
                (
                    t.kind(),
                    t.amount.as_ref().map_or(0, |m| m.minor_units),
                    t.transaction_id.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn life_cycle_gives_one_transaction_per_change() {
        let (t, s1) = derive(None, &order(S::Pending, 0));
        assert!(t.is_empty());
        let (t, s2) = derive(Some(s1), &order(S::Paid, 0));
        assert_eq!(
            kinds(&t),
            vec![(K::Capture, 12_060, "42:capture:12060".into())]
        );
        let (t, s3) = derive(Some(s2), &order(S::Paid, 0));
        assert!(t.is_empty(), "no change, no transaction");
        let (t, s4) = derive(Some(s3), &order(S::PartiallyRefunded, 500));
        assert_eq!(
            kinds(&t),
            vec![(K::PartialRefund, 500, "42:partial_refund:500".into())]
        );
        assert_eq!(t[0].refunded_total, usd(500));
        let (t, _) = derive(Some(s4), &order(S::Refunded, 12_060));
        assert_eq!(
            kinds(&t),
            vec![(K::Refund, 11_560, "42:refund:12060".into())]
        );
    }

    #[test]
    fn first_sight_of_a_refunded_order_and_determinism() {
        let o = order(S::PartiallyRefunded, 800);
        let (a, state) = derive(None, &o);
        assert_eq!(
            kinds(&a),
            vec![
                (K::Capture, 12_060, "42:capture:12060".into()),
                (K::PartialRefund, 800, "42:partial_refund:800".into())
            ]
        );
        assert_eq!(derive(None, &o).0, a, "same input, same transactions");
        assert_eq!(
            state,
            PaymentState {
                payment_status: S::PartiallyRefunded as i32,
                refunded_minor: 800
            }
        );
    }

    #[test]
    fn authorization_then_void() {
        let (t, s) = derive(None, &order(S::Authorized, 0));
        assert_eq!(t[0].kind(), K::Authorization);
        let (t, _) = derive(Some(s), &order(S::Voided, 0));
        assert_eq!(kinds(&t), vec![(K::Void, 12_060, "42:void:12060".into())]);
    }
}
