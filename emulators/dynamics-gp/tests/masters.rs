//! Customers and items: UpdateIfExists, replace-on-update, create-time requirements, setup
//! IDs, lengths, and the schema order eConnect insists on.

mod common;

use common::{customer, doc, error_number, item, tag, TestGp, COMPANY};
use nopbridge_emu_dynamics_gp::{
    EmulatorConfig, ErrorNumbers, MasterUpdate, OverLength, ValidationConfig,
};
use reqwest::StatusCode;

#[tokio::test]
async fn a_customer_with_addresses_and_email_is_stored() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let echo = t.accept(&customer("WEB000123", "")).await?;
    assert!(echo.contains("<CUSTNMBR>WEB000123</CUSTNMBR>"));
    let c = t
        .emu
        .handle()
        .customer(COMPANY, "web000123")
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(c["values"]["CUSTNAME"], "Harriet Okafor");
    assert_eq!(c["values"]["UpdateIfExists"], "1");
    assert_eq!(
        c["addresses"]["PRIMARY"]["ADDRESS1"], "14 Wharf Road",
        "CreateAddress=1 made the primary address"
    );
    assert_eq!(c["addresses"]["SHIP01"]["ADDRESS1"], "22 Cotham Hill");
    assert_eq!(
        c["internet_addresses"]["PRIMARY"]["EmailToAddress"],
        "harriet@example.co.uk"
    );
    assert_eq!(
        t.emu
            .handle()
            .company_counters(COMPANY)
            .map(|c| c.customers_created),
        Some(1)
    );
    Ok(())
}

#[tokio::test]
async fn update_if_exists_zero_refuses_and_one_replaces_the_record() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.accept(&customer("C1", "<CHEKBKID>UPTOWN TRUST</CHEKBKID>"))
        .await?;
    let again = doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>C1</CUSTNMBR><CUSTNAME>Other</CUSTNAME><ADRSCODE>PRIMARY</ADRSCODE><UpdateIfExists>0</UpdateIfExists></taUpdateCreateCustomerRcd></RMCustomerMasterType>");
    let (number, message) = t.reject(&again).await?;
    assert_eq!(number, Some(ErrorNumbers::default().customer_exists));
    assert!(message.starts_with("Error Number = 9104  Stored Procedure= taUpdateCreateCustomerRcd  Error Description = Customer C1 already exists"), "{message}");
    assert!(
        message.contains("Node Identifier Parameters: taUpdateCreateCustomerRcd\nCUSTNMBR = C1")
    );
    // UpdateIfExists=1 with a partial record: omitted fields are blanked (send full records).
    let partial = doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>C1</CUSTNMBR><CUSTNAME>Renamed</CUSTNAME><ADRSCODE>PRIMARY</ADRSCODE><UpdateIfExists>1</UpdateIfExists></taUpdateCreateCustomerRcd></RMCustomerMasterType>");
    t.accept(&partial).await?;
    let c = t.emu.handle().customer(COMPANY, "C1").unwrap_or_default();
    assert_eq!(c["values"]["CUSTNAME"], "Renamed");
    assert!(c["values"].get("CHEKBKID").is_none());
    assert_eq!(
        t.emu
            .handle()
            .company_counters(COMPANY)
            .map(|c| (c.customers_created, c.customers_updated)),
        Some((1, 1))
    );
    let merging = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            master_update: MasterUpdate::Merge,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    merging
        .accept(&customer("C1", "<CHEKBKID>UPTOWN TRUST</CHEKBKID>"))
        .await?;
    merging.accept(&partial).await?;
    let c = merging
        .emu
        .handle()
        .customer(COMPANY, "C1")
        .unwrap_or_default();
    assert_eq!(c["values"]["CHEKBKID"], "UPTOWN TRUST");
    Ok(())
}

#[tokio::test]
async fn create_time_requirements_and_setup_ids() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let e = ErrorNumbers::default();
    let no_address = doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>NOADDR</CUSTNMBR><CUSTNAME>x</CUSTNAME></taUpdateCreateCustomerRcd></RMCustomerMasterType>");
    assert_eq!(t.reject(&no_address).await?.0, Some(e.missing_value));
    let class_missing = doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>C2</CUSTNMBR><ADRSCODE>PRIMARY</ADRSCODE><UseCustomerClass>1</UseCustomerClass></taUpdateCreateCustomerRcd></RMCustomerMasterType>");
    assert_eq!(t.reject(&class_missing).await?.0, Some(e.missing_value));
    let bad_terms = doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>C3</CUSTNMBR><ADRSCODE>PRIMARY</ADRSCODE><PYMTRMID>NET99</PYMTRMID></taUpdateCreateCustomerRcd></RMCustomerMasterType>");
    let (n, m) = t.reject(&bad_terms).await?;
    assert_eq!(n, Some(e.unknown_setup_id));
    assert!(m.contains("PYMTRMID NET99"));
    let address_for_nobody = doc("<RMCustomerMasterType><taCreateCustomerAddress_Items><taCreateCustomerAddress><CUSTNMBR>GHOST</CUSTNMBR><ADRSCODE>SHIP01</ADRSCODE></taCreateCustomerAddress></taCreateCustomerAddress_Items></RMCustomerMasterType>");
    assert_eq!(
        t.reject(&address_for_nobody).await?.0,
        Some(e.unknown_customer)
    );
    let no_desc = doc("<IVItemMasterType><taUpdateCreateItemRcd><ITEMNMBR>NEW</ITEMNMBR><UOMSCHDL>EACH</UOMSCHDL></taUpdateCreateItemRcd></IVItemMasterType>");
    assert_eq!(t.reject(&no_desc).await?.0, Some(e.missing_value));
    let no_uom = doc("<IVItemMasterType><taUpdateCreateItemRcd><ITEMNMBR>NEW</ITEMNMBR><ITEMDESC>New</ITEMDESC></taUpdateCreateItemRcd></IVItemMasterType>");
    assert_eq!(t.reject(&no_uom).await?.0, Some(e.missing_value));
    let decimals = doc("<IVItemMasterType><taUpdateCreateItemRcd><ITEMNMBR>NEW</ITEMNMBR><ITEMDESC>New</ITEMDESC><UOMSCHDL>EACH</UOMSCHDL><DECPLQTY>6</DECPLQTY></taUpdateCreateItemRcd></IVItemMasterType>");
    assert_eq!(t.reject(&decimals).await?.0, Some(e.invalid_value));
    let bad_site = doc("<IVItemMasterType><taUpdateCreateItemRcd><ITEMNMBR>NEW</ITEMNMBR><ITEMDESC>New</ITEMDESC><UOMSCHDL>EACH</UOMSCHDL><LOCNCODE>NOWHERE</LOCNCODE></taUpdateCreateItemRcd></IVItemMasterType>");
    assert_eq!(t.reject(&bad_site).await?.0, Some(e.unknown_site));
    assert!(t.emu.handle().customers(COMPANY).is_empty());
    assert!(t.emu.handle().items(COMPANY).is_empty());
    assert_eq!(
        t.emu
            .handle()
            .company_counters(COMPANY)
            .map(|c| c.documents_rejected),
        Some(8)
    );
    Ok(())
}

#[tokio::test]
async fn items_upsert_and_keep_their_quantities() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.accept(&item("WIDGET-RED", 0)).await?;
    let h = t.emu.handle();
    assert!(h.set_quantity(COMPANY, "WIDGET-RED", "MAIN", 12.into()));
    t.accept(&item("WIDGET-RED", 1)).await?;
    let i = h.item(COMPANY, "WIDGET-RED").unwrap_or_default();
    assert_eq!(i["values"]["ALWBKORD"], "1");
    assert_eq!(i["quantities"]["MAIN"]["QTYONHND"], "12");
    let once = doc("<IVItemMasterType><taUpdateCreateItemRcd><ITEMNMBR>WIDGET-RED</ITEMNMBR><UpdateIfExists>0</UpdateIfExists></taUpdateCreateItemRcd></IVItemMasterType>");
    assert_eq!(
        t.reject(&once).await?.0,
        Some(ErrorNumbers::default().item_exists)
    );
    assert!(!h.set_quantity(COMPANY, "WIDGET-RED", "NOWHERE", 1.into()));
    Ok(())
}

#[tokio::test]
async fn lengths_are_enforced_or_truncated() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let e = ErrorNumbers::default();
    let (n, m) = t.reject(&customer("ABCDEFGHIJKLMNOP", "")).await?;
    assert_eq!(n, Some(e.field_too_long));
    assert!(
        m.contains("CUSTNMBR is longer than 15 characters (16 given)"),
        "{m}"
    );
    assert_eq!(
        t.reject(&item(&"I".repeat(31), 0)).await?.0,
        Some(e.field_too_long)
    );
    t.accept(&item(&"I".repeat(30), 0)).await?;
    t.accept(&customer("ABCDEFGHIJKLMNO", "")).await?;
    let cutting = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            over_length: OverLength::Truncate,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    let record_only = doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>ABCDEFGHIJKLMNOP</CUSTNMBR><ADRSCODE>PRIMARY</ADRSCODE></taUpdateCreateCustomerRcd></RMCustomerMasterType>");
    cutting.accept(&record_only).await?;
    assert!(cutting
        .emu
        .handle()
        .customer(COMPANY, "ABCDEFGHIJKLMNO")
        .is_some());
    // The hazard of silent truncation: the 30-character Master_ID keeps all 16 characters
    // and no longer names the (cut) customer.
    let (n, _) = cutting.reject(&customer("QRSTUVWXYZABCDEF", "")).await?;
    assert_eq!(n, Some(e.unknown_customer));
    Ok(())
}

#[tokio::test]
async fn elements_out_of_xsd_order_are_refused_with_the_expected_list() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    // The reference's B12.1 puts CNTCPRSN before ADDRESS1 correctly, but CCode after ZIPCODE
    // and PRSTADCD after PHNUMBR1 … here: ADRSCODE after CUSTCLAS is fine, SHRTNAME after
    // CUSTCLAS is not.
    let wrong = doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>C1</CUSTNMBR><CUSTCLAS>WEBRETAIL</CUSTCLAS><SHRTNAME>x</SHRTNAME></taUpdateCreateCustomerRcd></RMCustomerMasterType>");
    let (status, body) = t.submit(&wrong).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        tag(&body, "ExceptionType").as_deref(),
        Some("XmlSchemaValidationException")
    );
    assert_eq!(error_number(&body), None);
    let message = tag(&body, "Message").unwrap_or_default();
    assert!(message.starts_with("The element 'taUpdateCreateCustomerRcd' has invalid child element 'SHRTNAME'. List of possible elements expected: 'CUSTPRIORITY, ADRSCODE, CNTCPRSN"), "{message}");
    // Header before lines in SOPTransactionType.
    let header_first = doc("<SOPTransactionType><taSopHdrIvcInsert><SOPTYPE>3</SOPTYPE></taSopHdrIvcInsert><taSopLineIvcInsert_Items/></SOPTransactionType>");
    let (_, body) = t.submit(&header_first).await?;
    assert!(
        tag(&body, "Message")
            .unwrap_or_default()
            .contains("has incomplete content"),
        "{body}"
    );
    let lines_after_header = doc("<SOPTransactionType><taSopHdrIvcInsert><SOPTYPE>3</SOPTYPE><DOCID>STDINV</DOCID><SOPNUMBE>X</SOPNUMBE><DOCDATE>2025-01-01</DOCDATE><CUSTNMBR>C</CUSTNMBR><BACHNUMB>B</BACHNUMB></taSopHdrIvcInsert><taSopLineIvcInsert_Items/></SOPTransactionType>");
    let (_, body) = t.submit(&lines_after_header).await?;
    assert!(
        tag(&body, "Message")
            .unwrap_or_default()
            .contains("invalid child element 'taSopLineIvcInsert_Items'"),
        "{body}"
    );
    // Item master after a SOP document is out of the root order.
    let (_, body) = t
        .submit(&doc("<IVItemMasterType/><SOPTransactionType/>"))
        .await?;
    assert!(
        tag(&body, "Message")
            .unwrap_or_default()
            .contains("invalid child element 'SOPTransactionType'"),
        "{body}"
    );
    let (_, body) = t
        .submit(&doc("<IVItemMasterType/><RMCustomerMasterType/>"))
        .await?;
    assert!(
        tag(&body, "Message")
            .unwrap_or_default()
            .contains("invalid child element 'RMCustomerMasterType'"),
        "{body}"
    );
    // A default namespace makes the elements unknown; unknown elements and bad numbers too.
    let (_, body) = t
        .submit("<eConnect xmlns=\"urn:x\"><RMCustomerMasterType/></eConnect>")
        .await?;
    assert!(tag(&body, "Message")
        .unwrap_or_default()
        .contains("is not declared"));
    let (_, body) = t.submit(&doc("<RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>C</CUSTNMBR><HOLD>x</HOLD></taUpdateCreateCustomerRcd></RMCustomerMasterType>")).await?;
    assert!(tag(&body, "Message")
        .unwrap_or_default()
        .contains("not a valid Int16 value"));
    let (_, body) = t.submit("<eConnect><RMCustomerMasterType>").await?;
    assert!(tag(&body, "Message")
        .unwrap_or_default()
        .contains("not well formed"));
    let (_, body) = t.submit(&doc("<RMCashReceiptsType/>")).await?;
    assert_eq!(
        tag(&body, "ExceptionType").as_deref(),
        Some("eConnectException")
    );
    assert_eq!(t.emu.handle().counters().schema_errors, 8);
    // Valid nodes the emulator does not model are refused, not ignored.
    let parent = doc("<RMCustomerMasterType><taCreateParentID><CPRCSTNM>P1</CPRCSTNM></taCreateParentID></RMCustomerMasterType>");
    let (status, body) = t.submit(&parent).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        tag(&body, "Message")
            .unwrap_or_default()
            .contains("taCreateParentID is not supported"),
        "{body}"
    );
    Ok(())
}
