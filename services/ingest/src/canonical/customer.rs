//! Customer → `nopbridge.events.v1.Customer`. Guests have no email (nopCommerce keeps a
//! guest's email on the order's billing address); role ids are those of a default install.
use super::{address, text, ts, MapCtx};
use crate::client::dto::{AddressDto, CustomerDto};
use nopbridge_proto::events::v1 as pb;

pub const ROLE_GUESTS: i64 = 4;

pub fn role_name(id: i64) -> String {
    match id {
        1 => "Administrators".into(),
        2 => "ForumModerators".into(),
        3 => "Registered".into(),
        ROLE_GUESTS => "Guests".into(),
        5 => "Vendors".into(),
        other => format!("role-{other}"),
    }
}

/// `addresses`: the customer's address book (the billing and shipping defaults among them).
pub fn to_canonical(
    c: &CustomerDto,
    addresses: &[AddressDto],
    currency_code: Option<&str>,
    ctx: &MapCtx,
) -> pb::Customer {
    let find = |id: Option<i64>| {
        id.and_then(|id| addresses.iter().find(|a| a.id == id))
            .map(|a| address(a, ctx))
    };
    pb::Customer {
        meta: None,
        customer_id: c.id,
        customer_guid: c.customer_guid.clone(),
        email: text(&c.email),
        username: text(&c.username),
        first_name: text(&c.first_name),
        last_name: text(&c.last_name),
        company: text(&c.company),
        phone: text(&c.phone),
        vat_number: text(&c.vat_number),
        is_guest: c.role_ids.contains(&ROLE_GUESTS),
        is_tax_exempt: c.is_tax_exempt,
        active: c.active,
        deleted: c.deleted,
        registered_in_store_id: c.registered_in_store_id,
        billing_address: find(
            c.billing_address_id
                .or_else(|| c.billing_address.as_ref().map(|a| a.id)),
        ),
        shipping_address: find(
            c.shipping_address_id
                .or_else(|| c.shipping_address.as_ref().map(|a| a.id)),
        ),
        addresses: addresses.iter().map(|a| address(a, ctx)).collect(),
        roles: c.role_ids.iter().map(|r| role_name(*r)).collect(),
        currency_code: currency_code.unwrap_or_default().to_string(),
        created_at: Some(ts(c.created_on_utc)),
    }
}

/// The community API nests the addresses; the backend lists them separately.
pub fn nested_addresses(c: &CustomerDto) -> Vec<AddressDto> {
    let mut out: Vec<AddressDto> = c.addresses.clone();
    for a in [&c.billing_address, &c.shipping_address]
        .into_iter()
        .flatten()
    {
        if !out.iter().any(|x| x.id == a.id) {
            out.push(a.clone());
        }
    }
    out
}
