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

impl commands::v1::Command {
    /// The command's kind as results carry it (`CommandResult.command_kind`) and the ledger
    /// keys commands without an order by it: "post_sale", "apply_payment", ...
    pub fn kind_name(&self) -> &'static str {
        use commands::v1::command::Body;
        match &self.body {
            Some(Body::UpsertCustomer(_)) => "upsert_customer",
            Some(Body::UpsertItem(_)) => "upsert_item",
            Some(Body::PostSale(_)) => "post_sale",
            Some(Body::ApplyPayment(_)) => "apply_payment",
            Some(Body::PostRefund(_)) => "post_refund",
            Some(Body::VoidDocument(_)) => "void_document",
            Some(Body::AdjustStock(_)) => "adjust_stock",
            Some(Body::StoreWriteBack(_)) => "store_write_back",
            None => "unknown",
        }
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
