//! Field fitting per target: length limits and character sets. Every change is recorded as a
//! `FieldTruncation` on the command; nothing is shortened silently.
//!
//! Limits come from ../shared/reference: QuickBooks Online §2 (with errata 4: DisplayName 500),
//! Dynamics GP §B4 (eConnect node lengths; GP keys are upper case and its `char` columns are
//! single-byte, so text outside Windows-1252 is replaced), and KashFlow §A5, which publishes
//! no lengths: we use 100 characters for text and 20 for codes, the minimum its reference says
//! an emulator must accept.
use crate::config::Target;
use crate::pb::commands::{FieldTruncation, TruncationReason};
use std::borrow::Cow;

/// The kinds of text a command carries to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    DisplayName,
    GivenName,
    FamilyName,
    FullName,
    CompanyName,
    Email,
    Phone,
    AddressLine,
    City,
    Region,
    PostalCode,
    DocNumber,
    Memo,
    LineDescription,
    ItemName,
    Sku,
    CustomerCode,
    PaymentReference,
    Note,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Anything except control characters (which become spaces).
    Text,
    /// QuickBooks names: also no ':' (the hierarchy separator), which becomes '-'.
    QboName,
    /// Windows-1252 text (GP `char` columns); other characters become '?'.
    Cp1252,
    /// Windows-1252, upper-cased (GP keys: CUSTNMBR, ITEMNMBR, SOPNUMBE).
    Cp1252Upper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRule {
    pub max_chars: u32,
    pub charset: Charset,
}

const fn rule(max_chars: u32, charset: Charset) -> FieldRule {
    FieldRule { max_chars, charset }
}

/// The rule for `field` on `target`.
pub fn rule_for(target: Target, field: Field) -> FieldRule {
    use Charset::*;
    use Field::*;
    match target {
        Target::QuickbooksOnline => match field {
            DisplayName => rule(500, QboName),
            GivenName | FamilyName => rule(100, Text),
            FullName => rule(500, Text),
            CompanyName => rule(100, Text),
            Email => rule(100, Text),
            Phone => rule(21, Text),
            AddressLine => rule(500, Text),
            City | Region => rule(255, Text),
            PostalCode => rule(30, Text),
            DocNumber => rule(21, Text),
            Memo => rule(4000, Text),
            LineDescription => rule(4000, Text),
            ItemName => rule(100, QboName),
            Sku => rule(100, Text),
            CustomerCode => rule(100, Text),
            PaymentReference => rule(21, Text),
            Note => rule(4000, Text),
        },
        Target::Kashflow => match field {
            CustomerCode | Sku => rule(20, Text),
            PostalCode => rule(20, Text),
            _ => rule(100, Text),
        },
        Target::DynamicsGp => match field {
            DisplayName | CompanyName => rule(64, Cp1252),
            GivenName | FamilyName | FullName => rule(60, Cp1252),
            Email => rule(200, Cp1252),
            Phone => rule(21, Cp1252),
            AddressLine => rule(60, Cp1252),
            City => rule(35, Cp1252),
            Region => rule(29, Cp1252),
            PostalCode => rule(10, Cp1252),
            DocNumber => rule(21, Cp1252Upper),
            Memo => rule(500, Cp1252),
            LineDescription | ItemName => rule(100, Cp1252),
            Sku => rule(30, Cp1252Upper),
            CustomerCode => rule(15, Cp1252Upper),
            PaymentReference => rule(20, Cp1252),
            Note => rule(8000, Cp1252),
        },
        // The store's own fields (order notes) take long text.
        Target::Nopcommerce => rule(4000, Text),
    }
}

/// Fits values for one command and collects what it changed.
pub struct Fitter {
    target: Target,
    truncations: Vec<FieldTruncation>,
}

impl Fitter {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            truncations: Vec::new(),
        }
    }

    /// Returns `value` fitted to the target's rule for `field`; records a truncation at
    /// `path` when anything changed.
    pub fn fit(&mut self, field: Field, path: &str, value: &str) -> String {
        let rule = rule_for(self.target, field);
        let (fitted, reason) = fit_value(rule, value);
        if let Some(reason) = reason {
            self.truncations.push(FieldTruncation {
                field: path.to_string(),
                original: value.to_string(),
                fitted: fitted.to_string(),
                max_chars: rule.max_chars,
                reason: reason as i32,
            });
        }
        fitted.into_owned()
    }

    pub fn target(&self) -> Target {
        self.target
    }

    pub fn into_truncations(self) -> Vec<FieldTruncation> {
        self.truncations
    }
}

/// Applies `rule`; the reason is `None` when the value already fits.
pub fn fit_value(rule: FieldRule, value: &str) -> (Cow<'_, str>, Option<TruncationReason>) {
    let (mapped, charset_changed) = map_charset(rule.charset, value);
    let max = rule.max_chars as usize;
    let (fitted, cut) = match mapped.char_indices().nth(max) {
        Some((byte, _)) => (Cow::Owned(mapped[..byte].trim_end().to_string()), true),
        None => (mapped, false),
    };
    let reason = match (cut, charset_changed) {
        (false, false) => None,
        (true, false) => Some(TruncationReason::Length),
        (false, true) => Some(TruncationReason::Charset),
        (true, true) => Some(TruncationReason::LengthAndCharset),
    };
    (fitted, reason)
}

fn map_charset(charset: Charset, value: &str) -> (Cow<'_, str>, bool) {
    let ok = |c: char| match charset {
        Charset::Text => !c.is_control(),
        Charset::QboName => !c.is_control() && c != ':',
        Charset::Cp1252 => in_cp1252(c) && !c.is_control(),
        Charset::Cp1252Upper => in_cp1252(c) && !c.is_control() && !c.is_lowercase(),
    };
    if value.chars().all(ok) {
        return (Cow::Borrowed(value), false);
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if ok(c) {
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else if c == ':' {
            out.push('-');
        } else if charset == Charset::Cp1252Upper && c.is_lowercase() {
            for u in c.to_uppercase() {
                out.push(if in_cp1252(u) { u } else { '?' });
            }
        } else {
            out.push('?');
        }
    }
    (Cow::Owned(out), true)
}

/// Characters Windows-1252 can encode.
fn in_cp1252(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}')
        || matches!(
            c,
            '€' | '‚'
                | 'ƒ'
                | '„'
                | '…'
                | '†'
                | '‡'
                | 'ˆ'
                | '‰'
                | 'Š'
                | '‹'
                | 'Œ'
                | 'Ž'
                | '‘'
                | '’'
                | '“'
                | '”'
                | '•'
                | '–'
                | '—'
                | '˜'
                | '™'
                | 'š'
                | '›'
                | 'œ'
                | 'ž'
                | 'Ÿ'
        )
        || c.is_ascii_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use Target::*;
        let long = "x".repeat(30);
        let cases: &[(Target, Field, &str, &str, Option<TruncationReason>)] = &[
            (
                QuickbooksOnline,
                Field::DisplayName,
                "Ana Silva",
                "Ana Silva",
                None,
            ),
            (
                QuickbooksOnline,
                Field::DisplayName,
                "Acme: West",
                "Acme- West",
                Some(TruncationReason::Charset),
            ),
            (
                QuickbooksOnline,
                Field::ItemName,
                "Lamp\tOak",
                "Lamp Oak",
                Some(TruncationReason::Charset),
            ),
            (
                QuickbooksOnline,
                Field::DocNumber,
                "WEB-2024-000000001043",
                "WEB-2024-000000001043",
                None,
            ),
            (
                QuickbooksOnline,
                Field::DocNumber,
                "WEB-2024-0000000001043",
                "WEB-2024-000000000104",
                Some(TruncationReason::Length),
            ),
            (QuickbooksOnline, Field::PostalCode, &long, &long, None),
            (
                DynamicsGp,
                Field::CustomerCode,
                "web5127",
                "WEB5127",
                Some(TruncationReason::Charset),
            ),
            (
                DynamicsGp,
                Field::CustomerCode,
                "web-customer-5127",
                "WEB-CUSTOMER-51",
                Some(TruncationReason::LengthAndCharset),
            ),
            (DynamicsGp, Field::City, "Lyon", "Lyon", None),
            (
                DynamicsGp,
                Field::AddressLine,
                "12 Rue de la République",
                "12 Rue de la République",
                None,
            ),
            (
                DynamicsGp,
                Field::AddressLine,
                "北京市 1",
                "??? 1",
                Some(TruncationReason::Charset),
            ),
            (
                DynamicsGp,
                Field::PostalCode,
                "SW1A 1AA 12345",
                "SW1A 1AA 1",
                Some(TruncationReason::Length),
            ),
            (
                Kashflow,
                Field::CustomerCode,
                "WEB-000000000000005127",
                "WEB-0000000000000051",
                Some(TruncationReason::Length),
            ),
            (Kashflow, Field::DisplayName, "Zoë Ünal", "Zoë Ünal", None),
        ];
        for (target, field, input, want, reason) in cases {
            let (got, why) = fit_value(rule_for(*target, *field), input);
            assert_eq!(got, *want, "{target:?} {field:?} {input:?}");
            assert_eq!(why, *reason, "{target:?} {field:?} {input:?}");
        }
    }

    #[test]
    fn truncation_cuts_whole_characters_and_trims() {
        let (got, _) = fit_value(rule(5, Charset::Text), "ab éé cd");
        assert_eq!(got, "ab éé");
        let (got, _) = fit_value(rule(3, Charset::Text), "ab cd");
        assert_eq!(got, "ab");
    }

    #[test]
    fn fitter_records_every_change() {
        let mut f = Fitter::new(Target::DynamicsGp);
        assert_eq!(
            f.fit(Field::City, "post_sale.billing_address.city", "Lyon"),
            "Lyon"
        );
        let fitted = f.fit(
            Field::CustomerCode,
            "post_sale.customer.target_code",
            "web-customer-5127",
        );
        let t = f.into_truncations();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].field, "post_sale.customer.target_code");
        assert_eq!(t[0].original, "web-customer-5127");
        assert_eq!(t[0].fitted, fitted);
        assert_eq!(t[0].max_chars, 15);
        assert_eq!(t[0].reason, TruncationReason::LengthAndCharset as i32);
    }
}
