//! nopCommerce DTOs → canonical events (nopbridge.events.v1). Money becomes integer minor
//! units through nopbridge-model (half away from zero); anything that does not convert is a
//! [`MapError`], which sends the raw record to the DLQ.
pub mod catalog;
pub mod customer;
pub mod order;
pub mod payment;
pub mod shipment;

use crate::client::dto::{AddressDto, Dec};
use chrono::{DateTime, Utc};
use nopbridge_model::{Currency, Rate};
use nopbridge_proto::events::v1 as pb;
use std::collections::BTreeMap;

/// What mapping needs to know about the connection.
#[derive(Debug, Clone)]
pub struct MapCtx {
    /// The store's primary currency: every stored amount is in it.
    pub currency: Currency,
    /// Country id → ISO-3166 alpha-2 (ids are per database).
    pub countries: BTreeMap<i64, String>,
    pub prices_include_tax: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{entity} {id}: field `{field}`: {reason}")]
pub struct MapError {
    pub entity: &'static str,
    pub id: i64,
    pub field: &'static str,
    pub reason: String,
}

/// Builds [`MapError`]s for one record.
#[derive(Clone, Copy)]
pub struct Fields {
    pub entity: &'static str,
    pub id: i64,
}

impl Fields {
    pub fn err(&self, field: &'static str, reason: impl Into<String>) -> MapError {
        MapError {
            entity: self.entity,
            id: self.id,
            field,
            reason: reason.into(),
        }
    }

    pub fn money(
        &self,
        field: &'static str,
        d: &Dec,
        cur: Currency,
    ) -> Result<pb::Money, MapError> {
        nopbridge_model::Money::from_decimal_str(&d.0, cur)
            .map(|m| m.to_proto())
            .map_err(|e| self.err(field, format!("{:?}: {e}", d.0)))
    }

    pub fn minor(&self, field: &'static str, d: &Dec, cur: Currency) -> Result<i64, MapError> {
        Ok(self.money(field, d, cur)?.minor_units)
    }

    pub fn rate(&self, field: &'static str, d: &Dec) -> Result<Rate, MapError> {
        Rate::parse(&d.0).map_err(|e| self.err(field, format!("{:?}: {e}", d.0)))
    }
}

pub fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    nopbridge_runtime::control::timestamp(t)
}

pub fn ts_opt(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(ts)
}

pub fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

pub fn address(a: &AddressDto, ctx: &MapCtx) -> pb::Address {
    pb::Address {
        address_id: a.id,
        country_code: a
            .country_id
            .and_then(|id| ctx.countries.get(&id).cloned())
            .unwrap_or_default(),
        country_name: text(&a.country),
        first_name: text(&a.first_name),
        last_name: text(&a.last_name),
        email: text(&a.email),
        company: text(&a.company),
        county: text(&a.county),
        city: text(&a.city),
        address1: text(&a.address1),
        address2: text(&a.address2),
        postal_code: text(&a.zip_postal_code),
        phone: text(&a.phone_number),
        fax: text(&a.fax_number),
        ..Default::default()
    }
}
