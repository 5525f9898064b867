//! requestid replay: same id → original response, nothing new created.

mod common;

use common::{fault_code, id, TestEmu};
use nopbridge_emu_quickbooks::{EmulatorConfig, IdempotencyConfig};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn same_requestid_returns_the_original_response_and_creates_nothing() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (s1, first) = t
        .post(
            "customer?requestid=cust-shop-88213-v1",
            &json!({"DisplayName": "Once"}),
        )
        .await?;
    // A retry with the same key, even with a different body, is not executed again.
    let (s2, second) = t
        .post(
            "customer?requestid=cust-shop-88213-v1",
            &json!({"DisplayName": "Twice"}),
        )
        .await?;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(first, second);
    assert_eq!(t.emu.handle().entities(&t.realm, "Customer").len(), 1);
    assert_eq!(t.emu.handle().counters().idempotent_replays, 1);
    assert_eq!(
        t.emu.handle().realm_counters(&t.realm).map(|c| c.creates),
        Some(1)
    );
    Ok(())
}

#[tokio::test]
async fn replay_after_delete_still_returns_the_deleted_entity() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Keyed").await?;
    let item = t.service_item("Keyed item", 1.0).await?;
    let body = json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]});
    let inv = t
        .write("invoice?requestid=ord-1-inv-v1", "Invoice", body.clone())
        .await?;
    t.write(
        "invoice?operation=delete",
        "Invoice",
        json!({"Id": id(&inv), "SyncToken": "0"}),
    )
    .await?;
    let replay = t
        .write("invoice?requestid=ord-1-inv-v1", "Invoice", body)
        .await?;
    assert_eq!(id(&replay), id(&inv));
    assert!(t.emu.handle().entities(&t.realm, "Invoice").is_empty());
    Ok(())
}

#[tokio::test]
async fn faults_are_not_cached_by_default_so_a_corrected_retry_works() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.write("vendor", "Vendor", json!({"DisplayName": "Taken"}))
        .await?;
    let (_, fault) = t
        .post("customer?requestid=k1", &json!({"DisplayName": "Taken"}))
        .await?;
    assert_eq!(fault_code(&fault), Some("6240"));
    let fixed = t
        .write(
            "customer?requestid=k1",
            "Customer",
            json!({"DisplayName": "Taken #2"}),
        )
        .await?;
    assert_eq!(fixed["DisplayName"], "Taken #2");
    Ok(())
}

#[tokio::test]
async fn fault_caching_is_a_setting() -> anyhow::Result<()> {
    let cfg = EmulatorConfig {
        idempotency: IdempotencyConfig {
            cache_faults: true,
            ..IdempotencyConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    t.write("vendor", "Vendor", json!({"DisplayName": "Taken"}))
        .await?;
    let (_, first) = t
        .post("customer?requestid=k1", &json!({"DisplayName": "Taken"}))
        .await?;
    let (_, again) = t
        .post("customer?requestid=k1", &json!({"DisplayName": "Taken #2"}))
        .await?;
    assert_eq!(fault_code(&again), Some("6240"));
    assert_eq!(first, again);
    Ok(())
}

#[tokio::test]
async fn batch_requestid_replays_the_whole_batch_and_long_ids_are_refused() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let batch = json!({"BatchItemRequest": [{"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch once"}}]});
    let (_, first) = t.post("batch?requestid=b-7f3a91c2", &batch).await?;
    let (_, second) = t.post("batch?requestid=b-7f3a91c2", &batch).await?;
    assert_eq!(first, second);
    assert_eq!(t.emu.handle().entities(&t.realm, "Customer").len(), 1);
    let long = "x".repeat(51);
    let (status, _) = t
        .post(
            &format!("customer?requestid={long}"),
            &json!({"DisplayName": "Long key"}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = t
        .post(&format!("batch?requestid={}", "y".repeat(37)), &batch)
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn concurrent_duplicates_of_one_request_create_once() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let body = json!({"DisplayName": "Racer"});
    let calls = (0..8).map(|_| t.post("customer?requestid=race-1", &body));
    let results = futures::future::join_all(calls).await;
    let ids: Vec<String> = results
        .into_iter()
        .filter_map(Result::ok)
        .map(|(_, b)| id(&b["Customer"]))
        .collect();
    assert_eq!(ids.len(), 8);
    assert!(ids.iter().all(|i| *i == ids[0] && !i.is_empty()));
    assert_eq!(t.emu.handle().entities(&t.realm, "Customer").len(), 1);
    Ok(())
}
