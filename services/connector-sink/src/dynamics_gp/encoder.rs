//! Values at the GP edge: field lengths (the eConnect node reference, `char(n)` of the
//! procedures) with every fitting recorded, keys fitted without losing uniqueness, money
//! from integer minor units to the 2-decimal strings GP takes, and deterministic numbers.
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use tracing::info;

/// Longest value GP keeps for an element (SQL Server would cut it silently).
pub fn max_len(element: &str) -> Option<usize> {
    Some(match element {
        "CUSTNMBR" | "SHRTNAME" | "CUSTCLAS" | "ADRSCODE" | "SHIPMTHD" | "TAXSCHID"
        | "PRSTADCD" | "PRBTADCD" | "CHEKBKID" | "CURNCYID" | "ITMSHNAM" | "DOCID" | "BACHNUMB"
        | "TAXDTLID" | "CARDNAME" | "Reason_Code" => 15,
        "CUSTNAME" | "STMTNAME" | "ShipToName" => 64,
        "CNTCPRSN" | "ADDRESS1" | "ADDRESS2" | "ADDRESS3" | "COUNTRY" => 60,
        "CITY" => 35,
        "STATE" => 29,
        "ZIPCODE" | "LOCNCODE" | "TRXLOCTN" | "UOMSCHDL" | "ITMCLSCD" => 10,
        "CCode" => 6,
        "PHNUMBR1" | "PHNUMBR2" | "PHNUMBR3" | "FAX" | "FAXNUMBR" => 21,
        "CSTPONBR" | "CHEKNMBR" | "RCTNCCRD" | "DOCNUMBR" | "ORDOCNUM" => 20,
        "REFRENCE" | "ITEMNMBR" | "DSCRIPTN" => 30,
        "ACTNUMST" => 75,
        "COMMENT_1" | "USRDEFND1" | "USRDEFND2" | "USRDEFND3" => 50,
        "ITEMDESC" => 100,
        "SOPNUMBE" => 21,
        "IVDOCNBR" => 17,
        "Tracking_Number" => 40,
        "ToEmail_Recipient" => 80,
        "NOTETEXT" => 8000,
        _ => return None,
    })
}

/// A value changed to fit GP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitting {
    pub element: &'static str,
    pub original: String,
    pub fitted: String,
    pub max: usize,
}

/// Fits values and remembers what it changed (logged with the command, never silent).
#[derive(Debug, Default)]
pub struct Fitter {
    pub fitted: Vec<Fitting>,
}

impl Fitter {
    /// A descriptive value: cut at a character boundary.
    pub fn text(&mut self, element: &'static str, value: &str) -> String {
        let value = value.trim();
        let Some(max) = max_len(element) else {
            return value.to_string();
        };
        if value.chars().count() <= max {
            return value.to_string();
        }
        let fitted: String = value
            .chars()
            .take(max)
            .collect::<String>()
            .trim_end()
            .to_string();
        self.record(element, value, &fitted, max);
        fitted
    }

    /// A key (CUSTNMBR, ITEMNMBR, SOPNUMBE): a cut key could meet another one, so a long key
    /// keeps its head and ends in `~` and 8 hex digits of its hash. Deterministic.
    pub fn key(&mut self, element: &'static str, value: &str) -> String {
        let value = value.trim();
        let Some(max) = max_len(element) else {
            return value.to_string();
        };
        if value.chars().count() <= max {
            return value.to_string();
        }
        let mut h = Sha256::new();
        h.update(value.as_bytes());
        let digest = hex::encode(h.finalize()).to_uppercase();
        let head: String = value.chars().take(max - 9).collect();
        let fitted = format!("{head}~{}", &digest[..8]);
        self.record(element, value, &fitted, max);
        fitted
    }

    fn record(&mut self, element: &'static str, original: &str, fitted: &str, max: usize) {
        if !self
            .fitted
            .iter()
            .any(|f| f.element == element && f.original == original)
        {
            info!(element, max, original_chars = original.chars().count(), %fitted, "value fitted to GP's length");
            self.fitted.push(Fitting {
                element,
                original: original.to_string(),
                fitted: fitted.to_string(),
                max,
            });
        }
    }
}

/// Minor-unit exponent of an ISO-4217 currency.
pub fn exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

pub fn decimal(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, exponent(currency))
}

/// An amount as GP takes it (`numeric(19,5)`, money at its currency's decimals).
pub fn amount(minor: i64, currency: &str) -> String {
    decimal(minor, currency).to_string()
}

/// A unit price with up to 5 decimals such that round(price × quantity, 2) is the extended
/// price exactly (eConnect checks XTNDPRCE against it).
pub fn unit_price(extended_minor: i64, quantity: i64, currency: &str) -> Option<Decimal> {
    let ext = decimal(extended_minor, currency);
    if quantity <= 0 {
        return None;
    }
    let q = Decimal::from(quantity);
    (2..=5)
        .map(|dp| (ext / q).round_dp(dp))
        .find(|u| (u * q).round_dp(exponent(currency)) == ext)
}

/// A deterministic customer number: the command's target code, else prefix + store id,
/// else prefix + G + a hash of the email (guests).
pub fn customer_number(
    prefix: &str,
    target_code: &str,
    store_customer_id: &str,
    email: &str,
) -> String {
    if !target_code.trim().is_empty() {
        return target_code.trim().to_string();
    }
    let id = store_customer_id.trim();
    if !id.is_empty() && id != "0" {
        return format!("{prefix}{id:0>6}");
    }
    let mut h = Sha256::new();
    h.update(email.trim().to_lowercase().as_bytes());
    format!(
        "{prefix}G{}",
        &hex::encode(h.finalize())[..8].to_uppercase()
    )
}

/// The batch of a document: prefix + date digits, at most 15 characters.
pub fn batch(prefix: &str, date: &str) -> String {
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    let keep = 15usize.saturating_sub(digits.len());
    format!("{}{digits}", prefix.chars().take(keep).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_keys_stay_unique_and_every_fitting_is_recorded() {
        let mut f = Fitter::default();
        let a = f.key("ITEMNMBR", "BUNDLE-SUMMER-2026-ORGANIC-COTTON-TEE-XL");
        let b = f.key("ITEMNMBR", "BUNDLE-SUMMER-2026-ORGANIC-COTTON-TEE-XXL");
        assert_eq!(a.chars().count(), 30);
        assert_ne!(a, b);
        assert_eq!(
            a,
            Fitter::default().key("ITEMNMBR", "BUNDLE-SUMMER-2026-ORGANIC-COTTON-TEE-XL")
        );
        assert_eq!(f.text("CITY", &"x".repeat(40)).len(), 35);
        assert_eq!(f.fitted.len(), 3);
        assert_eq!(f.text("CUSTNMBR", "WEB000001"), "WEB000001");
    }

    #[test]
    fn unit_prices_make_the_extended_price_exact() {
        assert_eq!(
            unit_price(1000, 3, "GBP").map(|u| u.to_string()),
            Some("3.333".into())
        );
        assert_eq!(
            unit_price(2502, 2, "GBP").map(|u| u.to_string()),
            Some("12.51".into())
        );
        assert_eq!(amount(-505, "GBP"), "-5.05");
        assert_eq!(batch("WEB", "2026-11-20"), "WEB20261120");
        assert_eq!(batch("WEBSTORE-UK", "2026-11-20").len(), 15);
    }
}
