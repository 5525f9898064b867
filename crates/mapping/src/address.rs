//! Address normalisation: trimmed text, ISO-3166-1 alpha-2 countries, US/CA state and
//! province abbreviations, postal codes in the country's usual format.
use nopbridge_proto::events::v1 as ev;

/// An address after normalisation, before target fitting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalAddress {
    pub name: String,
    pub company: String,
    pub lines: Vec<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
    pub email: String,
}

/// Collapses runs of whitespace and trims.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

pub fn normalize(a: &ev::Address) -> NormalAddress {
    let country_code = country_code(&a.country_code, &a.country_name);
    let lines = [&a.address1, &a.address2]
        .into_iter()
        .map(|l| clean(l))
        .filter(|l| !l.is_empty())
        .collect();
    NormalAddress {
        name: join_name(&a.first_name, &a.last_name),
        company: clean(&a.company),
        lines,
        city: clean(&a.city),
        region: region(&country_code, &a.state_province),
        postal_code: postal_code(&country_code, &a.postal_code),
        country_code,
        phone: clean(&a.phone),
        email: a.email.trim().to_string(),
    }
}

/// "Marie" + "Dubois" → "Marie Dubois"; either may be empty.
pub fn join_name(first: &str, last: &str) -> String {
    let (f, l) = (clean(first), clean(last));
    match (f.is_empty(), l.is_empty()) {
        (true, _) => l,
        (_, true) => f,
        _ => format!("{f} {l}"),
    }
}

/// "Marie Claire Dubois" → ("Marie Claire", "Dubois"): the family name is the last word, as
/// targets with separate name fields expect; a single word is a given name.
pub fn split_name(full: &str) -> (String, String) {
    let c = clean(full);
    match c.rsplit_once(' ') {
        Some((given, family)) => (given.to_string(), family.to_string()),
        None => (c, String::new()),
    }
}

/// ISO-3166-1 alpha-2 from the event's code (alpha-2 or alpha-3) or, failing that, the name.
/// Unknown input is returned upper-cased as given, or empty.
pub fn country_code(code: &str, name: &str) -> String {
    let code = code.trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        // Greece is "EL" in EU VAT contexts (KashFlow); ISO says GR.
        return if code == "EL" { "GR".into() } else { code };
    }
    if code.len() == 3 {
        if let Some((a2, _)) = COUNTRIES.iter().find(|(_, a3)| *a3 == code) {
            return (*a2).to_string();
        }
    }
    let n = clean(name).to_lowercase();
    if let Some((_, a2)) = COUNTRY_NAMES.iter().find(|(k, _)| *k == n) {
        return (*a2).to_string();
    }
    code
}

/// US and CA: the two-letter abbreviation (from a full name or any case); elsewhere the
/// trimmed text as given.
pub fn region(country: &str, state: &str) -> String {
    let s = clean(state);
    let table: &[(&str, &str)] = match country {
        "US" => US_STATES,
        "CA" => CA_PROVINCES,
        _ => return s,
    };
    let upper = s.to_ascii_uppercase();
    if table.iter().any(|(abbr, _)| *abbr == upper) {
        return upper;
    }
    let lower = s.to_lowercase();
    table
        .iter()
        .find(|(_, name)| name.to_lowercase() == lower)
        .map_or(s, |(abbr, _)| (*abbr).to_string())
}

/// Formats a postal code: US `12345` / `12345-6789`, CA `A1A 1A1`, GB `SW1A 1AA`,
/// NL `1234 AB`; elsewhere trimmed and upper-cased. Input that does not fit the pattern is
/// kept (trimmed, upper-cased) rather than guessed at.
pub fn postal_code(country: &str, code: &str) -> String {
    let compact: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_uppercase();
    let fallback = || clean(code).to_uppercase();
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match country {
        "US" => match compact.len() {
            5 if is_digits(&compact) => compact,
            9 if is_digits(&compact) => format!("{}-{}", &compact[..5], &compact[5..]),
            _ => fallback(),
        },
        "CA" => {
            let b = compact.as_bytes();
            let pattern = b.len() == 6
                && b.iter().enumerate().all(|(i, c)| {
                    if i % 2 == 0 {
                        c.is_ascii_alphabetic()
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if pattern {
                format!("{} {}", &compact[..3], &compact[3..])
            } else {
                fallback()
            }
        }
        "GB" if (5..=7).contains(&compact.len()) && compact.is_ascii() => {
            let split = compact.len() - 3;
            format!("{} {}", &compact[..split], &compact[split..])
        }
        "NL" if compact.len() == 6 && is_digits(&compact[..4]) && compact.is_ascii() => {
            format!("{} {}", &compact[..4], &compact[4..])
        }
        _ => fallback(),
    }
}

/// (alpha-2, alpha-3) for the countries a store commonly ships to.
const COUNTRIES: &[(&str, &str)] = &[
    ("US", "USA"),
    ("CA", "CAN"),
    ("MX", "MEX"),
    ("GB", "GBR"),
    ("IE", "IRL"),
    ("FR", "FRA"),
    ("DE", "DEU"),
    ("NL", "NLD"),
    ("BE", "BEL"),
    ("LU", "LUX"),
    ("ES", "ESP"),
    ("PT", "PRT"),
    ("IT", "ITA"),
    ("AT", "AUT"),
    ("CH", "CHE"),
    ("DK", "DNK"),
    ("SE", "SWE"),
    ("NO", "NOR"),
    ("FI", "FIN"),
    ("IS", "ISL"),
    ("PL", "POL"),
    ("CZ", "CZE"),
    ("SK", "SVK"),
    ("HU", "HUN"),
    ("RO", "ROU"),
    ("BG", "BGR"),
    ("GR", "GRC"),
    ("HR", "HRV"),
    ("SI", "SVN"),
    ("EE", "EST"),
    ("LV", "LVA"),
    ("LT", "LTU"),
    ("CY", "CYP"),
    ("MT", "MLT"),
    ("TR", "TUR"),
    ("UA", "UKR"),
    ("AU", "AUS"),
    ("NZ", "NZL"),
    ("JP", "JPN"),
    ("CN", "CHN"),
    ("HK", "HKG"),
    ("SG", "SGP"),
    ("IN", "IND"),
    ("KR", "KOR"),
    ("ZA", "ZAF"),
    ("BR", "BRA"),
    ("AR", "ARG"),
    ("CL", "CHL"),
    ("AE", "ARE"),
    ("SA", "SAU"),
    ("IL", "ISR"),
    ("BH", "BHR"),
    ("KW", "KWT"),
];

const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("united states", "US"),
    ("united states of america", "US"),
    ("usa", "US"),
    ("canada", "CA"),
    ("mexico", "MX"),
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("uk", "GB"),
    ("ireland", "IE"),
    ("france", "FR"),
    ("germany", "DE"),
    ("deutschland", "DE"),
    ("netherlands", "NL"),
    ("the netherlands", "NL"),
    ("belgium", "BE"),
    ("luxembourg", "LU"),
    ("spain", "ES"),
    ("portugal", "PT"),
    ("italy", "IT"),
    ("austria", "AT"),
    ("switzerland", "CH"),
    ("denmark", "DK"),
    ("sweden", "SE"),
    ("norway", "NO"),
    ("finland", "FI"),
    ("iceland", "IS"),
    ("poland", "PL"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("slovakia", "SK"),
    ("hungary", "HU"),
    ("romania", "RO"),
    ("bulgaria", "BG"),
    ("greece", "GR"),
    ("croatia", "HR"),
    ("slovenia", "SI"),
    ("estonia", "EE"),
    ("latvia", "LV"),
    ("lithuania", "LT"),
    ("cyprus", "CY"),
    ("malta", "MT"),
    ("turkey", "TR"),
    ("ukraine", "UA"),
    ("australia", "AU"),
    ("new zealand", "NZ"),
    ("japan", "JP"),
    ("china", "CN"),
    ("hong kong", "HK"),
    ("singapore", "SG"),
    ("india", "IN"),
    ("south korea", "KR"),
    ("south africa", "ZA"),
    ("brazil", "BR"),
    ("argentina", "AR"),
    ("chile", "CL"),
    ("united arab emirates", "AE"),
    ("saudi arabia", "SA"),
    ("israel", "IL"),
    ("bahrain", "BH"),
    ("kuwait", "KW"),
];

const US_STATES: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("PR", "Puerto Rico"),
    ("GU", "Guam"),
    ("VI", "U.S. Virgin Islands"),
    ("AS", "American Samoa"),
    ("MP", "Northern Mariana Islands"),
];

const CA_PROVINCES: &[(&str, &str)] = &[
    ("AB", "Alberta"),
    ("BC", "British Columbia"),
    ("MB", "Manitoba"),
    ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"),
    ("NS", "Nova Scotia"),
    ("NT", "Northwest Territories"),
    ("NU", "Nunavut"),
    ("ON", "Ontario"),
    ("PE", "Prince Edward Island"),
    ("QC", "Quebec"),
    ("SK", "Saskatchewan"),
    ("YT", "Yukon"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries() {
        let cases = [
            ("us", "", "US"),
            ("", "United States", "US"),
            ("USA", "", "US"),
            ("FRA", "", "FR"),
            ("", "  france ", "FR"),
            ("", "Great  Britain", "GB"),
            ("EL", "", "GR"),
            ("", "Atlantis", ""),
            ("XX", "", "XX"),
        ];
        for (code, name, want) in cases {
            assert_eq!(country_code(code, name), want, "{code:?} {name:?}");
        }
    }

    #[test]
    fn regions() {
        let cases = [
            ("US", "california", "CA"),
            ("US", "New  York", "NY"),
            ("US", "tx", "TX"),
            ("CA", "Québec", "Québec"),
            ("CA", "Quebec", "QC"),
            ("CA", "on", "ON"),
            ("FR", " Auvergne-Rhône-Alpes ", "Auvergne-Rhône-Alpes"),
            ("US", "Narnia", "Narnia"),
        ];
        for (country, state, want) in cases {
            assert_eq!(region(country, state), want, "{country} {state:?}");
        }
    }

    #[test]
    fn postal_codes() {
        let cases = [
            ("US", "98101", "98101"),
            ("US", "981011234", "98101-1234"),
            ("US", " 98101-1234 ", "98101-1234"),
            ("US", "9810", "9810"),
            ("CA", "k1a0b1", "K1A 0B1"),
            ("CA", "K1A 0B1", "K1A 0B1"),
            ("GB", "sw1a1aa", "SW1A 1AA"),
            ("GB", "M1 1AE", "M1 1AE"),
            ("NL", "1234ab", "1234 AB"),
            ("FR", " 69002 ", "69002"),
            ("IE", "d02 x285", "D02 X285"),
        ];
        for (country, code, want) in cases {
            assert_eq!(postal_code(country, code), want, "{country} {code:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(join_name(" Marie ", "Dubois"), "Marie Dubois");
        assert_eq!(join_name("", "Dubois"), "Dubois");
        assert_eq!(join_name("Marie", "  "), "Marie");
        assert_eq!(
            split_name("Marie  Claire Dubois"),
            ("Marie Claire".into(), "Dubois".into())
        );
        assert_eq!(split_name("Cher"), ("Cher".into(), String::new()));
    }

    #[test]
    fn whole_address() {
        let a = ev::Address {
            first_name: " Ana ".into(),
            last_name: "Silva".into(),
            country_name: "United States".into(),
            state_province: "washington".into(),
            city: "  Seattle ".into(),
            address1: " 1 Main   St ".into(),
            address2: "  ".into(),
            postal_code: "981011234".into(),
            ..Default::default()
        };
        let n = normalize(&a);
        assert_eq!(n.name, "Ana Silva");
        assert_eq!(n.lines, vec!["1 Main St".to_string()]);
        assert_eq!(n.city, "Seattle");
        assert_eq!(n.region, "WA");
        assert_eq!(n.postal_code, "98101-1234");
        assert_eq!(n.country_code, "US");
    }
}
