//! nopCommerce 4.70 entities. Field names serialize in the Web API Backend's flat
//! snake_case form (enums as `…_id` ints), so an entity is its own OWB DTO.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::json::{dec, dec_opt, ts, ts_opt};

macro_rules! int_enum {
    ($name:ident { $($variant:ident = $value:expr),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn id(self) -> i32 {
                match self { $($name::$variant => $value),+ }
            }

            pub fn from_id(id: i32) -> Option<Self> {
                match id { $($value => Some($name::$variant),)+ _ => None }
            }

            /// The C# enum name, as `ToString()` prints it.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// Case-insensitive name lookup (community API enum filters, OWB `rs`).
            pub fn from_name(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name().eq_ignore_ascii_case(s.trim()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

int_enum!(OrderStatus { Pending = 10, Processing = 20, Complete = 30, Cancelled = 40 });
int_enum!(PaymentStatus {
    Pending = 10,
    Authorized = 20,
    Paid = 30,
    PartiallyRefunded = 35,
    Refunded = 40,
    Voided = 50,
});
int_enum!(ShippingStatus {
    ShippingNotRequired = 10,
    NotYetShipped = 20,
    PartiallyShipped = 25,
    Shipped = 30,
    Delivered = 40,
});
int_enum!(ReturnRequestStatus {
    Pending = 0,
    Received = 10,
    ReturnAuthorized = 20,
    ItemsRepaired = 30,
    ItemsRefunded = 40,
    RequestRejected = 50,
    Cancelled = 60,
});
int_enum!(ManageInventoryMethod { DontManageStock = 0, ManageStock = 1, ManageStockByAttributes = 2 });
int_enum!(TaxDisplayType { IncludingTax = 0, ExcludingTax = 10 });

/// Customer role ids of a default install.
pub const ROLE_ADMINISTRATORS: i32 = 1;
pub const ROLE_REGISTERED: i32 = 3;
pub const ROLE_GUESTS: i32 = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Store {
    pub id: i32,
    pub name: String,
    pub url: String,
    pub ssl_enabled: bool,
    /// CSV of host names.
    pub hosts: String,
    pub default_language_id: i32,
    pub display_order: i32,
    pub company_name: String,
    pub company_address: String,
    pub company_phone_number: String,
    pub company_vat: Option<String>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Currency {
    pub id: i32,
    pub name: String,
    pub currency_code: String,
    #[serde(with = "dec")]
    pub rate: Decimal,
    pub display_locale: String,
    pub custom_formatting: String,
    pub limited_to_stores: bool,
    pub published: bool,
    pub display_order: i32,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_on_utc: DateTime<Utc>,
    pub rounding_type_id: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Address {
    pub id: i32,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub country_id: Option<i32>,
    pub state_province_id: Option<i32>,
    pub county: Option<String>,
    pub city: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub zip_postal_code: Option<String>,
    pub phone_number: Option<String>,
    pub fax_number: Option<String>,
    pub custom_attributes: Option<String>,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Customer {
    pub id: i32,
    pub customer_guid: Uuid,
    pub username: Option<String>,
    /// None for guests (their email is on the order's billing address).
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub gender: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub vat_number: Option<String>,
    pub vat_number_status_id: i32,
    pub currency_id: Option<i32>,
    pub language_id: Option<i32>,
    pub tax_display_type_id: Option<i32>,
    pub admin_comment: Option<String>,
    pub is_tax_exempt: bool,
    pub affiliate_id: i32,
    pub vendor_id: i32,
    pub has_shopping_cart_items: bool,
    pub active: bool,
    pub deleted: bool,
    pub is_system_account: bool,
    pub system_name: Option<String>,
    pub last_ip_address: Option<String>,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
    #[serde(with = "ts_opt")]
    pub last_login_date_utc: Option<DateTime<Utc>>,
    #[serde(with = "ts")]
    pub last_activity_date_utc: DateTime<Utc>,
    pub registered_in_store_id: i32,
    pub billing_address_id: Option<i32>,
    pub shipping_address_id: Option<i32>,
    #[serde(skip)]
    pub role_ids: Vec<i32>,
    #[serde(skip)]
    pub address_ids: Vec<i32>,
}

impl Customer {
    pub fn is_guest(&self) -> bool {
        self.role_ids.contains(&ROLE_GUESTS)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warehouse {
    pub id: i32,
    pub name: String,
    pub admin_comment: Option<String>,
    pub address_id: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: i32,
    pub product_type_id: i32,
    pub parent_grouped_product_id: i32,
    pub visible_individually: bool,
    pub name: String,
    pub short_description: Option<String>,
    pub full_description: Option<String>,
    pub vendor_id: i32,
    pub sku: Option<String>,
    pub manufacturer_part_number: Option<String>,
    pub gtin: Option<String>,
    pub is_gift_card: bool,
    pub gift_card_type_id: i32,
    pub is_download: bool,
    pub is_recurring: bool,
    pub is_rental: bool,
    pub is_ship_enabled: bool,
    pub is_free_shipping: bool,
    #[serde(with = "dec")]
    pub additional_shipping_charge: Decimal,
    pub is_tax_exempt: bool,
    pub tax_category_id: i32,
    pub manage_inventory_method_id: i32,
    pub use_multiple_warehouses: bool,
    pub warehouse_id: i32,
    pub stock_quantity: i32,
    pub display_stock_availability: bool,
    pub display_stock_quantity: bool,
    pub min_stock_quantity: i32,
    pub low_stock_activity_id: i32,
    pub notify_admin_for_quantity_below: i32,
    pub backorder_mode_id: i32,
    pub allow_back_in_stock_subscriptions: bool,
    pub order_minimum_quantity: i32,
    pub order_maximum_quantity: i32,
    pub allowed_quantities: Option<String>,
    pub not_returnable: bool,
    pub call_for_price: bool,
    #[serde(with = "dec")]
    pub price: Decimal,
    #[serde(with = "dec")]
    pub old_price: Decimal,
    #[serde(with = "dec")]
    pub product_cost: Decimal,
    pub customer_enters_price: bool,
    pub has_tier_prices: bool,
    pub has_discounts_applied: bool,
    #[serde(with = "dec")]
    pub weight: Decimal,
    #[serde(with = "dec")]
    pub length: Decimal,
    #[serde(with = "dec")]
    pub width: Decimal,
    #[serde(with = "dec")]
    pub height: Decimal,
    pub published: bool,
    pub deleted: bool,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_on_utc: DateTime<Utc>,
}

impl Product {
    pub fn manages_stock(&self) -> bool {
        self.manage_inventory_method_id == ManageInventoryMethod::ManageStock.id()
    }
}

/// Missing keys in a PUT body take default values, as ASP.NET model binding does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductWarehouseInventory {
    pub id: i32,
    pub product_id: i32,
    pub warehouse_id: i32,
    pub stock_quantity: i32,
    pub reserved_quantity: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StockQuantityHistory {
    pub id: i32,
    pub product_id: i32,
    pub combination_id: Option<i32>,
    pub warehouse_id: Option<i32>,
    pub quantity_adjustment: i32,
    pub stock_quantity: i32,
    pub message: String,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: i32,
    pub order_guid: Uuid,
    pub store_id: i32,
    pub customer_id: i32,
    pub billing_address_id: i32,
    pub shipping_address_id: Option<i32>,
    pub pickup_address_id: Option<i32>,
    pub pickup_in_store: bool,
    pub order_status_id: i32,
    pub shipping_status_id: i32,
    pub payment_status_id: i32,
    pub payment_method_system_name: String,
    pub customer_currency_code: String,
    #[serde(with = "dec")]
    pub currency_rate: Decimal,
    pub customer_tax_display_type_id: i32,
    pub vat_number: Option<String>,
    #[serde(with = "dec")]
    pub order_subtotal_incl_tax: Decimal,
    #[serde(with = "dec")]
    pub order_subtotal_excl_tax: Decimal,
    #[serde(with = "dec")]
    pub order_sub_total_discount_incl_tax: Decimal,
    #[serde(with = "dec")]
    pub order_sub_total_discount_excl_tax: Decimal,
    #[serde(with = "dec")]
    pub order_shipping_incl_tax: Decimal,
    #[serde(with = "dec")]
    pub order_shipping_excl_tax: Decimal,
    #[serde(with = "dec")]
    pub payment_method_additional_fee_incl_tax: Decimal,
    #[serde(with = "dec")]
    pub payment_method_additional_fee_excl_tax: Decimal,
    pub tax_rates: String,
    #[serde(with = "dec")]
    pub order_tax: Decimal,
    #[serde(with = "dec")]
    pub order_discount: Decimal,
    #[serde(with = "dec")]
    pub order_total: Decimal,
    #[serde(with = "dec")]
    pub refunded_amount: Decimal,
    pub reward_points_history_entry_id: Option<i32>,
    pub redeemed_reward_points_entry_id: Option<i32>,
    pub checkout_attribute_description: Option<String>,
    pub checkout_attributes_xml: Option<String>,
    pub customer_language_id: i32,
    pub affiliate_id: i32,
    pub customer_ip: Option<String>,
    pub allow_storing_credit_card_number: bool,
    pub card_type: Option<String>,
    pub card_name: Option<String>,
    pub card_number: Option<String>,
    pub masked_credit_card_number: Option<String>,
    pub card_cvv2: Option<String>,
    pub card_expiration_month: Option<String>,
    pub card_expiration_year: Option<String>,
    pub authorization_transaction_id: Option<String>,
    pub authorization_transaction_code: Option<String>,
    pub authorization_transaction_result: Option<String>,
    pub capture_transaction_id: Option<String>,
    pub capture_transaction_result: Option<String>,
    pub subscription_transaction_id: Option<String>,
    #[serde(with = "ts_opt")]
    pub paid_date_utc: Option<DateTime<Utc>>,
    pub shipping_method: Option<String>,
    pub shipping_rate_computation_method_system_name: Option<String>,
    pub custom_values_xml: Option<String>,
    pub deleted: bool,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
    pub custom_order_number: String,
}

impl Order {
    pub fn order_status(&self) -> OrderStatus {
        OrderStatus::from_id(self.order_status_id).unwrap_or(OrderStatus::Pending)
    }
    pub fn payment_status(&self) -> PaymentStatus {
        PaymentStatus::from_id(self.payment_status_id).unwrap_or(PaymentStatus::Pending)
    }
    pub fn shipping_status(&self) -> ShippingStatus {
        ShippingStatus::from_id(self.shipping_status_id)
            .unwrap_or(ShippingStatus::ShippingNotRequired)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderItem {
    pub id: i32,
    pub order_item_guid: Uuid,
    pub order_id: i32,
    pub product_id: i32,
    pub quantity: i32,
    #[serde(with = "dec")]
    pub unit_price_incl_tax: Decimal,
    #[serde(with = "dec")]
    pub unit_price_excl_tax: Decimal,
    #[serde(with = "dec")]
    pub price_incl_tax: Decimal,
    #[serde(with = "dec")]
    pub price_excl_tax: Decimal,
    #[serde(with = "dec")]
    pub discount_amount_incl_tax: Decimal,
    #[serde(with = "dec")]
    pub discount_amount_excl_tax: Decimal,
    #[serde(with = "dec")]
    pub original_product_cost: Decimal,
    pub attribute_description: Option<String>,
    pub attributes_xml: Option<String>,
    pub download_count: i32,
    pub is_download_activated: bool,
    pub license_download_id: Option<i32>,
    #[serde(with = "dec_opt")]
    pub item_weight: Option<Decimal>,
    #[serde(with = "ts_opt")]
    pub rental_start_date_utc: Option<DateTime<Utc>>,
    #[serde(with = "ts_opt")]
    pub rental_end_date_utc: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderNote {
    pub id: i32,
    pub order_id: i32,
    pub note: String,
    pub download_id: i32,
    pub display_to_customer: bool,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
}

/// Missing keys in a PUT body take default values, as ASP.NET model binding does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Shipment {
    pub id: i32,
    pub order_id: i32,
    pub tracking_number: Option<String>,
    #[serde(with = "dec_opt")]
    pub total_weight: Option<Decimal>,
    #[serde(with = "ts_opt")]
    pub shipped_date_utc: Option<DateTime<Utc>>,
    #[serde(with = "ts_opt")]
    pub delivery_date_utc: Option<DateTime<Utc>>,
    pub admin_comment: Option<String>,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShipmentItem {
    pub id: i32,
    pub shipment_id: i32,
    pub order_item_id: i32,
    pub quantity: i32,
    pub warehouse_id: i32,
}

/// Missing keys in a PUT body take default values, as ASP.NET model binding does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReturnRequest {
    pub id: i32,
    pub custom_number: String,
    pub store_id: i32,
    pub order_item_id: i32,
    pub customer_id: i32,
    pub quantity: i32,
    pub returned_quantity: i32,
    pub reason_for_return: String,
    pub requested_action: String,
    pub customer_comments: Option<String>,
    pub uploaded_file_id: i32,
    pub staff_notes: Option<String>,
    pub return_request_status_id: i32,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GiftCard {
    pub id: i32,
    pub purchased_with_order_item_id: Option<i32>,
    pub gift_card_type_id: i32,
    #[serde(with = "dec")]
    pub amount: Decimal,
    pub is_gift_card_activated: bool,
    pub gift_card_coupon_code: String,
    pub recipient_name: Option<String>,
    pub recipient_email: Option<String>,
    pub sender_name: Option<String>,
    pub sender_email: Option<String>,
    pub message: Option<String>,
    pub is_recipient_notified: bool,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GiftCardUsageHistory {
    pub id: i32,
    pub gift_card_id: i32,
    pub used_with_order_id: i32,
    #[serde(with = "dec")]
    pub used_value: Decimal,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Discount {
    pub id: i32,
    pub name: String,
    pub discount_type_id: i32,
    pub use_percentage: bool,
    #[serde(with = "dec")]
    pub discount_percentage: Decimal,
    #[serde(with = "dec")]
    pub discount_amount: Decimal,
    pub requires_coupon_code: bool,
    pub coupon_code: Option<String>,
    pub is_cumulative: bool,
    pub is_active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiscountUsageHistory {
    pub id: i32,
    pub discount_id: i32,
    pub order_id: i32,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RewardPointsHistory {
    pub id: i32,
    pub customer_id: i32,
    pub store_id: i32,
    pub points: i32,
    pub points_balance: Option<i32>,
    #[serde(with = "dec")]
    pub used_amount: Decimal,
    pub message: String,
    #[serde(with = "ts")]
    pub created_on_utc: DateTime<Utc>,
    pub used_with_order: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaxCategory {
    pub id: i32,
    pub name: String,
    pub display_order: i32,
}

/// Discount types used by the emulator (nopCommerce DiscountType ids).
pub const DISCOUNT_TYPE_ORDER_TOTAL: i32 = 1;
pub const DISCOUNT_TYPE_SKUS: i32 = 2;
pub const DISCOUNT_TYPE_SHIPPING: i32 = 10;
pub const DISCOUNT_TYPE_ORDER_SUBTOTAL: i32 = 20;
