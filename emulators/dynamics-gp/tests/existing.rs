//! Unposted SOP documents after they were entered: payments added later (a payment-only
//! SOPTransactionType; Action 1 always adds), UpdateExisting as a setting, and what a person does in Sales
//! Transaction Entry (edit a line, delete the document) over the control routes; posted
//! documents refuse all of it.

mod common;

use common::{doc, payment, Sop, TestGp, COMPANY};
use nopbridge_emu_dynamics_gp::{EmulatorConfig, ErrorNumbers, ValidationConfig};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;

fn e() -> ErrorNumbers {
    ErrorNumbers::default()
}

fn payments_only(payments: &[String]) -> String {
    doc(&format!(
        "<SOPTransactionType><taCreateSopPaymentInsertRecord_Items>{}</taCreateSopPaymentInsertRecord_Items></SOPTransactionType>",
        payments.concat()
    ))
}

/// An invoice of 3 × 10.00 + 20 % (36.00) with nothing paid yet.
fn unpaid(number: &str) -> Sop {
    Sop {
        payments: Vec::new(),
        pymtrcvd: "0".into(),
        ..Sop::simple(number, "WIDGET-RED", 3)
    }
}

#[tokio::test]
async fn payments_are_added_later_to_an_unposted_document_once() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    t.accept(&unpaid("LATE1").to_xml()).await?;
    let first = payment(3, "LATE1", "20.00", 6);
    t.accept(&payments_only(std::slice::from_ref(&first)))
        .await?;
    let h = t.emu.handle();
    let d = h.sop_document(COMPANY, 3, "LATE1").unwrap_or_default();
    assert_eq!(d["header"]["PYMTRCVD"], "20.00");
    assert_eq!(d["payments"].as_array().map(Vec::len), Some(1));
    let second = |amount: &str| {
        payment(3, "LATE1", amount, 6).replace("<DOCNUMBR>PLATE1<", "<DOCNUMBR>PLATE1B<")
    };
    let (n, _) = t.reject(&payments_only(&[second("20.00")])).await?;
    assert_eq!(
        n,
        Some(e().payment_exceeds_document),
        "16.00 is left to pay"
    );
    t.accept(&payments_only(&[second("16.00")])).await?;
    let d = h.sop_document(COMPANY, 3, "LATE1").unwrap_or_default();
    assert_eq!(d["header"]["PYMTRCVD"], "36.00");
    let (n, _) = t
        .reject(&payments_only(&[payment(3, "NOPE", "1.00", 6)]))
        .await?;
    assert_eq!(n, Some(e().unknown_document));
    // Documents are keyed by type and number: LATE1 is an invoice, not an order.
    let (n, _) = t
        .reject(&payments_only(&[payment(2, "LATE1", "1.00", 1)]))
        .await?;
    assert_eq!(n, Some(e().unknown_document));
    // Posted: GP keeps it as it is.
    t.accept(&unpaid("LATE2").to_xml()).await?;
    h.post_batch(COMPANY, "WEB20250314");
    let (n, _) = t
        .reject(&payments_only(&[payment(3, "LATE2", "1.00", 6)]))
        .await?;
    assert_eq!(n, Some(e().posted_document));
    // Where eConnect would want the header with them (the setting).
    let strict = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            payments_on_existing_documents: false,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    strict.seed().await?;
    strict.accept(&unpaid("LATE1").to_xml()).await?;
    let (n, m) = strict.reject(&payments_only(&[first])).await?;
    assert_eq!(n, Some(e().missing_value), "{m}");
    Ok(())
}

/// "Action=1 always adds" (§B7): the same payment sent twice is two payments, unless the
/// installation refuses a DOCNUMBR already on the document (the setting).
#[tokio::test]
async fn a_payment_sent_twice_is_added_twice_unless_numbers_are_unique() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    t.accept(&unpaid("TWICE").to_xml()).await?;
    let p = payment(3, "TWICE", "10.00", 6);
    t.accept(&payments_only(std::slice::from_ref(&p))).await?;
    t.accept(&payments_only(std::slice::from_ref(&p))).await?;
    let d = t
        .emu
        .handle()
        .sop_document(COMPANY, 3, "TWICE")
        .unwrap_or_default();
    assert_eq!(d["header"]["PYMTRCVD"], "20.00");
    let unique = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            refuse_duplicate_payment_numbers: true,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    unique.seed().await?;
    unique.accept(&unpaid("TWICE").to_xml()).await?;
    unique
        .accept(&payments_only(std::slice::from_ref(&p)))
        .await?;
    let (n, m) = unique.reject(&payments_only(&[p])).await?;
    assert_eq!(n, Some(e().duplicate_payment), "{m}");
    Ok(())
}

#[tokio::test]
async fn a_person_edits_and_deletes_unposted_documents_but_not_posted_ones() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    t.accept(&unpaid("EDIT1").to_xml()).await?;
    let h = t.emu.handle();
    let base = format!("{}/__emulator/companies/{COMPANY}/sop/3", t.emu.base_url());
    let edit = |number: &str, body: serde_json::Value| {
        t.client
            .put(format!("{base}/{number}/lines/16384"))
            .json(&body)
            .send()
    };
    // 3 → 4 at 10.00: SUBTOTAL 40.00, DOCAMNT 46.00 (the 6.00 tax stays), one more allocated.
    let r = edit("EDIT1", json!({"QUANTITY": "4", "UNITPRCE": "10.00"})).await?;
    assert_eq!(r.status(), StatusCode::OK);
    let d = h.sop_document(COMPANY, 3, "EDIT1").unwrap_or_default();
    assert_eq!(
        (
            d["header"]["SUBTOTAL"].clone(),
            d["header"]["DOCAMNT"].clone()
        ),
        (json!("40.00"), json!("46.00"))
    );
    assert_eq!(d["lines"][0]["XTNDPRCE"], "40");
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(10), Decimal::from(4)))
    );
    // More than the site has: refused.
    let r = edit("EDIT1", json!({"QUANTITY": "11", "UNITPRCE": "10.00"})).await?;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = edit("NOPE", json!({"QUANTITY": "1", "UNITPRCE": "1"})).await?;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Deleted: gone, its allocation released, its number free again.
    let r = t.client.delete(format!("{base}/EDIT1")).send().await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(h.sop_document(COMPANY, 3, "EDIT1").is_none());
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(10), Decimal::ZERO))
    );
    t.accept(&unpaid("EDIT1").to_xml()).await?;
    // A paid document cannot drop below what was received.
    t.accept(&Sop::simple("PAID1", "GADGET-XL", 2).to_xml())
        .await?;
    let r = t
        .client
        .put(format!("{base}/PAID1/lines/16384"))
        .json(&json!({"QUANTITY": "1", "UNITPRCE": "10.00"}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // Posted documents are history.
    h.post_batch(COMPANY, "WEB20250314");
    let r = t.client.delete(format!("{base}/EDIT1")).send().await?;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = edit("EDIT1", json!({"QUANTITY": "2", "UNITPRCE": "10.00"})).await?;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(h.delete_sop_document(COMPANY, 3, "EDIT1").is_err());
    Ok(())
}

#[tokio::test]
async fn update_existing_can_be_refused_by_setting() -> anyhow::Result<()> {
    let t = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            allow_update_existing: false,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    t.seed().await?;
    t.accept(&Sop::simple("UX1", "WIDGET-RED", 3).to_xml())
        .await?;
    let again = Sop {
        update_existing: true,
        ..Sop::simple("UX1", "WIDGET-RED", 2)
    };
    assert_eq!(
        t.reject(&again.to_xml()).await?.0,
        Some(e().duplicate_document)
    );
    Ok(())
}
