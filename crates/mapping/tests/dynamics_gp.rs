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
            journal: None,
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
            journal: None,
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

/// A GP connection posting daily summaries as GL journals.
fn journal_config(journal: &str) -> Result<ConnectionConfig, nopbridge_mapping::ConfigError> {
    let mut v: serde_yaml::Value = serde_yaml::from_str(EXAMPLE).unwrap();
    set(&mut v, "connection_id", "gp-1");
    set(&mut v, "target", "dynamics_gp");
    set(&mut v, "posting.mode", "daily_summary");
    set(&mut v, "customer.match_rule", "fixed");
    set(&mut v, "customer.fixed_customer", "WEBSALES");
    set(&mut v, "items.income_account", "000-4100-00");
    set(&mut v, "items.shipping", "{account: 000-4510-00}");
    set(&mut v, "items.discount", "{account: 000-4300-00}");
    set(&mut v, "items.payment_fee", "{account: 000-4520-00}");
    set(&mut v, "items.rounding", "{account: 000-4530-00}");
    set(
        &mut v,
        "items.gift_card",
        "{account: 000-2300-00, post_as: line}",
    );
    set(
        &mut v,
        "items.reward_points",
        "{account: 000-4310-00, post_as: tender, payment_method: Points}",
    );
    set(
        &mut v,
        "dynamics_gp",
        &format!("{{batch_prefix: WEB, journal: {journal}}}"),
    );
    load_str(&serde_yaml::to_string(&v).unwrap(), "gp-journal.yaml")
}

const JOURNAL: &str = "{clearing_accounts: {Payments.PayPalCommerce: 000-1210-00}, clearing_account: 000-1200-00, tax_account: 000-2310-00}";

#[test]
fn a_daily_summary_carries_the_accounts_of_its_journal() {
    let mp = Mapper::new(vec![journal_config(JOURNAL).unwrap()]).unwrap();
    let mut orders = vec![us_order(1), us_order(2)];
    orders[1].payment_method_system_name = "Payments.PayPalCommerce".into();
    let cmds: Vec<Command> = mp
        .summarize_daily("gp-1", "2024-03-14", &orders)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cmds.len(), 2);
    for c in &cmds {
        let s = sale(c);
        let method = &s.summary.as_ref().unwrap().store_payment_method;
        let j = s
            .dynamics_gp
            .as_ref()
            .and_then(|o| o.journal.clone())
            .expect("a journal summary names its accounts");
        let want = if method == "Payments.PayPalCommerce" {
            "000-1210-00"
        } else {
            "000-1200-00"
        };
        assert_eq!(j.clearing_account, want, "{method}");
        assert_eq!(j.tax_account, "000-2310-00");
        assert_eq!(
            s.dynamics_gp.as_ref().map(|o| o.batch_number.as_str()),
            Some("WEB20240314")
        );
        // Every line names the account the journal posts it to.
        assert!(
            s.lines.iter().all(|l| !l.account.is_empty()),
            "{:?}",
            s.lines
        );
    }
    // Per-order GP sales carry no journal.
    let per_order = Mapper::new(vec![gp(Some(SECTION))]).unwrap();
    let sale_cmd = ok(map_order(&per_order, &us_order(9702))).remove(0);
    assert_eq!(gp_of(&sale_cmd).and_then(|o| o.journal), None);
}

#[test]
fn journal_sections_that_cannot_post_are_refused_with_key_and_what_to_do() {
    let cases = [
        (
            "{clearing_accounts: {Payments.Manual: 000-1200-00}, tax_account: 000-2310-00}",
            "dynamics_gp.journal.clearing_account",
            "a payment method can have no entry",
        ),
        (
            "{clearing_account: 000-1200-00}",
            "dynamics_gp.journal.tax_account",
            "a tax code can have no entry",
        ),
        (
            "{clearing_account: \" 000-1200-00\", tax_account: 000-2310-00}",
            "dynamics_gp.journal.clearing_account",
            "1 to 75 characters",
        ),
    ];
    for (journal, key, fragment) in cases {
        let e = journal_config(journal).unwrap_err();
        assert_eq!(e.key, key, "{journal}: {e}");
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains(fragment), "{journal}: {e}");
    }
    // Per-order posting has no summaries to journal.
    let text = format!(
        "{BASE}posting:\n  mode: per_order\ndynamics_gp:\n  journal: {{clearing_account: 000-1200-00, tax_account: 000-2310-00}}\n"
    );
    let e = load_str(&text, "gp.yaml").unwrap_err();
    assert_eq!(e.key, "dynamics_gp.journal", "{e}");
    assert!(e.message.contains("daily_summary"), "{e}");
    // A line kind without an account.
    let mut v: serde_yaml::Value = serde_yaml::from_str(EXAMPLE).unwrap();
    set(&mut v, "connection_id", "gp-1");
    set(&mut v, "target", "dynamics_gp");
    set(&mut v, "posting.mode", "daily_summary");
    set(&mut v, "customer.fixed_customer", "WEBSALES");
    set(&mut v, "dynamics_gp", &format!("{{journal: {JOURNAL}}}"));
    let e = load_str(&serde_yaml::to_string(&v).unwrap(), "gp.yaml").unwrap_err();
    assert_eq!(e.key, "items.shipping.account", "{e}");
    assert!(
        e.message.contains("a GL journal posts every summary line"),
        "{e}"
    );
}
