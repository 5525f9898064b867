//! Inventory adjustments (IVInventoryTransactionType): schema order, lengths, items and sites,
//! duplicate numbers, shortage with OverrideQty=0, and stock moving when the batch posts.

mod common;

use common::{doc, tag, TestGp, COMPANY};
use nopbridge_emu_dynamics_gp::{EmulatorConfig, ErrorNumbers, ValidationConfig};
use rust_decimal::Decimal;

const BATCH: &str = "WEBIV20250314";

/// (item, site, TRXQTY, extra leaves after TRXLOCTN)
type Row<'a> = (&'a str, &'a str, &'a str, &'a str);

fn adjustment(number: &str, rows: &[Row]) -> String {
    let lines: String = rows
        .iter()
        .enumerate()
        .map(|(i, (item, site, qty, extra))| {
            format!(
                "<taIVTransactionLineInsert><IVDOCNBR>{number}</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><ITEMNMBR>{item}</ITEMNMBR><LNSEQNBR>{}</LNSEQNBR><TRXQTY>{qty}</TRXQTY><TRXLOCTN>{site}</TRXLOCTN>{extra}</taIVTransactionLineInsert>",
                (i + 1) * 16384
            )
        })
        .collect();
    doc(&format!(
        "<IVInventoryTransactionType><taIVTransactionLineInsert_Items>{lines}</taIVTransactionLineInsert_Items><taIVTransactionHeaderInsert><BACHNUMB>{BATCH}</BACHNUMB><IVDOCNBR>{number}</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><DOCDATE>2025-03-14</DOCDATE><NOTETEXT>Store stock count [nopbridge c-1]</NOTETEXT></taIVTransactionHeaderInsert></IVInventoryTransactionType>"
    ))
}

fn on_hand(t: &TestGp, item: &str, site: &str) -> Option<Decimal> {
    t.emu
        .handle()
        .quantity(COMPANY, item, site)
        .map(|(on_hand, _)| on_hand)
}

#[tokio::test]
async fn an_adjustment_waits_in_its_batch_and_moves_stock_when_posted() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    t.accept(&adjustment(
        "ADJ0001",
        &[
            ("WIDGET-RED", "MAIN", "7", ""),
            ("GADGET-XL", "MAIN", "-3", ""),
            ("WIDGET-RED", "WAREHOUSE", "2", ""),
        ],
    ))
    .await?;
    let h = t.emu.handle();
    let kept = h
        .iv_document(COMPANY, "adj0001")
        .ok_or_else(|| anyhow::anyhow!("the document is kept"))?;
    assert_eq!(kept["posted"], false);
    assert_eq!(kept["BACHNUMB"], BATCH);
    assert_eq!(kept["lines"][1]["TRXQTY"], "-3");
    assert_eq!(kept["header"]["POSTTOGL"], "1", "schema default applied");
    // Unposted: GP's on-hand has not moved.
    assert_eq!(on_hand(&t, "WIDGET-RED", "MAIN"), Some(10.into()));
    assert_eq!(h.post_batch(COMPANY, BATCH), 1);
    assert_eq!(on_hand(&t, "WIDGET-RED", "MAIN"), Some(17.into()));
    assert_eq!(on_hand(&t, "GADGET-XL", "MAIN"), Some(2.into()));
    assert_eq!(on_hand(&t, "WIDGET-RED", "WAREHOUSE"), Some(2.into()));
    // Posting again changes nothing.
    assert_eq!(h.post_batch(COMPANY, BATCH), 0);
    assert_eq!(on_hand(&t, "WIDGET-RED", "MAIN"), Some(17.into()));
    let batch = h
        .batches(COMPANY)
        .into_iter()
        .find(|b| b["BACHNUMB"] == BATCH)
        .ok_or_else(|| anyhow::anyhow!("batch {BATCH} exists"))?;
    assert_eq!(batch["series"], "Inventory");
    assert_eq!(h.company_counters(COMPANY).map(|c| c.iv_documents), Some(1));
    Ok(())
}

#[tokio::test]
async fn an_empty_number_is_assigned_and_echoed_and_auto_post_moves_stock_at_once(
) -> anyhow::Result<()> {
    let t = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            auto_post: true,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    t.seed().await?;
    let echo = t
        .accept(&adjustment("", &[("WIDGET-RED", "MAIN", "-4", "")]))
        .await?;
    let number = tag(&echo, "IVDOCNBR").unwrap_or_default();
    assert_eq!(number, "IVADJ000000001");
    assert_eq!(
        echo.matches("<IVDOCNBR>IVADJ000000001</IVDOCNBR>").count(),
        2
    );
    assert_eq!(on_hand(&t, "WIDGET-RED", "MAIN"), Some(6.into()));
    let read: serde_json::Value = t
        .client
        .get(format!(
            "{}/iv/{number}",
            t.emu.econnect_url(COMPANY).trim_end_matches("/econnect")
        ))
        .bearer_auth(t.emu.handle().shared_secret())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(read["posted"], true);
    assert_eq!(read["lines"][0]["ITEMNMBR"], "WIDGET-RED");
    Ok(())
}

#[tokio::test]
async fn unknown_items_and_sites_duplicates_and_shortages_are_refused_whole() -> anyhow::Result<()>
{
    let t = TestGp::start().await?;
    t.seed().await?;
    let e = ErrorNumbers::default();
    // The good line goes first: nothing of the document may land.
    let (n, m) = t
        .reject(&adjustment(
            "ADJ0002",
            &[
                ("WIDGET-RED", "MAIN", "5", ""),
                ("NO-SUCH-SKU", "MAIN", "1", ""),
            ],
        ))
        .await?;
    assert_eq!(n, Some(e.unknown_item));
    assert!(
        m.contains("Stored Procedure= taIVTransactionLineInsert"),
        "{m}"
    );
    assert!(m.contains("Item number NO-SUCH-SKU does not exist"), "{m}");
    assert!(m.contains("ITEMNMBR = NO-SUCH-SKU"), "{m}");
    let (n, m) = t
        .reject(&adjustment("ADJ0002", &[("WIDGET-RED", "ATTIC", "5", "")]))
        .await?;
    assert_eq!(n, Some(e.unknown_site));
    assert!(m.contains("Site ID ATTIC does not exist"), "{m}");
    assert!(t.emu.handle().iv_documents(COMPANY).is_empty());

    t.accept(&adjustment("ADJ0002", &[("WIDGET-RED", "MAIN", "5", "")]))
        .await?;
    let (n, m) = t
        .reject(&adjustment("adj0002", &[("GADGET-XL", "MAIN", "1", "")]))
        .await?;
    assert_eq!(n, Some(e.duplicate_adjustment));
    assert!(m.contains("Document number adj0002 already exists"), "{m}");
    assert_eq!(t.emu.handle().iv_documents(COMPANY).len(), 1);

    // OverrideQty=0: a decrease may not take more than the site has (5 GADGET-XL at MAIN),
    // counting every line of the document.
    let strict = "<OverrideQty>0</OverrideQty>";
    let (n, m) = t
        .reject(&adjustment(
            "ADJ0003",
            &[
                ("GADGET-XL", "MAIN", "-3", strict),
                ("GADGET-XL", "MAIN", "-3", strict),
            ],
        ))
        .await?;
    assert_eq!(n, Some(e.quantity_shortage));
    assert!(m.contains("more than the 5 available at site MAIN"), "{m}");
    t.accept(&adjustment(
        "ADJ0003",
        &[("GADGET-XL", "MAIN", "-5", strict)],
    ))
    .await?;
    // The default OverrideQty (1) lets a count take the site below what GP thought it had.
    t.accept(&adjustment("ADJ0004", &[("GADGET-XL", "MAIN", "-9", "")]))
        .await?;
    let (n, m) = t
        .reject(&adjustment("ADJ0005", &[("WIDGET-RED", "MAIN", "0", "")]))
        .await?;
    assert_eq!(n, Some(e.invalid_value));
    assert!(m.contains("TRXQTY must not be zero"), "{m}");
    Ok(())
}

#[tokio::test]
async fn schema_order_required_leaves_and_lengths_are_checked_first() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    // Header before the lines: the XSD puts taIVTransactionHeaderInsert last.
    let swapped = doc(
        "<IVInventoryTransactionType><taIVTransactionHeaderInsert><BACHNUMB>B</BACHNUMB><IVDOCNBR>X</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><DOCDATE>2025-03-14</DOCDATE></taIVTransactionHeaderInsert><taIVTransactionLineInsert_Items><taIVTransactionLineInsert><IVDOCNBR>X</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><ITEMNMBR>WIDGET-RED</ITEMNMBR><TRXQTY>1</TRXQTY><TRXLOCTN>MAIN</TRXLOCTN></taIVTransactionLineInsert></taIVTransactionLineInsert_Items></IVInventoryTransactionType>",
    );
    let (status, body) = t.submit(&swapped).await?;
    assert_eq!(status, 400);
    assert!(body.contains("XmlSchemaValidationException"), "{body}");
    let body = tag(&body, "ErrorDescription").unwrap_or_default();
    assert!(
        body.contains("The element 'IVInventoryTransactionType' has invalid child element 'taIVTransactionLineInsert_Items'"),
        "{body}"
    );
    // TRXLOCTN before TRXQTY is out of sequence.
    let (status, body) = t
        .submit(&doc("<IVInventoryTransactionType><taIVTransactionLineInsert_Items><taIVTransactionLineInsert><IVDOCNBR>X</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><ITEMNMBR>WIDGET-RED</ITEMNMBR><TRXLOCTN>MAIN</TRXLOCTN><TRXQTY>1</TRXQTY></taIVTransactionLineInsert></taIVTransactionLineInsert_Items><taIVTransactionHeaderInsert><BACHNUMB>B</BACHNUMB><IVDOCNBR>X</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><DOCDATE>2025-03-14</DOCDATE></taIVTransactionHeaderInsert></IVInventoryTransactionType>"))
        .await?;
    assert_eq!(status, 400);
    let body = tag(&body, "ErrorDescription").unwrap_or_default();
    assert!(
        body.contains("has invalid child element 'TRXQTY'"),
        "{body}"
    );
    // A line without its site.
    let (status, body) = t
        .submit(&doc("<IVInventoryTransactionType><taIVTransactionLineInsert_Items><taIVTransactionLineInsert><IVDOCNBR>X</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><ITEMNMBR>WIDGET-RED</ITEMNMBR><TRXQTY>1</TRXQTY></taIVTransactionLineInsert></taIVTransactionLineInsert_Items><taIVTransactionHeaderInsert><BACHNUMB>B</BACHNUMB><IVDOCNBR>X</IVDOCNBR><IVDOCTYP>1</IVDOCTYP><DOCDATE>2025-03-14</DOCDATE></taIVTransactionHeaderInsert></IVInventoryTransactionType>"))
        .await?;
    assert_eq!(status, 400);
    let body = tag(&body, "ErrorDescription").unwrap_or_default();
    assert!(
        body.contains("The element 'taIVTransactionLineInsert' has incomplete content. List of possible elements expected: 'UNITCOST, TRXLOCTN'."),
        "{body}"
    );
    // IVDOCNBR is char(17).
    let (n, m) = t
        .reject(&adjustment(
            "ADJ-0123456789-XYZ",
            &[("WIDGET-RED", "MAIN", "1", "")],
        ))
        .await?;
    assert_eq!(n, Some(ErrorNumbers::default().field_too_long));
    assert!(
        m.contains("IVDOCNBR is longer than 17 characters (18 given)"),
        "{m}"
    );
    // TRXLOCTN is char(10).
    let (n, _) = t
        .reject(&adjustment(
            "ADJ0009",
            &[("WIDGET-RED", "WAREHOUSE-EAST", "1", "")],
        ))
        .await?;
    assert_eq!(n, Some(ErrorNumbers::default().field_too_long));
    // IVDOCTYP 3 is neither an adjustment nor a variance.
    let bad_type = adjustment("ADJ0010", &[("WIDGET-RED", "MAIN", "1", "")])
        .replace("<IVDOCTYP>1</IVDOCTYP>", "<IVDOCTYP>3</IVDOCTYP>");
    let (n, m) = t.reject(&bad_type).await?;
    assert_eq!(n, Some(ErrorNumbers::default().invalid_value));
    assert!(
        m.contains("IVDOCTYP 3 must be 1 (adjustment) or 2 (variance)"),
        "{m}"
    );
    assert!(t.emu.handle().iv_documents(COMPANY).is_empty());
    Ok(())
}
