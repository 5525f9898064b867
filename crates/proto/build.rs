//! Compiles proto/ with protox (pure Rust), so building needs no protoc on the machine.
use prost::Message;
use std::{env, fs, path::PathBuf};

const FILES: &[&str] = &[
    "nopbridge/events/v1/common.proto",
    "nopbridge/events/v1/customer.proto",
    "nopbridge/events/v1/product.proto",
    "nopbridge/events/v1/order.proto",
    "nopbridge/events/v1/payment.proto",
    "nopbridge/events/v1/shipment.proto",
    "nopbridge/events/v1/return_request.proto",
    "nopbridge/control/v1/control.proto",
    "nopbridge/control/v1/ledger.proto",
    "nopbridge/control/v1/ingest.proto",
    "nopbridge/control/v1/summaries.proto",
    "nopbridge/commands/v1/commands.proto",
    "nopbridge/commands/v1/results.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let fds = protox::compile(FILES, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("nopbridge_descriptor.binpb"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
