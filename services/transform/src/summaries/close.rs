//! Closing days: the periodic closer, and closing one day (also asked for by an operator).
//!
//! Closing is two steps, each in its own transaction under the day's advisory lock:
//! 1. freeze: the day row locked `FOR UPDATE` (waiting for handlers writing into it), its
//!    summaries planned, written to the outbox, the day marked `closing`. From here on its
//!    orders are late, so the summaries cannot change any more.
//! 2. publish: every outbox entry produced and acknowledged, then the day marked `closed`.
//!    A crash or a produce failure leaves it `closing`; the next try produces the same bytes
//!    again (same command ids: the sinks post each summary once).
use super::plan::plan_day;
use super::store::{Closing, Day, DayState, OutboxEntry};
use super::{is_summary_connection, Summaries, SummaryError};
use chrono::{DateTime, NaiveDate, Utc};
use nopbridge_kafka::{CloudEvent, OutgoingRecord};
use nopbridge_mapping::command_topic;
use nopbridge_mapping::pb::commands::Command;
use nopbridge_proto::control::v1::{ConnectorHealth, HealthState};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

/// What Status says about a connection's recent closing.
#[derive(Debug, Clone, Default)]
pub(super) struct Recent {
    pub last_closed: Option<(NaiveDate, DateTime<Utc>)>,
    pub failure: Option<String>,
}

/// Who closed a day.
pub const BY_SCHEDULE: &str = "schedule";
pub const BY_OPERATOR: &str = "operator";

impl Summaries {
    /// Closes what is due every `every` until `stop`.
    pub async fn run_closer(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.close_due().await {
                warn!(error = %e, "daily summaries: looking for days to close failed; trying again");
            }
        }
    }

    /// One round: publishes days left closing, closes open days whose time has come, and
    /// reports every daily-summary connection's days in Status.
    pub async fn close_due(&self) -> Result<(), SummaryError> {
        let mapper = self.mapper();
        let now = self.now();
        let days = self.store.days(None, false, 10_000).await?;
        for day in &days {
            let (conn, date) = (day.connection_id.as_str(), day.date);
            let due = match day.state {
                DayState::Closed => false,
                DayState::Closing => true,
                DayState::Open => {
                    mapper.connection(conn).is_some_and(is_summary_connection)
                        && !self.control.is_connection_paused(conn)
                        && self
                            .closes_at(conn, date, day.last_change)
                            .is_some_and(|at| now >= at)
                }
            };
            if due {
                // One day failing must not hold back the others.
                match self.close_day(conn, date, BY_SCHEDULE).await {
                    Ok(_) | Err(SummaryError::Busy(_)) => {}
                    Err(e) => {
                        warn!(connection = conn, %date, error = %e, "daily summary: closing failed; trying again next round");
                        self.recent
                            .lock()
                            .entry(conn.to_string())
                            .or_default()
                            .failure = Some(format!("closing {date} failed: {e}"));
                    }
                }
            }
        }
        let open = self.store.days(None, false, 10_000).await?;
        self.report(&open);
        Ok(())
    }

    /// Closes one day: freezes it (when open) and publishes it (when not closed yet).
    /// Returns the day as it is now and whether this call closed it.
    pub async fn close_day(
        &self,
        conn: &str,
        date: NaiveDate,
        by: &str,
    ) -> Result<(Day, bool), SummaryError> {
        let span = tracing::info_span!("close_day", connection = conn, %date, by);
        async {
            let was_closed = self
                .store
                .day(conn, date)
                .await?
                .is_some_and(|d| d.state == DayState::Closed);
            if !was_closed {
                self.freeze(conn, date, by).await?;
                self.publish(conn, date).await?;
            }
            let day = self.store.day(conn, date).await?.ok_or_else(|| {
                SummaryError::Busy(format!("day {date} of {conn} is not there yet"))
            })?;
            Ok((day, !was_closed))
        }
        .instrument(span)
        .await
    }

    /// Step 1: decides the day's summaries once and for all.
    async fn freeze(&self, conn: &str, date: NaiveDate, by: &str) -> Result<(), SummaryError> {
        let mut tx = self.store.begin().await?;
        if !tx.try_lock_day(conn, date).await? {
            return Err(SummaryError::Busy(format!(
                "day {date} of connection {conn} is being closed by another transform"
            )));
        }
        if tx.lock_day(conn, date).await? != DayState::Open {
            return Ok(tx.commit().await?);
        }
        let mapper = self.mapper();
        let orders = tx.included_orders(conn, date).await?;
        let plan = plan_day(&mapper, conn, date, orders)?;
        let mut entries: Vec<OutboxEntry> = plan
            .commands
            .iter()
            .map(|cmd| OutboxEntry::Command {
                topic: format!("{}{}", command_topic(cmd), self.topic_suffix),
                payload: cmd.encode_to_vec(),
            })
            .collect();
        let mut left_out = Vec::with_capacity(plan.left_out.len());
        for l in &plan.left_out {
            if let Some(record) = tx.order_record(conn, l.order_id).await? {
                entries.push(OutboxEntry::DeadLetter {
                    record,
                    class: l.class.clone(),
                    reason: l.reason.clone(),
                });
            }
            left_out.push(l.order_id);
        }
        tx.put_outbox(conn, date, &entries).await?;
        tx.exclude(conn, &left_out).await?;
        let closing = Closing {
            orders: i64::try_from(plan.orders).unwrap_or(i64::MAX),
            summaries: i64::try_from(plan.commands.len()).unwrap_or(i64::MAX),
            dead_lettered: i64::try_from(left_out.len()).unwrap_or(i64::MAX),
            by,
            now: self.now(),
        };
        tx.set_closing(conn, date, &closing).await?;
        tx.commit().await?;
        info!(
            connection = conn,
            %date,
            summaries = closing.summaries,
            orders = closing.orders,
            left_out = closing.dead_lettered,
            by,
            "daily summary: day frozen"
        );
        Ok(())
    }

    /// Step 2: produces the frozen day's outbox, then marks it closed.
    async fn publish(&self, conn: &str, date: NaiveDate) -> Result<(), SummaryError> {
        let mut tx = self.store.begin().await?;
        if !tx.try_lock_day(conn, date).await? {
            return Err(SummaryError::Busy(format!(
                "day {date} of connection {conn} is being closed by another transform"
            )));
        }
        if tx.day_state(conn, date).await? != Some(DayState::Closing) {
            return Ok(tx.commit().await?);
        }
        for entry in tx.outbox(conn, date).await? {
            match entry {
                OutboxEntry::Command { topic, payload } => {
                    let cmd = Command::decode(payload.as_slice()).map_err(|e| {
                        super::StoreError::Decode(format!("outbox command of {conn} {date}: {e}"))
                    })?;
                    let ce = CloudEvent::protobuf(
                        &cmd.command_id,
                        format!("nopbridge/transform/{}/{}", cmd.tenant_id, cmd.store_id),
                        "nopbridge.commands.v1.Command",
                    )
                    .with_subject(format!("daily_summary/{date}"));
                    let out = OutgoingRecord::new(&topic, cmd.connection_id.as_bytes(), &payload)
                        .event(&ce, None);
                    self.producer.send(out).await?;
                    self.control
                        .count("commands_emitted", &[("connection", conn)], 1);
                }
                OutboxEntry::DeadLetter {
                    record,
                    class,
                    reason,
                } => {
                    self.dead_letter(&record, conn, date, &class, &reason)
                        .await?
                }
            }
        }
        let now = self.now();
        tx.set_closed(conn, date, now).await?;
        tx.commit().await?;
        self.control
            .count("summary_days_closed", &[("connection", conn)], 1);
        let mut recent = self.recent.lock();
        let r = recent.entry(conn.to_string()).or_default();
        r.last_closed = Some((date, now));
        r.failure = None;
        info!(connection = conn, %date, "daily summary: day closed");
        Ok(())
    }

    /// Connector health in Status: one entry per daily-summary connection (and per
    /// connection that still has open days), saying which days are open and until when.
    fn report(&self, unclosed: &[Day]) {
        let mapper = self.mapper();
        let now = self.now();
        let mut conns: Vec<(String, String)> = mapper
            .connections()
            .iter()
            .filter(|c| is_summary_connection(c))
            .map(|c| {
                (
                    c.config.connection_id.clone(),
                    c.config.target.name().to_string(),
                )
            })
            .collect();
        for d in unclosed {
            if !conns.iter().any(|(c, _)| *c == d.connection_id) {
                let target = mapper
                    .connection(&d.connection_id)
                    .map_or("", |c| c.config.target.name());
                conns.push((d.connection_id.clone(), target.to_string()));
            }
        }
        let recent = self.recent.lock().clone();
        for (conn, target) in conns {
            let loaded = mapper.connection(&conn).is_some_and(is_summary_connection);
            let mine: Vec<&Day> = unclosed
                .iter()
                .filter(|d| d.connection_id == conn)
                .collect();
            let paused = self.control.is_connection_paused(&conn);
            let mut state = HealthState::Healthy;
            let mut parts: Vec<String> = Vec::new();
            for d in &mine {
                let at = self.closes_at(&conn, d.date, d.last_change);
                if d.state == DayState::Closing || (!paused && at.is_some_and(|at| now >= at)) {
                    state = HealthState::Degraded;
                }
                parts.push(match (d.state, at) {
                    (DayState::Closing, _) => format!("{} closing", d.date),
                    (_, Some(at)) => format!(
                        "{} open, {} orders, closes {}",
                        d.date,
                        d.orders,
                        at.format("%Y-%m-%dT%H:%MZ")
                    ),
                    (_, None) => format!("{} open, {} orders", d.date, d.orders),
                });
            }
            let r = recent.get(&conn).cloned().unwrap_or_default();
            let mut detail = if parts.is_empty() {
                "daily summaries: no open day".to_string()
            } else {
                format!("daily summaries: {}", parts.join("; "))
            };
            if !loaded && !mine.is_empty() {
                state = HealthState::Degraded;
                detail.push_str(". The connection is no longer a daily-summary connection in the mapping: these days do not close by themselves; switch it back, or close them with `nopbridge summaries close`");
            } else if paused {
                detail.push_str(". Paused: days stay open (orders are still collected)");
            }
            if let Some(f) = &r.failure {
                state = HealthState::Degraded;
                detail.push_str(&format!(". Last attempt: {f}"));
            }
            self.control.set_connector_health(ConnectorHealth {
                connection_id: conn,
                target,
                state: state as i32,
                detail,
                last_success_at: r
                    .last_closed
                    .map(|(_, at)| nopbridge_runtime::control::timestamp(at)),
                paused: false,
            });
        }
    }
}
