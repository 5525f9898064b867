//! `nop-emulator`: serves the nopCommerce emulator on 127.0.0.1 for the demo stack.

use anyhow::Context;
use clap::Parser;
use nopbridge_emu_nopcommerce::{spawn, EmulatorConfig, SignatureEncoding};

#[derive(Debug, Parser)]
#[command(
    name = "nop-emulator",
    about = "Stateful nopCommerce 4.70 store emulator"
)]
struct Args {
    /// TOML file with an EmulatorConfig; flags override it.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, env = "NOP_EMULATOR_PORT")]
    port: Option<u16>,
    /// Seed of the data generator.
    #[arg(long)]
    seed: Option<u64>,
    /// Orders generated at start-up.
    #[arg(long)]
    orders: Option<usize>,
    /// Webhook receiver URL.
    #[arg(long, env = "NOP_EMULATOR_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Webhook HMAC secret.
    #[arg(long, env = "NOP_EMULATOR_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Signature encoding: hex or base64.
    #[arg(long)]
    webhook_encoding: Option<String>,
    /// Live demo traffic: new orders per minute.
    #[arg(long)]
    live_orders_per_minute: Option<f64>,
    /// Live demo traffic: life-cycle steps (pay, ship, deliver, refund, cancel) per minute.
    #[arg(long)]
    live_actions_per_minute: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<EmulatorConfig>(&text)
                .with_context(|| format!("parsing {}", path.display()))?
        }
        None => EmulatorConfig::default(),
    };
    if let Some(p) = args.port {
        config.port = p;
    }
    if let Some(s) = args.seed {
        config.seed = s;
    }
    if let Some(n) = args.orders {
        config.orders = n;
    }
    if let Some(url) = args.webhook_url {
        config.webhook.url = Some(url);
    }
    if let Some(secret) = args.webhook_secret {
        config.webhook.secret = secret;
    }
    if let Some(enc) = args.webhook_encoding.as_deref() {
        config.webhook.encoding = match enc {
            "hex" => SignatureEncoding::Hex,
            "base64" => SignatureEncoding::Base64,
            other => anyhow::bail!("unknown webhook encoding {other} (hex or base64)"),
        };
    }
    if let Some(n) = args.live_orders_per_minute {
        config.live.orders_per_minute = n;
    }
    if let Some(n) = args.live_actions_per_minute {
        config.live.actions_per_minute = n;
    }
    let started = std::time::Instant::now();
    let emu = spawn(config).await?;
    println!(
        "nop-emulator listening on {} ({} orders in {:?}); Web API Backend at {}/api-backend",
        emu.base_url(),
        emu.handle().order_count(),
        started.elapsed(),
        emu.base_url()
    );
    emu.wait().await;
    Ok(())
}
