//! Entity rules: create/read/update/delete/void, SyncToken, names, DocNumber, strict input.

mod common;

use common::{fault_code, id, TestEmu};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn customer_create_returns_the_qbo_envelope_and_reads_back() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (status, body) = t
        .post(
            "customer?minorversion=75",
            &json!({"DisplayName": "Ana O'Neil #88213", "GivenName": "Ana", "CompanyName": "Tiny Kiln Studio",
                    "PrimaryEmailAddr": {"Address": "ana@tinykiln.example"}}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let c = &body["Customer"];
    assert_eq!(c["SyncToken"], "0");
    assert_eq!(c["domain"], "QBO");
    assert_eq!(c["sparse"], false);
    assert_eq!(c["Active"], true);
    assert_eq!(c["PrintOnCheckName"], "Tiny Kiln Studio");
    assert_eq!(c["FullyQualifiedName"], "Ana O'Neil #88213");
    assert_eq!(c["CurrencyRef"]["value"], "USD");
    assert!(c["MetaData"]["CreateTime"]
        .as_str()
        .is_some_and(|t| t.ends_with("-07:00") || t.ends_with("-08:00")));
    assert!(body["time"].is_string());
    let (status, read) = t.get(&format!("customer/{}", id(c))).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["Customer"]["DisplayName"], "Ana O'Neil #88213");
    Ok(())
}

#[tokio::test]
async fn display_name_is_unique_across_customers_and_vendors_ignoring_case() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.write("vendor", "Vendor", json!({"DisplayName": "Acme Supplies"}))
        .await?;
    let (status, body) = t
        .post("customer", &json!({"DisplayName": "acme supplies"}))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fault_code(&body), Some("6240"));
    assert_eq!(body["Fault"]["type"], "ValidationFault");
    assert!(body["Fault"]["Error"][0]["Detail"]
        .as_str()
        .is_some_and(|d| d.contains("Another customer, vendor or employee")));
    assert_eq!(t.emu.handle().entities(&t.realm, "Customer").len(), 0);
    Ok(())
}

#[tokio::test]
async fn deactivation_renames_with_deleted_suffix_and_frees_the_name() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Thrifty Meats").await?;
    let updated = t
        .write(
            "customer",
            "Customer",
            json!({"Id": id(&c), "SyncToken": "0", "sparse": true, "Active": false}),
        )
        .await?;
    assert_eq!(updated["DisplayName"], "Thrifty Meats (deleted)");
    assert_eq!(updated["SyncToken"], "1");
    // The name is free again, and the inactive record is hidden from default queries.
    t.customer("Thrifty Meats").await?;
    let (_, q) = t
        .query("SELECT * FROM Customer WHERE DisplayName LIKE 'Thrifty%'")
        .await?;
    assert_eq!(
        q["QueryResponse"]["Customer"].as_array().map(Vec::len),
        Some(1)
    );
    Ok(())
}

#[tokio::test]
async fn unknown_properties_are_rejected_with_2010_even_inside_lines() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (status, body) = t
        .post("item", &json!({"Name": "x", "Colour": "red"}))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fault_code(&body), Some("2010"));
    assert!(body["Fault"]["Error"][0]["Detail"]
        .as_str()
        .is_some_and(|d| d.contains("Unrecognized field \"Colour\"")));
    let c = t.customer("Strict Lines").await?;
    let item = t.service_item("Consulting", 10.0).await?;
    let (_, body) = t
        .post(
            "invoice",
            &json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 10,
                "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}, "Sku": "nope"}}]}),
        )
        .await?;
    assert_eq!(fault_code(&body), Some("2010"));
    // A wrapped body ({"Customer": {...}}) is an unknown property too.
    let (_, body) = t
        .post("customer", &json!({"Customer": {"DisplayName": "Wrapped"}}))
        .await?;
    assert_eq!(fault_code(&body), Some("2010"));
    Ok(())
}

#[tokio::test]
async fn stale_sync_token_gives_5010_and_changes_nothing() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Token Test").await?;
    t.write(
        "customer",
        "Customer",
        json!({"Id": id(&c), "SyncToken": "0", "sparse": true, "Notes": "first"}),
    )
    .await?;
    let (status, body) = t
        .post(
            "customer",
            &json!({"Id": id(&c), "SyncToken": "0", "sparse": true, "Notes": "second"}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fault_code(&body), Some("5010"));
    assert_eq!(body["Fault"]["Error"][0]["Message"], "Stale Object Error");
    let stored = t.emu.handle().entity(&t.realm, "Customer", &id(&c));
    assert_eq!(
        stored.as_ref().map(|s| s["Notes"].clone()),
        Some(json!("first"))
    );
    Ok(())
}

#[tokio::test]
async fn sparse_update_keeps_unsent_fields_and_full_update_clears_them() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t
        .write(
            "customer",
            "Customer",
            json!({"DisplayName": "Full vs Sparse", "Notes": "keep me", "CompanyName": "Co"}),
        )
        .await?;
    let sparse = t
        .write(
            "customer",
            "Customer",
            json!({"Id": id(&c), "SyncToken": "0", "sparse": true, "CompanyName": "New Co"}),
        )
        .await?;
    assert_eq!(sparse["Notes"], "keep me");
    assert_eq!(sparse["CompanyName"], "New Co");
    let full = t
        .write(
            "customer",
            "Customer",
            json!({"Id": id(&c), "SyncToken": "1", "DisplayName": "Full vs Sparse"}),
        )
        .await?;
    assert!(full.get("Notes").is_none());
    assert!(full.get("CompanyName").is_none());
    assert_eq!(full["SyncToken"], "2");
    Ok(())
}

#[tokio::test]
async fn name_lists_cannot_be_deleted_and_transactions_can() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Delete Me").await?;
    let (status, body) = t
        .post(
            "customer?operation=delete",
            &json!({"Id": id(&c), "SyncToken": "0"}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fault_code(&body), Some("500"));
    let item = t.service_item("Thing", 5.0).await?;
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 5,
                "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    let (status, body) = t
        .post(
            "invoice?operation=delete",
            &json!({"Id": id(&inv), "SyncToken": "0"}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["Invoice"]["status"], "Deleted");
    let (status, body) = t.get(&format!("invoice/{}", id(&inv))).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fault_code(&body), Some("610"));
    let (_, q) = t.query("SELECT COUNT(*) FROM Invoice").await?;
    assert_eq!(q["QueryResponse"]["totalCount"], 0);
    Ok(())
}

#[tokio::test]
async fn doc_number_length_duplicates_and_auto_numbering() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Docs").await?;
    let item = t.service_item("Doc item", 1.0).await?;
    let body = |doc: Option<&str>| {
        let mut b = json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1,
            "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]});
        if let Some(d) = doc {
            b["DocNumber"] = json!(d);
        }
        b
    };
    let (_, long) = t
        .post("invoice", &body(Some("WEB-12345678901234567890")))
        .await?;
    assert_eq!(fault_code(&long), Some("2050"));
    t.write("invoice", "Invoice", body(Some("WEB-1"))).await?;
    let (_, dup) = t.post("invoice", &body(Some("WEB-1"))).await?;
    assert_eq!(fault_code(&dup), Some("6140"));
    let allowed = t
        .write(
            "invoice?include=allowduplicatedocnum",
            "Invoice",
            body(Some("WEB-1")),
        )
        .await?;
    assert_eq!(allowed["DocNumber"], "WEB-1");
    let auto1 = t.write("invoice", "Invoice", body(None)).await?;
    let auto2 = t
        .write("invoice", "Invoice", body(Some("AUTO_GENERATE")))
        .await?;
    let n1: u64 = auto1["DocNumber"].as_str().unwrap_or_default().parse()?;
    let n2: u64 = auto2["DocNumber"].as_str().unwrap_or_default().parse()?;
    assert_eq!(n2, n1 + 1);
    Ok(())
}

#[tokio::test]
async fn required_fields_and_references_are_checked() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (_, body) = t.post("customer", &json!({"Notes": "no name"})).await?;
    assert_eq!(fault_code(&body), Some("6080"));
    let (_, body) = t
        .post("item", &json!({"Name": "No account", "Type": "Service"}))
        .await?;
    assert_eq!(fault_code(&body), Some("2020"));
    let (_, body) = t.post("invoice", &json!({"Line": []})).await?;
    assert_eq!(fault_code(&body), Some("2020"));
    let c = t.customer("Refs").await?;
    let (_, body) = t
        .post(
            "invoice",
            &json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1,
                "SalesItemLineDetail": {"ItemRef": {"value": "99999"}}}]}),
        )
        .await?;
    assert_eq!(fault_code(&body), Some("2500"));
    assert_eq!(
        body["Fault"]["Error"][0]["element"],
        "Line.SalesItemLineDetail.ItemRef"
    );
    let (_, body) = t
        .post("customer", &json!({"DisplayName": "Parent:Child"}))
        .await?;
    assert_eq!(fault_code(&body), Some("6000"));
    let (_, body) = t.post("bill", &json!({"Line": []})).await?;
    assert_eq!(fault_code(&body), Some("2020"));
    Ok(())
}

#[tokio::test]
async fn inactive_and_category_items_are_refused_on_lines() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Lines").await?;
    let item = t.service_item("Old product", 3.0).await?;
    t.write(
        "item",
        "Item",
        json!({"Id": id(&item), "SyncToken": "0", "sparse": true, "Active": false}),
    )
    .await?;
    let line = |item_id: String| {
        json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 3,
            "SalesItemLineDetail": {"ItemRef": {"value": item_id}}}]})
    };
    let (_, body) = t.post("invoice", &line(id(&item))).await?;
    assert_eq!(fault_code(&body), Some("610"));
    let category = t
        .write("item", "Item", json!({"Name": "Mugs", "Type": "Category"}))
        .await?;
    let (_, body) = t.post("invoice", &line(id(&category))).await?;
    assert_eq!(fault_code(&body), Some("2500"));
    assert!(body["Fault"]["Error"][0]["Detail"]
        .as_str()
        .is_some_and(|d| d.contains("Categories")));
    Ok(())
}

#[tokio::test]
async fn item_names_are_unique_and_inventory_items_need_start_fields() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.service_item("Widget", 1.0).await?;
    let income = t.account("SalesOfProductIncome");
    let (_, body) = t
        .post(
            "item",
            &json!({"Name": "WIDGET", "Type": "Service", "IncomeAccountRef": {"value": income}}),
        )
        .await?;
    assert_eq!(fault_code(&body), Some("6240"));
    let (_, body) = t
        .post(
            "item",
            &json!({"Name": "Inv", "Type": "Inventory", "TrackQtyOnHand": true, "IncomeAccountRef": {"value": income},
                "ExpenseAccountRef": {"value": t.account("SuppliesMaterialsCogs")}, "AssetAccountRef": {"value": t.account("Inventory")}}),
        )
        .await?;
    assert_eq!(fault_code(&body), Some("2020"));
    let inv = t.inventory_item("Mug", 10).await?;
    assert_eq!(inv["QtyOnHand"], 10);
    Ok(())
}
