//! Emulator settings. Facts the reference (shared/reference/kashflow_gp.md, part B) marks as
//! uncertain are fields here, with the most likely value as default; error numbers the
//! sources do not confirm are replaceable constants in [`ErrorNumbers`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use nopbridge_emu_support::FaultConfig;

/// Whole-emulator configuration (TOML file for the binary, struct literal for tests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// TCP port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// Emulated seconds per real second (latency knobs run on this clock).
    pub time_scale: f64,
    pub auth: AuthConfig,
    pub tls: TlsConfig,
    /// GP companies (one database each), addressed by name in the URL.
    pub companies: Vec<CompanyConfig>,
    pub validation: ValidationConfig,
    pub errors: ErrorNumbers,
    pub faults: FaultConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            time_scale: 1.0,
            auth: AuthConfig::default(),
            tls: TlsConfig::default(),
            companies: vec![CompanyConfig::default()],
            validation: ValidationConfig::default(),
            errors: ErrorNumbers::default(),
            faults: FaultConfig::default(),
        }
    }
}

impl EmulatorConfig {
    /// Reads a TOML file (the binary's `--config`).
    pub fn from_toml(text: &str) -> Result<Self, crate::Error> {
        toml::from_str(text).map_err(|e| crate::Error::Config(e.to_string()))
    }
}

/// The endpoint's own authentication (real eConnect has no HTTP; this shim takes a shared
/// secret as `Authorization: Bearer {secret}`, or a client certificate when TLS asks for one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub shared_secret: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            shared_secret: "emulator-shared-secret".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve HTTPS with a certificate from a CA generated at start-up
    /// (`EmulatorHandle::ca_pem`).
    pub enabled: bool,
    /// Accept client certificates issued by that CA (`EmulatorHandle::issue_client_certificate`)
    /// in place of the shared secret.
    pub client_certificates: bool,
}

/// A SOP document ID and its numbering.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocIdSeed {
    pub soptype: i16,
    pub docid: String,
    /// Auto-assigned numbers are the prefix and a zero-padded counter.
    pub prefix: String,
    pub next_number: u64,
}

/// An item present at start-up, with on-hand quantities per site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSeed {
    pub itemnmbr: String,
    pub description: String,
    #[serde(default)]
    pub allow_back_orders: bool,
    #[serde(default)]
    pub quantities: BTreeMap<String, f64>,
}

/// One company database and its setup IDs (they must exist when a document names them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompanyConfig {
    /// Company (database) name, e.g. TWO.
    pub name: String,
    pub default_site: String,
    pub sites: Vec<String>,
    pub doc_ids: Vec<DocIdSeed>,
    pub tax_schedules: Vec<String>,
    pub tax_details: Vec<String>,
    pub customer_classes: Vec<String>,
    pub shipping_methods: Vec<String>,
    pub payment_terms: Vec<String>,
    pub currencies: Vec<String>,
    pub card_names: Vec<String>,
    pub checkbooks: Vec<String>,
    pub uom_schedules: Vec<String>,
    pub item_classes: Vec<String>,
    pub price_levels: Vec<String>,
    /// Account number strings (ACTNUMST) of the chart of accounts.
    pub gl_accounts: Vec<String>,
    pub items: Vec<ItemSeed>,
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl Default for CompanyConfig {
    fn default() -> Self {
        let doc = |soptype, docid: &str, prefix: &str| DocIdSeed {
            soptype,
            docid: docid.into(),
            prefix: prefix.into(),
            next_number: 1,
        };
        Self {
            name: "TWO".into(),
            default_site: "MAIN".into(),
            sites: strings(&["MAIN", "WAREHOUSE"]),
            doc_ids: vec![
                doc(1, "STDQTE", "QTE"),
                doc(2, "STDORD", "ORD"),
                doc(3, "STDINV", "INV"),
                doc(4, "STDRTN", "RTN"),
            ],
            tax_schedules: strings(&["UKVAT20", "UKVAT5", "UKVAT0"]),
            tax_details: strings(&["UKVAT20S", "UKVAT5S", "UKVAT0S"]),
            customer_classes: strings(&["WEBRETAIL", "TRADE"]),
            shipping_methods: strings(&["RM48", "RM24", "COURIER", "PICKUP"]),
            payment_terms: strings(&["PREPAID", "NET30"]),
            currencies: strings(&["Z-GBP", "Z-US$", "Z-EURO"]),
            card_names: strings(&["VISA", "MASTERCARD", "AMEX", "PAYPAL"]),
            checkbooks: strings(&["UPTOWN TRUST", "CARD RECEIPTS"]),
            uom_schedules: strings(&["EACH"]),
            item_classes: strings(&["RETAIL"]),
            price_levels: strings(&["RETAIL"]),
            gl_accounts: strings(&[
                "000-1100-00",
                "000-1200-00",
                "000-1210-00",
                "000-1300-00",
                "000-2300-00",
                "000-2310-00",
                "000-4100-00",
                "000-4300-00",
                "000-4510-00",
                "000-5100-00",
            ]),
            items: Vec::new(),
        }
    }
}

/// Strings longer than the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverLength {
    /// An eConnect error (catches connector bugs).
    #[default]
    Reject,
    /// Cut silently, as SQL Server does with `char(n)` parameters (inferred).
    Truncate,
}

/// UpdateIfExists=1 on a master record that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MasterUpdate {
    /// The record becomes what the node sends; omitted fields go back to blank/default
    /// (errata 4: send full records).
    #[default]
    Replace,
    /// Omitted fields keep their stored values.
    Merge,
}

/// Validation details the reference leaves open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// Setup IDs (DOCID, sites, schedules, classes, cards, accounts …) must exist.
    pub validate_setup_ids: bool,
    pub over_length: OverLength,
    pub master_update: MasterUpdate,
    /// A new customer needs ADRSCODE (errata 5).
    pub require_address_code: bool,
    /// A new item needs UOMSCHDL unless UseItemClass=1.
    pub require_uom_schedule: bool,
    /// The community XSD marks taIVCreateItemPriceListHeader as required in IVItemMasterType.
    pub require_price_list_header: bool,
    /// QtyShrtOpt 1/2 (sell/override) may take stock below zero; off: treated as a back order.
    pub allow_override_shortage: bool,
    /// Deposits (PYMTTYPE 1–3) only on orders, payments (4–6) only on invoices.
    pub enforce_payment_type_split: bool,
    /// XTNDPRCE must equal round(UNITPRCE × QUANTITY, 2).
    pub check_extended_price: bool,
    /// DOCAMNT must equal the errata-1 identity.
    pub check_document_amount: bool,
    /// PYMTRCVD must equal the sum of the payment nodes (errata 3).
    pub check_payment_received: bool,
    /// Detailed tax rows must reconcile with the line, freight and misc taxes.
    pub check_tax_details: bool,
    /// GL debits must equal credits when the journal is inserted (else only at posting).
    pub check_journal_balance: bool,
    /// Invoices and returns post at once (stock moves); off: they wait in their batch until
    /// `post_batch`.
    pub auto_post: bool,
    /// UpdateExisting=1 replaces an unposted SOP document with the same number (reference
    /// §B4.5: "update an existing unposted document", exact rules [U]); off: refused as a
    /// duplicate number like UpdateExisting=0.
    pub allow_update_existing: bool,
    /// A SOPTransactionType of only `taCreateSopPaymentInsertRecord` nodes (Action 1) adds
    /// the payments to the existing unposted document they name (reference §B7: "check
    /// SOP10103 before adding later"; whether eConnect takes them without the header is
    /// [U]); off: refused like any document without its header.
    pub payments_on_existing_documents: bool,
    /// A payment whose DOCNUMBR is already on the document is refused (`duplicate_payment`),
    /// as RM document numbers are unique [U]; off (the reference's "Action=1 always adds",
    /// §B7): it is added again.
    pub refuse_duplicate_payment_numbers: bool,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            validate_setup_ids: true,
            over_length: OverLength::Reject,
            master_update: MasterUpdate::Replace,
            require_address_code: true,
            require_uom_schedule: true,
            require_price_list_header: false,
            allow_override_shortage: false,
            enforce_payment_type_split: true,
            check_extended_price: true,
            check_document_amount: true,
            check_payment_received: true,
            check_tax_details: true,
            check_journal_balance: true,
            auto_post: false,
            allow_update_existing: true,
            payments_on_existing_documents: true,
            refuse_duplicate_payment_numbers: false,
        }
    }
}

/// eConnect error numbers. 67 and 4776 are confirmed; the others are placeholders (91xx)
/// until read from `DYNAMICS..taErrorCode` on a real install.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorNumbers {
    /// Subtotal does not match the line item totals (also header/line SOPTYPE mismatch and
    /// MRKDNPCT without DEFPRICING=1).
    pub subtotal_mismatch: i32,
    /// Item does not allow back orders.
    pub back_order: i32,
    pub duplicate_document: i32,
    pub unknown_customer: i32,
    pub unknown_item: i32,
    pub customer_exists: i32,
    pub item_exists: i32,
    pub unknown_site: i32,
    pub unknown_doc_id: i32,
    pub unknown_setup_id: i32,
    pub field_too_long: i32,
    pub extended_price_mismatch: i32,
    pub tax_mismatch: i32,
    pub document_amount_mismatch: i32,
    pub payment_received_mismatch: i32,
    pub payment_exceeds_document: i32,
    pub invalid_value: i32,
    pub missing_value: i32,
    pub line_header_mismatch: i32,
    pub duplicate_journal: i32,
    pub unknown_account: i32,
    pub unbalanced_journal: i32,
    pub posted_document: i32,
    /// An inventory transaction number (IVDOCNBR) that already exists.
    pub duplicate_adjustment: i32,
    /// A decrease with OverrideQty=0 takes more than the site has available.
    pub quantity_shortage: i32,
    /// A payment names a SOP document that does not exist.
    pub unknown_document: i32,
    /// A payment's DOCNUMBR is already on the document (RM document numbers are unique).
    pub duplicate_payment: i32,
}

impl Default for ErrorNumbers {
    fn default() -> Self {
        Self {
            subtotal_mismatch: 67,
            back_order: 4776,
            duplicate_document: 9101,
            unknown_customer: 9102,
            unknown_item: 9103,
            customer_exists: 9104,
            item_exists: 9105,
            unknown_site: 9106,
            unknown_doc_id: 9107,
            unknown_setup_id: 9108,
            field_too_long: 9109,
            extended_price_mismatch: 9110,
            tax_mismatch: 9111,
            document_amount_mismatch: 9112,
            payment_received_mismatch: 9113,
            payment_exceeds_document: 9114,
            invalid_value: 9115,
            missing_value: 9116,
            line_header_mismatch: 9117,
            duplicate_journal: 9118,
            unknown_account: 9119,
            unbalanced_journal: 9120,
            posted_document: 9121,
            duplicate_adjustment: 9122,
            quantity_shortage: 9123,
            unknown_document: 9124,
            duplicate_payment: 9125,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_file_parses() {
        let cfg = EmulatorConfig::from_toml(include_str!("../gp-emulator.example.toml"))
            .map_err(|e| e.to_string());
        assert_eq!(cfg.as_ref().map(|c| c.companies.len()), Ok(1));
        assert_eq!(cfg.as_ref().map(|c| c.companies[0].items.len()), Ok(2));
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        assert!(EmulatorConfig::from_toml("time_scal = 2.0").is_err());
    }
}
