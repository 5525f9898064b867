//! Shared helpers: a spawned emulator, document builders that write nodes in XSD order,
//! and readers of eConnect fault bodies.
#![allow(dead_code)]

use nopbridge_emu_dynamics_gp::{spawn, EmulatorConfig, RunningEmulator};
use reqwest::StatusCode;

pub const COMPANY: &str = "TWO";

pub struct TestGp {
    pub emu: RunningEmulator,
    pub client: reqwest::Client,
}

impl TestGp {
    pub async fn start() -> anyhow::Result<Self> {
        Self::with(EmulatorConfig::default()).await
    }

    pub async fn with(config: EmulatorConfig) -> anyhow::Result<Self> {
        let emu = spawn(config).await?;
        Ok(Self {
            emu,
            client: reqwest::Client::new(),
        })
    }

    /// POSTs a document to CreateTransactionEntity; status and body text.
    pub async fn submit(&self, xml: &str) -> anyhow::Result<(StatusCode, String)> {
        self.submit_to("CreateTransactionEntity", xml).await
    }

    pub async fn submit_to(&self, method: &str, xml: &str) -> anyhow::Result<(StatusCode, String)> {
        let resp = self
            .client
            .post(format!("{}/{method}", self.emu.econnect_url(COMPANY)))
            .bearer_auth(self.emu.handle().shared_secret())
            .header("content-type", "application/xml")
            .body(xml.to_string())
            .send()
            .await?;
        Ok((resp.status(), resp.text().await?))
    }

    /// Submits and fails unless accepted.
    pub async fn accept(&self, xml: &str) -> anyhow::Result<String> {
        let (status, body) = self.submit(xml).await?;
        anyhow::ensure!(status == StatusCode::OK, "{status}: {body}");
        Ok(body)
    }

    /// Submits, expects a 400 eConnect error, returns (number, message).
    pub async fn reject(&self, xml: &str) -> anyhow::Result<(Option<i32>, String)> {
        let (status, body) = self.submit(xml).await?;
        anyhow::ensure!(
            status == StatusCode::BAD_REQUEST,
            "expected 400, got {status}: {body}"
        );
        Ok((
            error_number(&body),
            tag(&body, "Message").unwrap_or_default(),
        ))
    }

    pub async fn seed(&self) -> anyhow::Result<()> {
        self.accept(&customer("WEB000123", "")).await?;
        self.accept(&item("WIDGET-RED", 0)).await?;
        self.accept(&item("GADGET-XL", 0)).await?;
        let h = self.emu.handle();
        anyhow::ensure!(h.set_quantity(COMPANY, "WIDGET-RED", "MAIN", 10.into()));
        anyhow::ensure!(h.set_quantity(COMPANY, "GADGET-XL", "MAIN", 5.into()));
        Ok(())
    }
}

/// Text of the first `<name>` element.
pub fn tag(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(
        body[start..end]
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'"),
    )
}

pub fn error_number(body: &str) -> Option<i32> {
    tag(body, "ErrorNumber")?.parse().ok()
}

/// `<name>` with leaves in the given order.
pub fn node(name: &str, fields: &[(&str, String)]) -> String {
    let mut out = format!("<{name}>");
    for (k, v) in fields {
        out.push_str(&format!("<{k}>{v}</{k}>"));
    }
    out.push_str(&format!("</{name}>"));
    out
}

pub fn doc(body: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><eConnect xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">{body}</eConnect>")
}

pub fn s(v: impl ToString) -> String {
    v.to_string()
}

/// A customer with a primary address, in XSD order; `extra` goes before UpdateIfExists.
pub fn customer(number: &str, extra: &str) -> String {
    let rcd = format!(
        "<taUpdateCreateCustomerRcd><CUSTNMBR>{number}</CUSTNMBR><CUSTNAME>Harriet Okafor</CUSTNAME><CUSTCLAS>WEBRETAIL</CUSTCLAS><ADRSCODE>PRIMARY</ADRSCODE><ADDRESS1>14 Wharf Road</ADDRESS1><CITY>Bristol</CITY><ZIPCODE>BS1 6XN</ZIPCODE><CCode>GB</CCode><COUNTRY>United Kingdom</COUNTRY><TAXSCHID>UKVAT20</TAXSCHID><PYMTRMID>PREPAID</PYMTRMID><CURNCYID>Z-GBP</CURNCYID>{extra}<UpdateIfExists>1</UpdateIfExists></taUpdateCreateCustomerRcd>"
    );
    let address = format!(
        "<taCreateCustomerAddress_Items><taCreateCustomerAddress><CUSTNMBR>{number}</CUSTNMBR><ADRSCODE>SHIP01</ADRSCODE><ADDRESS1>22 Cotham Hill</ADDRESS1><CITY>Bristol</CITY><ZIPCODE>BS6 6LA</ZIPCODE><ShipToName>Harriet Okafor</ShipToName></taCreateCustomerAddress></taCreateCustomerAddress_Items>"
    );
    let email = format!(
        "<taCreateInternetAddresses_Items><taCreateInternetAddresses><Master_Type>CUS</Master_Type><Master_ID>{number}</Master_ID><ADRSCODE>PRIMARY</ADRSCODE><INET1>harriet@example.co.uk</INET1><EmailToAddress>harriet@example.co.uk</EmailToAddress></taCreateInternetAddresses></taCreateInternetAddresses_Items>"
    );
    doc(&format!(
        "<RMCustomerMasterType>{rcd}{address}{email}</RMCustomerMasterType>"
    ))
}

/// An inventory item (ALWBKORD as given), in XSD order.
pub fn item(number: &str, allow_back_orders: u8) -> String {
    doc(&format!(
        "<IVItemMasterType><taUpdateCreateItemRcd><ITEMNMBR>{number}</ITEMNMBR><ITEMDESC>Item {number}</ITEMDESC><ITEMTYPE>1</ITEMTYPE><ITMTSHID>UKVAT20</ITMTSHID><UOMSCHDL>EACH</UOMSCHDL><DECPLQTY>1</DECPLQTY><LISTPRCE>10.00</LISTPRCE><ALWBKORD>{allow_back_orders}</ALWBKORD><LOCNCODE>MAIN</LOCNCODE><UpdateIfExists>1</UpdateIfExists></taUpdateCreateItemRcd></IVItemMasterType>"
    ))
}

#[derive(Debug, Clone)]
pub struct Line {
    pub item: String,
    pub quantity: String,
    pub price: String,
    pub extended: String,
    pub tax: String,
    pub seq: u32,
    /// Leaves between QUANTITY and ITEMDESC (MRKDNAMT, MRKDNPCT, …).
    pub extra: String,
    /// Leaves after IVITMTXB (NONINVEN is earlier; QtyShrtOpt, …).
    pub tail: String,
}

pub fn line(item: &str, quantity: &str, price: &str, extended: &str, tax: &str, seq: u32) -> Line {
    Line {
        item: item.into(),
        quantity: quantity.into(),
        price: price.into(),
        extended: extended.into(),
        tax: tax.into(),
        seq,
        extra: String::new(),
        tail: String::new(),
    }
}

/// A SOP document whose header fields can be overridden to break the arithmetic.
#[derive(Debug, Clone)]
pub struct Sop {
    pub soptype: u8,
    pub docid: String,
    pub number: String,
    pub customer: String,
    pub batch: String,
    pub lines: Vec<Line>,
    pub line_soptype: Option<u8>,
    pub taxes: Vec<String>,
    pub payments: Vec<String>,
    pub tracking: Vec<String>,
    pub subtotal: String,
    pub freight: String,
    pub frttxamt: String,
    pub taxamnt: String,
    pub docamnt: String,
    pub pymtrcvd: String,
    /// Leaves after DOCAMNT..., before UpdateExisting (in XSD order by the caller).
    pub header_extra_tail: String,
    pub update_existing: bool,
    pub defpricing: u8,
    /// Customer/item nodes riding in the document (before the lines).
    pub customer_node: String,
}

impl Sop {
    /// The reference's B12.2 invoice with the errata applied (TAXAMNT 11.10), in XSD order.
    pub fn sample(number: &str) -> Self {
        Self {
            soptype: 3,
            docid: "STDINV".into(),
            number: number.into(),
            customer: "WEB000123".into(),
            batch: "WEB20250314".into(),
            lines: vec![
                line("WIDGET-RED", "2", "10.00", "20.00", "4.00", 16384),
                line("GADGET-XL", "1", "35.50", "35.50", "7.10", 32768),
            ],
            line_soptype: None,
            taxes: vec![
                tax_row(
                    3,
                    number,
                    0,
                    16384,
                    "<SALESAMT>20.00</SALESAMT>",
                    "<STAXAMNT>4.00</STAXAMNT>",
                ),
                tax_row(
                    3,
                    number,
                    0,
                    32768,
                    "<SALESAMT>35.50</SALESAMT>",
                    "<STAXAMNT>7.10</STAXAMNT>",
                ),
                tax_row(
                    3,
                    number,
                    1,
                    0,
                    "<FRTTXAMT>1.00</FRTTXAMT><FREIGHT>4.99</FREIGHT>",
                    "",
                ),
            ],
            payments: vec![payment(3, number, "72.59", 6)],
            tracking: vec!["JD014600006281230471".into()],
            subtotal: "55.50".into(),
            freight: "4.99".into(),
            frttxamt: "1.00".into(),
            taxamnt: "11.10".into(),
            docamnt: "72.59".into(),
            pymtrcvd: "72.59".into(),
            header_extra_tail: String::new(),
            update_existing: false,
            defpricing: 0,
            customer_node: String::new(),
        }
    }

    /// A one-line invoice of `qty` × 10.00 with 20 % tax, paid in full.
    pub fn simple(number: &str, item: &str, qty: u32) -> Self {
        let net = f64::from(qty) * 10.0;
        let tax = net * 0.2;
        let total = net + tax;
        Self {
            lines: vec![line(
                item,
                &qty.to_string(),
                "10.00",
                &format!("{net:.2}"),
                &format!("{tax:.2}"),
                16384,
            )],
            taxes: Vec::new(),
            payments: vec![payment(3, number, &format!("{total:.2}"), 6)],
            tracking: Vec::new(),
            subtotal: format!("{net:.2}"),
            freight: "0".into(),
            frttxamt: "0".into(),
            taxamnt: format!("{tax:.2}"),
            docamnt: format!("{total:.2}"),
            pymtrcvd: format!("{total:.2}"),
            ..Self::sample(number)
        }
    }

    pub fn to_xml(&self) -> String {
        let line_type = self.line_soptype.unwrap_or(self.soptype);
        let lines: String = self
            .lines
            .iter()
            .map(|l| {
                format!(
                    "<taSopLineIvcInsert><SOPTYPE>{line_type}</SOPTYPE><SOPNUMBE>{}</SOPNUMBE><CUSTNMBR>{}</CUSTNMBR><DOCDATE>2025-03-14</DOCDATE><LOCNCODE>MAIN</LOCNCODE><ITEMNMBR>{}</ITEMNMBR><UNITPRCE>{}</UNITPRCE><XTNDPRCE>{}</XTNDPRCE><QUANTITY>{}</QUANTITY>{}<ITEMDESC>Item</ITEMDESC><TAXAMNT>{}</TAXAMNT><LNITMSEQ>{}</LNITMSEQ><DOCID>{}</DOCID><ITMTSHID>UKVAT20</ITMTSHID><IVITMTXB>1</IVITMTXB>{}</taSopLineIvcInsert>",
                    self.number, self.customer, l.item, l.price, l.extended, l.quantity, l.extra, l.tax, l.seq, self.docid, l.tail
                )
            })
            .collect();
        let tracking: String = self
            .tracking
            .iter()
            .map(|t| format!("<taSopTrackingNum><SOPTYPE>{}</SOPTYPE><SOPNUMBE>{}</SOPNUMBE><Tracking_Number>{t}</Tracking_Number></taSopTrackingNum>", self.soptype, self.number))
            .collect();
        let wrap = |name: &str, inner: &str| {
            if inner.is_empty() {
                String::new()
            } else {
                format!("<{name}_Items>{inner}</{name}_Items>")
            }
        };
        let header = format!(
            "<taSopHdrIvcInsert><SOPTYPE>{}</SOPTYPE><DOCID>{}</DOCID><SOPNUMBE>{}</SOPNUMBE><TAXSCHID>UKVAT20</TAXSCHID><FRTSCHID>UKVAT20</FRTSCHID><SHIPMTHD>RM48</SHIPMTHD><TAXAMNT>{}</TAXAMNT><LOCNCODE>MAIN</LOCNCODE><DOCDATE>2025-03-14</DOCDATE><FREIGHT>{}</FREIGHT><CUSTNMBR>{}</CUSTNMBR><CUSTNAME>Harriet Okafor</CUSTNAME><CSTPONBR>{}</CSTPONBR><ShipToName>Harriet Okafor</ShipToName><ADDRESS1>22 Cotham Hill</ADDRESS1><CITY>Bristol</CITY><ZIPCODE>BS6 6LA</ZIPCODE><COUNTRY>United Kingdom</COUNTRY><SUBTOTAL>{}</SUBTOTAL><DOCAMNT>{}</DOCAMNT><PYMTRCVD>{}</PYMTRCVD><BACHNUMB>{}</BACHNUMB><PRSTADCD>SHIP01</PRSTADCD><FRTTXAMT>{}</FRTTXAMT><PYMTRMID>PREPAID</PYMTRMID><USINGHEADERLEVELTAXES>0</USINGHEADERLEVELTAXES><CREATEDIST>1</CREATEDIST><CREATETAXES>0</CREATETAXES><CURNCYID>Z-GBP</CURNCYID>{}<UpdateExisting>{}</UpdateExisting><DEFPRICING>{}</DEFPRICING></taSopHdrIvcInsert>",
            self.soptype, self.docid, self.number, self.taxamnt, self.freight, self.customer,
            format!("ORDER-{}", self.number).chars().take(20).collect::<String>(),
            self.subtotal, self.docamnt, self.pymtrcvd, self.batch, self.frttxamt, self.header_extra_tail,
            u8::from(self.update_existing), self.defpricing
        );
        doc(&format!(
            "<SOPTransactionType>{}{}{}{}{}{}</SOPTransactionType>",
            self.customer_node,
            wrap("taSopLineIvcInsert", &lines),
            wrap("taSopTrackingNum", &tracking),
            wrap("taSopLineIvcTaxInsert", &self.taxes.concat()),
            wrap("taCreateSopPaymentInsertRecord", &self.payments.concat()),
            header
        ))
    }
}

pub fn tax_row(
    soptype: u8,
    number: &str,
    taxtype: u8,
    seq: u32,
    amounts_before_detail: &str,
    staxamnt: &str,
) -> String {
    format!(
        "<taSopLineIvcTaxInsert><SOPTYPE>{soptype}</SOPTYPE><TAXTYPE>{taxtype}</TAXTYPE><SOPNUMBE>{number}</SOPNUMBE><CUSTNMBR>WEB000123</CUSTNMBR><LNITMSEQ>{seq}</LNITMSEQ>{amounts_before_detail}<TAXDTLID>UKVAT20S</TAXDTLID>{staxamnt}</taSopLineIvcTaxInsert>"
    )
}

pub fn payment(soptype: u8, number: &str, amount: &str, pymttype: u8) -> String {
    format!(
        "<taCreateSopPaymentInsertRecord><SOPTYPE>{soptype}</SOPTYPE><SOPNUMBE>{number}</SOPNUMBE><CUSTNMBR>WEB000123</CUSTNMBR><DOCDATE>2025-03-14</DOCDATE><DOCAMNT>{amount}</DOCAMNT><CARDNAME>VISA</CARDNAME><RCTNCCRD>XXXX4242</RCTNCCRD><AUTHCODE>A1B2C3</AUTHCODE><PYMTTYPE>{pymttype}</PYMTTYPE><DOCNUMBR>P{}</DOCNUMBR><Action>1</Action></taCreateSopPaymentInsertRecord>",
        number.chars().take(19).collect::<String>()
    )
}
