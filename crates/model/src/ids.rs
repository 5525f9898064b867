//! Content hashes and deterministic ids.
//!
//! Ids are UUIDv5 over the parts joined with the ASCII unit separator (0x1F), so no choice of
//! part values can make two different part lists collide by concatenation.
use nopbridge_proto::events::v1::{EntityType, SourceSystem};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Namespace of event ids: uuid5(NAMESPACE_URL, "urn:nopbridge:events").
pub const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x161ab67f_64c4_5501_97b5_a5ceb1e4f96e);
/// Namespace of command ids: uuid5(NAMESPACE_URL, "urn:nopbridge:commands").
pub const COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0xe9a5a661_9f2d_5c37_965e_c55c87f28595);

const SEPARATOR: u8 = 0x1f;

/// Lower-case hex SHA-256 of `bytes` (64 characters).
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// UUIDv5 in `namespace` over `parts` joined with 0x1F.
pub fn deterministic_uuid(namespace: &Uuid, parts: &[&str]) -> Uuid {
    let len = parts.iter().map(|p| p.len() + 1).sum();
    let mut name = Vec::with_capacity(len);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            name.push(SEPARATOR);
        }
        name.extend_from_slice(p.as_bytes());
    }
    Uuid::new_v5(namespace, &name)
}

/// Stable lower-case names used in ids and keys ("nopcommerce", "order").
pub fn source_system_name(s: SourceSystem) -> &'static str {
    match s {
        SourceSystem::Unspecified => "unspecified",
        SourceSystem::Nopcommerce => "nopcommerce",
        SourceSystem::QuickbooksOnline => "quickbooks_online",
        SourceSystem::Kashflow => "kashflow",
        SourceSystem::DynamicsGp => "dynamics_gp",
    }
}

/// The canonical entity name, as in topic `canonical.<entity>.v1`.
pub fn entity_name(e: EntityType) -> &'static str {
    match e {
        EntityType::Unspecified => "unspecified",
        EntityType::Customer => "customer",
        EntityType::Product => "product",
        EntityType::InventoryLevel => "inventory_level",
        EntityType::Order => "order",
        EntityType::PaymentTransaction => "payment_transaction",
        EntityType::Shipment => "shipment",
        EntityType::ReturnRequest => "return_request",
    }
}

/// The event id of design.md §3: UUIDv5 over source system, tenant, store, entity type,
/// entity id and content hash, so re-ingesting the same version yields the same id.
pub fn event_id(
    source: SourceSystem,
    tenant: &str,
    store: &str,
    entity: EntityType,
    entity_id: &str,
    content_hash: &str,
) -> Uuid {
    deterministic_uuid(
        &EVENT_NAMESPACE,
        &[
            source_system_name(source),
            tenant,
            store,
            entity_name(entity),
            entity_id,
            content_hash,
        ],
    )
}

/// A command id: UUIDv5 over connection, command kind and the source event ids (in order),
/// plus any discriminator (e.g. "payment"). Replaying the same events gives the same id,
/// which becomes the target's idempotency key (QuickBooks `requestid`, ≤ 50 characters).
pub fn command_id(connection_id: &str, kind: &str, source_event_ids: &[&str], extra: &str) -> Uuid {
    let mut parts = Vec::with_capacity(source_event_ids.len() + 3);
    parts.push(connection_id);
    parts.push(kind);
    parts.extend_from_slice(source_event_ids);
    parts.push(extra);
    deterministic_uuid(&COMMAND_NAMESPACE, &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_the_documented_uuid5_values() {
        assert_eq!(
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:nopbridge:events"),
            EVENT_NAMESPACE
        );
        assert_eq!(
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:nopbridge:commands"),
            COMMAND_NAMESPACE
        );
    }

    #[test]
    fn content_hash_is_hex_sha256() {
        assert_eq!(
            content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn event_id_is_deterministic_and_sensitive_to_every_part() {
        let base = || {
            event_id(
                SourceSystem::Nopcommerce,
                "t1",
                "1",
                EntityType::Order,
                "1043",
                "ab",
            )
        };
        assert_eq!(base(), base());
        assert_eq!(base().get_version_num(), 5);
        let variants = [
            event_id(
                SourceSystem::Kashflow,
                "t1",
                "1",
                EntityType::Order,
                "1043",
                "ab",
            ),
            event_id(
                SourceSystem::Nopcommerce,
                "t2",
                "1",
                EntityType::Order,
                "1043",
                "ab",
            ),
            event_id(
                SourceSystem::Nopcommerce,
                "t1",
                "2",
                EntityType::Order,
                "1043",
                "ab",
            ),
            event_id(
                SourceSystem::Nopcommerce,
                "t1",
                "1",
                EntityType::Customer,
                "1043",
                "ab",
            ),
            event_id(
                SourceSystem::Nopcommerce,
                "t1",
                "1",
                EntityType::Order,
                "1044",
                "ab",
            ),
            event_id(
                SourceSystem::Nopcommerce,
                "t1",
                "1",
                EntityType::Order,
                "1043",
                "ac",
            ),
        ];
        for v in variants {
            assert_ne!(v, base());
        }
    }

    #[test]
    fn parts_cannot_collide_by_concatenation() {
        assert_ne!(
            deterministic_uuid(&EVENT_NAMESPACE, &["ab", "c"]),
            deterministic_uuid(&EVENT_NAMESPACE, &["a", "bc"])
        );
    }

    #[test]
    fn command_ids_fit_quickbooks_requestid() {
        let id = command_id("qbo-realm-1", "post_sale", &["e1", "e2"], "");
        assert_eq!(
            id,
            command_id("qbo-realm-1", "post_sale", &["e1", "e2"], "")
        );
        assert_ne!(
            id,
            command_id("qbo-realm-1", "post_sale", &["e2", "e1"], "")
        );
        assert!(id.to_string().len() <= 50);
    }
}
