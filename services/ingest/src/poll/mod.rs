//! Polling of one connection. nopCommerce has no UpdatedOnUtc on orders or customers and
//! the free API plugin sends no webhooks (reference §1.1, §5.2), so besides listing new
//! records by cursor the poller re-reads records that can still change: non-terminal orders
//! (plus orders of the last days), undelivered shipments, open return requests, and the
//! stock history of every product.
//!
//! Cursors live in the state database and move only after a batch's events are
//! acknowledged and its state stored, so a restart resumes where it stopped. One failing
//! step (store down, credentials refused) is reported in the connection's health and
//! retried at the next tick; the others go on.
mod new;
mod repoll;

use crate::client::ApiError;
use crate::connection::Connection;
use crate::settings::Dialect;
use crate::sync::SyncError;
use chrono::{DateTime, Utc};
use nopbridge_proto::control::v1::{ConnectorHealth, HealthState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Re-read this far back on every poll: records committed late (a slow checkout) still
/// fall into the window, and re-reading unchanged ones costs a fingerprint lookup.
pub const OVERLAP: chrono::Duration = chrono::Duration::minutes(10);

/// Where a listing stopped: the newest record processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdCursor {
    pub last_id: i64,
    pub last_created: DateTime<Utc>,
}

/// A time cursor (products by update time, shipments and returns by creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeCursor {
    pub from: DateTime<Utc>,
}

/// Runs the connection's polling and its backfill until `stop`.
pub async fn run(conn: Arc<Connection>, stop: CancellationToken) {
    // The new-record cursors mark where the backfill ends, so they exist before either runs.
    let mut wait = Duration::from_millis(conn.settings.initial_backoff_ms.max(100));
    loop {
        match new::init_cursors(&conn).await {
            Ok(()) => break,
            Err(e) => {
                report(&conn, Err(&e));
                warn!(connection = conn.id(), error = %e, "cannot initialise cursors, retrying");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(Duration::from_millis(conn.settings.max_backoff_ms.max(1)));
    }
    tokio::join!(
        crate::backfill::run(conn.clone(), stop.clone()),
        poll_loop(conn, stop)
    );
}

async fn poll_loop(conn: Arc<Connection>, stop: CancellationToken) {
    let every = Duration::from_millis(conn.settings.poll_interval_ms.max(10));
    let repoll_every = Duration::from_millis(conn.settings.repoll_interval_ms.max(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_repoll = Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if conn.control.is_connection_paused(conn.id()) {
            continue;
        }
        let repoll = last_repoll.elapsed() >= repoll_every;
        let result = cycle(&conn, repoll, &stop).await;
        if repoll && result.is_ok() {
            last_repoll = Instant::now();
        }
        report(&conn, result.as_ref().map(|_| ()));
    }
}

/// One poll: every step runs; the first error is returned (after the others ran).
async fn cycle(conn: &Connection, repoll: bool, stop: &CancellationToken) -> Result<(), SyncError> {
    let official = conn.client.dialect() == Dialect::Official;
    let mut first_error = None;
    let mut note = |step: &str, r: Result<(), SyncError>| {
        if let Err(e) = r {
            warn!(connection = conn.id(), step, error = %e, "poll step failed");
            first_error.get_or_insert(e);
        }
    };
    note("orders", new::orders(conn, stop).await);
    note("customers", new::customers(conn, stop).await);
    note("products", new::products(conn).await);
    if official {
        note("shipments", new::shipments(conn).await);
        note("return requests", new::returns(conn).await);
    }
    conn.count("poll_cycles", 1);
    if repoll {
        note("order re-poll", repoll::orders(conn, stop).await);
        if official {
            note("shipment re-poll", repoll::shipments(conn).await);
            note("return re-poll", repoll::returns(conn).await);
            note("stock check", repoll::stock(conn).await);
        } else {
            note("product re-poll", repoll::community_products(conn).await);
        }
        conn.count("repoll_cycles", 1);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Connection health in the Status call: healthy, degraded (store unavailable, data
/// problems) or disconnected (credentials refused: needs a person).
pub(crate) fn report(conn: &Connection, result: Result<(), &SyncError>) {
    let (state, detail) = match result {
        Ok(()) => (HealthState::Healthy, String::new()),
        Err(SyncError::Api(ApiError::Auth(m))) => (HealthState::Disconnected, m.clone()),
        Err(e) => (HealthState::Degraded, e.to_string()),
    };
    let last_success_at = match state {
        HealthState::Healthy => Some(nopbridge_runtime::control::timestamp(Utc::now())),
        _ => None,
    };
    if state != HealthState::Healthy {
        info!(connection = conn.id(), ?state, %detail, "connection health");
    }
    conn.control.set_connector_health(ConnectorHealth {
        connection_id: conn.id().to_string(),
        target: format!("nopcommerce/{:?}", conn.settings.dialect).to_lowercase(),
        state: state as i32,
        detail,
        last_success_at,
        paused: false,
    });
}

/// Where new-record polling of `kind` stands, which is where a backfill ends: the stored
/// cursor, or the newest record now for a connection that does not poll. None while a
/// polling connection has not set its cursors yet (just started).
pub async fn newest(
    conn: &Connection,
    kind: crate::sync::Kind,
) -> Result<Option<IdCursor>, SyncError> {
    if !conn.settings.polling {
        return new::newest(conn, kind, Utc::now()).await.map(Some);
    }
    let name = match kind {
        crate::sync::Kind::Order => new::ORDERS,
        _ => new::CUSTOMERS,
    };
    Ok(conn.db.cursor(conn.id(), name).await?)
}
