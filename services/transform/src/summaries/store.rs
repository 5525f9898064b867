//! The durable state of daily summaries in PostgreSQL (`migrations/`, applied at start): the
//! days of each connection, the latest version of every order that counts toward one, and
//! the outbox a closing day is produced from.
//!
//! Locking: a handler takes the day rows it touches `FOR SHARE` (never updating them), then
//! its order row `FOR UPDATE`; the closer takes a day `FOR UPDATE`, so freezing a day waits
//! for the handlers writing into it and every later handler sees it closing. Only one
//! replica works on a day at a time: a transaction-scoped advisory lock per day.
use chrono::{DateTime, NaiveDate, Utc};
use nopbridge_kafka::Record;
use serde_json::Value;
use sqlx::{
    postgres::{PgPool, PgRow},
    Postgres, Row, Transaction,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sqlx's messages never carry the connection URL's password.
    #[error("summary database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("summary database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("summary database: bad stored value: {0}")]
    Decode(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayState {
    Open,
    Closing,
    Closed,
}

impl DayState {
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "open" => Ok(Self::Open),
            "closing" => Ok(Self::Closing),
            "closed" => Ok(Self::Closed),
            other => Err(StoreError::Decode(format!("day state {other:?}"))),
        }
    }
}

/// One business day of a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub connection_id: String,
    pub date: NaiveDate,
    pub state: DayState,
    /// Open: orders collected so far; closing or closed: orders in its summaries.
    pub orders: i64,
    pub summaries: i64,
    pub dead_lettered: i64,
    pub closed_by: String,
    pub closed_at: Option<DateTime<Utc>>,
    /// When an order of the day last changed (the start of its quiet period).
    pub last_change: Option<DateTime<Utc>>,
}

/// The stored version of one order.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub date: NaiveDate,
    pub included: bool,
    pub content_hash: String,
    pub rejected_hash: String,
    pub ingested_at: Option<DateTime<Utc>>,
    pub event: Vec<u8>,
}

/// A version to store, with the record it was consumed as.
pub struct OrderRow<'a> {
    pub connection_id: &'a str,
    pub order_id: i64,
    pub date: NaiveDate,
    pub included: bool,
    pub content_hash: &'a str,
    pub rejected_hash: &'a str,
    pub ingested_at: Option<DateTime<Utc>>,
    pub record: &'a Record,
    pub now: DateTime<Utc>,
}

/// What a closing day emits, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxEntry {
    /// An encoded summary command for `topic` (its key is the connection id).
    Command { topic: String, payload: Vec<u8> },
    /// An order left out of the summaries: its record as consumed, and why.
    DeadLetter {
        record: Record,
        class: String,
        reason: String,
    },
}

/// Counts written when a day starts closing.
pub struct Closing<'a> {
    pub orders: i64,
    pub summaries: i64,
    pub dead_lettered: i64,
    pub by: &'a str,
    pub now: DateTime<Utc>,
}

/// A record's headers in their original order; a header may have no value.
type Headers = Vec<(String, Option<Vec<u8>>)>;

fn headers_json(headers: &Headers) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(k, v)| {
                Value::Array(vec![
                    Value::String(k.clone()),
                    v.as_deref()
                        .map_or(Value::Null, |v| Value::String(hex::encode(v))),
                ])
            })
            .collect(),
    )
}

fn headers_of(v: &Value) -> Result<Headers, StoreError> {
    let bad = || StoreError::Decode(format!("headers {v}"));
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|h| {
            let name = h.get(0).and_then(Value::as_str).ok_or_else(bad)?;
            let value = match h.get(1) {
                Some(Value::String(s)) => Some(hex::decode(s).map_err(|_| bad())?),
                _ => None,
            };
            Ok((name.to_string(), value))
        })
        .collect()
}

const DAY_COLUMNS: &str = "d.connection_id, d.business_date, d.state, d.summaries, \
    d.dead_lettered, d.closed_by, d.closed_at, \
    CASE WHEN d.state = 'open' \
        THEN (SELECT count(*) FROM summary_orders o WHERE o.connection_id = d.connection_id \
              AND o.business_date = d.business_date AND o.included) \
        ELSE d.orders END AS orders, \
    (SELECT max(o.updated_at) FROM summary_orders o WHERE o.connection_id = d.connection_id \
        AND o.business_date = d.business_date) AS last_change";

fn day_of(r: &PgRow) -> Result<Day, StoreError> {
    Ok(Day {
        connection_id: r.try_get("connection_id")?,
        date: r.try_get("business_date")?,
        state: DayState::parse(r.try_get("state")?)?,
        orders: r.try_get::<i64, _>("orders")?,
        summaries: i64::from(r.try_get::<i32, _>("summaries")?),
        dead_lettered: i64::from(r.try_get::<i32, _>("dead_lettered")?),
        closed_by: r.try_get("closed_by")?,
        closed_at: r.try_get("closed_at")?,
        last_change: r.try_get("last_change")?,
    })
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects and applies the migrations (sqlx serialises concurrent migrators).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = nopbridge_runtime::db::pool_options(max_connections)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx(self.pool.begin().await?))
    }

    /// Days of one connection (or all), unclosed ones first, then closed ones newest first.
    pub async fn days(
        &self,
        connection_id: Option<&str>,
        include_closed: bool,
        limit: i64,
    ) -> Result<Vec<Day>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DAY_COLUMNS} FROM summary_days d \
             WHERE ($1::text IS NULL OR d.connection_id = $1) AND ($2 OR d.state <> 'closed') \
             ORDER BY (d.state = 'closed'), \
                 CASE WHEN d.state = 'closed' THEN -(d.business_date - date '2000-01-01') \
                      ELSE d.business_date - date '2000-01-01' END, \
                 d.connection_id \
             LIMIT $3"
        ))
        .bind(connection_id)
        .bind(include_closed)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(day_of).collect()
    }

    pub async fn day(
        &self,
        connection_id: &str,
        date: NaiveDate,
    ) -> Result<Option<Day>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DAY_COLUMNS} FROM summary_days d \
             WHERE d.connection_id = $1 AND d.business_date = $2"
        ))
        .bind(connection_id)
        .bind(date)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(day_of).transpose()
    }
}

/// One transaction; dropped without [`Tx::commit`] it rolls back.
pub struct Tx(Transaction<'static, Postgres>);

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }

    /// The day an order's stored version is under, without locking (to lock days first).
    pub async fn order_date(
        &mut self,
        connection_id: &str,
        order_id: i64,
    ) -> Result<Option<NaiveDate>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT business_date FROM summary_orders WHERE connection_id = $1 AND order_id = $2",
        )
        .bind(connection_id)
        .bind(order_id)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    /// The day's state (and when it closed), locked against closing until commit; `create`
    /// makes an open day when there is none.
    pub async fn share_day(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
        create: bool,
    ) -> Result<Option<(DayState, Option<DateTime<Utc>>)>, StoreError> {
        if create {
            sqlx::query(
                "INSERT INTO summary_days (connection_id, business_date) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(connection_id)
            .bind(date)
            .execute(&mut *self.0)
            .await?;
        }
        let row = sqlx::query(
            "SELECT state, closed_at FROM summary_days \
             WHERE connection_id = $1 AND business_date = $2 FOR SHARE",
        )
        .bind(connection_id)
        .bind(date)
        .fetch_optional(&mut *self.0)
        .await?;
        row.map(|r| {
            Ok((
                DayState::parse(r.try_get("state")?)?,
                r.try_get("closed_at")?,
            ))
        })
        .transpose()
    }

    pub async fn lock_order(
        &mut self,
        connection_id: &str,
        order_id: i64,
    ) -> Result<Option<StoredOrder>, StoreError> {
        let row = sqlx::query(
            "SELECT business_date, included, content_hash, rejected_hash, ingested_at, event \
             FROM summary_orders WHERE connection_id = $1 AND order_id = $2 FOR UPDATE",
        )
        .bind(connection_id)
        .bind(order_id)
        .fetch_optional(&mut *self.0)
        .await?;
        row.map(|r| {
            Ok(StoredOrder {
                date: r.try_get("business_date")?,
                included: r.try_get("included")?,
                content_hash: r.try_get("content_hash")?,
                rejected_hash: r.try_get("rejected_hash")?,
                ingested_at: r.try_get("ingested_at")?,
                event: r.try_get("event")?,
            })
        })
        .transpose()
    }

    /// Stores `row` as the order's version (replacing the one before).
    pub async fn put_order(&mut self, row: &OrderRow<'_>) -> Result<(), StoreError> {
        let rec = row.record;
        sqlx::query(
            "INSERT INTO summary_orders (connection_id, order_id, business_date, included, \
                 content_hash, rejected_hash, ingested_at, event, source_topic, source_partition, \
                 source_offset, record_key, headers, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (connection_id, order_id) DO UPDATE SET \
                 business_date = EXCLUDED.business_date, included = EXCLUDED.included, \
                 content_hash = EXCLUDED.content_hash, rejected_hash = EXCLUDED.rejected_hash, \
                 ingested_at = EXCLUDED.ingested_at, event = EXCLUDED.event, \
                 source_topic = EXCLUDED.source_topic, source_partition = EXCLUDED.source_partition, \
                 source_offset = EXCLUDED.source_offset, record_key = EXCLUDED.record_key, \
                 headers = EXCLUDED.headers, updated_at = EXCLUDED.updated_at",
        )
        .bind(row.connection_id)
        .bind(row.order_id)
        .bind(row.date)
        .bind(row.included)
        .bind(row.content_hash)
        .bind(row.rejected_hash)
        .bind(row.ingested_at)
        .bind(rec.payload())
        .bind(&rec.topic)
        .bind(rec.partition)
        .bind(rec.offset)
        .bind(rec.key.as_deref())
        .bind(headers_json(&rec.headers))
        .bind(row.now)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// Remembers a version that was dead-lettered, keeping the stored (posted) one.
    pub async fn set_rejected(
        &mut self,
        connection_id: &str,
        order_id: i64,
        hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE summary_orders SET rejected_hash = $3 \
             WHERE connection_id = $1 AND order_id = $2",
        )
        .bind(connection_id)
        .bind(order_id)
        .bind(hash)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// Whether this transaction now holds the day (another replica's closer may).
    pub async fn try_lock_day(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("nopbridge-summary/{connection_id}/{date}"))
                .fetch_one(&mut *self.0)
                .await?,
        )
    }

    /// The day's state, locked until commit; an open day is created when there is none.
    pub async fn lock_day(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
    ) -> Result<DayState, StoreError> {
        sqlx::query(
            "INSERT INTO summary_days (connection_id, business_date) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(connection_id)
        .bind(date)
        .execute(&mut *self.0)
        .await?;
        let state: String = sqlx::query_scalar(
            "SELECT state FROM summary_days \
             WHERE connection_id = $1 AND business_date = $2 FOR UPDATE",
        )
        .bind(connection_id)
        .bind(date)
        .fetch_one(&mut *self.0)
        .await?;
        DayState::parse(&state)
    }

    /// The orders in a day's summaries: (order id, canonical Order bytes).
    pub async fn included_orders(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT order_id, event FROM summary_orders \
             WHERE connection_id = $1 AND business_date = $2 AND included ORDER BY order_id",
        )
        .bind(connection_id)
        .bind(date)
        .fetch_all(&mut *self.0)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("order_id")?, r.try_get("event")?)))
            .collect()
    }

    /// Takes orders out of their day's summaries: their stored versions count as
    /// dead-lettered (a redelivery of them does nothing).
    pub async fn exclude(
        &mut self,
        connection_id: &str,
        order_ids: &[i64],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE summary_orders SET included = false, rejected_hash = content_hash \
             WHERE connection_id = $1 AND order_id = ANY($2)",
        )
        .bind(connection_id)
        .bind(order_ids)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// The record an order was consumed as (for a dead letter at closing).
    pub async fn order_record(
        &mut self,
        connection_id: &str,
        order_id: i64,
    ) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(
            "SELECT event, source_topic, source_partition, source_offset, record_key, headers \
             FROM summary_orders WHERE connection_id = $1 AND order_id = $2",
        )
        .bind(connection_id)
        .bind(order_id)
        .fetch_optional(&mut *self.0)
        .await?;
        row.map(|r| {
            Ok(Record {
                topic: r.try_get("source_topic")?,
                partition: r.try_get("source_partition")?,
                offset: r.try_get("source_offset")?,
                key: r.try_get("record_key")?,
                payload: Some(r.try_get("event")?),
                headers: headers_of(&r.try_get::<Value, _>("headers")?)?,
                timestamp_ms: None,
            })
        })
        .transpose()
    }

    pub async fn put_outbox(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
        entries: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        for (seq, e) in entries.iter().enumerate() {
            let q = sqlx::query(
                "INSERT INTO summary_outbox (connection_id, business_date, seq, kind, topic, \
                     payload, record_key, headers, source_partition, source_offset, error_class, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(connection_id)
            .bind(date)
            .bind(i32::try_from(seq).unwrap_or(i32::MAX));
            let q = match e {
                OutboxEntry::Command { topic, payload } => q
                    .bind("command")
                    .bind(topic)
                    .bind(payload)
                    .bind(None::<Vec<u8>>)
                    .bind(Value::Array(Vec::new()))
                    .bind(0i32)
                    .bind(0i64)
                    .bind("")
                    .bind(""),
                OutboxEntry::DeadLetter {
                    record,
                    class,
                    reason,
                } => q
                    .bind("dead_letter")
                    .bind(&record.topic)
                    .bind(record.payload())
                    .bind(record.key.as_deref())
                    .bind(headers_json(&record.headers))
                    .bind(record.partition)
                    .bind(record.offset)
                    .bind(class)
                    .bind(reason),
            };
            q.execute(&mut *self.0).await?;
        }
        Ok(())
    }

    pub async fn outbox(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, topic, payload, record_key, headers, source_partition, source_offset, \
                 error_class, reason \
             FROM summary_outbox WHERE connection_id = $1 AND business_date = $2 ORDER BY seq",
        )
        .bind(connection_id)
        .bind(date)
        .fetch_all(&mut *self.0)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let topic: String = r.try_get("topic")?;
                let payload: Vec<u8> = r.try_get("payload")?;
                Ok(match kind.as_str() {
                    "command" => OutboxEntry::Command { topic, payload },
                    _ => OutboxEntry::DeadLetter {
                        record: Record {
                            topic,
                            partition: r.try_get("source_partition")?,
                            offset: r.try_get("source_offset")?,
                            key: r.try_get("record_key")?,
                            payload: Some(payload),
                            headers: headers_of(&r.try_get::<Value, _>("headers")?)?,
                            timestamp_ms: None,
                        },
                        class: r.try_get("error_class")?,
                        reason: r.try_get("reason")?,
                    },
                })
            })
            .collect()
    }

    pub async fn set_closing(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
        c: &Closing<'_>,
    ) -> Result<(), StoreError> {
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        sqlx::query(
            "UPDATE summary_days SET state = 'closing', orders = $3, summaries = $4, \
                 dead_lettered = $5, closed_by = $6, closing_at = $7 \
             WHERE connection_id = $1 AND business_date = $2",
        )
        .bind(connection_id)
        .bind(date)
        .bind(n(c.orders))
        .bind(n(c.summaries))
        .bind(n(c.dead_lettered))
        .bind(c.by)
        .bind(c.now)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// The day's state as it is now (no lock).
    pub async fn day_state(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
    ) -> Result<Option<DayState>, StoreError> {
        let s: Option<String> = sqlx::query_scalar(
            "SELECT state FROM summary_days WHERE connection_id = $1 AND business_date = $2",
        )
        .bind(connection_id)
        .bind(date)
        .fetch_optional(&mut *self.0)
        .await?;
        s.as_deref().map(DayState::parse).transpose()
    }

    pub async fn set_closed(
        &mut self,
        connection_id: &str,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE summary_days SET state = 'closed', closed_at = $3 \
             WHERE connection_id = $1 AND business_date = $2 AND state = 'closing'",
        )
        .bind(connection_id)
        .bind(date)
        .bind(now)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{headers_json, headers_of};

    #[test]
    fn headers_round_trip_byte_for_byte() {
        let h = vec![
            ("ce_id".to_string(), Some(b"evt-1".to_vec())),
            ("empty".to_string(), None),
            ("bin".to_string(), Some(vec![0, 255, 10])),
        ];
        assert_eq!(headers_of(&headers_json(&h)).ok(), Some(h));
    }
}
