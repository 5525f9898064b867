//! Config errors name the file, the key and the line.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use nopbridge_mapping::{load_file, load_str, ConfigError, Mapper};

const BASE: &str = "\
connection_id: qbo-1
target: quickbooks_online
tenant: acme
stores: [\"1\"]
payment_methods:
  default: { payment_method: Other, deposit_account: Undeposited Funds }
currency:
  home_currency: USD
";

fn err(text: &str) -> ConfigError {
    load_str(text, "conn.yaml").unwrap_err()
}

#[test]
fn the_example_config_loads() {
    let cfg = common::qbo();
    assert_eq!(cfg.connection_id, "qbo-realm-1");
    assert_eq!(cfg.tax.vat.codes.len(), 3);
    assert_eq!(cfg.stock.sites.get(&1).map(String::as_str), Some("MAIN"));
}

#[test]
fn a_minimal_config_loads_with_defaults() {
    let cfg = load_str(BASE, "conn.yaml").unwrap();
    assert_eq!(cfg.posting.paid_at_sale_window_minutes, 60);
    assert_eq!(cfg.posting.close_after_minutes(), 60);
    assert_eq!(cfg.currency.unwrap().tolerance_minor_units, 2);
    assert_eq!(cfg.customer.display_name[0], "{first} {last}");
}

#[test]
fn config_errors_name_key_and_line() {
    // (case, yaml, key, line, message fragment)
    let cases: Vec<(&str, String, &str, usize, &str)> = vec![
        (
            "unknown key (serde)",
            format!("{BASE}posting:\n  mode: per_order\n  windw: 5\n"),
            "posting.windw",
            11,
            "unknown field `windw`",
        ),
        (
            "bad enum value (serde)",
            format!("{BASE}tax:\n  mode: gst\n"),
            "tax.mode",
            10,
            "unknown variant `gst`",
        ),
        (
            "unknown currency (serde, custom)",
            BASE.replace("home_currency: USD", "home_currency: XYZ"),
            "currency.home_currency",
            8,
            "XYZ",
        ),
        (
            "vat without codes",
            format!("{BASE}tax:\n  mode: vat\n"),
            "tax.vat.codes",
            9,
            "list a tax code",
        ),
        (
            "duplicate vat rate",
            format!("{BASE}tax:\n  mode: vat\n  vat:\n    codes:\n      - rate: 20\n        code: S\n      - rate: \"20.00\"\n        code: T\n"),
            "tax.vat.codes[1].rate",
            15,
            "listed twice",
        ),
        (
            "empty vat code",
            format!("{BASE}tax:\n  mode: vat\n  vat:\n    codes:\n      - rate: 20\n        code: \"\"\n"),
            "tax.vat.codes[0].code",
            14,
            "must not be empty",
        ),
        (
            "bad recipe token",
            format!("{BASE}customer:\n  display_name:\n    - \"{{first}} {{surname}}\"\n"),
            "customer.display_name[0]",
            11,
            "unknown token {surname}",
        ),
        (
            "fixed customer missing",
            format!("{BASE}customer:\n  match_rule: fixed\n"),
            "customer.fixed_customer",
            9,
            "required",
        ),
        (
            "rate to itself",
            BASE.replace(
                "  home_currency: USD\n",
                "  home_currency: USD\n  rates:\n    - from: USD\n      to: USD\n      rate: 1\n",
            ),
            "currency.rates[0].to",
            11,
            "itself",
        ),
        (
            "negative rate",
            BASE.replace(
                "  home_currency: USD\n",
                "  home_currency: USD\n  rates:\n    - from: USD\n      to: EUR\n      rate: -1\n",
            ),
            "currency.rates[0].rate",
            12,
            "must be positive",
        ),
        (
            "missing currency for an accounting target",
            BASE.replace("currency:\n  home_currency: USD\n", ""),
            "currency",
            1,
            "home_currency",
        ),
        (
            "rounding line without an item",
            BASE.replace("  home_currency: USD\n", "  home_currency: USD\n  residual: rounding_line\n"),
            "currency.residual",
            9,
            "items.rounding.item",
        ),
        (
            "bad connection id",
            BASE.replace("connection_id: qbo-1", "connection_id: qbo 1"),
            "connection_id",
            1,
            "letters, digits",
        ),
        (
            "empty store list",
            BASE.replace("stores: [\"1\"]", "stores: []"),
            "stores",
            4,
            "at least one store",
        ),
        (
            "summary in customer currency with order rates",
            format!("{BASE}  document_currency: customer\nposting:\n  mode: daily_summary\ncustomer:\n  match_rule: fixed\n  fixed_customer: Web Sales\n"),
            "currency.rate_source",
            7,
            "one rate per document",
        ),
        (
            "close_after_minutes without daily summaries",
            format!("{BASE}posting:\n  close_after_minutes: 30\n"),
            "posting.close_after_minutes",
            10,
            "only used by daily summaries",
        ),
        (
            "close_after_minutes over a week",
            format!("{BASE}posting:\n  mode: daily_summary\n  close_after_minutes: 20000\ncustomer:\n  fixed_customer: Web Sales\n"),
            "posting.close_after_minutes",
            11,
            "at most 10080",
        ),
    ];
    for (name, yaml, key, line, fragment) in cases {
        let e = err(&yaml);
        assert_eq!(e.key, key, "{name}: {e}");
        assert_eq!(e.line, Some(line), "{name}: {e}");
        assert!(e.message.contains(fragment), "{name}: {e}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("conn.yaml:{line}: `{key}`")),
            "{name}: {text}"
        );
    }
}

#[test]
fn syntax_errors_carry_the_line() {
    let e = err("connection_id: [unclosed\n");
    assert_eq!(e.file, "conn.yaml");
    assert!(e.line.is_some(), "{e}");
}

#[test]
fn files_are_named_in_errors_and_duplicate_ids_across_files_rejected() {
    let dir = std::env::temp_dir().join(format!("nopbridge-mapping-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.yaml");
    let b = dir.join("b.yaml");
    let bad = dir.join("bad.yaml");
    std::fs::write(&a, BASE).unwrap();
    std::fs::write(&b, BASE).unwrap();
    std::fs::write(&bad, format!("{BASE}tax:\n  mode: gst\n")).unwrap();
    let e = load_file(&bad).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:10: `tax.mode`", bad.display())),
        "{e}"
    );
    let e = Mapper::from_files(&[&a, &b]).unwrap_err();
    assert_eq!(e.key, "connection_id");
    assert!(e.message.contains("a.yaml"), "{e}");
    let e = load_file(&dir.join("missing.yaml")).unwrap_err();
    assert!(e.message.contains("cannot read"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_of_configs_loads_sorted_and_the_mapper_is_shareable() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Mapper>();
    let dir = std::env::temp_dir().join(format!("nopbridge-mapping-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("b.yaml"), BASE.replace("qbo-1", "qbo-2")).unwrap();
    std::fs::write(dir.join("a.yml"), BASE).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a config").unwrap();
    let m = Mapper::from_dir(&dir).unwrap();
    let ids: Vec<&str> = m
        .connections()
        .iter()
        .map(|c| c.config.connection_id.as_str())
        .collect();
    assert_eq!(ids, ["qbo-1", "qbo-2"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(Mapper::from_dir(&dir).is_err());
}
