//! /batch (bId correlation, per-item faults, no forward references, limits) and /cdc.

mod common;

use common::{fault_code, id, TestEmu};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn batch_answers_each_item_by_bid_with_per_item_faults() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("Ana O'Neil #88213").await?;
    let income = t.account("SalesOfProductIncome");
    let (status, body) = t
        .post(
            "batch?minorversion=75",
            &json!({"BatchItemRequest": [
                {"bId": "q1", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Ana O\\'Neil #88213' AND Active IN (true, false)"},
                {"bId": "c1", "operation": "create", "Item": {"Name": "Stoneware mug 16oz", "Type": "NonInventory", "Sku": "MUG-16", "UnitPrice": 15.00, "IncomeAccountRef": {"value": income}}},
                {"bId": "c2", "operation": "create", "Customer": {"DisplayName": "Ana O'Neil #88213"}}
            ]}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let items = body["BatchItemResponse"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_bid = |b: &str| {
        items
            .iter()
            .find(|i| i["bId"] == b)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        by_bid("q1")["QueryResponse"]["Customer"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(by_bid("c1")["Item"]["Sku"], "MUG-16");
    assert_eq!(by_bid("c2")["Fault"]["Error"][0]["code"], "6240");
    assert_eq!(by_bid("c2")["Fault"]["type"], "ValidationFault");
    Ok(())
}

#[tokio::test]
async fn later_items_cannot_reference_objects_created_in_the_same_batch() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let item = t.service_item("Batch item", 5.0).await?;
    // The customer's Id is predictable: the next id after the item.
    let next_id = (id(&item).parse::<u64>()? + 1).to_string();
    let (_, body) = t
        .post(
            "batch",
            &json!({"BatchItemRequest": [
                {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Fresh"}},
                {"bId": "2", "operation": "create", "Invoice": {"CustomerRef": {"value": next_id}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 5, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}}
            ]}),
        )
        .await?;
    assert_eq!(
        body["BatchItemResponse"][0]["Customer"]["Id"],
        next_id.as_str()
    );
    assert_eq!(
        body["BatchItemResponse"][1]["Fault"]["Error"][0]["code"],
        "2500"
    );
    // In a later request the customer is usable.
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": next_id}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 5, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    assert_eq!(inv["CustomerRef"]["name"], "Fresh");
    Ok(())
}

#[tokio::test]
async fn batch_size_empty_and_void_through_options_data() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (status, body) = t.post("batch", &json!({"BatchItemRequest": []})).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Fault"]["Error"][0]["Detail"]
        .as_str()
        .is_some_and(|d| d.contains("Batch Request is Empty")));
    let many: Vec<Value> = (0..31)
        .map(|i| json!({"bId": i.to_string(), "Query": "SELECT * FROM Customer"}))
        .collect();
    let (status, body) = t.post("batch", &json!({"BatchItemRequest": many})).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fault_code(&body), Some("1040"));
    let c = t.customer("Batch void").await?;
    let item = t.service_item("BV", 4.0).await?;
    let sr = t
        .write(
            "salesreceipt",
            "SalesReceipt",
            json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 4, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    let (_, body) = t
        .post(
            "batch",
            &json!({"BatchItemRequest": [{"bId": "v", "operation": "update", "optionsData": "void", "SalesReceipt": {"Id": id(&sr), "SyncToken": "0", "sparse": true}}]}),
        )
        .await?;
    assert_eq!(body["BatchItemResponse"][0]["SalesReceipt"]["TotalAmt"], 0);
    Ok(())
}

#[tokio::test]
async fn cdc_returns_changes_since_and_deleted_stubs() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let before = t.emu.handle().now() - chrono::Duration::seconds(1);
    let c = t.customer("CDC customer").await?;
    let item = t.service_item("CDC item", 2.0).await?;
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 2, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    t.write(
        "invoice?operation=delete",
        "Invoice",
        json!({"Id": id(&inv), "SyncToken": "0"}),
    )
    .await?;
    let since = common::urlencode(&before.to_rfc3339());
    let (status, body) = t
        .get(&format!(
            "cdc?entities=Customer,Invoice&changedSince={since}"
        ))
        .await?;
    assert_eq!(status, StatusCode::OK);
    let responses = &body["CDCResponse"][0]["QueryResponse"];
    assert_eq!(responses[0]["Customer"][0]["DisplayName"], "CDC customer");
    assert_eq!(responses[1]["Invoice"][0]["status"], "Deleted");
    assert_eq!(responses[1]["Invoice"][0]["Id"], id(&inv).as_str());
    let old = common::urlencode(&(t.emu.handle().now() - chrono::Duration::days(31)).to_rfc3339());
    let (status, _) = t
        .get(&format!("cdc?entities=Customer&changedSince={old}"))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn a_stale_update_inside_a_batch_faults_only_that_item() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Batch stale").await?;
    t.write(
        "customer",
        "Customer",
        json!({"Id": id(&c), "SyncToken": "0", "sparse": true, "Notes": "moved on"}),
    )
    .await?;
    let (status, body) = t
        .post(
            "batch",
            &json!({"BatchItemRequest": [
                {"bId": "stale", "operation": "update", "Customer": {"Id": id(&c), "SyncToken": "0", "sparse": true, "Notes": "lost"}},
                {"bId": "fresh", "operation": "update", "Customer": {"Id": id(&c), "SyncToken": "1", "sparse": true, "Notes": "kept"}}
            ]}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["BatchItemResponse"][0]["Fault"]["Error"][0]["code"],
        "5010"
    );
    assert_eq!(body["BatchItemResponse"][1]["Customer"]["Notes"], "kept");
    assert_eq!(body["BatchItemResponse"][1]["Customer"]["SyncToken"], "2");
    Ok(())
}
