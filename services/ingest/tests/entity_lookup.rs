//! Ingest reads an entity's stored row for every change it sees. The look-up must probe the
//! primary key by id from the first order on: before a table's first ANALYZE the planner
//! once read every row of the entity for it, a cost that grew with the store.
use anyhow::Result;
use nopbridge_ingest::db::{Db, EntityRow, ENTITIES_BY_ID};
use nopbridge_testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_is_looked_up_by_its_id_not_by_reading_every_row() -> Result<()> {
    let test_db = TestDb::create().await?;
    let db = Db::connect(&test_db.url, 2).await?;
    let rows: Vec<EntityRow> = (0..5_000)
        .map(|i| EntityRow {
            entity: "order",
            entity_id: i.to_string(),
            content_hash: format!("h{i}"),
            state: serde_json::json!({}),
            open: i % 10 == 0,
            deleted: false,
            created_at: Some(chrono::Utc::now()),
        })
        .collect();
    db.put_entities("shop", &rows).await?;

    let ids = vec!["17".to_string(), "4242".to_string(), "absent".to_string()];
    let found = db.entities("shop", "order", &ids).await?;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found["4242"].content_hash, "h4242");

    // No ANALYZE has run (the table is seconds old): the plan must still use the id.
    let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN ANALYZE {ENTITIES_BY_ID}"))
        .bind("shop")
        .bind("order")
        .bind(&ids)
        .fetch_all(&sqlx::PgPool::connect(&test_db.url).await?)
        .await?;
    let plan = plan.join("\n");
    assert!(
        plan.lines()
            .any(|l| l.contains("Index Cond") && l.contains("entity_id")),
        "the look-up does not probe by id:\n{plan}"
    );
    assert!(!plan.contains("Rows Removed by Filter"), "{plan}");
    Ok(())
}
