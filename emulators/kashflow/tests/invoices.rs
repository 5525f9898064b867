//! Invoices: VAT lines, nominal codes, payment lines, totals to the penny, numbering,
//! stock taken from products, bulk payments, and all-or-nothing validation.

mod common;

use common::{money, TestEmu, USER};
use nopbridge_emu_kashflow::{EmulatorConfig, NumberCollision, ValidationConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn stocked(t: &TestEmu) -> anyhow::Result<()> {
    t.customer("WEB000123").await?;
    t.product("WIDGET-RED", 10).await?;
    t.product("GADGET-XL", 5).await?;
    Ok(())
}

/// The reference's A11.2 sample: two product lines, a carriage line and a card payment.
fn sample() -> Value {
    json!({
        "CustomerCode": "WEB000123", "IssuedDate": "2025-03-14 00:00:00", "DueDate": "2025-03-14 00:00:00",
        "CustomerReference": "ORDER-100457", "Currency": {"Code": "GBP", "ExchangeRate": 1.0},
        "UseCustomDeliveryAddress": true,
        "DeliveryAddress": {"Name": "Harriet Okafor", "Line1": "22 Cotham Hill", "PostCode": "BS6 6LA", "CountryCode": "GB"},
        "LineItems": [
            {"Number": 1, "ProductCode": "WIDGET-RED", "NominalCode": 4000, "Description": "Red widget",
             "Quantity": 2, "Rate": 10.00, "VATLevel": 20, "VATAmount": 4.00, "VATExempt": false},
            {"Number": 2, "ProductCode": "GADGET-XL", "NominalCode": 4000, "Description": "Gadget XL",
             "Quantity": 1, "Rate": 35.50, "VATLevel": 20, "VATAmount": 7.10, "VATExempt": false},
            {"Number": 3, "NominalCode": 4905, "Description": "Shipping - Royal Mail Tracked 48",
             "Quantity": 1, "Rate": 4.99, "VATLevel": 20, "VATAmount": 1.00, "VATExempt": 0}
        ],
        "PaymentLines": [{"Date": "2025-03-14 00:00:00", "Amount": 72.59, "Method": 3, "AccountId": 1201,
            "Reference": "pi_3OxA2k", "Note": "Stripe card payment"}]
    })
}

#[tokio::test]
async fn the_sample_invoice_totals_to_the_penny_and_is_paid() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    stocked(&t).await?;
    let inv = t.created("invoices", sample()).await?;
    assert_eq!(money(&inv["NetAmount"]), "60.49");
    assert_eq!(money(&inv["VATAmount"]), "12.10");
    assert_eq!(money(&inv["GrossAmount"]), "72.59");
    assert_eq!(money(&inv["TotalPaidAmount"]), "72.59");
    assert_eq!(money(&inv["DueAmount"]), "0.00");
    assert_eq!(inv["Status"], "Paid");
    assert_eq!(inv["PaidDate"], "2025-03-14T00:00:00");
    assert_eq!(inv["Number"], 1);
    assert_eq!(inv["CustomerName"], "Customer WEB000123");
    assert_eq!(inv["LineItems"][2]["NominalName"], "Carriage on Sales");
    assert_eq!(inv["LineItems"][0]["ProductName"], "Product WIDGET-RED");
    assert_eq!(inv["DeliveryAddress"]["CountryName"], "United Kingdom");
    let payment = &inv["PaymentLines"][0];
    assert!(payment["Id"].as_i64().is_some());
    assert_eq!(
        (payment["Method"].clone(), payment["AccountId"].clone()),
        (json!(3), json!(1201))
    );
    assert_eq!(payment["Reference"], "pi_3OxA2k");
    // Stock came off the managed products.
    let h = t.emu.handle();
    assert_eq!(
        h.product(USER, 4000, "WIDGET-RED")
            .map(|p| p["QuantityInStock"].clone()),
        Some(json!(8.0))
    );
    assert_eq!(
        h.product(USER, 4000, "GADGET-XL")
            .map(|p| p["QuantityInStock"].clone()),
        Some(json!(4.0))
    );
    Ok(())
}

#[tokio::test]
async fn vat_levels_and_amounts_are_checked_per_line() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("C1").await?;
    let line = |level: Value, amount: Value| json!({"CustomerCode": "C1", "LineItems": [{"Quantity": 3, "Rate": 3.33, "VATLevel": level, "VATAmount": amount}]});
    // 3 × 3.33 = 9.99; 20 % = 1.998 → 2.00; a penny either way is tolerated.
    assert_eq!(
        t.post("invoices", &line(json!(20), json!(2.00))).await?.0,
        StatusCode::CREATED
    );
    assert_eq!(
        t.post("invoices", &line(json!(20), json!(1.99))).await?.0,
        StatusCode::CREATED
    );
    let (status, body) = t.post("invoices", &line(json!(20), json!(2.10))).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("VATAmount"),
        "{body}"
    );
    let (status, body) = t.post("invoices", &line(json!(17.5), json!(1.75))).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("VAT rate"),
        "{body}"
    );
    // Omitted VATAmount is computed; exempt lines carry none.
    let inv = t
        .created(
            "invoices",
            json!({"CustomerCode": "C1", "LineItems": [
            {"Quantity": 1, "Rate": 4.99, "VATLevel": 5},
            {"Quantity": 1, "Rate": 10, "VATExempt": true, "VATLevel": 20}]}),
        )
        .await?;
    assert_eq!(money(&inv["VATAmount"]), "0.25");
    assert_eq!(money(&inv["GrossAmount"]), "15.24");
    assert_eq!(inv["LineItems"][1]["VATLevel"], json!(0.0));
    // With recalculation on, the client's amount is replaced.
    let recalc = TestEmu::with(EmulatorConfig {
        validation: ValidationConfig {
            recalculate_vat: true,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    recalc.customer("C1").await?;
    let inv = recalc
        .created("invoices", line(json!(20), json!(9.99)))
        .await?;
    assert_eq!(money(&inv["VATAmount"]), "2.00");
    Ok(())
}

#[tokio::test]
async fn references_are_validated_and_nothing_is_kept_on_failure() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    stocked(&t).await?;
    let cases = [
        (
            json!({"LineItems": [{"Rate": 1}]}),
            "CustomerCode is required",
        ),
        (
            json!({"CustomerCode": "NOPE", "LineItems": [{"Rate": 1}]}),
            "does not exist",
        ),
        (json!({"CustomerCode": "WEB000123"}), "at least one line"),
        (
            json!({"CustomerCode": "WEB000123", "LineItems": [{"Rate": 1, "VATLevel": 0, "NominalCode": 9999}]}),
            "Nominal code 9999",
        ),
        (
            json!({"CustomerCode": "WEB000123", "LineItems": [{"Rate": 1, "VATLevel": 0, "ProductCode": "GHOST"}]}),
            "GHOST",
        ),
        (
            json!({"CustomerCode": "WEB000123", "LineItems": [{"Rate": 1, "VATLevel": 0}], "PaymentLines": [{"Amount": 1, "Method": 99}]}),
            "Payment method 99",
        ),
        (
            json!({"CustomerCode": "WEB000123", "LineItems": [{"Rate": 1, "VATLevel": 0}], "PaymentLines": [{"Amount": 1, "AccountId": 5}]}),
            "Bank account 5",
        ),
        (
            json!({"CustomerCode": "WEB000123", "LineItems": [{"Rate": 1, "VATLevel": 0}], "PaymentLines": [{"Amount": 0}]}),
            "greater than zero",
        ),
        (
            json!({"CustomerCode": "WEB000123", "LineItems": [{"Rate": 1, "VATLevel": 0}], "PaymentLines": [{"Amount": 1.01}]}),
            "exceed",
        ),
        (
            json!({"CustomerCode": "WEB000123", "IssuedDate": "14/03/2025", "LineItems": [{"Rate": 1, "VATLevel": 0}]}),
            "not a valid date",
        ),
        (
            json!({"CustomerCode": "WEB000123", "Currency": {"Code": "XYZ"}, "LineItems": [{"Rate": 1, "VATLevel": 0}]}),
            "Currency XYZ",
        ),
        // A valid product line followed by a bad one: the first must not take stock.
        (
            json!({"CustomerCode": "WEB000123", "LineItems": [
            {"ProductCode": "WIDGET-RED", "Quantity": 3, "Rate": 10, "VATLevel": 20},
            {"Rate": 1, "VATLevel": 21}]}),
            "VAT rate 21",
        ),
    ];
    for (body, expected) in cases {
        let (status, resp) = t.post("invoices", &body).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp["Error"], "ValidationError");
        let message = resp["Message"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "{message} should mention {expected}"
        );
    }
    let h = t.emu.handle();
    assert!(h.invoices(USER).is_empty());
    assert_eq!(
        h.product(USER, 4000, "WIDGET-RED")
            .map(|p| p["QuantityInStock"].clone()),
        Some(json!(10.0))
    );
    assert_eq!(
        h.account_counters(USER).map(|c| c.validation_errors),
        Some(12)
    );
    Ok(())
}

#[tokio::test]
async fn numbers_are_assigned_in_sequence_and_a_taken_number_is_refused() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("C1").await?;
    let (_, next) = t.get("nextavailableinvoicenumber").await?;
    assert_eq!(next, json!(1));
    let a = t.simple_invoice("C1", "A").await?;
    let b = t
        .created("invoices", json!({"Number": 100457, "CustomerCode": "C1", "LineItems": [{"Rate": 1, "VATLevel": 0}]}))
        .await?;
    let c = t.simple_invoice("C1", "C").await?;
    assert_eq!(
        (
            a["Number"].clone(),
            b["Number"].clone(),
            c["Number"].clone()
        ),
        (json!(1), json!(100457), json!(100458))
    );
    let (status, body) = t
        .post("invoices", &json!({"Number": 100457, "CustomerCode": "C1", "LineItems": [{"Rate": 1, "VATLevel": 0}]}))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Message"]
        .as_str()
        .unwrap_or_default()
        .contains("100457 already exists"));
    let renumbering = TestEmu::with(EmulatorConfig {
        validation: ValidationConfig {
            invoice_number_collision: NumberCollision::Renumber,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    renumbering.customer("C1").await?;
    renumbering.simple_invoice("C1", "A").await?;
    let again = renumbering
        .created(
            "invoices",
            json!({"Number": 1, "CustomerCode": "C1", "LineItems": [{"Rate": 1, "VATLevel": 0}]}),
        )
        .await?;
    assert_eq!(again["Number"], 2);
    Ok(())
}

#[tokio::test]
async fn partial_payments_put_and_bulk_payments_move_the_status() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("C1").await?;
    let inv = t
        .created("invoices", json!({"CustomerCode": "C1", "IssuedDate": "2025-03-14", "LineItems": [{"Quantity": 2, "Rate": 25, "VATLevel": 20}],
            "PaymentLines": [{"Amount": 20, "Method": 3, "AccountId": 1201}]}))
        .await?;
    assert_eq!(
        (inv["Status"].clone(), money(&inv["DueAmount"])),
        (json!("PartPaid"), "40.00".into())
    );
    let n = inv["Number"].as_i64().unwrap_or_default();
    let first_id = inv["PaymentLines"][0]["Id"].clone();
    // Replace semantics: the existing line (by Id) plus a new one.
    let (status, inv) = t
        .put(
            &format!("invoices/{n}"),
            &json!({"PaymentLines": [
            {"Id": first_id, "Amount": 20, "Method": 3, "AccountId": 1201},
            {"Amount": 10, "Method": 1}]}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{inv}");
    assert_eq!(inv["PaymentLines"].as_array().map(Vec::len), Some(2));
    assert_eq!(money(&inv["DueAmount"]), "30.00");
    let (status, _) = t
        .put(
            &format!("invoices/{n}"),
            &json!({"PaymentLines": [{"Id": 424242, "Amount": 1}]}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Bulk payment settles it; paying more than is due is refused, all or nothing.
    let other = t.simple_invoice("C1", "X").await?;
    let m = other["Number"].as_i64().unwrap_or_default();
    let (status, _) = t
        .post("invoices/bulk/payments", &json!({"Date": "2025-03-20", "Method": 5, "AccountId": 1201,
            "PaymentItems": [{"ObjectNumber": n, "Amount": 30}, {"ObjectNumber": m, "Amount": 12.01}]}))
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        t.emu.handle().invoice(USER, n).map(|i| i["Status"].clone()),
        Some(json!("PartPaid"))
    );
    let bulk = t
        .created("invoices/bulk/payments", json!({"Date": "2025-03-20", "Method": 5, "AccountId": 1201,
            "PaymentItems": [{"ObjectNumber": n, "Amount": 30}, {"ObjectNumber": m, "Amount": 12}]}))
        .await?;
    let (_, settled) = t.get(&format!("invoices/{n}")).await?;
    assert_eq!(
        (settled["Status"].clone(), settled["PaidDate"].clone()),
        (json!("Paid"), json!("2025-03-20T00:00:00"))
    );
    assert_eq!(
        settled["PaymentLines"][2]["BulkPaymentNumber"],
        bulk["Number"]
    );
    let (status, read) = t
        .get(&format!("invoices/bulk/payments/{}", bulk["Number"]))
        .await?;
    assert_eq!((status, read["Method"].clone()), (StatusCode::OK, json!(5)));
    Ok(())
}

#[tokio::test]
async fn stock_follows_line_changes_and_deletes() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    stocked(&t).await?;
    let h = t.emu.handle();
    let stock = |code: &str| {
        h.product(USER, 4000, code)
            .map(|p| p["QuantityInStock"].clone())
    };
    let inv = t
        .created("invoices", json!({"CustomerCode": "WEB000123", "LineItems": [
            {"ProductCode": "widget-red", "NominalCode": 4000, "Quantity": 4, "Rate": 10, "VATLevel": 20}]}))
        .await?;
    assert_eq!(stock("WIDGET-RED"), Some(json!(6.0)));
    let n = inv["Number"].as_i64().unwrap_or_default();
    let (status, _) = t
        .put(
            &format!("invoices/{n}"),
            &json!({"LineItems": [
            {"ProductCode": "GADGET-XL", "Quantity": 2, "Rate": 35.5, "VATLevel": 20}]}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (stock("WIDGET-RED"), stock("GADGET-XL")),
        (Some(json!(10.0)), Some(json!(3.0)))
    );
    // Renumbering through the body answers 201.
    let (status, moved) = t
        .put(&format!("invoices/{n}"), &json!({"Number": 900}))
        .await?;
    assert_eq!(
        (status, moved["Number"].clone()),
        (StatusCode::CREATED, json!(900))
    );
    assert_eq!(
        t.get(&format!("invoices/{n}")).await?.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.delete("invoices/900").await?.0, StatusCode::NO_CONTENT);
    assert_eq!(stock("GADGET-XL"), Some(json!(5.0)));
    // Stock may go negative by default; the strict setting refuses it.
    t.created(
        "invoices",
        json!({"CustomerCode": "WEB000123", "LineItems": [
        {"ProductCode": "GADGET-XL", "Quantity": 7, "Rate": 1, "VATLevel": 0}]}),
    )
    .await?;
    assert_eq!(stock("GADGET-XL"), Some(json!(-2.0)));
    let strict = TestEmu::with(EmulatorConfig {
        validation: ValidationConfig {
            allow_negative_stock: false,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    stocked(&strict).await?;
    let (status, body) = strict
        .post(
            "invoices",
            &json!({"CustomerCode": "WEB000123", "LineItems": [
            {"ProductCode": "GADGET-XL", "Quantity": 6, "Rate": 1, "VATLevel": 0}]}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Message"]
        .as_str()
        .unwrap_or_default()
        .contains("Insufficient stock"));
    Ok(())
}
