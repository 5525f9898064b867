//! Webhook deliveries are recorded in groups (one statement for the webhooks that arrive
//! together); each must still be told apart as new, a retry or a replay, exactly as when
//! recorded one at a time. Against a real PostgreSQL.
use anyhow::Result;
use nopbridge_ingest::db::{Db, Delivery};
use nopbridge_testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_recorded_together_are_new_retried_or_replayed_as_one_by_one() -> Result<()> {
    let test_db = TestDb::create().await?;
    let db = Db::connect(&test_db.url, 4).await?;
    // Side by side: d1 three times with one signature and once with another, d2 once, and
    // 100 others; all in flight at once.
    let mut sent = vec![
        ("d1", "s1"),
        ("d1", "s1"),
        ("d2", "s1"),
        ("d1", "s2"),
        ("d1", "s1"),
    ];
    let others: Vec<String> = (0..100).map(|i| format!("x{i}")).collect();
    sent.extend(others.iter().map(|d| (d.as_str(), "s1")));
    let outcomes =
        futures::future::try_join_all(sent.iter().map(|(d, s)| db.record_delivery("shop", d, s)))
            .await?;
    let of = |id: &str| -> Vec<Delivery> {
        sent.iter()
            .zip(&outcomes)
            .filter(|((d, _), _)| *d == id)
            .map(|(_, o)| *o)
            .collect()
    };
    let count = |v: &[Delivery], k: Delivery| v.iter().filter(|o| **o == k).count();
    let d1 = of("d1");
    // Whichever came first is new; the other signature a retry; the repeats replays.
    assert_eq!(
        (
            count(&d1, Delivery::New),
            count(&d1, Delivery::Retry),
            count(&d1, Delivery::Replay)
        ),
        (1, 1, 2),
        "{d1:?}"
    );
    assert_eq!(of("d2"), [Delivery::New]);
    assert!(others.iter().all(|d| of(d) == [Delivery::New]));
    // Later, one at a time: what was accepted stays accepted.
    assert_eq!(
        db.record_delivery("shop", "d1", "s2").await?,
        Delivery::Replay
    );
    assert_eq!(
        db.record_delivery("shop", "d1", "s3").await?,
        Delivery::Retry
    );
    assert_eq!(
        db.record_delivery("other-shop", "d1", "s1").await?,
        Delivery::New
    );
    Ok(())
}
