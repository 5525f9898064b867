//! An order's money, as document lines in the posting currency.
//!
//! Steps (all integer minor units):
//! 1. read every amount in store currency (each must be in `order.store_currency`);
//! 2. build lines: products (net of line discounts, as the store stores them), the subtotal
//!    discount (split per VAT rate in VAT mode), shipping, payment fee, the order-total
//!    discount, then gift cards and reward points as negative lines unless posted as tenders;
//! 3. store-side check: Σ net + order tax must equal order total (+ tendered redemptions)
//!    within `currency.tolerance_minor_units`, else an imbalance goes to the DLQ;
//! 4. convert each line, the tax and the total into the document currency (half away from
//!    zero), and place the residual — total minus Σ converted lines and tax — by the residual
//!    rule: on the largest product line (first on ties), or as a rounding line;
//! 5. attribute the document tax to lines (converted per line, residual on the line with the
//!    most tax) and, in VAT mode, sum it per tax code.
mod lines;
mod residual;
mod tax_codes;
mod text;

use crate::config::DocumentCurrency;
use crate::currency_policy::{self, Conversion};
use crate::error::{ErrorContext, MappingError};
use crate::mapper::Connection;
use crate::pb::commands::{ItemRef, LineKind, TenderKind};
use crate::pb::events::{self as ev, Order, ProductAttribute};
use lines::{Builder, Charge};
use nopbridge_model::{Currency, Rate};

/// One document line in document-currency minor units.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DocLine {
    pub kind: LineKind,
    pub item: ItemRef,
    pub description: String,
    pub quantity: i64,
    pub amount: i64,
    pub tax: i64,
    pub tax_code: String,
    pub rate: Option<Rate>,
    pub account: String,
    pub attributes: Vec<ProductAttribute>,
    pub order_item_id: i64,
    pub allocated_discount: i64,
    /// Store-currency net, kept for the breakdown.
    pub store_net: i64,
    pub store_tax: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DocTender {
    pub kind: TenderKind,
    pub amount: i64,
    pub payment_method: String,
    pub deposit_account: String,
    pub reference: String,
}

/// An order as a balanced set of document lines.
#[derive(Debug, Clone)]
pub(crate) struct OrderDoc {
    pub conversion: Conversion,
    pub lines: Vec<DocLine>,
    pub tax_total: i64,
    /// The order total (what the customer paid through the payment method), document currency.
    pub payment: i64,
    /// Gift cards and reward points posted as tenders.
    pub redemptions: Vec<DocTender>,
    pub residual: i64,
    pub store_total: i64,
    pub shipping_taxed: bool,
}

impl OrderDoc {
    /// The document total: payment plus tendered redemptions.
    pub fn total(&self) -> i64 {
        self.redemptions
            .iter()
            .fold(self.payment, |t, r| t.saturating_add(r.amount))
    }
}

/// A gift card or reward points redemption posted as a tender, store currency.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoreRedemption {
    pub kind: TenderKind,
    pub amount: i64,
    pub payment_method: String,
    pub reference: String,
}

/// Reads an order's store-currency amounts with field names for errors.
pub(crate) struct Reader<'a> {
    ctx: &'a ErrorContext,
    store: Currency,
}

impl Reader<'_> {
    pub(crate) fn get(&self, field: &str, m: Option<&ev::Money>) -> Result<i64, MappingError> {
        let Some(m) = m else { return Ok(0) };
        if m.currency.is_empty() && m.minor_units == 0 {
            return Ok(0);
        }
        if m.currency != self.store.code() {
            return Err(MappingError::InvalidField {
                context: self.ctx.clone().into(),
                field: field.to_string(),
                expected: format!("an amount in the store currency {}", self.store),
                found: format!("{} {:?}", m.minor_units, m.currency),
            });
        }
        Ok(m.minor_units)
    }

    pub(crate) fn required(&self, field: &str, m: Option<&ev::Money>) -> Result<i64, MappingError> {
        if m.is_none() {
            return Err(MappingError::InvalidField {
                context: self.ctx.clone().into(),
                field: field.to_string(),
                expected: "an amount".into(),
                found: "nothing (field missing)".into(),
            });
        }
        self.get(field, m)
    }
}

pub(crate) fn overflow(ctx: &ErrorContext, field: &str) -> MappingError {
    MappingError::Arithmetic {
        context: ctx.clone().into(),
        field: field.to_string(),
        message: "amount overflows 64-bit minor units".into(),
    }
}

pub(crate) fn sub(ctx: &ErrorContext, field: &str, a: i64, b: i64) -> Result<i64, MappingError> {
    a.checked_sub(b).ok_or_else(|| overflow(ctx, field))
}

/// The store currency and the conversion into the document currency.
fn conversion(
    conn: &Connection,
    order: &Order,
    ctx: &ErrorContext,
) -> Result<Conversion, MappingError> {
    let cur_cfg = conn.currency(ctx)?;
    let store = Currency::new(&order.store_currency).map_err(|e| MappingError::InvalidField {
        context: ctx.clone().into(),
        field: "store_currency".into(),
        expected: "an ISO-4217 currency code".into(),
        found: e.to_string(),
    })?;
    // The customer currency matters only for customer-currency documents; elsewhere an
    // unknown code must not block posting in store or home currency.
    let customer = match Currency::new(&order.customer_currency_code) {
        _ if order.customer_currency_code.trim().is_empty() => None,
        Ok(c) => Some(c),
        Err(_) if cur_cfg.document_currency != DocumentCurrency::Customer => None,
        Err(e) => {
            return Err(MappingError::InvalidField {
                context: ctx.clone().into(),
                field: "customer_currency_code".into(),
                expected: "an ISO-4217 currency code".into(),
                found: e.to_string(),
            })
        }
    };
    let order_rate = order.currency_rate.as_ref().map(Rate::from_proto);
    currency_policy::resolve(cur_cfg, store, customer, order_rate).map_err(|m| {
        MappingError::Unmapped {
            context: ctx.clone().into(),
            field: "currency_rate".into(),
            found: format!("a document in {} needs a rate {} → {}", m.to, m.from, m.to),
            config_key: "currency.rates".into(),
        }
    })
}

/// Builds the balanced document lines of `order` for `conn`.
pub(crate) fn build_order_doc(
    conn: &Connection,
    order: &Order,
    ctx: &ErrorContext,
) -> Result<OrderDoc, MappingError> {
    let cur_cfg = conn.currency(ctx)?;
    let conversion = conversion(conn, order, ctx)?;
    let rd = Reader {
        ctx,
        store: conversion.store,
    };
    // 1. store amounts
    let order_total = rd.required("order_total", order.order_total.as_ref())?;
    let tax_total = rd.get("tax_total", order.tax_total.as_ref())?;
    let ship_excl = rd.get("shipping_excl_tax", order.shipping_excl_tax.as_ref())?;
    let ship_incl = rd.get("shipping_incl_tax", order.shipping_incl_tax.as_ref())?;
    let ship_tax = sub(ctx, "shipping_incl_tax", ship_incl, ship_excl)?;
    let fee_excl = rd.get(
        "payment_method_fee_excl_tax",
        order.payment_method_fee_excl_tax.as_ref(),
    )?;
    let fee_incl = rd.get(
        "payment_method_fee_incl_tax",
        order.payment_method_fee_incl_tax.as_ref(),
    )?;
    let fee_tax = sub(ctx, "payment_method_fee_incl_tax", fee_incl, fee_excl)?;
    let order_discount = rd.get("order_discount", order.order_discount.as_ref())?;
    let candidates = tax_codes::candidates(conn, order);

    // 2. lines
    let items = &conn.config.items;
    let mut b = Builder::new(conn, ctx, order.items.len() + 5);
    b.products(order, &rd, &candidates)?;
    b.subtotal_discount(order, &rd)?;
    let method = crate::address::clean(&order.shipping_method);
    b.charge(
        Charge {
            kind: LineKind::Shipping,
            key: "shipping",
            target: &items.shipping,
            description: if method.is_empty() {
                "Shipping".into()
            } else {
                format!("Shipping: {method}")
            },
            excl: ship_excl,
            tax: ship_tax,
        },
        &candidates,
    )?;
    b.charge(
        Charge {
            kind: LineKind::PaymentFee,
            key: "payment_fee",
            target: &items.payment_fee,
            description: "Payment fee".into(),
            excl: fee_excl,
            tax: fee_tax,
        },
        &candidates,
    )?;
    b.order_discount(order_discount)?;
    let store_redemptions = b.redemptions(order, &rd)?;

    // 3. store-side check
    residual::check_store_totals(
        &b.lines,
        tax_total,
        order_total,
        &store_redemptions,
        conversion.store,
        cur_cfg.tolerance_minor_units,
        ctx,
    )?;

    // 4. and 5. convert, place the residuals, tax codes
    let converted = residual::convert(
        &mut b,
        &conversion,
        tax_total,
        order_total,
        store_redemptions,
        cur_cfg.residual,
    )?;
    tax_codes::assign(conn, ctx, &mut b.lines)?;

    Ok(OrderDoc {
        conversion,
        lines: b.lines,
        tax_total: converted.tax_total,
        payment: converted.payment,
        redemptions: converted.redemptions,
        residual: converted.residual,
        store_total: order_total,
        shipping_taxed: ship_tax != 0,
    })
}
