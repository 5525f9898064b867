//! `gp-emulator`: the Dynamics GP integration endpoint emulator as a process.

use clap::Parser;
use nopbridge_emu_dynamics_gp::{spawn, EmulatorConfig};

#[derive(Debug, Parser)]
#[command(
    name = "gp-emulator",
    about = "Stateful Dynamics GP eConnect endpoint emulator (binds 127.0.0.1)"
)]
struct Args {
    /// Port on 127.0.0.1 (overrides the config file; 0 = any free port).
    #[arg(long, env = "GP_EMULATOR_PORT")]
    port: Option<u16>,
    /// TOML file with EmulatorConfig fields.
    #[arg(long, env = "GP_EMULATOR_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Write the CA certificate (PEM) here when TLS is on.
    #[arg(long)]
    ca_out: Option<std::path::PathBuf>,
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
            port: 8092,
            ..EmulatorConfig::default()
        },
    };
    if let Some(port) = args.port {
        config.port = port;
    }
    let companies: Vec<String> = config.companies.iter().map(|c| c.name.clone()).collect();
    let emulator = spawn(config).await?;
    println!("gp-emulator listening on {}", emulator.base_url());
    for c in &companies {
        println!(
            "eConnect endpoint: {}/CreateTransactionEntity",
            emulator.econnect_url(c)
        );
    }
    if let (Some(path), Some(pem)) = (&args.ca_out, emulator.handle().ca_pem()) {
        std::fs::write(path, pem)?;
        println!("CA certificate written to {}", path.display());
    }
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
