//! Reference section 8 pitfalls not covered elsewhere.

mod common;

use std::time::Duration;

use common::{id, TestEmu};
use nopbridge_emu_quickbooks::{EmulatorConfig, LimitsConfig, RealmConfig};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn custom_transaction_numbers_leave_doc_number_blank() -> anyhow::Result<()> {
    let realm = RealmConfig {
        custom_txn_numbers: true,
        ..RealmConfig::default()
    };
    let t = TestEmu::with(EmulatorConfig {
        realms: vec![realm],
        ..EmulatorConfig::default()
    })
    .await?;
    let c = t.customer("Numbers").await?;
    let item = t.service_item("N", 1.0).await?;
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    assert!(inv.get("DocNumber").is_none());
    Ok(())
}

#[tokio::test]
async fn txn_date_defaults_to_the_pacific_date_of_the_server() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Dates").await?;
    let item = t.service_item("D", 1.0).await?;
    let now = t.emu.handle().now();
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    let offset = nopbridge_emu_quickbooks::clock::pacific_offset(now);
    let expected = now
        .with_timezone(&offset)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(inv["TxnDate"], expected.as_str());
    Ok(())
}

#[tokio::test]
async fn sparse_update_cannot_clear_a_field_with_null() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t
        .write(
            "customer",
            "Customer",
            json!({"DisplayName": "Sticky", "CompanyName": "Keeps"}),
        )
        .await?;
    let after = t
        .write(
            "customer",
            "Customer",
            json!({"Id": id(&c), "SyncToken": "0", "sparse": true, "CompanyName": null}),
        )
        .await?;
    assert_eq!(after["CompanyName"], "Keeps");
    Ok(())
}

#[tokio::test]
async fn any_minorversion_behaves_as_75_and_responses_carry_new_fields() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let income = t.account("SalesOfProductIncome");
    let item = t
        .write("item?minorversion=4", "Item", json!({"Name": "Sku item", "Type": "Service", "Sku": "S-1", "IncomeAccountRef": {"value": income}}))
        .await?;
    let (_, q) = t
        .get("query?query=SELECT%20*%20FROM%20Item%20WHERE%20Sku%20%3D%20%27S-1%27&minorversion=1")
        .await?;
    assert_eq!(q["QueryResponse"]["Item"][0]["Id"], id(&item).as_str());
    // Output fields added without a version bump: clients must not deny unknown fields.
    let c = t.customer("New fields").await?;
    assert!(c["V4IDPseudonym"].is_string());
    Ok(())
}

#[tokio::test]
async fn reads_are_counted_so_get_after_create_is_visible() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Counted").await?;
    assert_eq!(t.emu.handle().counters().reads, 0);
    let resp = t
        .client
        .get(t.url(&format!("customer/{}", id(&c))))
        .bearer_auth(&t.token)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("intuit_tid").is_some());
    assert_eq!(t.emu.handle().counters().reads, 1);
    let rc = t.emu.handle().realm_counters(&t.realm).unwrap_or_default();
    assert_eq!((rc.requests, rc.creates), (2, 1));
    Ok(())
}

#[tokio::test]
async fn retry_after_is_sent_in_real_seconds_when_configured() -> anyhow::Result<()> {
    let cfg = EmulatorConfig {
        time_scale: 60.0,
        limits: LimitsConfig {
            requests_per_minute: 1,
            retry_after_secs: Some(60),
            throttle_xml_probability: 0.0,
            ..LimitsConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    let (status, _) = t.get("companyinfo/1").await?;
    assert_eq!(status, StatusCode::OK);
    let resp = t
        .client
        .get(t.url("companyinfo/1"))
        .bearer_auth(&t.token)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(
        t.emu.handle().real_duration(Duration::from_secs(60)),
        Duration::from_secs(1)
    );
    Ok(())
}

#[tokio::test]
async fn transactions_before_the_inventory_start_date_are_refused() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let mug = t.inventory_item("Dated mug", 5).await?;
    let body = |date: &str| json!({"TxnDate": date, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 10, "SalesItemLineDetail": {"ItemRef": {"value": id(&mug)}, "Qty": 1, "UnitPrice": 10}}]});
    let (_, fault) = t.post("salesreceipt", &body("2024-12-31")).await?;
    assert_eq!(common::fault_code(&fault), Some("6000"));
    t.write("salesreceipt", "SalesReceipt", body("2025-01-01"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_full_update_without_currency_keeps_the_customer_currency() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t
        .write(
            "customer",
            "Customer",
            json!({"DisplayName": "Eva (EUR)", "CurrencyRef": {"value": "EUR"}}),
        )
        .await?;
    let full = t
        .write(
            "customer",
            "Customer",
            json!({"Id": id(&c), "SyncToken": "0", "DisplayName": "Eva (EUR)"}),
        )
        .await?;
    assert_eq!(full["CurrencyRef"]["value"], "EUR");
    let (_, fault) = t
        .post("customer", &json!({"Id": id(&c), "SyncToken": "1", "sparse": true, "CurrencyRef": {"value": "USD"}}))
        .await?;
    assert_eq!(common::fault_code(&fault), Some("6000"));
    Ok(())
}

#[tokio::test]
async fn unknown_realms_are_refused_when_auto_creation_is_off() -> anyhow::Result<()> {
    let t = TestEmu::with(EmulatorConfig {
        auto_create_realms: false,
        ..EmulatorConfig::default()
    })
    .await?;
    let tokens = t.emu.handle().issue_tokens("777");
    let resp = t
        .client
        .get(format!("{}/companyinfo/777", t.emu.company_url("777")))
        .bearer_auth(&tokens.access_token)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(t.emu.handle().entities("777", "Account").is_empty());
    Ok(())
}
