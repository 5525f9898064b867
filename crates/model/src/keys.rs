//! Kafka record keys.
//!
//! Canonical topics are keyed `tenant/store/entity/id` (design.md §3), so one entity's events
//! stay ordered in one partition. Sink command topics are keyed by the target connection id,
//! so one connection's commands stay ordered and its rate limiter lives in one consumer.
//! A `/` or `%` inside a segment is percent-encoded (`%2F`, `%25`) so keys split unambiguously.
use std::borrow::Cow;

fn segment(s: &str) -> Cow<'_, str> {
    if s.contains(['/', '%']) {
        Cow::Owned(s.replace('%', "%25").replace('/', "%2F"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `tenant/store/entity/id`, e.g. `acme/1/order/1043`.
pub fn canonical_key(tenant: &str, store: &str, entity: &str, id: &str) -> String {
    format!(
        "{}/{}/{}/{}",
        segment(tenant),
        segment(store),
        segment(entity),
        segment(id)
    )
}

/// A canonical key whose id has several parts, e.g. `acme/1/inventory_level/311/2`.
pub fn canonical_key_parts(tenant: &str, store: &str, entity: &str, id_parts: &[&str]) -> String {
    let id: Vec<Cow<'_, str>> = id_parts.iter().map(|p| segment(p)).collect();
    format!(
        "{}/{}/{}/{}",
        segment(tenant),
        segment(store),
        segment(entity),
        id.join("/")
    )
}

/// The key of topic `sink.<target>.commands.v1`: the target connection id.
pub fn command_key(connection_id: &str) -> String {
    connection_id.to_string()
}

/// Splits a canonical key back into its segments (decoded).
pub fn split_canonical_key(key: &str) -> Vec<String> {
    key.split('/')
        .map(|s| s.replace("%2F", "/").replace("%25", "%"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys() {
        assert_eq!(
            canonical_key("acme", "1", "order", "1043"),
            "acme/1/order/1043"
        );
        assert_eq!(
            canonical_key_parts("acme", "1", "inventory_level", &["311", "2"]),
            "acme/1/inventory_level/311/2"
        );
        assert_eq!(
            canonical_key("a/b", "1", "order", "50%"),
            "a%2Fb/1/order/50%25"
        );
        assert_eq!(
            split_canonical_key("a%2Fb/1/order/50%25"),
            vec!["a/b", "1", "order", "50%"]
        );
        assert_eq!(command_key("qbo-realm-1"), "qbo-realm-1");
    }
}
