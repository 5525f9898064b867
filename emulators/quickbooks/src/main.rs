//! `qbo-emulator`: the QuickBooks Online emulator as a process (demo stack, manual runs).

use clap::Parser;
use nopbridge_emu_quickbooks::{spawn, EmulatorConfig};

#[derive(Debug, Parser)]
#[command(
    name = "qbo-emulator",
    about = "Stateful QuickBooks Online v3 emulator (binds 127.0.0.1)"
)]
struct Args {
    /// Port on 127.0.0.1 (overrides the config file; 0 = any free port).
    #[arg(long, env = "QBO_EMULATOR_PORT")]
    port: Option<u16>,
    /// TOML file with EmulatorConfig fields.
    #[arg(long, env = "QBO_EMULATOR_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Emulated seconds per real second (overrides the config file).
    #[arg(long)]
    time_scale: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => EmulatorConfig::from_toml(&std::fs::read_to_string(path)?)?,
        None => EmulatorConfig {
            port: 8089,
            ..EmulatorConfig::default()
        },
    };
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(scale) = args.time_scale {
        config.time_scale = scale;
    }
    let emulator = spawn(config).await?;
    println!("qbo-emulator listening on {}", emulator.base_url());
    println!(
        "company API: {}",
        emulator.company_url(&emulator.default_realm())
    );
    println!("token endpoint: {}", emulator.token_url());
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
