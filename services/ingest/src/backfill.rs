//! Historical backfill of orders and customers from `backfill_from` up to where the
//! new-record polling started, with progress (done/total, rate, ETA) in the Status call.
//!
//! Backend: the list is newest first with inclusive created bounds, so the walk keeps the
//! window's upper bound and moves it down past each page (ids already done at the bound
//! are remembered), always reading the first page: no offset paging over a table that
//! changes. Community API: ids ascending from `since_id` up to the id the new-record
//! cursor started after. The cursor moves only after a page's events are acknowledged and
//! its state stored: a restart resumes without gaps, and a page done twice emits nothing
//! new (fingerprints and content hashes).
use crate::client::dto::{RawRecord, Stamp};
use crate::connection::Connection;
use crate::poll::IdCursor;
use crate::settings::Dialect;
use crate::sync::{Kind, PreparedBatch, SyncError};
use chrono::{DateTime, Utc};
use nopbridge_proto::control::v1::Progress;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillCursor {
    pub from: DateTime<Utc>,
    /// Backend: the window's end (inclusive), where new-record polling starts.
    pub to: DateTime<Utc>,
    /// Community API: the last id the backfill covers.
    pub end_id: i64,
    /// Backend: records created at or before this are still to do.
    pub upper: Option<DateTime<Utc>>,
    /// Backend: ids created exactly at `upper` already done.
    pub done_at_upper: Vec<i64>,
    /// Backend: more records share `upper` than one page holds.
    pub tie_page: u32,
    /// Community API: the walk continues after this id.
    pub next_since: i64,
    pub done: u64,
    pub total: u64,
    pub finished: bool,
}

fn cursor_name(kind: Kind) -> String {
    format!("backfill.{}", kind.name())
}

/// The progress entry's name in the Status call.
pub fn progress_name(conn: &str, kind: Kind) -> String {
    format!("backfill {conn} {}s", kind.name())
}

/// Creates the backfill cursor of a feed when a backfill date is set: from that date to
/// `newest`, where new-record polling starts.
pub async fn init(conn: &Connection, kind: Kind, newest: &IdCursor) -> Result<(), SyncError> {
    let Some(from) = conn.settings.backfill_from else {
        return Ok(());
    };
    if cursor(conn, kind).await?.is_some() {
        return Ok(());
    }
    plan(conn, kind, from, newest).await
}

/// The feed's backfill cursor, if a backfill was ever planned.
pub async fn cursor(conn: &Connection, kind: Kind) -> Result<Option<BackfillCursor>, SyncError> {
    Ok(conn.db.cursor(conn.id(), &cursor_name(kind)).await?)
}

/// Plans (or plans again) the feed's backfill from `from` to `newest`: counts what is to do
/// and stores a fresh cursor.
pub async fn plan(
    conn: &Connection,
    kind: Kind,
    from: DateTime<Utc>,
    newest: &IdCursor,
) -> Result<(), SyncError> {
    let name = cursor_name(kind);
    let c = &conn.client;
    let to = newest.last_created;
    let (total, next_since) = match (c.dialect(), kind) {
        (Dialect::Official, Kind::Order) => (c.order_count(conn.store_id(), from, to).await?, 0),
        (Dialect::Official, _) => (c.customer_count(from, to).await?, 0),
        (Dialect::Community, _) => {
            // The first record created after `from` (exclusive bound): start before it.
            let after = from - chrono::Duration::milliseconds(1);
            let first = match kind {
                Kind::Order => c.community_orders(0, 1, Some(after)).await?,
                _ => c.community_customers(0, 1, Some(after)).await?,
            };
            let start = Stamp::of(&first)
                .first()
                .map_or(newest.last_id, |s| s.id - 1);
            let total = match kind {
                Kind::Order => c.community_order_count(after).await?,
                // The customer count includes records the list leaves out (pitfall 5).
                _ => 0,
            };
            (total, start)
        }
    };
    let cursor = BackfillCursor {
        from,
        to,
        end_id: newest.last_id,
        upper: None,
        done_at_upper: Vec::new(),
        tie_page: 0,
        next_since,
        done: 0,
        total: u64::try_from(total).unwrap_or(0),
        finished: false,
    };
    info!(connection = conn.id(), entity = kind.name(), %from, %to, total, "backfill planned");
    conn.db.set_cursor(conn.id(), &name, &cursor).await?;
    Ok(())
}

/// Runs the orders' then the customers' backfill to the end (or until `stop`).
pub async fn run(conn: Arc<Connection>, stop: CancellationToken) {
    for kind in [Kind::Order, Kind::Customer] {
        let mut wait = Duration::from_millis(conn.settings.initial_backoff_ms.max(100));
        loop {
            match walk(&conn, kind, &stop).await {
                Ok(()) => break,
                Err(e) => {
                    warn!(connection = conn.id(), entity = kind.name(), error = %e, "backfill step failed, retrying");
                    crate::poll::report(&conn, Err(&e));
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_millis(conn.settings.max_backoff_ms.max(1)));
        }
        if stop.is_cancelled() {
            return;
        }
    }
}

/// Walks one feed's backfill page by page until it is finished or `stop` (the benchmark
/// drives the orders' walk alone with it).
pub async fn walk(
    conn: &Connection,
    kind: Kind,
    stop: &CancellationToken,
) -> Result<(), SyncError> {
    let name = cursor_name(kind);
    let Some(mut cur) = conn.db.cursor::<BackfillCursor>(conn.id(), &name).await? else {
        return Ok(());
    };
    let started = Instant::now();
    let done_at_start = cur.done;
    // Shown from the start, also when a restart finds the backfill already finished.
    progress(conn, kind, &cur, 0, Duration::ZERO);
    // Two pages in flight: while one is sent and stored, the next is listed and fetched. A
    // page's cursor is stored only once the page is committed, so a crash redoes at most the
    // two pages (which emit nothing new).
    let mut committing: Option<(PreparedBatch<'_>, BackfillCursor)> = None;
    while !cur.finished && !stop.is_cancelled() {
        while conn.control.is_connection_paused(conn.id()) && !stop.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let next = async {
            let page = match conn.client.dialect() {
                Dialect::Official => official_page(conn, kind, &mut cur).await?,
                Dialect::Community => community_page(conn, kind, &mut cur).await?,
            };
            let batch = conn.prepare_batch(kind, &page, false).await?;
            cur.done += page.len() as u64;
            Ok::<_, SyncError>((batch, cur.clone()))
        };
        let previous = commit_page(conn, kind, committing.take(), started, done_at_start);
        let (next, previous) = tokio::join!(next, previous);
        previous?;
        committing = Some(next?);
    }
    commit_page(conn, kind, committing, started, done_at_start).await?;
    if cur.finished {
        info!(
            connection = conn.id(),
            entity = kind.name(),
            done = cur.done,
            "backfill finished"
        );
    }
    Ok(())
}

/// Commits a prepared page, then stores the cursor as it was after that page.
async fn commit_page(
    conn: &Connection,
    kind: Kind,
    page: Option<(PreparedBatch<'_>, BackfillCursor)>,
    started: Instant,
    done_at_start: u64,
) -> Result<(), SyncError> {
    let Some((batch, cur)) = page else {
        return Ok(());
    };
    conn.commit_batch(batch).await?;
    conn.db
        .set_cursor(conn.id(), &cursor_name(kind), &cur)
        .await?;
    progress(
        conn,
        kind,
        &cur,
        cur.done - done_at_start,
        started.elapsed(),
    );
    Ok(())
}

/// The next page below the window's upper bound; moves the bound (the caller stores it once
/// the page is done).
async fn official_page(
    conn: &Connection,
    kind: Kind,
    cur: &mut BackfillCursor,
) -> Result<Vec<RawRecord>, SyncError> {
    let size = conn.settings.page_size;
    let upper = cur.upper.unwrap_or(cur.to);
    let c = &conn.client;
    let listed = match kind {
        Kind::Order => {
            c.order_page(conn.store_id(), cur.from, upper, cur.tie_page, size)
                .await?
        }
        _ => c.customer_page(cur.from, upper, cur.tie_page, size).await?,
    }
    .items;
    let full = listed.len() as u32 >= size;
    let stamps = Stamp::of(&listed);
    let done: HashSet<i64> = cur.done_at_upper.iter().copied().collect();
    let fresh: Vec<RawRecord> = listed
        .into_iter()
        .filter(|r| crate::sync::record_id(r).is_none_or(|id| !done.contains(&id)))
        .collect();
    let lowest = stamps.iter().filter_map(|s| s.created_on_utc).min();
    match lowest {
        Some(low) if low < upper => {
            cur.upper = Some(low);
            cur.done_at_upper = stamps
                .iter()
                .filter(|s| s.created_on_utc == Some(low))
                .map(|s| s.id)
                .collect();
            cur.tie_page = 0;
        }
        // The whole page shares the bound: remember its ids, read the next page of the tie.
        Some(_) => {
            cur.done_at_upper.extend(stamps.iter().map(|s| s.id));
            if fresh.is_empty() {
                cur.tie_page += 1;
            }
        }
        None => {}
    }
    // A short page holds everything left at or below the bound.
    cur.finished = !full;
    Ok(fresh)
}

/// The next ids after `next_since`, up to the backfill's end id.
async fn community_page(
    conn: &Connection,
    kind: Kind,
    cur: &mut BackfillCursor,
) -> Result<Vec<RawRecord>, SyncError> {
    let size = conn.settings.page_size;
    let c = &conn.client;
    let listed = match kind {
        Kind::Order => c.community_orders(cur.next_since, size, None).await?,
        _ => c.community_customers(cur.next_since, size, None).await?,
    };
    let full = listed.len() as u32 >= size;
    let end = cur.end_id;
    let mut past_end = false;
    let page: Vec<RawRecord> = listed
        .into_iter()
        .filter(|r| match crate::sync::record_id(r) {
            Some(id) if id > end => {
                past_end = true;
                false
            }
            _ => true,
        })
        .collect();
    if let Some(max) = Stamp::of(&page).iter().map(|s| s.id).max() {
        cur.next_since = max;
    }
    cur.finished = !full || past_end || page.is_empty();
    Ok(page)
}

fn progress(conn: &Connection, kind: Kind, cur: &BackfillCursor, done_now: u64, elapsed: Duration) {
    let rate = if elapsed.as_secs_f64() > 0.0 {
        done_now as f64 / elapsed.as_secs_f64()
    } else {
        0.0
    };
    let left = cur.total.saturating_sub(cur.done);
    let eta = if cur.finished || left == 0 {
        0
    } else if rate > 0.0 {
        (left as f64 / rate).ceil() as u64
    } else {
        0
    };
    conn.control.set_progress(Progress {
        name: progress_name(conn.id(), kind),
        done: cur.done,
        total: cur.total.max(cur.done),
        rate_per_second: rate,
        eta_seconds: eta,
    });
}
