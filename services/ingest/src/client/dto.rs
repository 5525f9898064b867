//! The fields ingest reads from nopCommerce answers. Both dialects use the same snake_case
//! column names for money; where the community API differs (status names instead of ids,
//! nested addresses and items, the product embedded in each line) the extra fields are
//! optional here and [`OrderDto::normalize`] folds them in. Decimals keep their exact text
//! (`105.5000`), never a float: they are read from the raw JSON token.
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A decimal as its JSON text ("105.5000", "0.92"), from a number or a string token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dec(pub String);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get().trim();
        if text == "null" {
            return Ok(Dec("0".into()));
        }
        if text.starts_with('"') {
            let s: String = serde_json::from_str(text).map_err(serde::de::Error::custom)?;
            return Ok(Dec(s.trim().to_string()));
        }
        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Ok(Dec(text.to_string()));
        }
        Err(serde::de::Error::custom(format!(
            "expected a decimal, got {text}"
        )))
    }
}

impl From<&str> for Dec {
    fn from(s: &str) -> Self {
        Dec(s.to_string())
    }
}

/// UTC dates as nopCommerce writes them: without a designator, or RFC 3339.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

fn time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse_time(&s).ok_or_else(|| serde::de::Error::custom(format!("bad date {s:?}")))
}

fn time_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_time(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("bad date {s:?}"))),
    }
}

/// One record of a list, kept as the store sent it (decoded one by one, so one bad record
/// is dead-lettered alone, with its exact bytes).
pub type RawRecord = Box<RawValue>;

/// The Web API Backend page object.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub items: Vec<RawRecord>,
    #[serde(default)]
    pub total_count: i64,
}

/// Id and times of a record, enough to walk a list.
#[derive(Debug, Clone, Deserialize)]
pub struct Stamp {
    pub id: i64,
    #[serde(default, deserialize_with = "time_opt")]
    pub created_on_utc: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "time_opt")]
    pub updated_on_utc: Option<DateTime<Utc>>,
}

impl Stamp {
    /// The stamps of the records that have one (the others are dead-lettered by the sync).
    pub fn of(records: &[RawRecord]) -> Vec<Stamp> {
        records
            .iter()
            .filter_map(|r| serde_json::from_str(r.get()).ok())
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderDto {
    pub id: i64,
    #[serde(default)]
    pub order_guid: String,
    pub store_id: i64,
    pub customer_id: i64,
    #[serde(default)]
    pub billing_address_id: Option<i64>,
    #[serde(default)]
    pub shipping_address_id: Option<i64>,
    #[serde(default, alias = "pick_up_in_store")]
    pub pickup_in_store: bool,
    #[serde(default)]
    pub order_status_id: i32,
    #[serde(default)]
    pub shipping_status_id: i32,
    #[serde(default)]
    pub payment_status_id: i32,
    /// Community API: enum names instead of ids.
    #[serde(default)]
    pub order_status: Option<String>,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub shipping_status: Option<String>,
    #[serde(default)]
    pub payment_method_system_name: Option<String>,
    #[serde(default)]
    pub customer_currency_code: Option<String>,
    pub currency_rate: Dec,
    #[serde(default)]
    pub customer_tax_display_type_id: i32,
    #[serde(default)]
    pub vat_number: Option<String>,
    pub order_subtotal_incl_tax: Dec,
    pub order_subtotal_excl_tax: Dec,
    pub order_sub_total_discount_incl_tax: Dec,
    pub order_sub_total_discount_excl_tax: Dec,
    pub order_shipping_incl_tax: Dec,
    pub order_shipping_excl_tax: Dec,
    pub payment_method_additional_fee_incl_tax: Dec,
    pub payment_method_additional_fee_excl_tax: Dec,
    #[serde(default)]
    pub tax_rates: Option<String>,
    pub order_tax: Dec,
    pub order_discount: Dec,
    pub order_total: Dec,
    pub refunded_amount: Dec,
    #[serde(default)]
    pub redeemed_reward_points_entry_id: Option<i64>,
    #[serde(default)]
    pub authorization_transaction_id: Option<String>,
    #[serde(default)]
    pub capture_transaction_id: Option<String>,
    #[serde(default, deserialize_with = "time_opt")]
    pub paid_date_utc: Option<DateTime<Utc>>,
    #[serde(default)]
    pub shipping_method: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(deserialize_with = "time")]
    pub created_on_utc: DateTime<Utc>,
    #[serde(default)]
    pub custom_order_number: Option<String>,
    /// Community API: nested addresses and lines.
    #[serde(default)]
    pub billing_address: Option<AddressDto>,
    #[serde(default)]
    pub shipping_address: Option<AddressDto>,
    #[serde(default)]
    pub order_items: Vec<OrderItemDto>,
}

/// nopCommerce enum names → ids (the community API prints the C# names).
fn enum_id(name: &str, table: &[(&str, i32)]) -> Option<i32> {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, id)| *id)
}

const ORDER_STATUS: &[(&str, i32)] = &[
    ("Pending", 10),
    ("Processing", 20),
    ("Complete", 30),
    ("Cancelled", 40),
];
const PAYMENT_STATUS: &[(&str, i32)] = &[
    ("Pending", 10),
    ("Authorized", 20),
    ("Paid", 30),
    ("PartiallyRefunded", 35),
    ("Refunded", 40),
    ("Voided", 50),
];
const SHIPPING_STATUS: &[(&str, i32)] = &[
    ("ShippingNotRequired", 10),
    ("NotYetShipped", 20),
    ("PartiallyShipped", 25),
    ("Shipped", 30),
    ("Delivered", 40),
];

impl OrderDto {
    /// Fills the status ids from community status names; an unknown name is an error (the
    /// record goes to the DLQ rather than being mapped to a wrong status).
    pub fn normalize(&mut self) -> Result<(), String> {
        let pairs = [
            (&self.order_status, &mut self.order_status_id, ORDER_STATUS),
            (
                &self.payment_status,
                &mut self.payment_status_id,
                PAYMENT_STATUS,
            ),
            (
                &self.shipping_status,
                &mut self.shipping_status_id,
                SHIPPING_STATUS,
            ),
        ];
        for (name, id, table) in pairs {
            if let Some(name) = name {
                *id = enum_id(name, table).ok_or_else(|| format!("unknown status {name:?}"))?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderItemDto {
    pub id: i64,
    #[serde(default)]
    pub order_item_guid: String,
    pub product_id: i64,
    pub quantity: i32,
    pub unit_price_incl_tax: Dec,
    pub unit_price_excl_tax: Dec,
    pub price_incl_tax: Dec,
    pub price_excl_tax: Dec,
    pub discount_amount_incl_tax: Dec,
    pub discount_amount_excl_tax: Dec,
    #[serde(default)]
    pub original_product_cost: Dec,
    #[serde(default)]
    pub attribute_description: Option<String>,
    #[serde(default)]
    pub attributes_xml: Option<String>,
    /// Community API: the product embedded in every line.
    #[serde(default)]
    pub product: Option<ProductDto>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddressDto {
    pub id: i64,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub country_id: Option<i64>,
    /// Community API: the country's name.
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub county: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub address1: Option<String>,
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub zip_postal_code: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub fax_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GiftCardUsageDto {
    pub gift_card_id: i64,
    pub used_value: Dec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GiftCardDto {
    #[serde(default)]
    pub gift_card_coupon_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RewardPointsDto {
    pub points: i64,
    pub used_amount: Dec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomerDto {
    pub id: i64,
    #[serde(default)]
    pub customer_guid: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub vat_number: Option<String>,
    #[serde(default)]
    pub is_tax_exempt: bool,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub registered_in_store_id: i64,
    #[serde(default)]
    pub billing_address_id: Option<i64>,
    #[serde(default)]
    pub shipping_address_id: Option<i64>,
    #[serde(default)]
    pub currency_id: Option<i64>,
    #[serde(default)]
    pub role_ids: Vec<i64>,
    #[serde(deserialize_with = "time")]
    pub created_on_utc: DateTime<Utc>,
    /// Community API: nested addresses.
    #[serde(default)]
    pub billing_address: Option<AddressDto>,
    #[serde(default)]
    pub shipping_address: Option<AddressDto>,
    #[serde(default)]
    pub addresses: Vec<AddressDto>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProductDto {
    pub id: i64,
    #[serde(default)]
    pub product_type_id: i32,
    /// Community API: `SimpleProduct` / `GroupedProduct`.
    #[serde(default)]
    pub product_type: Option<String>,
    pub name: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub gtin: Option<String>,
    #[serde(default)]
    pub manufacturer_part_number: Option<String>,
    #[serde(default)]
    pub is_gift_card: bool,
    #[serde(default)]
    pub is_ship_enabled: bool,
    #[serde(default)]
    pub is_tax_exempt: bool,
    #[serde(default)]
    pub tax_category_id: i64,
    #[serde(default)]
    pub manage_inventory_method_id: i32,
    #[serde(default)]
    pub use_multiple_warehouses: bool,
    #[serde(default)]
    pub stock_quantity: i32,
    pub price: Dec,
    #[serde(default)]
    pub old_price: Dec,
    #[serde(default)]
    pub product_cost: Dec,
    #[serde(default)]
    pub published: bool,
    #[serde(default)]
    pub deleted: bool,
    #[serde(deserialize_with = "time")]
    pub created_on_utc: DateTime<Utc>,
    #[serde(deserialize_with = "time")]
    pub updated_on_utc: DateTime<Utc>,
}

impl ProductDto {
    pub fn type_id(&self) -> i32 {
        match self.product_type.as_deref() {
            Some("GroupedProduct") => 10,
            Some(_) => 5,
            None => self.product_type_id,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WarehouseInventoryDto {
    pub warehouse_id: i64,
    pub stock_quantity: i32,
    #[serde(default)]
    pub reserved_quantity: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CurrencyDto {
    pub id: i64,
    pub currency_code: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WarehouseDto {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StockHistoryDto {
    pub id: i64,
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    pub quantity_adjustment: i32,
    pub stock_quantity: i32,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(deserialize_with = "time")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShipmentDto {
    pub id: i64,
    pub order_id: i64,
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub total_weight: Option<Dec>,
    #[serde(default, deserialize_with = "time_opt")]
    pub shipped_date_utc: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "time_opt")]
    pub delivery_date_utc: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "time_opt")]
    pub ready_for_pickup_date_utc: Option<DateTime<Utc>>,
    #[serde(default)]
    pub admin_comment: Option<String>,
    #[serde(deserialize_with = "time")]
    pub created_on_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShipmentItemDto {
    pub id: i64,
    pub order_item_id: i64,
    pub quantity: i32,
    #[serde(default)]
    pub warehouse_id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReturnRequestDto {
    pub id: i64,
    #[serde(default)]
    pub custom_number: String,
    pub store_id: i64,
    pub order_item_id: i64,
    pub customer_id: i64,
    pub quantity: i32,
    #[serde(default)]
    pub returned_quantity: i32,
    #[serde(default)]
    pub reason_for_return: String,
    #[serde(default)]
    pub requested_action: String,
    #[serde(default)]
    pub customer_comments: Option<String>,
    #[serde(default)]
    pub staff_notes: Option<String>,
    pub return_request_status_id: i32,
    #[serde(deserialize_with = "time")]
    pub created_on_utc: DateTime<Utc>,
    #[serde(deserialize_with = "time")]
    pub updated_on_utc: DateTime<Utc>,
}

/// An order item as `OrderItem/GetById` answers it (its order id included).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderItemRefDto {
    pub order_id: i64,
    pub product_id: i64,
    pub price_incl_tax: Dec,
    pub quantity: i32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decimals_keep_their_exact_text() {
        #[derive(Deserialize)]
        struct T {
            a: Dec,
            b: Dec,
            c: Dec,
            d: Dec,
        }
        let t: T = serde_json::from_str(
            r#"{"a": 105.5000, "b": "0.92000000", "c": null, "d": 12345678901234.5678}"#,
        )
        .unwrap();
        assert_eq!(
            (t.a.0.as_str(), t.b.0.as_str(), t.c.0.as_str()),
            ("105.5000", "0.92000000", "0")
        );
        // More digits than an f64 holds, unchanged.
        assert_eq!(t.d.0, "12345678901234.5678");
        assert!(serde_json::from_str::<T>(r#"{"a": true, "b": 1, "c": 1, "d": 1}"#).is_err());
    }

    #[test]
    fn dates_without_designator_are_utc() {
        let t = parse_time("2024-03-14T09:21:11.52").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-14T09:21:11.520+00:00");
        assert_eq!(
            parse_time("2024-03-14T09:21:11Z").unwrap().timestamp(),
            1710408071
        );
        assert!(parse_time("14/03/2024").is_none());
    }

    #[test]
    fn community_status_names_become_ids() {
        let mut o: OrderDto = serde_json::from_str(
            r#"{"id":1,"store_id":1,"customer_id":2,"currency_rate":1.0,
                "order_subtotal_incl_tax":1,"order_subtotal_excl_tax":1,
                "order_sub_total_discount_incl_tax":0,"order_sub_total_discount_excl_tax":0,
                "order_shipping_incl_tax":0,"order_shipping_excl_tax":0,
                "payment_method_additional_fee_incl_tax":0,"payment_method_additional_fee_excl_tax":0,
                "order_tax":0,"order_discount":0,"order_total":1,"refunded_amount":0,
                "created_on_utc":"2024-01-01T00:00:00","pick_up_in_store":true,
                "order_status":"Processing","payment_status":"PartiallyRefunded",
                "shipping_status":"NotYetShipped"}"#,
        )
        .unwrap();
        o.normalize().unwrap();
        assert_eq!(
            (
                o.order_status_id,
                o.payment_status_id,
                o.shipping_status_id,
                o.pickup_in_store
            ),
            (20, 35, 20, true)
        );
        o.payment_status = Some("Bogus".into());
        assert!(o.normalize().is_err());
    }
}
