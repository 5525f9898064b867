use nopbridge_runtime::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg: nopbridge_connector_sink::Config = config::load(config::config_path())?;
    let _telemetry = telemetry::init(nopbridge_connector_sink::NAME, &cfg.telemetry)?;
    nopbridge_connector_sink::run(cfg, shutdown::on_signal()).await?;
    Ok(())
}
