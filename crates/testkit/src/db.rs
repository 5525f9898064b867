use crate::{unique, TestkitError};
use sqlx::{postgres::PgConnectOptions, Connection, Executor, PgConnection};
use std::str::FromStr;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test and dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    /// Connection URL of the new database.
    pub url: String,
    admin: String,
}

impl TestDb {
    /// Creates `nbtest_<random>` on the server named by `DATABASE_URL` (default: the local
    /// server, user postgres).
    pub async fn create() -> Result<Self, TestkitError> {
        let admin = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
        let name = unique("nbtest").replace('-', "_");
        let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(&admin)?).await?;
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await?;
        conn.close().await?;
        let url = with_database(&admin, &name);
        Ok(Self { name, url, admin })
    }

    pub fn options(&self) -> Result<PgConnectOptions, TestkitError> {
        Ok(PgConnectOptions::from_str(&self.url)?)
    }
}

/// Replaces the database part of a postgres URL, keeping any query string.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop is synchronous and may run inside a runtime: use a thread with its own.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn =
                    PgConnection::connect_with(&PgConnectOptions::from_str(&admin).ok()?)
                        .await
                        .ok()?;
                conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await
                    .ok()
            })
        });
        let _ = dropper.join();
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
