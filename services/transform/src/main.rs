use nopbridge_runtime::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg: nopbridge_transform::Config = config::load(config::config_path())?;
    let _telemetry = telemetry::init(nopbridge_transform::NAME, &cfg.telemetry)?;
    nopbridge_transform::run(cfg, shutdown::on_signal()).await?;
    Ok(())
}
