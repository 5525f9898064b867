//! The per-connection mapping config (one YAML file per target connection).
//! Every field is documented in crates/mapping/README.md and shown in
//! crates/mapping/examples/connection.yaml.
use nopbridge_model::{Currency, Rate};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One target connection: where its commands go and how store events become documents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Unique id; the Kafka key of this connection's commands.
    pub connection_id: String,
    pub target: Target,
    pub tenant: String,
    /// Store ids (as in the event metadata) routed to this connection.
    pub stores: Vec<String>,
    #[serde(default)]
    pub posting: PostingConfig,
    #[serde(default)]
    pub status_map: StatusMapConfig,
    #[serde(default)]
    pub payment_methods: PaymentMethodsConfig,
    #[serde(default)]
    pub tax: TaxConfig,
    #[serde(default)]
    pub items: ItemsConfig,
    #[serde(default)]
    pub customer: CustomerConfig,
    /// Required for accounting targets.
    #[serde(default)]
    pub currency: Option<CurrencyConfig>,
    #[serde(default)]
    pub document: DocumentConfig,
    #[serde(default)]
    pub stock: StockConfig,
    /// Dynamics GP only: SOP types, DOCIDs, site and batch carried on the commands.
    #[serde(default)]
    pub dynamics_gp: Option<DynamicsGpConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    QuickbooksOnline,
    Kashflow,
    DynamicsGp,
    /// Write-back to the store.
    Nopcommerce,
}

impl Target {
    pub fn is_accounting(self) -> bool {
        !matches!(self, Target::Nopcommerce)
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::QuickbooksOnline => "quickbooks_online",
            Target::Kashflow => "kashflow",
            Target::DynamicsGp => "dynamics_gp",
            Target::Nopcommerce => "nopcommerce",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingMode {
    /// One document per order: sales receipt when paid at sale, invoice + payment when paid later.
    #[default]
    PerOrder,
    /// One receipt per day, store, currency and payment method (see `summarize_daily`).
    DailySummary,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostingConfig {
    pub mode: PostingMode,
    /// An order paid within this many minutes of its creation counts as paid at sale.
    pub paid_at_sale_window_minutes: u32,
    /// Minutes added to UTC to get the business date of documents (e.g. 60 for CET).
    pub utc_offset_minutes: i32,
    /// Refunds as refund receipts (money back) or credit memos.
    pub refund_document: RefundDocument,
    /// Daily summaries only: minutes after a business day ends (and after its last order
    /// arrived) before the transform service posts its summaries; unset means
    /// [`DEFAULT_CLOSE_AFTER_MINUTES`].
    pub close_after_minutes: Option<u32>,
}

/// How long a daily-summary day stays open after it ended, by default: long enough for the
/// store's late payments and ingest's re-polls (every 5 minutes) to arrive.
pub const DEFAULT_CLOSE_AFTER_MINUTES: u32 = 60;

/// The longest `posting.close_after_minutes` accepted: a week.
pub const MAX_CLOSE_AFTER_MINUTES: u32 = 7 * 24 * 60;

impl PostingConfig {
    /// `close_after_minutes` with its default.
    pub fn close_after_minutes(&self) -> u32 {
        self.close_after_minutes
            .unwrap_or(DEFAULT_CLOSE_AFTER_MINUTES)
    }
}

impl Default for PostingConfig {
    fn default() -> Self {
        Self {
            mode: PostingMode::PerOrder,
            paid_at_sale_window_minutes: 60,
            utc_offset_minutes: 0,
            refund_document: RefundDocument::RefundReceipt,
            close_after_minutes: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundDocument {
    #[default]
    RefundReceipt,
    CreditMemo,
}

/// What an order status means for the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusAction {
    /// No opinion: let the other status maps decide.
    Continue,
    /// Do nothing yet; a later event will post.
    Wait,
    /// Post an invoice now (payment follows later).
    Invoice,
    /// Post the sale (receipt when paid at sale, else invoice + payment).
    Post,
    /// Void what was posted.
    Void,
    /// Post a refund for the refunded amount.
    Refund,
    /// Never send this order.
    Ignore,
}

/// Status → action maps. Missing keys take the defaults shown in the README.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusMapConfig {
    /// Keys: pending, processing, complete, cancelled.
    pub order: BTreeMap<OrderStatusKey, StatusAction>,
    /// Keys: pending, authorized, paid, partially_refunded, refunded, voided.
    pub payment: BTreeMap<PaymentStatusKey, StatusAction>,
    /// Keys: not_required, not_yet_shipped, partially_shipped, shipped, delivered.
    pub shipping: BTreeMap<ShippingStatusKey, StatusAction>,
    /// Action for a deleted order (default void).
    pub deleted: Option<StatusAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatusKey {
    Pending,
    Processing,
    Complete,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatusKey {
    Pending,
    Authorized,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingStatusKey {
    NotRequired,
    NotYetShipped,
    PartiallyShipped,
    Shipped,
    Delivered,
}

/// How one store payment method is recorded in the books.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodTarget {
    /// Payment method name (QuickBooks PaymentMethod, KashFlow method id, GP card id).
    #[serde(default)]
    pub payment_method: String,
    /// Deposit / bank / clearing account.
    #[serde(default)]
    pub deposit_account: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentMethodsConfig {
    /// Store system name (e.g. `Payments.PayPalCommerce`) → books.
    pub map: BTreeMap<String, PaymentMethodTarget>,
    /// Used for system names not in `map`; without it an unmapped method is an error.
    pub default: Option<PaymentMethodTarget>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// Lines TAX/NON plus the cart's tax as a total override.
    #[default]
    UsSalesTax,
    /// A tax code per rate, from the order's TaxRates breakdown.
    Vat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaxConfig {
    pub mode: TaxMode,
    pub us: UsTaxConfig,
    pub vat: VatConfig,
}

impl Default for TaxConfig {
    fn default() -> Self {
        Self {
            mode: TaxMode::UsSalesTax,
            us: UsTaxConfig::default(),
            vat: VatConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsTaxConfig {
    /// Transaction-level tax code; leave empty on QuickBooks AST companies.
    pub txn_tax_code: String,
    pub taxable_code: String,
    pub non_taxable_code: String,
}

impl Default for UsTaxConfig {
    fn default() -> Self {
        Self {
            txn_tax_code: String::new(),
            taxable_code: "TAX".into(),
            non_taxable_code: "NON".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VatConfig {
    /// Tax code per rate; every rate that appears in an order's TaxRates needs one.
    pub codes: Vec<VatCode>,
    /// Code for lines without tax (exempt / outside scope) when no 0 % code is listed.
    pub exempt_code: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VatCode {
    /// Percent, e.g. 20 or "5.5".
    pub rate: Rate,
    pub code: String,
}

/// Where a non-product line goes in the books.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LineTarget {
    /// Item (QuickBooks item name / `SHIPPING_ITEM_ID`, KashFlow product code, GP item number).
    pub item: String,
    /// Account (income, contra-income, liability).
    pub account: String,
    /// Line description; defaults to a sensible text per kind.
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostAs {
    /// A negative line on the document (the document total is what the customer paid).
    #[default]
    Line,
    /// A tender next to the payment (the document total includes it).
    Tender,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedemptionTarget {
    pub item: String,
    pub account: String,
    pub description: String,
    pub post_as: PostAs,
    /// Payment method name when posted as a tender.
    pub payment_method: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItemsConfig {
    pub shipping: LineTarget,
    pub discount: LineTarget,
    pub payment_fee: LineTarget,
    pub rounding: LineTarget,
    pub refund: LineTarget,
    pub gift_card: RedemptionTarget,
    pub reward_points: RedemptionTarget,
    /// SKU → target item (id or name), replacing SKU lookup.
    pub sku_overrides: BTreeMap<String, String>,
    /// Accounts for items created from product events.
    pub income_account: String,
    pub expense_account: String,
    pub asset_account: String,
    /// Create stock-tracked (inventory) items for products whose stock the store manages.
    pub track_inventory: bool,
    /// Also emit a text-only line (no amount) after each product listing its attributes and
    /// bundled components; they are always in the product line's description and attributes.
    pub attribute_lines: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    #[default]
    EmailThenDisplayName,
    Email,
    DisplayName,
    /// Every document goes to `fixed_customer`.
    Fixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disambiguator {
    /// Append " (EUR)" when the customer's currency is not the home currency
    /// (QuickBooks fixes a customer's currency, so one customer per currency).
    Currency,
    /// Append " #<store customer id>".
    CustomerId,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomerConfig {
    pub match_rule: MatchRule,
    pub fixed_customer: String,
    /// Display-name recipes tried in order; the first that yields text wins. Tokens:
    /// `{first}` `{last}` `{company}` `{email}` `{customer_id}`.
    pub display_name: Vec<String>,
    pub disambiguate: Vec<Disambiguator>,
    /// Prefix of the deterministic customer code (KashFlow Code, GP CUSTNMBR).
    pub code_prefix: String,
}

impl Default for CustomerConfig {
    fn default() -> Self {
        Self {
            match_rule: MatchRule::EmailThenDisplayName,
            fixed_customer: String::new(),
            display_name: vec![
                "{first} {last}".into(),
                "{company}".into(),
                "{email}".into(),
                "Customer {customer_id}".into(),
            ],
            disambiguate: vec![Disambiguator::Currency],
            code_prefix: "WEB".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentCurrency {
    /// The store's primary currency (all order amounts are stored in it).
    #[default]
    Store,
    /// The currency the customer saw (order.customer_currency_code).
    Customer,
    /// The target's home currency.
    Home,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateSourceConfig {
    /// The order's currency_rate when converting to the customer currency, else the table.
    #[default]
    Order,
    /// Always the configured table.
    Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidualRule {
    /// Add the residual to the product line with the largest amount (first on ties).
    #[default]
    LargestLine,
    /// Post the residual as its own line (`items.rounding`).
    RoundingLine,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateEntry {
    pub from: Currency,
    pub to: Currency,
    /// Units of `to` per one unit of `from`.
    pub rate: Rate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyConfig {
    /// The target's home (functional) currency.
    pub home_currency: Currency,
    #[serde(default)]
    pub document_currency: DocumentCurrency,
    #[serde(default)]
    pub rate_source: RateSourceConfig,
    #[serde(default)]
    pub rates: Vec<RateEntry>,
    #[serde(default)]
    pub residual: ResidualRule,
    /// Largest store-side rounding difference (minor units) absorbed by the residual rule;
    /// a larger gap between the order's components and its total is an imbalance (DLQ).
    #[serde(default = "default_tolerance")]
    pub tolerance_minor_units: i64,
}

const fn default_tolerance() -> i64 {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentConfig {
    /// Prefix of document numbers, e.g. "WEB" → WEB1043.
    pub number_prefix: String,
    /// Memo template; tokens `{order_number}` `{order_id}` `{store_id}` `{payment_method}`.
    pub memo: String,
}

impl Default for DocumentConfig {
    fn default() -> Self {
        Self {
            number_prefix: String::new(),
            memo: "nopCommerce order {order_number}".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StockConfig {
    /// Send stock levels to this target.
    pub push: bool,
    /// Store warehouse id → target site; `default_site` for the rest.
    pub sites: BTreeMap<i64, String>,
    pub default_site: String,
    /// Store write-back connections only: the store warehouse that receives stock changes
    /// from a back office. 0 (the default) adjusts the product's own stock, which is what
    /// single-warehouse products use; products with multiple warehouses need one named.
    pub store_warehouse: i64,
}

/// What a GP sale posts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpSaleDocument {
    /// SOPTYPE 3, with payments.
    Invoice,
    /// SOPTYPE 2, with deposits; GP transfers it to an invoice when fulfilled.
    Order,
}

impl GpSaleDocument {
    pub fn sop_type(self) -> i32 {
        match self {
            Self::Invoice => 3,
            Self::Order => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::Order => "order",
        }
    }
}

/// GP SOP document IDs per type; a key left out keeps the GP connection's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpDocIdsConfig {
    pub invoice: Option<String>,
    pub order: Option<String>,
    pub r#return: Option<String>,
}

/// `dynamics_gp:` (target dynamics_gp only). Every key is optional: what is left out stays
/// with the GP connection's settings in connector-sink (`[[service.dynamics_gp]]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicsGpConfig {
    /// What a sale posts as (SOPTYPE 3 invoice or 2 order).
    pub sale_document: Option<GpSaleDocument>,
    #[serde(default)]
    pub doc_ids: GpDocIdsConfig,
    /// Site (LOCNCODE, at most 10 characters) of SOP lines and of items documents create.
    pub site: Option<String>,
    /// Batch prefix (at most 7 characters): BACHNUMB = prefix + the document date (YYYYMMDD).
    pub batch_prefix: Option<String>,
    /// Daily summaries (`posting.mode: daily_summary`) post as GL journals to these accounts
    /// instead of SOP invoices of the fixed customer.
    pub journal: Option<GpJournalConfig>,
}

/// `dynamics_gp.journal:` the GL accounts (ACTNUMST, at most 75 characters) a daily summary's
/// journal posts to besides its lines' own accounts (`items.income_account`,
/// `items.<kind>.account`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpJournalConfig {
    /// Store payment method system name → the clearing (or bank) account debited with the
    /// day's takings of that method.
    #[serde(default)]
    pub clearing_accounts: BTreeMap<String, String>,
    /// The clearing account of a payment method not in `clearing_accounts`.
    pub clearing_account: Option<String>,
    /// Tax code (the codes of `tax.vat.codes`, GP tax detail IDs) → tax payable account.
    #[serde(default)]
    pub tax_accounts: BTreeMap<String, String>,
    /// The tax payable account of a code not in `tax_accounts` (and of US sales tax).
    pub tax_account: Option<String>,
}
