//! OrderProcessingService (CORE470): the order-processing actions with their guards
//! (Can… checks), status transitions, order notes, inventory moves and events.

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::events::EventKind;
use crate::model::{OrderStatus, PaymentStatus, ShippingStatus};
use crate::money::db4;
use crate::store::{Store, StoreError, StoreResult};

/// Refund, partial refund and void exist as gateway (online) and offline variants; they
/// differ in guards and in the note text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Online,
    Offline,
}

impl Store {
    fn note(&mut self, order_id: i32, text: String, now: DateTime<Utc>) {
        self.add_order_note(order_id, text, false, now);
    }

    /// `SetOrderStatusAsync`: note, reward points, OrderStatusChangedEvent.
    pub fn set_order_status(
        &mut self,
        order_id: i32,
        status: OrderStatus,
        notify_customer: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let order = self.order_mut(order_id)?;
        let previous = order.order_status();
        if previous == status {
            return Ok(());
        }
        order.order_status_id = status.id();
        let store_id = order.store_id;
        self.note(
            order_id,
            format!("Order status has been changed to {status}"),
            now,
        );
        if notify_customer && self.settings.write_email_notes {
            if status == OrderStatus::Complete {
                self.note(order_id, "\"Order completed\" email (to customer) has been queued. Queued email identifier: 0.".into(), now);
            }
            if status == OrderStatus::Cancelled {
                self.note(order_id, "\"Order cancelled\" email (to customer) has been queued. Queued email identifier: 0.".into(), now);
            }
        }
        // RewardPointsSettings.PointsForPurchases_Awarded defaults to Complete.
        if status == OrderStatus::Complete {
            self.award_reward_points(order_id, now);
        }
        if status == OrderStatus::Cancelled {
            self.reduce_reward_points(order_id, now);
        }
        self.raise(EventKind::OrderStatusChanged, order_id, Some(store_id), now);
        Ok(())
    }

    /// Points for purchases: 1 point per 10 units of the order total (registered customers).
    fn award_reward_points(&mut self, order_id: i32, now: DateTime<Utc>) {
        let Some(o) = self.order(order_id) else {
            return;
        };
        if o.reward_points_history_entry_id.is_some() {
            return;
        }
        let is_guest = self.customer(o.customer_id).is_none_or(|c| c.is_guest());
        let points = (o.order_total / Decimal::TEN).trunc().to_i32().unwrap_or(0);
        if is_guest || points <= 0 {
            return;
        }
        let (customer_id, store_id) = (o.customer_id, o.store_id);
        let entry = self.add_reward_points(
            customer_id,
            store_id,
            points,
            Decimal::ZERO,
            format!("Earned points for order #{}", o.custom_order_number),
            None,
            now,
        );
        if let Ok(o) = self.order_mut(order_id) {
            o.reward_points_history_entry_id = Some(entry);
        }
    }

    fn reduce_reward_points(&mut self, order_id: i32, now: DateTime<Utc>) {
        let Some(o) = self.order(order_id) else {
            return;
        };
        let Some(entry) = o
            .reward_points_history_entry_id
            .and_then(|id| self.reward_points_entry(id))
        else {
            return;
        };
        let (customer_id, store_id, points, number) = (
            o.customer_id,
            o.store_id,
            entry.points,
            o.custom_order_number.clone(),
        );
        self.add_reward_points(
            customer_id,
            store_id,
            -points,
            Decimal::ZERO,
            format!("Reduced points for order #{number}"),
            None,
            now,
        );
    }

    /// `ReturnBackRedeemedRewardPointsAsync` (on cancel).
    fn return_back_redeemed_points(&mut self, order_id: i32, now: DateTime<Utc>) {
        let Some(o) = self.order(order_id) else {
            return;
        };
        let Some(entry) = o
            .redeemed_reward_points_entry_id
            .and_then(|id| self.reward_points_entry(id))
        else {
            return;
        };
        let (customer_id, store_id, points, number) = (
            o.customer_id,
            o.store_id,
            -entry.points,
            o.custom_order_number.clone(),
        );
        self.add_reward_points(
            customer_id,
            store_id,
            points,
            Decimal::ZERO,
            format!("Returned back for order #{number}"),
            None,
            now,
        );
    }

    /// `CheckOrderStatusAsync` (reference §2, automatic transitions).
    pub fn check_order_status(&mut self, order_id: i32, now: DateTime<Utc>) -> StoreResult<()> {
        let order = self.order_mut(order_id)?;
        if order.payment_status() == PaymentStatus::Paid && order.paid_date_utc.is_none() {
            order.paid_date_utc = Some(now);
        }
        let (os, ps, ss) = (
            order.order_status(),
            order.payment_status(),
            order.shipping_status(),
        );
        match os {
            OrderStatus::Pending => {
                if matches!(ps, PaymentStatus::Authorized | PaymentStatus::Paid)
                    || matches!(
                        ss,
                        ShippingStatus::PartiallyShipped
                            | ShippingStatus::Shipped
                            | ShippingStatus::Delivered
                    )
                {
                    self.set_order_status(order_id, OrderStatus::Processing, false, now)?;
                }
            }
            OrderStatus::Cancelled | OrderStatus::Complete => return Ok(()),
            OrderStatus::Processing => {}
        }
        if ps == PaymentStatus::Paid {
            let completed = match ss {
                ShippingStatus::ShippingNotRequired => true,
                _ if self.settings.complete_order_when_delivered => ss == ShippingStatus::Delivered,
                _ => matches!(ss, ShippingStatus::Shipped | ShippingStatus::Delivered),
            };
            if completed {
                self.set_order_status(order_id, OrderStatus::Complete, true, now)?;
            }
        }
        Ok(())
    }

    /// `ProcessOrderPaidAsync`: OrderPaidEvent (+ email notes when templates are active).
    pub fn process_order_paid(&mut self, order_id: i32, now: DateTime<Utc>) {
        let Some(o) = self.order(order_id) else {
            return;
        };
        let (store_id, total) = (o.store_id, o.order_total);
        self.raise(EventKind::OrderPaid, order_id, Some(store_id), now);
        if self.settings.write_email_notes && !total.is_zero() {
            self.note(order_id, "\"Order paid\" email (to store owner) has been queued. Queued email identifier: 0.".into(), now);
        }
    }

    fn order_ref(&self, order_id: i32) -> StoreResult<&crate::model::Order> {
        self.order(order_id).ok_or(StoreError::NotFound("Order"))
    }

    pub fn can_mark_order_as_paid(&self, order_id: i32) -> StoreResult<bool> {
        let o = self.order_ref(order_id)?;
        Ok(o.order_status() != OrderStatus::Cancelled
            && !matches!(
                o.payment_status(),
                PaymentStatus::Paid | PaymentStatus::Refunded | PaymentStatus::Voided
            ))
    }

    pub fn mark_order_as_paid(&mut self, order_id: i32, now: DateTime<Utc>) -> StoreResult<()> {
        if !self.can_mark_order_as_paid(order_id)? {
            return Err(StoreError::Refused(
                "You can't mark this order as paid".into(),
            ));
        }
        let o = self.order_mut(order_id)?;
        o.payment_status_id = PaymentStatus::Paid.id();
        o.paid_date_utc = Some(now);
        self.note(order_id, "Order has been marked as paid".into(), now);
        self.check_order_status(order_id, now)?;
        if self.order_ref(order_id)?.payment_status() == PaymentStatus::Paid {
            self.process_order_paid(order_id, now);
        }
        Ok(())
    }

    pub fn can_mark_order_as_authorized(&self, order_id: i32) -> StoreResult<bool> {
        let o = self.order_ref(order_id)?;
        Ok(o.order_status() != OrderStatus::Cancelled
            && o.payment_status() == PaymentStatus::Pending)
    }

    pub fn mark_as_authorized(&mut self, order_id: i32, now: DateTime<Utc>) -> StoreResult<()> {
        if !self.can_mark_order_as_authorized(order_id)? {
            return Err(StoreError::Refused(
                "You can't mark this order as authorized".into(),
            ));
        }
        self.order_mut(order_id)?.payment_status_id = PaymentStatus::Authorized.id();
        self.note(order_id, "Order has been marked as authorized".into(), now);
        self.check_order_status(order_id, now)
    }

    pub fn can_capture(&self, order_id: i32) -> StoreResult<bool> {
        let o = self.order_ref(order_id)?;
        Ok(o.order_status() != OrderStatus::Cancelled
            && o.order_status() != OrderStatus::Pending
            && o.payment_status() == PaymentStatus::Authorized
            && self.settings.gateway.supports_capture)
    }

    pub fn capture(&mut self, order_id: i32, now: DateTime<Utc>) -> StoreResult<()> {
        if !self.can_capture(order_id)? {
            return Err(StoreError::Refused("Cannot do capture for order.".into()));
        }
        let o = self.order_mut(order_id)?;
        o.payment_status_id = PaymentStatus::Paid.id();
        o.paid_date_utc = Some(now);
        o.capture_transaction_id = Some(format!("cap_{}", o.order_guid.simple()));
        o.capture_transaction_result = Some("Captured".into());
        self.note(order_id, "Order has been captured".into(), now);
        self.check_order_status(order_id, now)?;
        if self.order_ref(order_id)?.payment_status() == PaymentStatus::Paid {
            self.process_order_paid(order_id, now);
        }
        Ok(())
    }

    pub fn can_cancel_order(&self, order_id: i32) -> StoreResult<bool> {
        Ok(self.order_ref(order_id)?.order_status() != OrderStatus::Cancelled)
    }

    /// `CancelOrderAsync`: status Cancelled, note, redeemed points returned, inventory put
    /// back for every item.
    pub fn cancel_order(
        &mut self,
        order_id: i32,
        notify_customer: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if !self.can_cancel_order(order_id)? {
            return Err(StoreError::Refused("Cannot do cancel for order.".into()));
        }
        self.set_order_status(order_id, OrderStatus::Cancelled, notify_customer, now)?;
        self.note(order_id, "Order has been cancelled".into(), now);
        self.return_back_redeemed_points(order_id, now);
        self.restore_inventory(
            order_id,
            &format!("The stock quantity has been increased by canceling the order #{order_id}"),
            now,
        )
    }

    /// Stock back for a cancelled or deleted order: shipped multi-warehouse items are
    /// reverse-booked (`ReverseBookedInventoryAsync`), then every item goes through
    /// AdjustInventory(+quantity).
    fn restore_inventory(
        &mut self,
        order_id: i32,
        message: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let shipped: Vec<(i32, i32, i32)> = self
            .shipments_of(order_id)
            .into_iter()
            .filter(|s| s.shipped_date_utc.is_some())
            .flat_map(|s| self.shipment_items_of(s.id))
            .filter_map(|si| {
                self.order_item(si.order_item_id)
                    .map(|oi| (oi.product_id, si.warehouse_id, si.quantity))
            })
            .collect();
        for (product_id, warehouse_id, qty) in shipped {
            self.reverse_booked_inventory(product_id, warehouse_id, qty, message.to_string(), now);
        }
        let items: Vec<(i32, i32)> = self
            .items_of(order_id)
            .iter()
            .map(|i| (i.product_id, i.quantity))
            .collect();
        for (product_id, quantity) in items {
            self.adjust_inventory(product_id, quantity, message.to_string(), now)?;
        }
        Ok(())
    }

    /// `DeleteOrderAsync`: unless already cancelled, points and stock are given back; then
    /// the soft delete (reads answer 404 from now on) and a note.
    pub fn delete_order(&mut self, order_id: i32, now: DateTime<Utc>) -> StoreResult<()> {
        if self.order_ref(order_id)?.order_status() != OrderStatus::Cancelled {
            self.return_back_redeemed_points(order_id, now);
            self.reduce_reward_points(order_id, now);
            self.restore_inventory(
                order_id,
                &format!("The stock quantity has been increased by deleting the order #{order_id}"),
                now,
            )?;
        }
        self.order_mut(order_id)?.deleted = true;
        self.note(order_id, "Order has been deleted".into(), now);
        Ok(())
    }

    pub fn can_refund(&self, order_id: i32, mode: Mode) -> StoreResult<bool> {
        let o = self.order_ref(order_id)?;
        if o.order_total.is_zero() {
            return Ok(false);
        }
        // A full refund is refused once a partial refund was made.
        if o.refunded_amount > Decimal::ZERO {
            return Ok(false);
        }
        Ok(o.payment_status() == PaymentStatus::Paid
            && (mode == Mode::Offline || self.settings.gateway.supports_refund))
    }

    /// `RefundAsync` / `RefundOfflineAsync`: the whole order total.
    pub fn refund(
        &mut self,
        order_id: i32,
        mode: Mode,
        now: DateTime<Utc>,
    ) -> StoreResult<Decimal> {
        if !self.can_refund(order_id, mode)? {
            return Err(StoreError::Refused(match mode {
                Mode::Online => "Cannot do refund for order.".into(),
                Mode::Offline => "You can't refund this order".into(),
            }));
        }
        let o = self.order_mut(order_id)?;
        let amount = o.order_total;
        o.refunded_amount = db4(o.refunded_amount + amount);
        o.payment_status_id = PaymentStatus::Refunded.id();
        let store_id = o.store_id;
        let text = match mode {
            Mode::Online => format!("Order has been refunded. Amount = {amount}"),
            Mode::Offline => format!("Order has been marked as refunded. Amount = {amount}"),
        };
        self.note(order_id, text, now);
        self.check_order_status(order_id, now)?;
        self.raise(EventKind::OrderRefunded, order_id, Some(store_id), now);
        Ok(amount)
    }

    pub fn can_partially_refund(
        &self,
        order_id: i32,
        amount: Decimal,
        mode: Mode,
    ) -> StoreResult<bool> {
        let o = self.order_ref(order_id)?;
        if o.order_total.is_zero() || amount <= Decimal::ZERO {
            return Ok(false);
        }
        let can_be_refunded = o.order_total - o.refunded_amount;
        if can_be_refunded <= Decimal::ZERO || amount > can_be_refunded {
            return Ok(false);
        }
        Ok(matches!(
            o.payment_status(),
            PaymentStatus::Paid | PaymentStatus::PartiallyRefunded
        ) && (mode == Mode::Offline || self.settings.gateway.supports_partial_refund))
    }

    /// `PartiallyRefundAsync` / `PartiallyRefundOfflineAsync`: Refunded once the whole total
    /// is refunded, PartiallyRefunded before.
    pub fn partially_refund(
        &mut self,
        order_id: i32,
        amount: Decimal,
        mode: Mode,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if !self.can_partially_refund(order_id, amount, mode)? {
            return Err(StoreError::Refused(match mode {
                Mode::Online => "Cannot do partial refund for order.".into(),
                Mode::Offline => "You can't partially refund (offline) this order".into(),
            }));
        }
        let o = self.order_mut(order_id)?;
        let total_refunded = o.refunded_amount + amount;
        o.refunded_amount = db4(total_refunded);
        o.payment_status_id = if total_refunded == o.order_total {
            PaymentStatus::Refunded.id()
        } else {
            PaymentStatus::PartiallyRefunded.id()
        };
        let store_id = o.store_id;
        let text = match mode {
            Mode::Online => format!("Order has been partially refunded. Amount = {amount}"),
            Mode::Offline => {
                format!("Order has been marked as partially refunded. Amount = {amount}")
            }
        };
        self.note(order_id, text, now);
        self.check_order_status(order_id, now)?;
        self.raise(EventKind::OrderRefunded, order_id, Some(store_id), now);
        Ok(())
    }

    pub fn can_void(&self, order_id: i32, mode: Mode) -> StoreResult<bool> {
        let o = self.order_ref(order_id)?;
        Ok(!o.order_total.is_zero()
            && o.payment_status() == PaymentStatus::Authorized
            && (mode == Mode::Offline || self.settings.gateway.supports_void))
    }

    pub fn void(&mut self, order_id: i32, mode: Mode, now: DateTime<Utc>) -> StoreResult<()> {
        if !self.can_void(order_id, mode)? {
            return Err(StoreError::Refused(match mode {
                Mode::Online => "Cannot do void for order.".into(),
                Mode::Offline => "You can't void this order".into(),
            }));
        }
        let o = self.order_mut(order_id)?;
        o.payment_status_id = PaymentStatus::Voided.id();
        let store_id = o.store_id;
        let text = match mode {
            Mode::Online => "Order has been voided",
            Mode::Offline => "Order has been marked as voided",
        };
        self.note(order_id, text.into(), now);
        self.check_order_status(order_id, now)?;
        self.raise(EventKind::OrderVoided, order_id, Some(store_id), now);
        Ok(())
    }

    /// True while some order item is not fully covered by shipments, or a shipment of the
    /// order is not shipped yet (HasItemsToAddToShipment / HasItemsToShip).
    fn has_items_to_ship(&self, order_id: i32) -> bool {
        let unassigned = self
            .items_of(order_id)
            .iter()
            .filter(|i| {
                self.product(i.product_id)
                    .is_some_and(|p| p.is_ship_enabled)
            })
            .any(|i| self.shipment_quantity(i.id) < i.quantity);
        unassigned
            || self
                .shipments_of(order_id)
                .iter()
                .any(|s| s.shipped_date_utc.is_none())
    }

    fn has_items_to_deliver(&self, order_id: i32) -> bool {
        self.shipments_of(order_id)
            .iter()
            .any(|s| s.delivery_date_utc.is_none())
    }

    /// `ShipAsync`: shipped date, reserved stock booked per warehouse, shipping status,
    /// note, ShipmentSentEvent, status check.
    pub fn ship(
        &mut self,
        shipment_id: i32,
        notify_customer: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let shipment = self
            .shipment(shipment_id)
            .ok_or(StoreError::NotFound("Shipment"))?;
        if shipment.shipped_date_utc.is_some() {
            return Err(StoreError::Refused(
                "This shipment is already shipped".into(),
            ));
        }
        let order_id = shipment.order_id;
        let store_id = self.order_ref(order_id)?.store_id;
        self.shipment_mut(shipment_id)?.shipped_date_utc = Some(now);
        let items: Vec<(i32, i32, i32)> = self
            .shipment_items_of(shipment_id)
            .iter()
            .filter_map(|si| {
                self.order_item(si.order_item_id)
                    .map(|oi| (oi.product_id, si.warehouse_id, si.quantity))
            })
            .collect();
        for (product_id, warehouse_id, qty) in items {
            self.book_reserved_inventory(
                product_id,
                warehouse_id,
                -qty,
                format!("The stock quantity has been reduced when an order item of the order #{order_id} was shipped"),
                now,
            );
        }
        let status = if self.has_items_to_ship(order_id) {
            ShippingStatus::PartiallyShipped
        } else {
            ShippingStatus::Shipped
        };
        self.order_mut(order_id)?.shipping_status_id = status.id();
        self.note(
            order_id,
            format!("Shipment# {shipment_id} has been sent"),
            now,
        );
        if notify_customer && self.settings.write_email_notes {
            self.note(
                order_id,
                "\"Shipped\" email (to customer) has been queued. Queued email identifier: 0."
                    .into(),
                now,
            );
        }
        self.raise(EventKind::ShipmentSent, shipment_id, Some(store_id), now);
        self.check_order_status(order_id, now)
    }

    /// `DeliverAsync`.
    pub fn deliver(
        &mut self,
        shipment_id: i32,
        notify_customer: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let shipment = self
            .shipment(shipment_id)
            .ok_or(StoreError::NotFound("Shipment"))?;
        if shipment.shipped_date_utc.is_none() {
            return Err(StoreError::Refused(
                "This shipment is not shipped yet".into(),
            ));
        }
        if shipment.delivery_date_utc.is_some() {
            return Err(StoreError::Refused(
                "This shipment is already delivered".into(),
            ));
        }
        let order_id = shipment.order_id;
        let store_id = self.order_ref(order_id)?.store_id;
        self.shipment_mut(shipment_id)?.delivery_date_utc = Some(now);
        if !self.has_items_to_ship(order_id) && !self.has_items_to_deliver(order_id) {
            self.order_mut(order_id)?.shipping_status_id = ShippingStatus::Delivered.id();
        }
        self.note(
            order_id,
            format!("Shipment# {shipment_id} has been delivered"),
            now,
        );
        if notify_customer && self.settings.write_email_notes {
            self.note(
                order_id,
                "\"Delivered\" email (to customer) has been queued. Queued email identifier: 0."
                    .into(),
                now,
            );
        }
        self.raise(
            EventKind::ShipmentDelivered,
            shipment_id,
            Some(store_id),
            now,
        );
        self.check_order_status(order_id, now)
    }
}
