//! From an order's statuses to what the books should do.
//!
//! Order: deleted → `status_map.deleted`; then the order-status map, the shipping-status map
//! and finally the payment-status map; the first action that is not `continue` decides.
//! Defaults (used for every key the config leaves out):
//!
//! | map | key | default |
//! |---|---|---|
//! | order | cancelled | void |
//! | order | pending, processing, complete | continue |
//! | shipping | every status | continue |
//! | payment | pending, authorized | wait |
//! | payment | paid, partially_refunded, refunded | post / refund / refund |
//! | payment | voided | void |
//! | deleted | | void |
//!
//! `refund` posts the sale (if it was not posted yet); the refund documents themselves come
//! from `canonical.payment_transaction` events, which carry each refund's amount (the order
//! keeps only the cumulative `RefundedAmount`, reference §1.12.5).
use crate::config::{
    OrderStatusKey, PaymentStatusKey, ShippingStatusKey, StatusAction, StatusMapConfig,
};
use crate::pb::events::{Order, OrderStatus, PaymentStatus, ShippingStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    Invoice,
    Post,
    Void,
    Refund,
}

fn order_key(s: OrderStatus) -> Option<OrderStatusKey> {
    Some(match s {
        OrderStatus::Pending => OrderStatusKey::Pending,
        OrderStatus::Processing => OrderStatusKey::Processing,
        OrderStatus::Complete => OrderStatusKey::Complete,
        OrderStatus::Cancelled => OrderStatusKey::Cancelled,
        OrderStatus::Unspecified => return None,
    })
}

fn payment_key(s: PaymentStatus) -> Option<PaymentStatusKey> {
    Some(match s {
        PaymentStatus::Pending => PaymentStatusKey::Pending,
        PaymentStatus::Authorized => PaymentStatusKey::Authorized,
        PaymentStatus::Paid => PaymentStatusKey::Paid,
        PaymentStatus::PartiallyRefunded => PaymentStatusKey::PartiallyRefunded,
        PaymentStatus::Refunded => PaymentStatusKey::Refunded,
        PaymentStatus::Voided => PaymentStatusKey::Voided,
        PaymentStatus::Unspecified => return None,
    })
}

fn shipping_key(s: ShippingStatus) -> Option<ShippingStatusKey> {
    Some(match s {
        ShippingStatus::NotRequired => ShippingStatusKey::NotRequired,
        ShippingStatus::NotYetShipped => ShippingStatusKey::NotYetShipped,
        ShippingStatus::PartiallyShipped => ShippingStatusKey::PartiallyShipped,
        ShippingStatus::Shipped => ShippingStatusKey::Shipped,
        ShippingStatus::Delivered => ShippingStatusKey::Delivered,
        ShippingStatus::Unspecified => return None,
    })
}

pub fn default_order_action(k: OrderStatusKey) -> StatusAction {
    match k {
        OrderStatusKey::Cancelled => StatusAction::Void,
        _ => StatusAction::Continue,
    }
}

pub fn default_payment_action(k: PaymentStatusKey) -> StatusAction {
    match k {
        PaymentStatusKey::Pending | PaymentStatusKey::Authorized => StatusAction::Wait,
        PaymentStatusKey::Paid => StatusAction::Post,
        PaymentStatusKey::PartiallyRefunded | PaymentStatusKey::Refunded => StatusAction::Refund,
        PaymentStatusKey::Voided => StatusAction::Void,
    }
}

impl StatusMapConfig {
    pub fn order_action(&self, k: OrderStatusKey) -> StatusAction {
        self.order
            .get(&k)
            .copied()
            .unwrap_or_else(|| default_order_action(k))
    }

    pub fn payment_action(&self, k: PaymentStatusKey) -> StatusAction {
        self.payment
            .get(&k)
            .copied()
            .unwrap_or_else(|| default_payment_action(k))
    }

    pub fn shipping_action(&self, k: ShippingStatusKey) -> StatusAction {
        self.shipping
            .get(&k)
            .copied()
            .unwrap_or(StatusAction::Continue)
    }

    /// True when an order can be invoiced before payment, so a later payment must never
    /// turn into a second document (a receipt): such connections always use invoice + payment.
    pub fn invoices_before_payment(&self) -> bool {
        [PaymentStatusKey::Pending, PaymentStatusKey::Authorized]
            .into_iter()
            .any(|k| self.payment_action(k) == StatusAction::Invoice)
            || [
                OrderStatusKey::Pending,
                OrderStatusKey::Processing,
                OrderStatusKey::Complete,
            ]
            .into_iter()
            .any(|k| self.order_action(k) == StatusAction::Invoice)
            || self.shipping.values().any(|a| *a == StatusAction::Invoice)
    }
}

fn to_decision(a: StatusAction) -> Option<Decision> {
    match a {
        StatusAction::Continue => None,
        StatusAction::Wait | StatusAction::Ignore => Some(Decision::Nothing),
        StatusAction::Invoice => Some(Decision::Invoice),
        StatusAction::Post => Some(Decision::Post),
        StatusAction::Void => Some(Decision::Void),
        StatusAction::Refund => Some(Decision::Refund),
    }
}

/// Paid, possibly refunded since: the sale happened and was paid for.
pub fn is_paid(order: &Order) -> bool {
    matches!(
        order.payment_status(),
        PaymentStatus::Paid | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded
    )
}

pub fn decide(cfg: &StatusMapConfig, order: &Order, deleted: bool) -> Decision {
    if deleted || order.deleted {
        return to_decision(cfg.deleted.unwrap_or(StatusAction::Void)).unwrap_or(Decision::Nothing);
    }
    let from_order = order_key(order.order_status()).and_then(|k| to_decision(cfg.order_action(k)));
    let from_shipping =
        || shipping_key(order.shipping_status()).and_then(|k| to_decision(cfg.shipping_action(k)));
    let from_payment = || {
        payment_key(order.payment_status()).map_or(Some(Decision::Nothing), |k| {
            to_decision(cfg.payment_action(k))
        })
    };
    from_order
        .or_else(from_shipping)
        .or_else(from_payment)
        .unwrap_or(Decision::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(o: OrderStatus, p: PaymentStatus, s: ShippingStatus) -> Order {
        Order {
            order_status: o as i32,
            payment_status: p as i32,
            shipping_status: s as i32,
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        use OrderStatus as O;
        use PaymentStatus as P;
        use ShippingStatus as S;
        let cfg = StatusMapConfig::default();
        let cases = [
            (O::Pending, P::Pending, S::NotYetShipped, Decision::Nothing),
            (
                O::Processing,
                P::Authorized,
                S::NotYetShipped,
                Decision::Nothing,
            ),
            (O::Processing, P::Paid, S::NotYetShipped, Decision::Post),
            (O::Complete, P::Paid, S::Delivered, Decision::Post),
            (O::Cancelled, P::Paid, S::NotYetShipped, Decision::Void),
            (O::Processing, P::Voided, S::NotYetShipped, Decision::Void),
            (O::Complete, P::Refunded, S::Delivered, Decision::Refund),
            (
                O::Complete,
                P::PartiallyRefunded,
                S::Delivered,
                Decision::Refund,
            ),
            (
                O::Unspecified,
                P::Unspecified,
                S::Unspecified,
                Decision::Nothing,
            ),
        ];
        for (o, p, s, want) in cases {
            assert_eq!(
                decide(&cfg, &order(o, p, s), false),
                want,
                "{o:?} {p:?} {s:?}"
            );
        }
        assert_eq!(
            decide(&cfg, &order(O::Complete, P::Paid, S::Delivered), true),
            Decision::Void
        );
        assert!(!cfg.invoices_before_payment());
    }

    #[test]
    fn configured_maps_override_defaults() {
        let mut cfg = StatusMapConfig::default();
        cfg.payment
            .insert(PaymentStatusKey::Pending, StatusAction::Invoice);
        cfg.shipping
            .insert(ShippingStatusKey::NotYetShipped, StatusAction::Wait);
        cfg.order
            .insert(OrderStatusKey::Cancelled, StatusAction::Ignore);
        cfg.deleted = Some(StatusAction::Ignore);
        use OrderStatus as O;
        use PaymentStatus as P;
        use ShippingStatus as S;
        let cases = [
            (O::Pending, P::Pending, S::NotRequired, Decision::Invoice),
            // shipping gate: wait until shipped
            (O::Processing, P::Paid, S::NotYetShipped, Decision::Nothing),
            (O::Processing, P::Paid, S::Shipped, Decision::Post),
            (O::Cancelled, P::Voided, S::NotYetShipped, Decision::Nothing),
        ];
        for (o, p, s, want) in cases {
            assert_eq!(
                decide(&cfg, &order(o, p, s), false),
                want,
                "{o:?} {p:?} {s:?}"
            );
        }
        assert_eq!(
            decide(&cfg, &order(O::Complete, P::Paid, S::Delivered), true),
            Decision::Nothing
        );
        assert!(cfg.invoices_before_payment());
    }
}
