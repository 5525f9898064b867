//! Products keyed by (nominal, code), field names, stock control, reference data.

mod common;

use common::{TestEmu, USER};
use nopbridge_emu_kashflow::{EmulatorConfig, ValidationConfig};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;

#[tokio::test]
async fn the_same_code_may_live_under_two_nominals_but_not_twice_under_one() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let p = t.product("MUG", 3).await?;
    assert_eq!(
        (p["NominalCode"].clone(), p["ManageStockLevel"].clone()),
        (json!(4000), json!(true))
    );
    assert_eq!(p["NominalName"], "Sales Type A");
    let (status, body) = t
        .post(
            "products",
            &json!({"Code": "mug", "Name": "Again", "NominalCode": 4000}),
        )
        .await?;
    assert_eq!(
        (status, body["Error"].clone()),
        (StatusCode::BAD_REQUEST, json!("ValidationError"))
    );
    t.created(
        "products",
        json!({"Code": "MUG", "Name": "Mug (B)", "NominalCode": 4001}),
    )
    .await?;
    let (status, a) = t.get("products/4000/MUG").await?;
    assert_eq!(
        (status, a["Name"].clone()),
        (StatusCode::OK, json!("Product MUG"))
    );
    let (_, b) = t.get("products/4001/mug").await?;
    assert_eq!(b["Name"], "Mug (B)");
    let (status, body) = t.get("products/4905/MUG").await?;
    assert_eq!(
        (status, body["Error"].clone()),
        (StatusCode::NOT_FOUND, json!("NotFound"))
    );
    let (_, under) = t.get("nominals/4001/products").await?;
    assert_eq!(under.as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn create_needs_a_name_code_and_sales_nominal() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    for (body, expect) in [
        (json!({"Code": "A", "NominalCode": 4000}), "Name"),
        (json!({"Name": "A", "NominalCode": 4000}), "Code"),
        (json!({"Code": "A", "Name": "A"}), "NominalCode"),
        (
            json!({"Code": "A", "Name": "A", "NominalCode": 1234}),
            "1234",
        ),
        (
            json!({"Code": "A", "Name": "A", "NominalCode": 1200}),
            "not a sales nominal",
        ),
        (
            json!({"Code": "A", "Name": "A", "NominalCode": 4000, "Price": -1}),
            "negative",
        ),
    ] {
        let (status, resp) = t.post("products", &body).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            resp["Message"]
                .as_str()
                .unwrap_or_default()
                .contains(expect),
            "{resp}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn legacy_field_names_are_accepted_and_can_be_emitted() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let p = t
        .created("products", json!({"Code": "OLD", "Name": "Old", "NominalCode": "4000", "ManagesStock": 1, "WarnAt": 2, "QuantityInStock": 9}))
        .await?;
    assert_eq!(
        (
            p["ManageStockLevel"].clone(),
            p["StockWarningQuantity"].clone()
        ),
        (json!(true), json!(2.0))
    );
    let legacy = TestEmu::with(EmulatorConfig {
        validation: ValidationConfig {
            legacy_product_field_names: true,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    let p = legacy.product("NEW", 4).await?;
    assert_eq!(p["ManagesStock"], true);
    assert!(p.get("ManageStockLevel").is_none());
    assert_eq!(p["WarnAt"], json!(0.0));
    Ok(())
}

#[tokio::test]
async fn put_moves_and_updates_and_stock_can_be_set_from_outside() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.product("CUP", 3).await?;
    let (status, p) = t
        .put(
            "products/4000/CUP",
            &json!({"Price": 12.5, "QuantityInStock": 7, "NominalCode": 4001}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            p["Price"].clone(),
            p["QuantityInStock"].clone(),
            p["NominalCode"].clone()
        ),
        (json!(12.5), json!(7.0), json!(4001))
    );
    assert_eq!(t.get("products/4000/CUP").await?.0, StatusCode::NOT_FOUND);
    let h = t.emu.handle();
    h.set_stock(USER, 4001, "CUP", Decimal::new(425, 1))
        .map_err(|e| anyhow::anyhow!(e))?;
    let (_, p) = t.get("products/4001/CUP").await?;
    assert_eq!(p["QuantityInStock"], json!(42.5));
    assert!(h.set_stock(USER, 4000, "CUP", Decimal::ONE).is_err());
    assert_eq!(
        t.delete("products/4001/CUP").await?.0,
        StatusCode::NO_CONTENT
    );
    assert!(h.products(USER).is_empty());
    Ok(())
}

#[tokio::test]
async fn autofill_products_fill_rate_and_vat_on_lines() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("C1").await?;
    t.created("products", json!({"Code": "AUTO", "Name": "Auto", "NominalCode": 4000, "Price": 8.5, "VATRate": 20, "AutoFillLineItem": true}))
        .await?;
    let inv = t
        .created(
            "invoices",
            json!({"CustomerCode": "C1", "LineItems": [{"ProductCode": "AUTO", "Quantity": 2}]}),
        )
        .await?;
    assert_eq!(
        (inv["NetAmount"].clone(), inv["VATAmount"].clone()),
        (json!(17.0), json!(3.4))
    );
    Ok(())
}

#[tokio::test]
async fn reference_data_lists_are_bare_arrays() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (_, rates) = t.get("vat/settings/vatrates").await?;
    assert_eq!(
        rates[2],
        json!({"VATId": 3, "VATRate": 20.0, "VATText": "20%"})
    );
    let (_, banks) = t.get("bankaccounts").await?;
    assert_eq!(banks[0]["Id"], 1201);
    let (_, methods) = t.get("paymentmethods/invoice").await?;
    assert_eq!(methods[2], json!({"Id": 3, "Name": "Credit/Debit Card"}));
    let (status, n) = t
        .post(
            "nominals",
            &json!({"Code": 4000, "Name": "x", "CreateWhenNotPresent": true}),
        )
        .await?;
    assert_eq!(
        (status, n["Name"].clone()),
        (StatusCode::OK, json!("Sales Type A"))
    );
    let (status, _) = t
        .post("nominals", &json!({"Code": 4000, "Name": "x"}))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, n) = t
        .post("nominals", &json!({"Code": 4010, "Name": "Gift wrap"}))
        .await?;
    assert_eq!(
        (status, n["Classification"].clone()),
        (StatusCode::CREATED, json!("Sales"))
    );
    let (status, body) = t.get("no/such/route").await?;
    assert_eq!(
        (status, body["Error"].clone()),
        (StatusCode::NOT_FOUND, json!("NotFound"))
    );
    Ok(())
}
