//! The store's tables and the services that write them (inventory, order placement).
//! Ids are 1-based and dense, so table `t` holds id `n` at `t[n - 1]`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::config::StoreSettings;
use crate::events::{DomainEvent, EventKind};
use crate::model::*;
use crate::money::{db4, db_scale, format_tax_rates, maybe_round, with_tax};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A rule of the services refused the operation (NopException message).
    #[error("{0}")]
    Refused(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Address fields supplied when placing an order or registering a customer.
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub country_id: Option<i32>,
    pub city: Option<String>,
    pub address1: Option<String>,
    pub zip_postal_code: Option<String>,
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PlaceOrderItem {
    pub product_id: i32,
    pub quantity: i32,
    /// Line-level (AssignedToSkus) discount, percent of the unit price.
    pub discount_percent: Decimal,
    pub discount_id: Option<i32>,
    pub attribute_description: Option<String>,
}

impl PlaceOrderItem {
    pub fn new(product_id: i32, quantity: i32) -> Self {
        Self {
            product_id,
            quantity,
            discount_percent: Decimal::ZERO,
            discount_id: None,
            attribute_description: None,
        }
    }
}

/// What the checkout hands to PlaceOrder. Amounts are in the primary store currency,
/// excluding tax (TaxSettings.PricesIncludeTax = false).
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub store_id: i32,
    pub customer_id: i32,
    /// Customer currency code; None = primary store currency.
    pub currency_code: Option<String>,
    pub items: Vec<PlaceOrderItem>,
    /// AssignedToOrderSubTotal discount amount (excl. tax).
    pub subtotal_discount: Decimal,
    pub subtotal_discount_id: Option<i32>,
    /// AssignedToOrderTotal discount amount.
    pub order_discount: Decimal,
    pub order_discount_id: Option<i32>,
    /// Shipping rate after shipping discounts, excl. tax; None = no shipping required.
    pub shipping: Option<Decimal>,
    pub shipping_method: Option<String>,
    /// AssignedToShipping discount already taken off `shipping` (recorded as usage only).
    pub shipping_discount_id: Option<i32>,
    pub payment_fee: Decimal,
    /// (gift card id, amount wanted); capped by the card balance and the total left.
    pub gift_cards: Vec<(i32, Decimal)>,
    /// (points, amount) redeemed.
    pub reward_points: Option<(i32, Decimal)>,
    pub payment_method: String,
    /// Status the payment plugin reports at placement (Pending, Authorized or Paid).
    pub payment_status: PaymentStatus,
    pub billing_address: Option<AddressInput>,
    pub shipping_address: Option<AddressInput>,
    pub tax_display_type: TaxDisplayType,
    pub customer_ip: Option<String>,
    pub capture_transaction_id: Option<String>,
}

impl PlaceOrder {
    pub fn new(store_id: i32, customer_id: i32, items: Vec<PlaceOrderItem>) -> Self {
        Self {
            store_id,
            customer_id,
            currency_code: None,
            items,
            subtotal_discount: Decimal::ZERO,
            subtotal_discount_id: None,
            order_discount: Decimal::ZERO,
            order_discount_id: None,
            shipping: None,
            shipping_method: None,
            shipping_discount_id: None,
            payment_fee: Decimal::ZERO,
            gift_cards: Vec::new(),
            reward_points: None,
            payment_method: "Payments.CheckMoneyOrder".into(),
            payment_status: PaymentStatus::Pending,
            billing_address: None,
            shipping_address: None,
            tax_display_type: TaxDisplayType::ExcludingTax,
            customer_ip: None,
            capture_transaction_id: None,
        }
    }
}

/// A new customer (registered when `email` is set, guest otherwise).
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub store_id: i32,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub currency_id: Option<i32>,
    pub address: Option<AddressInput>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub settings: StoreSettings,
    pub primary_store_currency_id: i32,
    pub stores: Vec<crate::model::Store>,
    pub currencies: Vec<Currency>,
    pub customers: Vec<Customer>,
    pub addresses: Vec<Address>,
    pub warehouses: Vec<Warehouse>,
    pub tax_categories: Vec<TaxCategory>,
    pub products: Vec<Product>,
    pub product_warehouse_inventory: Vec<ProductWarehouseInventory>,
    pub stock_history: Vec<StockQuantityHistory>,
    pub orders: Vec<Order>,
    pub order_items: Vec<OrderItem>,
    pub order_notes: Vec<OrderNote>,
    pub shipments: Vec<Shipment>,
    pub shipment_items: Vec<ShipmentItem>,
    pub return_requests: Vec<ReturnRequest>,
    pub gift_cards: Vec<GiftCard>,
    pub gift_card_usage: Vec<GiftCardUsageHistory>,
    pub discounts: Vec<Discount>,
    pub discount_usage: Vec<DiscountUsageHistory>,
    pub reward_points: Vec<RewardPointsHistory>,
    // secondary indexes
    pub items_by_order: HashMap<i32, Vec<i32>>,
    pub notes_by_order: HashMap<i32, Vec<i32>>,
    pub shipments_by_order: HashMap<i32, Vec<i32>>,
    pub items_by_shipment: HashMap<i32, Vec<i32>>,
    pub pwi_by_product: HashMap<i32, Vec<i32>>,
    pub history_by_product: HashMap<i32, Vec<i32>>,
    pub order_by_guid: HashMap<Uuid, i32>,
    pub order_by_number: HashMap<String, i32>,
    /// Events raised since the last drain (delivered as webhooks).
    pub outbox: Vec<DomainEvent>,
    /// Collect events into the outbox (off while generating seed data, if configured).
    pub emit: bool,
}

fn get<T>(table: &[T], id: i32) -> Option<&T> {
    usize::try_from(id)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| table.get(i))
}

fn get_mut<T>(table: &mut [T], id: i32) -> Option<&mut T> {
    usize::try_from(id)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| table.get_mut(i))
}

fn next_id<T>(table: &[T]) -> i32 {
    i32::try_from(table.len() + 1).unwrap_or(i32::MAX)
}

impl Store {
    pub fn new(settings: StoreSettings) -> Self {
        Self {
            settings,
            emit: true,
            ..Self::default()
        }
    }

    pub fn raise(
        &mut self,
        kind: EventKind,
        entity_id: i32,
        store_id: Option<i32>,
        now: DateTime<Utc>,
    ) {
        if self.emit {
            self.outbox.push(DomainEvent {
                kind,
                entity_id,
                store_id,
                occurred_at: now,
            });
        }
    }

    // ---- lookups (soft-deleted rows are invisible, as in the services) ----

    pub fn order(&self, id: i32) -> Option<&Order> {
        get(&self.orders, id).filter(|o| !o.deleted)
    }
    pub fn order_mut(&mut self, id: i32) -> StoreResult<&mut Order> {
        get_mut(&mut self.orders, id)
            .filter(|o| !o.deleted)
            .ok_or(StoreError::NotFound("Order"))
    }
    pub fn order_item(&self, id: i32) -> Option<&OrderItem> {
        get(&self.order_items, id)
    }
    pub fn items_of(&self, order_id: i32) -> Vec<&OrderItem> {
        self.items_by_order
            .get(&order_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| get(&self.order_items, *i))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn notes_of(&self, order_id: i32) -> Vec<&OrderNote> {
        self.notes_by_order
            .get(&order_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| get(&self.order_notes, *i))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn shipments_of(&self, order_id: i32) -> Vec<&Shipment> {
        self.shipments_by_order
            .get(&order_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| get(&self.shipments, *i))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn shipment(&self, id: i32) -> Option<&Shipment> {
        get(&self.shipments, id)
    }
    pub fn shipment_items_of(&self, shipment_id: i32) -> Vec<&ShipmentItem> {
        self.items_by_shipment
            .get(&shipment_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| get(&self.shipment_items, *i))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn customer(&self, id: i32) -> Option<&Customer> {
        get(&self.customers, id).filter(|c| !c.deleted)
    }
    pub fn address(&self, id: i32) -> Option<&Address> {
        get(&self.addresses, id)
    }
    pub fn product(&self, id: i32) -> Option<&Product> {
        get(&self.products, id).filter(|p| !p.deleted)
    }
    pub fn currency(&self, id: i32) -> Option<&Currency> {
        get(&self.currencies, id)
    }
    pub fn return_request(&self, id: i32) -> Option<&ReturnRequest> {
        get(&self.return_requests, id)
    }
    pub fn gift_card(&self, id: i32) -> Option<&GiftCard> {
        get(&self.gift_cards, id)
    }
    pub fn reward_points_entry(&self, id: i32) -> Option<&RewardPointsHistory> {
        get(&self.reward_points, id)
    }
    pub fn pwi_of(&self, product_id: i32) -> Vec<&ProductWarehouseInventory> {
        self.pwi_by_product
            .get(&product_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| get(&self.product_warehouse_inventory, *i))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn pwi(&self, id: i32) -> Option<&ProductWarehouseInventory> {
        get(&self.product_warehouse_inventory, id)
    }
    pub fn history_of(&self, product_id: i32) -> Vec<&StockQuantityHistory> {
        self.history_by_product
            .get(&product_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| get(&self.stock_history, *i))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn primary_currency(&self) -> Option<&Currency> {
        self.currency(self.primary_store_currency_id)
    }
    pub fn currency_by_code(&self, code: &str) -> Option<&Currency> {
        self.currencies
            .iter()
            .find(|c| c.currency_code.eq_ignore_ascii_case(code))
    }
    pub fn gift_card_remaining(&self, gift_card_id: i32) -> Decimal {
        let used: Decimal = self
            .gift_card_usage
            .iter()
            .filter(|u| u.gift_card_id == gift_card_id)
            .map(|u| u.used_value)
            .sum();
        self.gift_card(gift_card_id)
            .map(|g| g.amount - used)
            .unwrap_or_default()
    }
    pub fn reward_points_balance(&self, customer_id: i32, store_id: i32) -> i32 {
        self.reward_points
            .iter()
            .filter(|r| r.customer_id == customer_id && r.store_id == store_id)
            .map(|r| r.points)
            .sum()
    }
    pub fn tax_rate(&self, tax_category_id: i32) -> Decimal {
        self.settings
            .tax_rates_by_category
            .get(&tax_category_id)
            .copied()
            .unwrap_or_default()
    }

    // ---- inserts ----

    pub fn insert_address(&mut self, a: &AddressInput, now: DateTime<Utc>) -> i32 {
        let id = next_id(&self.addresses);
        self.addresses.push(Address {
            id,
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            email: a.email.clone(),
            company: a.company.clone(),
            country_id: a.country_id,
            state_province_id: None,
            county: None,
            city: a.city.clone(),
            address1: a.address1.clone(),
            address2: None,
            zip_postal_code: a.zip_postal_code.clone(),
            phone_number: a.phone_number.clone(),
            fax_number: None,
            custom_attributes: None,
            created_on_utc: now,
        });
        id
    }

    fn copy_address(&mut self, id: i32, now: DateTime<Utc>) -> Option<i32> {
        let a = self.address(id)?.clone();
        let new_id = next_id(&self.addresses);
        self.addresses.push(Address {
            id: new_id,
            created_on_utc: now,
            ..a
        });
        Some(new_id)
    }

    /// Registers a customer (role Registered) or creates a guest (role Guests, no email).
    pub fn insert_customer(&mut self, c: NewCustomer, guid: Uuid, now: DateTime<Utc>) -> i32 {
        let id = next_id(&self.customers);
        let registered = c.email.is_some();
        let mut address_ids = Vec::new();
        if let Some(a) = &c.address {
            address_ids.push(self.insert_address(a, now));
        }
        let default_address = address_ids.first().copied();
        self.customers.push(Customer {
            id,
            customer_guid: guid,
            username: None,
            email: c.email,
            first_name: c.first_name,
            last_name: c.last_name,
            gender: None,
            company: c.company,
            phone: None,
            vat_number: None,
            vat_number_status_id: 0,
            currency_id: c.currency_id,
            language_id: Some(1),
            tax_display_type_id: None,
            admin_comment: None,
            is_tax_exempt: false,
            affiliate_id: 0,
            vendor_id: 0,
            has_shopping_cart_items: false,
            active: true,
            deleted: false,
            is_system_account: false,
            system_name: None,
            last_ip_address: None,
            created_on_utc: now,
            last_login_date_utc: registered.then_some(now),
            last_activity_date_utc: now,
            registered_in_store_id: if registered { c.store_id } else { 0 },
            billing_address_id: default_address,
            shipping_address_id: default_address,
            role_ids: vec![if registered {
                ROLE_REGISTERED
            } else {
                ROLE_GUESTS
            }],
            address_ids,
        });
        if registered {
            self.raise(EventKind::CustomerRegistered, id, Some(c.store_id), now);
        }
        id
    }

    pub fn insert_product(&mut self, mut p: Product) -> i32 {
        p.id = next_id(&self.products);
        let id = p.id;
        self.products.push(p);
        id
    }

    pub fn insert_pwi(&mut self, product_id: i32, warehouse_id: i32, stock: i32) -> i32 {
        let id = next_id(&self.product_warehouse_inventory);
        self.product_warehouse_inventory
            .push(ProductWarehouseInventory {
                id,
                product_id,
                warehouse_id,
                stock_quantity: stock,
                reserved_quantity: 0,
            });
        self.pwi_by_product.entry(product_id).or_default().push(id);
        id
    }

    pub fn add_order_note(
        &mut self,
        order_id: i32,
        note: String,
        display_to_customer: bool,
        now: DateTime<Utc>,
    ) -> i32 {
        let id = next_id(&self.order_notes);
        self.order_notes.push(OrderNote {
            id,
            order_id,
            note,
            download_id: 0,
            display_to_customer,
            created_on_utc: now,
        });
        self.notes_by_order.entry(order_id).or_default().push(id);
        id
    }

    // ---- inventory (ProductService, CORE470) ----

    /// `GetTotalStockQuantityAsync(product, useReservedQuantity, warehouseId)`.
    pub fn total_stock(
        &self,
        product_id: i32,
        use_reserved: bool,
        warehouse_id: Option<i32>,
    ) -> i32 {
        let Some(p) = self.product(product_id) else {
            return 0;
        };
        if !p.manages_stock() {
            return 0;
        }
        if !p.use_multiple_warehouses {
            return p.stock_quantity;
        }
        self.pwi_of(product_id)
            .into_iter()
            .filter(|w| warehouse_id.is_none_or(|id| w.warehouse_id == id))
            .map(|w| w.stock_quantity - if use_reserved { w.reserved_quantity } else { 0 })
            .sum()
    }

    pub fn add_stock_history(
        &mut self,
        product_id: i32,
        quantity_adjustment: i32,
        stock_quantity: i32,
        warehouse_id: Option<i32>,
        message: String,
        now: DateTime<Utc>,
    ) {
        let id = next_id(&self.stock_history);
        self.stock_history.push(StockQuantityHistory {
            id,
            product_id,
            combination_id: None,
            warehouse_id,
            quantity_adjustment,
            stock_quantity,
            message,
            created_on_utc: now,
        });
        self.history_by_product
            .entry(product_id)
            .or_default()
            .push(id);
    }

    /// `AdjustInventoryAsync`: single-warehouse stock moves (with a history row);
    /// multi-warehouse products reserve (negative) or unblock (positive). The emulator also
    /// writes one history row for a multi-warehouse adjustment (warehouse null, stock =
    /// total available after) so every AdjustInventory call is traceable.
    pub fn adjust_inventory(
        &mut self,
        product_id: i32,
        quantity_to_change: i32,
        message: String,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let p = self
            .product(product_id)
            .ok_or(StoreError::NotFound("Product"))?;
        if quantity_to_change == 0 || !p.manages_stock() {
            return Ok(());
        }
        if p.use_multiple_warehouses {
            if quantity_to_change < 0 {
                self.reserve_inventory(product_id, -quantity_to_change);
            } else {
                self.unblock_reserved_inventory(product_id, quantity_to_change);
            }
            let total = self.total_stock(product_id, true, None);
            self.add_stock_history(product_id, quantity_to_change, total, None, message, now);
        } else {
            let warehouse = (p.warehouse_id != 0).then_some(p.warehouse_id);
            let Some(p) = get_mut(&mut self.products, product_id) else {
                return Err(StoreError::NotFound("Product"));
            };
            p.stock_quantity += quantity_to_change;
            let after = p.stock_quantity;
            self.add_stock_history(
                product_id,
                quantity_to_change,
                after,
                warehouse,
                message,
                now,
            );
        }
        self.raise(EventKind::ProductStockChanged, product_id, None, now);
        Ok(())
    }

    /// `ReserveInventoryAsync`: fill warehouses with the most available stock first, then
    /// book any remainder as negative stock on the first one.
    fn reserve_inventory(&mut self, product_id: i32, quantity: i32) {
        let mut ids: Vec<i32> = self
            .pwi_by_product
            .get(&product_id)
            .cloned()
            .unwrap_or_default();
        ids.sort_by_key(|id| {
            get(&self.product_warehouse_inventory, *id)
                .map(|w| -(w.stock_quantity - w.reserved_quantity))
                .unwrap_or(0)
        });
        let mut qty = quantity;
        for id in &ids {
            if let Some(w) = get_mut(&mut self.product_warehouse_inventory, *id) {
                let take = (w.stock_quantity - w.reserved_quantity).max(0).min(qty);
                w.reserved_quantity += take;
                qty -= take;
            }
            if qty <= 0 {
                break;
            }
        }
        if qty > 0 {
            if let Some(w) = ids
                .first()
                .and_then(|id| get_mut(&mut self.product_warehouse_inventory, *id))
            {
                w.reserved_quantity += qty;
            }
        }
    }

    /// `UnblockReservedInventoryAsync`: release reservations (largest first); the rest goes
    /// back onto the first warehouse's stock.
    fn unblock_reserved_inventory(&mut self, product_id: i32, quantity: i32) {
        let mut ids: Vec<i32> = self
            .pwi_by_product
            .get(&product_id)
            .cloned()
            .unwrap_or_default();
        ids.sort_by_key(|id| {
            get(&self.product_warehouse_inventory, *id)
                .map(|w| (-w.reserved_quantity, -w.stock_quantity))
                .unwrap_or((0, 0))
        });
        let mut qty = quantity;
        for id in &ids {
            if let Some(w) = get_mut(&mut self.product_warehouse_inventory, *id) {
                let take = w.reserved_quantity.min(qty);
                w.reserved_quantity -= take;
                qty -= take;
            }
            if qty <= 0 {
                break;
            }
        }
        if qty > 0 {
            if let Some(w) = ids
                .first()
                .and_then(|id| get_mut(&mut self.product_warehouse_inventory, *id))
            {
                w.stock_quantity += qty;
            }
        }
    }

    /// `BookReservedInventoryAsync` (at shipping): multi-warehouse only.
    pub fn book_reserved_inventory(
        &mut self,
        product_id: i32,
        warehouse_id: i32,
        quantity: i32,
        message: String,
        now: DateTime<Utc>,
    ) {
        let Some(p) = self.product(product_id) else {
            return;
        };
        if !p.manages_stock() || !p.use_multiple_warehouses {
            return;
        }
        let pwi_id = self
            .pwi_of(product_id)
            .into_iter()
            .find(|w| w.warehouse_id == warehouse_id)
            .map(|w| w.id);
        let Some(w) = pwi_id.and_then(|id| get_mut(&mut self.product_warehouse_inventory, id))
        else {
            return;
        };
        w.reserved_quantity = (w.reserved_quantity + quantity).max(0);
        w.stock_quantity += quantity;
        let after = w.stock_quantity;
        self.add_stock_history(
            product_id,
            quantity,
            after,
            Some(warehouse_id),
            message,
            now,
        );
        self.raise(EventKind::ProductStockChanged, product_id, None, now);
    }

    /// `ReverseBookedInventoryAsync`: a shipped multi-warehouse item goes back into stock
    /// and into the reservation it was booked from.
    pub fn reverse_booked_inventory(
        &mut self,
        product_id: i32,
        warehouse_id: i32,
        quantity: i32,
        message: String,
        now: DateTime<Utc>,
    ) {
        let Some(p) = self.product(product_id) else {
            return;
        };
        if !p.manages_stock() || !p.use_multiple_warehouses {
            return;
        }
        let pwi_id = self
            .pwi_of(product_id)
            .into_iter()
            .find(|w| w.warehouse_id == warehouse_id)
            .map(|w| w.id);
        let Some(w) = pwi_id.and_then(|id| get_mut(&mut self.product_warehouse_inventory, id))
        else {
            return;
        };
        w.stock_quantity += quantity;
        w.reserved_quantity += quantity;
        let after = w.stock_quantity;
        self.add_stock_history(
            product_id,
            quantity,
            after,
            Some(warehouse_id),
            message,
            now,
        );
    }

    /// Raw ProductWarehouse/Update (no history, as in nopCommerce).
    pub fn update_pwi(
        &mut self,
        pwi: ProductWarehouseInventory,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let w = get_mut(&mut self.product_warehouse_inventory, pwi.id)
            .ok_or(StoreError::NotFound("ProductWarehouseInventory"))?;
        if w.product_id != pwi.product_id {
            return Err(StoreError::Refused("product_id cannot change".into()));
        }
        w.warehouse_id = pwi.warehouse_id;
        w.stock_quantity = pwi.stock_quantity;
        w.reserved_quantity = pwi.reserved_quantity;
        self.raise(EventKind::ProductStockChanged, pwi.product_id, None, now);
        Ok(())
    }

    // ---- order placement (OrderProcessingService.PlaceOrderAsync) ----

    pub fn custom_number(mask: &str, id: i32, now: DateTime<Utc>) -> String {
        mask.replace("{ID}", &id.to_string())
            .replace("{YYYY}", &format!("{:04}", now.year()))
            .replace("{YY}", &format!("{:02}", now.year() % 100))
            .replace("{MM}", &format!("{:02}", now.month()))
            .replace("{DD}", &format!("{:02}", now.day()))
    }

    /// Places an order: prices, taxes and totals by OrderTotalCalculationService, stock
    /// reserved, gift cards and reward points booked, "Order placed" note, status check,
    /// OrderPlaced (and OrderPaid) events.
    pub fn place_order(
        &mut self,
        req: &PlaceOrder,
        next_guid: &mut dyn FnMut() -> Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<i32> {
        let round = self.settings.round_prices_during_calculation;
        if req.items.is_empty() {
            return Err(StoreError::Refused("Cart is empty".into()));
        }
        if !self.stores.iter().any(|s| s.id == req.store_id) {
            return Err(StoreError::NotFound("Store"));
        }
        let customer = self
            .customer(req.customer_id)
            .ok_or(StoreError::NotFound("Customer"))?
            .clone();
        let primary = self
            .primary_currency()
            .ok_or(StoreError::NotFound("Currency"))?
            .clone();
        let customer_currency = match &req.currency_code {
            Some(code) => self
                .currency_by_code(code)
                .ok_or(StoreError::NotFound("Currency"))?
                .clone(),
            None => primary.clone(),
        };
        // Order.CurrencyRate = customerCurrency.Rate / primaryStoreCurrency.Rate
        let currency_rate = if primary.rate.is_zero() {
            Decimal::ONE
        } else {
            db_scale(
                customer_currency.rate / primary.rate,
                self.settings.currency_rate_decimals,
            )
        };

        struct Line {
            product_id: i32,
            quantity: i32,
            unit_excl: Decimal,
            unit_incl: Decimal,
            price_excl: Decimal,
            price_incl: Decimal,
            disc_excl: Decimal,
            disc_incl: Decimal,
            cost: Decimal,
            weight: Decimal,
            attribute_description: Option<String>,
        }
        let mut lines = Vec::with_capacity(req.items.len());
        let mut tax_rates: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        let mut subtotal_excl = Decimal::ZERO;
        let mut subtotal_tax = Decimal::ZERO;
        let mut ships = false;
        for item in &req.items {
            if item.quantity <= 0 {
                return Err(StoreError::Refused("Quantity should be positive".into()));
            }
            let p = self
                .product(item.product_id)
                .ok_or(StoreError::NotFound("Product"))?;
            ships |= p.is_ship_enabled;
            let rate = if p.is_tax_exempt || customer.is_tax_exempt {
                Decimal::ZERO
            } else {
                self.tax_rate(p.tax_category_id)
            };
            let qty = Decimal::from(item.quantity);
            // GetUnitPriceAsync(includeDiscounts: true) rounds the final unit price.
            let unit_excl = maybe_round(
                p.price - p.price * item.discount_percent / Decimal::ONE_HUNDRED,
                round,
            );
            let price_excl = maybe_round(unit_excl * qty, round);
            let disc_excl = maybe_round((p.price - unit_excl) * qty, round);
            let price_incl = with_tax(price_excl, rate);
            let line_tax = price_incl - price_excl; // unrounded (nopCommerce #6730)
            if rate > Decimal::ZERO && line_tax > Decimal::ZERO {
                *tax_rates.entry(rate).or_default() += line_tax;
            }
            subtotal_excl += price_excl;
            subtotal_tax += line_tax;
            lines.push(Line {
                product_id: p.id,
                quantity: item.quantity,
                unit_excl,
                unit_incl: with_tax(unit_excl, rate),
                price_excl,
                price_incl,
                disc_excl,
                disc_incl: with_tax(disc_excl, rate),
                cost: p.product_cost,
                weight: p.weight,
                attribute_description: item.attribute_description.clone(),
            });
        }
        let subtotal_incl = maybe_round(subtotal_excl + subtotal_tax, round);

        // Subtotal discount, its tax share taken off each rate proportionally.
        let sub_disc_excl = maybe_round(
            req.subtotal_discount.max(Decimal::ZERO).min(subtotal_excl),
            round,
        );
        let mut sub_disc_tax = Decimal::ZERO;
        if sub_disc_excl > Decimal::ZERO && subtotal_excl > Decimal::ZERO {
            for v in tax_rates.values_mut() {
                let share = *v * sub_disc_excl / subtotal_excl;
                sub_disc_tax += share;
                *v -= share;
            }
        }
        let sub_disc_incl = maybe_round(sub_disc_excl + sub_disc_tax, round);

        // Shipping and payment fee, taxed at their tax classes.
        let shipping_required = ships && req.shipping.is_some();
        let shipping_excl = maybe_round(req.shipping.unwrap_or_default().max(Decimal::ZERO), round);
        let ship_rate = self.tax_rate(self.settings.shipping_tax_category_id);
        let shipping_tax = if customer.is_tax_exempt {
            Decimal::ZERO
        } else {
            shipping_excl * ship_rate / Decimal::ONE_HUNDRED
        };
        if ship_rate > Decimal::ZERO && shipping_tax > Decimal::ZERO {
            *tax_rates.entry(ship_rate).or_default() += shipping_tax;
        }
        let shipping_incl = maybe_round(shipping_excl + shipping_tax, round);
        let fee_excl = maybe_round(req.payment_fee.max(Decimal::ZERO), round);
        let fee_tax = if customer.is_tax_exempt {
            Decimal::ZERO
        } else {
            fee_excl * ship_rate / Decimal::ONE_HUNDRED
        };
        if ship_rate > Decimal::ZERO && fee_tax > Decimal::ZERO {
            *tax_rates.entry(ship_rate).or_default() += fee_tax;
        }
        let fee_incl = maybe_round(fee_excl + fee_tax, round);

        let order_tax = maybe_round(
            (subtotal_tax - sub_disc_tax + shipping_tax + fee_tax).max(Decimal::ZERO),
            round,
        );
        // OrderTotal = (subtotal − subtotal discount) + shipping + fee + tax − order discount
        let before_discount =
            (subtotal_excl - sub_disc_excl) + shipping_excl + fee_excl + order_tax;
        let order_discount = maybe_round(
            req.order_discount.max(Decimal::ZERO).min(before_discount),
            round,
        );
        let mut total = maybe_round(before_discount - order_discount, round);

        // Gift cards and redeemed reward points are tenders taken off the total.
        let mut card_uses = Vec::new();
        for (card_id, wanted) in &req.gift_cards {
            let remaining = self.gift_card_remaining(*card_id);
            let used = maybe_round(
                (*wanted).min(remaining).min(total).max(Decimal::ZERO),
                round,
            );
            if used > Decimal::ZERO {
                total -= used;
                card_uses.push((*card_id, used));
            }
        }
        let mut points_use = None;
        if let Some((points, amount)) = req.reward_points {
            let used = maybe_round(amount.min(total).max(Decimal::ZERO), round);
            if used > Decimal::ZERO && points > 0 {
                total -= used;
                points_use = Some((points, used));
            }
        }
        let total = maybe_round(total.max(Decimal::ZERO), round);

        // Addresses are copies made at checkout.
        let billing_address_id = match &req.billing_address {
            Some(a) => self.insert_address(a, now),
            None => {
                let source = customer
                    .billing_address_id
                    .ok_or_else(|| StoreError::Refused("Billing address is not provided".into()))?;
                self.copy_address(source, now)
                    .ok_or(StoreError::NotFound("Address"))?
            }
        };
        let shipping_address_id = if shipping_required {
            match &req.shipping_address {
                Some(a) => Some(self.insert_address(a, now)),
                None => self.copy_address(billing_address_id, now),
            }
        } else {
            None
        };

        let order_id = next_id(&self.orders);
        let order_guid = next_guid();
        let custom_order_number =
            Self::custom_number(&self.settings.custom_order_number_mask, order_id, now);
        let with_scale = self.settings.tax_rates_with_scale;
        self.orders.push(Order {
            id: order_id,
            order_guid,
            store_id: req.store_id,
            customer_id: customer.id,
            billing_address_id,
            shipping_address_id,
            pickup_address_id: None,
            pickup_in_store: false,
            order_status_id: OrderStatus::Pending.id(),
            shipping_status_id: if shipping_required {
                ShippingStatus::NotYetShipped.id()
            } else {
                ShippingStatus::ShippingNotRequired.id()
            },
            payment_status_id: req.payment_status.id(),
            payment_method_system_name: req.payment_method.clone(),
            customer_currency_code: customer_currency.currency_code.clone(),
            currency_rate,
            customer_tax_display_type_id: req.tax_display_type.id(),
            vat_number: None,
            order_subtotal_incl_tax: db4(subtotal_incl),
            order_subtotal_excl_tax: db4(subtotal_excl),
            order_sub_total_discount_incl_tax: db4(sub_disc_incl),
            order_sub_total_discount_excl_tax: db4(sub_disc_excl),
            order_shipping_incl_tax: db4(shipping_incl),
            order_shipping_excl_tax: db4(shipping_excl),
            payment_method_additional_fee_incl_tax: db4(fee_incl),
            payment_method_additional_fee_excl_tax: db4(fee_excl),
            tax_rates: format_tax_rates(&tax_rates, with_scale),
            order_tax: db4(order_tax),
            order_discount: db4(order_discount),
            order_total: db4(total),
            refunded_amount: db4(Decimal::ZERO),
            reward_points_history_entry_id: None,
            redeemed_reward_points_entry_id: None,
            checkout_attribute_description: Some(String::new()),
            checkout_attributes_xml: Some(String::new()),
            customer_language_id: 1,
            affiliate_id: 0,
            customer_ip: req.customer_ip.clone(),
            allow_storing_credit_card_number: false,
            card_type: Some(String::new()),
            card_name: Some(String::new()),
            card_number: Some(String::new()),
            masked_credit_card_number: Some(String::new()),
            card_cvv2: Some(String::new()),
            card_expiration_month: Some(String::new()),
            card_expiration_year: Some(String::new()),
            authorization_transaction_id: None,
            authorization_transaction_code: None,
            authorization_transaction_result: None,
            capture_transaction_id: req.capture_transaction_id.clone(),
            capture_transaction_result: req
                .capture_transaction_id
                .as_ref()
                .map(|_| "Captured".to_string()),
            subscription_transaction_id: None,
            paid_date_utc: None,
            shipping_method: if shipping_required {
                req.shipping_method
                    .clone()
                    .or_else(|| Some("Ground".into()))
            } else {
                None
            },
            shipping_rate_computation_method_system_name: shipping_required
                .then(|| "Shipping.FixedByWeightByTotal".to_string()),
            custom_values_xml: None,
            deleted: false,
            created_on_utc: now,
            custom_order_number: custom_order_number.clone(),
        });
        self.order_by_guid.insert(order_guid, order_id);
        self.order_by_number.insert(custom_order_number, order_id);

        for line in lines {
            let id = next_id(&self.order_items);
            self.order_items.push(OrderItem {
                id,
                order_item_guid: next_guid(),
                order_id,
                product_id: line.product_id,
                quantity: line.quantity,
                unit_price_incl_tax: db4(line.unit_incl),
                unit_price_excl_tax: db4(line.unit_excl),
                price_incl_tax: db4(line.price_incl),
                price_excl_tax: db4(line.price_excl),
                discount_amount_incl_tax: db4(line.disc_incl),
                discount_amount_excl_tax: db4(line.disc_excl),
                original_product_cost: db4(line.cost),
                attribute_description: Some(line.attribute_description.unwrap_or_default()),
                attributes_xml: Some(String::new()),
                download_count: 0,
                is_download_activated: false,
                license_download_id: Some(0),
                item_weight: Some(db4(line.weight)),
                rental_start_date_utc: None,
                rental_end_date_utc: None,
            });
            self.items_by_order.entry(order_id).or_default().push(id);
            self.adjust_inventory(
                line.product_id,
                -line.quantity,
                format!("The stock quantity has been reduced by placing the order #{order_id}"),
                now,
            )?;
        }

        // Discount usage (the only order → discount link), gift cards, reward points.
        let discount_ids: Vec<i32> = req
            .items
            .iter()
            .filter_map(|i| i.discount_id)
            .chain(req.subtotal_discount_id)
            .chain(req.order_discount_id)
            .chain(req.shipping_discount_id.filter(|_| shipping_required))
            .collect();
        for discount_id in discount_ids {
            if self
                .discount_usage
                .iter()
                .rev()
                .take(4)
                .any(|u| u.order_id == order_id && u.discount_id == discount_id)
            {
                continue;
            }
            let id = next_id(&self.discount_usage);
            self.discount_usage.push(DiscountUsageHistory {
                id,
                discount_id,
                order_id,
                created_on_utc: now,
            });
        }
        for (gift_card_id, used_value) in card_uses {
            let id = next_id(&self.gift_card_usage);
            self.gift_card_usage.push(GiftCardUsageHistory {
                id,
                gift_card_id,
                used_with_order_id: order_id,
                used_value: db4(used_value),
                created_on_utc: now,
            });
        }
        if let Some((points, amount)) = points_use {
            let entry = self.add_reward_points(
                customer.id,
                req.store_id,
                -points,
                amount,
                format!("Redeemed for order #{order_id}"),
                Some(order_guid),
                now,
            );
            if let Ok(o) = self.order_mut(order_id) {
                o.redeemed_reward_points_entry_id = Some(entry);
            }
        }

        self.add_order_note(order_id, "Order placed".into(), false, now);
        if self.settings.write_email_notes {
            self.add_order_note(order_id, "\"Order placed\" email (to store owner) has been queued. Queued email identifier: 0.".into(), false, now);
        }
        self.check_order_status(order_id, now)?;
        self.raise(EventKind::OrderPlaced, order_id, Some(req.store_id), now);
        if req.payment_status == PaymentStatus::Paid {
            self.process_order_paid(order_id, now);
        }
        Ok(order_id)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_reward_points(
        &mut self,
        customer_id: i32,
        store_id: i32,
        points: i32,
        used_amount: Decimal,
        message: String,
        used_with_order: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> i32 {
        let balance = self.reward_points_balance(customer_id, store_id) + points;
        let id = next_id(&self.reward_points);
        self.reward_points.push(RewardPointsHistory {
            id,
            customer_id,
            store_id,
            points,
            points_balance: Some(balance),
            used_amount: db4(used_amount),
            message,
            created_on_utc: now,
            used_with_order,
        });
        id
    }

    // ---- shipments and return requests ----

    /// Shipment/Create + ShipmentItem/Create for the given (order item, quantity) pairs;
    /// the warehouse is the one holding the reservation (multi-warehouse) or the product's.
    pub fn create_shipment(
        &mut self,
        order_id: i32,
        items: &[(i32, i32)],
        tracking_number: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<i32> {
        let order = self.order(order_id).ok_or(StoreError::NotFound("Order"))?;
        if order.shipping_status() == ShippingStatus::ShippingNotRequired {
            return Err(StoreError::Refused(
                "Shipping is not required for this order".into(),
            ));
        }
        let mut rows = Vec::new();
        let mut weight = Decimal::ZERO;
        for (order_item_id, qty) in items {
            let item = self
                .order_item(*order_item_id)
                .filter(|i| i.order_id == order_id)
                .ok_or(StoreError::NotFound("OrderItem"))?;
            let already: i32 = self.shipment_quantity(*order_item_id);
            if *qty <= 0 || already + qty > item.quantity {
                return Err(StoreError::Refused(format!(
                    "Cannot ship {qty} of order item {order_item_id}"
                )));
            }
            let warehouse = self.product(item.product_id).map(|p| {
                if p.use_multiple_warehouses {
                    self.pwi_of(p.id)
                        .into_iter()
                        .max_by_key(|w| w.reserved_quantity)
                        .map(|w| w.warehouse_id)
                        .unwrap_or(0)
                } else {
                    p.warehouse_id
                }
            });
            weight += item.item_weight.unwrap_or_default() * Decimal::from(*qty);
            rows.push((*order_item_id, *qty, warehouse.unwrap_or(0)));
        }
        let shipment_id = self.insert_shipment(order_id, tracking_number, Some(db4(weight)), now);
        for (order_item_id, qty, warehouse_id) in rows {
            self.insert_shipment_item(shipment_id, order_item_id, qty, warehouse_id);
        }
        Ok(shipment_id)
    }

    pub fn insert_shipment(
        &mut self,
        order_id: i32,
        tracking_number: Option<String>,
        total_weight: Option<Decimal>,
        now: DateTime<Utc>,
    ) -> i32 {
        let id = next_id(&self.shipments);
        self.shipments.push(Shipment {
            id,
            order_id,
            tracking_number,
            total_weight,
            shipped_date_utc: None,
            delivery_date_utc: None,
            admin_comment: None,
            created_on_utc: now,
        });
        self.shipments_by_order
            .entry(order_id)
            .or_default()
            .push(id);
        id
    }

    pub fn insert_shipment_item(
        &mut self,
        shipment_id: i32,
        order_item_id: i32,
        quantity: i32,
        warehouse_id: i32,
    ) -> i32 {
        let id = next_id(&self.shipment_items);
        self.shipment_items.push(ShipmentItem {
            id,
            shipment_id,
            order_item_id,
            quantity,
            warehouse_id,
        });
        self.items_by_shipment
            .entry(shipment_id)
            .or_default()
            .push(id);
        id
    }

    pub fn shipment_mut(&mut self, id: i32) -> StoreResult<&mut Shipment> {
        get_mut(&mut self.shipments, id).ok_or(StoreError::NotFound("Shipment"))
    }

    /// Quantity of an order item already put into shipments.
    pub fn shipment_quantity(&self, order_item_id: i32) -> i32 {
        let Some(order_id) = self.order_item(order_item_id).map(|i| i.order_id) else {
            return 0;
        };
        self.shipments_of(order_id)
            .into_iter()
            .flat_map(|s| self.shipment_items_of(s.id))
            .filter(|si| si.order_item_id == order_item_id)
            .map(|si| si.quantity)
            .sum()
    }

    pub fn create_return_request(
        &mut self,
        order_item_id: i32,
        quantity: i32,
        reason: &str,
        action: &str,
        comments: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<i32> {
        let item = self
            .order_item(order_item_id)
            .ok_or(StoreError::NotFound("OrderItem"))?;
        let order = self
            .order(item.order_id)
            .ok_or(StoreError::NotFound("Order"))?;
        if quantity <= 0 || quantity > item.quantity {
            return Err(StoreError::Refused("Invalid quantity".into()));
        }
        let (store_id, customer_id) = (order.store_id, order.customer_id);
        let id = next_id(&self.return_requests);
        self.return_requests.push(ReturnRequest {
            id,
            custom_number: Self::custom_number(&self.settings.return_request_number_mask, id, now),
            store_id,
            order_item_id,
            customer_id,
            quantity,
            returned_quantity: 0,
            reason_for_return: reason.to_string(),
            requested_action: action.to_string(),
            customer_comments: comments,
            uploaded_file_id: 0,
            staff_notes: None,
            return_request_status_id: ReturnRequestStatus::Pending.id(),
            created_on_utc: now,
            updated_on_utc: now,
        });
        self.raise(EventKind::ReturnRequestCreated, id, Some(store_id), now);
        Ok(id)
    }

    /// ReturnRequest/Update: whole-DTO replace of the editable fields; UpdatedOnUtc = now.
    pub fn update_return_request(
        &mut self,
        rr: ReturnRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if ReturnRequestStatus::from_id(rr.return_request_status_id).is_none() {
            return Err(StoreError::Refused(format!(
                "Unknown return_request_status_id {}",
                rr.return_request_status_id
            )));
        }
        let current = get_mut(&mut self.return_requests, rr.id)
            .ok_or(StoreError::NotFound("ReturnRequest"))?;
        current.quantity = rr.quantity;
        current.returned_quantity = rr.returned_quantity;
        current.reason_for_return = rr.reason_for_return;
        current.requested_action = rr.requested_action;
        current.customer_comments = rr.customer_comments;
        current.staff_notes = rr.staff_notes;
        current.return_request_status_id = rr.return_request_status_id;
        current.custom_number = rr.custom_number;
        current.updated_on_utc = now;
        Ok(())
    }
}
