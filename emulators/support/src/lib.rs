//! Plumbing shared by the KashFlow and Dynamics GP emulators: a scalable emulated clock,
//! fault knobs (latency, 429/5xx bursts, dropped connections, forced credential expiry), an
//! accept loop that can close a connection without answering, and TLS material (a private
//! CA, a server certificate and client certificates) for HTTPS and mutual TLS.

pub mod clock;
pub mod faults;
pub mod server;
pub mod tls;

pub use clock::Clock;
pub use faults::{DropConnection, FaultConfig, FaultState, InjectedFault};
pub use server::{serve, PeerCertificate};
pub use tls::{ClientIdentity, TlsError, TlsMaterial};
