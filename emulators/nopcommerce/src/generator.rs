//! Deterministic store data: the same seed and settings give the same store, down to
//! GUIDs and timestamps. Orders go through the same placement and processing code as the
//! API, so totals, notes and stock history are what nopCommerce would have written.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::config::GeneratorConfig;
use crate::model::*;
use crate::processing::Mode;
use crate::store::{AddressInput, NewCustomer, PlaceOrder, PlaceOrderItem, Store, StoreResult};

const FIRST_NAMES: &[&str] = &[
    "Marie",
    "Zoë",
    "李",
    "Seán",
    "José",
    "Anaïs",
    "Björn",
    "Chloé",
    "Dmitri",
    "Émile",
    "Fatima",
    "Grace",
    "Hiroshi",
    "Ingrid",
    "João",
    "Katarzyna",
    "Liam",
    "Mónica",
    "Noah",
    "Olivia",
    "Priya",
    "Renée",
    "Søren",
    "Thomas",
];
const LAST_NAMES: &[&str] = &[
    "O'Brien",
    "D'Angelo",
    "Müller",
    "王",
    "Nguyễn",
    "Smith",
    "Dubois",
    "García",
    "O'Neill",
    "Kowalski",
    "Johansson",
    "Brontë",
    "Da Silva",
    "Papadopoulos",
    "Tanaka",
    "Ó Súilleabháin",
    "MacDonald",
    "Łukasiewicz",
];
const CITIES: &[(&str, i32, &str)] = &[
    ("Lyon", 74, "69002"),
    ("Boston", 1, "02108"),
    ("London", 80, "SW1A 1AA"),
    ("München", 81, "80331"),
    ("Dublin", 103, "D02 X285"),
    ("Kraków", 165, "31-042"),
];
const ADJECTIVES: &[&str] = &[
    "Oak", "Linen", "Copper", "Walnut", "Ceramic", "Wool", "Glass", "Bamboo", "Steel", "Velvet",
];
const NOUNS: &[&str] = &[
    "Desk Lamp",
    "Shade",
    "Mug",
    "Throw",
    "Vase",
    "Stool",
    "Shelf",
    "Clock",
    "Planter",
    "Tray",
    "Notebook",
    "Candle",
];
const STREETS: &[&str] = &[
    "Rue de la République",
    "Main Street",
    "Baker Street",
    "Marienplatz",
    "O'Connell Street",
    "Floriańska",
];

/// Generator state kept after start-up, so live orders can be added on demand.
pub struct Generator {
    rng: StdRng,
    clock: DateTime<Utc>,
    interval: i64,
    guest_share: f64,
    customer_ids: Vec<i32>,
    product_ids: Vec<i32>,
    store_ids: Vec<i32>,
    gift_card_ids: Vec<i32>,
}

fn money(rng: &mut StdRng, min_cents: i64, max_cents: i64) -> Decimal {
    Decimal::new(rng.gen_range(min_cents..=max_cents), 2)
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn ascii_slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

impl Generator {
    pub fn new(seed: u64, cfg: &GeneratorConfig) -> Self {
        let start = DateTime::parse_from_rfc3339(&cfg.start)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| DateTime::<Utc>::UNIX_EPOCH + Duration::days(19_723));
        Self {
            rng: StdRng::seed_from_u64(seed),
            clock: start,
            interval: cfg.order_interval_secs.max(1),
            guest_share: cfg.guest_share.clamp(0.0, 1.0),
            customer_ids: Vec::new(),
            product_ids: Vec::new(),
            store_ids: Vec::new(),
            gift_card_ids: Vec::new(),
        }
    }

    fn guid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid()
    }

    fn address(&mut self, first: &str, last: &str, email: Option<String>) -> AddressInput {
        let (city, country, zip) = *pick(&mut self.rng, CITIES);
        let street = *pick(&mut self.rng, STREETS);
        AddressInput {
            first_name: Some(first.to_string()),
            last_name: Some(last.to_string()),
            email,
            company: None,
            country_id: Some(country),
            city: Some(city.to_string()),
            address1: Some(format!("{} {street}", self.rng.gen_range(1..200))),
            zip_postal_code: Some(zip.to_string()),
            phone_number: Some(format!("+1 555 {:04}", self.rng.gen_range(0..10_000))),
        }
    }

    /// The store owner's account (customer 1, roles Administrators + Registered), the one
    /// the API credentials belong to.
    pub fn seed_admin(&mut self, store: &mut Store, email: &str, username: &str) -> i32 {
        let created = self.clock - Duration::days(365);
        let guid = self.guid();
        let id = store.insert_customer(
            NewCustomer {
                store_id: 1,
                email: Some(email.to_string()),
                first_name: Some("Store".into()),
                last_name: Some("Owner".into()),
                ..NewCustomer::default()
            },
            guid,
            created,
        );
        if let Some(c) = store.customers.iter_mut().find(|c| c.id == id) {
            c.username = Some(username.to_string());
            c.role_ids = vec![
                crate::model::ROLE_ADMINISTRATORS,
                crate::model::ROLE_REGISTERED,
            ];
        }
        id
    }

    /// Stores, currencies, tax categories, warehouses, products, discounts, gift cards and
    /// registered customers.
    pub fn seed_catalogue(&mut self, store: &mut Store, cfg: &GeneratorConfig) {
        let t0 = self.clock - Duration::days(120);
        let store_defs = [
            (
                "Main Store",
                "https://shop.example.test/",
                "shop.example.test,localhost,127.0.0.1",
            ),
            ("EU Store", "https://eu.example.test/", "eu.example.test"),
            ("UK Store", "https://uk.example.test/", "uk.example.test"),
            (
                "Outlet",
                "https://outlet.example.test/",
                "outlet.example.test",
            ),
        ];
        for (i, (name, url, hosts)) in store_defs.iter().take(cfg.stores.clamp(1, 4)).enumerate() {
            let id = i32::try_from(i + 1).unwrap_or(1);
            store.stores.push(crate::model::Store {
                id,
                name: name.to_string(),
                url: url.to_string(),
                ssl_enabled: true,
                hosts: hosts.to_string(),
                default_language_id: 1,
                display_order: id,
                company_name: format!("{name} Ltd"),
                company_address: "1 Commerce Way".into(),
                company_phone_number: "+1 555 0100".into(),
                company_vat: None,
                deleted: false,
            });
            self.store_ids.push(id);
        }
        let per_usd = [
            ("US Dollar", "USD", Decimal::ONE, "en-US"),
            ("Euro", "EUR", Decimal::new(9200, 4), "fr-FR"),
            ("British Pound", "GBP", Decimal::new(7900, 4), "en-GB"),
        ];
        // Rates are relative to the exchange-rate currency (Rate = 1).
        let base = per_usd
            .iter()
            .find(|c| {
                c.1.eq_ignore_ascii_case(&store.settings.primary_exchange_rate_currency)
            })
            .map(|c| c.2)
            .unwrap_or(Decimal::ONE);
        for (i, (name, code, usd_rate, locale)) in per_usd.into_iter().enumerate() {
            let rate = usd_rate / base;
            store.currencies.push(Currency {
                id: i32::try_from(i + 1).unwrap_or(1),
                name: name.into(),
                currency_code: code.into(),
                rate: crate::money::db4(rate),
                display_locale: locale.into(),
                custom_formatting: String::new(),
                limited_to_stores: false,
                published: true,
                display_order: i32::try_from(i + 1).unwrap_or(1),
                created_on_utc: t0,
                updated_on_utc: t0,
                rounding_type_id: 0,
            });
        }
        store.primary_store_currency_id = 1;
        for (id, name) in [
            (1, "Standard"),
            (2, "Reduced"),
            (3, "Zero rated"),
            (4, "Books"),
        ] {
            store.tax_categories.push(TaxCategory {
                id,
                name: name.into(),
                display_order: id,
            });
        }
        for (id, name) in [(1, "Main warehouse"), (2, "East coast"), (3, "EU hub")] {
            store.warehouses.push(Warehouse {
                id,
                name: name.into(),
                admin_comment: None,
                address_id: 0,
            });
        }
        for (id, name, type_id, pct, amount, coupon) in [
            (
                1,
                "10% off selected SKUs",
                DISCOUNT_TYPE_SKUS,
                true,
                Decimal::ZERO,
                None,
            ),
            (
                2,
                "5 off the order subtotal",
                DISCOUNT_TYPE_ORDER_SUBTOTAL,
                false,
                Decimal::new(5, 0),
                Some("SAVE5"),
            ),
            (
                3,
                "3 off the order total",
                DISCOUNT_TYPE_ORDER_TOTAL,
                false,
                Decimal::new(3, 0),
                Some("TOTAL3"),
            ),
            (
                4,
                "Cheaper shipping",
                DISCOUNT_TYPE_SHIPPING,
                false,
                Decimal::new(2, 0),
                None,
            ),
        ] {
            store.discounts.push(Discount {
                id,
                name: name.into(),
                discount_type_id: type_id,
                use_percentage: pct,
                discount_percentage: crate::money::db4(if pct {
                    Decimal::TEN
                } else {
                    Decimal::ZERO
                }),
                discount_amount: crate::money::db4(amount),
                requires_coupon_code: coupon.is_some(),
                coupon_code: coupon.map(String::from),
                is_cumulative: false,
                is_active: true,
            });
        }
        let per_product_demand = i32::try_from(cfg.products.max(1)).unwrap_or(1);
        for n in 0..cfg.products.max(1) {
            let name = format!(
                "{} {}",
                pick(&mut self.rng, ADJECTIVES),
                pick(&mut self.rng, NOUNS)
            );
            let tax_category_id = *pick(&mut self.rng, &[1, 1, 1, 2, 3, 4]);
            let roll: f64 = self.rng.gen();
            let (manage, multi) = if roll < 0.1 {
                (0, false)
            } else if roll < 0.4 {
                (1, true)
            } else {
                (1, false)
            };
            let price = money(&mut self.rng, 300, 30_000);
            let created = t0 + Duration::minutes(i64::try_from(n).unwrap_or(0) * 7);
            let stock = self.rng.gen_range(200..1_000) + 40_000 / per_product_demand;
            let id = store.insert_product(Product {
                id: 0,
                product_type_id: 5,
                parent_grouped_product_id: 0,
                visible_individually: true,
                name,
                short_description: Some(String::new()),
                full_description: Some("<p>Hand made.</p>".into()),
                vendor_id: 0,
                sku: Some(format!("SKU-{:05}", n + 1)),
                manufacturer_part_number: None,
                gtin: None,
                is_gift_card: false,
                gift_card_type_id: 0,
                is_download: false,
                is_recurring: false,
                is_rental: false,
                is_ship_enabled: self.rng.gen_bool(0.9),
                is_free_shipping: false,
                additional_shipping_charge: crate::money::db4(Decimal::ZERO),
                is_tax_exempt: false,
                tax_category_id,
                manage_inventory_method_id: manage,
                use_multiple_warehouses: multi,
                warehouse_id: if multi { 0 } else { 1 },
                stock_quantity: if multi { 0 } else { stock },
                display_stock_availability: true,
                display_stock_quantity: false,
                min_stock_quantity: 0,
                low_stock_activity_id: 1,
                notify_admin_for_quantity_below: 5,
                backorder_mode_id: 0,
                allow_back_in_stock_subscriptions: true,
                order_minimum_quantity: 1,
                order_maximum_quantity: 10_000,
                allowed_quantities: None,
                not_returnable: false,
                call_for_price: false,
                price: crate::money::db4(price),
                old_price: crate::money::db4(Decimal::ZERO),
                product_cost: crate::money::db4((price * Decimal::new(45, 2)).round_dp(2)),
                customer_enters_price: false,
                has_tier_prices: false,
                has_discounts_applied: false,
                weight: crate::money::db4(Decimal::new(self.rng.gen_range(1..50), 1)),
                length: crate::money::db4(Decimal::TEN),
                width: crate::money::db4(Decimal::TEN),
                height: crate::money::db4(Decimal::TEN),
                published: self.rng.gen_bool(0.95),
                deleted: false,
                created_on_utc: created,
                updated_on_utc: created,
            });
            if multi {
                let warehouses = self.rng.gen_range(2..=3);
                for w in 1..=warehouses {
                    store.insert_pwi(id, w, stock / warehouses + self.rng.gen_range(0..20));
                }
            }
            self.product_ids.push(id);
        }
        for n in 0..30 {
            let id = i32::try_from(store.gift_cards.len() + 1).unwrap_or(1);
            let amount = *pick(&mut self.rng, &[10, 25, 50, 100]);
            store.gift_cards.push(GiftCard {
                id,
                purchased_with_order_item_id: None,
                gift_card_type_id: 0,
                amount: crate::money::db4(Decimal::from(amount)),
                is_gift_card_activated: true,
                gift_card_coupon_code: format!("GC-{n:04}-{:04}", self.rng.gen_range(0..10_000)),
                recipient_name: None,
                recipient_email: None,
                sender_name: None,
                sender_email: None,
                message: None,
                is_recipient_notified: false,
                created_on_utc: t0,
            });
            self.gift_card_ids.push(id);
        }
        for n in 0..cfg.registered_customers {
            let first = *pick(&mut self.rng, FIRST_NAMES);
            let last = *pick(&mut self.rng, LAST_NAMES);
            let email = format!(
                "{}.{}{}@example.test",
                ascii_slug(first),
                ascii_slug(last),
                n + 1
            );
            let store_id = *pick(&mut self.rng, &self.store_ids.clone());
            let currency_id = match store_id {
                2 => Some(2),
                3 => Some(3),
                _ => self.rng.gen_bool(0.15).then_some(2),
            };
            let address = self.address(first, last, Some(email.clone()));
            let guid = self.guid();
            let created = t0 + Duration::minutes(i64::try_from(n).unwrap_or(0) * 13);
            let id = store.insert_customer(
                NewCustomer {
                    store_id,
                    email: Some(email),
                    first_name: Some(first.into()),
                    last_name: Some(last.into()),
                    company: self.rng.gen_bool(0.1).then(|| format!("{last} & Co")),
                    currency_id,
                    address: Some(address),
                },
                guid,
                created,
            );
            self.customer_ids.push(id);
        }
    }

    /// Places `count` orders and runs them through a realistic life cycle (payment,
    /// shipping, delivery, cancellations, refunds, voids, returns).
    pub fn generate_orders(&mut self, store: &mut Store, count: usize) -> StoreResult<Vec<i32>> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            self.clock += Duration::seconds(self.rng.gen_range(1..=self.interval * 2));
            let id = self.one_order(store, true)?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Places `count` orders at `now` (live demo traffic); no simulated life cycle, so
    /// nothing is dated in the future.
    pub fn live_orders(
        &mut self,
        store: &mut Store,
        count: usize,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<i32>> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            self.clock = now;
            ids.push(self.one_order(store, false)?);
        }
        Ok(ids)
    }

    fn one_order(&mut self, store: &mut Store, with_life_cycle: bool) -> StoreResult<i32> {
        let now = self.clock;
        let store_id = if self.rng.gen_bool(0.7) {
            1
        } else {
            *pick(&mut self.rng, &self.store_ids.clone())
        };
        let guest = self.customer_ids.is_empty() || self.rng.gen_bool(self.guest_share);
        let (customer_id, billing) = if guest {
            let first = *pick(&mut self.rng, FIRST_NAMES);
            let last = *pick(&mut self.rng, LAST_NAMES);
            let guid = self.guid();
            let id = store.insert_customer(
                NewCustomer {
                    store_id,
                    ..NewCustomer::default()
                },
                guid,
                now,
            );
            let email = format!("guest.{}{}@example.test", ascii_slug(last), id);
            (id, Some(self.address(first, last, Some(email))))
        } else {
            (*pick(&mut self.rng, &self.customer_ids.clone()), None)
        };
        let customer_currency = store.customer(customer_id).and_then(|c| c.currency_id);
        let currency_code = match (customer_currency, store_id) {
            (Some(id), _) => store.currency(id).map(|c| c.currency_code.clone()),
            (None, 2) => Some("EUR".to_string()),
            (None, 3) => Some("GBP".to_string()),
            _ => None,
        };
        let lines = self.rng.gen_range(1..=4);
        let mut items: Vec<PlaceOrderItem> = Vec::new();
        for _ in 0..lines {
            let product_id = *pick(&mut self.rng, &self.product_ids);
            if items.iter().any(|i| i.product_id == product_id) {
                continue;
            }
            let mut item = PlaceOrderItem::new(product_id, self.rng.gen_range(1..=3));
            if self.rng.gen_bool(0.2) {
                item.discount_percent = Decimal::TEN;
                item.discount_id = Some(1);
            }
            items.push(item);
        }
        let mut req = PlaceOrder::new(store_id, customer_id, items);
        req.currency_code = currency_code;
        req.billing_address = billing;
        req.customer_ip = Some(format!("203.0.113.{}", self.rng.gen_range(1..255)));
        if self.rng.gen_bool(0.1) {
            req.subtotal_discount = Decimal::new(5, 0);
            req.subtotal_discount_id = Some(2);
        }
        if self.rng.gen_bool(0.05) {
            req.order_discount = Decimal::new(3, 0);
            req.order_discount_id = Some(3);
        }
        if self.rng.gen_bool(0.9) {
            req.shipping = Some(*pick(
                &mut self.rng,
                &[
                    Decimal::ZERO,
                    Decimal::new(599, 2),
                    Decimal::new(950, 2),
                    Decimal::new(1400, 2),
                ],
            ));
            req.shipping_method = Some("Ground".into());
            if self.rng.gen_bool(0.05) {
                // "Cheaper shipping": the rate is stored net of the shipping discount.
                req.shipping = req.shipping.map(|s| (s - Decimal::TWO).max(Decimal::ZERO));
                req.shipping_discount_id = Some(4);
            }
        }
        if self.rng.gen_bool(0.05) {
            req.payment_fee = Decimal::new(150, 2);
        }
        if self.rng.gen_bool(0.05) {
            let card = *pick(&mut self.rng, &self.gift_card_ids);
            req.gift_cards.push((card, Decimal::new(2000, 2)));
        }
        if !guest
            && store.reward_points_balance(customer_id, store_id) >= 100
            && self.rng.gen_bool(0.3)
        {
            req.reward_points = Some((100, Decimal::ONE));
        }
        req.tax_display_type = if self.rng.gen_bool(0.5) {
            TaxDisplayType::IncludingTax
        } else {
            TaxDisplayType::ExcludingTax
        };
        let payment_roll: f64 = self.rng.gen();
        let (method, status) = if payment_roll < 0.45 {
            ("Payments.PayPalCommerce", PaymentStatus::Paid)
        } else if payment_roll < 0.65 {
            ("Payments.Manual", PaymentStatus::Authorized)
        } else {
            ("Payments.CheckMoneyOrder", PaymentStatus::Pending)
        };
        req.payment_method = method.into();
        req.payment_status = status;
        if status == PaymentStatus::Paid {
            req.capture_transaction_id = Some(format!("ch_{}", self.guid().simple()));
        }
        let rng = &mut self.rng;
        let mut guid = || uuid::Builder::from_random_bytes(rng.gen()).into_uuid();
        let order_id = store.place_order(&req, &mut guid, now)?;
        if with_life_cycle {
            self.life_cycle(store, order_id, now)?;
        }
        Ok(order_id)
    }

    fn life_cycle(
        &mut self,
        store: &mut Store,
        order_id: i32,
        placed: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut t = placed;
        let mut later = |rng: &mut StdRng| {
            t += Duration::minutes(rng.gen_range(5..3_000));
            t
        };
        let Some(order) = store.order(order_id) else {
            return Ok(());
        };
        let ps = order.payment_status();
        let roll: f64 = self.rng.gen();
        // Pending orders: cancelled, marked paid later, or left pending.
        if ps == PaymentStatus::Pending {
            if roll < 0.12 {
                return store.cancel_order(order_id, false, later(&mut self.rng));
            }
            if roll < 0.75 {
                store.mark_order_as_paid(order_id, later(&mut self.rng))?;
            } else {
                return Ok(());
            }
        } else if ps == PaymentStatus::Authorized {
            if roll < 0.1 {
                return store.void(order_id, Mode::Offline, later(&mut self.rng));
            }
            if roll < 0.8 {
                store.capture(order_id, later(&mut self.rng))?;
            }
        }
        // Shipping.
        let item_ids: Vec<(i32, i32)> = store
            .items_of(order_id)
            .iter()
            .map(|i| (i.id, i.quantity))
            .collect();
        let needs_shipping = store
            .order(order_id)
            .is_some_and(|o| o.shipping_status() != ShippingStatus::ShippingNotRequired);
        let shippable: Vec<(i32, i32)> = item_ids
            .iter()
            .copied()
            .filter(|(id, _)| {
                store
                    .order_item(*id)
                    .and_then(|i| store.product(i.product_id))
                    .is_some_and(|p| p.is_ship_enabled)
            })
            .collect();
        if needs_shipping && !shippable.is_empty() && self.rng.gen_bool(0.75) {
            let partial = shippable.len() > 1 && self.rng.gen_bool(0.1);
            let batch: Vec<(i32, i32)> = if partial {
                shippable[..1].to_vec()
            } else {
                shippable.clone()
            };
            let tracking = Some(format!("1Z{:016}", self.rng.gen_range(0..u64::MAX / 1000)));
            let shipment =
                store.create_shipment(order_id, &batch, tracking, later(&mut self.rng))?;
            store.ship(shipment, true, later(&mut self.rng))?;
            if self.rng.gen_bool(0.6) {
                store.deliver(shipment, true, later(&mut self.rng))?;
                if self.rng.gen_bool(0.04) {
                    let (item_id, qty) = batch[0];
                    let rr = store.create_return_request(
                        item_id,
                        qty,
                        "Received a damaged item",
                        "Replacement",
                        Some("Box was crushed".into()),
                        later(&mut self.rng),
                    )?;
                    if let Some(mut r) = store.return_request(rr).cloned() {
                        r.return_request_status_id =
                            pick(&mut self.rng, ReturnRequestStatus::ALL).id();
                        store.update_return_request(r, later(&mut self.rng))?;
                    }
                }
            }
        }
        // Refunds on paid orders.
        let Some(order) = store.order(order_id) else {
            return Ok(());
        };
        if order.payment_status() == PaymentStatus::Paid && !order.order_total.is_zero() {
            let roll: f64 = self.rng.gen();
            if roll < 0.05 {
                let share = Decimal::new(self.rng.gen_range(10..=30), 2);
                let amount = (order.order_total * share).round_dp(2);
                if amount > Decimal::ZERO {
                    store.partially_refund(
                        order_id,
                        amount,
                        Mode::Offline,
                        later(&mut self.rng),
                    )?;
                }
            } else if roll < 0.07 {
                store.refund(order_id, Mode::Online, later(&mut self.rng))?;
            }
        }
        Ok(())
    }

    /// A registered customer for the live demo (raises CustomerRegistered).
    pub fn register_customer(&mut self, store: &mut Store, now: DateTime<Utc>) -> i32 {
        let first = *pick(&mut self.rng, FIRST_NAMES);
        let last = *pick(&mut self.rng, LAST_NAMES);
        let n = store.customers.len() + 1;
        let email = format!(
            "{}.{}{}@example.test",
            ascii_slug(first),
            ascii_slug(last),
            n
        );
        let address = self.address(first, last, Some(email.clone()));
        let guid = self.guid();
        let id = store.insert_customer(
            NewCustomer {
                store_id: 1,
                email: Some(email),
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                company: None,
                currency_id: None,
                address: Some(address),
            },
            guid,
            now,
        );
        self.customer_ids.push(id);
        id
    }

    /// Moves the generator clock (live orders use wall-clock time).
    pub fn set_clock(&mut self, now: DateTime<Utc>) {
        if now > self.clock {
            self.clock = now;
        }
    }
}
