//! New records. The backend has no `since_id`: it lists by creation (or update) time, newest
//! first, so each poll re-reads a window from the cursor's time minus [`OVERLAP`] to now
//! and lets the fingerprints skip what did not change. The community API lists by id
//! ascending from `since_id`: a true id cursor.
use super::{IdCursor, TimeCursor, OVERLAP};
use crate::client::dto::{Page, RawRecord, Stamp};
use crate::client::ApiResult;
use crate::connection::Connection;
use crate::settings::Dialect;
use crate::sync::{BatchStats, Kind, SyncError};
use chrono::{DateTime, Utc};
use std::future::Future;
use tokio_util::sync::CancellationToken;
use tracing::debug;

pub const ORDERS: &str = "orders";
pub const CUSTOMERS: &str = "customers";
pub const PRODUCTS: &str = "products";
pub const SHIPMENTS: &str = "shipments";
pub const RETURNS: &str = "return_requests";

/// Creates the missing cursors: new orders and customers start after the newest record now
/// (older ones are the backfill's), products from the beginning, shipments and return
/// requests from the backfill date (or now).
pub async fn init_cursors(conn: &Connection) -> Result<(), SyncError> {
    let db = &conn.db;
    let now = Utc::now();
    for (name, kind) in [(ORDERS, Kind::Order), (CUSTOMERS, Kind::Customer)] {
        if db.cursor::<IdCursor>(conn.id(), name).await?.is_none() {
            let newest = newest(conn, kind, now).await?;
            db.set_cursor(conn.id(), name, &newest).await?;
            crate::backfill::init(conn, kind, &newest).await?;
        }
    }
    let start = conn.settings.backfill_from.unwrap_or(now);
    for (name, from) in [
        (PRODUCTS, DateTime::<Utc>::UNIX_EPOCH),
        (SHIPMENTS, start),
        (RETURNS, start),
    ] {
        if db.cursor::<TimeCursor>(conn.id(), name).await?.is_none() {
            db.set_cursor(conn.id(), name, &TimeCursor { from }).await?;
        }
    }
    Ok(())
}

/// The newest order (customer) now.
pub(super) async fn newest(
    conn: &Connection,
    kind: Kind,
    now: DateTime<Utc>,
) -> Result<IdCursor, SyncError> {
    let c = &conn.client;
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let records = match (c.dialect(), kind) {
        (Dialect::Official, Kind::Order) => {
            c.order_page(conn.store_id(), epoch, now, 0, 1).await?.items
        }
        (Dialect::Official, _) => c.customer_page(epoch, now, 0, 1).await?.items,
        (Dialect::Community, _) => {
            // Ascending by id only: walk to the end once.
            let mut last = IdCursor {
                last_id: 0,
                last_created: now,
            };
            loop {
                let page = community_list(conn, kind, last.last_id).await?;
                let full = page.len() as u32 >= conn.settings.page_size;
                if let Some(s) = Stamp::of(&page).into_iter().max_by_key(|s| s.id) {
                    last.last_id = s.id;
                }
                if !full {
                    return Ok(last);
                }
            }
        }
    };
    Ok(match Stamp::of(&records).first() {
        Some(s) => IdCursor {
            last_id: s.id,
            last_created: s.created_on_utc.unwrap_or(now),
        },
        None => IdCursor {
            last_id: 0,
            last_created: now,
        },
    })
}

async fn community_list(conn: &Connection, kind: Kind, since_id: i64) -> ApiResult<Vec<RawRecord>> {
    let size = conn.settings.page_size;
    match kind {
        Kind::Order => conn.client.community_orders(since_id, size, None).await,
        _ => conn.client.community_customers(since_id, size, None).await,
    }
}

pub async fn orders(conn: &Connection, stop: &CancellationToken) -> Result<(), SyncError> {
    new_records(conn, Kind::Order, ORDERS, stop).await
}

pub async fn customers(conn: &Connection, stop: &CancellationToken) -> Result<(), SyncError> {
    new_records(conn, Kind::Customer, CUSTOMERS, stop).await
}

async fn new_records(
    conn: &Connection,
    kind: Kind,
    name: &str,
    stop: &CancellationToken,
) -> Result<(), SyncError> {
    let Some(mut cur) = conn.db.cursor::<IdCursor>(conn.id(), name).await? else {
        return Ok(());
    };
    let size = conn.settings.page_size;
    if conn.client.dialect() == Dialect::Community {
        while !stop.is_cancelled() {
            let page = community_list(conn, kind, cur.last_id).await?;
            let full = page.len() as u32 >= size;
            conn.sync_batch(kind, &page, false).await?;
            if let Some(s) = Stamp::of(&page).into_iter().max_by_key(|s| s.id) {
                cur.last_id = s.id;
                cur.last_created = s.created_on_utc.unwrap_or(cur.last_created);
                conn.db.set_cursor(conn.id(), name, &cur).await?;
            }
            if !full {
                break;
            }
        }
        return Ok(());
    }
    let (from, to) = (cur.last_created - OVERLAP, Utc::now());
    let store = conn.store_id();
    let mut records = all_pages(size, |i| async move {
        match kind {
            Kind::Order => conn.client.order_page(store, from, to, i, size).await,
            _ => conn.client.customer_page(from, to, i, size).await,
        }
    })
    .await?;
    // Listed newest first; emit oldest first.
    records.reverse();
    let stamps = Stamp::of(&records);
    let fresh = stamps.iter().filter(|s| s.id > cur.last_id).count();
    let stats = sync_chunks(conn, kind, &records, size).await?;
    debug!(
        connection = conn.id(),
        entity = kind.name(),
        listed = records.len(),
        fresh,
        ?stats,
        "new records"
    );
    if let Some(newest) = stamps.iter().filter_map(|s| s.created_on_utc).max() {
        let next = IdCursor {
            last_id: stamps
                .iter()
                .map(|s| s.id)
                .max()
                .unwrap_or(cur.last_id)
                .max(cur.last_id),
            last_created: newest.max(cur.last_created),
        };
        if next != cur {
            conn.db.set_cursor(conn.id(), name, &next).await?;
        }
    }
    Ok(())
}

/// Products by update time (the admin editor and API updates move UpdatedOnUtc; stock
/// changes do not, the stock check finds those).
pub async fn products(conn: &Connection) -> Result<(), SyncError> {
    let Some(cur) = conn.db.cursor::<TimeCursor>(conn.id(), PRODUCTS).await? else {
        return Ok(());
    };
    let size = conn.settings.page_size;
    let first = cur.from == DateTime::<Utc>::UNIX_EPOCH;
    let from = cur.from - OVERLAP;
    let records = match conn.client.dialect() {
        Dialect::Official => {
            all_pages(size, |i| conn.client.products_updated_page(from, i, size)).await?
        }
        Dialect::Community => {
            let after = (!first).then_some(from);
            community_pages(size, |p| conn.client.community_products(after, p, size)).await?
        }
    };
    sync_chunks(conn, Kind::Product, &records, size).await?;
    advance(
        conn,
        PRODUCTS,
        cur,
        Stamp::of(&records).iter().filter_map(|s| s.updated_on_utc),
    )
    .await
}

/// Shipments by creation time (backend only).
pub async fn shipments(conn: &Connection) -> Result<(), SyncError> {
    let Some(cur) = conn.db.cursor::<TimeCursor>(conn.id(), SHIPMENTS).await? else {
        return Ok(());
    };
    let (size, to) = (conn.settings.page_size, Utc::now());
    let from = Some(cur.from - OVERLAP);
    let records = all_pages(size, |i| {
        conn.client.shipment_page(from, to, false, i, size)
    })
    .await?;
    sync_chunks(conn, Kind::Shipment, &records, size).await?;
    advance(
        conn,
        SHIPMENTS,
        cur,
        Stamp::of(&records).iter().filter_map(|s| s.created_on_utc),
    )
    .await
}

/// Return requests of the store by creation time (backend only).
pub async fn returns(conn: &Connection) -> Result<(), SyncError> {
    let Some(cur) = conn.db.cursor::<TimeCursor>(conn.id(), RETURNS).await? else {
        return Ok(());
    };
    let (size, to, store) = (conn.settings.page_size, Utc::now(), conn.store_id());
    let from = cur.from - OVERLAP;
    let records = all_pages(size, |i| conn.client.return_page(store, from, to, i, size)).await?;
    sync_chunks(conn, Kind::ReturnRequest, &records, size).await?;
    advance(
        conn,
        RETURNS,
        cur,
        Stamp::of(&records).iter().filter_map(|s| s.created_on_utc),
    )
    .await
}

/// Moves a time cursor to the newest time seen (never back).
async fn advance(
    conn: &Connection,
    name: &str,
    cur: TimeCursor,
    times: impl Iterator<Item = DateTime<Utc>>,
) -> Result<(), SyncError> {
    if let Some(newest) = times.max().filter(|t| *t > cur.from) {
        conn.db
            .set_cursor(conn.id(), name, &TimeCursor { from: newest })
            .await?;
    }
    Ok(())
}

pub(crate) async fn sync_chunks(
    conn: &Connection,
    kind: Kind,
    records: &[RawRecord],
    size: u32,
) -> Result<BatchStats, SyncError> {
    let mut total = BatchStats::default();
    for chunk in records.chunks(size.max(1) as usize) {
        total.merge(conn.sync_batch(kind, chunk, false).await?);
    }
    Ok(total)
}

/// Every page of a 0-based backend listing.
pub(crate) async fn all_pages<F, Fut>(size: u32, mut page: F) -> ApiResult<Vec<RawRecord>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ApiResult<Page>>,
{
    let mut out = Vec::new();
    for index in 0.. {
        let p = page(index).await?;
        let n = p.items.len();
        out.extend(p.items);
        if (n as u32) < size || n == 0 {
            break;
        }
    }
    Ok(out)
}

/// Every page of a 1-based community listing.
pub(crate) async fn community_pages<F, Fut>(size: u32, mut page: F) -> ApiResult<Vec<RawRecord>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ApiResult<Vec<RawRecord>>>,
{
    let mut out = Vec::new();
    for index in 1.. {
        let p = page(index).await?;
        let n = p.len();
        out.extend(p);
        if (n as u32) < size || n == 0 {
            break;
        }
    }
    Ok(out)
}
