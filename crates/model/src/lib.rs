//! Money and identifiers shared by every nopbridge service.
//!
//! - [`Currency`]: a validated ISO-4217 code with its minor-unit exponent.
//! - [`Money`]: integer minor units plus a currency, with checked arithmetic and conversion to
//!   and from the protobuf `Money`. Never floating point.
//! - [`Rate`]: an exact decimal for exchange rates and tax percentages (the protobuf `Decimal`).
//! - [`decimal`]: decimal strings ("105.5000") to minor units and back, rounding half away from
//!   zero.
//! - [`apportion()`]: split an amount over parts so the parts sum exactly (largest remainder).
//! - [`tax_rates`]: nopCommerce's `TaxRates` string, parsed exactly as `ParseTaxRates` does.
//! - [`ids`]: content hashes and deterministic (UUIDv5) event and command ids.
//! - [`keys`]: Kafka record keys.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod apportion;
pub mod currency;
pub mod decimal;
pub mod ids;
pub mod keys;
pub mod money;
pub mod rate;
pub mod tax_rates;

pub use apportion::{apportion, ApportionError};
pub use currency::{Currency, CurrencyError};
pub use decimal::DecimalError;
pub use money::{Money, MoneyError};
pub use rate::Rate;
pub use tax_rates::{parse_tax_rates, TaxRateEntry};
