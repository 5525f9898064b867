//! Name-list entities: Customer, Vendor, Item, Account, PaymentMethod.

use serde_json::{json, Value};

use crate::api_error::Fault;
use crate::entities::EntityKind;
use crate::json::{self, bool_field, money, ref_value, str_field, Object};
use crate::store::{Realm, WriteCtx};
use crate::table::text_key;

const DELETED_SUFFIX: &str = " (deleted)";

fn same_name(a: &str, b: &str, case_insensitive: bool) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if !case_insensitive {
        a == b
    } else if a.is_ascii() && b.is_ascii() {
        // The same answer as comparing lowercased copies, without making them (every
        // create compares its name with every other one).
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// Another object among `kinds` (other than `self_id`) already uses this name.
fn name_taken(
    realm: &Realm,
    kinds: &[EntityKind],
    field: &str,
    name: &str,
    self_id: Option<&str>,
    ctx: &WriteCtx<'_>,
) -> bool {
    kinds.iter().any(|k| {
        realm
            .lookup(*k, field, &[text_key(name)])
            .into_iter()
            .any(|o| {
                str_field(o, "Id") != self_id
                    && str_field(o, field)
                        .is_some_and(|n| same_name(n, name, ctx.validation.names_case_insensitive))
            })
    })
}

/// Deactivation renames (`Name (deleted)`) so the name becomes free; reactivation strips it.
fn apply_active_rename(obj: &mut Object, field: &str, existing: Option<&Object>) {
    let active = bool_field(obj, "Active").unwrap_or(true);
    let was_active = existing
        .and_then(|e| bool_field(e, "Active"))
        .unwrap_or(true);
    let Some(name) = str_field(obj, field).map(str::to_string) else {
        return;
    };
    if !active && !name.ends_with(DELETED_SUFFIX) {
        obj.insert(field.into(), Value::from(format!("{name}{DELETED_SUFFIX}")));
    } else if active && !was_active {
        if let Some(stripped) = name.strip_suffix(DELETED_SUFFIX) {
            obj.insert(field.into(), Value::from(stripped));
        }
    }
}

fn check_name_text(field: &str, name: &str, max: usize) -> Result<(), Fault> {
    if name.chars().count() > max {
        return Err(Fault::too_long(field, max));
    }
    if name.contains(':') {
        // ':' separates levels of FullyQualifiedName.
        return Err(
            Fault::business(format!("{field} cannot contain a colon (:).")).with_element(field),
        );
    }
    if name.contains('\t') || name.contains('\n') {
        return Err(
            Fault::business(format!("{field} cannot contain tabs or new lines."))
                .with_element(field),
        );
    }
    Ok(())
}

/// Customer and Vendor: DisplayName rules, 6240 across both lists.
pub fn person(
    realm: &Realm,
    kind: EntityKind,
    mut obj: Object,
    existing: Option<&Object>,
    ctx: &WriteCtx<'_>,
) -> Result<Object, Fault> {
    let parts = ["Title", "GivenName", "MiddleName", "FamilyName", "Suffix"];
    let display = match str_field(&obj, "DisplayName")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => d.to_string(),
        None => {
            if existing.is_some() {
                // DisplayName cannot be removed.
                return Err(Fault::required("DisplayName"));
            }
            let built: Vec<&str> = parts
                .iter()
                .filter_map(|p| str_field(&obj, p))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if built.is_empty() {
                return Err(Fault::no_name());
            }
            built.join(" ")
        }
    };
    check_name_text("DisplayName", &display, ctx.validation.display_name_max)?;
    obj.insert("DisplayName".into(), Value::from(display.clone()));
    apply_active_rename(&mut obj, "DisplayName", existing);
    let display = str_field(&obj, "DisplayName")
        .unwrap_or_default()
        .to_string();
    let self_id = existing.and_then(|e| str_field(e, "Id"));
    if name_taken(
        realm,
        &[EntityKind::Customer, EntityKind::Vendor],
        "DisplayName",
        &display,
        self_id,
        ctx,
    ) {
        return Err(Fault::duplicate_name());
    }
    let home = realm.config.home_currency.clone();
    // A full update that omits CurrencyRef keeps the currency chosen at creation.
    let currency = ref_value(&obj, "CurrencyRef")
        .or_else(|| existing.and_then(|e| ref_value(e, "CurrencyRef")))
        .unwrap_or(&home)
        .to_uppercase();
    if let Some(old) = existing {
        let old_currency = ref_value(old, "CurrencyRef")
            .unwrap_or(&home)
            .to_uppercase();
        if old_currency != currency {
            return Err(Fault::business(
                "You can't change the currency of a customer or vendor once it's set.",
            )
            .with_element("CurrencyRef"));
        }
    }
    if currency != home && !realm.config.multicurrency {
        return Err(
            Fault::business("Multicurrency is not enabled for this company.")
                .with_element("CurrencyRef"),
        );
    }
    obj.insert(
        "CurrencyRef".into(),
        json!({"value": currency, "name": currency}),
    );
    let print = str_field(&obj, "CompanyName")
        .filter(|s| !s.is_empty())
        .unwrap_or(&display)
        .to_string();
    obj.entry("PrintOnCheckName").or_insert(Value::from(print));
    obj.insert("FullyQualifiedName".into(), Value::from(display.clone()));
    obj.entry("Active").or_insert(Value::Bool(true));
    let balance = match existing {
        // Balance is an opening balance on create, read-only afterwards.
        Some(old) => old.get("Balance").cloned().unwrap_or(Value::from(0)),
        None => money(json::decimal(&obj, "Balance", "")?.unwrap_or_default()),
    };
    obj.insert("Balance".into(), balance.clone());
    if kind == EntityKind::Customer {
        obj.entry("Taxable").or_insert(Value::Bool(true));
        obj.entry("Job").or_insert(Value::Bool(false));
        obj.entry("BillWithParent").or_insert(Value::Bool(false));
        obj.insert("BalanceWithJobs".into(), balance);
        obj.entry("PreferredDeliveryMethod")
            .or_insert(Value::from("None"));
    }
    // A field added without a minor version, as Intuit does: clients must ignore unknown output.
    obj.insert(
        "V4IDPseudonym".into(),
        Value::from(format!("0020{:x}", display.len() * 7919)),
    );
    if let Some(email) = obj
        .get("PrimaryEmailAddr")
        .and_then(|e| e.get("Address"))
        .and_then(Value::as_str)
    {
        if email.chars().count() > 100 {
            return Err(Fault::too_long("PrimaryEmailAddr.Address", 100));
        }
    }
    Ok(obj)
}

fn require_account(
    realm: &Realm,
    obj: &mut Object,
    field: &str,
    ctx: &WriteCtx<'_>,
) -> Result<(), Fault> {
    let value = ref_value(obj, field)
        .ok_or_else(|| Fault::required(field))?
        .to_string();
    let account = realm.resolve(EntityKind::Account, &value, field, ctx)?;
    let name = str_field(account, "Name").unwrap_or_default().to_string();
    obj.insert(field.into(), json::reference(&value, Some(&name)));
    Ok(())
}

/// Item: Name unique among items, accounts per Type, inventory start fields.
pub fn item(
    realm: &Realm,
    mut obj: Object,
    existing: Option<&Object>,
    ctx: &WriteCtx<'_>,
) -> Result<Object, Fault> {
    let name = str_field(&obj, "Name")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Fault::required("Name"))?
        .to_string();
    check_name_text("Name", &name, 100)?;
    obj.insert("Name".into(), Value::from(name));
    apply_active_rename(&mut obj, "Name", existing);
    let name = str_field(&obj, "Name").unwrap_or_default().to_string();
    if name_taken(
        realm,
        &[EntityKind::Item],
        "Name",
        &name,
        existing.and_then(|e| str_field(e, "Id")),
        ctx,
    ) {
        return Err(Fault::duplicate_list_name("product or service"));
    }
    let item_type = str_field(&obj, "Type")
        .unwrap_or("NonInventory")
        .to_string();
    if ![
        "Inventory",
        "NonInventory",
        "Service",
        "Category",
        "Group",
        "Bundle",
    ]
    .contains(&item_type.as_str())
    {
        return Err(Fault::bad_property(
            "Type",
            "com.intuit.schema.finance.v3.ItemTypeEnum",
        ));
    }
    if let Some(sku) = str_field(&obj, "Sku") {
        if sku.chars().count() > 100 {
            return Err(Fault::too_long("Sku", 100));
        }
    }
    obj.insert("Type".into(), Value::from(item_type.clone()));
    if matches!(item_type.as_str(), "Inventory" | "NonInventory" | "Service") {
        require_account(realm, &mut obj, "IncomeAccountRef", ctx)?;
    }
    if item_type == "Inventory" {
        require_account(realm, &mut obj, "ExpenseAccountRef", ctx)?;
        require_account(realm, &mut obj, "AssetAccountRef", ctx)?;
        if bool_field(&obj, "TrackQtyOnHand") != Some(true) {
            return Err(
                Fault::business("TrackQtyOnHand must be true for an inventory item.")
                    .with_element("TrackQtyOnHand"),
            );
        }
        if existing.is_none() {
            json::decimal(&obj, "QtyOnHand", "")?.ok_or_else(|| Fault::required("QtyOnHand"))?;
            str_field(&obj, "InvStartDate").ok_or_else(|| Fault::required("InvStartDate"))?;
        }
    } else {
        if ref_value(&obj, "ExpenseAccountRef").is_some() {
            require_account(realm, &mut obj, "ExpenseAccountRef", ctx)?;
        }
        obj.insert("TrackQtyOnHand".into(), Value::Bool(false));
    }
    for field in ["UnitPrice", "PurchaseCost", "QtyOnHand"] {
        if let Some(d) = json::decimal(&obj, field, "")? {
            obj.insert(field.into(), money(d));
        }
    }
    if let Some(old) = existing {
        // On-hand quantity is maintained by transactions once the item exists.
        if let Some(q) = old.get("QtyOnHand") {
            obj.insert("QtyOnHand".into(), q.clone());
        }
    }
    obj.entry("UnitPrice").or_insert(Value::from(0));
    obj.entry("PurchaseCost").or_insert(Value::from(0));
    obj.entry("Active").or_insert(Value::Bool(true));
    obj.entry("Taxable").or_insert(Value::Bool(true));
    obj.insert("FullyQualifiedName".into(), Value::from(name));
    Ok(obj)
}

pub fn account(
    realm: &Realm,
    mut obj: Object,
    existing: Option<&Object>,
    ctx: &WriteCtx<'_>,
) -> Result<Object, Fault> {
    let name = str_field(&obj, "Name")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Fault::required("Name"))?
        .to_string();
    check_name_text("Name", &name, 100)?;
    if str_field(&obj, "AccountType").is_none() && str_field(&obj, "AccountSubType").is_none() {
        return Err(Fault::required("AccountType"));
    }
    apply_active_rename(&mut obj, "Name", existing);
    let name = str_field(&obj, "Name").unwrap_or(&name).to_string();
    if name_taken(
        realm,
        &[EntityKind::Account],
        "Name",
        &name,
        existing.and_then(|e| str_field(e, "Id")),
        ctx,
    ) {
        return Err(Fault::duplicate_list_name("account"));
    }
    let home = realm.config.home_currency.clone();
    let currency = ref_value(&obj, "CurrencyRef").unwrap_or(&home).to_string();
    obj.insert(
        "CurrencyRef".into(),
        json!({"value": currency, "name": currency}),
    );
    obj.insert("FullyQualifiedName".into(), Value::from(name));
    obj.entry("Active").or_insert(Value::Bool(true));
    obj.entry("SubAccount").or_insert(Value::Bool(false));
    obj.insert(
        "CurrentBalance".into(),
        existing
            .and_then(|e| e.get("CurrentBalance").cloned())
            .unwrap_or(Value::from(0)),
    );
    Ok(obj)
}

pub fn payment_method(
    realm: &Realm,
    mut obj: Object,
    existing: Option<&Object>,
    ctx: &WriteCtx<'_>,
) -> Result<Object, Fault> {
    let name = str_field(&obj, "Name")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Fault::required("Name"))?
        .to_string();
    check_name_text("Name", &name, 31)?;
    apply_active_rename(&mut obj, "Name", existing);
    let name = str_field(&obj, "Name").unwrap_or(&name).to_string();
    if name_taken(
        realm,
        &[EntityKind::PaymentMethod],
        "Name",
        &name,
        existing.and_then(|e| str_field(e, "Id")),
        ctx,
    ) {
        return Err(Fault::duplicate_list_name("payment method"));
    }
    obj.entry("Type").or_insert(Value::from("NON_CREDIT_CARD"));
    obj.entry("Active").or_insert(Value::Bool(true));
    Ok(obj)
}
