//! Bill (accounts payable): vendor, expense lines, totals.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::api_error::Fault;
use crate::entities::sales::{check_inventory_start, check_qty_price, common, resolve_named};
use crate::entities::EntityKind;
use crate::json::{self, money, parse_decimal, parse_id, ref_value, str_field, Object};
use crate::store::{Realm, WriteCtx};

pub fn normalize(
    realm: &Realm,
    mut obj: Object,
    existing: Option<&Object>,
    ctx: &WriteCtx<'_>,
) -> Result<Object, Fault> {
    let vendor = resolve_named(
        realm,
        &mut obj,
        "VendorRef",
        EntityKind::Vendor,
        "DisplayName",
        ctx,
    )?
    .ok_or_else(|| Fault::required("VendorRef"))?;
    let party_currency = ref_value(&vendor, "CurrencyRef").map(str::to_string);
    let rate = common(
        realm,
        EntityKind::Bill,
        &mut obj,
        existing,
        party_currency,
        ctx,
    )?;
    if ref_value(&obj, "APAccountRef").is_some() {
        resolve_named(
            realm,
            &mut obj,
            "APAccountRef",
            EntityKind::Account,
            "Name",
            ctx,
        )?;
    }
    let mut lines = obj
        .get("Line")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if lines.is_empty() {
        return Err(Fault::required("Line"));
    }
    let mut next_id = 1u64;
    let mut total = Decimal::ZERO;
    for (n, line) in lines.iter_mut().enumerate() {
        let line = line
            .as_object_mut()
            .ok_or_else(|| Fault::bad_property("Line", "Line"))?;
        let amount = json::decimal(line, "Amount", "Line.")?
            .ok_or_else(|| Fault::required("Line.Amount"))?;
        let detail_type = str_field(line, "DetailType")
            .ok_or_else(|| Fault::required("Line.DetailType"))?
            .to_string();
        match detail_type.as_str() {
            "AccountBasedExpenseLineDetail" => {
                let mut d = line
                    .get(&detail_type)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if ref_value(&d, "AccountRef").is_none() {
                    return Err(Fault::required(
                        "Line.AccountBasedExpenseLineDetail.AccountRef",
                    ));
                }
                resolve_named(
                    realm,
                    &mut d,
                    "AccountRef",
                    EntityKind::Account,
                    "Name",
                    ctx,
                )
                .map_err(|f| f.with_element("Line.AccountBasedExpenseLineDetail.AccountRef"))?;
                line.insert(detail_type.clone(), Value::Object(d));
            }
            "ItemBasedExpenseLineDetail" => {
                let mut d = line
                    .get(&detail_type)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let item_value = ref_value(&d, "ItemRef")
                    .ok_or_else(|| Fault::required("Line.ItemBasedExpenseLineDetail.ItemRef"))?
                    .to_string();
                let item = realm.resolve(
                    EntityKind::Item,
                    &item_value,
                    "Line.ItemBasedExpenseLineDetail.ItemRef",
                    ctx,
                )?;
                if str_field(item, "Type") == Some("Category") {
                    return Err(Fault::category_on_line());
                }
                check_inventory_start(item, &obj, ctx)?;
                let name = str_field(item, "Name").unwrap_or_default().to_string();
                d.insert("ItemRef".into(), json::reference(&item_value, Some(&name)));
                check_qty_price(&mut d, amount, "Line.ItemBasedExpenseLineDetail.", ctx)?;
                line.insert(detail_type.clone(), Value::Object(d));
            }
            other => {
                return Err(Fault::bad_property(
                    &format!("Line.DetailType ({other})"),
                    "com.intuit.schema.finance.v3.LineDetailTypeEnum",
                ));
            }
        }
        let id = str_field(line, "Id")
            .and_then(parse_id)
            .unwrap_or(0)
            .max(next_id);
        next_id = id + 1;
        line.insert("Id".into(), Value::from(id.to_string()));
        line.insert("LineNum".into(), Value::from(n + 1));
        line.insert("Amount".into(), money(amount));
        total += amount;
    }
    let mut tax = obj
        .get("TxnTaxDetail")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let total_tax = json::decimal(&tax, "TotalTax", "TxnTaxDetail.")?.unwrap_or_default();
    tax.insert("TotalTax".into(), money(total_tax));
    obj.insert("TxnTaxDetail".into(), Value::Object(tax));
    let total = ctx.round(total + total_tax);
    obj.insert("Line".into(), Value::Array(lines));
    obj.insert("TotalAmt".into(), money(total));
    let paid = existing
        .map(|e| {
            e.get("TotalAmt")
                .and_then(parse_decimal)
                .unwrap_or_default()
                - e.get("Balance").and_then(parse_decimal).unwrap_or_default()
        })
        .unwrap_or_default();
    let balance = total - paid;
    obj.insert("Balance".into(), money(balance));
    if realm.config.multicurrency {
        obj.insert("HomeTotalAmt".into(), money(ctx.round(total * rate)));
        obj.insert("HomeBalance".into(), money(ctx.round(balance * rate)));
    }
    if str_field(&obj, "DueDate").is_none() {
        obj.insert(
            "DueDate".into(),
            obj.get("TxnDate").cloned().unwrap_or(Value::Null),
        );
    } else if let Some(d) = str_field(&obj, "DueDate") {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| Fault::bad_property("DueDate", "java.util.Date"))?;
    }
    Ok(obj)
}
