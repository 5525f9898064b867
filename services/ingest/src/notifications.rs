//! The consumer of `ingest.notifications.v1`: for each buffered webhook notification it
//! fetches the full entity through the connection's API and emits what changed. The
//! notification only says which record to look at. A record of another store of the same
//! site is handed to that store's connection.
use crate::connection::{Connection, Registry};
use crate::pending::Pending;
use crate::sync::{Kind, Outcome, SyncError};
use crate::webhook::{Notification, CONNECTION_HEADER};
use nopbridge_kafka::{Handler, HandlerError, Record};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info};

pub struct NotificationHandler {
    registry: Registry,
    pending: Arc<Pending>,
}

impl NotificationHandler {
    pub fn new(registry: Registry, pending: Arc<Pending>) -> Self {
        Self { registry, pending }
    }

    /// Syncs the record at `conn`, or at the sibling connection of the record's store.
    pub async fn sync_routed(
        &self,
        conn: &Arc<Connection>,
        kind: Kind,
        id: i64,
    ) -> Result<Outcome, SyncError> {
        let outcome = conn.sync_one(kind, id, true).await?;
        let Outcome::OtherStore(store) = outcome else {
            return Ok(outcome);
        };
        match self.registry.sibling(conn, store) {
            Some(sibling) => sibling.sync_one(kind, id, true).await,
            None => {
                info!(
                    connection = conn.id(),
                    entity = kind.name(),
                    id,
                    store,
                    "record of a store no connection ingests"
                );
                conn.count("other_store_skipped", 1);
                Ok(outcome)
            }
        }
    }

    /// Syncs the order of a shipment (nothing when the shipment or its order is gone: the
    /// shipment's own sync has dealt with that).
    async fn sync_order_of_shipment(
        &self,
        conn: &Arc<Connection>,
        shipment_id: i64,
    ) -> Result<(), SyncError> {
        #[derive(serde::Deserialize)]
        struct OrderOf {
            order_id: i64,
        }
        let Some(raw) = conn.client.shipment_record(shipment_id).await? else {
            return Ok(());
        };
        let Ok(s) = serde_json::from_str::<OrderOf>(raw.get()) else {
            return Ok(());
        };
        match self.sync_routed(conn, Kind::Order, s.order_id).await {
            Ok(_) | Err(SyncError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Handler for NotificationHandler {
    /// A notification only says "read entity X again", and notifications are keyed by
    /// connection and entity: one still queued behind another of the same entity makes the
    /// earlier one redundant (a store raises several for one order: placed, paid, status).
    fn later_supersedes(&self) -> bool {
        true
    }

    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let conn_id = record.header_str(CONNECTION_HEADER).ok_or_else(|| {
            HandlerError::permanent("malformed_notification", "no nop_connection header")
        })?;
        let conn = self.registry.get(&conn_id).ok_or_else(|| {
            HandlerError::permanent(
                "unknown_connection",
                format!("connection {conn_id:?} is not configured (any more)"),
            )
        })?;
        let n: Notification = serde_json::from_slice(record.payload())
            .map_err(|e| HandlerError::permanent("malformed_notification", e.to_string()))?;
        let kind = Kind::parse(&n.entity_type).ok_or_else(|| {
            HandlerError::permanent("unknown_entity_type", format!("{:?}", n.entity_type))
        })?;
        // A paused connection holds its notifications (the lane waits, nothing is lost).
        while conn.control.is_connection_paused(conn.id()) {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // From here on a new webhook for this record needs a notification of its own.
        self.pending.started(&record.key_str());
        let mut result = self.sync_routed(conn, kind, n.entity_id).await;
        if kind == Kind::Shipment && matches!(result, Ok(Outcome::Emitted(_) | Outcome::Unchanged))
        {
            // Shipping a shipment (or delivering it) moves its order's shipping status, and
            // may complete the order, with only a shipment notification: nopCommerce raises
            // no order event for it. Without polling the order event would never show the
            // change, so the order is read again too.
            if let Err(e) = self.sync_order_of_shipment(conn, n.entity_id).await {
                result = Err(e);
            }
        }
        match result {
            Ok(outcome) => {
                debug!(connection = conn.id(), event = %n.event, id = n.entity_id, ?outcome, "notification handled");
                Ok(())
            }
            Err(e) if e.is_transient() => Err(HandlerError::transient(e.to_string())),
            Err(e @ SyncError::NotFound(_)) => {
                Err(HandlerError::permanent("not_found", e.to_string()))
            }
            Err(e) => Err(HandlerError::permanent("rejected", e.to_string())),
        }
    }
}
