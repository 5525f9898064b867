//! Order → `nopbridge.events.v1.Order`: every amount in the store's primary currency as
//! stored, plus the customer currency, the rate and the total in the customer currency.
use super::{address, text, ts, ts_opt, Fields, MapCtx, MapError};
use crate::client::dto::*;
use nopbridge_model::{parse_tax_rates, Currency};
use nopbridge_proto::events::v1 as pb;
use std::collections::HashMap;

/// Everything one order event is built from.
#[derive(Debug, Clone)]
pub struct OrderBundle {
    pub order: OrderDto,
    pub items: Vec<OrderItemDto>,
    /// Products of the lines (SKU, name, tax category), by id; a deleted one is absent.
    pub products: HashMap<i64, ProductDto>,
    pub billing: Option<AddressDto>,
    pub shipping: Option<AddressDto>,
    /// Gift-card redemptions with the card's coupon code.
    pub gift_cards: Vec<(GiftCardUsageDto, Option<String>)>,
    pub reward_points: Option<RewardPointsDto>,
}

pub fn order_status(id: i32) -> pb::OrderStatus {
    match id {
        10 => pb::OrderStatus::Pending,
        20 => pb::OrderStatus::Processing,
        30 => pb::OrderStatus::Complete,
        40 => pb::OrderStatus::Cancelled,
        _ => pb::OrderStatus::Unspecified,
    }
}

pub fn payment_status(id: i32) -> pb::PaymentStatus {
    match id {
        10 => pb::PaymentStatus::Pending,
        20 => pb::PaymentStatus::Authorized,
        30 => pb::PaymentStatus::Paid,
        35 => pb::PaymentStatus::PartiallyRefunded,
        40 => pb::PaymentStatus::Refunded,
        50 => pb::PaymentStatus::Voided,
        _ => pb::PaymentStatus::Unspecified,
    }
}

pub fn shipping_status(id: i32) -> pb::ShippingStatus {
    match id {
        10 => pb::ShippingStatus::NotRequired,
        20 => pb::ShippingStatus::NotYetShipped,
        25 => pb::ShippingStatus::PartiallyShipped,
        30 => pb::ShippingStatus::Shipped,
        40 => pb::ShippingStatus::Delivered,
        _ => pb::ShippingStatus::Unspecified,
    }
}

/// An order that can still change in ways accounting cares about, so it is re-polled:
/// not cancelled, not fully refunded or voided, and not paid-complete-and-delivered. (A
/// complete order may still be refunded; the re-poll window of recent orders covers that.)
pub fn is_open(o: &OrderDto) -> bool {
    if o.order_status_id == 40 || matches!(o.payment_status_id, 40 | 50) {
        return false;
    }
    !(o.order_status_id == 30
        && o.payment_status_id == 30
        && matches!(o.shipping_status_id, 10 | 40))
}

/// The mapped status number; 0 (unspecified) means the store sent an id nopCommerce does not
/// define, which is refused rather than guessed.
fn status(f: &Fields, field: &'static str, id: i32, mapped: i32) -> Result<i32, MapError> {
    if mapped == 0 {
        return Err(f.err(field, format!("unknown status id {id}")));
    }
    Ok(mapped)
}

pub fn to_canonical(b: &OrderBundle, ctx: &MapCtx) -> Result<pb::Order, MapError> {
    let o = &b.order;
    let f = Fields {
        entity: "order",
        id: o.id,
    };
    let cur = ctx.currency;
    let m = |field, d: &Dec| f.money(field, d, cur);
    let rate = f.rate("currency_rate", &o.currency_rate)?;
    if rate.is_zero() || rate.is_negative() {
        return Err(f.err(
            "currency_rate",
            format!("{:?} is not a usable rate", o.currency_rate.0),
        ));
    }
    let customer_code = o
        .customer_currency_code
        .clone()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| cur.code().to_string());
    let customer_cur = Currency::new(customer_code.trim())
        .map_err(|e| f.err("customer_currency_code", e.to_string()))?;
    let total_minor = f.minor("order_total", &o.order_total, cur)?;
    // The customer's total is the stored total × the rate, rounded once (what
    // CurrencyService.ConvertCurrency and the order page do). Converting the total already
    // rounded to store-currency cents rounds twice: a cent off when the store keeps
    // sub-cent amounts (RoundPricesDuringCalculation off), e.g. 10.0050 USD × 0.92 is
    // 9.20 EUR, not 10.01 × 0.92 = 9.21.
    let stored_total = f.rate("order_total", &o.order_total)?;
    let total_customer = rate
        .apply_minor(
            stored_total.units(),
            stored_total.scale(),
            customer_cur.exponent(),
        )
        .ok_or_else(|| {
            f.err(
                "order_total",
                "overflow converting to the customer currency",
            )
        })?;
    let raw_rates = text(&o.tax_rates);
    let tax_rates = parse_tax_rates(&raw_rates)
        .into_iter()
        .map(|e| {
            Ok(pb::TaxRateAmount {
                rate_percent: Some(e.rate_percent.to_proto()),
                amount: Some(pb::Money {
                    minor_units: e
                        .amount_minor(cur.exponent())
                        .ok_or_else(|| f.err("tax_rates", "amount overflows"))?,
                    currency: cur.code().to_string(),
                }),
            })
        })
        .collect::<Result<Vec<_>, MapError>>()?;
    let items = b
        .items
        .iter()
        .map(|i| item(i, b.products.get(&i.product_id), cur))
        .collect::<Result<Vec<_>, MapError>>()?;
    let gift_cards = b
        .gift_cards
        .iter()
        .map(|(u, code)| {
            Ok(pb::GiftCardUsage {
                gift_card_id: u.gift_card_id,
                coupon_code: code.clone().unwrap_or_default(),
                amount: Some(m("gift_card.used_value", &u.used_value)?),
            })
        })
        .collect::<Result<Vec<_>, MapError>>()?;
    let reward_points = match &b.reward_points {
        // Redeemed points are stored negative; the usage is the points spent.
        Some(r) => Some(pb::RewardPointsUsage {
            points: r.points.abs(),
            amount: Some(m("reward_points.used_amount", &r.used_amount)?),
        }),
        None => None,
    };
    Ok(pb::Order {
        meta: None,
        order_id: o.id,
        order_guid: o.order_guid.clone(),
        custom_order_number: o
            .custom_order_number
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| o.id.to_string()),
        store_id: o.store_id,
        customer_id: o.customer_id,
        // The checkout email: guests have no account email (reference pitfall 7).
        customer_email: b
            .billing
            .as_ref()
            .and_then(|a| a.email.clone())
            .unwrap_or_default(),
        order_status: status(
            &f,
            "order_status_id",
            o.order_status_id,
            order_status(o.order_status_id) as i32,
        )?,
        payment_status: status(
            &f,
            "payment_status_id",
            o.payment_status_id,
            payment_status(o.payment_status_id) as i32,
        )?,
        shipping_status: status(
            &f,
            "shipping_status_id",
            o.shipping_status_id,
            shipping_status(o.shipping_status_id) as i32,
        )?,
        payment_method_system_name: text(&o.payment_method_system_name),
        shipping_method: text(&o.shipping_method),
        store_currency: cur.code().to_string(),
        customer_currency_code: customer_cur.code().to_string(),
        currency_rate: Some(rate.to_proto()),
        customer_tax_display_type: match o.customer_tax_display_type_id {
            0 => pb::TaxDisplayType::IncludingTax,
            10 => pb::TaxDisplayType::ExcludingTax,
            _ => pb::TaxDisplayType::Unspecified,
        } as i32,
        vat_number: text(&o.vat_number),
        subtotal_incl_tax: Some(m("order_subtotal_incl_tax", &o.order_subtotal_incl_tax)?),
        subtotal_excl_tax: Some(m("order_subtotal_excl_tax", &o.order_subtotal_excl_tax)?),
        subtotal_discount_incl_tax: Some(m(
            "order_sub_total_discount_incl_tax",
            &o.order_sub_total_discount_incl_tax,
        )?),
        subtotal_discount_excl_tax: Some(m(
            "order_sub_total_discount_excl_tax",
            &o.order_sub_total_discount_excl_tax,
        )?),
        shipping_incl_tax: Some(m("order_shipping_incl_tax", &o.order_shipping_incl_tax)?),
        shipping_excl_tax: Some(m("order_shipping_excl_tax", &o.order_shipping_excl_tax)?),
        payment_method_fee_incl_tax: Some(m(
            "payment_method_additional_fee_incl_tax",
            &o.payment_method_additional_fee_incl_tax,
        )?),
        payment_method_fee_excl_tax: Some(m(
            "payment_method_additional_fee_excl_tax",
            &o.payment_method_additional_fee_excl_tax,
        )?),
        tax_total: Some(m("order_tax", &o.order_tax)?),
        tax_rates,
        tax_rates_raw: raw_rates,
        order_discount: Some(m("order_discount", &o.order_discount)?),
        order_total: Some(pb::Money {
            minor_units: total_minor,
            currency: cur.code().to_string(),
        }),
        refunded_amount: Some(m("refunded_amount", &o.refunded_amount)?),
        gift_cards,
        reward_points,
        order_total_customer_currency: Some(pb::Money {
            minor_units: total_customer,
            currency: customer_cur.code().to_string(),
        }),
        billing_address: b.billing.as_ref().map(|a| address(a, ctx)),
        shipping_address: b.shipping.as_ref().map(|a| address(a, ctx)),
        pickup_in_store: o.pickup_in_store,
        items,
        authorization_transaction_id: text(&o.authorization_transaction_id),
        capture_transaction_id: text(&o.capture_transaction_id),
        created_at: Some(ts(o.created_on_utc)),
        paid_at: ts_opt(o.paid_date_utc),
        deleted: o.deleted,
    })
}

fn item(
    i: &OrderItemDto,
    product: Option<&ProductDto>,
    cur: Currency,
) -> Result<pb::OrderItem, MapError> {
    let f = Fields {
        entity: "order item",
        id: i.id,
    };
    let m = |field, d: &Dec| f.money(field, d, cur).map(Some);
    Ok(pb::OrderItem {
        order_item_id: i.id,
        order_item_guid: i.order_item_guid.clone(),
        product_id: i.product_id,
        sku: product.and_then(|p| p.sku.clone()).unwrap_or_default(),
        product_name: product.map(|p| p.name.clone()).unwrap_or_default(),
        quantity: i.quantity,
        unit_price_incl_tax: m("unit_price_incl_tax", &i.unit_price_incl_tax)?,
        unit_price_excl_tax: m("unit_price_excl_tax", &i.unit_price_excl_tax)?,
        price_incl_tax: m("price_incl_tax", &i.price_incl_tax)?,
        price_excl_tax: m("price_excl_tax", &i.price_excl_tax)?,
        discount_incl_tax: m("discount_amount_incl_tax", &i.discount_amount_incl_tax)?,
        discount_excl_tax: m("discount_amount_excl_tax", &i.discount_amount_excl_tax)?,
        original_product_cost: m("original_product_cost", &i.original_product_cost)?,
        attribute_description: text(&i.attribute_description),
        attributes_xml: text(&i.attributes_xml),
        tax_category_id: product.map_or(0, |p| p.tax_category_id),
        attributes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The reference's sample order (§6.1) as the backend returns it: 120.60 USD paid in EUR
    /// at 0.92, a 10.00 subtotal discount, 20 % tax, a gift card of 5.00.
    fn bundle() -> OrderBundle {
        let order: OrderDto = serde_json::from_str(
            r#"{"id":1043,"order_guid":"6f1c1c4e-8d7a-4a51-9a53-0d7c2f1f9e10","store_id":1,
            "customer_id":5127,"billing_address_id":9931,"shipping_address_id":9932,
            "pickup_in_store":false,"order_status_id":20,"shipping_status_id":20,
            "payment_status_id":30,"payment_method_system_name":"Payments.Manual",
            "customer_currency_code":"EUR","currency_rate":0.9200,
            "customer_tax_display_type_id":0,"vat_number":"",
            "order_subtotal_incl_tax":123.0000,"order_subtotal_excl_tax":102.5000,
            "order_sub_total_discount_incl_tax":12.0000,"order_sub_total_discount_excl_tax":10.0000,
            "order_shipping_incl_tax":9.6000,"order_shipping_excl_tax":8.0000,
            "payment_method_additional_fee_incl_tax":0.0000,
            "payment_method_additional_fee_excl_tax":0.0000,"tax_rates":"20:20.1;   ",
            "order_tax":20.1000,"order_discount":0.0000,"order_total":115.6000,
            "refunded_amount":0.0000,"capture_transaction_id":"ch_3Pq8",
            "paid_date_utc":"2024-03-14T09:21:11.52","shipping_method":"Ground",
            "deleted":false,"created_on_utc":"2024-03-14T09:21:07.383",
            "custom_order_number":"1043"}"#,
        )
        .unwrap();
        let item: OrderItemDto = serde_json::from_str(
            r#"{"id":2202,"order_item_guid":"g","order_id":1043,"product_id":318,"quantity":1,
            "unit_price_incl_tax":27.0000,"unit_price_excl_tax":22.5000,
            "price_incl_tax":27.0000,"price_excl_tax":22.5000,
            "discount_amount_incl_tax":3.0000,"discount_amount_excl_tax":2.5000,
            "original_product_cost":9.0000,"attribute_description":"Colour: Natural"}"#,
        )
        .unwrap();
        let billing = AddressDto {
            id: 9931,
            first_name: Some("Zoë".into()),
            last_name: Some("O'Brien".into()),
            email: Some("zoe@example.test".into()),
            country_id: Some(74),
            ..Default::default()
        };
        OrderBundle {
            order,
            items: vec![item],
            products: HashMap::new(),
            billing: Some(billing),
            shipping: None,
            gift_cards: vec![(
                GiftCardUsageDto {
                    gift_card_id: 3,
                    used_value: "5.0000".into(),
                },
                Some("GC-3".into()),
            )],
            reward_points: None,
        }
    }

    fn ctx() -> MapCtx {
        MapCtx {
            currency: Currency::new("USD").unwrap(),
            countries: [(74, "FR".to_string())].into_iter().collect(),
            prices_include_tax: false,
        }
    }

    fn minor(m: &Option<pb::Money>) -> (i64, &str) {
        let m = m.as_ref().unwrap();
        (m.minor_units, m.currency.as_str())
    }

    #[test]
    fn eur_order_in_a_usd_store_is_exact_in_both_currencies() {
        let o = to_canonical(&bundle(), &ctx()).unwrap();
        assert_eq!(minor(&o.order_total), (11_560, "USD"));
        // 115.60 × 0.92 = 106.352 → 106.35 EUR.
        assert_eq!(minor(&o.order_total_customer_currency), (10_635, "EUR"));
        assert_eq!(
            o.currency_rate,
            Some(pb::Decimal {
                units: 9200,
                scale: 4
            })
        );
        assert_eq!(minor(&o.subtotal_excl_tax), (10_250, "USD"));
        assert_eq!(minor(&o.subtotal_discount_incl_tax), (1_200, "USD"));
        assert_eq!(minor(&o.shipping_incl_tax), (960, "USD"));
        assert_eq!(minor(&o.tax_total), (2_010, "USD"));
        assert_eq!(o.tax_rates.len(), 1);
        assert_eq!(minor(&o.tax_rates[0].amount), (2_010, "USD"));
        assert_eq!(minor(&o.gift_cards[0].amount), (500, "USD"));
        assert_eq!(
            o.items[0].discount_excl_tax.as_ref().unwrap().minor_units,
            250
        );
        assert_eq!(o.payment_status(), pb::PaymentStatus::Paid);
        assert_eq!(o.shipping_status(), pb::ShippingStatus::NotYetShipped);
        assert_eq!(o.customer_email, "zoe@example.test");
        let b = o.billing_address.unwrap();
        assert_eq!(
            (b.last_name.as_str(), b.country_code.as_str()),
            ("O'Brien", "FR")
        );
    }

    #[test]
    fn the_customer_total_is_the_stored_total_converted_and_rounded_once() {
        // A store that does not round keeps 10.0050: × 0.92 = 9.2046 → 9.20 EUR, where the
        // rounded 10.01 × 0.92 would give 9.21.
        let mut b = bundle();
        b.order.order_total = "10.0050".into();
        let o = to_canonical(&b, &ctx()).unwrap();
        assert_eq!(minor(&o.order_total), (1_001, "USD"));
        assert_eq!(minor(&o.order_total_customer_currency), (920, "EUR"));
    }

    #[test]
    fn unknown_status_and_bad_currency_are_refused() {
        let mut b = bundle();
        b.order.payment_status_id = 99;
        let e = to_canonical(&b, &ctx()).unwrap_err();
        assert_eq!(e.field, "payment_status_id");
        let mut b = bundle();
        b.order.customer_currency_code = Some("EURO".into());
        assert_eq!(
            to_canonical(&b, &ctx()).unwrap_err().field,
            "customer_currency_code"
        );
        let mut b = bundle();
        b.order.order_total = "12..5".into();
        assert_eq!(to_canonical(&b, &ctx()).unwrap_err().field, "order_total");
    }

    #[test]
    fn terminal_orders_are_not_repolled() {
        let mut o = bundle().order;
        assert!(is_open(&o), "paid, not shipped");
        o.order_status_id = 30;
        o.shipping_status_id = 40;
        assert!(!is_open(&o), "complete, paid, delivered");
        o.payment_status_id = 35;
        assert!(is_open(&o), "partially refunded can be refunded again");
        o.payment_status_id = 40;
        assert!(!is_open(&o));
        o.payment_status_id = 20;
        o.order_status_id = 40;
        assert!(!is_open(&o), "cancelled");
    }
}
