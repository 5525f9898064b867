//! Per-realm state: objects, tombstones, the change log (CDC, webhooks), the requestid cache,
//! and the write operations with their SyncToken rules and side effects.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::api_error::{ApiResponse, Fault};
use crate::clock::format_time;
use crate::config::{RealmConfig, ValidationConfig};
use crate::entities::{self, check_properties, EntityKind, READ_ONLY};
use crate::json::{self, money, parse_decimal, parse_id, ref_value, str_field, Object};
use crate::table::{text_key, Table};

/// What happened to an object, for CDC and webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Void,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
            Self::Void => "Void",
        }
    }
}

/// The write a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    Create,
    Update,
    Delete,
    Void,
}

impl WriteOp {
    /// From `operation`, the void modifier (`include=void` / `optionsData=void`) and whether
    /// the body names an Id.
    pub fn decide(operation: Option<&str>, void: bool, has_id: bool) -> Result<Self, Fault> {
        match operation.map(str::to_ascii_lowercase).as_deref() {
            Some("delete") => Ok(Self::Delete),
            Some("void") => Ok(Self::Void),
            Some("update") if void => Ok(Self::Void),
            Some("update") => Ok(Self::Update),
            Some("create") => Ok(Self::Create),
            None if void => Ok(Self::Void),
            None if has_id => Ok(Self::Update),
            None => Ok(Self::Create),
            Some(other) => Err(Fault::unsupported(format!(
                "Operation {other} is not supported."
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Change {
    pub kind: EntityKind,
    pub id: u64,
    pub operation: Operation,
    pub at: DateTime<Utc>,
}

/// Per-write settings and the batch's hidden ids (objects created earlier in the same batch
/// are invisible to later items).
pub struct WriteCtx<'a> {
    pub now: DateTime<Utc>,
    pub validation: &'a ValidationConfig,
    pub hidden: &'a HashSet<u64>,
    pub allow_duplicate_doc_number: bool,
}

impl WriteCtx<'_> {
    /// Money to cents with the configured rounding.
    pub fn round(&self, d: Decimal) -> Decimal {
        json::round2_with(d, self.validation.rounding)
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RealmCounters {
    /// /v3 requests addressed to this realm (throttled ones included).
    pub requests: u64,
    /// 429s served to this realm.
    pub throttled: u64,
    pub creates: u64,
    pub updates: u64,
    pub deletes: u64,
    pub voids: u64,
    pub idempotent_replays: u64,
}

pub struct Realm {
    pub config: RealmConfig,
    next_id: u64,
    next_doc_number: u64,
    objects: HashMap<EntityKind, Table>,
    tombstones: HashMap<EntityKind, BTreeMap<u64, DateTime<Utc>>>,
    pub changes: Vec<Change>,
    idempotency: HashMap<String, ApiResponse>,
    pub counters: RealmCounters,
}

impl Realm {
    pub fn new(config: RealmConfig, now: DateTime<Utc>) -> Self {
        let mut realm = Self {
            config,
            next_id: 1,
            next_doc_number: 1001,
            objects: HashMap::new(),
            tombstones: HashMap::new(),
            changes: Vec::new(),
            idempotency: HashMap::new(),
            counters: RealmCounters::default(),
        };
        crate::seed::seed(&mut realm, now);
        realm
    }

    /// Stores a seeded object as is (no validation, no change event).
    pub fn insert_seed(&mut self, kind: EntityKind, mut obj: Object, now: DateTime<Utc>) -> u64 {
        let id = self.allocate_id();
        stamp_new(&mut obj, id, now);
        self.objects.entry(kind).or_default().insert(id, obj);
        id
    }

    fn allocate_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn get(&self, kind: EntityKind, id: u64) -> Option<&Object> {
        self.objects.get(&kind).and_then(|m| m.get(id))
    }

    fn get_mut(&mut self, kind: EntityKind, id: u64) -> Option<&mut Object> {
        self.objects.get_mut(&kind).and_then(|m| m.get_mut(id))
    }

    /// All stored objects of a kind (active and inactive, never deleted ones), by Id.
    pub fn all(&self, kind: EntityKind) -> impl Iterator<Item = &Object> {
        self.objects.get(&kind).into_iter().flat_map(|m| m.values())
    }

    /// Stored objects of a kind whose indexed `field` has one of `keys`, by Id.
    pub fn lookup(&self, kind: EntityKind, field: &str, keys: &[String]) -> Vec<&Object> {
        self.objects
            .get(&kind)
            .map(|t| t.lookup(field, keys))
            .unwrap_or_default()
    }

    pub fn tombstones(&self, kind: EntityKind) -> impl Iterator<Item = (u64, DateTime<Utc>)> + '_ {
        self.tombstones
            .get(&kind)
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (*k, *v)))
    }

    /// Id of the first active account with this AccountSubType (defaults such as Undeposited Funds).
    pub fn account_by_subtype(&self, subtype: &str) -> Option<(String, String)> {
        self.all(EntityKind::Account)
            .find(|a| {
                str_field(a, "AccountSubType") == Some(subtype)
                    && json::bool_field(a, "Active") != Some(false)
            })
            .map(|a| {
                (
                    str_field(a, "Id").unwrap_or_default().to_string(),
                    str_field(a, "Name").unwrap_or_default().to_string(),
                )
            })
    }

    /// Resolves a reference: missing or created earlier in this batch → 2500, inactive → 610.
    pub fn resolve(
        &self,
        kind: EntityKind,
        value: &str,
        element: &str,
        ctx: &WriteCtx<'_>,
    ) -> Result<&Object, Fault> {
        let id = parse_id(value).ok_or_else(|| Fault::invalid_reference(element))?;
        if ctx.hidden.contains(&id) {
            return Err(Fault::invalid_reference(element));
        }
        let obj = self
            .get(kind, id)
            .ok_or_else(|| Fault::invalid_reference(element))?;
        if kind.is_name_list() && json::bool_field(obj, "Active") == Some(false) {
            return Err(Fault::inactive_reference(element));
        }
        Ok(obj)
    }

    /// Next number of the company's sequence not already used by a document of this kind.
    fn next_doc_number(&mut self, kind: EntityKind) -> String {
        loop {
            let n = self.next_doc_number.to_string();
            self.next_doc_number += 1;
            if !self
                .lookup(kind, "DocNumber", &[text_key(&n)])
                .into_iter()
                .any(|o| str_field(o, "DocNumber") == Some(n.as_str()))
            {
                return n;
            }
        }
    }

    pub fn read(&self, kind: EntityKind, id: &str) -> Result<Object, Fault> {
        parse_id(id)
            .and_then(|id| self.get(kind, id))
            .cloned()
            .ok_or_else(Fault::not_found)
    }

    /// The first response given for this requestid, counted as a replay.
    pub fn replay(&mut self, request_id: &str) -> Option<ApiResponse> {
        let cached = self.idempotency.get(request_id).cloned();
        if cached.is_some() {
            self.counters.idempotent_replays += 1;
        }
        cached
    }

    pub fn cache(&mut self, request_id: String, response: ApiResponse) {
        self.idempotency.insert(request_id, response);
    }

    fn record(&mut self, kind: EntityKind, id: u64, operation: Operation, at: DateTime<Utc>) {
        self.changes.push(Change {
            kind,
            id,
            operation,
            at,
        });
    }

    pub fn perform(
        &mut self,
        kind: EntityKind,
        op: WriteOp,
        body: Object,
        ctx: &WriteCtx<'_>,
    ) -> Result<Object, Fault> {
        match op {
            WriteOp::Create => self.create(kind, body, ctx),
            WriteOp::Update => self.update(kind, body, ctx),
            WriteOp::Delete => self.delete(kind, body, ctx),
            WriteOp::Void => self.void(kind, body, ctx),
        }
    }

    pub fn create(
        &mut self,
        kind: EntityKind,
        body: Object,
        ctx: &WriteCtx<'_>,
    ) -> Result<Object, Fault> {
        if !kind.is_writable() {
            return Err(Fault::unsupported(format!(
                "Operation Create is not supported for {}.",
                kind.name()
            )));
        }
        check_properties(kind, &body)?;
        let input = strip_read_only(kind, body);
        let mut obj = self.normalize(kind, input, None, ctx)?;
        let id = self.allocate_id();
        if kind.is_sales_form()
            && str_field(&obj, "DocNumber") == Some(entities::sales::AUTO_DOC_NUMBER)
        {
            let n = self.next_doc_number(kind);
            obj.insert("DocNumber".into(), Value::from(n));
        }
        stamp_new(&mut obj, id, ctx.now);
        self.apply_effects(kind, id, None, Some(&obj), ctx);
        self.objects
            .entry(kind)
            .or_default()
            .insert(id, obj.clone());
        self.record(kind, id, Operation::Create, ctx.now);
        self.refresh_party_balances(kind, None, Some(&obj));
        self.counters.creates += 1;
        Ok(obj)
    }

    /// Full or sparse update (`"sparse": true`).
    pub fn update(
        &mut self,
        kind: EntityKind,
        body: Object,
        ctx: &WriteCtx<'_>,
    ) -> Result<Object, Fault> {
        if !kind.is_writable() {
            return Err(Fault::unsupported(format!(
                "Operation Update is not supported for {}.",
                kind.name()
            )));
        }
        check_properties(kind, &body)?;
        let sparse = json::bool_field(&body, "sparse") == Some(true);
        if kind == EntityKind::Bill && sparse && ref_value(&body, "VendorRef").is_none() {
            // QBO validates VendorRef on every Bill write, sparse included.
            return Err(Fault::required("VendorRef"));
        }
        let (id, old) = self.current(kind, &body, ctx)?;
        let input = strip_read_only(kind, body);
        let merged = if sparse {
            let mut merged = old.clone();
            for (k, v) in input {
                // A sparse update cannot clear a field with null; the old value persists.
                if !v.is_null() {
                    merged.insert(k, v);
                }
            }
            merged
        } else {
            let mut full = input;
            for keep in ["Id", "SyncToken"] {
                if let Some(v) = old.get(keep) {
                    full.insert(keep.into(), v.clone());
                }
            }
            full
        };
        let mut obj = self.normalize(kind, merged, Some(&old), ctx)?;
        if kind.is_sales_form()
            && str_field(&obj, "DocNumber") == Some(entities::sales::AUTO_DOC_NUMBER)
        {
            let n = self.next_doc_number(kind);
            obj.insert("DocNumber".into(), Value::from(n));
        }
        stamp_update(&mut obj, &old, id, ctx.now);
        self.apply_effects(kind, id, Some(&old), Some(&obj), ctx);
        self.objects
            .entry(kind)
            .or_default()
            .insert(id, obj.clone());
        self.record(kind, id, Operation::Update, ctx.now);
        self.refresh_party_balances(kind, Some(&old), Some(&obj));
        self.counters.updates += 1;
        Ok(obj)
    }

    /// `operation=delete` on transactions; name lists are deactivated instead.
    pub fn delete(
        &mut self,
        kind: EntityKind,
        body: Object,
        ctx: &WriteCtx<'_>,
    ) -> Result<Object, Fault> {
        if kind.is_name_list() {
            return Err(Fault::unsupported(format!(
                "Operation Delete is not supported for {}.",
                kind.name()
            )));
        }
        let (id, old) = self.current(kind, &body, ctx)?;
        if kind == EntityKind::Invoice && has_applied_payments(&old) {
            return Err(Fault::business("This transaction is linked to a payment. Remove the payment before deleting the invoice."));
        }
        self.apply_effects(kind, id, Some(&old), None, ctx);
        if let Some(table) = self.objects.get_mut(&kind) {
            table.remove(id);
        }
        self.tombstones.entry(kind).or_default().insert(id, ctx.now);
        self.record(kind, id, Operation::Delete, ctx.now);
        self.refresh_party_balances(kind, Some(&old), None);
        self.counters.deletes += 1;
        Ok(deleted_stub(id))
    }

    /// Void: amounts to zero, record and DocNumber kept, "Voided" in PrivateNote.
    pub fn void(
        &mut self,
        kind: EntityKind,
        body: Object,
        ctx: &WriteCtx<'_>,
    ) -> Result<Object, Fault> {
        if !kind.can_void() {
            return Err(Fault::unsupported(format!(
                "Operation Void is not supported for {}.",
                kind.name()
            )));
        }
        let (id, old) = self.current(kind, &body, ctx)?;
        if kind == EntityKind::Invoice && has_applied_payments(&old) {
            return Err(Fault::business(
                "You can't void an invoice that has payments applied. Unapply the payment first.",
            ));
        }
        let mut obj = old.clone();
        entities::sales::zero_amounts(&mut obj);
        let note = match str_field(&obj, "PrivateNote") {
            Some(n) if !n.is_empty() => format!("Voided - {n}"),
            _ => "Voided".to_string(),
        };
        obj.insert("PrivateNote".into(), Value::from(note));
        stamp_update(&mut obj, &old, id, ctx.now);
        self.apply_effects(kind, id, Some(&old), Some(&obj), ctx);
        self.objects
            .entry(kind)
            .or_default()
            .insert(id, obj.clone());
        self.record(kind, id, Operation::Void, ctx.now);
        self.refresh_party_balances(kind, Some(&old), Some(&obj));
        self.counters.voids += 1;
        Ok(obj)
    }

    /// Finds the object named by `Id` and checks `SyncToken` (2020 / 610 / 5010).
    fn current(
        &self,
        kind: EntityKind,
        body: &Object,
        ctx: &WriteCtx<'_>,
    ) -> Result<(u64, Object), Fault> {
        let id_text = id_text(body.get("Id")).ok_or_else(|| Fault::required("Id"))?;
        let id = parse_id(&id_text)
            .filter(|id| !ctx.hidden.contains(id))
            .ok_or_else(Fault::not_found)?;
        let old = self.get(kind, id).cloned().ok_or_else(Fault::not_found)?;
        let token =
            id_text_of(body.get("SyncToken")).ok_or_else(|| Fault::required("SyncToken"))?;
        if Some(token.as_str()) != str_field(&old, "SyncToken") {
            return Err(Fault::stale());
        }
        Ok((id, old))
    }

    fn normalize(
        &self,
        kind: EntityKind,
        obj: Object,
        existing: Option<&Object>,
        ctx: &WriteCtx<'_>,
    ) -> Result<Object, Fault> {
        use entities::{bill, names, payment, sales};
        match kind {
            EntityKind::Customer | EntityKind::Vendor => {
                names::person(self, kind, obj, existing, ctx)
            }
            EntityKind::Item => names::item(self, obj, existing, ctx),
            EntityKind::Account => names::account(self, obj, existing, ctx),
            EntityKind::PaymentMethod => names::payment_method(self, obj, existing, ctx),
            EntityKind::TaxCode | EntityKind::TaxRate => Ok(obj),
            EntityKind::Invoice
            | EntityKind::SalesReceipt
            | EntityKind::CreditMemo
            | EntityKind::RefundReceipt => sales::normalize(self, kind, obj, existing, ctx),
            EntityKind::Payment => payment::normalize(self, obj, existing, ctx),
            EntityKind::Bill => bill::normalize(self, obj, existing, ctx),
        }
    }

    /// Side effects of replacing `old` by `new` (either may be absent): payment application
    /// on invoices and credit memos, and inventory quantities.
    fn apply_effects(
        &mut self,
        kind: EntityKind,
        id: u64,
        old: Option<&Object>,
        new: Option<&Object>,
        ctx: &WriteCtx<'_>,
    ) {
        if kind == EntityKind::Payment {
            let before = old.map(payment::applications).unwrap_or_default();
            let after = new.map(payment::applications).unwrap_or_default();
            let mut touched: Vec<(EntityKind, u64)> = Vec::new();
            for (target_kind, target, amount) in before {
                self.adjust_open_amount(
                    target_kind,
                    target,
                    amount,
                    id,
                    false,
                    ctx.validation.rounding,
                );
                touched.push((target_kind, target));
            }
            for (target_kind, target, amount) in after {
                self.adjust_open_amount(
                    target_kind,
                    target,
                    -amount,
                    id,
                    true,
                    ctx.validation.rounding,
                );
                touched.push((target_kind, target));
            }
            touched.sort();
            touched.dedup();
            for (target_kind, target) in touched {
                if let Some(obj) = self.get_mut(target_kind, target) {
                    bump(obj, ctx.now);
                }
                self.record(target_kind, target, Operation::Update, ctx.now);
            }
        }
        let mut deltas: BTreeMap<u64, Decimal> = BTreeMap::new();
        for (item, qty) in old.map(|o| inventory_deltas(kind, o)).unwrap_or_default() {
            *deltas.entry(item).or_default() -= qty;
        }
        for (item, qty) in new.map(|o| inventory_deltas(kind, o)).unwrap_or_default() {
            *deltas.entry(item).or_default() += qty;
        }
        for (item, delta) in deltas {
            if delta.is_zero() {
                continue;
            }
            let bump_token = ctx.validation.inventory_bumps_item_sync_token;
            let Some(obj) = self.get_mut(EntityKind::Item, item) else {
                continue;
            };
            if json::bool_field(obj, "TrackQtyOnHand") != Some(true) {
                continue;
            }
            let qty = obj
                .get("QtyOnHand")
                .and_then(parse_decimal)
                .unwrap_or_default()
                + delta;
            obj.insert("QtyOnHand".into(), money(qty));
            if bump_token {
                bump(obj, ctx.now);
            } else {
                set_last_updated(obj, ctx.now);
            }
            self.record(EntityKind::Item, item, Operation::Update, ctx.now);
        }
    }

    /// Customer Balance = open invoices − unused credit − unapplied payments; Vendor Balance =
    /// open bills. Recomputed for the parties of the old and new document.
    fn refresh_party_balances(
        &mut self,
        kind: EntityKind,
        old: Option<&Object>,
        new: Option<&Object>,
    ) {
        let (party_kind, field, docs): (EntityKind, &str, &[(EntityKind, &str, Decimal)]) =
            match kind {
                EntityKind::Invoice | EntityKind::CreditMemo | EntityKind::Payment => (
                    EntityKind::Customer,
                    "CustomerRef",
                    &[
                        (EntityKind::Invoice, "Balance", Decimal::ONE),
                        (
                            EntityKind::CreditMemo,
                            "RemainingCredit",
                            Decimal::NEGATIVE_ONE,
                        ),
                        (EntityKind::Payment, "UnappliedAmt", Decimal::NEGATIVE_ONE),
                    ],
                ),
                EntityKind::Bill => (
                    EntityKind::Vendor,
                    "VendorRef",
                    &[(EntityKind::Bill, "Balance", Decimal::ONE)],
                ),
                _ => return,
            };
        let mut parties: Vec<String> = [old, new]
            .into_iter()
            .flatten()
            .filter_map(|o| ref_value(o, field))
            .map(str::to_string)
            .collect();
        parties.sort();
        parties.dedup();
        for party in parties {
            let Some(party_id) = parse_id(&party) else {
                continue;
            };
            let mut balance = Decimal::ZERO;
            for (doc_kind, amount_field, sign) in docs {
                balance += self
                    .lookup(*doc_kind, field, &[text_key(&party)])
                    .into_iter()
                    .filter(|d| ref_value(d, field) == Some(party.as_str()))
                    .filter_map(|d| d.get(*amount_field).and_then(parse_decimal))
                    .sum::<Decimal>()
                    * *sign;
            }
            if let Some(p) = self.get_mut(party_kind, party_id) {
                p.insert("Balance".into(), money(balance));
                if party_kind == EntityKind::Customer {
                    p.insert("BalanceWithJobs".into(), money(balance));
                }
            }
        }
    }

    /// Moves an invoice's Balance (or a credit memo's RemainingCredit) and its LinkedTxn list.
    fn adjust_open_amount(
        &mut self,
        kind: EntityKind,
        target: u64,
        delta: Decimal,
        payment_id: u64,
        link: bool,
        rounding: crate::config::Rounding,
    ) {
        let Some(obj) = self.get_mut(kind, target) else {
            return;
        };
        let field = if kind == EntityKind::CreditMemo {
            "RemainingCredit"
        } else {
            "Balance"
        };
        let value = obj.get(field).and_then(parse_decimal).unwrap_or_default() + delta;
        obj.insert(field.into(), money(value));
        if kind == EntityKind::CreditMemo {
            obj.insert("Balance".into(), money(value));
        }
        if let Some(rate) = obj.get("ExchangeRate").and_then(parse_decimal) {
            if obj.contains_key("HomeBalance") {
                obj.insert(
                    "HomeBalance".into(),
                    money(json::round2_with(value * rate, rounding)),
                );
            }
        }
        let pid = payment_id.to_string();
        let mut linked: Vec<Value> = obj
            .get("LinkedTxn")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        linked.retain(|l| {
            !(l.get("TxnId").and_then(Value::as_str) == Some(pid.as_str())
                && l.get("TxnType").and_then(Value::as_str) == Some("Payment"))
        });
        if link {
            linked.push(json!({"TxnId": pid, "TxnType": "Payment"}));
        }
        obj.insert("LinkedTxn".into(), Value::Array(linked));
    }
}

use crate::entities::payment;

fn has_applied_payments(obj: &Object) -> bool {
    obj.get("LinkedTxn")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|t| t.get("TxnType").and_then(Value::as_str) == Some("Payment"))
        })
}

/// Quantity each tracked item gains from this document (sales negative, returns and bills positive).
fn inventory_deltas(kind: EntityKind, obj: &Object) -> Vec<(u64, Decimal)> {
    let (detail, sign) = match kind {
        EntityKind::Invoice | EntityKind::SalesReceipt => {
            ("SalesItemLineDetail", Decimal::NEGATIVE_ONE)
        }
        EntityKind::CreditMemo | EntityKind::RefundReceipt => ("SalesItemLineDetail", Decimal::ONE),
        EntityKind::Bill => ("ItemBasedExpenseLineDetail", Decimal::ONE),
        _ => return Vec::new(),
    };
    let Some(lines) = obj.get("Line").and_then(Value::as_array) else {
        return Vec::new();
    };
    lines
        .iter()
        .filter_map(|line| {
            let d = line.get(detail)?.as_object()?;
            let item = ref_value(d, "ItemRef").and_then(parse_id)?;
            let qty = d.get("Qty").and_then(parse_decimal)?;
            Some((item, qty * sign))
        })
        .collect()
}

fn strip_read_only(kind: EntityKind, mut obj: Object) -> Object {
    for key in READ_ONLY {
        obj.remove(*key);
    }
    obj.remove("sparse");
    // TotalAmt is input only on Payment; Balance only as a name-list opening balance.
    if kind != EntityKind::Payment {
        obj.remove("TotalAmt");
    }
    if kind.is_transaction() {
        obj.remove("Balance");
    }
    obj
}

fn id_text(v: Option<&Value>) -> Option<String> {
    id_text_of(v).filter(|s| !s.is_empty())
}

/// Ids and SyncTokens are strings, but numbers are coerced like QBO does.
fn id_text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn stamp_new(obj: &mut Object, id: u64, now: DateTime<Utc>) {
    let t = format_time(now);
    obj.insert("Id".into(), Value::from(id.to_string()));
    obj.insert("SyncToken".into(), Value::from("0"));
    obj.insert(
        "MetaData".into(),
        json!({"CreateTime": t, "LastUpdatedTime": t}),
    );
    obj.insert("domain".into(), Value::from("QBO"));
    obj.insert("sparse".into(), Value::from(false));
}

fn stamp_update(obj: &mut Object, old: &Object, id: u64, now: DateTime<Utc>) {
    let created = old
        .get("MetaData")
        .and_then(|m| m.get("CreateTime"))
        .cloned()
        .unwrap_or(Value::Null);
    let token = str_field(old, "SyncToken")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    obj.insert("Id".into(), Value::from(id.to_string()));
    obj.insert("SyncToken".into(), Value::from(token.to_string()));
    obj.insert(
        "MetaData".into(),
        json!({"CreateTime": created, "LastUpdatedTime": format_time(now)}),
    );
    obj.insert("domain".into(), Value::from("QBO"));
    obj.insert("sparse".into(), Value::from(false));
}

/// Side-effect write: SyncToken + 1 and LastUpdatedTime (e.g. a payment applied to an invoice).
fn bump(obj: &mut Object, now: DateTime<Utc>) {
    let token = str_field(obj, "SyncToken")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    obj.insert("SyncToken".into(), Value::from(token.to_string()));
    set_last_updated(obj, now);
}

fn set_last_updated(obj: &mut Object, now: DateTime<Utc>) {
    if let Some(Value::Object(meta)) = obj.get_mut("MetaData") {
        meta.insert("LastUpdatedTime".into(), Value::from(format_time(now)));
    }
}

pub fn deleted_stub(id: u64) -> Object {
    let mut stub = Object::new();
    stub.insert("domain".into(), Value::from("QBO"));
    stub.insert("status".into(), Value::from("Deleted"));
    stub.insert("Id".into(), Value::from(id.to_string()));
    stub
}
