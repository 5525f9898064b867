//! Customers by Code: the duplicate-code rule, minted codes, updates, renames, deletes,
//! search and the `{Message, Error}` bodies.

mod common;

use common::{TestEmu, USER};
use nopbridge_emu_kashflow::{EmulatorConfig, ValidationConfig};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn create_returns_201_with_the_full_customer() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t
        .created(
            "customers",
            json!({"Code": "WEB000123", "Name": "Harriet Okafor",
                "Contacts": [{"IsPrimary": true, "Firstname": "Harriet", "Email": "harriet@example.co.uk"}],
                "Addresses": [{"Line1": "14 Wharf Road", "PostCode": "BS1 6XN", "CountryCode": "GB"}],
                "Currency": {"Code": "GBP"}, "CustomerKey": "shop-7781234",
                "CreateCustomerCodeIfDuplicate": false}),
        )
        .await?;
    assert!(c["Id"].as_i64().is_some());
    assert_eq!(c["Code"], "WEB000123");
    assert_eq!(c["DisplayName"], "Harriet Okafor");
    assert_eq!(c["Email"], "harriet@example.co.uk");
    assert_eq!(c["Addresses"][0]["CountryName"], "United Kingdom");
    assert_eq!(c["Currency"]["Symbol"], "£");
    assert_eq!(c["CustomerKey"], "shop-7781234");
    assert_eq!(c["InvoiceCount"], 0);
    // Write-only flags are not echoed.
    assert!(c.get("CreateCustomerCodeIfDuplicate").is_none());
    let (status, read) = t.get("customers/web000123").await?;
    assert_eq!(status, StatusCode::OK, "lookups ignore case");
    assert_eq!(read["Id"], c["Id"]);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_code_is_400_unless_a_new_code_is_asked_for() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("WEB0001").await?;
    let (status, body) = t
        .post("customers", &json!({"Code": "web0001", "Name": "Again"}))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Error"], "ValidationError");
    assert!(body["Message"]
        .as_str()
        .unwrap_or_default()
        .contains("already exists"));
    // The flag mints a new code: safe to create, but a retry makes another customer.
    let minted = t
        .created(
            "customers",
            json!({"Code": "WEB0001", "Name": "Again", "CreateCustomerCodeIfDuplicate": true}),
        )
        .await?;
    let again = t
        .created(
            "customers",
            json!({"Code": "WEB0001", "Name": "Again", "CreateCustomerCodeIfDuplicate": true}),
        )
        .await?;
    assert_ne!(minted["Code"], "WEB0001");
    assert_ne!(minted["Code"], again["Code"]);
    assert_eq!(t.emu.handle().customers(USER).len(), 3);
    Ok(())
}

#[tokio::test]
async fn code_and_name_are_required_unless_the_flags_fill_them() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (status, body) = t.post("customers", &json!({"Name": "No Code"})).await?;
    assert_eq!(
        (status, body["Error"].clone()),
        (StatusCode::BAD_REQUEST, json!("ValidationError"))
    );
    let (status, _) = t.post("customers", &json!({"Code": "NONAME"})).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let c = t
        .created(
            "customers",
            json!({"Name": "Zed Corp", "CreateCustomerCodeIfDuplicate": true}),
        )
        .await?;
    assert_eq!(c["Code"], "ZEDCOR01");
    let c = t
        .created(
            "customers",
            json!({"Code": "NONAME", "CreateCustomerNameIfEmptyOrNull": true}),
        )
        .await?;
    assert_eq!(c["Name"], "NONAME");
    let long = "X".repeat(51);
    let (status, _) = t
        .post("customers", &json!({"Code": long, "Name": "Long"}))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = t
        .post(
            "customers",
            &json!({"Code": "CUR1", "Name": "Yen", "Currency": {"Code": "JPY"}}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = t.post("customers", &json!([1, 2])).await?;
    assert_eq!(
        (status, body["Error"].clone()),
        (StatusCode::BAD_REQUEST, json!("ValidationError"))
    );
    Ok(())
}

#[tokio::test]
async fn put_updates_fields_and_a_code_change_answers_201() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("OLD1").await?;
    let inv = t.simple_invoice("OLD1", "ORDER-1").await?;
    let (status, c) = t
        .put(
            "customers/OLD1",
            &json!({"Name": "Renamed Ltd", "Note": "vip"}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (c["Name"].clone(), c["Note"].clone()),
        (json!("Renamed Ltd"), json!("vip"))
    );
    assert_eq!(
        c["Contacts"][0]["Email"], "old1@example.co.uk",
        "omitted fields stay"
    );
    t.customer("TAKEN").await?;
    let (status, _) = t.put("customers/OLD1", &json!({"Code": "TAKEN"})).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, c) = t.put("customers/OLD1", &json!({"Code": "NEW1"})).await?;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(c["Code"], "NEW1");
    let (status, body) = t.get("customers/OLD1").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["Error"], "NotFound");
    let (_, moved) = t.get(&format!("invoices/{}", inv["Number"])).await?;
    assert_eq!(moved["CustomerCode"], "NEW1");
    let (status, _) = t.put("customers/MISSING", &json!({"Name": "x"})).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn customers_with_invoices_cannot_be_deleted() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("BUSY").await?;
    t.customer("IDLE").await?;
    t.simple_invoice("BUSY", "R1").await?;
    let (status, body) = t.delete("customers/BUSY").await?;
    assert_eq!(
        (status, body["Error"].clone()),
        (StatusCode::BAD_REQUEST, json!("ValidationError"))
    );
    let (status, _) = t.delete("customers/IDLE").await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.delete("customers/IDLE").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Figures come from the invoices.
    let (_, busy) = t.get("customers/BUSY").await?;
    assert_eq!(
        (
            busy["InvoiceCount"].clone(),
            busy["OutstandingBalance"].clone()
        ),
        (json!(1), json!(12.0))
    );
    let relaxed = TestEmu::with(EmulatorConfig {
        validation: ValidationConfig {
            protect_customers_with_invoices: false,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    relaxed.customer("BUSY").await?;
    relaxed.simple_invoice("BUSY", "R1").await?;
    assert_eq!(
        relaxed.delete("customers/BUSY").await?.0,
        StatusCode::NO_CONTENT
    );
    Ok(())
}

#[tokio::test]
async fn search_finds_by_code_email_and_name() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    for code in ["ALPHA1", "ALPHA2", "BETA1"] {
        t.customer(code).await?;
    }
    let (status, r) = t
        .get("customers/search?searchBy=code&searchText=alpha")
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["MetaData"]["TotalRecords"], 2);
    let (_, r) = t
        .get("customers/search?searchBy=email&searchText=beta1@example.co.uk")
        .await?;
    assert_eq!(r["Data"][0]["Code"], "BETA1");
    let (_, r) = t
        .get("customers/search?searchBy=name&searchText=Customer%20ALPHA2")
        .await?;
    assert_eq!(r["MetaData"]["TotalRecords"], 1);
    let (status, _) = t
        .get("customers/search?searchBy=phone&searchText=1")
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    Ok(())
}
