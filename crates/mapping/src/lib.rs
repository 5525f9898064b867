//! Pure, synchronous mapping from canonical store events to target-neutral accounting
//! commands (issue 5). No I/O, no async, no Kafka: the transform service wraps
//! [`Mapper::map`] in consume → map → produce → store offset, and sends every
//! [`MappingError`] to the DLQ with its reason.
//!
//! ```no_run
//! use nopbridge_mapping::{CanonicalEvent, Mapper};
//! # fn order() -> nopbridge_proto::events::v1::Order { Default::default() }
//! let mapper = Mapper::from_files(&["config/connections/qbo-realm-1.yaml"])?;
//! for result in mapper.map(&CanonicalEvent::Order(Box::new(order()))) {
//!     match result {
//!         Ok(cmd) => { /* produce to sink.<target>.commands.v1, key cmd.connection_id */ }
//!         Err(e) => { /* produce to dlq.transform.v1 with e.to_string() */ }
//!     }
//! }
//! # Ok::<(), nopbridge_mapping::ConfigError>(())
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod address;
pub mod balance;
mod catalog_events;
pub mod config;
pub mod currency_policy;
mod customer;
pub mod dates;
mod documents;
mod dynamics_gp;
pub mod error;
pub mod fitting;
mod mapper;
mod order_events;
mod payment_events;
mod sale;
pub mod status;
mod summary;
mod write_back;

pub use config::{load_file, load_str, ConnectionConfig};
pub use error::{Breakdown, ConfigError, ErrorContext, MappingError};
pub use mapper::{command_topic, CanonicalEvent, Connection, Mapper};
pub use write_back::order_note_command;

/// Protobuf types: the canonical events (from `nopbridge-proto`) and the commands.
pub mod pb {
    /// `nopbridge.events.v1`.
    pub use nopbridge_proto::events::v1 as events;

    /// `nopbridge.commands.v1`.
    pub use nopbridge_proto::commands::v1 as commands;
}
