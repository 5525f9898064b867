//! Test support shared by every crate's integration tests:
//! - [`Broker`]: a Kafka-API broker: `KAFKA_BOOTSTRAP_SERVERS` when set, else a local tansu
//!   with in-memory storage, else (with a Docker engine) Apache Kafka in a container;
//! - [`unique`]: topic and group names no other test uses;
//! - [`TestDb`]: a fresh PostgreSQL database per test from `DATABASE_URL`;
//! - [`orders`]: a canonical store order fixture.
mod broker;
mod db;
pub mod orders;

pub use broker::Broker;
pub use db::TestDb;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TestkitError {
    #[error("no Kafka-API broker: set KAFKA_BOOTSTRAP_SERVERS, put tansu on PATH (scripts/stack.sh installs it), or run a Docker engine")]
    NoBroker,
    #[error("broker at {bootstrap} did not become ready: {reason}")]
    BrokerNotReady { bootstrap: String, reason: String },
    #[error("could not start {what}: {source}")]
    Spawn {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A name unique to this call, e.g. `unique("orders")` → `orders-3f2a9c1d7b`.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}
