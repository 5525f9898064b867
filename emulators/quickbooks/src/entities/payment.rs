//! Payment: TotalAmt is client input (errata 1); lines apply money to invoices or consume
//! credit memos; the excess becomes UnappliedAmt.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::api_error::Fault;
use crate::entities::sales::{common, resolve_named};
use crate::entities::EntityKind;
use crate::json::{self, money, parse_decimal, parse_id, ref_value, str_field, Object};
use crate::store::{Realm, WriteCtx};

/// (target kind, target id, amount) for each applied line of a stored payment.
pub fn applications(obj: &Object) -> Vec<(EntityKind, u64, Decimal)> {
    let Some(lines) = obj.get("Line").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in lines {
        let amount = line
            .get("Amount")
            .and_then(parse_decimal)
            .unwrap_or_default();
        if amount.is_zero() {
            continue;
        }
        let Some(linked) = line.get("LinkedTxn").and_then(Value::as_array) else {
            continue;
        };
        for l in linked {
            let kind = match l.get("TxnType").and_then(Value::as_str) {
                Some("Invoice") => EntityKind::Invoice,
                Some("CreditMemo") => EntityKind::CreditMemo,
                _ => continue,
            };
            if let Some(id) = l.get("TxnId").and_then(Value::as_str).and_then(parse_id) {
                out.push((kind, id, amount));
            }
        }
    }
    out
}

pub fn normalize(
    realm: &Realm,
    mut obj: Object,
    existing: Option<&Object>,
    ctx: &WriteCtx<'_>,
) -> Result<Object, Fault> {
    let customer = resolve_named(
        realm,
        &mut obj,
        "CustomerRef",
        EntityKind::Customer,
        "DisplayName",
        ctx,
    )?
    .ok_or_else(|| Fault::required("CustomerRef"))?;
    let customer_id = str_field(&customer, "Id").unwrap_or_default().to_string();
    let total = json::decimal(&obj, "TotalAmt", "")?.ok_or_else(|| Fault::required("TotalAmt"))?;
    if total < Decimal::ZERO {
        return Err(Fault::business("TotalAmt cannot be negative.").with_element("TotalAmt"));
    }
    let party_currency = ref_value(&customer, "CurrencyRef").map(str::to_string);
    let rate = common(
        realm,
        EntityKind::Payment,
        &mut obj,
        existing,
        party_currency,
        ctx,
    )?;
    if ref_value(&obj, "DepositToAccountRef").is_none() {
        if let Some((id, name)) = realm.account_by_subtype("UndepositedFunds") {
            obj.insert(
                "DepositToAccountRef".into(),
                json::reference(&id, Some(&name)),
            );
        }
    } else {
        resolve_named(
            realm,
            &mut obj,
            "DepositToAccountRef",
            EntityKind::Account,
            "Name",
            ctx,
        )?;
    }
    resolve_named(
        realm,
        &mut obj,
        "PaymentMethodRef",
        EntityKind::PaymentMethod,
        "Name",
        ctx,
    )?;

    let previous = existing.map(applications).unwrap_or_default();
    let mut lines = obj
        .get("Line")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut applied_invoices = Decimal::ZERO;
    let mut applied_credits = Decimal::ZERO;
    for line in lines.iter_mut() {
        let line = line
            .as_object_mut()
            .ok_or_else(|| Fault::bad_property("Line", "Line"))?;
        let amount = json::decimal(line, "Amount", "Line.")?
            .ok_or_else(|| Fault::required("Line.Amount"))?;
        if amount < Decimal::ZERO {
            return Err(Fault::business("A payment line amount cannot be negative.")
                .with_element("Line.Amount"));
        }
        line.insert("Amount".into(), money(amount));
        let linked = line
            .get("LinkedTxn")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if linked.is_empty() {
            return Err(Fault::required("Line.LinkedTxn"));
        }
        for l in linked {
            let txn_type = l.get("TxnType").and_then(Value::as_str).unwrap_or_default();
            let kind = match txn_type {
                "Invoice" => EntityKind::Invoice,
                "CreditMemo" => EntityKind::CreditMemo,
                _ => {
                    return Err(Fault::business(format!(
                        "A payment can't be linked to a transaction of type {txn_type}."
                    ))
                    .with_element("Line.LinkedTxn.TxnType"))
                }
            };
            let target_text = l
                .get("TxnId")
                .and_then(Value::as_str)
                .ok_or_else(|| Fault::required("Line.LinkedTxn.TxnId"))?;
            let target_id = parse_id(target_text)
                .ok_or_else(|| Fault::invalid_reference("Line.LinkedTxn.TxnId"))?;
            if ctx.hidden.contains(&target_id) {
                return Err(Fault::invalid_reference("Line.LinkedTxn.TxnId"));
            }
            let target = realm
                .get(kind, target_id)
                .ok_or_else(|| Fault::invalid_reference("Line.LinkedTxn.TxnId"))?;
            if ref_value(target, "CustomerRef") != Some(customer_id.as_str()) {
                return Err(Fault::business(
                    "The linked transaction belongs to a different customer.",
                )
                .with_element("Line.LinkedTxn.TxnId"));
            }
            let field = if kind == EntityKind::CreditMemo {
                "RemainingCredit"
            } else {
                "Balance"
            };
            let open = target
                .get(field)
                .and_then(parse_decimal)
                .unwrap_or_default();
            // Money this payment already holds on the target is available again.
            let own: Decimal = previous
                .iter()
                .filter(|(k, id, _)| *k == kind && *id == target_id)
                .map(|(_, _, a)| *a)
                .sum();
            if amount > open + own {
                return Err(Fault::business(format!("The amount applied ({amount}) is more than the open balance ({}) of {} {target_text}.", open + own, kind.name())).with_element("Line.Amount"));
            }
            match kind {
                EntityKind::CreditMemo => applied_credits += amount,
                _ => applied_invoices += amount,
            }
        }
    }
    let net_applied = applied_invoices - applied_credits;
    if net_applied > total {
        return Err(Fault::business(format!(
            "The amount applied ({net_applied}) is more than the payment total ({total})."
        ))
        .with_element("TotalAmt"));
    }
    obj.insert("Line".into(), Value::Array(lines));
    obj.insert("TotalAmt".into(), money(total));
    obj.insert(
        "UnappliedAmt".into(),
        money(total - net_applied.max(Decimal::ZERO)),
    );
    if realm.config.multicurrency {
        obj.insert("HomeTotalAmt".into(), money(ctx.round(total * rate)));
    }
    obj.entry("ProcessPayment").or_insert(Value::Bool(false));
    Ok(obj)
}
