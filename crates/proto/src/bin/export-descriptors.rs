//! Writes the descriptor set to a file (default proto/nopbridge.binpb) for downstream
//! consumers: `cargo run -p nopbridge-proto --bin export-descriptors -- PATH`.
fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "proto/nopbridge.binpb".into());
    std::fs::write(&path, nopbridge_proto::FILE_DESCRIPTOR_SET)?;
    println!(
        "wrote {} bytes to {path}",
        nopbridge_proto::FILE_DESCRIPTOR_SET.len()
    );
    Ok(())
}
