//! Notifications this process buffered whose handling has not started. A webhook for a record
//! that has one queued needs no notification of its own: the queued one is handled here after
//! the webhook arrived, so its fetch sees what the webhook announces. A store raises several
//! webhooks for one change (an order placed and paid is four or five, sent side by side), and
//! each notification costs a produce, a consume and a place on the topic.
//!
//! Only a notification this process will handle counts: its partition must be assigned to
//! this process's consumer, with no rebalance since it was buffered (after a rebalance it may
//! have been handled elsewhere, or be handled elsewhere before the webhook arrived).
use nopbridge_kafka::ConsumerHandle;
use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Entries kept at most; past this, those from before the last rebalance are dropped.
const MAX_ENTRIES: usize = 100_000;
/// How long a webhook waits for the broker to take the notification it would rely on.
const SEND_WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Pending {
    queued: Mutex<HashMap<String, Queued>>,
    tickets: AtomicU64,
}

struct Queued {
    ticket: u64,
    /// Where the broker put the notification: None while the send is under way.
    sent: watch::Receiver<Option<Sent>>,
    rebalances: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sent {
    On(i32),
    Failed,
}

/// A send under way, from [`Pending::cover_or_send`]; its outcome goes to [`Pending::sent`].
pub struct Sending {
    ticket: u64,
    tx: watch::Sender<Option<Sent>>,
}

impl Pending {
    /// Marks a notification for `key` as about to be buffered. Marked before the send,
    /// because the consumer may start on it before the send returns (`started` then removes
    /// the mark).
    fn mark(
        &self,
        mut queued: MutexGuard<'_, HashMap<String, Queued>>,
        key: &str,
        consumer: &ConsumerHandle,
    ) -> Sending {
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        let rebalances = consumer.rebalances();
        let (tx, rx) = watch::channel(None);
        if queued.len() >= MAX_ENTRIES {
            queued.retain(|_, q| q.rebalances == rebalances);
        }
        queued.insert(
            key.to_string(),
            Queued {
                ticket,
                sent: rx,
                rebalances,
            },
        );
        Sending { ticket, tx }
    }

    /// The broker took the notification on `partition` (`None`: it did not, so nothing of it
    /// is queued).
    pub fn sent(&self, key: &str, sending: Sending, partition: Option<i32>) {
        sending
            .tx
            .send_replace(Some(partition.map_or(Sent::Failed, Sent::On)));
        if partition.is_none() {
            let mut queued = self.queued.lock();
            if queued.get(key).is_some_and(|q| q.ticket == sending.ticket) {
                queued.remove(key);
            }
        }
    }

    /// The handling of `key`'s notification begins (before it reads the record).
    pub fn started(&self, key: &str) {
        self.queued.lock().remove(key);
    }

    /// `None` when a notification for `key` is queued here and will be handled by this
    /// process after now (waiting for a send under way to end). Otherwise the caller must
    /// send one: the returned mark is already in place, so webhooks of one record that
    /// arrive side by side send one notification between them, not one each. Each check
    /// holds the lock, so `started` cannot slip in between.
    pub async fn cover_or_send(
        &self,
        key: &str,
        topic: &str,
        consumer: &ConsumerHandle,
    ) -> Option<Sending> {
        let (ticket, mut sent) = {
            let queued = self.queued.lock();
            match queued.get(key) {
                Some(q) if q.rebalances == consumer.rebalances() => (q.ticket, q.sent.clone()),
                _ => return Some(self.mark(queued, key, consumer)),
            }
        };
        let partition = match tokio::time::timeout(SEND_WAIT, sent.wait_for(Option::is_some)).await
        {
            Ok(Ok(s)) => match *s {
                Some(Sent::On(p)) => Some(p),
                _ => None,
            },
            _ => None,
        };
        let queued = self.queued.lock();
        let covered = partition.is_some_and(|p| {
            queued.get(key).is_some_and(|q| {
                q.ticket == ticket
                    && q.rebalances == consumer.rebalances()
                    && consumer.owns(topic, p)
            })
        });
        (!covered).then(|| self.mark(queued, key, consumer))
    }
}
