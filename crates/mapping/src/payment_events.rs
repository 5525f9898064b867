//! Payment transactions: refunds and voids for the books, payments back to the store.
use crate::balance;
use crate::config::{RefundDocument, TaxMode};
use crate::currency_policy;
use crate::documents::{self, money};
use crate::error::{ErrorContext, MappingError};
use crate::fitting::{Field, Fitter};
use crate::mapper::{ctx_for, Connection};
use crate::pb::commands::{
    command::Body, Command, DocumentKind, DocumentLine, ItemRef, LineKind, OrderReference,
    PostRefund, RefundDocumentKind, StoreWriteBack, TaxDetail, TaxMode as PbTaxMode, VoidDocument,
    WriteBackAction,
};
use crate::pb::events::{
    self as ev, EventMeta, PaymentTransaction, PaymentTransactionKind, SourceSystem,
};
use nopbridge_model::{Currency, Rate};

pub(crate) fn map_payment_transaction(
    conn: &Connection,
    t: &PaymentTransaction,
    meta: &EventMeta,
) -> Option<Result<Command, MappingError>> {
    let cfg = &conn.config;
    let ctx = ctx_for(
        conn,
        "payment_transaction",
        t.transaction_id.clone(),
        t.custom_order_number.clone(),
        meta,
    );
    let from_store = meta.source_system == SourceSystem::Nopcommerce as i32;
    let order_number = if t.custom_order_number.trim().is_empty() {
        t.order_id.to_string()
    } else {
        t.custom_order_number.trim().to_string()
    };
    let mut fitter = Fitter::new(cfg.target);
    let doc_no = fitter.fit(
        Field::DocNumber,
        "order.document_number",
        &format!("{}{}", cfg.document.number_prefix, order_number),
    );
    let reference = OrderReference {
        order_id: t.order_id,
        order_guid: t.order_guid.clone(),
        order_number,
        document_number: doc_no.clone(),
        included_order_ids: Vec::new(),
    };
    let events = vec![meta.event_id.clone()];
    match (cfg.target.is_accounting(), from_store, t.kind()) {
        // Paid in the books → mark paid at the store.
        (false, false, PaymentTransactionKind::Capture) => {
            let oid = t.order_id.to_string();
            let body = Body::StoreWriteBack(StoreWriteBack {
                action: WriteBackAction::MarkPaid as i32,
                order_id: t.order_id,
                ..Default::default()
            });
            Some(Ok(conn.envelope(
                "mark_paid",
                &[&oid],
                Some(meta),
                events,
                Some(reference),
                fitter,
                body,
            )))
        }
        (true, true, PaymentTransactionKind::Void) => {
            let body = Body::VoidDocument(VoidDocument {
                documents: vec![DocumentKind::Payment as i32],
                document_number: doc_no.clone(),
                reason: "payment voided at the store".into(),
            });
            Some(Ok(conn.envelope(
                "void_payment",
                &[&doc_no],
                Some(meta),
                events,
                Some(reference),
                fitter,
                body,
            )))
        }
        (true, true, PaymentTransactionKind::Refund | PaymentTransactionKind::PartialRefund) => {
            Some(refund_command(conn, t, meta, &ctx, reference, fitter))
        }
        _ => None,
    }
}

/// A refund from one payment transaction: a single line for the refunded amount. The store
/// records no per-line or per-rate refund detail (reference §1.12.5), so the refund is posted
/// gross on the configured refund item with no tax split.
fn refund_command(
    conn: &Connection,
    t: &PaymentTransaction,
    meta: &EventMeta,
    ctx: &ErrorContext,
    reference: OrderReference,
    mut fitter: Fitter,
) -> Result<Command, MappingError> {
    let cfg = &conn.config;
    let amount = t
        .amount
        .as_ref()
        .ok_or_else(|| MappingError::InvalidField {
            context: ctx.clone().into(),
            field: "amount".into(),
            expected: "the refunded amount".into(),
            found: "nothing (field missing)".into(),
        })?;
    let store = Currency::new(&amount.currency).map_err(|e| MappingError::InvalidField {
        context: ctx.clone().into(),
        field: "amount.currency".into(),
        expected: "an ISO-4217 currency code".into(),
        found: e.to_string(),
    })?;
    let cur_cfg = conn.currency(ctx)?;
    // No order rate on a payment transaction: customer-currency documents use the table.
    let conversion = currency_policy::resolve(cur_cfg, store, None, None).map_err(|m| {
        MappingError::Unmapped {
            context: ctx.clone().into(),
            field: "amount".into(),
            found: format!("a refund in {} needs a rate {} → {}", m.to, m.from, m.to),
            config_key: "currency.rates".into(),
        }
    })?;
    let c = conversion.document;
    let total = conversion
        .convert(amount.minor_units)
        .ok_or_else(|| MappingError::Arithmetic {
            context: ctx.clone().into(),
            field: "amount".into(),
            message: "amount overflows 64-bit minor units".into(),
        })?;
    let r = &cfg.items.refund;
    if r.item.is_empty() && r.account.is_empty() {
        return Err(MappingError::Unmapped {
            context: ctx.clone().into(),
            field: "refund".into(),
            found: amount.minor_units.to_string(),
            config_key: "items.refund".into(),
        });
    }
    let non_taxable = match cfg.tax.mode {
        TaxMode::UsSalesTax => cfg.tax.us.non_taxable_code.clone(),
        TaxMode::Vat => conn
            .vat_code(Rate::ZERO)
            .map_or_else(|| cfg.tax.vat.exempt_code.clone(), str::to_string),
    };
    let desc = if r.description.is_empty() {
        format!("Refund for order {}", reference.order_number)
    } else {
        r.description.clone()
    };
    let line = DocumentLine {
        line_number: 1,
        kind: LineKind::Product as i32,
        item: Some(ItemRef {
            target_item: r.item.clone(),
            name: r.item.clone(),
            ..Default::default()
        }),
        description: fitter.fit(
            Field::LineDescription,
            "post_refund.lines[0].description",
            &desc,
        ),
        quantity: 1,
        unit_price: Some(ev::Decimal {
            units: total,
            scale: c.exponent(),
        }),
        amount: Some(money(total, c)),
        tax_amount: Some(money(0, c)),
        tax_code: non_taxable,
        account: r.account.clone(),
        ..Default::default()
    };
    let tender = documents::payment_tender(
        conn,
        ctx,
        &t.payment_method_system_name,
        &t.gateway_reference,
        total,
        c,
        &mut fitter,
        "post_refund.tender",
    )?;
    let txn_date = crate::dates::business_date(
        t.occurred_at.as_ref().or(meta.occurred_at.as_ref()),
        cfg.posting.utc_offset_minutes,
    );
    let refund = PostRefund {
        kind: match cfg.posting.refund_document {
            RefundDocument::RefundReceipt => RefundDocumentKind::RefundReceipt,
            RefundDocument::CreditMemo => RefundDocumentKind::CreditMemo,
        } as i32,
        customer: None,
        currency: c.code().to_string(),
        exchange_rate: Some(conversion.to_proto()),
        lines: vec![line],
        tax: Some(TaxDetail {
            mode: match cfg.tax.mode {
                TaxMode::UsSalesTax => PbTaxMode::UsSalesTax,
                TaxMode::Vat => PbTaxMode::Vat,
            } as i32,
            total_tax: Some(money(0, c)),
            ..Default::default()
        }),
        total: Some(money(total, c)),
        tender: Some(tender),
        dynamics_gp: crate::dynamics_gp::r#return(cfg, &txn_date),
        txn_date,
        memo: fitter.fit(
            Field::Memo,
            "post_refund.memo",
            &format!("Refund {}", t.transaction_id),
        ),
        refunded_total: t.refunded_total.clone(),
        original_document_number: reference.document_number.clone(),
    };
    balance::check_refund(&refund, total, ctx)?;
    Ok(conn.envelope(
        "post_refund",
        &[&t.transaction_id],
        Some(meta),
        vec![meta.event_id.clone()],
        Some(reference),
        fitter,
        Body::PostRefund(refund),
    ))
}
