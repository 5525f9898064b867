//! Mapping throughput on one thread, for realistic orders: 1–6 lines with attributes, a
//! subtotal discount, taxed shipping, some gift cards and fees, customer-currency documents.
//! Run: `cargo bench -p nopbridge-mapping --bench map_orders` (target ≥ 20,000 orders/s).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use nopbridge_mapping::pb::events as ev;
use nopbridge_mapping::{CanonicalEvent, Mapper};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn orders(n: usize) -> Vec<CanonicalEvent> {
    (0..n)
        .map(|i| {
            let c = "USD";
            let mut o = reference_order();
            o.order_id = 100_000 + i64::try_from(i).unwrap();
            o.meta.as_mut().unwrap().event_id = format!("evt-{i}");
            let lines = 1 + i % 6;
            o.items = (0..lines)
                .map(|j| {
                    let id = i64::try_from(j).unwrap() + 1;
                    let net = 1_000 + id * 733;
                    let mut it = item(
                        id,
                        &format!("SKU-{id}"),
                        &format!("Product {id} in oak"),
                        1 + (j % 3) as i32,
                        net,
                        net / 5,
                        c,
                    );
                    it.attributes = vec![ev::ProductAttribute {
                        name: "Colour".into(),
                        value: "Natural".into(),
                    }];
                    it
                })
                .collect();
            let subtotal: i64 = o
                .items
                .iter()
                .map(|it| it.price_excl_tax.as_ref().unwrap().minor_units)
                .sum();
            let tax: i64 = o
                .items
                .iter()
                .map(|it| it.price_excl_tax.as_ref().unwrap().minor_units / 5)
                .sum();
            let disc = subtotal / 10;
            let disc_tax = disc / 5;
            let mut total = subtotal - disc + 800 + tax - disc_tax + 160;
            o.subtotal_discount_excl_tax = m(disc, c);
            o.subtotal_discount_incl_tax = m(disc + disc_tax, c);
            o.tax_total = m(tax - disc_tax + 160, c);
            if i % 4 == 0 {
                o.gift_cards = vec![gift(500, c)];
                total -= 500;
            }
            o.order_total = m(total, c);
            CanonicalEvent::Order(Box::new(o))
        })
        .collect()
}

fn main() {
    let cfg = with(|v| {
        set(v, "tax.mode", "vat");
        set(v, "currency.document_currency", "customer");
    });
    let mapper = Mapper::new(vec![cfg]).unwrap();
    let events = orders(1_000);
    // Warm up and check every order maps.
    for e in &events {
        for r in mapper.map(e) {
            r.unwrap();
        }
    }
    let budget = Duration::from_secs(3);
    let start = Instant::now();
    let mut mapped = 0u64;
    while start.elapsed() < budget {
        for e in &events {
            black_box(mapper.map(black_box(e)));
        }
        mapped += events.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "map_orders: {mapped} orders in {secs:.2} s on one thread = {:.0} orders/s (target 20000)",
        mapped as f64 / secs
    );
}
