//! Runs one service by name exactly as its own binary does (tests need one binary path for
//! all four): `nb-service transform --config FILE`.
use nopbridge_runtime::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let name = std::env::args().nth(1).unwrap_or_default();
    let path = config::config_path();
    macro_rules! run {
        ($krate:ident) => {{
            let cfg: $krate::Config = config::load(path)?;
            let _t = telemetry::init($krate::NAME, &cfg.telemetry)?;
            $krate::run(cfg, shutdown::on_signal()).await?
        }};
    }
    match name.as_str() {
        "ingest" => run!(nopbridge_ingest),
        "transform" => run!(nopbridge_transform),
        "connector-sink" => run!(nopbridge_connector_sink),
        "reconciler" => run!(nopbridge_reconciler),
        other => anyhow::bail!(
            "unknown service {other:?}; one of ingest, transform, connector-sink, reconciler"
        ),
    }
    Ok(())
}
