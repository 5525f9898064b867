//! Every topic nopbridge uses: the one place their names, partitions and compaction live.
//! Topic names are a public contract (downstream analytics read them): versioned `.v1`.
use nopbridge_kafka::TopicSpec;

/// Canonical entity names; topic `canonical.<entity>.v1` carries `nopbridge.events.v1.<Message>`.
pub const CANONICAL: &[(&str, &str)] = &[
    ("customer", "nopbridge.events.v1.Customer"),
    ("product", "nopbridge.events.v1.Product"),
    ("inventory_level", "nopbridge.events.v1.InventoryLevel"),
    ("order", "nopbridge.events.v1.Order"),
    (
        "payment_transaction",
        "nopbridge.events.v1.PaymentTransaction",
    ),
    ("shipment", "nopbridge.events.v1.Shipment"),
    ("return_request", "nopbridge.events.v1.ReturnRequest"),
];

/// Accounting targets; topic `sink.<target>.commands.v1`.
pub const TARGETS: &[&str] = &[
    "quickbooks_online",
    "kashflow",
    "dynamics_gp",
    "nopcommerce",
];

/// Pipeline stages; dead letters go to `dlq.<stage>.v1`.
pub const STAGES: &[&str] = &["ingest", "transform", "connector_sink", "reconciler"];

/// Thin webhook notifications, buffered so the receiver can acknowledge at once.
pub const INGEST_NOTIFICATIONS: &str = "ingest.notifications.v1";
/// Outcomes of connector writes (target ids, attempts), read by the reconciler.
pub const SINK_RESULTS: &str = "sink.results.v1";

/// Header on a canonical event re-emitted for drift repair: every command mapped from it
/// carries `verify_target`, so the target checks its record instead of trusting a replay.
pub const VERIFY_TARGET_HEADER: &str = "nopbridge_verify_target";

pub fn canonical(entity: &str) -> String {
    format!("canonical.{entity}.v1")
}

pub fn commands(target: &str) -> String {
    format!("sink.{target}.commands.v1")
}

pub fn dlq(stage: &str) -> String {
    format!("dlq.{stage}.v1")
}

/// The full set, with the partition count the local stack uses.
pub fn all(partitions: i32) -> Vec<TopicSpec> {
    let mut specs: Vec<TopicSpec> = CANONICAL
        .iter()
        .map(|(e, _)| TopicSpec::new(canonical(e), partitions))
        .collect();
    specs.extend(
        TARGETS
            .iter()
            .map(|t| TopicSpec::new(commands(t), partitions)),
    );
    specs.extend(STAGES.iter().map(|s| TopicSpec::new(dlq(s), 1)));
    specs.push(TopicSpec::new(INGEST_NOTIFICATIONS, partitions));
    specs.push(TopicSpec::new(SINK_RESULTS, partitions));
    specs
}

/// The protobuf message `topic` carries, when its contract is defined.
pub fn contract(topic: &str) -> Option<&'static str> {
    CANONICAL
        .iter()
        .find(|(e, _)| canonical(e) == topic)
        .map(|(_, m)| *m)
}
