//! PostgreSQL settings and group commit, shared by every service with a database.
use sqlx::postgres::PgPoolOptions;
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

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

#[derive(Debug, thiserror::Error)]
pub enum GroupWriteError {
    /// The group's statement failed: the database's message, shared by every row in it.
    #[error("{0}")]
    Failed(String),
    #[error("the group writer stopped")]
    Stopped,
}

type Reply<O> = oneshot::Sender<Result<O, String>>;

/// Group commit: rows from many concurrent callers, written by one task as many at a time
/// as queued while its last write ran. Alone, a row is written at once; under load one
/// commit serves many rows (per-record commits were most of the database's work). Each
/// caller waits for its own row's outcome, so nothing is acknowledged before its commit.
pub struct GroupWriter<R, O> {
    rows: mpsc::Sender<(R, Reply<O>)>,
}

impl<R, O> Clone for GroupWriter<R, O> {
    fn clone(&self) -> Self {
        Self {
            rows: self.rows.clone(),
        }
    }
}

impl<R: Send + 'static, O: Send + 'static> GroupWriter<R, O> {
    /// Starts the writing task (it ends when the last clone is dropped). `write` gets at
    /// most `max_batch` rows and answers one outcome per row, in their order.
    pub fn start<F, Fut>(max_batch: usize, write: F) -> Self
    where
        F: Fn(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<O>, sqlx::Error>> + Send,
    {
        let (rows, mut queue) = mpsc::channel::<(R, Reply<O>)>(max_batch);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            while queue.recv_many(&mut batch, max_batch).await > 0 {
                let (rows, replies): (Vec<R>, Vec<Reply<O>>) = batch.drain(..).unzip();
                let n = replies.len();
                match write(rows).await {
                    Ok(outcomes) if outcomes.len() == n => {
                        for (outcome, reply) in outcomes.into_iter().zip(replies) {
                            let _ = reply.send(Ok(outcome));
                        }
                    }
                    answered => {
                        let why = match answered {
                            Err(e) => e.to_string(),
                            Ok(o) => format!("a group write answered {} of {n} rows", o.len()),
                        };
                        for reply in replies {
                            let _ = reply.send(Err(why.clone()));
                        }
                    }
                }
            }
        });
        Self { rows }
    }

    /// Writes the row with the others queued; its outcome once their commit is done.
    pub async fn write(&self, row: R) -> Result<O, GroupWriteError> {
        let (reply, answer) = oneshot::channel();
        self.rows
            .send((row, reply))
            .await
            .map_err(|_| GroupWriteError::Stopped)?;
        answer
            .await
            .map_err(|_| GroupWriteError::Stopped)?
            .map_err(GroupWriteError::Failed)
    }
}
