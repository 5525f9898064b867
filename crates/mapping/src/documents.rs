//! Turning balanced order lines into command bodies (sale, payment, refund, void), fitted
//! for the target.
use crate::address::{normalize, NormalAddress};
use crate::config::{render, TaxMode};
use crate::currency_policy::Conversion;
use crate::customer::{customer_ref, Party};
use crate::error::{ErrorContext, MappingError};
use crate::fitting::{Field, Fitter};
use crate::mapper::Connection;
use crate::pb::commands::{
    ApplyPayment, DocumentLine, LineKind, PostSale, PostalAddress, SaleDocumentKind, TaxDetail,
    TaxMode as PbTaxMode, TaxRateLine, Tender, TenderKind,
};
use crate::pb::events::{self as ev, Decimal, Order};
use crate::sale::{DocLine, DocTender, OrderDoc};
use nopbridge_model::decimal::div_round_half_away;
use nopbridge_model::{Currency, Rate};
use std::collections::BTreeMap;

pub(crate) fn money(minor: i64, c: Currency) -> ev::Money {
    ev::Money {
        minor_units: minor,
        currency: c.code().to_string(),
    }
}

/// amount / quantity in major units with 6 decimals.
fn unit_price(amount: i64, quantity: i64, c: Currency) -> Decimal {
    const SCALE: u32 = 6;
    let q = quantity.max(1);
    let num = i128::from(amount) * 10i128.pow(SCALE.saturating_sub(c.exponent()));
    let units = i64::try_from(div_round_half_away(num, i128::from(q))).unwrap_or(0);
    Decimal {
        units,
        scale: SCALE,
    }
}

pub(crate) fn document_number(conn: &Connection, order: &Order, fitter: &mut Fitter) -> String {
    let n = order_number(order);
    let raw = format!("{}{}", conn.config.document.number_prefix, n);
    fitter.fit(Field::DocNumber, "order.document_number", &raw)
}

pub(crate) fn order_number(order: &Order) -> String {
    let custom = order.custom_order_number.trim();
    if custom.is_empty() {
        order.order_id.to_string()
    } else {
        custom.to_string()
    }
}

pub(crate) fn memo(conn: &Connection, order: &Order, fitter: &mut Fitter, path: &str) -> String {
    let text = render(&conn.config.document.memo, |t| match t {
        "order_number" => order_number(order),
        "order_id" => order.order_id.to_string(),
        "store_id" => order.store_id.to_string(),
        "payment_method" => order.payment_method_system_name.clone(),
        _ => String::new(),
    });
    fitter.fit(Field::Memo, path, &text)
}

pub(crate) fn postal_address(a: &NormalAddress, fitter: &mut Fitter, path: &str) -> PostalAddress {
    PostalAddress {
        name: fitter.fit(Field::FullName, &format!("{path}.name"), &a.name),
        company: fitter.fit(Field::CompanyName, &format!("{path}.company"), &a.company),
        lines: a
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| fitter.fit(Field::AddressLine, &format!("{path}.lines[{i}]"), l))
            .collect(),
        city: fitter.fit(Field::City, &format!("{path}.city"), &a.city),
        region: fitter.fit(Field::Region, &format!("{path}.region"), &a.region),
        postal_code: fitter.fit(
            Field::PostalCode,
            &format!("{path}.postal_code"),
            &a.postal_code,
        ),
        country_code: a.country_code.clone(),
        phone: fitter.fit(Field::Phone, &format!("{path}.phone"), &a.phone),
    }
}

pub(crate) fn line_pb(
    l: &DocLine,
    n: usize,
    c: Currency,
    fitter: &mut Fitter,
    path: &str,
) -> DocumentLine {
    let p = format!("{path}.lines[{n}]");
    let mut item = l.item.clone();
    if !item.sku.is_empty() {
        item.sku = fitter.fit(Field::Sku, &format!("{p}.item.sku"), &item.sku);
    }
    if !item.name.is_empty() {
        item.name = fitter.fit(Field::ItemName, &format!("{p}.item.name"), &item.name);
    }
    DocumentLine {
        line_number: u32::try_from(n + 1).unwrap_or(u32::MAX),
        kind: l.kind as i32,
        item: Some(item),
        description: fitter.fit(
            Field::LineDescription,
            &format!("{p}.description"),
            &l.description,
        ),
        quantity: l.quantity,
        unit_price: Some(unit_price(l.amount, l.quantity, c)),
        amount: Some(money(l.amount, c)),
        tax_amount: Some(money(l.tax, c)),
        tax_code: l.tax_code.clone(),
        tax_rate_percent: l.rate.map(|r| r.to_proto()),
        account: l.account.clone(),
        attributes: l.attributes.clone(),
        store_order_item_id: l.order_item_id,
        allocated_discount: (l.allocated_discount != 0).then(|| money(l.allocated_discount, c)),
    }
}

/// Tax detail: US total override, or VAT per-code breakdown.
pub(crate) fn tax_detail(
    conn: &Connection,
    lines: &[DocLine],
    tax_total: i64,
    shipping_taxed: bool,
    c: Currency,
) -> TaxDetail {
    let tax = &conn.config.tax;
    let mut detail = TaxDetail {
        total_tax: Some(money(tax_total, c)),
        shipping_tax_included: shipping_taxed,
        apply_tax_after_discount: true,
        ..Default::default()
    };
    match tax.mode {
        TaxMode::UsSalesTax => {
            detail.mode = PbTaxMode::UsSalesTax as i32;
            detail.txn_tax_code.clone_from(&tax.us.txn_tax_code);
        }
        TaxMode::Vat => {
            detail.mode = PbTaxMode::Vat as i32;
            let mut by_code: BTreeMap<(Rate, &str), (i64, i64)> = BTreeMap::new();
            for l in lines.iter().filter(|l| l.kind != LineKind::Description) {
                let e = by_code
                    .entry((l.rate.unwrap_or(Rate::ZERO), l.tax_code.as_str()))
                    .or_insert((0, 0));
                e.0 = e.0.saturating_add(l.amount);
                e.1 = e.1.saturating_add(l.tax);
            }
            detail.rates = by_code
                .into_iter()
                .map(|((rate, code), (net, t))| TaxRateLine {
                    rate_percent: Some(rate.to_proto()),
                    tax_code: code.to_string(),
                    net_amount_taxable: Some(money(net, c)),
                    tax_amount: Some(money(t, c)),
                })
                .collect();
        }
    }
    detail
}

fn tender_pb(t: &DocTender, c: Currency, store_method: &str) -> Tender {
    Tender {
        kind: t.kind as i32,
        amount: Some(money(t.amount, c)),
        payment_method: t.payment_method.clone(),
        deposit_account: t.deposit_account.clone(),
        reference: t.reference.clone(),
        store_payment_method: store_method.to_string(),
    }
}

/// The payment tender for the order's store payment method.
#[allow(clippy::too_many_arguments)] // each argument is a distinct part of the result
pub(crate) fn payment_tender(
    conn: &Connection,
    ctx: &ErrorContext,
    store_method: &str,
    reference: &str,
    amount: i64,
    c: Currency,
    fitter: &mut Fitter,
    path: &str,
) -> Result<Tender, MappingError> {
    let pm = &conn.config.payment_methods;
    let target = pm
        .map
        .get(store_method)
        .or(pm.default.as_ref())
        .ok_or_else(|| MappingError::Unmapped {
            context: ctx.clone().into(),
            field: "payment_method_system_name".into(),
            found: store_method.to_string(),
            config_key: format!("payment_methods.map.{store_method}"),
        })?;
    Ok(Tender {
        kind: TenderKind::Payment as i32,
        amount: Some(money(amount, c)),
        payment_method: target.payment_method.clone(),
        deposit_account: target.deposit_account.clone(),
        reference: fitter.fit(
            Field::PaymentReference,
            &format!("{path}.reference"),
            reference,
        ),
        store_payment_method: store_method.to_string(),
    })
}

fn payment_reference(order: &Order) -> &str {
    if order.capture_transaction_id.trim().is_empty() {
        order.authorization_transaction_id.trim()
    } else {
        order.capture_transaction_id.trim()
    }
}

/// The order's customer, from the order (guests: the billing address).
pub(crate) fn order_party(order: &Order) -> Party<'_> {
    let billing = order.billing_address.as_ref();
    let email = if order.customer_email.trim().is_empty() {
        billing.map_or("", |b| b.email.as_str())
    } else {
        order.customer_email.as_str()
    };
    Party {
        first: billing.map_or("", |b| b.first_name.as_str()),
        last: billing.map_or("", |b| b.last_name.as_str()),
        company: billing.map_or("", |b| b.company.as_str()),
        email,
        customer_id: order.customer_id,
    }
}

/// The sale document for an order.
pub(crate) fn post_sale(
    conn: &Connection,
    ctx: &ErrorContext,
    order: &Order,
    doc: &OrderDoc,
    kind: SaleDocumentKind,
    fitter: &mut Fitter,
) -> Result<PostSale, MappingError> {
    let cv: &Conversion = &doc.conversion;
    let c = cv.document;
    let path = "post_sale";
    let (customer, customer_name) = customer_ref(
        &conn.config,
        &order_party(order),
        Some(c),
        fitter,
        &format!("{path}.customer"),
    );
    let lines: Vec<DocumentLine> = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| line_pb(l, i, c, fitter, path))
        .collect();
    let mut tenders: Vec<Tender> = doc
        .redemptions
        .iter()
        .map(|t| tender_pb(t, c, &order.payment_method_system_name))
        .collect();
    if kind == SaleDocumentKind::SalesReceipt {
        tenders.insert(
            0,
            payment_tender(
                conn,
                ctx,
                &order.payment_method_system_name,
                payment_reference(order),
                doc.payment,
                c,
                fitter,
                &format!("{path}.tenders[0]"),
            )?,
        );
    }
    let offset = conn.config.posting.utc_offset_minutes;
    let txn_date = crate::dates::business_date(order.created_at.as_ref(), offset);
    Ok(PostSale {
        kind: kind as i32,
        customer: Some(customer),
        customer_name: Some(customer_name),
        currency: c.code().to_string(),
        exchange_rate: Some(cv.to_proto()),
        lines,
        tax: Some(tax_detail(
            conn,
            &doc.lines,
            doc.tax_total,
            doc.shipping_taxed,
            c,
        )),
        total: Some(money(doc.total(), c)),
        tenders,
        billing_address: order
            .billing_address
            .as_ref()
            .map(|a| postal_address(&normalize(a), fitter, &format!("{path}.billing_address"))),
        shipping_address: order
            .shipping_address
            .as_ref()
            .map(|a| postal_address(&normalize(a), fitter, &format!("{path}.shipping_address"))),
        dynamics_gp: crate::dynamics_gp::sale(&conn.config, &txn_date),
        txn_date,
        memo: memo(conn, order, fitter, &format!("{path}.memo")),
        summary: None,
        store_total: Some(money(doc.store_total, cv.store)),
        amounts_include_tax: order.customer_tax_display_type
            == ev::TaxDisplayType::IncludingTax as i32,
        shipping_method: crate::address::clean(&order.shipping_method),
        vat_number: order.vat_number.trim().to_string(),
        rounding_residual: Some(money(doc.residual, c)),
    })
}

/// The payment applied to an order's invoice.
pub(crate) fn apply_payment(
    conn: &Connection,
    ctx: &ErrorContext,
    order: &Order,
    doc: &OrderDoc,
    fitter: &mut Fitter,
) -> Result<ApplyPayment, MappingError> {
    let c = doc.conversion.document;
    let path = "apply_payment";
    let (customer, _) = customer_ref(
        &conn.config,
        &order_party(order),
        Some(c),
        fitter,
        &format!("{path}.customer"),
    );
    let tender = payment_tender(
        conn,
        ctx,
        &order.payment_method_system_name,
        payment_reference(order),
        doc.payment,
        c,
        fitter,
        &format!("{path}.tender"),
    )?;
    let when = order.paid_at.as_ref().or(order.created_at.as_ref());
    Ok(ApplyPayment {
        customer: Some(customer),
        amount: Some(money(doc.payment, c)),
        exchange_rate: Some(doc.conversion.to_proto()),
        tender: Some(tender),
        payment_date: crate::dates::business_date(when, conn.config.posting.utc_offset_minutes),
        memo: memo(conn, order, fitter, &format!("{path}.memo")),
    })
}
