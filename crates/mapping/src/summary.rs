//! Daily summary posting: one sales receipt per business date, store, currency and payment
//! method, aggregated from the per-order documents.
//!
//! An order belongs to the day it was paid (`paid_at`, else `created_at`, shifted by
//! `posting.utc_offset_minutes`) and only when its status map says post or refund. Each
//! order is first mapped and balanced on its own (so its residual is placed exactly as in
//! per-order mode); the summary then sums lines with the same kind, item, tax code and
//! account. A summary therefore balances whenever its orders do. If one order of a group
//! fails, the whole group fails with that order's error: posting a partial summary would
//! give the corrected one the same command id and it would be dropped as a duplicate.
use crate::documents::{self, money};
use crate::error::{ErrorContext, MappingError};
use crate::fitting::{Field, Fitter};
use crate::mapper::Connection;
use crate::pb::commands::{
    command::Body, Command, CustomerMatchRule, CustomerRef, LineKind, OrderReference, PartyName,
    PostSale, SaleDocumentKind, SummaryKey, Tender, TenderKind,
};
use crate::pb::events::{ChangeKind, Order};
use crate::sale::{build_order_doc, DocLine, DocTender, OrderDoc};
use crate::status::{decide, is_paid, Decision};
use crate::{balance, dates};
use nopbridge_model::ids::content_hash;
use std::collections::BTreeMap;

type GroupKey = (String, String, String);
type Members<'a> = Result<Vec<(&'a Order, OrderDoc)>, MappingError>;

/// The business date an order counts toward (paid, and its status says post or refund), or
/// `None` when it belongs in no summary now (unpaid, waiting, cancelled, deleted).
pub(crate) fn summary_day(conn: &Connection, order: &Order) -> Option<String> {
    let deleted = order
        .meta
        .as_ref()
        .is_some_and(|m| m.change == ChangeKind::Delete as i32);
    let counts = matches!(
        decide(&conn.config.status_map, order, deleted),
        Decision::Post | Decision::Refund
    ) && is_paid(order);
    let offset = conn.config.posting.utc_offset_minutes;
    let date = dates::business_date(order.paid_at.as_ref().or(order.created_at.as_ref()), offset);
    (counts && !date.is_empty()).then_some(date)
}

pub(crate) fn summarize_daily(
    conn: &Connection,
    date: &str,
    orders: &[Order],
) -> Vec<Result<Command, MappingError>> {
    let mut selected: Vec<&Order> = orders
        .iter()
        .filter(|o| summary_day(conn, o).as_deref() == Some(date))
        .collect();
    selected.sort_by_key(|o| o.order_id);
    selected.dedup_by_key(|o| o.order_id);

    let mut groups: BTreeMap<GroupKey, Members<'_>> = BTreeMap::new();
    for o in selected {
        let ctx = ErrorContext {
            connection_id: conn.config.connection_id.clone(),
            entity: "order",
            entity_id: o.order_id.to_string(),
            order_number: documents::order_number(o),
            event_id: o
                .meta
                .as_ref()
                .map(|m| m.event_id.clone())
                .unwrap_or_default(),
        };
        let store = o
            .meta
            .as_ref()
            .map_or_else(|| o.store_id.to_string(), |m| m.store_id.clone());
        match build_order_doc(conn, o, &ctx) {
            Ok(doc) => {
                let key = (
                    store,
                    doc.conversion.document.code().to_string(),
                    o.payment_method_system_name.clone(),
                );
                if let Ok(v) = groups.entry(key).or_insert_with(|| Ok(Vec::new())) {
                    v.push((o, doc));
                }
            }
            Err(e) => {
                // Without a document the currency is unknown; the store currency keys it.
                let key = (
                    store,
                    o.store_currency.clone(),
                    o.payment_method_system_name.clone(),
                );
                let slot = groups.entry(key).or_insert_with(|| Ok(Vec::new()));
                if slot.is_ok() {
                    *slot = Err(e);
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, members)| members.and_then(|m| summary_command(conn, date, &key, &m)))
        .collect()
}

fn line_key(l: &DocLine) -> (i32, String, String, String, String, String) {
    let name = if l.kind == LineKind::Product {
        String::new()
    } else {
        l.item.name.clone()
    };
    (
        l.kind as i32,
        l.item.sku.clone(),
        l.item.target_item.clone(),
        name,
        l.tax_code.clone(),
        l.account.clone(),
    )
}

fn summary_command(
    conn: &Connection,
    date: &str,
    key: &GroupKey,
    members: &[(&Order, OrderDoc)],
) -> Result<Command, MappingError> {
    let (store, currency, method) = key;
    let first = members.first().map(|(_, d)| d.conversion);
    let Some(conversion) = first else {
        return Err(MappingError::InvalidField {
            context: ErrorContext::default().into(),
            field: "orders".into(),
            expected: "at least one order".into(),
            found: "none".into(),
        });
    };
    let c = conversion.document;
    let hash = content_hash(format!("{currency}/{method}").as_bytes());
    let ctx = ErrorContext {
        connection_id: conn.config.connection_id.clone(),
        entity: "daily_summary",
        entity_id: format!("{date}/{store}/{currency}/{method}"),
        order_number: String::new(),
        event_id: String::new(),
    };

    // Sum lines by kind, item, tax code and account, keeping first-seen order.
    let mut index: BTreeMap<(i32, String, String, String, String, String), usize> = BTreeMap::new();
    let mut lines: Vec<DocLine> = Vec::new();
    let mut redemptions: Vec<DocTender> = Vec::new();
    let (mut tax_total, mut payment, mut residual, mut store_total, mut shipping_taxed) =
        (0i64, 0i64, 0i64, 0i64, false);
    for (_, doc) in members {
        if doc.conversion != conversion {
            return Err(MappingError::InvalidField {
                context: ctx.clone().into(),
                field: "currency_rate".into(),
                expected: format!(
                    "one rate per summary ({} per {})",
                    conversion.document_per_store, conversion.store
                ),
                found: format!("{} for another order", doc.conversion.document_per_store),
            });
        }
        // Per-order attribute text means nothing in a summary.
        for l in doc.lines.iter().filter(|l| l.kind != LineKind::Description) {
            match index.get(&line_key(l)) {
                Some(&i) => {
                    let s = &mut lines[i];
                    s.amount = s.amount.saturating_add(l.amount);
                    s.tax = s.tax.saturating_add(l.tax);
                    s.quantity = s.quantity.saturating_add(l.quantity);
                    s.store_net = s.store_net.saturating_add(l.store_net);
                }
                None => {
                    index.insert(line_key(l), lines.len());
                    let mut l = l.clone();
                    if l.kind == LineKind::Product {
                        l.description.clone_from(&l.item.name);
                    }
                    l.attributes.clear();
                    l.order_item_id = 0;
                    l.allocated_discount = 0;
                    lines.push(l);
                }
            }
        }
        for r in &doc.redemptions {
            match redemptions
                .iter_mut()
                .find(|x| x.kind == r.kind && x.payment_method == r.payment_method)
            {
                Some(x) => x.amount = x.amount.saturating_add(r.amount),
                None => redemptions.push(DocTender {
                    reference: String::new(),
                    ..r.clone()
                }),
            }
        }
        tax_total = tax_total.saturating_add(doc.tax_total);
        payment = payment.saturating_add(doc.payment);
        residual = residual.saturating_add(doc.residual);
        store_total = store_total.saturating_add(doc.store_total);
        shipping_taxed |= doc.shipping_taxed;
    }

    let mut fitter = Fitter::new(conn.config.target);
    let path = "post_sale";
    let fixed = &conn.config.customer.fixed_customer;
    let display = fitter.fit(Field::DisplayName, "post_sale.customer.display_name", fixed);
    let customer = CustomerRef {
        display_name: display.clone(),
        target_code: fitter.fit(Field::CustomerCode, "post_sale.customer.target_code", fixed),
        currency: c.code().to_string(),
        match_rule: CustomerMatchRule::Fixed as i32,
        ..Default::default()
    };
    let mut tenders = vec![documents::payment_tender(
        conn,
        &ctx,
        method,
        "",
        payment,
        c,
        &mut fitter,
        "post_sale.tenders[0]",
    )?];
    let gp = crate::dynamics_gp::summary(&conn.config, date, method);
    // A GP journal debits a redemption tender to its liability or expense account.
    let journal = gp.as_ref().is_some_and(|o| o.journal.is_some());
    let items = &conn.config.items;
    tenders.extend(redemptions.iter().map(|r| Tender {
        kind: r.kind as i32,
        amount: Some(money(r.amount, c)),
        payment_method: r.payment_method.clone(),
        deposit_account: match r.kind {
            TenderKind::GiftCard if journal => items.gift_card.account.clone(),
            TenderKind::RewardPoints if journal => items.reward_points.account.clone(),
            _ => r.deposit_account.clone(),
        },
        reference: String::new(),
        store_payment_method: method.clone(),
    }));
    let pb_lines = lines
        .iter()
        .enumerate()
        .map(|(i, l)| documents::line_pb(l, i, c, &mut fitter, path))
        .collect();
    let total = payment.saturating_add(redemptions.iter().map(|r| r.amount).sum::<i64>());
    let compact_date: String = date.chars().filter(char::is_ascii_digit).collect();
    let doc_no = fitter.fit(
        Field::DocNumber,
        "order.document_number",
        &format!(
            "{}S{}-{}-{}",
            conn.config.document.number_prefix,
            compact_date,
            store,
            &hash[..4]
        ),
    );
    let order_ids: Vec<i64> = members.iter().map(|(o, _)| o.order_id).collect();
    let sale = PostSale {
        kind: SaleDocumentKind::SalesReceipt as i32,
        customer: Some(customer),
        customer_name: Some(PartyName {
            display_name: display.clone(),
            full_name: display,
            ..Default::default()
        }),
        currency: c.code().to_string(),
        exchange_rate: Some(conversion.to_proto()),
        lines: pb_lines,
        tax: Some(documents::tax_detail(
            conn,
            &lines,
            tax_total,
            shipping_taxed,
            c,
        )),
        total: Some(money(total, c)),
        tenders,
        billing_address: None,
        shipping_address: None,
        dynamics_gp: gp,
        txn_date: date.to_string(),
        memo: fitter.fit(
            Field::Memo,
            "post_sale.memo",
            &format!(
                "Daily summary {date}, store {store}, {method}, {} orders",
                members.len()
            ),
        ),
        summary: Some(SummaryKey {
            date: date.to_string(),
            store_id: store.clone(),
            currency: currency.clone(),
            store_payment_method: method.clone(),
        }),
        store_total: Some(money(store_total, conversion.store)),
        amounts_include_tax: false,
        shipping_method: String::new(),
        vat_number: String::new(),
        rounding_residual: Some(money(residual, c)),
    };
    balance::check_sale(&sale, total, &ctx)?;
    let events: Vec<String> = members
        .iter()
        .filter_map(|(o, _)| o.meta.as_ref().map(|m| m.event_id.clone()))
        .collect();
    let reference = OrderReference {
        order_id: 0,
        order_guid: String::new(),
        order_number: String::new(),
        document_number: doc_no.clone(),
        included_order_ids: order_ids,
    };
    Ok(conn.envelope(
        "daily_summary",
        &[date, store, currency, method],
        members.first().and_then(|(o, _)| o.meta.as_ref()),
        events,
        Some(reference),
        fitter,
        Body::PostSale(sale),
    ))
}
