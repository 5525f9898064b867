//! Sales forms (Invoice, SalesReceipt, CreditMemo, RefundReceipt): line validation and totals
//! computed the QuickBooks way, plus the transaction fields shared with Payment and Bill.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::api_error::Fault;
use crate::clock::pacific_date;
use crate::entities::EntityKind;
use crate::json::{self, bool_field, money, parse_decimal, parse_id, ref_value, str_field, Object};
use crate::store::{Realm, WriteCtx};
use crate::table::text_key;

/// DocNumber placeholder replaced by the next number of the company's sequence.
pub const AUTO_DOC_NUMBER: &str = "AUTO_GENERATE";
/// Pseudo item that fills the form's shipping field.
pub const SHIPPING_ITEM_ID: &str = "SHIPPING_ITEM_ID";
const DOC_NUMBER_MAX: usize = 21;
const PRIVATE_NOTE_MAX: usize = 4000;

/// DocNumber, TxnDate, CurrencyRef and ExchangeRate; returns the exchange rate in force.
pub fn common(
    realm: &Realm,
    kind: EntityKind,
    obj: &mut Object,
    existing: Option<&Object>,
    party_currency: Option<String>,
    ctx: &WriteCtx<'_>,
) -> Result<Decimal, Fault> {
    match str_field(obj, "DocNumber").map(str::to_string) {
        Some(d) if d == AUTO_DOC_NUMBER => {}
        Some(d) if !d.is_empty() => {
            if d.chars().count() > DOC_NUMBER_MAX {
                return Err(Fault::too_long("DocNumber", DOC_NUMBER_MAX));
            }
            if ctx.validation.unique_doc_numbers
                && !ctx.allow_duplicate_doc_number
                && kind != EntityKind::Payment
            {
                let self_id = existing.and_then(|e| str_field(e, "Id"));
                if realm
                    .lookup(kind, "DocNumber", &[text_key(&d)])
                    .into_iter()
                    .any(|o| {
                        str_field(o, "DocNumber") == Some(d.as_str())
                            && str_field(o, "Id") != self_id
                    })
                {
                    return Err(Fault::duplicate_doc_number());
                }
            }
        }
        _ => {
            let sequenced = matches!(
                kind,
                EntityKind::Invoice
                    | EntityKind::SalesReceipt
                    | EntityKind::CreditMemo
                    | EntityKind::RefundReceipt
            );
            if sequenced && !realm.config.custom_txn_numbers && existing.is_none() {
                obj.insert("DocNumber".into(), Value::from(AUTO_DOC_NUMBER));
            } else {
                obj.remove("DocNumber");
            }
        }
    }
    if let Some(note) = str_field(obj, "PrivateNote") {
        if note.chars().count() > PRIVATE_NOTE_MAX {
            return Err(Fault::too_long("PrivateNote", PRIVATE_NOTE_MAX));
        }
    }
    let date = match str_field(obj, "TxnDate") {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| Fault::bad_property("TxnDate", "java.util.Date"))?,
        None => pacific_date(ctx.now),
    };
    obj.insert(
        "TxnDate".into(),
        Value::from(date.format("%Y-%m-%d").to_string()),
    );

    let home = realm.config.home_currency.to_uppercase();
    let party = party_currency.map(|c| c.to_uppercase());
    let currency = ref_value(obj, "CurrencyRef")
        .map(str::to_uppercase)
        .or_else(|| party.clone())
        .unwrap_or_else(|| home.clone());
    if let Some(p) = &party {
        if *p != currency {
            return Err(Fault::business(format!("The transaction currency {currency} must match the currency {p} of the customer or vendor.")).with_element("CurrencyRef"));
        }
    }
    if currency != home && !realm.config.multicurrency {
        return Err(
            Fault::business("Multicurrency is not enabled for this company.")
                .with_element("CurrencyRef"),
        );
    }
    // An omitted rate on a foreign-currency transaction is stored as 1, so a connector that
    // forgets it is caught by totals in home currency.
    let rate = if currency == home {
        Decimal::ONE
    } else {
        json::decimal(obj, "ExchangeRate", "")?.unwrap_or(Decimal::ONE)
    };
    if rate <= Decimal::ZERO {
        return Err(
            Fault::business("ExchangeRate must be greater than zero.").with_element("ExchangeRate")
        );
    }
    obj.insert(
        "CurrencyRef".into(),
        json!({"value": currency, "name": currency}),
    );
    if realm.config.multicurrency {
        obj.insert("ExchangeRate".into(), money(rate));
    } else {
        obj.remove("ExchangeRate");
    }
    Ok(rate)
}

/// Fills `name` of a reference to a list entity, checking it exists and is active.
pub fn resolve_named(
    realm: &Realm,
    obj: &mut Object,
    field: &str,
    kind: EntityKind,
    name_field: &str,
    ctx: &WriteCtx<'_>,
) -> Result<Option<Object>, Fault> {
    let Some(value) = ref_value(obj, field).map(str::to_string) else {
        return Ok(None);
    };
    let target = realm.resolve(kind, &value, field, ctx)?.clone();
    let name = str_field(&target, name_field)
        .unwrap_or_default()
        .to_string();
    obj.insert(field.into(), json::reference(&value, Some(&name)));
    Ok(Some(target))
}

struct TaxRateInfo {
    id: String,
    percent: Decimal,
}

fn tax_code_rates(
    realm: &Realm,
    code: &str,
    element: &str,
    ctx: &WriteCtx<'_>,
) -> Result<Vec<TaxRateInfo>, Fault> {
    let code_obj = realm.resolve(EntityKind::TaxCode, code, element, ctx)?;
    let details = code_obj
        .get("SalesTaxRateList")
        .and_then(|l| l.get("TaxRateDetail"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut rates = Vec::new();
    for d in details {
        let Some(rate_id) = d
            .get("TaxRateRef")
            .and_then(|r| r.get("value"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(rate) = parse_id(rate_id).and_then(|id| realm.get(EntityKind::TaxRate, id)) else {
            continue;
        };
        let percent = rate
            .get("RateValue")
            .and_then(parse_decimal)
            .unwrap_or_default();
        rates.push(TaxRateInfo {
            id: rate_id.to_string(),
            percent,
        });
    }
    Ok(rates)
}

struct ItemLine {
    amount: Decimal,
    shipping: bool,
    /// US: TAX/NON; non-US: TaxCode id.
    tax_code: Option<String>,
}

pub fn normalize(
    realm: &Realm,
    kind: EntityKind,
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
    )?;
    if customer.is_none() && matches!(kind, EntityKind::Invoice | EntityKind::CreditMemo) {
        return Err(Fault::required("CustomerRef"));
    }
    let party_currency = customer
        .as_ref()
        .and_then(|c| ref_value(c, "CurrencyRef"))
        .map(str::to_string);
    let rate = common(realm, kind, &mut obj, existing, party_currency, ctx)?;
    if matches!(kind, EntityKind::SalesReceipt | EntityKind::RefundReceipt) {
        if ref_value(&obj, "DepositToAccountRef").is_none() {
            if kind == EntityKind::RefundReceipt
                && ctx.validation.refund_receipt_requires_deposit_account
            {
                return Err(Fault::required("DepositToAccountRef"));
            }
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
    }
    resolve_named(
        realm,
        &mut obj,
        "PaymentMethodRef",
        EntityKind::PaymentMethod,
        "Name",
        ctx,
    )?;

    let us = realm.config.country.eq_ignore_ascii_case("US");
    let lines_in = obj
        .get("Line")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if lines_in.is_empty() {
        return Err(Fault::required("Line"));
    }
    let mut next_line_id = existing
        .and_then(|e| e.get("Line"))
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.get("Id").and_then(Value::as_str))
                .filter_map(parse_id)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
        + 1;
    let old_line_ids: Vec<String> = existing
        .and_then(|e| e.get("Line"))
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.get("Id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();

    let mut main_lines: Vec<Object> = Vec::new();
    let mut shipping_lines: Vec<Object> = Vec::new();
    let mut discount_lines: Vec<(Object, Option<Decimal>)> = Vec::new();
    let mut items: Vec<ItemLine> = Vec::new();

    for line in lines_in {
        let mut line = line
            .as_object()
            .cloned()
            .ok_or_else(|| Fault::bad_property("Line", "Line"))?;
        let detail_type = str_field(&line, "DetailType")
            .ok_or_else(|| Fault::required("Line.DetailType"))?
            .to_string();
        match detail_type.as_str() {
            "SalesItemLineDetail" => {
                let mut d = line
                    .get("SalesItemLineDetail")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let amount = json::decimal(&line, "Amount", "Line.")?
                    .ok_or_else(|| Fault::required("Line.Amount"))?;
                let item_value = ref_value(&d, "ItemRef")
                    .ok_or_else(|| Fault::invalid_reference("Line.SalesItemLineDetail.ItemRef"))?
                    .to_string();
                let shipping = item_value == SHIPPING_ITEM_ID;
                let mut item_taxable = false;
                if shipping {
                    if !realm.config.allow_shipping {
                        return Err(Fault::business(
                            "Shipping is not enabled in this company's sales form settings.",
                        ));
                    }
                } else {
                    let item = realm.resolve(
                        EntityKind::Item,
                        &item_value,
                        "Line.SalesItemLineDetail.ItemRef",
                        ctx,
                    )?;
                    if str_field(item, "Type") == Some("Category") {
                        return Err(Fault::category_on_line());
                    }
                    check_inventory_start(item, &obj, ctx)?;
                    item_taxable = bool_field(item, "Taxable") == Some(true);
                    let name = str_field(item, "Name").unwrap_or_default().to_string();
                    d.insert("ItemRef".into(), json::reference(&item_value, Some(&name)));
                }
                check_qty_price(&mut d, amount, "Line.SalesItemLineDetail.", ctx)?;
                let tax_code = line_tax_code(realm, &d, us, item_taxable, ctx)?;
                if let Some(code) = &tax_code {
                    d.insert("TaxCodeRef".into(), json::reference(code, None));
                }
                line.insert("Amount".into(), money(amount));
                line.insert("SalesItemLineDetail".into(), Value::Object(d));
                items.push(ItemLine {
                    amount,
                    shipping,
                    tax_code,
                });
                if shipping {
                    line.remove("Id");
                    line.remove("LineNum");
                    shipping_lines.push(line);
                } else {
                    main_lines.push(line);
                }
            }
            "DiscountLineDetail" => {
                if !realm.config.allow_discount {
                    return Err(Fault::business(
                        "Discounts are not enabled in this company's sales form settings.",
                    ));
                }
                let mut d = line
                    .get("DiscountLineDetail")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let percent_based = bool_field(&d, "PercentBased") == Some(true);
                let percent = json::decimal(&d, "DiscountPercent", "Line.DiscountLineDetail.")?;
                let amount = json::decimal(&line, "Amount", "Line.")?;
                let pct = if percent_based {
                    Some(percent.ok_or_else(Fault::discount_missing_info)?)
                } else {
                    amount.ok_or_else(Fault::discount_missing_info)?;
                    None
                };
                if let Some(p) = percent {
                    d.insert("DiscountPercent".into(), money(p));
                }
                d.insert("PercentBased".into(), Value::Bool(percent_based));
                if ref_value(&d, "DiscountAccountRef").is_none() {
                    if let Some((id, name)) = realm.account_by_subtype("DiscountsRefundsGiven") {
                        d.insert(
                            "DiscountAccountRef".into(),
                            json::reference(&id, Some(&name)),
                        );
                    }
                } else {
                    resolve_named(
                        realm,
                        &mut d,
                        "DiscountAccountRef",
                        EntityKind::Account,
                        "Name",
                        ctx,
                    )?;
                }
                if let Some(a) = amount {
                    line.insert("Amount".into(), money(a));
                }
                line.insert("DiscountLineDetail".into(), Value::Object(d));
                line.remove("Id");
                line.remove("LineNum");
                discount_lines.push((line, pct));
            }
            // Regenerated from the item lines.
            "SubTotalLineDetail" => {}
            "DescriptionOnly" => {
                line.entry("DescriptionLineDetail").or_insert(json!({}));
                main_lines.push(line);
            }
            other => {
                return Err(Fault::bad_property(
                    &format!("Line.DetailType ({other})"),
                    "com.intuit.schema.finance.v3.LineDetailTypeEnum",
                ));
            }
        }
    }
    if items.is_empty() && main_lines.is_empty() {
        return Err(Fault::required("Line"));
    }

    // Line ids: a known Id updates that line, anything else is a new line.
    for (n, line) in main_lines.iter_mut().enumerate() {
        let keep = str_field(line, "Id")
            .filter(|id| old_line_ids.iter().any(|o| o == id))
            .map(str::to_string);
        let id = match keep {
            Some(id) => id,
            None => {
                let id = next_line_id.to_string();
                next_line_id += 1;
                id
            }
        };
        line.insert("Id".into(), Value::from(id));
        line.insert("LineNum".into(), Value::from(n + 1));
    }

    let subtotal: Decimal = items.iter().filter(|l| !l.shipping).map(|l| l.amount).sum();
    let shipping: Decimal = items.iter().filter(|l| l.shipping).map(|l| l.amount).sum();
    let mut discount = Decimal::ZERO;
    for (line, pct) in discount_lines.iter_mut() {
        let amount = match pct {
            Some(p) => ctx.round(subtotal * *p / Decimal::ONE_HUNDRED),
            None => line
                .get("Amount")
                .and_then(parse_decimal)
                .unwrap_or_default(),
        };
        line.insert("Amount".into(), money(amount));
        discount += amount;
    }

    let apply_after_discount = bool_field(&obj, "ApplyTaxAfterDiscount") == Some(true);
    let discount_ratio = if apply_after_discount && !subtotal.is_zero() {
        (subtotal - discount) / subtotal
    } else {
        Decimal::ONE
    };
    let global = str_field(&obj, "GlobalTaxCalculation")
        .unwrap_or("TaxExcluded")
        .to_string();
    let inclusive = !us && global == "TaxInclusive";
    let mut tax_detail = obj
        .get("TxnTaxDetail")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let supplied_tax = json::decimal(&tax_detail, "TotalTax", "TxnTaxDetail.")?;

    // (rate, net taxable base) per tax rate, then the computed tax per rate.
    let mut bases: Vec<(TaxRateInfo, Decimal)> = Vec::new();
    if us {
        if let Some(code) = ref_value(&tax_detail, "TxnTaxCodeRef").map(str::to_string) {
            let taxable: Decimal = items
                .iter()
                .filter(|l| l.tax_code.as_deref() == Some("TAX"))
                .map(|l| {
                    if l.shipping {
                        l.amount
                    } else {
                        l.amount * discount_ratio
                    }
                })
                .sum();
            for rate in tax_code_rates(realm, &code, "TxnTaxDetail.TxnTaxCodeRef", ctx)? {
                bases.push((rate, ctx.round(taxable)));
            }
        }
    } else if global != "NotApplicable" {
        let mut codes: Vec<String> = items.iter().filter_map(|l| l.tax_code.clone()).collect();
        codes.sort();
        codes.dedup();
        for code in codes {
            let gross: Decimal = items
                .iter()
                .filter(|l| l.tax_code.as_deref() == Some(code.as_str()))
                .map(|l| {
                    if l.shipping {
                        l.amount
                    } else {
                        l.amount * discount_ratio
                    }
                })
                .sum();
            for rate in tax_code_rates(realm, &code, "Line.SalesItemLineDetail.TaxCodeRef", ctx)? {
                let net = if inclusive {
                    ctx.round(gross / (Decimal::ONE + rate.percent / Decimal::ONE_HUNDRED))
                } else {
                    ctx.round(gross)
                };
                bases.push((rate, net));
            }
        }
    }
    let mut tax_amounts: Vec<Decimal> = bases
        .iter()
        .map(|(r, base)| ctx.round(*base * r.percent / Decimal::ONE_HUNDRED))
        .collect();
    let computed: Decimal = tax_amounts.iter().copied().sum();
    let total_tax = match supplied_tax {
        Some(t) => {
            // A supplied TotalTax overrides the calculation; spread it over the rates.
            prorate(&mut tax_amounts, &bases, t, ctx);
            t
        }
        None => computed,
    };
    let tax_lines: Vec<Value> = bases
        .iter()
        .zip(tax_amounts.iter())
        .map(|((rate, base), amount)| {
            json!({
                "Amount": money(*amount),
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": rate.id},
                    "PercentBased": true,
                    "TaxPercent": money(rate.percent),
                    "NetAmountTaxable": money(*base),
                }
            })
        })
        .collect();
    tax_detail.insert("TotalTax".into(), money(total_tax));
    tax_detail.insert("TaxLine".into(), Value::Array(tax_lines));
    obj.insert("TxnTaxDetail".into(), Value::Object(tax_detail));
    if !us {
        obj.insert("GlobalTaxCalculation".into(), Value::from(global));
    }

    let total = if inclusive {
        subtotal - discount + shipping
    } else {
        subtotal - discount + shipping + total_tax
    };
    let total = ctx.round(total);

    let mut lines_out: Vec<Value> = main_lines.into_iter().map(Value::Object).collect();
    lines_out.push(json!({"Amount": money(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}));
    lines_out.extend(discount_lines.into_iter().map(|(l, _)| Value::Object(l)));
    lines_out.extend(shipping_lines.into_iter().map(Value::Object));
    obj.insert("Line".into(), Value::Array(lines_out));
    obj.insert("TotalAmt".into(), money(total));
    obj.entry("ApplyTaxAfterDiscount")
        .or_insert(Value::Bool(false));
    obj.entry("PrintStatus").or_insert(Value::from("NotSet"));
    obj.entry("EmailStatus").or_insert(Value::from("NotSet"));

    let previous_total = existing
        .and_then(|e| e.get("TotalAmt"))
        .and_then(parse_decimal)
        .unwrap_or_default();
    match kind {
        EntityKind::Invoice => {
            let applied = existing
                .map(|e| {
                    previous_total
                        - e.get("Balance")
                            .and_then(parse_decimal)
                            .unwrap_or(previous_total)
                })
                .unwrap_or_default();
            let balance = total - applied;
            if balance < Decimal::ZERO {
                return Err(Fault::business(
                    "The invoice total is less than the payments already applied to it.",
                ));
            }
            obj.insert("Balance".into(), money(balance));
            if realm.config.multicurrency {
                obj.insert("HomeBalance".into(), money(ctx.round(balance * rate)));
            }
            if str_field(&obj, "DueDate").is_none() {
                let txn = str_field(&obj, "TxnDate")
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                if let Some(due) = txn.and_then(|d| d.checked_add_days(chrono::Days::new(30))) {
                    obj.insert(
                        "DueDate".into(),
                        Value::from(due.format("%Y-%m-%d").to_string()),
                    );
                }
            }
        }
        EntityKind::CreditMemo => {
            let used = existing
                .map(|e| {
                    previous_total
                        - e.get("RemainingCredit")
                            .and_then(parse_decimal)
                            .unwrap_or(previous_total)
                })
                .unwrap_or_default();
            let remaining = total - used;
            if remaining < Decimal::ZERO {
                return Err(Fault::business(
                    "The credit memo total is less than the credit already used.",
                ));
            }
            obj.insert("RemainingCredit".into(), money(remaining));
            obj.insert("Balance".into(), money(remaining));
        }
        _ => {
            obj.insert("Balance".into(), Value::from(0));
        }
    }
    if realm.config.multicurrency {
        obj.insert("HomeTotalAmt".into(), money(ctx.round(total * rate)));
    }
    Ok(obj)
}

/// Tracked items cannot be used on transactions dated before their InvStartDate.
pub fn check_inventory_start(item: &Object, txn: &Object, ctx: &WriteCtx<'_>) -> Result<(), Fault> {
    if !ctx.validation.enforce_inventory_start_date
        || bool_field(item, "TrackQtyOnHand") != Some(true)
    {
        return Ok(());
    }
    let start = str_field(item, "InvStartDate");
    let date = str_field(txn, "TxnDate");
    if let (Some(start), Some(date)) = (start, date) {
        // Both are YYYY-MM-DD, so text order is date order.
        if date < start {
            return Err(Fault::business(
                "Transaction date is prior to start date for inventory item",
            )
            .with_element("Line.SalesItemLineDetail.ItemRef"));
        }
    }
    Ok(())
}

/// `Amount` must equal `Qty × UnitPrice` when both are given (6070); Qty alone derives the price.
pub fn check_qty_price(
    d: &mut Object,
    amount: Decimal,
    path: &str,
    ctx: &WriteCtx<'_>,
) -> Result<(), Fault> {
    let qty = json::decimal(d, "Qty", path)?;
    let price = json::decimal(d, "UnitPrice", path)?;
    match (qty, price) {
        (Some(q), Some(p)) => {
            let expected = ctx.round(q * p);
            if expected != ctx.round(amount) {
                return Err(Fault::amount_mismatch(
                    &amount.to_string(),
                    &expected.to_string(),
                ));
            }
            d.insert("Qty".into(), money(q));
            d.insert("UnitPrice".into(), money(p));
        }
        (Some(q), None) => {
            d.insert("Qty".into(), money(q));
            if !q.is_zero() {
                d.insert("UnitPrice".into(), money(amount / q));
            }
        }
        (None, Some(p)) => {
            d.insert("UnitPrice".into(), money(p));
        }
        (None, None) => {}
    }
    Ok(())
}

/// US lines without a TaxCodeRef follow the item's Taxable flag (setting) or are NON.
fn line_tax_code(
    realm: &Realm,
    d: &Object,
    us: bool,
    item_taxable: bool,
    ctx: &WriteCtx<'_>,
) -> Result<Option<String>, Fault> {
    let code = ref_value(d, "TaxCodeRef").map(str::to_string);
    if us {
        let default = if item_taxable && ctx.validation.line_tax_default_from_item {
            "TAX"
        } else {
            "NON"
        };
        return match code {
            None => Ok(Some(default.into())),
            Some(c) if c == "TAX" || c == "NON" => Ok(Some(c)),
            Some(_) => Err(Fault::invalid_line_tax_code()),
        };
    }
    match code {
        None => Err(Fault::business(
            "Make sure all your transactions have a GST/HST rate before you save.",
        )
        .with_element("Line.SalesItemLineDetail.TaxCodeRef")),
        Some(c) => {
            realm.resolve(
                EntityKind::TaxCode,
                &c,
                "Line.SalesItemLineDetail.TaxCodeRef",
                ctx,
            )?;
            Ok(Some(c))
        }
    }
}

/// Spreads `total` over the rates in proportion to their computed tax (or base), cent-exact.
fn prorate(
    amounts: &mut [Decimal],
    bases: &[(TaxRateInfo, Decimal)],
    total: Decimal,
    ctx: &WriteCtx<'_>,
) {
    if amounts.is_empty() {
        return;
    }
    let weights: Vec<Decimal> = bases.iter().map(|(r, b)| *b * r.percent).collect();
    let sum: Decimal = weights.iter().copied().sum();
    let mut assigned = Decimal::ZERO;
    let last = amounts.len() - 1;
    for (i, amount) in amounts.iter_mut().enumerate() {
        if i == last {
            *amount = total - assigned;
        } else {
            let share = if sum.is_zero() {
                Decimal::ZERO
            } else {
                ctx.round(total * weights[i] / sum)
            };
            *amount = share;
            assigned += share;
        }
    }
}

/// Void: every amount to zero (quantities too, which returns stock).
pub fn zero_amounts(obj: &mut Object) {
    let zero = || Value::from(0);
    if let Some(Value::Array(lines)) = obj.get_mut("Line") {
        for line in lines.iter_mut().filter_map(Value::as_object_mut) {
            if line.contains_key("Amount") {
                line.insert("Amount".into(), zero());
            }
            for detail in ["SalesItemLineDetail", "ItemBasedExpenseLineDetail"] {
                if let Some(Value::Object(d)) = line.get_mut(detail) {
                    if d.contains_key("Qty") {
                        d.insert("Qty".into(), zero());
                    }
                }
            }
        }
    }
    for field in [
        "TotalAmt",
        "Balance",
        "HomeTotalAmt",
        "HomeBalance",
        "RemainingCredit",
        "UnappliedAmt",
    ] {
        if obj.contains_key(field) {
            obj.insert(field.into(), zero());
        }
    }
    if let Some(Value::Object(tax)) = obj.get_mut("TxnTaxDetail") {
        tax.insert("TotalTax".into(), zero());
        if let Some(Value::Array(lines)) = tax.get_mut("TaxLine") {
            for line in lines.iter_mut().filter_map(Value::as_object_mut) {
                line.insert("Amount".into(), zero());
            }
        }
    }
}
