//! Protobuf types for nopbridge's public contracts: the canonical events (topics
//! `canonical.<entity>.v1`) and the control API served by every service.

/// Canonical events, package `nopbridge.events.v1`.
pub mod events {
    pub mod v1 {
        #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
        tonic::include_proto!("nopbridge.events.v1");
    }
}

/// Accounting commands (topics `sink.<target>.commands.v1`) and their results
/// (`sink.results.v1`), package `nopbridge.commands.v1`.
pub mod commands {
    pub mod v1 {
        #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
        tonic::include_proto!("nopbridge.commands.v1");
    }
}

/// Control API, package `nopbridge.control.v1`.
pub mod control {
    pub mod v1 {
        #![allow(clippy::doc_lazy_continuation)]
        tonic::include_proto!("nopbridge.control.v1");
    }
}

/// The encoded `FileDescriptorSet` of every nopbridge proto file (with its imports), for
/// server reflection and for consumers that decode events dynamically.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/nopbridge_descriptor.binpb"));

pub use prost::Message;
pub use prost_types::Timestamp;
