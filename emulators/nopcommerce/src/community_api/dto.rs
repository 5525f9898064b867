//! The community plugin's DTOs (SevenSpikes/F480 keys): status names as strings, nested
//! addresses and items, the product embedded in every order item.

use serde_json::{json, Value};

use crate::json::format_ts;
use crate::model::*;
use crate::store::Store;

fn d(v: rust_decimal::Decimal) -> Value {
    Value::String(format!("\u{1}{v}"))
}

fn t(v: &chrono::DateTime<chrono::Utc>) -> Value {
    Value::String(format_ts(v))
}

fn t_opt(v: &Option<chrono::DateTime<chrono::Utc>>) -> Value {
    v.as_ref().map(t).unwrap_or(Value::Null)
}

pub fn country_name(id: Option<i32>) -> Option<&'static str> {
    Some(match id? {
        1 => "United States",
        74 => "France",
        80 => "United Kingdom",
        81 => "Germany",
        103 => "Ireland",
        165 => "Poland",
        _ => return None,
    })
}

pub fn address(a: &Address) -> Value {
    json!({
        "id": a.id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "email": a.email,
        "company": a.company,
        "country_id": a.country_id,
        "country": country_name(a.country_id),
        "state_province_id": a.state_province_id,
        "city": a.city,
        "address1": a.address1,
        "address2": a.address2,
        "zip_postal_code": a.zip_postal_code,
        "phone_number": a.phone_number,
        "fax_number": a.fax_number,
        "customer_attributes": a.custom_attributes.clone().unwrap_or_default(),
        "created_on_utc": t(&a.created_on_utc),
        "province": Value::Null,
    })
}

pub fn product(p: &Product) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "short_description": p.short_description,
        "full_description": p.full_description.as_deref().map(html_encode),
        "sku": p.sku,
        "manufacturer_part_number": p.manufacturer_part_number,
        "gtin": p.gtin,
        "product_type": if p.product_type_id == 10 { "GroupedProduct" } else { "SimpleProduct" },
        "parent_grouped_product_id": p.parent_grouped_product_id,
        "visible_individually": p.visible_individually,
        "is_gift_card": p.is_gift_card,
        "is_download": p.is_download,
        "is_recurring": p.is_recurring,
        "is_rental": p.is_rental,
        "is_ship_enabled": p.is_ship_enabled,
        "is_free_shipping": p.is_free_shipping,
        "additional_shipping_charge": d(p.additional_shipping_charge),
        "is_tax_exempt": p.is_tax_exempt,
        "tax_category_id": p.tax_category_id,
        "use_multiple_warehouses": p.use_multiple_warehouses,
        "manage_inventory_method_id": p.manage_inventory_method_id,
        "stock_quantity": p.stock_quantity,
        "display_stock_availability": p.display_stock_availability,
        "display_stock_quantity": p.display_stock_quantity,
        "min_stock_quantity": p.min_stock_quantity,
        "low_stock_activity_id": p.low_stock_activity_id,
        "notify_admin_for_quantity_below": p.notify_admin_for_quantity_below,
        "allow_back_in_stock_subscriptions": p.allow_back_in_stock_subscriptions,
        "order_minimum_quantity": p.order_minimum_quantity,
        "order_maximum_quantity": p.order_maximum_quantity,
        "allowed_quantities": p.allowed_quantities,
        "price": d(p.price),
        "old_price": d(p.old_price),
        "product_cost": d(p.product_cost),
        "call_for_price": p.call_for_price,
        "customer_enters_price": p.customer_enters_price,
        "has_tier_prices": p.has_tier_prices,
        "has_discounts_applied": p.has_discounts_applied,
        "weight": d(p.weight),
        "length": d(p.length),
        "width": d(p.width),
        "height": d(p.height),
        "published": p.published,
        "deleted": p.deleted,
        "created_on_utc": t(&p.created_on_utc),
        "updated_on_utc": t(&p.updated_on_utc),
        "vendor_id": p.vendor_id,
        "store_ids": [],
        "discount_ids": [],
        "role_ids": [],
        "manufacturer_ids": [],
        "tags": [],
        "images": [],
        "attributes": [],
        "product_attribute_combinations": [],
        "associated_product_ids": [],
    })
}

fn html_encode(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub fn order_item(st: &Store, i: &OrderItem) -> Value {
    json!({
        "id": i.id,
        "product_attributes": [],
        "quantity": i.quantity,
        "unit_price_incl_tax": d(i.unit_price_incl_tax),
        "unit_price_excl_tax": d(i.unit_price_excl_tax),
        "price_incl_tax": d(i.price_incl_tax),
        "price_excl_tax": d(i.price_excl_tax),
        "discount_amount_incl_tax": d(i.discount_amount_incl_tax),
        "discount_amount_excl_tax": d(i.discount_amount_excl_tax),
        "original_product_cost": d(i.original_product_cost),
        "attribute_description": i.attribute_description,
        "download_count": i.download_count,
        "isDownload_activated": i.is_download_activated,
        "license_download_id": i.license_download_id,
        "item_weight": i.item_weight.map(d),
        "rental_start_date_utc": t_opt(&i.rental_start_date_utc),
        "rental_end_date_utc": t_opt(&i.rental_end_date_utc),
        "product": st.product(i.product_id).map(product),
        "product_id": i.product_id,
    })
}

pub fn customer(st: &Store, c: &Customer, with_addresses: bool) -> Value {
    let mut v = json!({
        "id": c.id,
        "customer_guid": c.customer_guid,
        "username": c.username,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "language_id": c.language_id.map(|l| l.to_string()),
        "date_of_birth": Value::Null,
        "gender": c.gender,
        "admin_comment": c.admin_comment,
        "is_tax_exempt": c.is_tax_exempt,
        "has_shopping_cart_items": c.has_shopping_cart_items,
        "active": c.active,
        "deleted": c.deleted,
        "is_system_account": c.is_system_account,
        "system_name": c.system_name,
        "last_ip_address": c.last_ip_address,
        "created_on_utc": t(&c.created_on_utc),
        "last_login_date_utc": t_opt(&c.last_login_date_utc),
        "last_activity_date_utc": t(&c.last_activity_date_utc),
        "registered_in_store_id": c.registered_in_store_id,
        "subscribed_to_newsletter": false,
        "role_ids": c.role_ids,
        "currency_id": c.currency_id,
        "vat_number": c.vat_number,
        "vat_number_status_id": c.vat_number_status_id,
        "eu_cookie_law_accepted": false,
        "company": c.company,
    });
    if with_addresses {
        let addr = |id: Option<i32>| id.and_then(|a| st.address(a)).map(address);
        v["billing_address"] = addr(c.billing_address_id).unwrap_or(Value::Null);
        v["shipping_address"] = addr(c.shipping_address_id).unwrap_or(Value::Null);
        v["addresses"] = Value::Array(
            c.address_ids
                .iter()
                .filter_map(|a| st.address(*a))
                .map(address)
                .collect(),
        );
    }
    v
}

pub fn order(st: &Store, o: &Order, embed_customer: bool) -> Value {
    let status = o.order_status().name();
    let mut v = json!({
        "id": o.id,
        "store_id": o.store_id,
        "pick_up_in_store": o.pickup_in_store,
        "payment_method_system_name": o.payment_method_system_name,
        "customer_currency_code": o.customer_currency_code,
        "currency_rate": d(o.currency_rate),
        "customer_tax_display_type_id": o.customer_tax_display_type_id,
        "vat_number": o.vat_number,
        "order_subtotal_incl_tax": d(o.order_subtotal_incl_tax),
        "order_subtotal_excl_tax": d(o.order_subtotal_excl_tax),
        "order_sub_total_discount_incl_tax": d(o.order_sub_total_discount_incl_tax),
        "order_sub_total_discount_excl_tax": d(o.order_sub_total_discount_excl_tax),
        "order_shipping_incl_tax": d(o.order_shipping_incl_tax),
        "order_shipping_excl_tax": d(o.order_shipping_excl_tax),
        "payment_method_additional_fee_incl_tax": d(o.payment_method_additional_fee_incl_tax),
        "payment_method_additional_fee_excl_tax": d(o.payment_method_additional_fee_excl_tax),
        "tax_rates": o.tax_rates,
        "order_tax": d(o.order_tax),
        "order_discount": d(o.order_discount),
        "order_total": d(o.order_total),
        "refunded_amount": d(o.refunded_amount),
        "reward_points_were_added": Value::Null,
        "checkout_attribute_description": o.checkout_attribute_description,
        "customer_language_id": o.customer_language_id,
        "affiliate_id": o.affiliate_id,
        "customer_ip": o.customer_ip,
        "authorization_transaction_id": o.authorization_transaction_id,
        "authorization_transaction_code": o.authorization_transaction_code,
        "authorization_transaction_result": o.authorization_transaction_result,
        "capture_transaction_id": o.capture_transaction_id,
        "capture_transaction_result": o.capture_transaction_result,
        "subscription_transaction_id": o.subscription_transaction_id,
        "paid_date_utc": t_opt(&o.paid_date_utc),
        "shipping_method": o.shipping_method,
        "shipping_rate_computation_method_system_name": o.shipping_rate_computation_method_system_name,
        "custom_values_xml": o.custom_values_xml,
        "deleted": o.deleted,
        "created_on_utc": t(&o.created_on_utc),
        "customer_id": o.customer_id,
        "billing_address": st.address(o.billing_address_id).map(address),
        "shipping_address": o.shipping_address_id.and_then(|a| st.address(a)).map(address),
        "order_items": st.items_of(o.id).into_iter().map(|i| order_item(st, i)).collect::<Vec<_>>(),
        "order_status": status,
        "payment_status": o.payment_status().name(),
        "shipping_status": o.shipping_status().name(),
        "customer_tax_display_type": TaxDisplayType::from_id(o.customer_tax_display_type_id).map(|x| x.name()),
    });
    if embed_customer {
        v["customer"] = st
            .customer(o.customer_id)
            .map(|c| customer(st, c, false))
            .unwrap_or(Value::Null);
    }
    v
}
