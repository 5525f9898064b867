//! In-process control of a running emulator: mutate the store as the admin UI or a
//! payment plugin would, change fault knobs, read state.

use std::sync::Arc;

use rand::Rng;
use rust_decimal::Decimal;

use crate::config::{FaultConfig, WebhookConfig};
use crate::faults::InjectedFault;
use crate::model::{Customer, Order, OrderItem, OrderNote, Product, Shipment};
use crate::processing::Mode;
use crate::state::Shared;
use crate::store::{NewCustomer, PlaceOrder, Store, StoreResult};
use crate::webhooks::DeliveryRecord;

#[derive(Clone)]
pub struct EmulatorHandle {
    shared: Arc<Shared>,
}

impl EmulatorHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Read access to every table.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        self.shared.read(f)
    }

    /// API requests served so far, by method and route (`GET /api-backend/Order/GetById/{id}`).
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.requests.lock().clone()
    }

    /// Direct write access; events raised inside become webhooks.
    pub fn write<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        self.shared.write(f)
    }

    pub fn config(&self) -> &crate::config::EmulatorConfig {
        &self.shared.config
    }

    // ---- store actions ----

    pub fn place_order(&self, req: &PlaceOrder) -> StoreResult<i32> {
        self.write(|st| {
            let mut guid = || uuid::Uuid::new_v4();
            st.place_order(req, &mut guid, crate::json::now())
        })
    }

    /// Places `count` random orders now, through the generator (raises webhooks).
    pub fn generate_orders(&self, count: usize) -> StoreResult<Vec<i32>> {
        let mut generator = self.shared.generator.lock();
        self.write(|st| generator.live_orders(st, count, crate::json::now()))
    }

    pub fn register_customer(&self, customer: NewCustomer) -> i32 {
        self.write(|st| st.insert_customer(customer, uuid::Uuid::new_v4(), crate::json::now()))
    }

    /// A random registered customer (raises CustomerRegistered).
    pub fn register_random_customer(&self) -> i32 {
        let mut generator = self.shared.generator.lock();
        self.write(|st| generator.register_customer(st, crate::json::now()))
    }

    pub fn mark_order_as_paid(&self, order_id: i32) -> StoreResult<()> {
        self.write(|st| st.mark_order_as_paid(order_id, crate::json::now()))
    }

    pub fn mark_as_authorized(&self, order_id: i32) -> StoreResult<()> {
        self.write(|st| st.mark_as_authorized(order_id, crate::json::now()))
    }

    pub fn capture(&self, order_id: i32) -> StoreResult<()> {
        self.write(|st| st.capture(order_id, crate::json::now()))
    }

    pub fn cancel_order(&self, order_id: i32) -> StoreResult<()> {
        self.write(|st| st.cancel_order(order_id, false, crate::json::now()))
    }

    pub fn refund(&self, order_id: i32, mode: Mode) -> StoreResult<Decimal> {
        self.write(|st| st.refund(order_id, mode, crate::json::now()))
    }

    pub fn partially_refund(&self, order_id: i32, amount: Decimal, mode: Mode) -> StoreResult<()> {
        self.write(|st| st.partially_refund(order_id, amount, mode, crate::json::now()))
    }

    pub fn void(&self, order_id: i32, mode: Mode) -> StoreResult<()> {
        self.write(|st| st.void(order_id, mode, crate::json::now()))
    }

    /// Creates a shipment for (order item id, quantity) pairs.
    pub fn create_shipment(
        &self,
        order_id: i32,
        items: &[(i32, i32)],
        tracking_number: Option<String>,
    ) -> StoreResult<i32> {
        self.write(|st| st.create_shipment(order_id, items, tracking_number, crate::json::now()))
    }

    /// Creates a shipment with every remaining item of the order.
    pub fn ship_everything(&self, order_id: i32) -> StoreResult<i32> {
        self.write(|st| {
            let items: Vec<(i32, i32)> = st
                .items_of(order_id)
                .iter()
                .filter(|i| st.product(i.product_id).is_some_and(|p| p.is_ship_enabled))
                .map(|i| (i.id, i.quantity - st.shipment_quantity(i.id)))
                .filter(|(_, q)| *q > 0)
                .collect();
            let tracking = format!("1Z{:016}", rand::thread_rng().gen_range(0..u64::MAX / 1000));
            let id = st.create_shipment(order_id, &items, Some(tracking), crate::json::now())?;
            st.ship(id, false, crate::json::now())?;
            Ok(id)
        })
    }

    pub fn ship(&self, shipment_id: i32) -> StoreResult<()> {
        self.write(|st| st.ship(shipment_id, false, crate::json::now()))
    }

    pub fn deliver(&self, shipment_id: i32) -> StoreResult<()> {
        self.write(|st| st.deliver(shipment_id, false, crate::json::now()))
    }

    pub fn create_return_request(
        &self,
        order_item_id: i32,
        quantity: i32,
        reason: &str,
        action: &str,
    ) -> StoreResult<i32> {
        self.write(|st| {
            st.create_return_request(
                order_item_id,
                quantity,
                reason,
                action,
                None,
                crate::json::now(),
            )
        })
    }

    pub fn adjust_inventory(
        &self,
        product_id: i32,
        quantity: i32,
        message: &str,
    ) -> StoreResult<()> {
        self.write(|st| {
            st.adjust_inventory(
                product_id,
                quantity,
                message.to_string(),
                crate::json::now(),
            )
        })
    }

    /// Edits a product the way the admin product editor does: UpdatedOnUtc moves to now
    /// (stock changes through AdjustInventory never move it).
    pub fn edit_product(&self, product_id: i32, f: impl FnOnce(&mut Product)) -> StoreResult<()> {
        self.write(|st| {
            let p = st
                .products
                .iter_mut()
                .find(|p| p.id == product_id && !p.deleted)
                .ok_or(crate::store::StoreError::NotFound("Product"))?;
            f(p);
            p.id = product_id;
            p.updated_on_utc = crate::json::now();
            Ok(())
        })
    }

    /// `DeleteOrderAsync`: stock and points back unless cancelled, soft delete (reads
    /// answer 404), note.
    pub fn delete_order(&self, order_id: i32) -> StoreResult<()> {
        self.write(|st| st.delete_order(order_id, crate::json::now()))
    }

    // ---- reads ----

    pub fn order(&self, id: i32) -> Option<Order> {
        self.read(|st| st.order(id).cloned())
    }

    pub fn order_items(&self, order_id: i32) -> Vec<OrderItem> {
        self.read(|st| st.items_of(order_id).into_iter().cloned().collect())
    }

    pub fn order_notes(&self, order_id: i32) -> Vec<OrderNote> {
        self.read(|st| st.notes_of(order_id).into_iter().cloned().collect())
    }

    pub fn shipments(&self, order_id: i32) -> Vec<Shipment> {
        self.read(|st| st.shipments_of(order_id).into_iter().cloned().collect())
    }

    pub fn customer(&self, id: i32) -> Option<Customer> {
        self.read(|st| st.customer(id).cloned())
    }

    pub fn product(&self, id: i32) -> Option<Product> {
        self.read(|st| st.product(id).cloned())
    }

    pub fn order_count(&self) -> usize {
        self.read(|st| st.orders.iter().filter(|o| !o.deleted).count())
    }

    // ---- faults, auth, webhooks ----

    pub fn faults(&self) -> FaultConfig {
        self.shared.faults.config()
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.faults.set(faults);
    }

    /// The next `count` API requests get `fault`.
    pub fn inject_fault(&self, fault: InjectedFault, count: usize) {
        self.shared.faults.force(fault, count);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
        self.shared.faults.set(FaultConfig::default());
    }

    /// Every token issued so far answers 401 from the next request on.
    pub fn expire_tokens(&self) {
        self.shared.issuer.expire_all();
    }

    /// A valid Web API Backend token without the HTTP round trip.
    pub fn backend_token(&self) -> String {
        let c = &self.shared.config;
        self.shared
            .issuer
            .issue(
                &c.credentials.username,
                1,
                crate::api_backend::AUDIENCE,
                c.auth.owb_token_ttl_secs,
            )
            .0
    }

    /// A valid community API token.
    pub fn community_token(&self) -> String {
        let c = &self.shared.config;
        self.shared
            .issuer
            .issue(
                &c.credentials.username,
                1,
                crate::community_api::AUDIENCE,
                c.auth.community_token_ttl_days * 86_400,
            )
            .0
    }

    pub fn webhook_config(&self) -> WebhookConfig {
        self.shared.webhooks.config()
    }

    pub fn set_webhook_config(&self, config: WebhookConfig) {
        self.shared.webhooks.set_config(config);
    }

    pub fn webhook_deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.webhooks.deliveries()
    }
}
