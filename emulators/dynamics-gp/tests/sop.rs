//! SOP documents: the errata-1 arithmetic, error 67, duplicates, auto-numbering,
//! UpdateExisting, stock with back orders (4776), posting, taxes and payments.

mod common;

use common::{line, payment, tag, tax_row, Sop, TestGp, COMPANY};
use nopbridge_emu_dynamics_gp::{EmulatorConfig, ErrorNumbers, ValidationConfig};
use rust_decimal::Decimal;

fn e() -> ErrorNumbers {
    ErrorNumbers::default()
}

#[tokio::test]
async fn the_sample_invoice_with_line_only_header_tax_is_accepted_and_stored() -> anyhow::Result<()>
{
    let t = TestGp::start().await?;
    t.seed().await?;
    let echo = t.accept(&Sop::sample("WEB100457").to_xml()).await?;
    assert!(echo.contains("<SOPNUMBE>WEB100457</SOPNUMBE>"));
    let h = t.emu.handle();
    let d = h
        .sop_document(COMPANY, 3, "WEB100457")
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    assert_eq!(d["header"]["DOCAMNT"], "72.59");
    assert_eq!(d["header"]["TAXAMNT"], "11.10");
    assert_eq!(d["BACHNUMB"], "WEB20250314");
    assert_eq!(d["lines"].as_array().map(Vec::len), Some(2));
    assert_eq!(d["lines"][0]["QTYFULFI"], "2");
    assert_eq!(d["taxes"].as_array().map(Vec::len), Some(3));
    assert_eq!(d["payments"][0]["DOCAMNT"], "72.59");
    assert_eq!(d["tracking_numbers"][0], "JD014600006281230471");
    assert_eq!(d["posted"], false);
    // Allocated, not yet taken off: invoices move stock when posted.
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(10), Decimal::from(2)))
    );
    assert_eq!(h.post_batch(COMPANY, "WEB20250314"), 1);
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(8), Decimal::ZERO))
    );
    assert_eq!(
        h.sop_document(COMPANY, 3, "WEB100457")
            .map(|d| d["posted"].clone()),
        Some(serde_json::json!(true))
    );
    let batches = h.batches(COMPANY);
    assert_eq!(batches[0]["total"], "72.59");
    Ok(())
}

#[tokio::test]
async fn the_reference_sample_header_tax_of_12_10_is_refused() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let wrong = Sop {
        taxamnt: "12.10".into(),
        docamnt: "73.59".into(),
        ..Sop::sample("WEB1")
    };
    let (n, m) = t.reject(&wrong.to_xml()).await?;
    assert_eq!(n, Some(e().tax_mismatch));
    assert!(
        m.contains("TAXAMNT 12.10 does not equal the line taxes 11.10"),
        "{m}"
    );
    assert!(t.emu.handle().sop_documents(COMPANY).is_empty());
    Ok(())
}

#[tokio::test]
async fn subtotal_mismatch_line_type_mismatch_and_markdown_percent_are_error_67(
) -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let (n, m) = t
        .reject(
            &Sop {
                subtotal: "55.49".into(),
                ..Sop::sample("A1")
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(67));
    assert!(m.starts_with("Error Number = 67  Stored Procedure= taSopHdrIvcInsert  Error Description = Subtotal does not match the line item totals"), "{m}");
    let (n, _) = t
        .reject(
            &Sop {
                line_soptype: Some(2),
                ..Sop::sample("A2")
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(67));
    let mut markdown = Sop::sample("A3");
    markdown.lines[0].extra = "<MRKDNPCT>10</MRKDNPCT>".into();
    assert_eq!(t.reject(&markdown.to_xml()).await?.0, Some(67));
    markdown.defpricing = 1;
    // With DEFPRICING=1 the markdown percent passes (the totals still hold).
    t.accept(&markdown.to_xml()).await?;
    Ok(())
}

#[tokio::test]
async fn document_amount_payments_and_extended_prices_must_add_up() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let (n, m) = t
        .reject(
            &Sop {
                docamnt: "72.60".into(),
                ..Sop::sample("B1")
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(e().document_amount_mismatch));
    assert!(m.contains("(72.59)"), "{m}");
    let (n, _) = t
        .reject(
            &Sop {
                pymtrcvd: "70.00".into(),
                ..Sop::sample("B2")
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(e().payment_received_mismatch));
    let over = Sop {
        payments: vec![payment(3, "B3", "80.00", 6)],
        pymtrcvd: "80.00".into(),
        ..Sop::sample("B3")
    };
    assert_eq!(
        t.reject(&over.to_xml()).await?.0,
        Some(e().payment_exceeds_document)
    );
    let mut ext = Sop::sample("B4");
    ext.lines[0].extended = "20.01".into();
    ext.subtotal = "55.51".into();
    assert_eq!(
        t.reject(&ext.to_xml()).await?.0,
        Some(e().extended_price_mismatch)
    );
    // Freight, misc and trade discount take part in DOCAMNT: 55.50 - 5.50 + 4.99 + 2.00
    // + 11.10 + 1.00 = 69.09.
    let discounted = Sop {
        docamnt: "69.09".into(),
        pymtrcvd: "69.09".into(),
        payments: vec![payment(3, "B5", "69.09", 6)],
        ..Sop::sample("B5")
    }
    .to_xml()
    .replace(
        "<FREIGHT>4.99</FREIGHT><CUSTNMBR>",
        "<FREIGHT>4.99</FREIGHT><MISCAMNT>2.00</MISCAMNT><TRDISAMT>5.50</TRDISAMT><CUSTNMBR>",
    );
    t.accept(&discounted).await?;
    let too_much_discount = discounted
        .replace("<TRDISAMT>5.50</TRDISAMT>", "<TRDISAMT>60.00</TRDISAMT>")
        .replace("<SOPNUMBE>B5</SOPNUMBE>", "<SOPNUMBE>B7</SOPNUMBE>");
    assert_eq!(
        t.reject(&too_much_discount).await?.0,
        Some(e().invalid_value)
    );
    let deposit_on_invoice = Sop {
        payments: vec![payment(3, "B6", "72.59", 3)],
        ..Sop::sample("B6")
    };
    assert_eq!(
        t.reject(&deposit_on_invoice.to_xml()).await?.0,
        Some(e().invalid_value)
    );
    assert_eq!(t.emu.handle().sop_documents(COMPANY).len(), 1);
    Ok(())
}

#[tokio::test]
async fn tax_detail_rows_must_reconcile_with_lines_and_freight() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let mut wrong_line = Sop::sample("T1");
    wrong_line.taxes[1] = tax_row(
        3,
        "T1",
        0,
        32768,
        "<SALESAMT>35.50</SALESAMT>",
        "<STAXAMNT>7.00</STAXAMNT>",
    );
    let (n, m) = t.reject(&wrong_line.to_xml()).await?;
    assert_eq!(n, Some(e().tax_mismatch));
    assert!(m.contains("line 32768"), "{m}");
    let mut wrong_freight = Sop::sample("T2");
    wrong_freight.taxes[2] = tax_row(
        3,
        "T2",
        1,
        0,
        "<FRTTXAMT>0.99</FRTTXAMT><FREIGHT>4.99</FREIGHT>",
        "",
    );
    assert_eq!(
        t.reject(&wrong_freight.to_xml()).await?.0,
        Some(e().tax_mismatch)
    );
    let mut orphan = Sop::sample("T3");
    orphan.taxes[0] = tax_row(
        3,
        "T3",
        0,
        99,
        "<SALESAMT>20.00</SALESAMT>",
        "<STAXAMNT>4.00</STAXAMNT>",
    );
    assert_eq!(t.reject(&orphan.to_xml()).await?.0, Some(e().invalid_value));
    let mut unknown_detail = Sop::sample("T4");
    unknown_detail.taxes[0] = unknown_detail.taxes[0].replace("UKVAT20S", "NOPE");
    assert_eq!(
        t.reject(&unknown_detail.to_xml()).await?.0,
        Some(e().unknown_setup_id)
    );
    Ok(())
}

#[tokio::test]
async fn duplicates_are_refused_whole_and_update_existing_replaces() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    t.accept(&Sop::simple("DUP1", "WIDGET-RED", 3).to_xml())
        .await?;
    // The duplicate rides with a new customer: the whole document rolls back.
    let retry = Sop {
        customer_node: "<taUpdateCreateCustomerRcd><CUSTNMBR>NEWCUST</CUSTNMBR><ADRSCODE>PRIMARY</ADRSCODE></taUpdateCreateCustomerRcd>".into(),
        ..Sop::simple("DUP1", "WIDGET-RED", 3)
    };
    let (n, m) = t.reject(&retry.to_xml()).await?;
    assert_eq!(n, Some(e().duplicate_document));
    assert!(m.contains("SOP number DUP1 already exists"));
    let h = t.emu.handle();
    assert!(h.customer(COMPANY, "NEWCUST").is_none());
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(10), Decimal::from(3)))
    );
    // UpdateExisting=1 replaces the unposted document and its allocation.
    let replaced = Sop {
        update_existing: true,
        ..Sop::simple("DUP1", "WIDGET-RED", 1)
    };
    t.accept(&replaced.to_xml()).await?;
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(10), Decimal::ONE))
    );
    assert_eq!(h.sop_documents(COMPANY).len(), 1);
    h.post_batch(COMPANY, "WEB20250314");
    let (n, _) = t
        .reject(
            &Sop {
                update_existing: true,
                ..Sop::simple("DUP1", "WIDGET-RED", 1)
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(e().posted_document));
    // The same number under another SOP type is another document.
    let order = Sop {
        soptype: 2,
        docid: "STDORD".into(),
        payments: vec![payment(2, "DUP1", "12.00", 4)],
        ..Sop::simple("DUP1", "WIDGET-RED", 1)
    };
    assert_eq!(
        t.reject(&order.to_xml()).await?.0,
        Some(e().invalid_value),
        "payments (4-6) do not go on orders"
    );
    let order = Sop {
        payments: vec![payment(2, "DUP1", "12.00", 1)],
        ..order
    };
    t.accept(&order.to_xml()).await?;
    assert_eq!(h.sop_documents(COMPANY).len(), 2);
    Ok(())
}

#[tokio::test]
async fn an_empty_sopnumbe_takes_the_next_number_of_the_docid() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let auto = Sop {
        payments: vec![payment(3, "", "12.00", 6)],
        ..Sop::simple("", "WIDGET-RED", 1)
    };
    let echo = t.accept(&auto.to_xml()).await?;
    assert_eq!(tag(&echo, "SOPNUMBE").as_deref(), Some("INV000001"));
    assert_eq!(
        echo.matches("<SOPNUMBE>INV000001</SOPNUMBE>").count(),
        3,
        "header, line and payment"
    );
    let echo = t.accept(&auto.to_xml()).await?;
    assert_eq!(tag(&echo, "SOPNUMBE").as_deref(), Some("INV000002"));
    let resp = t
        .client
        .get(format!(
            "{}/GetNextSopNumber?soptype=3&docid=STDINV",
            t.emu.econnect_url(COMPANY)
        ))
        .bearer_auth(t.emu.handle().shared_secret())
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(tag(&resp, "SOPNUMBE").as_deref(), Some("INV000003"));
    let (n, _) = t
        .reject(
            &Sop {
                docid: "NODOC".into(),
                ..Sop::simple("X1", "WIDGET-RED", 1)
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(e().unknown_doc_id));
    Ok(())
}

#[tokio::test]
async fn lengths_of_document_fields() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let long_number = "W".repeat(22);
    let (n, m) = t
        .reject(&Sop::simple(&long_number, "WIDGET-RED", 1).to_xml())
        .await?;
    assert_eq!(n, Some(e().field_too_long));
    assert!(m.contains("SOPNUMBE is longer than 21"), "{m}");
    t.accept(&Sop::simple(&"W".repeat(21), "WIDGET-RED", 1).to_xml())
        .await?;
    let (n, m) = t
        .reject(
            &Sop {
                docid: "D".repeat(16),
                ..Sop::simple("L2", "WIDGET-RED", 1)
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(e().field_too_long));
    assert!(m.contains("DOCID"));
    let site = Sop::simple("L3", "WIDGET-RED", 1).to_xml().replacen(
        "<LOCNCODE>MAIN</LOCNCODE>",
        "<LOCNCODE>MAINWAREHSE</LOCNCODE>",
        1,
    );
    let (n, m) = t.reject(&site).await?;
    assert_eq!(n, Some(e().field_too_long));
    assert!(m.contains("LOCNCODE is longer than 10"));
    Ok(())
}

#[tokio::test]
async fn short_stock_is_refused_with_4776_unless_back_orders_or_cancel() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let h = t.emu.handle();
    // 12 wanted, 10 on hand, no back orders allowed.
    let (n, m) = t
        .reject(&Sop::simple("S1", "WIDGET-RED", 12).to_xml())
        .await?;
    assert_eq!(n, Some(4776));
    assert!(m.starts_with("Error Number = 4776  Stored Procedure= taSopLineIvcInsert  Error Description = Item does not allow back orders"), "{m}");
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(10), Decimal::ZERO))
    );
    // Allocation counts: 8 + 3 > 10.
    t.accept(&Sop::simple("S2", "WIDGET-RED", 8).to_xml())
        .await?;
    assert_eq!(
        t.reject(&Sop::simple("S3", "WIDGET-RED", 3).to_xml())
            .await?
            .0,
        Some(4776)
    );
    // Cancel the balance (QtyShrtOpt 6): 2 fulfilled, 1 cancelled.
    let mut cancel = Sop::simple("S4", "WIDGET-RED", 3);
    cancel.lines[0].tail = "<QtyShrtOpt>6</QtyShrtOpt>".into();
    t.accept(&cancel.to_xml()).await?;
    let d = h.sop_document(COMPANY, 3, "S4").unwrap_or_default();
    assert_eq!(
        (
            d["lines"][0]["QTYFULFI"].clone(),
            d["lines"][0]["QTYCANCE"].clone()
        ),
        ("2".into(), "1".into())
    );
    // An item that allows back orders back-orders the shortage.
    t.accept(&common::item("GADGET-XL", 1)).await?;
    t.accept(&Sop::simple("S5", "GADGET-XL", 7).to_xml())
        .await?;
    let d = h.sop_document(COMPANY, 3, "S5").unwrap_or_default();
    assert_eq!(
        (
            d["lines"][0]["QTYFULFI"].clone(),
            d["lines"][0]["QTYTBAOR"].clone()
        ),
        ("5".into(), "2".into())
    );
    // Override allowed by setting: stock may go below zero on posting.
    let lenient = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            allow_override_shortage: true,
            auto_post: true,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    lenient.seed().await?;
    lenient
        .accept(&Sop::simple("O1", "WIDGET-RED", 12).to_xml())
        .await?;
    assert_eq!(
        lenient.emu.handle().quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(-2), Decimal::ZERO))
    );
    Ok(())
}

#[tokio::test]
async fn returns_put_stock_back_on_posting_and_quotes_allocate_nothing() -> anyhow::Result<()> {
    let t = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            auto_post: true,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    t.seed().await?;
    let h = t.emu.handle();
    t.accept(&Sop::simple("INV1", "WIDGET-RED", 4).to_xml())
        .await?;
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(6), Decimal::ZERO))
    );
    let ret = Sop {
        soptype: 4,
        docid: "STDRTN".into(),
        payments: Vec::new(),
        pymtrcvd: "0".into(),
        ..Sop::simple("RTN1", "WIDGET-RED", 1)
    };
    t.accept(&ret.to_xml()).await?;
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(7), Decimal::ZERO))
    );
    let quote = Sop {
        soptype: 1,
        docid: "STDQTE".into(),
        payments: Vec::new(),
        pymtrcvd: "0".into(),
        ..Sop::simple("Q1", "WIDGET-RED", 50)
    };
    t.accept(&quote.to_xml()).await?;
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN"),
        Some((Decimal::from(7), Decimal::ZERO))
    );
    Ok(())
}

#[tokio::test]
async fn unknown_references_are_named_by_their_procedure() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    let (n, m) = t
        .reject(&Sop::simple("U1", "NO-SUCH-ITEM", 1).to_xml())
        .await?;
    assert_eq!(n, Some(e().unknown_item));
    assert!(m.contains("Stored Procedure= taSopLineIvcInsert"));
    let mut non_inventory = Sop::simple("U2", "NO-SUCH-ITEM", 1);
    non_inventory.lines[0].tail = String::new();
    let xml = non_inventory.to_xml().replace(
        "<ITEMDESC>Item</ITEMDESC><TAXAMNT>2.00</TAXAMNT>",
        "<ITEMDESC>Item</ITEMDESC><TAXAMNT>2.00</TAXAMNT><NONINVEN>1</NONINVEN>",
    );
    t.accept(&xml).await?;
    let (n, _) = t
        .reject(
            &Sop {
                customer: "NOBODY".into(),
                ..Sop::simple("U3", "WIDGET-RED", 1)
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(e().unknown_customer));
    let site = Sop::simple("U4", "WIDGET-RED", 1).to_xml().replacen(
        "<LOCNCODE>MAIN</LOCNCODE>",
        "<LOCNCODE>NOWHERE</LOCNCODE>",
        1,
    );
    assert_eq!(t.reject(&site).await?.0, Some(e().unknown_site));
    let ship = Sop::simple("U5", "WIDGET-RED", 1).to_xml().replace(
        "<SHIPMTHD>RM48</SHIPMTHD>",
        "<SHIPMTHD>CARRIER-PIGEON</SHIPMTHD>",
    );
    assert_eq!(t.reject(&ship).await?.0, Some(e().unknown_setup_id));
    let card = Sop::simple("U6", "WIDGET-RED", 1)
        .to_xml()
        .replace("<CARDNAME>VISA</CARDNAME>", "<CARDNAME>DINERS</CARDNAME>");
    assert_eq!(t.reject(&card).await?.0, Some(e().unknown_setup_id));
    let (n, _) = t
        .reject(
            &Sop {
                lines: vec![line("WIDGET-RED", "0", "10.00", "0.00", "0.00", 16384)],
                subtotal: "0".into(),
                taxamnt: "0".into(),
                docamnt: "0".into(),
                pymtrcvd: "0".into(),
                payments: Vec::new(),
                ..Sop::simple("U7", "WIDGET-RED", 1)
            }
            .to_xml(),
        )
        .await?;
    assert_eq!(n, Some(e().invalid_value));
    // A customer and an order in one document: created together.
    let together = Sop { customer: "TOGETHER".into(), customer_node: "<taUpdateCreateCustomerRcd><CUSTNMBR>TOGETHER</CUSTNMBR><ADRSCODE>PRIMARY</ADRSCODE></taUpdateCreateCustomerRcd>".into(), ..Sop::simple("U8", "WIDGET-RED", 1) };
    let xml = together
        .to_xml()
        .replace(
            "<CUSTNMBR>WEB000123</CUSTNMBR>",
            "<CUSTNMBR>TOGETHER</CUSTNMBR>",
        )
        .replace("<PRSTADCD>SHIP01</PRSTADCD>", "");
    t.accept(&xml).await?;
    assert!(t.emu.handle().customer(COMPANY, "TOGETHER").is_some());
    Ok(())
}
