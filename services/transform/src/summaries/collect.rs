//! Collecting: an order event routed to a daily-summary connection stores the order's latest
//! version under the business day it counts toward, or, when that day's summaries are
//! already posted, is dead-lettered saying so (never posted a second time, never dropped).
use super::store::{DayState, OrderRow, StoredOrder};
use super::{Summaries, SummaryError};
use chrono::{DateTime, NaiveDate, Utc};
use nopbridge_kafka::{HandlerError, Record};
use nopbridge_mapping::pb::commands::{command::Body, PostSale};
use nopbridge_mapping::pb::events::Order;
use nopbridge_mapping::{Mapper, MappingError};
use nopbridge_model::ids::content_hash;
use prost::Message;
use std::collections::BTreeMap;
use tracing::debug;

/// Header the reconciler's replay puts on a dead letter it sends back
/// (nopbridge_reconciler::replay::REPLAY_OF_HEADER): a replay is looked at again even when
/// this version was dead-lettered before.
pub const REPLAY_OF_HEADER: &str = "nopbridge_replay_of";

/// What is known of the stored version when a new one arrives.
#[derive(Debug, Clone)]
pub(super) struct Prev {
    pub date: NaiveDate,
    pub included: bool,
    pub state: DayState,
    pub closed_at: Option<DateTime<Utc>>,
    /// The new version adds exactly what the stored one added to its day's summary.
    pub same_contribution: bool,
}

/// The new version: the day it counts toward (with that day's state) and whether it maps.
pub(super) struct New<'a> {
    pub day: Option<(NaiveDate, DayState, Option<DateTime<Utc>>)>,
    pub mapped: &'a Result<Option<PostSale>, MappingError>,
}

#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    /// Nothing changes for the books (e.g. shipped after its day was posted).
    Nothing,
    /// Into this open day's summaries (replacing the stored version).
    Include(NaiveDate),
    /// The stored version leaves its open day: the new one counts toward no summary.
    Withdraw,
    /// Dead-letter the new version.
    Reject { date: NaiveDate, why: Why },
}

#[derive(Debug, PartialEq)]
pub(super) enum Why {
    /// Its day was posted without it.
    LateOrder { closed_at: Option<DateTime<Utc>> },
    /// It was in its day's posted summaries and has changed since.
    LateChange {
        new_day: Option<NaiveDate>,
        closed_at: Option<DateTime<Utc>>,
    },
    /// It cannot be mapped (the error is the mapping's).
    Invalid,
}

/// The decision, from what is stored and what arrived (redeliveries are filtered before).
pub(super) fn verdict(prev: Option<&Prev>, new: &New<'_>) -> Verdict {
    if let Some(p) = prev.filter(|p| p.included && p.state != DayState::Open) {
        let same_day = new.day.map(|d| d.0) == Some(p.date);
        return if same_day && p.same_contribution {
            Verdict::Nothing
        } else {
            Verdict::Reject {
                date: p.date,
                why: Why::LateChange {
                    new_day: new.day.map(|d| d.0),
                    closed_at: p.closed_at,
                },
            }
        };
    }
    let in_open_day = prev.is_some_and(|p| p.included);
    match new.day {
        None if in_open_day => Verdict::Withdraw,
        None => Verdict::Nothing,
        Some((date, state, closed_at)) if state != DayState::Open => Verdict::Reject {
            date,
            why: Why::LateOrder { closed_at },
        },
        Some((date, _, _)) => match new.mapped {
            Ok(_) => Verdict::Include(date),
            Err(_) => Verdict::Reject {
                date,
                why: Why::Invalid,
            },
        },
    }
}

/// Hex SHA-256 of the order without its metadata: equal for a redelivery or a re-ingest of
/// the same content.
fn version_hash(order: &Order) -> String {
    let mut o = order.clone();
    o.meta = None;
    content_hash(&o.encode_to_vec())
}

fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

/// What one order adds to its day's summary on its own (the summary of just that order).
pub(super) fn contribution(
    mapper: &Mapper,
    connection_id: &str,
    date: NaiveDate,
    order: &Order,
) -> Result<Option<PostSale>, MappingError> {
    let results = mapper.summarize_daily(
        connection_id,
        &date.to_string(),
        std::slice::from_ref(order),
    );
    match results.into_iter().next() {
        Some(Ok(cmd)) => Ok(match cmd.body {
            Some(Body::PostSale(s)) => Some(s),
            _ => None,
        }),
        Some(Err(e)) => Err(e),
        None => Ok(None),
    }
}

fn order_label(order: &Order) -> String {
    let number = if order.custom_order_number.is_empty() {
        order.order_id.to_string()
    } else {
        order.custom_order_number.clone()
    };
    format!("order {number} (id {})", order.order_id)
}

fn when(closed_at: Option<DateTime<Utc>>) -> String {
    closed_at.map_or_else(
        || "they are being posted now".to_string(),
        |t| format!("posted {}", t.format("%Y-%m-%dT%H:%MZ")),
    )
}

impl Summaries {
    /// Collects one order event for every daily-summary connection its store is routed to.
    /// Returns once the outcome is durable (stored, or dead-lettered).
    pub async fn collect(&self, record: &Record, order: &Order) -> Result<(), HandlerError> {
        let mapper = self.mapper();
        let Some(meta) = order.meta.as_ref() else {
            return Ok(());
        };
        let store = if meta.store_id.is_empty() {
            order.store_id.to_string()
        } else {
            meta.store_id.clone()
        };
        let ids: Vec<String> = mapper
            .routes(&meta.tenant_id, &store)
            .filter(|c| super::is_summary_connection(c))
            .map(|c| c.config.connection_id.clone())
            .collect();
        for id in ids {
            self.collect_for(&mapper, &id, record, order)
                .await
                .map_err(|e| HandlerError::transient(e.to_string()))?;
        }
        Ok(())
    }

    async fn collect_for(
        &self,
        mapper: &Mapper,
        conn: &str,
        record: &Record,
        order: &Order,
    ) -> Result<(), SummaryError> {
        let hash = version_hash(order);
        let replay = record.header(REPLAY_OF_HEADER).is_some();
        let ingested_at = time(order.meta.as_ref().and_then(|m| m.ingested_at.as_ref()));
        let new_day: Option<NaiveDate> =
            mapper.summary_day(conn, order).and_then(|d| d.parse().ok());
        let mapped = match new_day {
            Some(d) => contribution(mapper, conn, d, order),
            None => Ok(None),
        };
        let now = self.now();
        let id = order.order_id;

        let mut tx = self.store.begin().await?;
        // Days first, then the order row (the closer locks a day, then its orders).
        let prev_date = tx.order_date(conn, id).await?;
        let mut days: BTreeMap<NaiveDate, (DayState, Option<DateTime<Utc>>)> = BTreeMap::new();
        let mut wanted: Vec<NaiveDate> = prev_date.into_iter().chain(new_day).collect();
        wanted.sort();
        wanted.dedup();
        for d in wanted {
            if let Some(s) = tx.share_day(conn, d, Some(d) == new_day).await? {
                days.insert(d, s);
            }
        }
        let stored: Option<StoredOrder> = tx.lock_order(conn, id).await?;
        if stored.as_ref().map(|s| s.date) != prev_date {
            return Err(SummaryError::Busy(format!(
                "order {id} of connection {conn} was changed meanwhile"
            )));
        }
        if let Some(s) = &stored {
            if !replay && (s.content_hash == hash || s.rejected_hash == hash) {
                debug!(
                    connection = conn,
                    order = id,
                    "redelivered version: nothing to do"
                );
                return Ok(());
            }
            if let (Some(new), Some(old)) = (ingested_at, s.ingested_at) {
                if new < old {
                    debug!(
                        connection = conn,
                        order = id,
                        "older version than stored: ignored"
                    );
                    return Ok(());
                }
            }
        }
        let prev = match &stored {
            Some(s) => {
                let (state, closed_at) =
                    days.get(&s.date).copied().unwrap_or((DayState::Open, None));
                let same_contribution = s.included
                    && state != DayState::Open
                    && Order::decode(s.event.as_slice()).ok().is_some_and(|old| {
                        matches!(
                            (contribution(mapper, conn, s.date, &old), &mapped),
                            (Ok(Some(a)), Ok(Some(b))) if &a == b
                        )
                    });
                Some(Prev {
                    date: s.date,
                    included: s.included,
                    state,
                    closed_at,
                    same_contribution,
                })
            }
            None => None,
        };
        let new = New {
            day: new_day.map(|d| {
                let (state, closed_at) = days.get(&d).copied().unwrap_or((DayState::Open, None));
                (d, state, closed_at)
            }),
            mapped: &mapped,
        };
        let row = |date, included, rejected_hash| OrderRow {
            connection_id: conn,
            order_id: id,
            date,
            included,
            content_hash: &hash,
            rejected_hash,
            ingested_at,
            record,
            now,
        };
        match verdict(prev.as_ref(), &new) {
            Verdict::Nothing => Ok(tx.commit().await?),
            Verdict::Include(date) => {
                tx.put_order(&row(date, true, "")).await?;
                Ok(tx.commit().await?)
            }
            Verdict::Withdraw => {
                let date = prev.as_ref().map_or(now.date_naive(), |p| p.date);
                tx.put_order(&row(date, false, "")).await?;
                Ok(tx.commit().await?)
            }
            Verdict::Reject { date, why } => {
                let (class, reason) =
                    self.rejection(conn, order, date, &why, prev.as_ref(), &mapped);
                if matches!(why, Why::LateChange { .. }) {
                    // The stored version is what was posted: keep it.
                    tx.set_rejected(conn, id, &hash).await?;
                } else {
                    tx.put_order(&row(date, false, &hash)).await?;
                }
                tx.commit().await?;
                self.dead_letter(record, conn, date, &class, &reason).await
            }
        }
    }

    /// The dead letter's class and a reason an operator can act on.
    fn rejection(
        &self,
        conn: &str,
        order: &Order,
        date: NaiveDate,
        why: &Why,
        prev: Option<&Prev>,
        mapped: &Result<Option<PostSale>, MappingError>,
    ) -> (String, String) {
        let label = order_label(order);
        match why {
            Why::LateOrder { closed_at } => (
                "late_order".into(),
                format!(
                    "{label} counts toward day {date} of connection {conn}, whose daily summaries were already closed ({}) without it. Record it in the books by hand (or with another day's takings); replaying this dead letter will not post it",
                    when(*closed_at)
                ),
            ),
            Why::LateChange { new_day, closed_at } => {
                let what = match new_day {
                    None => format!(
                        "it no longer counts toward a summary (order status {}, payment status {}{})",
                        order.order_status().as_str_name(),
                        order.payment_status().as_str_name(),
                        if order.deleted || order.meta.as_ref().is_some_and(|m| m.change == nopbridge_mapping::pb::events::ChangeKind::Delete as i32) { ", deleted" } else { "" },
                    ),
                    Some(d) if Some(*d) != prev.map(|p| p.date) => {
                        format!("its business date is now {d}")
                    }
                    Some(_) => format!(
                        "what it adds to the summary changed (order total now {} {})",
                        order.order_total.as_ref().map_or(0, |m| m.minor_units),
                        order.store_currency
                    ),
                };
                (
                    "late_change".into(),
                    format!(
                        "{label} was in the daily summaries of day {date} of connection {conn} ({}) and has changed since: {what}. The books hold the earlier version: correct them by hand (e.g. a refund or an adjustment for the difference); replaying this dead letter will not post it",
                        when(*closed_at)
                    ),
                )
            }
            Why::Invalid => {
                let (class, err) = match mapped {
                    Err(e) => (e.kind().to_string(), e.to_string()),
                    Ok(_) => ("invalid_field".to_string(), "cannot be mapped".to_string()),
                };
                let closes = self
                    .closes_at(conn, date, None)
                    .map(|t| format!(" (scheduled {})", t.format("%Y-%m-%dT%H:%MZ")))
                    .unwrap_or_default();
                (
                    class,
                    format!(
                        "{err}. {label} is not in the daily summary of day {date} of connection {conn}: fix the mapping (then Reload) or the order at the store, then replay this dead letter before the day closes{closes}; after that, record it in the books by hand"
                    ),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn prev(included: bool, state: DayState, same: bool) -> Prev {
        Prev {
            date: d("2024-03-14"),
            included,
            state,
            closed_at: None,
            same_contribution: same,
        }
    }

    fn err() -> MappingError {
        MappingError::InvalidField {
            context: Default::default(),
            field: "x".into(),
            expected: "y".into(),
            found: "z".into(),
        }
    }

    #[test]
    fn open_days_take_the_latest_version() {
        let ok = Ok(Some(PostSale::default()));
        let open = |date: &str| New {
            day: Some((d(date), DayState::Open, None)),
            mapped: &ok,
        };
        assert_eq!(
            verdict(None, &open("2024-03-14")),
            Verdict::Include(d("2024-03-14"))
        );
        let p = prev(true, DayState::Open, false);
        assert_eq!(
            verdict(Some(&p), &open("2024-03-15")),
            Verdict::Include(d("2024-03-15"))
        );
        // cancelled before its day closed: out of the summary, nothing to post by hand
        let gone = New {
            day: None,
            mapped: &ok,
        };
        assert_eq!(verdict(Some(&p), &gone), Verdict::Withdraw);
        assert_eq!(verdict(None, &gone), Verdict::Nothing);
        // an order that does not map is dead-lettered at once
        let bad = Err(err());
        let invalid = New {
            day: Some((d("2024-03-14"), DayState::Open, None)),
            mapped: &bad,
        };
        assert_eq!(
            verdict(Some(&p), &invalid),
            Verdict::Reject {
                date: d("2024-03-14"),
                why: Why::Invalid
            }
        );
    }

    #[test]
    fn closed_days_take_nothing_more() {
        let ok = Ok(Some(PostSale::default()));
        for state in [DayState::Closing, DayState::Closed] {
            let late = New {
                day: Some((d("2024-03-14"), state, None)),
                mapped: &ok,
            };
            assert_eq!(
                verdict(None, &late),
                Verdict::Reject {
                    date: d("2024-03-14"),
                    why: Why::LateOrder { closed_at: None }
                }
            );
            // posted, then shipped: the summary is unchanged
            let posted = prev(true, state, true);
            assert_eq!(verdict(Some(&posted), &late), Verdict::Nothing);
            // posted, then its amounts changed, or it was cancelled
            let changed = prev(true, state, false);
            assert!(matches!(
                verdict(Some(&changed), &late),
                Verdict::Reject {
                    why: Why::LateChange { .. },
                    ..
                }
            ));
            let gone = New {
                day: None,
                mapped: &ok,
            };
            assert_eq!(
                verdict(Some(&posted), &gone),
                Verdict::Reject {
                    date: d("2024-03-14"),
                    why: Why::LateChange {
                        new_day: None,
                        closed_at: None
                    }
                }
            );
            // a version dead-lettered before is no posted one
            let rejected = prev(false, state, false);
            assert_eq!(verdict(Some(&rejected), &gone), Verdict::Nothing);
        }
    }
}
