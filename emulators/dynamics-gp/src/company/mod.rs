//! One GP company database: customers (RM00101-like) with addresses and internet
//! addresses, items (IV00101) with quantities per site (IV00102), SOP documents keyed by
//! (SOPTYPE, SOPNUMBE) with lines, taxes, payments and tracking numbers, inventory
//! adjustments keyed by IVDOCNBR, batches, GL journals and next-number counters per DOCID.

mod existing;
mod gl;
mod iv;
mod masters;
mod sop;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{CompanyConfig, EmulatorConfig};
use crate::fault::Fault;
use crate::schema::{schema, Node, NodeSpec, Txn};

pub type Values = BTreeMap<String, String>;

#[derive(Debug, Clone, Default)]
pub struct Customer {
    pub values: Values,
    pub addresses: BTreeMap<String, Values>,
    pub internet: BTreeMap<String, Values>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteQuantity {
    pub on_hand: Decimal,
    pub allocated: Decimal,
}

impl SiteQuantity {
    pub fn available(&self) -> Decimal {
        self.on_hand - self.allocated
    }
}

#[derive(Debug, Clone, Default)]
pub struct Item {
    pub values: Values,
    pub sites: BTreeMap<String, SiteQuantity>,
    /// Other nodes stored against the item (currencies, price lists, sites, addresses).
    pub extras: Vec<(String, Values)>,
}

impl Item {
    /// Sales inventory and discontinued items keep quantities; kits, misc charges,
    /// services and flat fees do not.
    pub fn tracks_quantity(&self) -> bool {
        matches!(
            self.values.get("ITEMTYPE").map(String::as_str),
            None | Some("") | Some("1") | Some("2")
        )
    }

    pub fn allows_back_orders(&self) -> bool {
        self.values.get("ALWBKORD").map(String::as_str) == Some("1")
    }
}

#[derive(Debug, Clone)]
pub struct SopLine {
    pub values: Values,
    pub item: String,
    pub site: String,
    pub sequence: i64,
    pub quantity: Decimal,
    /// Allocated (orders, invoices) and taken off on posting (invoices).
    pub fulfilled: Decimal,
    pub back_ordered: Decimal,
    pub cancelled: Decimal,
    pub extended: Decimal,
    pub tax: Decimal,
    /// The line moves stock of a tracked item.
    pub inventory: bool,
}

#[derive(Debug, Clone)]
pub struct SopDocument {
    pub soptype: i16,
    pub number: String,
    pub batch: String,
    pub header: Values,
    pub lines: Vec<SopLine>,
    pub taxes: Vec<Values>,
    pub payments: Vec<Values>,
    pub tracking: Vec<String>,
    pub posted: bool,
}

/// One line of an inventory transaction (IV10001-like).
#[derive(Debug, Clone)]
pub struct IvLine {
    pub values: Values,
    pub item: String,
    pub site: String,
    pub sequence: i64,
    /// TRXQTY: positive adds stock, negative removes it (on posting).
    pub quantity: Decimal,
}

/// An inventory adjustment (IVDOCTYP 1) or variance (2) (IV10000-like).
#[derive(Debug, Clone)]
pub struct IvDocument {
    pub doctype: i16,
    pub number: String,
    pub batch: String,
    pub header: Values,
    pub lines: Vec<IvLine>,
    pub posted: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Batch {
    pub series: String,
    pub documents: usize,
    pub total: String,
}

#[derive(Debug, Clone)]
pub struct Journal {
    pub number: i64,
    pub batch: String,
    pub header: Values,
    pub lines: Vec<Values>,
}

/// Per-company counters for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CompanyCounters {
    pub documents_accepted: u64,
    pub documents_rejected: u64,
    pub customers_created: u64,
    pub customers_updated: u64,
    pub items_created: u64,
    pub items_updated: u64,
    pub sop_documents: u64,
    pub journals: u64,
    #[serde(default)]
    pub iv_documents: u64,
}

#[derive(Debug, Clone)]
pub struct Company {
    pub config: CompanyConfig,
    pub customers: BTreeMap<String, Customer>,
    pub items: BTreeMap<String, Item>,
    pub sop: BTreeMap<(i16, String), SopDocument>,
    /// Inventory transactions by IVDOCNBR (upper-case).
    pub iv: BTreeMap<String, IvDocument>,
    pub next_iv: u64,
    pub batches: BTreeMap<String, Batch>,
    pub journals: BTreeMap<i64, Journal>,
    pub next_journal: i64,
    pub doc_counters: BTreeMap<String, u64>,
    pub counters: CompanyCounters,
}

/// GP keys are `char(n)` under a case-insensitive collation: compare trimmed, upper-case.
pub fn key(text: &str) -> String {
    text.trim().to_uppercase()
}

/// Money to the currency's 2 decimals (numeric(19,5) columns, rounded half away from zero).
pub fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let date_part = t.split(['T', ' ']).next().unwrap_or(t);
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(date_part, "%m/%d/%Y"))
        .ok()
}

/// The emulator's view of one node: values with schema defaults, and errors naming it.
pub struct View<'a> {
    pub node: &'a Node,
    spec: &'static NodeSpec,
}

impl<'a> View<'a> {
    pub fn new(node: &'a Node) -> Option<Self> {
        Some(Self {
            spec: schema().nodes.get(&node.name)?,
            node,
        })
    }

    /// The value sent (trimmed), else the schema default, else "".
    pub fn str(&self, field: &str) -> String {
        match self.node.values.get(field) {
            Some(v) => v.clone(),
            None => self
                .spec
                .field(field)
                .and_then(|f| f.default.clone())
                .unwrap_or_default(),
        }
    }

    /// A non-empty value.
    pub fn opt(&self, field: &str) -> Option<String> {
        Some(self.str(field)).filter(|s| !s.is_empty())
    }

    pub fn sent(&self, field: &str) -> bool {
        self.node.values.contains_key(field)
    }

    pub fn dec(&self, field: &str) -> Decimal {
        self.str(field)
            .trim_start_matches('+')
            .parse()
            .unwrap_or_default()
    }

    pub fn int(&self, field: &str) -> i64 {
        self.str(field).parse().unwrap_or_default()
    }

    pub fn fault(&self, number: i32, description: impl Into<String>) -> Fault {
        Fault::procedure(number, &self.node.name, description, &self.node.values)
    }

    /// The node's values with defaults applied for fields it did not send.
    pub fn full_values(&self) -> Values {
        let mut v = self.node.values.clone();
        for f in &self.spec.fields {
            if let Some(d) = &f.default {
                v.entry(f.name.clone()).or_insert_with(|| d.clone());
            }
        }
        v
    }
}

/// An auto-assigned number to write back into the echoed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub txn_index: usize,
    pub field: String,
    pub value: String,
}

/// What processing needs from the configuration.
pub struct Ctx<'a> {
    pub config: &'a EmulatorConfig,
}

impl Ctx<'_> {
    pub fn errors(&self) -> &crate::config::ErrorNumbers {
        &self.config.errors
    }

    pub fn validation(&self) -> &crate::config::ValidationConfig {
        &self.config.validation
    }
}

impl Company {
    pub fn new(config: CompanyConfig) -> Self {
        let mut items = BTreeMap::new();
        for seed in &config.items {
            let mut values = Values::new();
            values.insert("ITEMNMBR".into(), seed.itemnmbr.clone());
            values.insert("ITEMDESC".into(), seed.description.clone());
            values.insert("ITEMTYPE".into(), "1".into());
            values.insert(
                "ALWBKORD".into(),
                if seed.allow_back_orders { "1" } else { "0" }.into(),
            );
            let sites = seed
                .quantities
                .iter()
                .map(|(site, q)| {
                    let on_hand = q.to_string().parse().unwrap_or_default();
                    (
                        key(site),
                        SiteQuantity {
                            on_hand,
                            allocated: Decimal::ZERO,
                        },
                    )
                })
                .collect();
            items.insert(
                key(&seed.itemnmbr),
                Item {
                    values,
                    sites,
                    extras: Vec::new(),
                },
            );
        }
        let doc_counters = config
            .doc_ids
            .iter()
            .map(|d| (key(&d.docid), d.next_number))
            .collect();
        Self {
            customers: BTreeMap::new(),
            items,
            sop: BTreeMap::new(),
            iv: BTreeMap::new(),
            next_iv: 1,
            batches: BTreeMap::new(),
            journals: BTreeMap::new(),
            next_journal: 1,
            doc_counters,
            counters: CompanyCounters::default(),
            config,
        }
    }

    /// Whether a setup ID exists (always true when setup checks are off).
    pub fn has(&self, list: &[String], value: &str, ctx: &Ctx) -> bool {
        !ctx.validation().validate_setup_ids || list.iter().any(|v| key(v) == key(value))
    }

    pub fn has_site(&self, site: &str) -> bool {
        self.config.sites.iter().any(|s| key(s) == key(site))
    }

    /// The next number of a DOCID (GetNextDocNumbers), advancing the counter.
    pub fn next_sop_number(&mut self, soptype: i16, docid: &str) -> Option<String> {
        let seed = self
            .config
            .doc_ids
            .iter()
            .find(|d| d.soptype == soptype && key(&d.docid) == key(docid))?
            .clone();
        let counter = self
            .doc_counters
            .entry(key(docid))
            .or_insert(seed.next_number);
        loop {
            let candidate = format!("{}{:06}", seed.prefix, *counter);
            *counter += 1;
            if !self.sop.contains_key(&(soptype, key(&candidate))) {
                return Some(candidate);
            }
        }
    }

    /// Applies a validated document: every transaction type or none.
    pub fn apply(&mut self, txns: &[Txn], ctx: &Ctx) -> Result<Vec<Assignment>, Fault> {
        let mut work = self.clone();
        let mut assignments = Vec::new();
        for txn in txns {
            match txn.name.as_str() {
                "RMCustomerMasterType" | "IVItemMasterType" => work.masters(txn, ctx)?,
                "SOPTransactionType" => assignments.extend(work.sop_transaction(txn, ctx)?),
                "IVInventoryTransactionType" => assignments.extend(work.iv_transaction(txn, ctx)?),
                "GLTransactionType" => assignments.extend(work.gl_transaction(txn, ctx)?),
                other => {
                    return Err(crate::fault::Fault::plain(
                        crate::fault::FaultKind::Unsupported,
                        format!("The transaction type {other} is not supported by this emulator."),
                    ))
                }
            }
        }
        *self = work;
        Ok(assignments)
    }

    /// Posts the unposted invoices, returns and inventory adjustments of a batch: stock
    /// moves, documents close. Returns how many documents posted.
    pub fn post_batch(&mut self, batch: &str) -> usize {
        let keys: Vec<(i16, String)> = self
            .sop
            .iter()
            .filter(|(_, d)| !d.posted && key(&d.batch) == key(batch) && matches!(d.soptype, 3 | 4))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            self.post_document(k);
        }
        let adjustments: Vec<String> = self
            .iv
            .iter()
            .filter(|(_, d)| !d.posted && key(&d.batch) == key(batch))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &adjustments {
            self.post_iv(k);
        }
        keys.len() + adjustments.len()
    }

    pub fn post_document(&mut self, k: &(i16, String)) {
        let Some(doc) = self.sop.get(k).cloned() else {
            return;
        };
        if doc.posted {
            return;
        }
        for line in doc.lines.iter().filter(|l| l.inventory) {
            let Some(item) = self.items.get_mut(&key(&line.item)) else {
                continue;
            };
            let site = item.sites.entry(key(&line.site)).or_default();
            match doc.soptype {
                3 => {
                    site.on_hand -= line.fulfilled;
                    site.allocated -= line.fulfilled;
                }
                4 => site.on_hand += line.quantity,
                _ => {}
            }
        }
        if let Some(d) = self.sop.get_mut(k) {
            d.posted = true;
        }
    }

    /// Gives back what a document allocated (before it is replaced).
    pub fn release(&mut self, doc: &SopDocument) {
        if doc.posted || !matches!(doc.soptype, 2 | 3) {
            return;
        }
        for line in doc.lines.iter().filter(|l| l.inventory) {
            if let Some(site) = self
                .items
                .get_mut(&key(&line.item))
                .and_then(|i| i.sites.get_mut(&key(&line.site)))
            {
                site.allocated -= line.fulfilled;
            }
        }
    }

    pub fn render_customer(&self, c: &Customer) -> Value {
        json!({"values": c.values, "addresses": c.addresses, "internet_addresses": c.internet})
    }

    pub fn render_item(&self, i: &Item) -> Value {
        let quantities: serde_json::Map<String, Value> = i
            .sites
            .iter()
            .map(|(site, q)| {
                (
                    site.clone(),
                    json!({"QTYONHND": q.on_hand.normalize().to_string(),
                        "ATYALLOC": q.allocated.normalize().to_string(),
                        "available": q.available().normalize().to_string()}),
                )
            })
            .collect();
        json!({"values": i.values, "quantities": quantities,
            "extras": i.extras.iter().map(|(n, v)| json!({"node": n, "values": v})).collect::<Vec<_>>()})
    }

    pub fn render_sop(&self, d: &SopDocument) -> Value {
        let lines: Vec<Value> = d
            .lines
            .iter()
            .map(|l| {
                json!({"values": l.values, "ITEMNMBR": l.item, "LOCNCODE": l.site,
                    "LNITMSEQ": l.sequence, "QUANTITY": l.quantity.normalize().to_string(),
                    "QTYFULFI": l.fulfilled.normalize().to_string(),
                    "QTYTBAOR": l.back_ordered.normalize().to_string(),
                    "QTYCANCE": l.cancelled.normalize().to_string(),
                    "XTNDPRCE": l.extended.normalize().to_string(),
                    "TAXAMNT": l.tax.normalize().to_string()})
            })
            .collect();
        json!({"SOPTYPE": d.soptype, "SOPNUMBE": d.number, "BACHNUMB": d.batch,
            "posted": d.posted, "header": d.header, "lines": lines, "taxes": d.taxes,
            "payments": d.payments, "tracking_numbers": d.tracking})
    }

    pub fn render_iv(&self, d: &IvDocument) -> Value {
        let lines: Vec<Value> = d
            .lines
            .iter()
            .map(|l| {
                json!({"values": l.values, "ITEMNMBR": l.item, "TRXLOCTN": l.site,
                    "LNSEQNBR": l.sequence, "TRXQTY": l.quantity.normalize().to_string()})
            })
            .collect();
        json!({"IVDOCNBR": d.number, "IVDOCTYP": d.doctype, "BACHNUMB": d.batch,
            "posted": d.posted, "header": d.header, "lines": lines})
    }

    pub fn render_journal(&self, j: &Journal) -> Value {
        json!({"JRNENTRY": j.number, "BACHNUMB": j.batch, "header": j.header, "lines": j.lines})
    }
}

impl Company {
    /// Sets on-hand stock of an item at a site (an inventory adjustment posted in GP).
    /// False when the item or the site does not exist.
    pub fn set_quantity(&mut self, item: &str, site: &str, on_hand: Decimal) -> bool {
        if !self.has_site(site) {
            return false;
        }
        match self.items.get_mut(&key(item)) {
            Some(i) => {
                i.sites.entry(key(site)).or_default().on_hand = on_hand;
                true
            }
            None => false,
        }
    }
}
