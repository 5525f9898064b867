//! Totals computed the QuickBooks way, currency, payments, voids and inventory.

mod common;

use common::{cents, fault_code, id, TestEmu};
use nopbridge_emu_quickbooks::{EmulatorConfig, RealmConfig};
use serde_json::{json, Value};

/// The reference's sample 10.2 cart: 2 × 25.00 + 12.50, coupon 5.00, shipping 7.95 (NON),
/// 8.25 % tax after discount.
fn sample_receipt(
    customer: &str,
    tee: &str,
    mug: &str,
    tax_code: &str,
    total_tax: Option<f64>,
) -> Value {
    let mut tax = json!({"TxnTaxCodeRef": {"value": tax_code}});
    if let Some(t) = total_tax {
        tax["TotalTax"] = json!(t);
    }
    json!({
        "DocNumber": "WEB-100482", "TxnDate": "2025-03-14", "CustomerRef": {"value": customer},
        "ApplyTaxAfterDiscount": true,
        "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": 50.00, "SalesItemLineDetail": {"ItemRef": {"value": tee}, "Qty": 2, "UnitPrice": 25.00, "TaxCodeRef": {"value": "TAX"}}},
            {"DetailType": "SalesItemLineDetail", "Amount": 12.50, "SalesItemLineDetail": {"ItemRef": {"value": mug}, "Qty": 1, "UnitPrice": 12.50, "TaxCodeRef": {"value": "TAX"}}},
            {"DetailType": "DiscountLineDetail", "Amount": 5.00, "Description": "Coupon SPRING5", "DiscountLineDetail": {"PercentBased": false}},
            {"DetailType": "SalesItemLineDetail", "Amount": 7.95, "SalesItemLineDetail": {"ItemRef": {"value": "SHIPPING_ITEM_ID"}, "TaxCodeRef": {"value": "NON"}}}
        ],
        "TxnTaxDetail": tax
    })
}

#[tokio::test]
async fn sales_receipt_sample_totals_match_the_reference() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Ana O'Neil #88213").await?;
    let tee = t.service_item("Organic tee", 25.0).await?;
    let mug = t.service_item("Mug 12oz", 12.5).await?;
    let code = t.tax_code("California");
    // Computed: 8.25 % of 57.50 = 4.74375 → 4.74; total 70.19.
    let sr = t
        .write(
            "salesreceipt",
            "SalesReceipt",
            sample_receipt(&id(&c), &id(&tee), &id(&mug), &code, None),
        )
        .await?;
    assert_eq!(cents(&sr["TotalAmt"]), "70.19");
    assert_eq!(cents(&sr["TxnTaxDetail"]["TotalTax"]), "4.74");
    assert_eq!(
        cents(&sr["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]["NetAmountTaxable"]),
        "57.50"
    );
    assert_eq!(sr["Balance"], 0);
    // Server ordering: item lines, generated subtotal, discount, shipping.
    let kinds: Vec<&str> = sr["Line"]
        .as_array()
        .map(|l| l.iter().filter_map(|x| x["DetailType"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        [
            "SalesItemLineDetail",
            "SalesItemLineDetail",
            "SubTotalLineDetail",
            "DiscountLineDetail",
            "SalesItemLineDetail"
        ]
    );
    assert_eq!(cents(&sr["Line"][2]["Amount"]), "62.50");
    assert_eq!(
        sr["Line"][0]["SalesItemLineDetail"]["ItemRef"]["name"],
        "Organic tee"
    );
    assert_eq!(sr["DepositToAccountRef"]["name"], "Undeposited Funds");
    // A supplied TotalTax overrides the calculation.
    let mut body = sample_receipt(&id(&c), &id(&tee), &id(&mug), &code, Some(4.75));
    body["DocNumber"] = json!("WEB-100483");
    let sr = t.write("salesreceipt", "SalesReceipt", body).await?;
    assert_eq!(cents(&sr["TotalAmt"]), "70.20");
    assert_eq!(cents(&sr["TxnTaxDetail"]["TaxLine"][0]["Amount"]), "4.75");
    Ok(())
}

#[tokio::test]
async fn percent_discount_and_tax_before_discount() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Percent").await?;
    let item = t.service_item("Lamp", 40.0).await?;
    let code = t.tax_code("California");
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "TxnTaxDetail": {"TxnTaxCodeRef": {"value": code}},
                "Line": [
                    {"DetailType": "SalesItemLineDetail", "Amount": 80, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}, "Qty": 2, "UnitPrice": 40, "TaxCodeRef": {"value": "TAX"}}},
                    {"DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": true, "DiscountPercent": 10}}
                ]}),
        )
        .await?;
    // Discount 8.00; tax before discount on 80.00 = 6.60; total 78.60.
    assert_eq!(cents(&inv["Line"][2]["Amount"]), "8.00");
    assert_eq!(cents(&inv["TxnTaxDetail"]["TotalTax"]), "6.60");
    assert_eq!(cents(&inv["TotalAmt"]), "78.60");
    assert_eq!(cents(&inv["Balance"]), "78.60");
    assert!(inv["DueDate"].is_string());
    Ok(())
}

#[tokio::test]
async fn line_amount_must_equal_qty_times_unit_price_and_us_codes_are_tax_or_non(
) -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Math").await?;
    let item = t.service_item("Pen", 1.5).await?;
    let line = |amount: f64, code: &str| {
        json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": amount,
            "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}, "Qty": 3, "UnitPrice": 1.5, "TaxCodeRef": {"value": code}}}]})
    };
    let (_, body) = t.post("invoice", &line(4.0, "TAX")).await?;
    assert_eq!(fault_code(&body), Some("6070"));
    let (_, body) = t.post("invoice", &line(4.5, "20.0% S")).await?;
    assert_eq!(fault_code(&body), Some("6100"));
    t.write("invoice", "Invoice", line(4.5, "NON")).await?;
    Ok(())
}

#[tokio::test]
async fn omitted_exchange_rate_is_stored_as_one_and_home_total_shows_it() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let eur = t
        .write(
            "customer",
            "Customer",
            json!({"DisplayName": "Hans (EUR)", "CurrencyRef": {"value": "EUR"}}),
        )
        .await?;
    let item = t.service_item("Export", 100.0).await?;
    let body = |rate: Option<f64>| {
        let mut b = json!({"CustomerRef": {"value": id(&eur)}, "CurrencyRef": {"value": "EUR"},
            "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 100, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]});
        if let Some(r) = rate {
            b["ExchangeRate"] = json!(r);
        }
        b
    };
    let forgot = t.write("invoice", "Invoice", body(None)).await?;
    assert_eq!(forgot["ExchangeRate"], 1);
    assert_eq!(cents(&forgot["HomeTotalAmt"]), "100.00");
    let with_rate = t.write("invoice", "Invoice", body(Some(1.08))).await?;
    assert_eq!(cents(&with_rate["HomeTotalAmt"]), "108.00");
    assert_eq!(with_rate["CurrencyRef"]["value"], "EUR");
    // The transaction currency must match the customer's.
    let mut wrong = body(Some(1.1));
    wrong["CurrencyRef"] = json!({"value": "GBP"});
    let (_, fault) = t.post("invoice", &wrong).await?;
    assert_eq!(fault_code(&fault), Some("6000"));
    Ok(())
}

#[tokio::test]
async fn payment_applies_to_invoice_bumps_its_token_and_overpayment_is_unapplied(
) -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Payer").await?;
    let item = t.service_item("Service", 30.0).await?;
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 30, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    let pay = t
        .write(
            "payment",
            "Payment",
            json!({"CustomerRef": {"value": id(&c)}, "TotalAmt": 50, "Line": [{"Amount": 30, "LinkedTxn": [{"TxnId": id(&inv), "TxnType": "Invoice"}]}]}),
        )
        .await?;
    assert_eq!(cents(&pay["UnappliedAmt"]), "20.00");
    // Customer A/R: nothing open on the invoice, 20.00 of unapplied credit.
    let customer = t
        .emu
        .handle()
        .entity(&t.realm, "Customer", &id(&c))
        .unwrap_or_default();
    assert_eq!(cents(&customer["Balance"]), "-20.00");
    let (_, read) = t.get(&format!("invoice/{}", id(&inv))).await?;
    let inv_now = &read["Invoice"];
    assert_eq!(inv_now["Balance"], 0);
    assert_eq!(inv_now["SyncToken"], "1");
    assert_eq!(inv_now["LinkedTxn"][0]["TxnType"], "Payment");
    // The connector's stale token is now refused.
    let (_, stale) = t
        .post(
            "invoice",
            &json!({"Id": id(&inv), "SyncToken": "0", "sparse": true, "PrivateNote": "x"}),
        )
        .await?;
    assert_eq!(fault_code(&stale), Some("5010"));
    // A paid invoice cannot be voided.
    let (_, refused) = t
        .post(
            "invoice?operation=void",
            &json!({"Id": id(&inv), "SyncToken": "1"}),
        )
        .await?;
    assert_eq!(fault_code(&refused), Some("6000"));
    // Applying more than the balance is refused.
    let (_, over) = t
        .post("payment", &json!({"CustomerRef": {"value": id(&c)}, "TotalAmt": 5, "Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": id(&inv), "TxnType": "Invoice"}]}]}))
        .await?;
    assert_eq!(fault_code(&over), Some("6000"));
    // Voiding the payment restores the balance.
    let voided = t
        .write(
            "payment?operation=update&include=void",
            "Payment",
            json!({"Id": id(&pay), "SyncToken": "0", "sparse": true}),
        )
        .await?;
    assert_eq!(voided["TotalAmt"], 0);
    assert!(voided["PrivateNote"]
        .as_str()
        .is_some_and(|n| n.contains("Voided")));
    let (_, read) = t.get(&format!("invoice/{}", id(&inv))).await?;
    assert_eq!(cents(&read["Invoice"]["Balance"]), "30.00");
    let customer = t
        .emu
        .handle()
        .entity(&t.realm, "Customer", &id(&c))
        .unwrap_or_default();
    assert_eq!(cents(&customer["Balance"]), "30.00");
    Ok(())
}

#[tokio::test]
async fn void_invoice_keeps_record_and_doc_number_with_zero_amounts() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Voider").await?;
    let item = t.service_item("Void item", 9.0).await?;
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"DocNumber": "WEB-9", "PrivateNote": "order 9", "CustomerRef": {"value": id(&c)},
                "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 9, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    let voided = t
        .write(
            "invoice?operation=void",
            "Invoice",
            json!({"Id": id(&inv), "SyncToken": "0"}),
        )
        .await?;
    assert_eq!(voided["TotalAmt"], 0);
    assert_eq!(voided["Balance"], 0);
    assert_eq!(voided["DocNumber"], "WEB-9");
    assert_eq!(voided["SyncToken"], "1");
    assert!(voided["PrivateNote"]
        .as_str()
        .is_some_and(|n| n.contains("Voided") && n.contains("order 9")));
    Ok(())
}

#[tokio::test]
async fn credit_memo_credit_is_consumed_by_a_payment_line() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Credit").await?;
    let item = t.service_item("Returnable", 20.0).await?;
    let line = json!([{"DetailType": "SalesItemLineDetail", "Amount": 20, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]);
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "Line": line}),
        )
        .await?;
    let cm = t
        .write(
            "creditmemo",
            "CreditMemo",
            json!({"CustomerRef": {"value": id(&c)}, "Line": line}),
        )
        .await?;
    assert_eq!(cents(&cm["RemainingCredit"]), "20.00");
    t.write(
        "payment",
        "Payment",
        json!({"CustomerRef": {"value": id(&c)}, "TotalAmt": 0, "Line": [
            {"Amount": 20, "LinkedTxn": [{"TxnId": id(&inv), "TxnType": "Invoice"}]},
            {"Amount": 20, "LinkedTxn": [{"TxnId": id(&cm), "TxnType": "CreditMemo"}]}]}),
    )
    .await?;
    let cm_now = t
        .emu
        .handle()
        .entity(&t.realm, "CreditMemo", &id(&cm))
        .unwrap_or_default();
    assert_eq!(cm_now["RemainingCredit"], 0);
    let inv_now = t
        .emu
        .handle()
        .entity(&t.realm, "Invoice", &id(&inv))
        .unwrap_or_default();
    assert_eq!(inv_now["Balance"], 0);
    Ok(())
}

#[tokio::test]
async fn refund_receipt_needs_a_deposit_account_and_restocks() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let mug = t.inventory_item("Stock mug", 10).await?;
    let line = json!([{"DetailType": "SalesItemLineDetail", "Amount": 30, "SalesItemLineDetail": {"ItemRef": {"value": id(&mug)}, "Qty": 3, "UnitPrice": 10}}]);
    t.write("salesreceipt", "SalesReceipt", json!({"Line": line}))
        .await?;
    let qty = |t: &TestEmu| {
        t.emu
            .handle()
            .entity(&t.realm, "Item", &id(&mug))
            .map(|i| i["QtyOnHand"].clone())
    };
    assert_eq!(qty(&t), Some(json!(7)));
    let (_, body) = t.post("refundreceipt", &json!({"Line": line})).await?;
    assert_eq!(fault_code(&body), Some("2020"));
    t.write(
        "refundreceipt",
        "RefundReceipt",
        json!({"Line": line, "DepositToAccountRef": {"value": t.account("Checking")}}),
    )
    .await?;
    assert_eq!(qty(&t), Some(json!(10)));
    Ok(())
}

#[tokio::test]
async fn bill_totals_and_vendor_required_on_sparse_update() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let v = t
        .write("vendor", "Vendor", json!({"DisplayName": "Clay Supplier"}))
        .await?;
    let bill = t
        .write(
            "bill",
            "Bill",
            json!({"VendorRef": {"value": id(&v)}, "DocNumber": "INV-77", "Line": [
                {"DetailType": "AccountBasedExpenseLineDetail", "Amount": 120.5, "AccountBasedExpenseLineDetail": {"AccountRef": {"value": t.account("OfficeGeneralAdministrativeExpenses")}}},
                {"DetailType": "AccountBasedExpenseLineDetail", "Amount": 10, "AccountBasedExpenseLineDetail": {"AccountRef": {"value": t.account("OfficeGeneralAdministrativeExpenses")}}}]}),
        )
        .await?;
    assert_eq!(cents(&bill["TotalAmt"]), "130.50");
    assert_eq!(cents(&bill["Balance"]), "130.50");
    let vendor = t
        .emu
        .handle()
        .entity(&t.realm, "Vendor", &id(&v))
        .unwrap_or_default();
    assert_eq!(cents(&vendor["Balance"]), "130.50");
    let (_, body) = t
        .post(
            "bill",
            &json!({"Id": id(&bill), "SyncToken": "0", "sparse": true, "PrivateNote": "x"}),
        )
        .await?;
    assert_eq!(fault_code(&body), Some("2020"));
    let ok = t
        .write("bill", "Bill", json!({"Id": id(&bill), "SyncToken": "0", "sparse": true, "VendorRef": {"value": id(&v)}, "PrivateNote": "x"}))
        .await?;
    assert_eq!(ok["PrivateNote"], "x");
    assert_eq!(cents(&ok["TotalAmt"]), "130.50");
    Ok(())
}

#[tokio::test]
async fn non_us_company_requires_a_tax_code_on_every_line_and_supports_inclusive_prices(
) -> anyhow::Result<()> {
    let realm = RealmConfig {
        realm_id: "4620816365178".into(),
        home_currency: "GBP".into(),
        country: "GB".into(),
        ..RealmConfig::default()
    };
    let t = common::TestEmu::with(EmulatorConfig {
        realms: vec![realm],
        ..EmulatorConfig::default()
    })
    .await?;
    let c = t.customer("UK buyer").await?;
    let item = t.service_item("Teapot", 24.0).await?;
    let vat = t.tax_code("20.0% S");
    let (_, body) = t
        .post("salesreceipt", &json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 24, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}))
        .await?;
    assert_eq!(fault_code(&body), Some("6000"));
    let line = json!([{"DetailType": "SalesItemLineDetail", "Amount": 24, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}, "TaxCodeRef": {"value": vat}}}]);
    let excl = t
        .write(
            "salesreceipt",
            "SalesReceipt",
            json!({"CustomerRef": {"value": id(&c)}, "Line": line}),
        )
        .await?;
    assert_eq!(cents(&excl["TotalAmt"]), "28.80");
    let incl = t
        .write("salesreceipt", "SalesReceipt", json!({"CustomerRef": {"value": id(&c)}, "GlobalTaxCalculation": "TaxInclusive", "Line": line}))
        .await?;
    assert_eq!(cents(&incl["TotalAmt"]), "24.00");
    assert_eq!(cents(&incl["TxnTaxDetail"]["TotalTax"]), "4.00");
    Ok(())
}

#[tokio::test]
async fn deleting_a_payment_reopens_the_invoice_and_unlinks_it() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Undo").await?;
    let item = t.service_item("Undo item", 12.0).await?;
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 12, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}}]}),
        )
        .await?;
    let pay = t
        .write(
            "payment",
            "Payment",
            json!({"CustomerRef": {"value": id(&c)}, "TotalAmt": 5, "Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": id(&inv), "TxnType": "Invoice"}]}]}),
        )
        .await?;
    let partly = t
        .emu
        .handle()
        .entity(&t.realm, "Invoice", &id(&inv))
        .unwrap_or_default();
    assert_eq!(cents(&partly["Balance"]), "7.00");
    t.write(
        "payment?operation=delete",
        "Payment",
        json!({"Id": id(&pay), "SyncToken": "0"}),
    )
    .await?;
    let reopened = t
        .emu
        .handle()
        .entity(&t.realm, "Invoice", &id(&inv))
        .unwrap_or_default();
    assert_eq!(cents(&reopened["Balance"]), "12.00");
    assert_eq!(reopened["LinkedTxn"], json!([]));
    assert_eq!(reopened["SyncToken"], "2");
    Ok(())
}

#[tokio::test]
async fn voiding_a_sales_receipt_returns_its_stock() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let mug = t.inventory_item("Void mug", 4).await?;
    let sr = t
        .write(
            "salesreceipt",
            "SalesReceipt",
            json!({"Line": [{"DetailType": "SalesItemLineDetail", "Amount": 30, "SalesItemLineDetail": {"ItemRef": {"value": id(&mug)}, "Qty": 3, "UnitPrice": 10}}]}),
        )
        .await?;
    let qty = |t: &TestEmu| {
        t.emu
            .handle()
            .entity(&t.realm, "Item", &id(&mug))
            .map(|i| i["QtyOnHand"].clone())
    };
    assert_eq!(qty(&t), Some(json!(1)));
    let voided = t
        .write(
            "salesreceipt?operation=update&include=void",
            "SalesReceipt",
            json!({"Id": id(&sr), "SyncToken": "0", "sparse": true}),
        )
        .await?;
    assert_eq!(voided["TotalAmt"], 0);
    assert_eq!(qty(&t), Some(json!(4)));
    Ok(())
}

#[tokio::test]
async fn us_lines_without_tax_code_follow_the_item_taxable_flag() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let c = t.customer("Defaults").await?;
    let taxable = t.service_item("Taxable thing", 100.0).await?;
    let income = t.account("SalesOfProductIncome");
    let exempt = t
        .write("item", "Item", json!({"Name": "Exempt thing", "Type": "Service", "Taxable": false, "IncomeAccountRef": {"value": income}}))
        .await?;
    let code = t.tax_code("California");
    let inv = t
        .write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": id(&c)}, "TxnTaxDetail": {"TxnTaxCodeRef": {"value": code}}, "Line": [
                {"DetailType": "SalesItemLineDetail", "Amount": 100, "SalesItemLineDetail": {"ItemRef": {"value": id(&taxable)}}},
                {"DetailType": "SalesItemLineDetail", "Amount": 50, "SalesItemLineDetail": {"ItemRef": {"value": id(&exempt)}}}]}),
        )
        .await?;
    assert_eq!(
        inv["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]["value"],
        "TAX"
    );
    assert_eq!(
        inv["Line"][1]["SalesItemLineDetail"]["TaxCodeRef"]["value"],
        "NON"
    );
    assert_eq!(cents(&inv["TxnTaxDetail"]["TotalTax"]), "8.25");
    assert_eq!(cents(&inv["TotalAmt"]), "158.25");
    Ok(())
}

#[tokio::test]
async fn rounding_mode_is_a_setting() -> anyhow::Result<()> {
    use nopbridge_emu_quickbooks::{config::Rounding, ValidationConfig};
    for (mode, expected) in [(Rounding::HalfUp, "0.13"), (Rounding::HalfEven, "0.12")] {
        let cfg = EmulatorConfig {
            validation: ValidationConfig {
                rounding: mode,
                ..ValidationConfig::default()
            },
            ..EmulatorConfig::default()
        };
        let t = TestEmu::with(cfg).await?;
        let c = t.customer("Rounder").await?;
        let item = t.service_item("Cheap", 1.25).await?;
        // 10 % of 1.25 = 0.125: the midpoint.
        let inv = t
            .write(
                "invoice",
                "Invoice",
                json!({"CustomerRef": {"value": id(&c)}, "Line": [
                    {"DetailType": "SalesItemLineDetail", "Amount": 1.25, "SalesItemLineDetail": {"ItemRef": {"value": id(&item)}}},
                    {"DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": true, "DiscountPercent": 10}}]}),
            )
            .await?;
        assert_eq!(cents(&inv["Line"][2]["Amount"]), expected, "{mode:?}");
    }
    Ok(())
}
