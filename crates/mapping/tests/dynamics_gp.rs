//! The `dynamics_gp:` section: GP's SOP type, DOCID, site and batch carried on sales and
//! returns; nothing on other targets or without the section; clear errors for bad values.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use nopbridge_mapping::pb::commands::{command::Body, Command, DynamicsGpOptions};
use nopbridge_mapping::pb::events::{
    EntityType, PaymentStatus, PaymentTransaction, PaymentTransactionKind,
};
use nopbridge_mapping::{load_str, CanonicalEvent, ConnectionConfig, Mapper};

const SECTION: &str = "{sale_document: order, doc_ids: {order: WEBORD, return: WEBRTN}, site: WAREHOUSE, batch_prefix: WEBUK}";

fn gp(section: Option<&str>) -> ConnectionConfig {
    with(|v| {
        set(v, "connection_id", "gp-1");
        set(v, "target", "dynamics_gp");
        if let Some(s) = section {
            set(v, "dynamics_gp", s);
        }
    })
}

fn refund() -> PaymentTransaction {
    PaymentTransaction {
        meta: Some(meta(EntityType::PaymentTransaction, "1043", "1")),
        transaction_id: "1043:refund:2500".into(),
        order_id: 1043,
        kind: PaymentTransactionKind::PartialRefund as i32,
        amount: m(2500, "USD"),
        refunded_total: m(2500, "USD"),
        payment_method_system_name: "Payments.Manual".into(),
        gateway_reference: "re_1".into(),
        payment_status: PaymentStatus::PartiallyRefunded as i32,
        ..Default::default()
    }
}

fn sale_and_return(cfg: ConnectionConfig) -> (Command, Command) {
    let mp = Mapper::new(vec![cfg]).unwrap();
    let sale = ok(map_order(&mp, &us_order(9701))).remove(0);
    let ret = mp
        .map(&CanonicalEvent::PaymentTransaction(Box::new(refund())))
        .into_iter()
        .map(Result::unwrap)
        .next()
        .unwrap();
    (sale, ret)
}

fn gp_of(c: &Command) -> Option<DynamicsGpOptions> {
    match c.body.as_ref() {
        Some(Body::PostSale(s)) => s.dynamics_gp.clone(),
        Some(Body::PostRefund(r)) => r.dynamics_gp.clone(),
        other => panic!("not a sale or a return: {other:?}"),
    }
}

fn digits(date: &str) -> String {
    date.chars().filter(char::is_ascii_digit).collect()
}

#[test]
fn sales_and_returns_carry_the_sections_sop_types_docids_site_and_batch() {
    let (sale, ret) = sale_and_return(gp(Some(SECTION)));
    let s = gp_of(&sale).expect("a GP sale carries its options");
    let date = sale_txn_date(&sale);
    assert_eq!(
        s,
        DynamicsGpOptions {
            sop_type: 2,
            doc_id: "WEBORD".into(),
            site: "WAREHOUSE".into(),
            batch_number: format!("WEBUK{}", digits(&date)),
            sale_sop_type: 0,
        }
    );
    assert_eq!(s.batch_number.len(), 13);
    let r = gp_of(&ret).expect("a GP return carries its options");
    let Some(Body::PostRefund(body)) = ret.body.as_ref() else {
        unreachable!()
    };
    assert_eq!(
        r,
        DynamicsGpOptions {
            sop_type: 4,
            doc_id: "WEBRTN".into(),
            site: "WAREHOUSE".into(),
            batch_number: format!("WEBUK{}", digits(&body.txn_date)),
            sale_sop_type: 2,
        }
    );
}

#[test]
fn keys_left_out_stay_with_the_gp_connection() {
    // Only the site: the SOP type, DOCIDs and batch are the connector's (0 / empty).
    let (sale, ret) = sale_and_return(gp(Some("{site: MAIN}")));
    let s = gp_of(&sale).unwrap();
    assert_eq!(
        (
            s.sop_type,
            s.doc_id.as_str(),
            s.site.as_str(),
            s.batch_number.as_str()
        ),
        (0, "", "MAIN", "")
    );
    let r = gp_of(&ret).unwrap();
    assert_eq!((r.sop_type, r.doc_id.as_str(), r.sale_sop_type), (4, "", 0));
    // No section, or another target: nothing GP-specific on the command.
    let (sale, ret) = sale_and_return(gp(None));
    assert_eq!((gp_of(&sale), gp_of(&ret)), (None, None));
    let (sale, ret) = sale_and_return(qbo());
    assert_eq!((gp_of(&sale), gp_of(&ret)), (None, None));
}

fn sale_txn_date(c: &Command) -> String {
    sale(c).txn_date.clone()
}

const BASE: &str = "\
connection_id: gp-1
target: dynamics_gp
tenant: acme
stores: [\"3\"]
payment_methods:
  default: { payment_method: Cash, deposit_account: UPTOWN TRUST }
currency:
  home_currency: GBP
";

#[test]
fn bad_sections_are_refused_with_key_line_and_what_to_do() {
    // (case, yaml, key, line, message fragment)
    let cases: Vec<(&str, String, &str, usize, &str)> = vec![
        (
            "section on another target",
            format!("{}dynamics_gp:\n  site: MAIN\n", BASE.replace("target: dynamics_gp", "target: kashflow")),
            "dynamics_gp",
            9,
            "only for target dynamics_gp; this connection's target is kashflow",
        ),
        (
            "unknown key",
            format!("{BASE}dynamics_gp:\n  locncode: MAIN\n"),
            "dynamics_gp.locncode",
            10,
            "unknown field `locncode`",
        ),
        (
            "unknown sale document",
            format!("{BASE}dynamics_gp:\n  sale_document: quote\n"),
            "dynamics_gp.sale_document",
            10,
            "unknown variant `quote`",
        ),
        (
            "DOCID too long",
            format!("{BASE}dynamics_gp:\n  sale_document: invoice\n  doc_ids:\n    invoice: WEB-INVOICE-2026X\n"),
            "dynamics_gp.doc_ids.invoice",
            12,
            "a DOCID is 1 to 15 characters",
        ),
        (
            "empty return DOCID",
            format!("{BASE}dynamics_gp:\n  doc_ids:\n    return: \"\"\n"),
            "dynamics_gp.doc_ids.return",
            11,
            "leave the key out to use the GP connection's",
        ),
        (
            "site too long",
            format!("{BASE}dynamics_gp:\n  site: WAREHOUSE-EAST\n"),
            "dynamics_gp.site",
            10,
            "a site ID (LOCNCODE) is 1 to 10 characters",
        ),
        (
            "batch prefix too long for a date",
            format!("{BASE}dynamics_gp:\n  batch_prefix: WEBSTORE\n"),
            "dynamics_gp.batch_prefix",
            10,
            "the prefix and 8 date digits",
        ),
        (
            "sale DOCID without the SOP type",
            format!("{BASE}dynamics_gp:\n  doc_ids:\n    order: WEBORD\n"),
            "dynamics_gp.sale_document",
            9,
            "say what sales post as",
        ),
        (
            "DOCID of the other SOP type",
            format!("{BASE}dynamics_gp:\n  sale_document: order\n  doc_ids:\n    invoice: STDINV\n"),
            "dynamics_gp.doc_ids.invoice",
            12,
            "is never used: dynamics_gp.sale_document is order",
        ),
    ];
    for (name, yaml, key, line, fragment) in cases {
        let e = load_str(&yaml, "gp.yaml").unwrap_err();
        assert_eq!(e.key, key, "{name}: {e}");
        assert_eq!(e.line, Some(line), "{name}: {e}");
        assert!(e.message.contains(fragment), "{name}: {e}");
    }
    let ok = load_str(&format!("{BASE}dynamics_gp: {SECTION}\n"), "gp.yaml").unwrap();
    let gp = ok.dynamics_gp.unwrap();
    assert_eq!(gp.site.as_deref(), Some("WAREHOUSE"));
    assert_eq!(gp.doc_ids.r#return.as_deref(), Some("WEBRTN"));
}

#[test]
fn the_demo_gp_mapping_loads_with_its_section() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/mapping/gp-demo.yaml"
    );
    let cfg = nopbridge_mapping::load_file(std::path::Path::new(path)).unwrap();
    let gp = cfg.dynamics_gp.expect("the demo names GP's specifics");
    assert_eq!(
        (gp.site.as_deref(), gp.batch_prefix.as_deref()),
        (Some("MAIN"), Some("WEB"))
    );
    assert_eq!(gp.doc_ids.invoice.as_deref(), Some("STDINV"));
}
