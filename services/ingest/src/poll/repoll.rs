//! Re-polls: records that can still change without any timestamp telling so.
use super::new::{all_pages, community_pages, sync_chunks};
use crate::client::dto::Stamp;
use crate::connection::Connection;
use crate::sync::{Kind, SyncError};
use chrono::Utc;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashSet;
use tokio_util::sync::CancellationToken;

/// Orders fetched per call (the backend's `GetByIds` takes a `;`-separated list).
const IDS_PER_CALL: usize = 100;

/// Non-terminal orders and orders of the last `repoll_window_days`, a hundred per call;
/// only those whose bytes changed are fetched in full. An order missing from the answer
/// is fetched alone: a 404 becomes a delete event.
pub async fn orders(conn: &Connection, stop: &CancellationToken) -> Result<(), SyncError> {
    let since = Utc::now() - chrono::Duration::days(i64::from(conn.settings.repoll_window_days));
    let ids: Vec<i64> = conn
        .db
        .repoll_ids(conn.id(), Kind::Order.name(), since)
        .await?
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    for chunk in ids.chunks(IDS_PER_CALL) {
        if stop.is_cancelled() {
            break;
        }
        let records = conn.client.orders_by_ids(chunk).await?;
        let seen: HashSet<i64> = Stamp::of(&records).iter().map(|s| s.id).collect();
        sync_chunks(conn, Kind::Order, &records, conn.settings.page_size).await?;
        for id in chunk.iter().filter(|id| !seen.contains(id)) {
            conn.sync_one(Kind::Order, *id, false).await?;
        }
    }
    Ok(())
}

/// Undelivered shipments (one listing), plus open ones that left that list (delivered, or
/// gone) fetched alone.
pub async fn shipments(conn: &Connection) -> Result<(), SyncError> {
    let size = conn.settings.page_size;
    let to = Utc::now();
    let records = all_pages(size, |i| conn.client.shipment_page(None, to, true, i, size)).await?;
    let listed: HashSet<i64> = Stamp::of(&records).iter().map(|s| s.id).collect();
    sync_chunks(conn, Kind::Shipment, &records, size).await?;
    let open = conn
        .db
        .repoll_ids(conn.id(), Kind::Shipment.name(), to)
        .await?;
    for id in open.iter().filter_map(|id| id.parse::<i64>().ok()) {
        if !listed.contains(&id) {
            conn.sync_one(Kind::Shipment, id, false).await?;
        }
    }
    Ok(())
}

/// Open return requests (pending, received, authorized), one by one: there are few.
pub async fn returns(conn: &Connection) -> Result<(), SyncError> {
    let open = conn
        .db
        .repoll_ids(conn.id(), Kind::ReturnRequest.name(), Utc::now())
        .await?;
    for id in open.iter().filter_map(|id| id.parse::<i64>().ok()) {
        conn.sync_one(Kind::ReturnRequest, id, false).await?;
    }
    Ok(())
}

/// Stock moves do not touch a product's UpdatedOnUtc (reference §5.4), but each writes a
/// stock quantity history row: a product whose newest row changed is read again in full.
/// A product that answers 404 is deleted.
pub async fn stock(conn: &Connection) -> Result<(), SyncError> {
    let ids = conn.db.live_ids(conn.id(), Kind::Product.name()).await?;
    let stored = conn
        .db
        .entities(conn.id(), Kind::Product.name(), &ids)
        .await?;
    let jobs: Vec<_> = ids
        .iter()
        .filter_map(|id| id.parse::<i64>().ok())
        .map(|id| {
            let known = stored
                .get(&id.to_string())
                .and_then(|s| s.state.get("history_id").and_then(|h| h.as_i64()));
            async move {
                let newest = conn.client.newest_stock_history(id).await?;
                Ok::<_, SyncError>(match newest {
                    None => Some(id),
                    Some(h) => (h.map(|h| h.id) != known).then_some(id),
                })
            }
        })
        .collect();
    let changed: Vec<i64> = stream::iter(jobs)
        .buffer_unordered(conn.settings.concurrency)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await?;
    for id in changed {
        conn.sync_one(Kind::Product, id, true).await?;
    }
    Ok(())
}

/// The community API has no stock history: every product is listed again and compared.
pub async fn community_products(conn: &Connection) -> Result<(), SyncError> {
    let size = conn.settings.page_size;
    let records = community_pages(size, |p| conn.client.community_products(None, p, size)).await?;
    sync_chunks(conn, Kind::Product, &records, size).await?;
    Ok(())
}
