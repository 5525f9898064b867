use nopbridge_runtime::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg: nopbridge_reconciler::Config = config::load(config::config_path())?;
    let _telemetry = telemetry::init(nopbridge_reconciler::NAME, &cfg.telemetry)?;
    nopbridge_reconciler::run(cfg, shutdown::on_signal()).await?;
    Ok(())
}
