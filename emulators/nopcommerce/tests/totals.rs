//! Order totals by nopCommerce's formula, TaxRates format, currency rate precision and the
//! 4-decimal JSON scale.

mod common;

use common::*;
use nopbridge_emu_nopcommerce::money::parse_tax_rates;
use nopbridge_emu_nopcommerce::EmulatorConfig;
use rust_decimal::Decimal;

#[tokio::test]
async fn reference_sample_order_totals_and_json_scale() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let s = sample_order(t.handle())?;
    let (status, text, o) = t.get(&format!("Order/GetById/{}", s.order_id)).await?;
    assert_eq!(status, 200);
    assert_eq!(
        raw_number(&text, "order_subtotal_excl_tax"),
        Some("102.5000")
    );
    assert_eq!(
        raw_number(&text, "order_subtotal_incl_tax"),
        Some("123.0000")
    );
    assert_eq!(
        raw_number(&text, "order_sub_total_discount_excl_tax"),
        Some("10.0000")
    );
    assert_eq!(
        raw_number(&text, "order_sub_total_discount_incl_tax"),
        Some("12.0000")
    );
    assert_eq!(raw_number(&text, "order_shipping_excl_tax"), Some("8.0000"));
    assert_eq!(raw_number(&text, "order_shipping_incl_tax"), Some("9.6000"));
    assert_eq!(raw_number(&text, "order_tax"), Some("20.1000"));
    assert_eq!(raw_number(&text, "order_total"), Some("120.6000"));
    assert_eq!(raw_number(&text, "currency_rate"), Some("0.9200"));
    assert_eq!(o["tax_rates"], "20:20.1;   ");
    assert_eq!(o["customer_currency_code"], "EUR");
    assert_eq!(o["order_status_id"], 10);
    assert_eq!(o["payment_status_id"], 10);
    assert_eq!(o["shipping_status_id"], 20);
    assert!(o["created_on_utc"]
        .as_str()
        .is_some_and(|d| !d.ends_with('Z')));

    let (_, text, items) = t
        .get(&format!("OrderItem/GetOrderItems/{}", s.order_id))
        .await?;
    let items = items.as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    let shade = items
        .iter()
        .find(|i| i["product_id"] == s.shade)
        .cloned()
        .unwrap_or_default();
    assert_eq!(shade["unit_price_excl_tax"].as_f64(), Some(22.5));
    assert_eq!(shade["unit_price_incl_tax"].as_f64(), Some(27.0));
    assert_eq!(shade["discount_amount_excl_tax"].as_f64(), Some(2.5));
    assert_eq!(shade["discount_amount_incl_tax"].as_f64(), Some(3.0));
    assert!(text.contains("\"price_excl_tax\":80.0000"));
    Ok(())
}

/// OrderTotal = (subtotal − subtotal discount) + shipping + fee + tax − order discount −
/// gift cards − reward points, checked on every generated order.
#[tokio::test]
async fn formula_holds_for_generated_orders() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.orders = 1500;
    let t = TestEmu::with(cfg).await?;
    let checked = t.handle().read(|st| {
        let mut checked = (0, 0, 0);
        for o in &st.orders {
            let cards: Decimal = st
                .gift_card_usage
                .iter()
                .filter(|u| u.used_with_order_id == o.id)
                .map(|u| u.used_value)
                .sum();
            let points = o
                .redeemed_reward_points_entry_id
                .and_then(|id| st.reward_points_entry(id))
                .map(|r| r.used_amount)
                .unwrap_or_default();
            let expected = (o.order_subtotal_excl_tax - o.order_sub_total_discount_excl_tax)
                + o.order_shipping_excl_tax
                + o.payment_method_additional_fee_excl_tax
                + o.order_tax
                - o.order_discount
                - cards
                - points;
            assert_eq!(o.order_total, expected.max(Decimal::ZERO), "order {}", o.id);
            assert_eq!(o.order_total.scale(), 4);
            // Σ TaxRates need not equal OrderTax (rates unrounded), but stays within a cent.
            let sum: Decimal = parse_tax_rates(&o.tax_rates).values().sum();
            assert!(
                (sum - o.order_tax).abs() <= d("0.01"),
                "order {} {} vs {}",
                o.id,
                o.tax_rates,
                o.order_tax
            );
            let line_sum: Decimal = st.items_of(o.id).iter().map(|i| i.price_excl_tax).sum();
            assert_eq!(line_sum, o.order_subtotal_excl_tax);
            checked.0 += 1;
            if !cards.is_zero() {
                checked.1 += 1;
            }
            if !points.is_zero() {
                checked.2 += 1;
            }
        }
        checked
    });
    assert_eq!(checked.0, 1500);
    assert!(checked.1 > 0, "some orders used gift cards");
    assert!(checked.2 > 0, "some orders redeemed reward points");
    Ok(())
}

#[tokio::test]
async fn rounding_off_keeps_unrounded_tax_and_rate_precision_8() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.store.round_prices_during_calculation = false;
    cfg.store.currency_rate_decimals = 8;
    cfg.store.tax_rates_with_scale = true;
    let t = TestEmu::with(cfg).await?;
    let h = t.handle();
    let p = add_product(h, "ODD-1", "3.33", 4, 50, false); // 7 % → 0.2331 tax per unit
    let c = add_customer(h, "odd@example.test", "Zoë", "O'Brien", Some(3));
    let mut req = nopbridge_emu_nopcommerce::PlaceOrder::new(
        1,
        c,
        vec![nopbridge_emu_nopcommerce::PlaceOrderItem::new(p, 3)],
    );
    req.currency_code = Some("GBP".into());
    let id = h.place_order(&req)?;
    let (_, text, o) = t.get(&format!("Order/GetById/{id}")).await?;
    assert_eq!(raw_number(&text, "currency_rate"), Some("0.79000000"));
    assert_eq!(raw_number(&text, "order_tax"), Some("0.6993"));
    assert_eq!(raw_number(&text, "order_total"), Some("10.6893"));
    assert_eq!(o["tax_rates"], "7.0000:0.6993;   ");

    // With rounding on (installer default) OrderTax and OrderTotal are rounded to the cent
    // while the TaxRates amount keeps its precision.
    let t2 = TestEmu::start().await?;
    let h2 = t2.handle();
    let p = add_product(h2, "ODD-2", "3.33", 4, 50, false);
    let c = add_customer(h2, "odd2@example.test", "李", "王", None);
    let id = h2.place_order(&nopbridge_emu_nopcommerce::PlaceOrder::new(
        1,
        c,
        vec![nopbridge_emu_nopcommerce::PlaceOrderItem::new(p, 3)],
    ))?;
    let (_, text, o) = t2.get(&format!("Order/GetById/{id}")).await?;
    assert_eq!(raw_number(&text, "order_tax"), Some("0.7000"));
    assert_eq!(raw_number(&text, "order_total"), Some("10.6900"));
    assert_eq!(raw_number(&text, "currency_rate"), Some("1.0000"));
    assert_eq!(o["tax_rates"], "7:0.6993;   ");
    Ok(())
}

#[tokio::test]
async fn invalid_rate_precision_is_a_config_error() {
    let mut cfg = EmulatorConfig::default();
    cfg.store.currency_rate_decimals = 6;
    assert!(nopbridge_emu_nopcommerce::spawn(cfg).await.is_err());
}

/// PrimaryExchangeRateCurrency ≠ primary store currency: Currency.Rate is relative to EUR,
/// the order rate is still customer rate / primary rate.
#[tokio::test]
async fn exchange_rate_base_differs_from_store_currency() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.store.primary_exchange_rate_currency = "EUR".into();
    cfg.store.currency_rate_decimals = 8;
    let t = TestEmu::with(cfg).await?;
    let (_, text, currencies) = t.get("Currency/GetAll").await?;
    let rate = |code: &str| {
        currencies
            .as_array()
            .and_then(|a| a.iter().find(|c| c["currency_code"] == code))
            .and_then(|c| c["rate"].as_f64())
    };
    assert_eq!(
        (rate("USD"), rate("EUR"), rate("GBP")),
        (Some(1.087), Some(1.0), Some(0.8587))
    );
    assert!(text.contains("\"rate\":1.0870"));
    let s = sample_order(t.handle())?;
    let (_, text, o) = t.get(&format!("Order/GetById/{}", s.order_id)).await?;
    // 1.0000 / 1.0870 at decimal(18,8): not exactly 0.92 (errata 3 drift).
    assert_eq!(raw_number(&text, "currency_rate"), Some("0.91996320"));
    assert_eq!(o["order_total"].as_f64(), Some(120.6));
    Ok(())
}
