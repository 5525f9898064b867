//! Customer references: matching rule, display-name recipe with disambiguation, and the
//! deterministic customer code.
use crate::address::{clean, join_name, split_name};
use crate::config::{render, ConnectionConfig, Disambiguator, MatchRule};
use crate::fitting::{Field, Fitter};
use crate::pb::commands::{CustomerMatchRule, CustomerRef, PartyName};
use nopbridge_model::{ids::content_hash, Currency};

/// Who the customer is, as the store knows them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Party<'a> {
    pub first: &'a str,
    pub last: &'a str,
    pub company: &'a str,
    pub email: &'a str,
    pub customer_id: i64,
}

/// The first recipe that yields text, plus the configured disambiguators.
pub(crate) fn display_name(
    cfg: &ConnectionConfig,
    p: &Party<'_>,
    currency: Option<Currency>,
) -> String {
    let c = &cfg.customer;
    let value = |token: &str| match token {
        "first" => clean(p.first),
        "last" => clean(p.last),
        "company" => clean(p.company),
        "email" => p.email.trim().to_string(),
        "customer_id" => p.customer_id.to_string(),
        _ => String::new(),
    };
    let mut name = c
        .display_name
        .iter()
        .map(|recipe| clean(&render(recipe, value)))
        .find(|n| n.chars().any(char::is_alphanumeric))
        .unwrap_or_else(|| format!("Customer {}", p.customer_id));
    let home = cfg.currency.as_ref().map(|k| k.home_currency);
    for d in &c.disambiguate {
        match d {
            Disambiguator::Currency => {
                if let (Some(cur), Some(home)) = (currency, home) {
                    if cur != home {
                        name.push_str(&format!(" ({cur})"));
                    }
                }
            }
            Disambiguator::CustomerId => {
                if p.customer_id != 0 {
                    name.push_str(&format!(" #{}", p.customer_id));
                }
            }
        }
    }
    name
}

/// The deterministic customer code: prefix + store customer id (guests without an id: a hash
/// of their email), so retries and replays address the same target record.
pub(crate) fn customer_code(cfg: &ConnectionConfig, p: &Party<'_>) -> String {
    if p.customer_id != 0 {
        format!("{}{}", cfg.customer.code_prefix, p.customer_id)
    } else {
        let h = content_hash(p.email.trim().to_lowercase().as_bytes());
        format!("{}G{}", cfg.customer.code_prefix, &h[..8])
    }
}

fn match_rule(r: MatchRule) -> CustomerMatchRule {
    match r {
        MatchRule::EmailThenDisplayName => CustomerMatchRule::EmailThenDisplayName,
        MatchRule::Email => CustomerMatchRule::Email,
        MatchRule::DisplayName => CustomerMatchRule::DisplayName,
        MatchRule::Fixed => CustomerMatchRule::Fixed,
    }
}

/// Builds the fitted reference and name for `p`; `path` prefixes truncation records.
pub(crate) fn customer_ref(
    cfg: &ConnectionConfig,
    p: &Party<'_>,
    currency: Option<Currency>,
    fitter: &mut Fitter,
    path: &str,
) -> (CustomerRef, PartyName) {
    let currency_code = currency.map(|c| c.code().to_string()).unwrap_or_default();
    if cfg.customer.match_rule == MatchRule::Fixed {
        let fixed = fitter.fit(
            Field::DisplayName,
            &format!("{path}.display_name"),
            &cfg.customer.fixed_customer,
        );
        let r = CustomerRef {
            display_name: fixed.clone(),
            target_code: fitter.fit(
                Field::CustomerCode,
                &format!("{path}.target_code"),
                &cfg.customer.fixed_customer,
            ),
            currency: currency_code,
            match_rule: CustomerMatchRule::Fixed as i32,
            ..Default::default()
        };
        let name = PartyName {
            display_name: fixed.clone(),
            full_name: fixed,
            ..Default::default()
        };
        return (r, name);
    }
    let display = display_name(cfg, p, currency);
    let display = fitter.fit(
        Field::DisplayName,
        &format!("{path}.display_name"),
        &display,
    );
    let r = CustomerRef {
        email: fitter.fit(Field::Email, &format!("{path}.email"), p.email.trim()),
        display_name: display.clone(),
        store_customer_id: p.customer_id.to_string(),
        target_code: fitter.fit(
            Field::CustomerCode,
            &format!("{path}.target_code"),
            &customer_code(cfg, p),
        ),
        currency: currency_code,
        match_rule: match_rule(cfg.customer.match_rule) as i32,
    };
    // Some stores put the whole name in FirstName: split it for targets with two fields.
    let (given, family) = if clean(p.last).is_empty() {
        split_name(p.first)
    } else {
        (clean(p.first), clean(p.last))
    };
    let name = PartyName {
        given_name: fitter.fit(Field::GivenName, &format!("{path}_name.given_name"), &given),
        family_name: fitter.fit(
            Field::FamilyName,
            &format!("{path}_name.family_name"),
            &family,
        ),
        company: fitter.fit(
            Field::CompanyName,
            &format!("{path}_name.company"),
            &clean(p.company),
        ),
        display_name: display,
        full_name: fitter.fit(
            Field::FullName,
            &format!("{path}_name.full_name"),
            &join_name(p.first, p.last),
        ),
    };
    (r, name)
}
