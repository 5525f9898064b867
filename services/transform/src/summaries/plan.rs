//! What a closing day posts: its summaries (`Mapper::summarize_daily`) over the orders it
//! collected, and the orders left out of them, each with its reason.
//!
//! `summarize_daily` fails a whole group (store, currency, payment method) when one of its
//! orders fails. A day is posted once and for all (its command ids are deterministic, so a
//! corrected summary would be a duplicate), so the failing order is taken out and
//! dead-lettered and the group summarized again: one bad order never holds back a day's
//! takings. Orders are normally checked when collected; this catches those a mapping reload
//! broke since.
use super::collect::contribution;
use chrono::NaiveDate;
use nopbridge_mapping::pb::commands::{command::Body, Command};
use nopbridge_mapping::pb::events::Order;
use nopbridge_mapping::{Mapper, MappingError};
use std::collections::BTreeSet;

/// An order left out of its day's summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub order_id: i64,
    pub class: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub commands: Vec<Command>,
    pub left_out: Vec<LeftOut>,
    /// Orders in the summaries.
    pub orders: usize,
}

/// A summary failure no single order explains (none of the day's orders is in its group).
#[derive(Debug, thiserror::Error)]
#[error("day {date} of connection {connection} cannot be summarized: {error}")]
pub struct PlanError {
    pub connection: String,
    pub date: NaiveDate,
    pub error: Box<MappingError>,
}

/// `orders`: (order id, the stored canonical Order bytes).
pub fn plan_day(
    mapper: &Mapper,
    conn: &str,
    date: NaiveDate,
    orders: Vec<(i64, Vec<u8>)>,
) -> Result<Plan, PlanError> {
    use prost::Message;
    let mut plan = Plan::default();
    let mut members: Vec<Order> = Vec::with_capacity(orders.len());
    for (id, bytes) in orders {
        match Order::decode(bytes.as_slice()) {
            Ok(o) => members.push(o),
            Err(e) => plan.left_out.push(LeftOut {
                order_id: id,
                class: "decode".into(),
                reason: format!("order {id} of day {date} of connection {conn}: its stored event no longer decodes ({e}); the day was posted without it: record it in the books by hand"),
            }),
        }
    }
    let day = date.to_string();
    let results = loop {
        let results = mapper.summarize_daily(conn, &day, &members);
        let errors: Vec<&MappingError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        if errors.is_empty() {
            break results;
        }
        let mut out: BTreeSet<i64> = BTreeSet::new();
        for e in errors {
            let culprits = culprits(mapper, conn, date, &members, e);
            if culprits.is_empty() {
                return Err(PlanError {
                    connection: conn.into(),
                    date,
                    error: Box::new(e.clone()),
                });
            }
            for (id, own) in culprits {
                if out.insert(id) {
                    let why = if own {
                        e.to_string()
                    } else {
                        format!("its group's summary fails on another order: {e}")
                    };
                    plan.left_out.push(LeftOut {
                        order_id: id,
                        class: e.kind().into(),
                        reason: format!("{why}. Day {date} of connection {conn} was posted without order {id} (its other orders are in the summaries): record it in the books by hand; replaying this dead letter will not post it"),
                    });
                }
            }
        }
        members.retain(|o| !out.contains(&o.order_id));
    };
    let mut included: BTreeSet<i64> = BTreeSet::new();
    // Every error was handled above.
    for cmd in results.into_iter().flatten() {
        if let Some(o) = &cmd.order {
            included.extend(o.included_order_ids.iter().copied());
        }
        if matches!(cmd.body, Some(Body::PostSale(_))) {
            plan.commands.push(cmd);
        }
    }
    for o in &members {
        if !included.contains(&o.order_id) {
            plan.left_out.push(LeftOut {
                order_id: o.order_id,
                class: "not_in_summary".into(),
                reason: format!("order {} was collected for day {date} of connection {conn} but no longer counts toward it under the current mapping (its status map, or posting.utc_offset_minutes, changed since); the day was posted without it: record it in the books by hand if it is a sale of that day", o.order_id),
            });
        }
    }
    plan.orders = included.len();
    Ok(plan)
}

/// The orders an error of `summarize_daily` is about: (order id, whether the error is its own).
fn culprits(
    mapper: &Mapper,
    conn: &str,
    date: NaiveDate,
    members: &[Order],
    e: &MappingError,
) -> Vec<(i64, bool)> {
    let ctx = e.context();
    if ctx.entity == "order" {
        return ctx
            .entity_id
            .parse::<i64>()
            .ok()
            .filter(|id| members.iter().any(|o| o.order_id == *id))
            .map(|id| vec![(id, true)])
            .unwrap_or_default();
    }
    // A summary-level error names its group: "date/store/currency/method".
    let mut parts = ctx.entity_id.splitn(4, '/');
    let (_, store, currency, method) = (parts.next(), parts.next(), parts.next(), parts.next());
    members
        .iter()
        .filter(|o| {
            let Ok(Some(s)) = contribution(mapper, conn, date, o) else {
                return false;
            };
            s.summary.is_some_and(|k| {
                Some(k.store_id.as_str()) == store
                    && Some(k.currency.as_str()) == currency
                    && Some(k.store_payment_method.as_str()) == method
            })
        })
        .map(|o| (o.order_id, false))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nopbridge_mapping::pb::events as ev;
    use nopbridge_testkit::orders::{paid_order, usd};
    use prost::Message;

    fn mapper() -> Mapper {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../crates/mapping/examples/connection.yaml"
        );
        let text = std::fs::read_to_string(path)
            .unwrap_or_default()
            .replace("mode: per_order ", "mode: daily_summary")
            .replace("fixed_customer: \"\"", "fixed_customer: \"Web Sales\"");
        let cfg = nopbridge_mapping::load_str(&text, "qbo.yaml");
        Mapper::new(vec![cfg.unwrap_or_else(|e| panic!("{e}"))]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The shared paid order of 2024-03-14 in UTC-5 (80.00 + 8.00 shipping + 7.10 tax),
    /// claiming `total`.
    fn order(id: i64, total: i64, paid: i64) -> Vec<u8> {
        ev::Order {
            order_total: usd(total),
            ..paid_order(id, paid)
        }
        .encode_to_vec()
    }

    const PAID: i64 = 1_710_408_067;

    #[test]
    fn orders_the_mapping_no_longer_takes_are_left_out_and_the_rest_is_posted() {
        let date: NaiveDate = "2024-03-14".parse().unwrap_or_default();
        let orders = vec![
            (1, order(1, 9510, PAID)),
            (2, order(2, 9999, PAID)), // no longer balances
            (3, order(3, 9510, PAID)),
            (4, order(4, 9510, PAID + 86_400)), // now counts toward the next day
            (5, vec![0xff, 0xff]),              // not an Order any more
        ];
        let plan =
            plan_day(&mapper(), "qbo-realm-1", date, orders).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.commands.len(), 1);
        assert_eq!(
            plan.commands[0]
                .order
                .as_ref()
                .map(|o| o.included_order_ids.clone()),
            Some(vec![1, 3])
        );
        assert_eq!(plan.orders, 2);
        let out: Vec<(i64, &str)> = plan
            .left_out
            .iter()
            .map(|l| (l.order_id, l.class.as_str()))
            .collect();
        assert_eq!(
            out,
            vec![(5, "decode"), (2, "imbalance"), (4, "not_in_summary")]
        );
        assert!(
            plan.left_out
                .iter()
                .all(|l| l.reason.contains("by hand") && l.reason.contains("2024-03-14")),
            "{:?}",
            plan.left_out
        );
    }

    #[test]
    fn a_day_without_orders_posts_nothing() {
        let date: NaiveDate = "2024-03-14".parse().unwrap_or_default();
        let plan =
            plan_day(&mapper(), "qbo-realm-1", date, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        assert!(plan.commands.is_empty() && plan.left_out.is_empty());
    }
}
