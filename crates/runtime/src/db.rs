//! PostgreSQL pool settings every service uses.
use sqlx::postgres::PgPoolOptions;

/// A pool of at most `max_connections` that hands out connections without a liveness
/// round trip first: sqlx's default pings before every acquire, which doubles the round
/// trips of the single-statement writes the services make per record. A connection that
/// died fails its statement instead, and every caller treats a database error as transient
/// and retries.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
}
