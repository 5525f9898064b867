//! Order events: the status decision, then the sale (and payment) or the void.
use crate::balance;
use crate::config::PostingMode;
use crate::documents;
use crate::error::{ErrorContext, MappingError};
use crate::fitting::Fitter;
use crate::mapper::{ctx_for, Connection};
use crate::pb::commands::{
    command::Body, Command, DocumentKind, OrderReference, SaleDocumentKind, VoidDocument,
};
use crate::pb::events::{self as ev, EventMeta, Order, PaymentStatus};
use crate::sale::build_order_doc;
use crate::status::{decide, is_paid, Decision};

pub(crate) fn order_reference(
    conn: &Connection,
    order: &Order,
    fitter: &mut Fitter,
) -> OrderReference {
    OrderReference {
        order_id: order.order_id,
        order_guid: order.order_guid.clone(),
        order_number: documents::order_number(order),
        document_number: documents::document_number(conn, order, fitter),
        included_order_ids: Vec::new(),
    }
}

fn paid_at_sale(conn: &Connection, order: &Order) -> bool {
    if conn.config.status_map.invoices_before_payment() || !is_paid(order) {
        return false;
    }
    match (&order.created_at, &order.paid_at) {
        (Some(c), Some(p)) => {
            let window = i64::from(conn.config.posting.paid_at_sale_window_minutes) * 60;
            p.seconds.saturating_sub(c.seconds) <= window
        }
        // No payment time recorded: it was paid when we first saw it paid.
        _ => true,
    }
}

pub(crate) fn map_order(
    conn: &Connection,
    order: &Order,
    meta: &EventMeta,
    out: &mut Vec<Result<Command, MappingError>>,
) {
    let deleted = meta.change == ev::ChangeKind::Delete as i32;
    // Daily summaries post from `summarize_daily`; single orders produce nothing here (a
    // summary cannot be voided per order).
    if conn.config.posting.mode == PostingMode::DailySummary {
        return;
    }
    let decision = decide(&conn.config.status_map, order, deleted);
    if decision == Decision::Nothing {
        return;
    }
    let ctx = ctx_for(
        conn,
        "order",
        order.order_id.to_string(),
        documents::order_number(order),
        meta,
    );
    let events = vec![meta.event_id.clone()];
    if decision == Decision::Void {
        let mut fitter = Fitter::new(conn.config.target);
        let reference = order_reference(conn, order, &mut fitter);
        let doc_no = reference.document_number.clone();
        let body = Body::VoidDocument(VoidDocument {
            documents: vec![
                DocumentKind::Payment as i32,
                DocumentKind::Invoice as i32,
                DocumentKind::SalesReceipt as i32,
            ],
            document_number: doc_no.clone(),
            reason: void_reason(order, deleted),
        });
        out.push(Ok(conn.envelope(
            "void",
            &[&doc_no],
            Some(meta),
            events,
            Some(reference),
            fitter,
            body,
        )));
        return;
    }
    let kind = match decision {
        Decision::Invoice => SaleDocumentKind::Invoice,
        _ if paid_at_sale(conn, order) => SaleDocumentKind::SalesReceipt,
        _ => SaleDocumentKind::Invoice,
    };
    let with_payment =
        kind == SaleDocumentKind::Invoice && decision != Decision::Invoice && is_paid(order);
    match sale_commands(conn, order, meta, &ctx, kind, with_payment) {
        Ok(cmds) => out.extend(cmds.into_iter().map(Ok)),
        Err(e) => out.push(Err(e)),
    }
}

fn void_reason(order: &Order, deleted: bool) -> String {
    if deleted || order.deleted {
        "order deleted at the store".into()
    } else if order.payment_status() == PaymentStatus::Voided {
        "payment voided at the store".into()
    } else {
        "order cancelled at the store".into()
    }
}

fn sale_commands(
    conn: &Connection,
    order: &Order,
    meta: &EventMeta,
    ctx: &ErrorContext,
    kind: SaleDocumentKind,
    with_payment: bool,
) -> Result<Vec<Command>, MappingError> {
    let doc = build_order_doc(conn, order, ctx)?;
    let mut fitter = Fitter::new(conn.config.target);
    let reference = order_reference(conn, order, &mut fitter);
    let doc_no = reference.document_number.clone();
    let sale = documents::post_sale(conn, ctx, order, &doc, kind, &mut fitter)?;
    balance::check_sale(&sale, doc.total(), ctx)?;
    let kind_tag = if kind == SaleDocumentKind::SalesReceipt {
        "receipt"
    } else {
        "invoice"
    };
    let mut cmds = vec![conn.envelope(
        "post_sale",
        &[&doc_no, kind_tag],
        Some(meta),
        vec![meta.event_id.clone()],
        Some(reference.clone()),
        fitter,
        Body::PostSale(sale),
    )];
    if with_payment {
        let mut fitter = Fitter::new(conn.config.target);
        let payment = documents::apply_payment(conn, ctx, order, &doc, &mut fitter)?;
        cmds.push(conn.envelope(
            "apply_payment",
            &[&doc_no],
            Some(meta),
            vec![meta.event_id.clone()],
            Some(reference),
            fitter,
            Body::ApplyPayment(payment),
        ));
    }
    Ok(cmds)
}
