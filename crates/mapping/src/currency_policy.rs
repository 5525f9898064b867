//! Which currency a document is in, and the explicit rates that get it there.
//!
//! Store amounts (the order's primary store currency) are converted line by line into the
//! document currency at `document_per_store`, each rounded half away from zero; the total is
//! converted once, and the difference (the residual) is placed by the connection's residual
//! rule (see `sale`). `home_per_document` is what targets call the exchange rate (home units
//! per one document unit); it is always explicit, 1 when the document is in home currency.
use crate::config::{CurrencyConfig, DocumentCurrency, RateSourceConfig};
use crate::pb::commands::{ExchangeRate, RateSource};
use nopbridge_model::{Currency, Rate};

/// Decimals kept when a rate has to be inverted.
const INVERSE_SCALE: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    pub store: Currency,
    pub document: Currency,
    pub home: Currency,
    pub document_per_store: Rate,
    pub home_per_document: Rate,
    pub source: RateSource,
}

/// Why no conversion could be resolved: (field, found, config key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRate {
    pub from: Currency,
    pub to: Currency,
}

impl Conversion {
    /// Store minor units → document minor units.
    pub fn convert(&self, store_minor: i64) -> Option<i64> {
        if self.source == RateSource::Identity {
            return Some(store_minor);
        }
        self.document_per_store.apply_minor(
            store_minor,
            self.store.exponent(),
            self.document.exponent(),
        )
    }

    pub fn to_proto(&self) -> ExchangeRate {
        ExchangeRate {
            document_currency: self.document.code().to_string(),
            home_currency: self.home.code().to_string(),
            home_per_document: Some(self.home_per_document.to_proto()),
            document_per_store: Some(self.document_per_store.to_proto()),
            store_currency: self.store.code().to_string(),
            source: self.source as i32,
        }
    }
}

fn table_rate(cfg: &CurrencyConfig, from: Currency, to: Currency) -> Option<Rate> {
    if from == to {
        return Some(Rate::ONE);
    }
    if let Some(r) = cfg.rates.iter().find(|r| r.from == from && r.to == to) {
        return Some(r.rate);
    }
    cfg.rates
        .iter()
        .find(|r| r.from == to && r.to == from)
        .and_then(|r| r.rate.inverse(INVERSE_SCALE))
}

/// Resolves the document currency and rates for one order (or a refund, with no order rate).
pub fn resolve(
    cfg: &CurrencyConfig,
    store: Currency,
    customer: Option<Currency>,
    order_rate: Option<Rate>,
) -> Result<Conversion, MissingRate> {
    let home = cfg.home_currency;
    let document = match cfg.document_currency {
        DocumentCurrency::Store => store,
        DocumentCurrency::Customer => customer.unwrap_or(store),
        DocumentCurrency::Home => home,
    };
    let (document_per_store, source) = if document == store {
        (Rate::ONE, RateSource::Identity)
    } else {
        let from_order = (cfg.rate_source == RateSourceConfig::Order && customer == Some(document))
            .then_some(order_rate)
            .flatten()
            .filter(|r| !r.is_zero() && !r.is_negative());
        match from_order {
            Some(r) => (r, RateSource::Order),
            None => (
                table_rate(cfg, store, document).ok_or(MissingRate {
                    from: store,
                    to: document,
                })?,
                RateSource::Table,
            ),
        }
    };
    let home_per_document = if document == home {
        Rate::ONE
    } else if let Some(r) = cfg
        .rates
        .iter()
        .find(|r| r.from == document && r.to == home)
        .map(|r| r.rate)
    {
        r
    } else if home == store {
        // Reference §1.12.1: document = store amount × rate, so home per document = 1 / rate.
        document_per_store
            .inverse(INVERSE_SCALE)
            .ok_or(MissingRate {
                from: document,
                to: home,
            })?
    } else {
        table_rate(cfg, document, home).ok_or(MissingRate {
            from: document,
            to: home,
        })?
    };
    Ok(Conversion {
        store,
        document,
        home,
        document_per_store,
        home_per_document,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RateEntry, ResidualRule};

    fn cur(c: &str) -> Currency {
        Currency::new(c).unwrap()
    }

    fn cfg(doc: DocumentCurrency, home: &str, rates: &[(&str, &str, &str)]) -> CurrencyConfig {
        CurrencyConfig {
            home_currency: cur(home),
            document_currency: doc,
            rate_source: RateSourceConfig::Order,
            rates: rates
                .iter()
                .map(|(f, t, r)| RateEntry {
                    from: cur(f),
                    to: cur(t),
                    rate: Rate::parse(r).unwrap(),
                })
                .collect(),
            residual: ResidualRule::LargestLine,
            tolerance_minor_units: 2,
        }
    }

    #[test]
    fn store_currency_in_home_is_identity() {
        let c = resolve(
            &cfg(DocumentCurrency::Store, "USD", &[]),
            Currency::USD,
            Some(Currency::EUR),
            Rate::parse("0.92").ok(),
        )
        .unwrap();
        assert_eq!(c.document, Currency::USD);
        assert_eq!(c.source, RateSource::Identity);
        assert_eq!(c.home_per_document, Rate::ONE);
        assert_eq!(c.convert(12060), Some(12060));
    }

    #[test]
    fn customer_currency_uses_the_order_rate_and_inverts_it_for_home() {
        let c = resolve(
            &cfg(DocumentCurrency::Customer, "USD", &[]),
            Currency::USD,
            Some(Currency::EUR),
            Rate::parse("0.92").ok(),
        )
        .unwrap();
        assert_eq!(c.document, Currency::EUR);
        assert_eq!(c.source, RateSource::Order);
        assert_eq!(c.convert(12060), Some(11095));
        assert_eq!(c.home_per_document.to_string(), "1.0869565217");
    }

    #[test]
    fn table_rates_are_used_and_inverted_when_needed() {
        let mut k = cfg(DocumentCurrency::Home, "GBP", &[("GBP", "USD", "1.25")]);
        k.rate_source = RateSourceConfig::Table;
        let c = resolve(&k, Currency::USD, None, None).unwrap();
        assert_eq!(c.document, Currency::GBP);
        assert_eq!(c.source, RateSource::Table);
        assert_eq!(c.document_per_store, Rate::parse("0.8").unwrap());
        assert_eq!(c.convert(10000), Some(8000));
        assert_eq!(c.home_per_document, Rate::ONE);
    }

    #[test]
    fn missing_rate_is_reported() {
        let err = resolve(
            &cfg(DocumentCurrency::Home, "GBP", &[]),
            Currency::USD,
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            MissingRate {
                from: Currency::USD,
                to: cur("GBP")
            }
        );
        // customer currency without an order rate and without a table entry
        let err = resolve(
            &cfg(DocumentCurrency::Customer, "USD", &[]),
            Currency::USD,
            Some(Currency::EUR),
            None,
        )
        .unwrap_err();
        assert_eq!(err.to, Currency::EUR);
    }

    #[test]
    fn store_in_foreign_currency_needs_a_home_rate() {
        let c = resolve(
            &cfg(DocumentCurrency::Store, "GBP", &[("EUR", "GBP", "0.85")]),
            Currency::EUR,
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.home_per_document, Rate::parse("0.85").unwrap());
        assert_eq!(c.source, RateSource::Identity);
    }
}
