//! Credit notes (setting `validation.credit_notes`): a sales invoice with negative lines,
//! negative totals and VAT, stock of managed products back up by the credited quantity, and
//! payment lines as the money paid back; or, with `refused`, KashFlow's 400 ValidationError.

mod common;

use common::{money, TestEmu, USER};
use nopbridge_emu_kashflow::{CreditNotes, EmulatorConfig, ValidationConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn stocked(t: &TestEmu) -> anyhow::Result<()> {
    t.customer("WEB000123").await?;
    t.product("WIDGET-RED", 10).await?;
    Ok(())
}

/// Two red widgets and the carriage credited, £5.99 paid back by card, £24 + VAT in all.
fn credit_note() -> Value {
    json!({
        "CustomerCode": "WEB000123", "IssuedDate": "2025-03-20 00:00:00",
        "CustomerReference": "WEB000001R1A2B3C",
        "LineItems": [
            {"ProductCode": "WIDGET-RED", "NominalCode": 4000, "Description": "Red widget",
             "Quantity": -2, "Rate": 10.00, "VATLevel": 20, "VATAmount": -4.00},
            {"NominalCode": 4905, "Description": "Carriage", "Quantity": 1, "Rate": -4.99,
             "VATLevel": 20, "VATAmount": -1.00}
        ],
        "PaymentLines": [{"Date": "2025-03-20 00:00:00", "Amount": 5.99, "Method": 3,
            "AccountId": 1201, "Note": "refund"}]
    })
}

fn stock(t: &TestEmu, code: &str) -> Option<Value> {
    t.emu
        .handle()
        .product(USER, 4000, code)
        .map(|p| p["QuantityInStock"].clone())
}

#[tokio::test]
async fn a_negative_invoice_is_a_credit_note_that_gives_stock_back_and_records_money_paid_back(
) -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    stocked(&t).await?;
    let sale = t
        .created("invoices", json!({"CustomerCode": "WEB000123", "LineItems": [
            {"ProductCode": "WIDGET-RED", "NominalCode": 4000, "Quantity": 3, "Rate": 10, "VATLevel": 20}]}))
        .await?;
    assert_eq!(money(&sale["GrossAmount"]), "36.00");
    assert_eq!(stock(&t, "WIDGET-RED"), Some(json!(7.0)));

    let cn = t.created("invoices", credit_note()).await?;
    assert_eq!(money(&cn["NetAmount"]), "-24.99");
    assert_eq!(money(&cn["VATAmount"]), "-5.00");
    assert_eq!(money(&cn["GrossAmount"]), "-29.99");
    assert_eq!(money(&cn["TotalPaidAmount"]), "5.99");
    assert_eq!(money(&cn["DueAmount"]), "-24.00");
    assert_eq!(cn["Status"], "PartPaid");
    assert_eq!(cn["LineItems"][0]["Quantity"], json!(-2.0));
    assert_eq!(cn["PaymentLines"][0]["Note"], "refund");
    // The credited quantity is back in stock.
    assert_eq!(stock(&t, "WIDGET-RED"), Some(json!(9.0)));

    // The rest paid back: the full list, the first line kept by Id.
    let n = cn["Number"].as_i64().unwrap_or_default();
    let first = cn["PaymentLines"][0]["Id"].clone();
    let (status, paid) = t
        .put(
            &format!("invoices/{n}"),
            &json!({"PaymentLines": [
                {"Id": first, "Amount": 5.99, "Method": 3, "AccountId": 1201, "Note": "refund"},
                {"Amount": 24.00, "Method": 3, "AccountId": 1201}]}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(
        (money(&paid["TotalPaidAmount"]), money(&paid["DueAmount"])),
        ("29.99".to_string(), "0.00".to_string())
    );
    assert_eq!(paid["Status"], "Paid");

    // Paying back more than was credited is refused, nothing changes.
    let (status, body) = t
        .put(
            &format!("invoices/{n}"),
            &json!({"PaymentLines": [{"Amount": 30.00, "Method": 3, "AccountId": 1201}]}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Error"], "ValidationError");
    assert!(body["Message"]
        .as_str()
        .unwrap_or_default()
        .contains("exceed"));
    assert_eq!(
        t.emu.handle().invoice(USER, n).map(|i| i["Status"].clone()),
        Some(json!("Paid"))
    );

    // Deleting the credit note takes the credited stock out again.
    assert_eq!(
        t.delete(&format!("invoices/{n}")).await?.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stock(&t, "WIDGET-RED"), Some(json!(7.0)));
    Ok(())
}

#[tokio::test]
async fn a_credit_notes_vat_is_checked_like_any_invoices() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    stocked(&t).await?;
    let mut body = credit_note();
    body["LineItems"][0]["VATAmount"] = json!(4.00);
    let (status, err) = t.post("invoices", &body).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["Error"], "ValidationError");
    assert!(
        err["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("VATAmount"),
        "{err}"
    );
    assert!(t.emu.handle().invoices(USER).is_empty());
    assert_eq!(stock(&t, "WIDGET-RED"), Some(json!(10.0)));
    Ok(())
}

#[tokio::test]
async fn with_credit_notes_refused_a_negative_invoice_is_a_validation_error_and_nothing_is_kept(
) -> anyhow::Result<()> {
    let t = TestEmu::with(EmulatorConfig {
        validation: ValidationConfig {
            credit_notes: CreditNotes::Refused,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    stocked(&t).await?;
    let (status, err) = t.post("invoices", &credit_note()).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["Error"], "ValidationError");
    assert!(
        err["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("credit notes"),
        "{err}"
    );
    assert!(t.emu.handle().invoices(USER).is_empty());
    assert_eq!(stock(&t, "WIDGET-RED"), Some(json!(10.0)));
    // A discount line on an invoice with a positive total is still an invoice.
    let inv = t
        .created("invoices", json!({"CustomerCode": "WEB000123", "LineItems": [
            {"ProductCode": "WIDGET-RED", "NominalCode": 4000, "Quantity": 2, "Rate": 10, "VATLevel": 20},
            {"NominalCode": 4000, "Description": "Discount", "Quantity": 1, "Rate": -5, "VATLevel": 20}]}))
        .await?;
    assert_eq!(money(&inv["GrossAmount"]), "18.00");
    // A PUT that would turn it into a credit note is refused too.
    let n = inv["Number"].as_i64().unwrap_or_default();
    let (status, err) = t
        .put(
            &format!("invoices/{n}"),
            &json!({"LineItems": [{"NominalCode": 4000, "Quantity": 1, "Rate": -5, "VATLevel": 20}]}),
        )
        .await?;
    assert_eq!(
        (status, err["Error"].clone()),
        (StatusCode::BAD_REQUEST, json!("ValidationError"))
    );
    assert_eq!(stock(&t, "WIDGET-RED"), Some(json!(8.0)));
    Ok(())
}
