//! Property: for generated valid orders (several currencies, discounts at both levels, several
//! tax rates, gift cards, reward points, taxed shipping and fees, store rounding noise),
//! every emitted document balances to the minor unit in its posting currency, and its total
//! is the order total converted once at the document's rate.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use nopbridge_mapping::pb::commands::{command::Body, SaleDocumentKind, TenderKind};
use nopbridge_mapping::pb::events::{self as ev, PaymentStatus};
use nopbridge_mapping::Mapper;
use nopbridge_model::decimal::div_round_half_away;
use nopbridge_model::{Currency, Rate};
use proptest::prelude::*;

const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "BHD", "KWD", "CHF"];
/// (units, scale) percent
const TAX_RATES: &[(i64, u32)] = &[(0, 0), (5, 0), (7, 0), (8875, 3), (19, 0), (20, 0)];

#[derive(Debug, Clone)]
struct Spec {
    store: usize,
    customer: usize,
    home: usize,
    customer_rate: (i64, u32),
    home_rate: (i64, u32),
    policy: usize,
    vat: bool,
    items: Vec<(i32, i64, usize)>,
    subtotal_discount_permille: i64,
    shipping: (i64, usize),
    fee: (i64, usize),
    order_discount_permille: i64,
    gifts: Vec<i64>,
    reward_permille: i64,
    gift_tender: bool,
    points_tender: bool,
    rounding_line: bool,
    noise: i64,
    paid_later: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            0..CURRENCIES.len(),
            0..CURRENCIES.len(),
            0..CURRENCIES.len(),
        ),
        ((1i64..5_000_000, 2u32..7), (1i64..5_000_000, 2u32..7)),
        (0usize..3, any::<bool>()),
        proptest::collection::vec((1i32..6, 1i64..300_000, 0..TAX_RATES.len()), 1..7),
        (
            0i64..500,
            (0i64..3_000, 0..TAX_RATES.len()),
            (0i64..800, 0..TAX_RATES.len()),
            0i64..200,
        ),
        (proptest::collection::vec(0i64..200, 0..3), 0i64..150),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            -2i64..=2,
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (store, customer, home),
                (customer_rate, home_rate),
                (policy, vat),
                items,
                (sd, shipping, fee, od),
                (gifts, rp),
                (gt, pt, rl, noise, later),
            )| Spec {
                store,
                customer,
                home,
                customer_rate,
                home_rate,
                policy,
                vat,
                items,
                subtotal_discount_permille: sd,
                shipping,
                fee,
                order_discount_permille: od,
                gifts,
                reward_permille: rp,
                gift_tender: gt,
                points_tender: pt,
                rounding_line: rl,
                noise,
                paid_later: later,
            },
        )
}

fn pct(v: i64, (units, scale): (i64, u32)) -> i64 {
    i64::try_from(div_round_half_away(
        i128::from(v) * i128::from(units),
        100 * 10i128.pow(scale),
    ))
    .unwrap()
}

fn rate_str((units, scale): (i64, u32)) -> String {
    Rate::new(units, scale).to_string()
}

/// Builds the order the way nopCommerce computes it (store currency, rounded per component).
fn build(s: &Spec) -> ev::Order {
    let c = CURRENCIES[s.store];
    let mut o = us_order(77);
    o.store_currency = c.into();
    o.customer_currency_code = CURRENCIES[s.customer].into();
    o.currency_rate = Some(ev::Decimal {
        units: s.customer_rate.0,
        scale: s.customer_rate.1,
    });
    o.items.clear();
    let mut per_rate = vec![0i64; TAX_RATES.len()];
    let (mut subtotal, mut items_tax) = (0i64, 0i64);
    for (i, &(qty, unit, r)) in s.items.iter().enumerate() {
        let net = unit * i64::from(qty);
        let tax = pct(net, TAX_RATES[r]);
        per_rate[r] += tax;
        subtotal += net;
        items_tax += tax;
        let id = i64::try_from(i).unwrap() + 1;
        o.items.push(item(
            id,
            &format!("SKU-{id}"),
            &format!("Product {id}"),
            qty,
            net,
            tax,
            c,
        ));
    }
    let d = subtotal * s.subtotal_discount_permille / 1000;
    let d_tax = i64::try_from(div_round_half_away(
        i128::from(items_tax) * i128::from(d),
        i128::from(subtotal.max(1)),
    ))
    .unwrap();
    let (ship, ship_r) = s.shipping;
    let ship_tax = pct(ship, TAX_RATES[ship_r]);
    per_rate[ship_r] += ship_tax;
    let (fee, fee_r) = s.fee;
    let fee_tax = pct(fee, TAX_RATES[fee_r]);
    per_rate[fee_r] += fee_tax;
    let tax_total = items_tax - d_tax + ship_tax + fee_tax;
    let before = subtotal - d + ship + fee + tax_total;
    let od = before * s.order_discount_permille / 1000;
    let mut remaining = before - od;
    o.gift_cards.clear();
    for (i, g) in s.gifts.iter().enumerate() {
        let amount = remaining * g / 1000;
        remaining -= amount;
        o.gift_cards.push(ev::GiftCardUsage {
            gift_card_id: i64::try_from(i).unwrap(),
            coupon_code: format!("GC{i}"),
            amount: m(amount, c),
        });
    }
    let rp = remaining * s.reward_permille / 1000;
    remaining -= rp;
    o.reward_points = (rp > 0).then(|| ev::RewardPointsUsage {
        points: rp,
        amount: m(rp, c),
    });
    o.subtotal_excl_tax = m(subtotal, c);
    o.subtotal_discount_excl_tax = m(d, c);
    o.subtotal_discount_incl_tax = m(d + d_tax, c);
    o.shipping_excl_tax = m(ship, c);
    o.shipping_incl_tax = m(ship + ship_tax, c);
    o.payment_method_fee_excl_tax = m(fee, c);
    o.payment_method_fee_incl_tax = m(fee + fee_tax, c);
    o.tax_total = m(tax_total, c);
    o.order_discount = m(od, c);
    o.order_total = m((remaining + s.noise).max(0), c);
    o.tax_rates = TAX_RATES
        .iter()
        .zip(&per_rate)
        .filter(|(_, a)| **a != 0)
        .map(|(&(u, sc), &a)| ev::TaxRateAmount {
            rate_percent: Some(ev::Decimal {
                units: u,
                scale: sc,
            }),
            amount: m(a, c),
        })
        .collect();
    o.payment_status = PaymentStatus::Paid as i32;
    if s.paid_later {
        o.paid_at = Some(ts(1_710_408_067 + 3 * 86_400));
    }
    o
}

fn config(s: &Spec) -> nopbridge_mapping::ConnectionConfig {
    with(|v| {
        set(v, "currency.home_currency", CURRENCIES[s.home]);
        set(
            v,
            "currency.document_currency",
            ["store", "customer", "home"][s.policy],
        );
        let mut rates = Vec::new();
        if s.store != s.home {
            rates.push(format!(
                "{{from: {}, to: {}, rate: \"{}\"}}",
                CURRENCIES[s.store],
                CURRENCIES[s.home],
                rate_str(s.home_rate)
            ));
        }
        if s.customer != s.home && s.customer != s.store {
            rates.push(format!(
                "{{from: {}, to: {}, rate: \"{}\"}}",
                CURRENCIES[s.customer],
                CURRENCIES[s.home],
                rate_str(s.home_rate)
            ));
        }
        set(v, "currency.rates", &format!("[{}]", rates.join(", ")));
        set(
            v,
            "currency.residual",
            if s.rounding_line {
                "rounding_line"
            } else {
                "largest_line"
            },
        );
        set(
            v,
            "items.gift_card.post_as",
            if s.gift_tender { "tender" } else { "line" },
        );
        set(v, "items.gift_card.payment_method", "Gift card");
        set(
            v,
            "items.reward_points.post_as",
            if s.points_tender { "tender" } else { "line" },
        );
        if s.vat {
            set(v, "tax.mode", "vat");
            set(
                v,
                "tax.vat.codes",
                "[{rate: 0, code: Z}, {rate: 5, code: R}, {rate: 7, code: R7}, {rate: 8.875, code: US}, {rate: 19, code: S19}, {rate: 20, code: S}]",
            );
        }
    })
}

fn minor_of(m: &Option<ev::Money>, currency: &str) -> i64 {
    let m = m.as_ref().expect("money present");
    assert!(
        m.currency == currency,
        "amount in {} on a {} document",
        m.currency,
        currency
    );
    m.minor_units
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_document_balances_in_its_posting_currency(s in spec()) {
        let order = build(&s);
        let mapper = Mapper::new(vec![config(&s)]).unwrap();
        let results = map_order(&mapper, &order);
        prop_assert!(!results.is_empty());
        let store = Currency::new(CURRENCIES[s.store]).unwrap();
        for r in results {
            let cmd = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
            match cmd.body.as_ref().unwrap() {
                Body::PostSale(sale) => {
                    let doc = Currency::new(&sale.currency).unwrap();
                    let c = doc.code();
                    let expected_doc = match s.policy {
                        0 => CURRENCIES[s.store],
                        1 => CURRENCIES[s.customer],
                        _ => CURRENCIES[s.home],
                    };
                    prop_assert_eq!(c, expected_doc);
                    let lines: i64 = sale.lines.iter().map(|l| minor_of(&l.amount, c)).sum();
                    let tax = sale.tax.as_ref().unwrap();
                    let total_tax = minor_of(&tax.total_tax, c);
                    let total = minor_of(&sale.total, c);
                    prop_assert_eq!(lines + total_tax, total, "lines + tax = total");
                    // the order total converted once at the document's rate
                    let x = sale.exchange_rate.as_ref().unwrap();
                    let rate = Rate::from_proto(x.document_per_store.as_ref().unwrap());
                    let conv = |v: i64| rate.apply_minor(v, store.exponent(), doc.exponent()).unwrap();
                    let paid = conv(order.order_total.as_ref().unwrap().minor_units);
                    let redeemed: i64 = sale
                        .tenders
                        .iter()
                        .filter(|t| t.kind != TenderKind::Payment as i32)
                        .map(|t| minor_of(&t.amount, c))
                        .sum();
                    prop_assert_eq!(total, paid + redeemed, "total = converted order total + tendered redemptions");
                    let tendered: i64 = sale.tenders.iter().map(|t| minor_of(&t.amount, c)).sum();
                    if sale.kind == SaleDocumentKind::SalesReceipt as i32 {
                        prop_assert_eq!(tendered, total, "receipt tenders = total");
                    }
                    if !tax.rates.is_empty() {
                        let by_rate: i64 = tax.rates.iter().map(|r| minor_of(&r.tax_amount, c)).sum();
                        prop_assert_eq!(by_rate, total_tax, "tax by rate = total tax");
                    }
                    let line_tax: i64 = sale.lines.iter().map(|l| minor_of(&l.tax_amount, c)).sum();
                    prop_assert_eq!(line_tax, total_tax, "line taxes = total tax");
                    // the residual stays small: store noise plus half a unit per converted amount
                    let residual = minor_of(&sale.rounding_residual, c).abs();
                    prop_assert!(residual <= i64::try_from(sale.lines.len()).unwrap() + 4 + conv(2).abs(), "residual {}", residual);
                    prop_assert_eq!(x.home_currency.as_str(), CURRENCIES[s.home]);
                    prop_assert!(x.home_per_document.as_ref().unwrap().units > 0);
                }
                Body::ApplyPayment(p) => {
                    prop_assert!(s.paid_later);
                    let c = p.amount.as_ref().unwrap().currency.clone();
                    let doc = Currency::new(&c).unwrap();
                    let rate = Rate::from_proto(p.exchange_rate.as_ref().unwrap().document_per_store.as_ref().unwrap());
                    let paid = rate.apply_minor(order.order_total.as_ref().unwrap().minor_units, store.exponent(), doc.exponent()).unwrap();
                    prop_assert_eq!(minor_of(&p.amount, &c), paid);
                }
                other => prop_assert!(false, "unexpected body {:?}", other),
            }
        }
    }
}
