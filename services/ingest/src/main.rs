use nopbridge_runtime::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg: nopbridge_ingest::Config = config::load(config::config_path())?;
    let _telemetry = telemetry::init(nopbridge_ingest::NAME, &cfg.telemetry)?;
    nopbridge_ingest::run(cfg, shutdown::on_signal()).await?;
    Ok(())
}
