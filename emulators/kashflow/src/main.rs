//! `kashflow-emulator`: the KashFlow REST v2 emulator as a process (demo stack, manual runs).

use clap::Parser;
use nopbridge_emu_kashflow::{spawn, EmulatorConfig};

#[derive(Debug, Parser)]
#[command(
    name = "kashflow-emulator",
    about = "Stateful KashFlow REST v2 emulator (binds 127.0.0.1)"
)]
struct Args {
    /// Port on 127.0.0.1 (overrides the config file; 0 = any free port).
    #[arg(long, env = "KASHFLOW_EMULATOR_PORT")]
    port: Option<u16>,
    /// TOML file with EmulatorConfig fields.
    #[arg(long, env = "KASHFLOW_EMULATOR_CONFIG")]
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
            port: 8091,
            ..EmulatorConfig::default()
        },
    };
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(scale) = args.time_scale {
        config.time_scale = scale;
    }
    let users: Vec<String> = config.accounts.iter().map(|a| a.username.clone()).collect();
    let emulator = spawn(config).await?;
    println!("kashflow-emulator listening on {}", emulator.base_url());
    println!("REST API: {}", emulator.api_url());
    println!("accounts: {}", users.join(", "));
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
