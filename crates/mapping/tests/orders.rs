//! Order mapping rules, table-driven where the rule has cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use nopbridge_mapping::pb::commands::{
    command::Body, Command, CustomerMatchRule, LineKind, RateSource, SaleDocumentKind, TargetKind,
    TenderKind, TruncationReason,
};
use nopbridge_mapping::pb::events::{self as ev, OrderStatus, PaymentStatus, ShippingStatus};
use nopbridge_mapping::{Mapper, MappingError};

fn mapper(cfgs: Vec<nopbridge_mapping::ConnectionConfig>) -> Mapper {
    Mapper::new(cfgs).unwrap()
}

#[test]
fn us_order_paid_at_sale_becomes_a_balanced_sales_receipt() {
    let mp = mapper(vec![qbo()]);
    let cmds = ok(map_order(&mp, &us_order(1001)));
    assert_eq!(cmds.len(), 1);
    let c = &cmds[0];
    assert_eq!(c.connection_id, "qbo-realm-1");
    assert_eq!(c.target, TargetKind::QuickbooksOnline as i32);
    assert_eq!(c.source_event_ids, vec!["evt-1001".to_string()]);
    assert_eq!(c.order.as_ref().unwrap().document_number, "WEB1001");
    let s = sale(c);
    assert_eq!(s.kind, SaleDocumentKind::SalesReceipt as i32);
    assert_eq!(s.currency, "USD");
    assert_eq!(minor(&s.total), 11760);
    let kinds: Vec<(i32, i64, &str)> = s
        .lines
        .iter()
        .map(|l| (l.kind, minor(&l.amount), l.tax_code.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (LineKind::Product as i32, 8000, "TAX"),
            (LineKind::Product as i32, 2250, "NON"),
            (LineKind::Shipping as i32, 800, "NON"),
        ]
    );
    let tax = s.tax.as_ref().unwrap();
    assert_eq!(minor(&tax.total_tax), 710);
    assert!(!tax.shipping_tax_included);
    assert_eq!(s.tenders.len(), 1);
    assert_eq!(s.tenders[0].payment_method, "Visa");
    assert_eq!(s.tenders[0].reference, "ch_123");
    assert_eq!(minor(&s.tenders[0].amount), 11760);
    // exchange rate always explicit, 1 here
    let x = s.exchange_rate.as_ref().unwrap();
    assert_eq!(x.home_per_document.as_ref().unwrap().units, 1);
    assert_eq!(x.source, RateSource::Identity as i32);
    // SKU override applied, SKU kept for lookup
    let item = s.lines[0].item.as_ref().unwrap();
    assert_eq!(item.target_item, "Oak desk lamp");
    assert_eq!(item.sku, "LAMP-OAK-01");
    // unit price = amount / qty with 6 decimals
    assert_eq!(s.lines[0].unit_price.as_ref().unwrap().units, 40_000_000);
    assert_eq!(s.txn_date, "2024-03-14");
    assert_eq!(s.memo, "nopCommerce order 1001 (Payments.Manual)");
}

#[test]
fn status_rules_decide_documents() {
    struct Case {
        name: &'static str,
        order: OrderStatus,
        payment: PaymentStatus,
        paid_after_secs: Option<i64>,
        deleted: bool,
        want: &'static [&'static str],
        sale_kind: Option<SaleDocumentKind>,
    }
    let cases = [
        Case {
            name: "pending waits",
            order: OrderStatus::Pending,
            payment: PaymentStatus::Pending,
            paid_after_secs: None,
            deleted: false,
            want: &[],
            sale_kind: None,
        },
        Case {
            name: "authorized waits",
            order: OrderStatus::Processing,
            payment: PaymentStatus::Authorized,
            paid_after_secs: None,
            deleted: false,
            want: &[],
            sale_kind: None,
        },
        Case {
            name: "paid at sale",
            order: OrderStatus::Processing,
            payment: PaymentStatus::Paid,
            paid_after_secs: Some(5),
            deleted: false,
            want: &["post_sale"],
            sale_kind: Some(SaleDocumentKind::SalesReceipt),
        },
        Case {
            name: "paid without a paid date",
            order: OrderStatus::Processing,
            payment: PaymentStatus::Paid,
            paid_after_secs: None,
            deleted: false,
            want: &["post_sale"],
            sale_kind: Some(SaleDocumentKind::SalesReceipt),
        },
        Case {
            name: "paid two days later",
            order: OrderStatus::Processing,
            payment: PaymentStatus::Paid,
            paid_after_secs: Some(2 * 86_400),
            deleted: false,
            want: &["post_sale", "apply_payment"],
            sale_kind: Some(SaleDocumentKind::Invoice),
        },
        Case {
            name: "cancelled voids",
            order: OrderStatus::Cancelled,
            payment: PaymentStatus::Paid,
            paid_after_secs: Some(5),
            deleted: false,
            want: &["void_document"],
            sale_kind: None,
        },
        Case {
            name: "payment voided voids",
            order: OrderStatus::Processing,
            payment: PaymentStatus::Voided,
            paid_after_secs: None,
            deleted: false,
            want: &["void_document"],
            sale_kind: None,
        },
        Case {
            name: "deleted voids",
            order: OrderStatus::Complete,
            payment: PaymentStatus::Paid,
            paid_after_secs: Some(5),
            deleted: true,
            want: &["void_document"],
            sale_kind: None,
        },
        Case {
            name: "refunded posts the sale (refunds come from payment transactions)",
            order: OrderStatus::Complete,
            payment: PaymentStatus::Refunded,
            paid_after_secs: Some(5),
            deleted: false,
            want: &["post_sale"],
            sale_kind: Some(SaleDocumentKind::SalesReceipt),
        },
    ];
    let mp = mapper(vec![qbo()]);
    for c in cases {
        let mut o = us_order(2001);
        o.order_status = c.order as i32;
        o.payment_status = c.payment as i32;
        o.paid_at = c.paid_after_secs.map(|s| ts(1_710_408_067 + s));
        if c.deleted {
            o.meta.as_mut().unwrap().change = ev::ChangeKind::Delete as i32;
        }
        let cmds = ok(map_order(&mp, &o));
        let names: Vec<&str> = cmds.iter().map(Command::kind_name).collect();
        assert_eq!(names, c.want, "{}", c.name);
        if let Some(k) = c.sale_kind {
            assert_eq!(sale(&cmds[0]).kind, k as i32, "{}", c.name);
        }
    }
}

#[test]
fn invoice_now_config_never_turns_a_paid_order_into_a_receipt() {
    let cfg = with(|v| set(v, "status_map.payment.pending", "invoice"));
    let mp = mapper(vec![cfg]);
    let mut pending = us_order(3001);
    pending.payment_status = PaymentStatus::Pending as i32;
    pending.paid_at = None;
    let first = ok(map_order(&mp, &pending));
    assert_eq!(
        first.iter().map(Command::kind_name).collect::<Vec<_>>(),
        ["post_sale"]
    );
    assert_eq!(sale(&first[0]).kind, SaleDocumentKind::Invoice as i32);
    let mut paid = us_order(3001);
    paid.meta.as_mut().unwrap().event_id = "evt-3001-paid".into();
    let second = ok(map_order(&mp, &paid));
    assert_eq!(
        second.iter().map(Command::kind_name).collect::<Vec<_>>(),
        ["post_sale", "apply_payment"]
    );
    // same document, same command id: the connector posts the invoice once
    assert_eq!(first[0].command_id, second[0].command_id);
    assert_eq!(sale(&second[0]).kind, SaleDocumentKind::Invoice as i32);
    match second[1].body.as_ref() {
        Some(Body::ApplyPayment(p)) => {
            assert_eq!(minor(&p.amount), 11760);
            assert_eq!(
                p.tender.as_ref().unwrap().deposit_account,
                "Undeposited Funds"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn shipping_status_can_gate_posting() {
    let cfg = with(|v| set(v, "status_map.shipping.not_yet_shipped", "wait"));
    let mp = mapper(vec![cfg]);
    let o = us_order(4001);
    assert!(map_order(&mp, &o).is_empty());
    let mut shipped = o.clone();
    shipped.shipping_status = ShippingStatus::Shipped as i32;
    assert_eq!(ok(map_order(&mp, &shipped)).len(), 1);
}

#[test]
fn reference_order_in_customer_currency_balances_to_the_cent() {
    let cfg = with(|v| {
        set(v, "currency.document_currency", "customer");
        set(v, "customer.disambiguate", "[currency, customer_id]");
    });
    let mp = mapper(vec![cfg]);
    let cmds = ok(map_order(&mp, &reference_order()));
    let s = sale(&cmds[0]);
    assert_eq!(s.currency, "EUR");
    // 120.60 USD × 0.92 = 110.952 → 110.95 EUR
    assert_eq!(minor(&s.total), 11095);
    let sum: i64 = s.lines.iter().map(|l| minor(&l.amount)).sum();
    assert_eq!(sum + minor(&s.tax.as_ref().unwrap().total_tax), 11095);
    let x = s.exchange_rate.as_ref().unwrap();
    assert_eq!(x.source, RateSource::Order as i32);
    assert_eq!(x.document_per_store.as_ref().unwrap().units, 9200);
    assert_eq!(x.home_per_document.as_ref().unwrap().units, 10_869_565_217);
    // the EUR customer is a separate QuickBooks customer
    let cust = s.customer.as_ref().unwrap();
    assert_eq!(cust.display_name, "Marie Dubois (EUR) #5127");
    assert_eq!(cust.currency, "EUR");
    assert_eq!(cust.email, "marie.dubois@example.fr");
    assert_eq!(cust.target_code, "WEB5127");
    // store total kept for reconciliation in store currency
    assert_eq!(minor(&s.store_total), 12060);
    // attributes reach the description
    assert_eq!(s.lines[1].description, "Linen Shade (Colour: Natural)");
    // addresses normalised
    let b = s.billing_address.as_ref().unwrap();
    assert_eq!(b.country_code, "FR");
    assert_eq!(b.lines, vec!["12 Rue de la République".to_string()]);
}

#[test]
fn vat_order_gets_a_code_per_rate_and_a_split_discount() {
    // Two rates (7 % and 19 %), a subtotal discount spanning both, taxed shipping.
    let c = "EUR";
    let mut o = us_order(5001);
    o.store_currency = c.into();
    o.customer_currency_code = c.into();
    o.items = vec![
        item(1, "BOOK-1", "Book", 1, 2000, 140, c),
        item(2, "MUG-1", "Mug", 2, 5000, 950, c),
    ];
    o.subtotal_discount_excl_tax = m(700, c);
    o.subtotal_discount_incl_tax = m(700 + 112, c);
    o.shipping_excl_tax = m(500, c);
    o.shipping_incl_tax = m(595, c);
    o.tax_total = m(140 + 950 - 112 + 95, c);
    o.tax_rates = vec![];
    o.tax_rates_raw = "7:1.4;   19:9.5;   ".into();
    o.order_total = m(2000 + 5000 - 700 + 500 + 1073, c);
    let cfg = vat_config("kashflow", "kf-1", "1");
    let mut cfg = cfg;
    cfg.currency.as_mut().unwrap().home_currency = nopbridge_model::Currency::EUR;
    let mp = mapper(vec![cfg]);
    let cmds = ok(map_order(&mp, &o));
    let s = sale(&cmds[0]);
    let lines: Vec<(i32, i64, i64, &str)> = s
        .lines
        .iter()
        .map(|l| {
            (
                l.kind,
                minor(&l.amount),
                minor(&l.tax_amount),
                l.tax_code.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (LineKind::Product as i32, 2000, 140, "7% DE"),
            (LineKind::Product as i32, 5000, 950, "19% DE"),
            // 7.00 discount split 2000:5000 → 2.00 / 5.00; its tax 1.12 split 140:950
            (LineKind::Discount as i32, -200, -14, "7% DE"),
            (LineKind::Discount as i32, -500, -98, "19% DE"),
            (LineKind::Shipping as i32, 500, 95, "19% DE"),
        ]
    );
    let tax = s.tax.as_ref().unwrap();
    assert_eq!(minor(&tax.total_tax), 1073);
    let by_code: Vec<(&str, i64, i64)> = tax
        .rates
        .iter()
        .map(|r| {
            (
                r.tax_code.as_str(),
                minor(&r.net_amount_taxable),
                minor(&r.tax_amount),
            )
        })
        .collect();
    assert_eq!(by_code, vec![("7% DE", 1800, 126), ("19% DE", 5000, 947)]);
    assert_eq!(minor(&s.total), 7873);
}

#[test]
fn vat_rate_without_a_code_is_an_actionable_error() {
    let mut o = reference_order();
    o.customer_currency_code = "USD".into();
    o.tax_rates = vec![];
    o.tax_rates_raw = "20:20.1;   ".into();
    let cfg = with(|v| {
        set(v, "tax.mode", "vat");
        set(v, "tax.vat.codes", "[{rate: 5, code: R}]");
    });
    let mp = mapper(vec![cfg]);
    let err = map_order(&mp, &o).pop().unwrap().unwrap_err();
    match &err {
        MappingError::Unmapped {
            found, config_key, ..
        } => {
            assert_eq!(found, "20%");
            assert_eq!(config_key, "tax.vat.codes");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("order 1043"), "{text}");
    assert!(text.contains("tax.vat.codes"), "{text}");
}

#[test]
fn gift_cards_and_reward_points_as_lines_or_tenders() {
    let c = "USD";
    let mut o = us_order(6001);
    o.gift_cards = vec![gift(1000, c)];
    o.reward_points = Some(ev::RewardPointsUsage {
        points: 500,
        amount: m(500, c),
    });
    o.order_total = m(11760 - 1000 - 500, c);
    let mp = mapper(vec![qbo()]);
    let s = sale(&ok(map_order(&mp, &o))[0]).clone();
    // example config: gift card as a line, reward points as a tender
    let gift_line = s
        .lines
        .iter()
        .find(|l| l.kind == LineKind::GiftCard as i32)
        .unwrap();
    assert_eq!(minor(&gift_line.amount), -1000);
    assert_eq!(gift_line.description, "Gift card …1234");
    assert_eq!(gift_line.account, "Gift card liability");
    assert_eq!(minor(&s.total), 11760 - 1000);
    let tenders: Vec<(i32, i64)> = s
        .tenders
        .iter()
        .map(|t| (t.kind, minor(&t.amount)))
        .collect();
    assert_eq!(
        tenders,
        vec![
            (TenderKind::Payment as i32, 10260),
            (TenderKind::RewardPoints as i32, 500)
        ]
    );

    let cfg = with(|v| {
        set(v, "items.gift_card.post_as", "tender");
        set(v, "items.gift_card.payment_method", "Gift card");
        set(v, "items.reward_points.post_as", "line");
    });
    let mp = mapper(vec![cfg]);
    let s = sale(&ok(map_order(&mp, &o))[0]).clone();
    assert!(s
        .lines
        .iter()
        .any(|l| l.kind == LineKind::RewardPoints as i32 && minor(&l.amount) == -500));
    assert!(!s.lines.iter().any(|l| l.kind == LineKind::GiftCard as i32));
    assert_eq!(minor(&s.total), 11760 - 500);
    let tenders: Vec<(i32, i64)> = s
        .tenders
        .iter()
        .map(|t| (t.kind, minor(&t.amount)))
        .collect();
    assert_eq!(
        tenders,
        vec![
            (TenderKind::Payment as i32, 10260),
            (TenderKind::GiftCard as i32, 1000)
        ]
    );
}

#[test]
fn fees_discounts_and_shipping_become_lines() {
    let c = "USD";
    let mut o = us_order(7001);
    o.payment_method_fee_excl_tax = m(150, c);
    o.payment_method_fee_incl_tax = m(150, c);
    o.order_discount = m(300, c);
    o.subtotal_discount_excl_tax = m(1000, c);
    o.subtotal_discount_incl_tax = m(1089, c);
    o.tax_total = m(710 - 89, c);
    o.order_total = m(8000 + 2250 - 1000 + 800 + 150 + 621 - 300, c);
    let mp = mapper(vec![qbo()]);
    let s = sale(&ok(map_order(&mp, &o))[0]).clone();
    let lines: Vec<(i32, i64, &str, &str)> = s
        .lines
        .iter()
        .map(|l| {
            (
                l.kind,
                minor(&l.amount),
                l.tax_code.as_str(),
                l.description.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (LineKind::Product as i32, 8000, "TAX", "Oak Desk Lamp"),
            (LineKind::Product as i32, 2250, "NON", "Linen Shade"),
            (LineKind::Discount as i32, -1000, "TAX", "Discount"),
            (LineKind::Shipping as i32, 800, "NON", "Shipping: Ground"),
            (LineKind::PaymentFee as i32, 150, "NON", "Payment fee"),
            (LineKind::Discount as i32, -300, "NON", "Order discount"),
        ]
    );
    // subtotal discount allocated to product lines for information: 1000 over 8000:2250
    assert_eq!(minor(&s.lines[0].allocated_discount), 780);
    assert_eq!(minor(&s.lines[1].allocated_discount), 220);
    assert_eq!(
        s.lines[3].item.as_ref().unwrap().target_item,
        "SHIPPING_ITEM_ID"
    );
    assert_eq!(minor(&s.total), 10521);
}

#[test]
fn unconfigured_shipping_item_and_payment_method_are_unmapped_errors() {
    let cfg = with(|v| set(v, "items.shipping", "{}"));
    let err = map_order(&mapper(vec![cfg]), &us_order(8001))
        .pop()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, MappingError::Unmapped { config_key, .. } if config_key == "items.shipping"),
        "{err}"
    );

    let cfg = with(|v| {
        set(v, "payment_methods.default", "null");
    });
    let mut o = us_order(8002);
    o.payment_method_system_name = "Payments.Bitcoin".into();
    let err = map_order(&mapper(vec![cfg]), &o)
        .pop()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.field(), "payment_method_system_name");
    assert!(err.to_string().contains("Payments.Bitcoin"), "{err}");
    assert!(
        err.to_string()
            .contains("payment_methods.map.Payments.Bitcoin"),
        "{err}"
    );
}

#[test]
fn imbalanced_order_goes_to_the_dlq_with_the_breakdown() {
    let mut o = us_order(9001);
    // The store says 117.60 but the components add up to 117.59 + 5.00 missing shipping tax.
    o.order_total = m(11760 + 500, "USD");
    let err = map_order(&mapper(vec![qbo()]), &o)
        .pop()
        .unwrap()
        .unwrap_err();
    match &err {
        MappingError::Imbalance {
            expected,
            found,
            difference,
            breakdown,
            context,
            ..
        } => {
            assert_eq!(expected.minor_units(), 12260);
            assert_eq!(found.minor_units(), 11760);
            assert_eq!(difference.minor_units(), -500);
            assert_eq!(context.entity_id, "9001");
            assert!(breakdown
                .items
                .iter()
                .any(|b| b.label.contains("Oak Desk Lamp")));
            assert!(breakdown.items.iter().any(|b| b.label == "order total"));
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("order 9001 for connection qbo-realm-1"),
        "{text}"
    );
    assert!(
        text.contains("expected 122.60 USD, found 117.60 USD"),
        "{text}"
    );
    assert_eq!(err.kind(), "imbalance");
}

#[test]
fn store_rounding_within_tolerance_is_absorbed_by_the_residual_rule() {
    // nopCommerce does not round tax: components add up to 1 cent less than the total.
    let mut o = us_order(9101);
    o.order_total = m(11761, "USD");
    let s = sale(&ok(map_order(&mapper(vec![qbo()]), &o))[0]).clone();
    assert_eq!(minor(&s.total), 11761);
    assert_eq!(minor(&s.rounding_residual), 1);
    // largest_line: onto the largest product line
    assert_eq!(minor(&s.lines[0].amount), 8001);

    let cfg = with(|v| set(v, "currency.residual", "rounding_line"));
    let s = sale(&ok(map_order(&mapper(vec![cfg]), &o))[0]).clone();
    let last = s.lines.last().unwrap();
    assert_eq!(last.kind, LineKind::Rounding as i32);
    assert_eq!(minor(&last.amount), 1);
    assert_eq!(last.item.as_ref().unwrap().target_item, "Rounding");
    assert_eq!(minor(&s.lines[0].amount), 8000);
}

#[test]
fn currency_policies() {
    struct Case {
        name: &'static str,
        doc: &'static str,
        source: &'static str,
        currency: &'static str,
        total: i64,
        rate_source: RateSource,
    }
    let cases = [
        Case {
            name: "store",
            doc: "store",
            source: "order",
            currency: "USD",
            total: 12060,
            rate_source: RateSource::Identity,
        },
        Case {
            name: "customer, order rate",
            doc: "customer",
            source: "order",
            currency: "EUR",
            total: 11095,
            rate_source: RateSource::Order,
        },
        Case {
            name: "customer, table rate 0.92",
            doc: "customer",
            source: "table",
            currency: "EUR",
            total: 11095,
            rate_source: RateSource::Table,
        },
    ];
    for c in cases {
        let cfg = with(|v| {
            set(v, "currency.document_currency", c.doc);
            set(v, "currency.rate_source", c.source);
        });
        let s = sale(&ok(map_order(&mapper(vec![cfg]), &reference_order()))[0]).clone();
        assert_eq!(s.currency, c.currency, "{}", c.name);
        assert_eq!(minor(&s.total), c.total, "{}", c.name);
        assert_eq!(
            s.exchange_rate.as_ref().unwrap().source,
            c.rate_source as i32,
            "{}",
            c.name
        );
    }
    // home currency GBP from a table: USD 120.60 × 0.8 = 96.48 GBP
    let cfg = with(|v| {
        set(v, "currency.home_currency", "GBP");
        set(v, "currency.document_currency", "home");
        set(v, "currency.rates", "[{from: USD, to: GBP, rate: \"0.8\"}]");
    });
    let s = sale(&ok(map_order(&mapper(vec![cfg]), &reference_order()))[0]).clone();
    assert_eq!((s.currency.as_str(), minor(&s.total)), ("GBP", 9648));
    // no rate → unmapped, naming the config key
    let cfg = with(|v| {
        set(v, "currency.home_currency", "GBP");
        set(v, "currency.document_currency", "home");
        set(v, "currency.rates", "[]");
    });
    let err = map_order(&mapper(vec![cfg]), &reference_order())
        .pop()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, MappingError::Unmapped { config_key, .. } if config_key == "currency.rates"),
        "{err}"
    );
}

#[test]
fn jpy_store_orders_convert_with_their_own_minor_units() {
    // Store in JPY (no decimals), document in USD via the table.
    let c = "JPY";
    let mut o = us_order(9201);
    o.store_currency = c.into();
    o.customer_currency_code = c.into();
    o.items = vec![
        item(1, "TEA", "Tea", 3, 4500, 450, c),
        item(2, "CUP", "Cup", 1, 1999, 200, c),
    ];
    o.shipping_excl_tax = m(700, c);
    o.shipping_incl_tax = m(700, c);
    o.tax_total = m(650, c);
    o.tax_rates = vec![];
    o.tax_rates_raw = "10:650;   ".into();
    o.order_total = m(4500 + 1999 + 700 + 650, c);
    let cfg = with(|v| {
        set(v, "currency.document_currency", "home");
        set(
            v,
            "currency.rates",
            "[{from: JPY, to: USD, rate: \"0.006667\"}]",
        );
    });
    let s = sale(&ok(map_order(&mapper(vec![cfg]), &o))[0]).clone();
    assert_eq!(s.currency, "USD");
    // 7849 JPY × 0.006667 = 52.329283 → 52.33 USD
    assert_eq!(minor(&s.total), 5233);
    let sum: i64 = s.lines.iter().map(|l| minor(&l.amount)).sum::<i64>()
        + minor(&s.tax.as_ref().unwrap().total_tax);
    assert_eq!(sum, 5233);
}

#[test]
fn display_name_recipes_and_matching_rules() {
    struct Case {
        recipe: &'static str,
        disambiguate: &'static str,
        first: &'static str,
        last: &'static str,
        company: &'static str,
        want: &'static str,
    }
    let cases = [
        Case {
            recipe: "[\"{first} {last}\", \"{company}\", \"{email}\"]",
            disambiguate: "[]",
            first: "Ana",
            last: "Silva",
            company: "",
            want: "Ana Silva",
        },
        Case {
            recipe: "[\"{first} {last}\", \"{company}\", \"{email}\"]",
            disambiguate: "[]",
            first: "",
            last: "",
            company: "Acme Ltd",
            want: "Acme Ltd",
        },
        Case {
            recipe: "[\"{first} {last}\", \"{company}\", \"{email}\"]",
            disambiguate: "[]",
            first: " ",
            last: "",
            company: "",
            want: "ana@example.com",
        },
        Case {
            recipe: "[\"{company} ({last})\", \"{first} {last}\"]",
            disambiguate: "[]",
            first: "Ana",
            last: "Silva",
            company: "Acme",
            want: "Acme (Silva)",
        },
        Case {
            recipe: "[\"{first} {last}\"]",
            disambiguate: "[customer_id]",
            first: "Ana",
            last: "Silva",
            company: "",
            want: "Ana Silva #5127",
        },
        Case {
            recipe: "[\"{first} {last}\"]",
            disambiguate: "[]",
            first: "",
            last: "",
            company: "",
            want: "Customer 5127",
        },
    ];
    for c in cases {
        let cfg = with(|v| {
            set(v, "customer.display_name", c.recipe);
            set(v, "customer.disambiguate", c.disambiguate);
        });
        let mut o = us_order(9301);
        let b = o.billing_address.as_mut().unwrap();
        b.first_name = c.first.into();
        b.last_name = c.last.into();
        b.company = c.company.into();
        let s = sale(&ok(map_order(&mapper(vec![cfg]), &o))[0]).clone();
        assert_eq!(
            s.customer.as_ref().unwrap().display_name,
            c.want,
            "{}",
            c.recipe
        );
    }
    let cfg = with(|v| {
        set(v, "customer.match_rule", "fixed");
        set(v, "customer.fixed_customer", "Web Sales");
    });
    let s = sale(&ok(map_order(&mapper(vec![cfg]), &us_order(9302)))[0]).clone();
    let cust = s.customer.unwrap();
    assert_eq!(cust.display_name, "Web Sales");
    assert_eq!(cust.match_rule, CustomerMatchRule::Fixed as i32);
    assert!(cust.email.is_empty());
}

#[test]
fn guest_orders_use_the_billing_email() {
    let mut o = us_order(9401);
    o.customer_email = String::new();
    o.billing_address.as_mut().unwrap().email = "guest@example.com".into();
    let s = sale(&ok(map_order(&mapper(vec![qbo()]), &o))[0]).clone();
    assert_eq!(s.customer.unwrap().email, "guest@example.com");
}

#[test]
fn gp_fitting_truncates_and_records_every_change() {
    let cfg = with(|v| {
        set(v, "connection_id", "gp-1");
        set(v, "target", "dynamics_gp");
        set(v, "customer.code_prefix", "web-customer-");
    });
    let mut o = us_order(9501);
    o.items[0].product_name = "Oak Desk Lamp with a very long name that keeps going on and on for more than a hundred characters, really".into();
    o.billing_address.as_mut().unwrap().city =
        "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch".into();
    let c = ok(map_order(&mapper(vec![cfg]), &o)).remove(0);
    let s = sale(&c);
    assert_eq!(s.billing_address.as_ref().unwrap().city.chars().count(), 35);
    assert_eq!(s.customer.as_ref().unwrap().target_code, "WEB-CUSTOMER-51");
    let fields: Vec<(&str, i32)> = c
        .truncations
        .iter()
        .map(|t| (t.field.as_str(), t.reason))
        .collect();
    assert!(
        fields.contains(&(
            "post_sale.customer.target_code",
            TruncationReason::LengthAndCharset as i32
        )),
        "{fields:?}"
    );
    assert!(
        fields.contains(&(
            "post_sale.billing_address.city",
            TruncationReason::Length as i32
        )),
        "{fields:?}"
    );
    assert!(
        fields.contains(&(
            "post_sale.lines[0].description",
            TruncationReason::Length as i32
        )),
        "{fields:?}"
    );
    let city = c
        .truncations
        .iter()
        .find(|t| t.field == "post_sale.billing_address.city")
        .unwrap();
    assert_eq!(
        city.original,
        "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"
    );
    assert_eq!(city.max_chars, 35);
    // GP document numbers are upper case
    assert_eq!(c.order.as_ref().unwrap().document_number, "WEB9501");
}

#[test]
fn multi_store_routing() {
    let qbo_cfg = qbo(); // store 1
    let gp = with(|v| {
        set(v, "connection_id", "gp-1");
        set(v, "target", "dynamics_gp");
        set(v, "stores", "[\"1\"]");
    });
    let kf = vat_config("kashflow", "kf-2", "2");
    let mp = mapper(vec![qbo_cfg, gp, kf]);
    let ids = |store: &str| -> Vec<String> {
        let mut o = us_order(9601);
        o.meta.as_mut().unwrap().store_id = store.into();
        let mut ids: Vec<String> = map_order(&mp, &o)
            .into_iter()
            .map(|r| r.unwrap().connection_id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("1"), vec!["gp-1", "qbo-realm-1"]);
    // store 2 is a GBP KashFlow connection: a USD order needs the table rate 0.8
    assert_eq!(ids("2"), vec!["kf-2"]);
    assert!(ids("3").is_empty());
    // another tenant's store 1 is not routed
    let mut o = us_order(9602);
    o.meta.as_mut().unwrap().tenant_id = "other".into();
    assert!(map_order(&mp, &o).is_empty());
}

#[test]
fn duplicate_connection_ids_are_rejected() {
    let err = Mapper::new(vec![qbo(), qbo()]).unwrap_err();
    assert_eq!(err.key, "connection_id");
}

#[test]
fn command_ids_are_deterministic_per_document() {
    let mp = mapper(vec![qbo()]);
    let a = ok(map_order(&mp, &us_order(9701)));
    let mut again = us_order(9701);
    again.meta.as_mut().unwrap().event_id = "evt-other".into();
    let b = ok(map_order(&mp, &again));
    assert_eq!(a[0].command_id, b[0].command_id);
    assert_ne!(
        a[0].command_id,
        ok(map_order(&mp, &us_order(9702)))[0].command_id
    );
    assert_eq!(a[0].mapping_config_hash.len(), 64);
}

#[test]
fn attribute_lines_are_text_only_and_keep_the_balance() {
    let cfg = with(|v| {
        set(v, "items.attribute_lines", "true");
        set(v, "tax.mode", "vat");
    });
    let mut o = reference_order();
    o.customer_currency_code = "USD".into();
    o.items[0].attributes = vec![ev::ProductAttribute {
        name: "Finish".into(),
        value: "Oiled".into(),
    }];
    let s = sale(&ok(map_order(&mapper(vec![cfg]), &o))[0]).clone();
    let kinds: Vec<i32> = s.lines.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        vec![
            LineKind::Product as i32,
            LineKind::Description as i32,
            LineKind::Product as i32,
            LineKind::Description as i32,
            LineKind::Discount as i32,
            LineKind::Shipping as i32,
        ]
    );
    assert_eq!(s.lines[1].description, "Finish: Oiled");
    assert_eq!(minor(&s.lines[1].amount), 0);
    assert!(s.lines[1].tax_code.is_empty());
    assert_eq!(s.lines[3].description, "Colour: Natural");
    assert_eq!(minor(&s.total), 12060);
    let tax = s.tax.as_ref().unwrap();
    assert_eq!(tax.rates.len(), 1);
    assert_eq!(tax.rates[0].tax_code, "20.0% S");
    assert_eq!(minor(&tax.rates[0].net_amount_taxable), 10050);
}

#[test]
fn a_full_name_in_first_name_is_split_for_targets_with_two_fields() {
    let mut o = us_order(9801);
    let b = o.billing_address.as_mut().unwrap();
    b.first_name = "Ana Maria Silva".into();
    b.last_name = String::new();
    let s = sale(&ok(map_order(&mapper(vec![qbo()]), &o))[0]).clone();
    let n = s.customer_name.unwrap();
    assert_eq!(
        (n.given_name.as_str(), n.family_name.as_str()),
        ("Ana Maria", "Silva")
    );
    assert_eq!(n.full_name, "Ana Maria Silva");
}

#[test]
fn invalid_orders_name_the_field_and_what_was_expected() {
    type Edit = fn(&mut ev::Order);
    let cases: &[(&str, Edit, &str, &str)] = &[
        (
            "line amount in another currency",
            |o| o.items[1].price_excl_tax = m(2250, "EUR"),
            "items[1].price_excl_tax",
            "expected an amount in the store currency USD, found 2250 \"EUR\"",
        ),
        (
            "zero quantity",
            |o| o.items[0].quantity = 0,
            "items[0].quantity",
            "expected a positive quantity, found 0",
        ),
        (
            "missing order total",
            |o| o.order_total = None,
            "order_total",
            "expected an amount, found nothing",
        ),
        (
            "unknown store currency",
            |o| o.store_currency = "XXX".into(),
            "store_currency",
            "expected an ISO-4217 currency code",
        ),
    ];
    let mp = mapper(vec![qbo()]);
    for (name, edit, field, text) in cases {
        let mut o = us_order(9901);
        edit(&mut o);
        let err = map_order(&mp, &o).pop().unwrap().unwrap_err();
        assert_eq!(err.field(), *field, "{name}: {err}");
        assert!(err.to_string().contains(text), "{name}: {err}");
        assert!(
            err.to_string()
                .starts_with("order 9901 for connection qbo-realm-1"),
            "{name}: {err}"
        );
    }
}

#[test]
fn unknown_customer_currency_blocks_only_customer_currency_documents() {
    let mut o = us_order(9902);
    o.customer_currency_code = "ZZZ".into();
    assert!(map_order(&mapper(vec![qbo()]), &o).pop().unwrap().is_ok());
    let cfg = with(|v| set(v, "currency.document_currency", "customer"));
    let err = map_order(&mapper(vec![cfg]), &o)
        .pop()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.field(), "customer_currency_code");
}

#[test]
fn reference_order_posts_to_kashflow_in_gbp_with_vat_codes() {
    // USD store, GBP books: every amount × 0.8 from the table, VAT 20 % code on every line.
    let mut o = reference_order();
    o.customer_currency_code = "USD".into();
    let mut cfg = vat_config("kashflow", "kf-1", "1");
    cfg.currency.as_mut().unwrap().document_currency =
        nopbridge_mapping::config::DocumentCurrency::Home;
    let c = ok(map_order(&mapper(vec![cfg]), &o)).remove(0);
    assert_eq!(c.target, TargetKind::Kashflow as i32);
    let s = sale(&c);
    assert_eq!(s.currency, "GBP");
    assert_eq!(minor(&s.total), 9648);
    assert!(s.lines.iter().all(|l| l.tax_code == "20.0% S"));
    let tax = s.tax.as_ref().unwrap();
    assert_eq!(minor(&tax.total_tax), 1608);
    assert_eq!(tax.rates.len(), 1);
    assert_eq!(minor(&tax.rates[0].net_amount_taxable), 8040);
    // KashFlow codes are at most 20 characters
    assert_eq!(s.customer.as_ref().unwrap().target_code, "WEB5127");
}
