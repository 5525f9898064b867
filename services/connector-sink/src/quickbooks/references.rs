//! Finding (or creating) what a document refers to: customers by cross reference, then email,
//! then DisplayName; items by SKU; accounts, tax codes and payment methods by name.
use super::{
    batch::WriteOp,
    config::DisplayNameRule,
    encoder::{self, fit_name, literal},
    service::{QboError, QboRequest},
    QboConnector,
};
use crate::xref::Xref;
use nopbridge_proto::commands::v1::{
    CustomerMatchRule, CustomerRef, ItemRef, ItemType, PartyName, PostalAddress,
};
use nopbridge_proto::events::v1::Money;
use serde_json::{json, Value};

/// What is known about a customer when it may have to be created.
#[derive(Default)]
pub struct CustomerDetails<'a> {
    pub name: Option<&'a PartyName>,
    pub email: &'a str,
    pub phone: &'a str,
    pub billing: Option<&'a PostalAddress>,
    pub shipping: Option<&'a PostalAddress>,
}

/// Name lists hide inactive records unless asked (pitfall 21).
const ACTIVE_OR_NOT: &str = " AND Active IN (true, false)";

/// What a DisplayName lookup says about the person being resolved.
enum NameMatch {
    /// Nobody has the name.
    Free,
    /// This customer is the person (or the rule adopts namesakes).
    Adopt(Value),
    /// Someone else has the name.
    Conflict,
}

/// What a new item looks like (the mapping's `items.*` settings, or an UpsertItem).
#[derive(Default)]
pub struct NewItem<'a> {
    pub description: &'a str,
    pub kind: ItemType,
    pub income_account: &'a str,
    pub expense_account: &'a str,
    pub asset_account: &'a str,
    pub unit_price: Option<&'a Money>,
    pub unit_cost: Option<&'a Money>,
    pub quantity_on_hand: i64,
    /// Inventory start date, "YYYY-MM-DD".
    pub start_date: String,
    pub taxable: Option<bool>,
}

/// Which customer of the same name counts as the person being resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameTrust {
    /// Match rule `display_name` or `fixed`: the name is the identity.
    Any,
    /// Match rule `email`: only a customer with this email.
    SameEmail,
    /// Email, then display name: this email or an unknown one.
    SamePerson,
}

/// A resolved reference and whether this command created it.
pub struct Resolved {
    pub id: String,
    pub created: bool,
    pub attempts: u32,
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn currency_of(v: &Value, home: &str) -> String {
    v.get("CurrencyRef")
        .and_then(|c| c.get("value"))
        .and_then(Value::as_str)
        .unwrap_or(home)
        .to_ascii_uppercase()
}

pub fn address(a: &PostalAddress) -> Value {
    let mut v = json!({});
    for (i, l) in a
        .lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .take(5)
        .enumerate()
    {
        v[format!("Line{}", i + 1)] = json!(l.chars().take(500).collect::<String>());
    }
    for (k, s) in [
        ("City", &a.city),
        ("CountrySubDivisionCode", &a.region),
        ("PostalCode", &a.postal_code),
        ("Country", &a.country_code),
    ] {
        if !s.is_empty() {
            v[k] = json!(s);
        }
    }
    v
}

impl QboConnector {
    /// Runs a query and returns the rows of `entity`.
    pub(crate) async fn query(
        &self,
        entity: &str,
        statement: &str,
    ) -> Result<Vec<Value>, QboError> {
        let req = QboRequest::get("query").param("query", statement);
        let resp = self.service.call(&req).await?;
        Ok(resp
            .body
            .get("QueryResponse")
            .and_then(|q| q.get(entity))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// Rows of `entity` whose `field` equals `value` exactly (LIKE when the value holds
    /// characters the query lexer refuses).
    async fn find_by(
        &self,
        entity: &str,
        field: &str,
        value: &str,
        extra: &str,
    ) -> Result<Vec<Value>, QboError> {
        let cond = if encoder::has_lexical_trouble(value) {
            format!("{field} LIKE {}", encoder::like_pattern(value))
        } else {
            format!("{field} = {}", literal(value))
        };
        let rows = self
            .query(
                entity,
                &format!("SELECT * FROM {entity} WHERE {cond}{extra} MAXRESULTS 100"),
            )
            .await?;
        let want = value.to_lowercase();
        Ok(rows
            .into_iter()
            .filter(|r| {
                let actual = match r.get(field) {
                    Some(Value::Object(o)) => {
                        o.get("Address").and_then(Value::as_str).unwrap_or_default()
                    }
                    _ => str_of(r, field),
                };
                actual.to_lowercase() == want
            })
            .collect())
    }

    async fn cached_lookup(&self, entity: &str, name: &str) -> Result<Option<String>, QboError> {
        let key = format!("{entity}|{name}");
        if let Some(id) = self.cache.lock().get(&key) {
            return Ok(Some(id.clone()));
        }
        let rows = self.find_by(entity, "Name", name, "").await?;
        let id = rows.first().map(|r| str_of(r, "Id").to_string());
        if let Some(id) = &id {
            self.cache.lock().insert(key, id.clone());
        }
        Ok(id)
    }

    pub(crate) async fn account(&self, name: &str) -> Result<String, QboError> {
        self.cached_lookup("Account", name).await?.ok_or_else(|| {
            QboError::invalid(
                "reference",
                format!("account '{name}' does not exist in QuickBooks; create it or change the mapping"),
            )
        })
    }

    pub(crate) async fn payment_method(&self, name: &str) -> Result<Option<String>, QboError> {
        if name.is_empty() {
            return Ok(None);
        }
        self.cached_lookup("PaymentMethod", name).await
    }

    /// A tax code: `TAX`/`NON` pass through (US), anything else is a TaxCode name or id.
    pub(crate) async fn tax_code(&self, code: &str) -> Result<String, QboError> {
        if code == "TAX" || code == "NON" || code.chars().all(|c| c.is_ascii_digit()) {
            return Ok(code.to_string());
        }
        self.cached_lookup("TaxCode", code).await?.ok_or_else(|| {
            QboError::invalid(
                "reference",
                format!("tax code '{code}' does not exist in QuickBooks; check the connection's tax mapping"),
            )
        })
    }

    /// Customer: cross reference, then email, then DisplayName; created when missing.
    pub(crate) async fn customer(
        &self,
        command_id: &str,
        r: &CustomerRef,
        currency: &str,
        d: &CustomerDetails<'_>,
    ) -> Result<Resolved, QboError> {
        let conn = &self.cfg.connection_id;
        let home = self.cfg.home_currency.to_ascii_uppercase();
        let currency = if currency.is_empty() {
            home.clone()
        } else {
            currency.to_ascii_uppercase()
        };
        let rule = r.match_rule();
        let fixed = rule == CustomerMatchRule::Fixed;
        // The fixed customer ("Web Sales") is nobody's: the buyer's details stay off it.
        let details = CustomerDetails::default();
        let d = if fixed { &details } else { d };
        let email = if fixed {
            ""
        } else if r.email.is_empty() {
            d.email
        } else {
            r.email.as_str()
        }
        .trim()
        .to_lowercase();
        let by_email = !email.is_empty() && rule != CustomerMatchRule::DisplayName;
        let trust = match rule {
            CustomerMatchRule::DisplayName | CustomerMatchRule::Fixed => NameTrust::Any,
            CustomerMatchRule::Email if by_email => NameTrust::SameEmail,
            _ => NameTrust::SamePerson,
        };
        let key = if fixed {
            format!("{currency}|fixed:{}", r.display_name.to_lowercase())
        } else if by_email {
            format!("{currency}|email:{email}")
        } else if !r.store_customer_id.is_empty() && r.store_customer_id != "0" {
            format!("{currency}|store:{}", r.store_customer_id)
        } else {
            format!("{currency}|name:{}", r.display_name.to_lowercase())
        };
        let known = |x: Xref| {
            self.note_xref_hit(command_id, "customer", &key);
            Resolved {
                id: x.target_id,
                created: false,
                attempts: 0,
            }
        };
        if let Some(x) = self.store.get_cached(conn, "customer", &key).await? {
            return Ok(known(x));
        }
        // Concurrent commands for the same person wait here and find the first one's result.
        let _flight = self.flights.lock(&format!("customer|{key}")).await;
        if let Some(x) = self.store.get_cached(conn, "customer", &key).await? {
            return Ok(known(x));
        }
        if by_email {
            match self
                .find_by("Customer", "PrimaryEmailAddr", &email, "")
                .await
            {
                Ok(rows) => {
                    if let Some(c) = rows.iter().find(|c| currency_of(c, &home) == currency) {
                        let id = self.usable(command_id, "Customer", c).await?;
                        return self.remember_customer(command_id, &key, id, false, 0).await;
                    }
                }
                // Email is not filterable on every company (4001): fall through to the name.
                Err(e) if matches!(e.code(), Some("4001")) => {}
                Err(e) => return Err(e),
            }
        }
        let base = self.display_name(r, d, &currency, &home);
        let mut attempts = 0;
        match self.same_name(&base, &currency, &email, trust).await? {
            NameMatch::Adopt(c) => {
                let id = self.usable(command_id, "Customer", &c).await?;
                return self.remember_customer(command_id, &key, id, false, 0).await;
            }
            NameMatch::Conflict => {}
            NameMatch::Free => {
                match self
                    .create_customer(command_id, "customer", &base, &currency, &home, &email, d)
                    .await
                {
                    Ok((id, a)) => {
                        return self.remember_customer(command_id, &key, id, true, a).await
                    }
                    // Another process created this person meanwhile (adopt it), or a vendor
                    // or employee holds the name (disambiguate below).
                    Err(e) if e.code() == Some("6240") => {
                        attempts += 1;
                        if let NameMatch::Adopt(c) =
                            self.same_name(&base, &currency, &email, trust).await?
                        {
                            let id = self.usable(command_id, "Customer", &c).await?;
                            return self
                                .remember_customer(command_id, &key, id, false, attempts)
                                .await;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        // The name belongs to someone else: a vendor, an employee, a customer in another
        // currency or (rule `disambiguate`) a customer with another email.
        let suffix = match r.store_customer_id.as_str() {
            "" | "0" => format!(
                " #{}",
                &command_id
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(8)
                    .collect::<String>()
            ),
            id => format!(" #{id}"),
        };
        let name = format!("{}{suffix}", fit_name(&base, 500 - suffix.chars().count()));
        // The disambiguated name is ours alone: whoever holds it is this person.
        if let Some(c) = self
            .find_by("Customer", "DisplayName", &name, ACTIVE_OR_NOT)
            .await?
            .iter()
            .find(|c| currency_of(c, &home) == currency)
        {
            let id = self.usable(command_id, "Customer", c).await?;
            return self
                .remember_customer(command_id, &key, id, false, attempts)
                .await;
        }
        match self
            .create_customer(command_id, "customer-2", &name, &currency, &home, &email, d)
            .await
        {
            Ok((id, a)) => {
                self.remember_customer(command_id, &key, id, true, a + attempts)
                    .await
            }
            Err(e) if e.code() == Some("6240") => {
                let again = self
                    .find_by("Customer", "DisplayName", &name, ACTIVE_OR_NOT)
                    .await?;
                match again.iter().find(|c| currency_of(c, &home) == currency) {
                    Some(c) => {
                        let id = self.usable(command_id, "Customer", c).await?;
                        self.remember_customer(command_id, &key, id, false, attempts + 1)
                            .await
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Customers already named `name` (active or not, pitfall 21), judged for this person:
    /// one in the same currency whose email is ours (or, unless only email counts, unknown)
    /// is this person; one with another email is a namesake, adopted or not as
    /// `display_name_conflict` says. With the display-name rule any namesake is this person.
    async fn same_name(
        &self,
        name: &str,
        currency: &str,
        email: &str,
        trust: NameTrust,
    ) -> Result<NameMatch, QboError> {
        let home = self.cfg.home_currency.to_ascii_uppercase();
        let rows = self
            .find_by("Customer", "DisplayName", name, ACTIVE_OR_NOT)
            .await?;
        if rows.is_empty() {
            return Ok(NameMatch::Free);
        }
        let ours: Vec<&Value> = rows
            .iter()
            .filter(|c| currency_of(c, &home) == currency)
            .collect();
        let email_of = |c: &Value| {
            c.get("PrimaryEmailAddr")
                .and_then(|e| e.get("Address"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        };
        let same_email = ours
            .iter()
            .find(|c| !email.is_empty() && email_of(c) == email);
        let same_person = match trust {
            NameTrust::Any => same_email.or(ours.first()),
            NameTrust::SameEmail => same_email,
            NameTrust::SamePerson => same_email.or_else(|| {
                ours.iter()
                    .find(|c| email.is_empty() || email_of(c).is_empty())
            }),
        };
        let adopt_namesakes = trust == NameTrust::SamePerson
            && self.cfg.display_name_conflict == DisplayNameRule::Adopt;
        Ok(match (same_person, ours.first()) {
            (Some(c), _) => NameMatch::Adopt((*c).clone()),
            (None, Some(c)) if adopt_namesakes => NameMatch::Adopt((*c).clone()),
            _ => NameMatch::Conflict,
        })
    }

    /// The id of a found customer or item, reactivated first when it was made inactive
    /// (a document that refers to an inactive record is refused with 610).
    async fn usable(
        &self,
        command_id: &str,
        entity: &'static str,
        found: &Value,
    ) -> Result<String, QboError> {
        let id = str_of(found, "Id").to_string();
        if found.get("Active").and_then(Value::as_bool) != Some(false) {
            return Ok(id);
        }
        let token = str_of(found, "SyncToken");
        let body = json!({ "Id": id, "SyncToken": token, "sparse": true, "Active": true });
        let rid = encoder::request_id(command_id, &format!("reactivate:{entity}:{id}:{token}"));
        self.service
            .call(&QboRequest::post(entity.to_ascii_lowercase(), body).request_id(rid))
            .await?;
        Ok(id)
    }

    async fn remember_customer(
        &self,
        command_id: &str,
        key: &str,
        id: String,
        created: bool,
        attempts: u32,
    ) -> Result<Resolved, QboError> {
        let x = Xref {
            target_id: id.clone(),
            version: String::new(),
            command_id: command_id.to_string(),
        };
        self.store
            .put(&self.cfg.connection_id, "customer", key, &x)
            .await?;
        Ok(Resolved {
            id,
            created,
            attempts,
        })
    }

    fn display_name(
        &self,
        r: &CustomerRef,
        d: &CustomerDetails<'_>,
        currency: &str,
        home: &str,
    ) -> String {
        let mut name = [
            r.display_name.as_str(),
            d.name.map(|n| n.display_name.as_str()).unwrap_or_default(),
            d.name.map(|n| n.full_name.as_str()).unwrap_or_default(),
            r.email.as_str(),
        ]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("Store customer {}", r.store_customer_id));
        // QuickBooks fixes a customer's currency: one customer per currency, named apart
        // (unless the mapping's display-name recipe already did).
        let suffix = format!(" ({currency})");
        if currency != home && !name.trim_end().ends_with(&suffix) {
            name = format!("{}{suffix}", fit_name(&name, 500 - suffix.chars().count()));
        }
        fit_name(&name, 500)
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_customer(
        &self,
        command_id: &str,
        step: &str,
        name: &str,
        currency: &str,
        home: &str,
        email: &str,
        d: &CustomerDetails<'_>,
    ) -> Result<(String, u32), QboError> {
        let mut body = json!({ "DisplayName": name });
        if let Some(n) = d.name {
            for (k, v, max) in [
                ("GivenName", &n.given_name, 100),
                ("FamilyName", &n.family_name, 100),
                ("CompanyName", &n.company, 100),
            ] {
                if !v.trim().is_empty() {
                    body[k] = json!(v.trim().chars().take(max).collect::<String>());
                }
            }
        }
        if !email.is_empty() {
            body["PrimaryEmailAddr"] = json!({ "Address": email });
        }
        if !d.phone.is_empty() {
            body["PrimaryPhone"] =
                json!({ "FreeFormNumber": d.phone.chars().take(30).collect::<String>() });
        }
        if let Some(a) = d.billing {
            body["BillAddr"] = address(a);
        }
        if let Some(a) = d.shipping {
            body["ShipAddr"] = address(a);
        }
        if currency != home {
            body["CurrencyRef"] = json!({ "value": currency });
        }
        let op = WriteOp::create("Customer", body, encoder::request_id(command_id, step))
            .batchable(true);
        let r = self.batcher.write(op).await?;
        Ok((str_of(&r.entity, "Id").to_string(), r.attempts))
    }

    /// Item by configured target item, else SKU, else name; created when configured to.
    /// The item of a document line; created (as the mapping describes it) when the
    /// connection allows it.
    pub(crate) async fn item(
        &self,
        command_id: &str,
        r: &ItemRef,
        spec: &NewItem<'_>,
    ) -> Result<Resolved, QboError> {
        self.item_with(command_id, r, spec, self.cfg.create_missing_items)
            .await
    }

    /// An UpsertItem (or a line the mapping points at an account) asks for the item
    /// explicitly: created whatever `create_missing_items` says.
    pub(crate) async fn item_for_upsert(
        &self,
        command_id: &str,
        r: &ItemRef,
        spec: &NewItem<'_>,
    ) -> Result<Resolved, QboError> {
        self.item_with(command_id, r, spec, true).await
    }

    /// The body of a new item: type and accounts as the mapping says, the connection's
    /// income account when it says none.
    async fn new_item_body(
        &self,
        name: &str,
        r: &ItemRef,
        spec: &NewItem<'_>,
    ) -> Result<Value, QboError> {
        let income = match spec.income_account {
            "" => self.cfg.income_account.as_str(),
            a => a,
        };
        let kind = match spec.kind {
            ItemType::Inventory => "Inventory",
            ItemType::Service => "Service",
            _ => "NonInventory",
        };
        let mut body = json!({
            "Name": name, "Type": kind,
            "IncomeAccountRef": { "value": self.account(income).await? },
        });
        let required = |key: &str, v: &str| {
            if v.is_empty() {
                Err(QboError::invalid(
                    "validation",
                    format!(
                        "an inventory item needs the mapping's items.{key}; set it, then replay"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        if spec.kind == ItemType::Inventory {
            required("expense_account", spec.expense_account)?;
            required("asset_account", spec.asset_account)?;
            body["TrackQtyOnHand"] = json!(true);
            body["QtyOnHand"] = json!(spec.quantity_on_hand);
            body["InvStartDate"] = json!(spec.start_date);
            body["AssetAccountRef"] = json!({ "value": self.account(spec.asset_account).await? });
        }
        if !spec.expense_account.is_empty() {
            body["ExpenseAccountRef"] =
                json!({ "value": self.account(spec.expense_account).await? });
        }
        // Item prices are in home currency; a price in another currency is left to the books.
        let home = &self.cfg.home_currency;
        for (key, m) in [
            ("UnitPrice", spec.unit_price),
            ("PurchaseCost", spec.unit_cost),
        ] {
            if let Some(m) = m.filter(|m| m.currency.eq_ignore_ascii_case(home)) {
                body[key] = encoder::num(encoder::money_decimal(m.minor_units, home));
            }
        }
        if let Some(t) = spec.taxable {
            body["Taxable"] = json!(t);
        }
        if !r.sku.is_empty() {
            body["Sku"] = json!(r.sku.chars().take(100).collect::<String>());
        }
        if !spec.description.is_empty() {
            body["Description"] = json!(spec.description.chars().take(4000).collect::<String>());
        }
        Ok(body)
    }

    async fn item_with(
        &self,
        command_id: &str,
        r: &ItemRef,
        spec: &NewItem<'_>,
        create: bool,
    ) -> Result<Resolved, QboError> {
        let conn = &self.cfg.connection_id;
        if !r.target_item.is_empty() {
            if r.target_item.chars().all(|c| c.is_ascii_digit()) {
                return Ok(Resolved {
                    id: r.target_item.clone(),
                    created: false,
                    attempts: 0,
                });
            }
            let found = self.find_by("Item", "Name", &r.target_item, "").await?;
            return match found.first() {
                Some(i) => Ok(Resolved {
                    id: str_of(i, "Id").to_string(),
                    created: false,
                    attempts: 0,
                }),
                None => Err(QboError::invalid(
                    "reference",
                    format!(
                        "the mapped item '{}' does not exist in QuickBooks; fix the SKU override",
                        r.target_item
                    ),
                )),
            };
        }
        let (key, field, value) = if !r.sku.is_empty() {
            (format!("sku:{}", r.sku), "Sku", r.sku.as_str())
        } else {
            (
                format!("name:{}", r.name.to_lowercase()),
                "Name",
                r.name.as_str(),
            )
        };
        if value.is_empty() {
            return Err(QboError::invalid(
                "validation",
                "a product line has neither SKU nor name",
            ));
        }
        let known = |x: Xref| {
            self.note_xref_hit(command_id, "item", &key);
            Resolved {
                id: x.target_id,
                created: false,
                attempts: 0,
            }
        };
        if let Some(x) = self.store.get_cached(conn, "item", &key).await? {
            return Ok(known(x));
        }
        // Concurrent commands selling the same new product create it once.
        let _flight = self.flights.lock(&format!("item|{key}")).await;
        if let Some(x) = self.store.get_cached(conn, "item", &key).await? {
            return Ok(known(x));
        }
        if let Some(id) = self.find_item(command_id, &key, field, value).await? {
            return Ok(Resolved {
                id,
                created: false,
                attempts: 0,
            });
        }
        if !create {
            return Err(QboError::invalid(
                "reference",
                format!(
                    "no item with {field} '{value}' in QuickBooks and item creation is off for connection '{conn}': create the item in QuickBooks (or enable create_missing_items), then replay this command"
                ),
            ));
        }
        let base = if r.name.trim().is_empty() {
            value
        } else {
            r.name.as_str()
        };
        let mut attempts = 0;
        for (step, name) in [
            ("item", fit_name(base, 100)),
            (
                "item-2",
                format!("{} [{}]", fit_name(base, 80), fit_name(value, 17)),
            ),
        ] {
            let body = self.new_item_body(&name, r, spec).await?;
            let op = WriteOp::create(
                "Item",
                body,
                encoder::request_id(command_id, &format!("{step}:{key}")),
            )
            .batchable(true);
            match self.batcher.write(op).await {
                Ok(w) => {
                    let id = str_of(&w.entity, "Id").to_string();
                    if let Some(qty) = super::stock_watch::tracked_qty(&w.entity) {
                        self.store
                            .seed_stock_baseline(conn, &id, &qty.to_string())
                            .await?;
                    }
                    self.store
                        .put(
                            conn,
                            "item",
                            &key,
                            &Xref {
                                target_id: id.clone(),
                                version: String::new(),
                                command_id: command_id.to_string(),
                            },
                        )
                        .await?;
                    return Ok(Resolved {
                        id,
                        created: true,
                        attempts: attempts + w.attempts,
                    });
                }
                Err(e) if e.code() == Some("6240") => {
                    attempts += 1;
                    // Another process created the item meanwhile: adopt it.
                    if let Some(id) = self.find_item(command_id, &key, field, value).await? {
                        return Ok(Resolved {
                            id,
                            created: false,
                            attempts,
                        });
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(QboError::invalid(
            "duplicate",
            format!(
                "could not create an item for {field} '{value}': its name is taken by another item"
            ),
        ))
    }

    fn note_xref_hit(&self, command_id: &str, kind: &'static str, key: &str) {
        self.xref_hits
            .lock()
            .entry(command_id.to_string())
            .or_default()
            .push((kind, key.to_string()));
    }

    /// Forgets the cross references `command_id` used (they pointed at a record QuickBooks
    /// no longer accepts); true when there were any.
    pub(crate) async fn forget_xref_hits(&self, command_id: &str) -> Result<bool, QboError> {
        let hits = self.xref_hits.lock().remove(command_id).unwrap_or_default();
        for (kind, key) in &hits {
            self.store
                .forget(&self.cfg.connection_id, kind, key)
                .await?;
        }
        Ok(!hits.is_empty())
    }

    /// An active, non-category item whose `field` is `value`, remembered under `key`.
    async fn find_item(
        &self,
        command_id: &str,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<String>, QboError> {
        let found = self.find_by("Item", field, value, "").await?;
        // Categories cannot be used on lines (2500).
        let Some(i) = found.iter().find(|i| str_of(i, "Type") != "Category") else {
            return Ok(None);
        };
        let id = str_of(i, "Id").to_string();
        self.store
            .put(
                &self.cfg.connection_id,
                "item",
                key,
                &Xref {
                    target_id: id.clone(),
                    version: String::new(),
                    command_id: command_id.to_string(),
                },
            )
            .await?;
        Ok(Some(id))
    }
}
