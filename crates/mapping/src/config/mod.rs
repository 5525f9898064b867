//! Loading and validating per-connection mapping configs.
//!
//! Two passes: serde_yaml (syntax, types, unknown keys; its errors carry a line and column),
//! then [`validate`], which checks meaning (required combinations, tokens, rates) and reports
//! the dotted key path plus the line found by [`lines::LineIndex`].
mod lines;
mod types;

pub use lines::LineIndex;
pub use types::*;

use crate::error::ConfigError;
use std::path::Path;

/// Parses and validates one connection's YAML. `file` is used in error messages only.
pub fn load_str(text: &str, file: &str) -> Result<ConnectionConfig, ConfigError> {
    let index = LineIndex::new(text);
    let cfg: ConnectionConfig =
        serde_yaml::from_str(text).map_err(|e| yaml_error(&e, file, &index))?;
    validate(&cfg).map_err(|(key, message)| ConfigError {
        file: file.to_string(),
        // A missing top-level key has no line of its own: point at the document start.
        line: index.line_of(&key).or(Some(1)),
        key,
        message,
    })?;
    Ok(cfg)
}

/// Reads, parses and validates a connection config file.
pub fn load_file(path: &Path) -> Result<ConnectionConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: None,
        key: String::new(),
        message: format!("cannot read the file: {e}"),
    })?;
    load_str(&text, &file)
}

fn yaml_error(e: &serde_yaml::Error, file: &str, index: &LineIndex) -> ConfigError {
    let full = e.to_string();
    // serde_yaml prefixes nested errors with the key path ("tax.mode: unknown variant …")
    // and suffixes " at line L column C"; keep the path as the key and drop the suffix.
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m)
        .to_string();
    let (key, message) = match message.split_once(": ") {
        Some((k, m)) if looks_like_path(k) => (k.to_string(), m.to_string()),
        _ => (String::new(), message),
    };
    let line = e.location().map(|l| l.line());
    // serde_yaml's path stops at the enclosing struct for some errors; the key on the
    // reported line is more precise when it lies inside that path.
    let key = match line.and_then(|l| index.path_at(l)) {
        Some(p)
            if p.starts_with(&key)
                && (key.is_empty() || p[key.len()..].starts_with(['.', '['])) =>
        {
            p.to_string()
        }
        _ => key,
    };
    ConfigError {
        file: file.to_string(),
        line,
        key,
        message,
    }
}

fn looks_like_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'))
}

const NAME_TOKENS: &[&str] = &["first", "last", "company", "email", "customer_id"];
const MEMO_TOKENS: &[&str] = &["order_number", "order_id", "store_id", "payment_method"];

/// Checks a parsed config; the error is (key path, message).
pub fn validate(cfg: &ConnectionConfig) -> Result<(), (String, String)> {
    let err = |k: &str, m: String| Err((k.to_string(), m));
    if cfg.connection_id.is_empty()
        || !cfg
            .connection_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return err(
            "connection_id",
            format!(
                "must be non-empty and use only letters, digits, '-', '_' and '.', found {:?}",
                cfg.connection_id
            ),
        );
    }
    if cfg.tenant.trim().is_empty() {
        return err("tenant", "must not be empty".into());
    }
    if cfg.stores.is_empty() {
        return err(
            "stores",
            "list at least one store id routed to this connection".into(),
        );
    }
    for (i, s) in cfg.stores.iter().enumerate() {
        if s.trim().is_empty() {
            return err(&format!("stores[{i}]"), "store id must not be empty".into());
        }
    }
    if !(-14 * 60..=14 * 60).contains(&cfg.posting.utc_offset_minutes) {
        return err(
            "posting.utc_offset_minutes",
            format!(
                "must be between -840 and 840, found {}",
                cfg.posting.utc_offset_minutes
            ),
        );
    }
    if let Some(m) = cfg.posting.close_after_minutes {
        if cfg.posting.mode != PostingMode::DailySummary {
            return err(
                "posting.close_after_minutes",
                "is only used by daily summaries: set posting.mode: daily_summary, or remove it"
                    .into(),
            );
        }
        if m > MAX_CLOSE_AFTER_MINUTES {
            return err(
                "posting.close_after_minutes",
                format!("must be at most {MAX_CLOSE_AFTER_MINUTES} (a week), found {m}"),
            );
        }
    }
    if cfg.target.is_accounting() {
        validate_accounting(cfg)?;
    }
    if let Some(gp) = &cfg.dynamics_gp {
        validate_dynamics_gp(cfg.target, gp)?;
        if let Some(j) = &gp.journal {
            validate_journal(cfg, j)?;
        }
    }
    Ok(())
}

/// GL account strings (ACTNUMST) are 1 to 75 characters.
const ACTNUMST_MAX: usize = 75;

/// `dynamics_gp.journal`: only for daily summaries; every account a summary can need is
/// named, so a journal never meets a line, tender or tax without one.
fn validate_journal(cfg: &ConnectionConfig, j: &GpJournalConfig) -> Result<(), (String, String)> {
    let err = |k: &str, m: String| Err((k.to_string(), m));
    if cfg.posting.mode != PostingMode::DailySummary {
        return err(
            "dynamics_gp.journal",
            "is only used by daily summaries: set posting.mode: daily_summary, or remove the section".into(),
        );
    }
    let account = |key: &str, v: &str| {
        if v.trim().is_empty() || v.trim() != v || v.chars().count() > ACTNUMST_MAX {
            return err(
                key,
                format!("a GL account number (ACTNUMST) is 1 to {ACTNUMST_MAX} characters without surrounding spaces, found {v:?}"),
            );
        }
        Ok(())
    };
    for (k, v) in &j.clearing_accounts {
        account(&format!("dynamics_gp.journal.clearing_accounts.{k}"), v)?;
    }
    for (k, v) in &j.tax_accounts {
        account(&format!("dynamics_gp.journal.tax_accounts.{k}"), v)?;
    }
    match &j.clearing_account {
        Some(v) => account("dynamics_gp.journal.clearing_account", v)?,
        None => {
            let uncovered = cfg.payment_methods.default.is_some()
                || cfg
                    .payment_methods
                    .map
                    .keys()
                    .any(|m| !j.clearing_accounts.contains_key(m));
            if uncovered {
                return err(
                    "dynamics_gp.journal.clearing_account",
                    "required: a payment method can have no entry in clearing_accounts (set one per payment_methods.map key and no payment_methods.default, or a clearing_account for the rest)".into(),
                );
            }
        }
    }
    match &j.tax_account {
        Some(v) => account("dynamics_gp.journal.tax_account", v)?,
        None => {
            let codes = cfg.tax.vat.codes.iter().map(|c| c.code.as_str());
            let covered = cfg.tax.mode == TaxMode::Vat
                && codes
                    .chain(
                        (!cfg.tax.vat.exempt_code.is_empty())
                            .then_some(cfg.tax.vat.exempt_code.as_str()),
                    )
                    .all(|c| j.tax_accounts.contains_key(c));
            if !covered {
                return err(
                    "dynamics_gp.journal.tax_account",
                    "required: a tax code can have no entry in tax_accounts (every code of tax.vat.codes and the exempt_code needs one, or set a tax_account for the rest)".into(),
                );
            }
        }
    }
    // Every line of a summary posts to its own account.
    let items = &cfg.items;
    let lines = [
        ("items.income_account", items.income_account.as_str()),
        ("items.shipping.account", items.shipping.account.as_str()),
        ("items.discount.account", items.discount.account.as_str()),
        (
            "items.payment_fee.account",
            items.payment_fee.account.as_str(),
        ),
        ("items.rounding.account", items.rounding.account.as_str()),
        ("items.gift_card.account", items.gift_card.account.as_str()),
        (
            "items.reward_points.account",
            items.reward_points.account.as_str(),
        ),
    ];
    for (key, v) in lines {
        if v.is_empty() {
            return err(
                key,
                "required with dynamics_gp.journal: a GL journal posts every summary line (and gift card or reward point tender) to an account; set its ACTNUMST".into(),
            );
        }
        account(key, v)?;
    }
    Ok(())
}

/// `dynamics_gp:`: only on GP connections; IDs within GP's lengths; a sale DOCID only with
/// the SOP type it belongs to.
fn validate_dynamics_gp(target: Target, gp: &DynamicsGpConfig) -> Result<(), (String, String)> {
    let err = |k: &str, m: String| Err((k.to_string(), m));
    if target != Target::DynamicsGp {
        return err(
            "dynamics_gp",
            format!(
                "only for target dynamics_gp; this connection's target is {}: remove the section",
                target.name()
            ),
        );
    }
    let id = |key: &str, value: &Option<String>, max: usize, what: &str| {
        let Some(v) = value else {
            return Ok(());
        };
        let n = v.chars().count();
        if v.trim().is_empty() || v.trim() != v || n > max {
            return err(
                key,
                format!(
                    "{what} is 1 to {max} characters without surrounding spaces, found {v:?}; leave the key out to use the GP connection's"
                ),
            );
        }
        Ok(())
    };
    id(
        "dynamics_gp.doc_ids.invoice",
        &gp.doc_ids.invoice,
        15,
        "a DOCID",
    )?;
    id(
        "dynamics_gp.doc_ids.order",
        &gp.doc_ids.order,
        15,
        "a DOCID",
    )?;
    id(
        "dynamics_gp.doc_ids.return",
        &gp.doc_ids.r#return,
        15,
        "a DOCID",
    )?;
    id("dynamics_gp.site", &gp.site, 10, "a site ID (LOCNCODE)")?;
    id(
        "dynamics_gp.batch_prefix",
        &gp.batch_prefix,
        7,
        "the batch prefix (BACHNUMB is 15 characters: the prefix and 8 date digits)",
    )?;
    for (key, doc_id, sale) in [
        (
            "dynamics_gp.doc_ids.invoice",
            &gp.doc_ids.invoice,
            GpSaleDocument::Invoice,
        ),
        (
            "dynamics_gp.doc_ids.order",
            &gp.doc_ids.order,
            GpSaleDocument::Order,
        ),
    ] {
        if doc_id.is_none() {
            continue;
        }
        match gp.sale_document {
            None => {
                return err(
                    "dynamics_gp.sale_document",
                    format!("{key} is set: say what sales post as (invoice or order), the DOCID goes with that SOP type"),
                )
            }
            Some(d) if d != sale => {
                return err(
                    key,
                    format!("is never used: dynamics_gp.sale_document is {}; remove it or change sale_document", d.name()),
                )
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn validate_accounting(cfg: &ConnectionConfig) -> Result<(), (String, String)> {
    let err = |k: String, m: String| Err((k, m));
    let Some(cur) = &cfg.currency else {
        return err(
            "currency".into(),
            format!(
                "required for target {}: set at least currency.home_currency",
                cfg.target.name()
            ),
        );
    };
    for (i, r) in cur.rates.iter().enumerate() {
        if r.from == r.to {
            return err(
                format!("currency.rates[{i}].to"),
                format!("a rate from {} to itself is meaningless", r.from),
            );
        }
        if r.rate.is_zero() || r.rate.is_negative() {
            return err(
                format!("currency.rates[{i}].rate"),
                format!("must be positive, found {}", r.rate),
            );
        }
        if cur.rates[..i]
            .iter()
            .any(|o| o.from == r.from && o.to == r.to)
        {
            return err(
                format!("currency.rates[{i}]"),
                format!("duplicate rate {} → {}", r.from, r.to),
            );
        }
    }
    if cfg.posting.mode == PostingMode::DailySummary
        && cur.document_currency == DocumentCurrency::Customer
        && cur.rate_source == RateSourceConfig::Order
    {
        return err(
            "currency.rate_source".into(),
            "a daily summary needs one rate per document: use rate_source: table with document_currency: customer".into(),
        );
    }
    if !(0..=100).contains(&cur.tolerance_minor_units) {
        return err(
            "currency.tolerance_minor_units".into(),
            format!("must be 0..=100, found {}", cur.tolerance_minor_units),
        );
    }
    if cur.residual == ResidualRule::RoundingLine
        && cfg.items.rounding.item.is_empty()
        && cfg.items.rounding.account.is_empty()
    {
        return err(
            "currency.residual".into(),
            "rounding_line needs a place for the residual: set items.rounding.item or items.rounding.account"
                .into(),
        );
    }
    if cfg.tax.mode == TaxMode::Vat {
        if cfg.tax.vat.codes.is_empty() {
            return err(
                "tax.vat.codes".into(),
                "tax.mode is vat: list a tax code for every rate the store uses".into(),
            );
        }
        for (i, c) in cfg.tax.vat.codes.iter().enumerate() {
            if c.code.trim().is_empty() {
                return err(
                    format!("tax.vat.codes[{i}].code"),
                    "must not be empty".into(),
                );
            }
            if c.rate.is_negative() {
                return err(
                    format!("tax.vat.codes[{i}].rate"),
                    format!("must not be negative, found {}", c.rate),
                );
            }
            if cfg.tax.vat.codes[..i].iter().any(|o| o.rate == c.rate) {
                return err(
                    format!("tax.vat.codes[{i}].rate"),
                    format!("rate {} is listed twice", c.rate),
                );
            }
        }
    }
    let c = &cfg.customer;
    let needs_fixed =
        c.match_rule == MatchRule::Fixed || cfg.posting.mode == PostingMode::DailySummary;
    if needs_fixed && c.fixed_customer.trim().is_empty() {
        return err(
            "customer.fixed_customer".into(),
            "required when customer.match_rule is fixed or posting.mode is daily_summary".into(),
        );
    }
    if c.display_name.is_empty() {
        return err(
            "customer.display_name".into(),
            "list at least one display-name recipe, e.g. \"{first} {last}\"".into(),
        );
    }
    for (i, recipe) in c.display_name.iter().enumerate() {
        check_tokens(recipe, NAME_TOKENS)
            .map_err(|m| (format!("customer.display_name[{i}]"), m))?;
    }
    check_tokens(&cfg.document.memo, MEMO_TOKENS).map_err(|m| ("document.memo".to_string(), m))?;
    if cfg.payment_methods.map.is_empty() && cfg.payment_methods.default.is_none() {
        return err(
            "payment_methods".into(),
            "map at least one store payment method (payment_methods.map) or set payment_methods.default".into(),
        );
    }
    for (sku, item) in &cfg.items.sku_overrides {
        if item.trim().is_empty() {
            return err(
                format!("items.sku_overrides.{sku}"),
                "target item must not be empty".into(),
            );
        }
    }
    Ok(())
}

fn check_tokens(template: &str, allowed: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("unclosed '{{' in {template:?}"));
        };
        let token = &after[..close];
        if !allowed.contains(&token) {
            return Err(format!(
                "unknown token {{{token}}} in {template:?}; allowed: {}",
                allowed
                    .iter()
                    .map(|t| format!("{{{t}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Fills `{token}`s; unknown tokens were rejected at load.
pub(crate) fn render(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push_str(&value(&after[..close]));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
