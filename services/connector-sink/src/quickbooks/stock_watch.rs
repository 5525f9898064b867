//! Stock back-sync from QuickBooks: the accounting-side source of design.md §2. It runs in
//! this service, not in ingest, because this service holds the realm's rotating refresh token
//! (a second holder would break Intuit's rotation chain) and its request budget.
//!
//! Conflict rule (docs/operations.md, "Stock"): each side is master of its own movements.
//! The store owns its sales: nopCommerce takes stock at checkout and keeps its reservations,
//! and the documents the bridge posts for those sales move QuickBooks' on-hand in step. Every
//! other QuickBooks movement (a bill received, a count, a sale keyed in QuickBooks) is sent to
//! the store as a difference through AdjustInventory, never as an absolute on-hand, so the
//! store's reservations and unposted orders stay as they are.
//!
//! No echo: a change to a document the bridge posted (its PrivateNote starts with
//! `nopbridge store`), including its void or deletion, is the bridge's own doing and is
//! subtracted from the item's change. Each poll reads CDC since the last one, subtracts what
//! the bridge's documents did (their last seen lines are kept), and writes the remaining
//! differences to an outbox in the same transaction as the new state; the outbox is then
//! produced. Event ids are deterministic, so a produce repeated after a crash is one command.
use super::service::{QboError, QboRequest, QboService};
use super::StockWatchConfig;
use crate::xref::Store;
use chrono::{DateTime, SecondsFormat, Utc};
use nopbridge_kafka::{CloudEvent, KafkaError, OutgoingRecord, Producer, TraceContext};
use nopbridge_model::ids::{content_hash, event_id};
use nopbridge_model::keys::canonical_key_parts;
use nopbridge_proto::events::v1 as pb;
use nopbridge_runtime::{topics, ControlState};
use prost::Message;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::Row;
use std::{
    collections::{BTreeMap, HashMap},
    str::FromStr,
    sync::Arc,
    time::Duration,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The documents whose lines move on-hand quantity, and the sign of a line's Qty.
const DOCUMENTS: &[(&str, i64)] = &[
    ("Invoice", -1),
    ("SalesReceipt", -1),
    ("CreditMemo", 1),
    ("RefundReceipt", 1),
];
/// How every document the bridge posts starts its PrivateNote (request_builder::private_note).
const BRIDGE_NOTE: &str = "nopbridge store ";
/// CDC looks back 30 days at most; a watch idle longer starts again from the present.
const CDC_DAYS: i64 = 29;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Qbo(#[from] QboError),
    #[error("stock watch database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("unexpected QuickBooks answer: {0}")]
    Answer(String),
}

/// An item's on-hand in one CDC answer.
#[derive(Debug, Clone, PartialEq)]
struct ItemQty {
    id: String,
    sku: String,
    qty: Decimal,
}

/// Item id → signed quantity a document moves.
type Effect = BTreeMap<String, Decimal>;

/// A document in a CDC answer: `bridge` when its note says the bridge posted it; `None`
/// effect for a deleted one (a stub without lines or note).
#[derive(Debug, Clone, PartialEq)]
struct DocChange {
    key: String,
    bridge: bool,
    effect: Option<Effect>,
}

#[derive(Debug, Default)]
struct Changes {
    items: Vec<ItemQty>,
    docs: Vec<DocChange>,
}

fn decimal(v: Option<&Value>) -> Option<Decimal> {
    match v? {
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The quantity on hand of a QuickBooks item row, if QuickBooks tracks it.
pub(super) fn tracked_qty(row: &Value) -> Option<Decimal> {
    if row.get("TrackQtyOnHand").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    decimal(row.get("QtyOnHand"))
}

fn item_of(row: &Value) -> Option<ItemQty> {
    let qty = tracked_qty(row)?;
    let sku = match text(row, "Sku") {
        s if s.trim().is_empty() => text(row, "Name"),
        s => s,
    };
    Some(ItemQty {
        id: text(row, "Id"),
        sku: sku.trim().to_string(),
        qty,
    })
}

fn effect_of(row: &Value, sign: i64) -> Effect {
    let mut effect = Effect::new();
    for line in row
        .get("Line")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(d) = line.get("SalesItemLineDetail") else {
            continue;
        };
        let item = d
            .get("ItemRef")
            .and_then(|r| r.get("value"))
            .and_then(Value::as_str);
        if let (Some(item), Some(qty)) = (item, decimal(d.get("Qty"))) {
            *effect.entry(item.to_string()).or_default() += qty * Decimal::from(sign);
        }
    }
    effect.retain(|_, q| !q.is_zero());
    effect
}

/// Reads `CDCResponse[0].QueryResponse[]`: one object per entity name.
fn parse_cdc(body: &Value) -> Result<Changes, WatchError> {
    let responses = body
        .get("CDCResponse")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("QueryResponse"))
        .and_then(Value::as_array)
        .ok_or_else(|| WatchError::Answer("no CDCResponse[0].QueryResponse".into()))?;
    let mut out = Changes::default();
    for resp in responses {
        for row in resp
            .get("Item")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if row.get("status").and_then(Value::as_str) != Some("Deleted") {
                out.items.extend(item_of(row));
            }
        }
        for (entity, sign) in DOCUMENTS {
            for row in resp
                .get(*entity)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = format!("{entity}/{}", text(row, "Id"));
                let deleted = row.get("status").and_then(Value::as_str) == Some("Deleted");
                out.docs.push(DocChange {
                    key,
                    bridge: text(row, "PrivateNote").starts_with(BRIDGE_NOTE),
                    effect: (!deleted).then(|| effect_of(row, *sign)),
                });
            }
        }
    }
    Ok(out)
}

/// One difference for the store.
#[derive(Debug, Clone, PartialEq)]
struct Move {
    item: ItemQty,
    from: Decimal,
    delta: i64,
}

/// What a poll writes: the moves, each item's new baseline, each bridge document's new
/// effect (`None`: forget it).
#[derive(Debug, Default)]
struct Plan {
    moves: Vec<Move>,
    items: Vec<(String, Decimal)>,
    docs: Vec<(String, Option<Effect>)>,
}

/// The heart of the watch: an item's change minus what the bridge's documents did is a
/// movement of QuickBooks' own. Whole units go to the store; a fraction stays in the
/// baseline until it adds up. An item seen for the first time only sets its baseline.
fn plan(
    known_items: &HashMap<String, Decimal>,
    known_docs: &HashMap<String, Effect>,
    ch: &Changes,
) -> Plan {
    let mut out = Plan::default();
    let mut bridge: HashMap<&str, Decimal> = HashMap::new();
    let empty = Effect::new();
    for d in &ch.docs {
        let old = known_docs.get(&d.key);
        if !d.bridge && old.is_none() {
            continue;
        }
        let new = d.effect.as_ref().unwrap_or(&empty);
        for (item, q) in new {
            *bridge.entry(item).or_default() += q;
        }
        for (item, q) in old.unwrap_or(&empty) {
            *bridge.entry(item).or_default() -= q;
        }
        out.docs.push((d.key.clone(), d.effect.clone()));
    }
    for it in &ch.items {
        let Some(&from) = known_items.get(&it.id) else {
            out.items.push((it.id.clone(), it.qty));
            continue;
        };
        let own = it.qty - from - bridge.get(it.id.as_str()).copied().unwrap_or_default();
        let whole = own.trunc();
        let delta = i64::try_from(whole).unwrap_or(0);
        if delta != 0 && !it.sku.is_empty() {
            out.moves.push(Move {
                item: it.clone(),
                from,
                delta,
            });
            out.items.push((it.id.clone(), it.qty - (own - whole)));
        } else {
            out.items.push((it.id.clone(), it.qty - own));
        }
    }
    out
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Another replica is polling this company right now.
    Busy,
    /// First poll: baselines taken for this many items, nothing sent.
    Baseline(usize),
    /// Changes read and this many stock moves sent to the store.
    Moves(usize),
}

/// The stock watch of one QuickBooks connection.
pub struct StockWatch {
    connection_id: String,
    realm_id: String,
    cfg: StockWatchConfig,
    service: Arc<QboService>,
    store: Store,
    producer: Producer,
    control: ControlState,
    wake: Arc<Notify>,
}

impl StockWatch {
    pub(crate) fn new(
        connection_id: &str,
        realm_id: &str,
        cfg: StockWatchConfig,
        service: Arc<QboService>,
        store: Store,
        producer: Producer,
        control: ControlState,
    ) -> Self {
        Self {
            connection_id: connection_id.to_string(),
            realm_id: realm_id.to_string(),
            cfg,
            service,
            store,
            producer,
            control,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn realm_id(&self) -> &str {
        &self.realm_id
    }

    /// Polls now instead of at the next interval (a webhook said something changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Polls every interval, or sooner when woken, until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let interval = Duration::from_millis(self.cfg.interval_ms);
        loop {
            match self.poll().await {
                Ok(PollOutcome::Moves(n)) if n > 0 => {
                    info!(connection = %self.connection_id, moves = n, "stock from QuickBooks sent to the store")
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(connection = %self.connection_id, error = %e, "stock watch poll failed; next poll retries");
                    self.count("failed", 1);
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    fn count(&self, outcome: &str, n: u64) {
        self.control.count(
            "stock_watch",
            &[("connection", &self.connection_id), ("outcome", outcome)],
            n,
        );
    }

    /// One poll under the company's lock: sends what an earlier poll left in the outbox,
    /// reads the changes since the last poll and sends the store's share.
    pub async fn poll(&self) -> Result<PollOutcome, WatchError> {
        self.flush().await?;
        let pool = self.store.pool();
        let mut tx = pool.begin().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(7702402, hashtext($1))")
                .bind(&self.connection_id)
                .fetch_one(&mut *tx)
                .await?;
        if !locked {
            return Ok(PollOutcome::Busy);
        }
        let cursor: Option<String> =
            sqlx::query_scalar("SELECT cursor FROM sink_stock_watch WHERE connection_id = $1")
                .bind(&self.connection_id)
                .fetch_optional(&mut *tx)
                .await?;
        let since = cursor
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| {
                c.with_timezone(&Utc) - chrono::Duration::seconds(self.cfg.overlap_secs.into())
            });
        let outcome = match since {
            Some(since) if Utc::now() - since < chrono::Duration::days(CDC_DAYS) => {
                let (changes, time) = self.changes_since(since).await?;
                let moves = self.apply(&mut tx, &changes).await?;
                self.set_cursor(&mut tx, &time).await?;
                PollOutcome::Moves(moves)
            }
            _ => {
                if cursor.is_some() {
                    warn!(connection = %self.connection_id, "stock watch idle for longer than QuickBooks keeps changes (30 days): starting again from the present, moves in between are not sent");
                }
                let (items, time) = self.all_items().await?;
                sqlx::query("DELETE FROM sink_stock_items WHERE connection_id = $1")
                    .bind(&self.connection_id)
                    .execute(&mut *tx)
                    .await?;
                for it in &items {
                    self.put_item(&mut tx, &it.id, it.qty).await?;
                }
                self.set_cursor(&mut tx, &time).await?;
                PollOutcome::Baseline(items.len())
            }
        };
        tx.commit().await?;
        self.flush().await?;
        Ok(outcome)
    }

    async fn changes_since(&self, since: DateTime<Utc>) -> Result<(Changes, String), WatchError> {
        let entities: Vec<&str> = std::iter::once("Item")
            .chain(DOCUMENTS.iter().map(|(e, _)| *e))
            .collect();
        let req = QboRequest::get("cdc")
            .param("entities", entities.join(","))
            .param(
                "changedSince",
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        let body = self.service.call(&req).await?.body;
        Ok((parse_cdc(&body)?, server_time(&body)))
    }

    /// Every stock-tracked item, page by page (the first poll's baselines).
    async fn all_items(&self) -> Result<(Vec<ItemQty>, String), WatchError> {
        const PAGE: usize = 1000;
        let mut items = Vec::new();
        let mut time = String::new();
        for page in 0.. {
            let statement = format!(
                "SELECT * FROM Item STARTPOSITION {} MAXRESULTS {PAGE}",
                page * PAGE + 1
            );
            let body = self
                .service
                .call(&QboRequest::get("query").param("query", statement))
                .await?
                .body;
            if page == 0 {
                time = server_time(&body);
            }
            let rows = body
                .get("QueryResponse")
                .and_then(|q| q.get("Item"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            items.extend(rows.iter().filter_map(item_of));
            if rows.len() < PAGE {
                break;
            }
        }
        Ok((items, time))
    }

    async fn apply(
        &self,
        tx: &mut sqlx::PgConnection,
        changes: &Changes,
    ) -> Result<usize, WatchError> {
        let ids: Vec<&str> = changes.items.iter().map(|i| i.id.as_str()).collect();
        let known_items: HashMap<String, Decimal> = sqlx::query(
            "SELECT item_id, qty FROM sink_stock_items WHERE connection_id = $1 AND item_id = ANY($2)",
        )
        .bind(&self.connection_id)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .filter_map(|r| {
            let qty: String = r.get(1);
            Some((r.get(0), Decimal::from_str(&qty).ok()?))
        })
        .collect();
        let keys: Vec<&str> = changes.docs.iter().map(|d| d.key.as_str()).collect();
        let known_docs: HashMap<String, Effect> = sqlx::query(
            "SELECT doc_key, effect FROM sink_stock_documents WHERE connection_id = $1 AND doc_key = ANY($2)",
        )
        .bind(&self.connection_id)
        .bind(&keys)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .filter_map(|r| {
            let effect: Value = r.get(1);
            Some((r.get(0), serde_json::from_value(effect).ok()?))
        })
        .collect();
        let plan = plan(&known_items, &known_docs, changes);
        for (id, qty) in &plan.items {
            self.put_item(tx, id, *qty).await?;
        }
        for (key, effect) in &plan.docs {
            match effect {
                Some(e) => {
                    sqlx::query(
                        "INSERT INTO sink_stock_documents (connection_id, doc_key, effect) VALUES ($1, $2, $3)
                         ON CONFLICT (connection_id, doc_key) DO UPDATE SET effect = EXCLUDED.effect",
                    )
                    .bind(&self.connection_id)
                    .bind(key)
                    .bind(serde_json::to_value(e).unwrap_or_default())
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM sink_stock_documents WHERE connection_id = $1 AND doc_key = $2",
                    )
                    .bind(&self.connection_id)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        for m in &plan.moves {
            let (key, level) = self.event(m);
            let meta = level.meta.clone().unwrap_or_default();
            sqlx::query(
                "INSERT INTO sink_stock_outbox (connection_id, event_id, record_key, payload, occurred_at)
                 VALUES ($1, $2, $3, $4, now())",
            )
            .bind(&self.connection_id)
            .bind(&meta.event_id)
            .bind(&key)
            .bind(level.encode_to_vec())
            .execute(&mut *tx)
            .await?;
        }
        self.count("moves", plan.moves.len() as u64);
        Ok(plan.moves.len())
    }

    async fn put_item(
        &self,
        tx: &mut sqlx::PgConnection,
        id: &str,
        qty: Decimal,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sink_stock_items (connection_id, item_id, qty) VALUES ($1, $2, $3)
             ON CONFLICT (connection_id, item_id) DO UPDATE SET qty = EXCLUDED.qty",
        )
        .bind(&self.connection_id)
        .bind(id)
        .bind(qty.to_string())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    async fn set_cursor(&self, tx: &mut sqlx::PgConnection, time: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sink_stock_watch (connection_id, cursor) VALUES ($1, $2)
             ON CONFLICT (connection_id) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()",
        )
        .bind(&self.connection_id)
        .bind(time)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// The canonical event of one move: an `InventoryLevel` from QuickBooks naming the product
    /// by SKU (the store resolves it), keyed by SKU.
    fn event(&self, m: &Move) -> (String, pb::InventoryLevel) {
        let (tenant, store) = (&self.cfg.tenant, &self.cfg.store);
        let to = m.item.qty;
        let qty = i32::try_from(to.trunc()).unwrap_or(0);
        let mut level = pb::InventoryLevel {
            meta: None,
            product_id: 0,
            sku: m.item.sku.clone(),
            warehouse_id: 0,
            stock_quantity: qty,
            reserved_quantity: 0,
            available_quantity: qty,
            adjustment: i32::try_from(m.delta).unwrap_or(0),
            message: format!(
                "QuickBooks item {} on hand {} → {}",
                m.item.id,
                m.from.normalize(),
                to.normalize()
            ),
            updated_at: None,
        };
        let hash = content_hash(
            format!("{}|{}|{}|{}", self.connection_id, m.item.id, m.from, to).as_bytes(),
        );
        let entity_id = format!("qbo-item-{}", m.item.id);
        let id = event_id(
            pb::SourceSystem::QuickbooksOnline,
            tenant,
            store,
            pb::EntityType::InventoryLevel,
            &entity_id,
            &hash,
        );
        let now = nopbridge_runtime::control::timestamp(Utc::now());
        level.updated_at = Some(now);
        level.meta = Some(pb::EventMeta {
            event_id: id.to_string(),
            tenant_id: tenant.clone(),
            store_id: store.clone(),
            source_system: pb::SourceSystem::QuickbooksOnline as i32,
            entity_type: pb::EntityType::InventoryLevel as i32,
            entity_id,
            occurred_at: Some(now),
            ingested_at: Some(now),
            content_hash: hash,
            schema_version: 1,
            connection_id: self.connection_id.clone(),
            change: pb::ChangeKind::Upsert as i32,
        });
        let key = canonical_key_parts(tenant, store, "inventory_level", &["sku", &m.item.sku]);
        (key, level)
    }

    /// Produces the outbox in order and empties it. A repeat after a crash is harmless: the
    /// same event id maps to the same command, which the store applies once.
    async fn flush(&self) -> Result<(), WatchError> {
        let pool = self.store.pool();
        let rows = sqlx::query(
            "SELECT seq, event_id, record_key, payload, occurred_at FROM sink_stock_outbox
             WHERE connection_id = $1 ORDER BY seq",
        )
        .bind(&self.connection_id)
        .fetch_all(pool)
        .await?;
        let topic = format!(
            "{}{}",
            topics::canonical("inventory_level"),
            self.cfg.topic_suffix
        );
        for r in &rows {
            let (seq, id, key, payload, at): (i64, String, String, Vec<u8>, DateTime<Utc>) =
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
            let ce = CloudEvent::protobuf(
                id,
                format!("nopbridge/connector-sink/quickbooks/{}", self.connection_id),
                "nopbridge.events.v1.InventoryLevel",
            )
            .with_subject(key.clone())
            .with_time(at);
            let record = OutgoingRecord::new(&topic, key.as_bytes(), &payload)
                .event(&ce, Some(&TraceContext::new_root()));
            self.producer.send(record).await?;
            sqlx::query("DELETE FROM sink_stock_outbox WHERE seq = $1")
                .bind(seq)
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

/// The answer's `time` (QuickBooks' clock), the next poll's starting point.
fn server_time(body: &Value) -> String {
    body.get("time")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    fn cdc(items: Value, invoices: Value) -> Changes {
        parse_cdc(&json!({"CDCResponse": [{"QueryResponse": [
            {"Item": items}, {"Invoice": invoices}
        ]}], "time": "2026-11-23T10:00:00.000-08:00"}))
        .unwrap()
    }

    fn item(id: &str, qty: &str) -> Value {
        json!({"Id": id, "Name": format!("Item {id}"), "Sku": format!("SKU-{id}"),
               "TrackQtyOnHand": true, "QtyOnHand": qty})
    }

    fn invoice(id: &str, note: &str, lines: &[(&str, i64)]) -> Value {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(item, qty)| {
                json!({"DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty}})
            })
            .collect();
        json!({"Id": id, "PrivateNote": note, "Line": lines})
    }

    const OURS: &str = "nopbridge store 1 order 7 (g); command c";

    #[test]
    fn the_bridges_own_sales_are_not_sent_back_but_everything_else_is() {
        // 50 → 37: the bridge posted 5 and 4 (the store took those at checkout), and 3 and 1
        // were sold in QuickBooks itself: the store gets −4.
        let ch = cdc(
            json!([item("1", "37")]),
            json!([
                invoice("10", OURS, &[("1", 5)]),
                invoice("11", OURS, &[("1", 4)]),
                invoice("12", "keyed in QuickBooks", &[("1", 3)]),
                invoice("13", "", &[("1", 1)]),
            ]),
        );
        let p = plan(&HashMap::from([("1".into(), d(50))]), &HashMap::new(), &ch);
        assert_eq!(p.moves.len(), 1);
        assert_eq!(
            (p.moves[0].delta, p.moves[0].item.sku.as_str()),
            (-4, "SKU-1")
        );
        assert_eq!(p.items, vec![("1".to_string(), d(37))]);
        // Only the bridge's documents are remembered.
        let keys: Vec<&str> = p.docs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["Invoice/10", "Invoice/11"]);
    }

    #[test]
    fn a_deleted_or_changed_bridge_document_moves_nothing_in_the_store() {
        let known_docs = HashMap::from([(
            "Invoice/10".to_string(),
            Effect::from([("1".to_string(), d(-5))]),
        )]);
        // Deleted in QuickBooks: its 5 come back to on-hand there, not in the store.
        let ch = parse_cdc(&json!({"CDCResponse": [{"QueryResponse": [
            {"Item": [item("1", "45")]},
            {"Invoice": [{"Id": "10", "status": "Deleted"}]}
        ]}]}))
        .unwrap();
        let p = plan(&HashMap::from([("1".into(), d(40))]), &known_docs, &ch);
        assert!(p.moves.is_empty(), "{:?}", p.moves);
        assert_eq!(p.docs, vec![("Invoice/10".to_string(), None)]);
        // Changed from 5 to 2 by the bridge: on-hand +3 there, nothing here.
        let ch = cdc(
            json!([item("1", "43")]),
            json!([invoice("10", OURS, &[("1", 2)])]),
        );
        let p = plan(&HashMap::from([("1".into(), d(40))]), &known_docs, &ch);
        assert!(p.moves.is_empty());
    }

    #[test]
    fn first_sight_is_a_baseline_and_fractions_wait_until_they_add_up() {
        let ch = cdc(json!([item("1", "12.5"), item("2", "7")]), json!([]));
        let p = plan(&HashMap::from([("1".into(), d(10))]), &HashMap::new(), &ch);
        // Item 1: +2.5 → 2 now, 0.5 kept back; item 2: first seen.
        assert_eq!(p.moves.len(), 1);
        assert_eq!(p.moves[0].delta, 2);
        assert_eq!(
            p.items,
            vec![("1".to_string(), d(12)), ("2".to_string(), d(7))]
        );
        // Untracked items and deleted ones are not stock.
        let ch = cdc(
            json!([{"Id": "3", "TrackQtyOnHand": false, "QtyOnHand": 4},
                   {"Id": "4", "status": "Deleted"}]),
            json!([]),
        );
        assert!(ch.items.is_empty());
    }

    #[test]
    fn an_answer_without_cdc_response_is_an_error() {
        assert!(parse_cdc(&json!({"Fault": {}})).is_err());
    }
}
