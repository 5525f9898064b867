//! Creates every nopbridge topic that is missing (idempotent):
//! `nopbridge-topics --bootstrap 127.0.0.1:9092 [--partitions 3]`; `--list` prints them.
use clap::Parser;
use nopbridge_kafka::{ensure_topics, KafkaConfig};
use nopbridge_runtime::topics;

#[derive(Parser)]
struct Args {
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    bootstrap: String,
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Print the topics instead of creating them.
    #[arg(long)]
    list: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let specs = topics::all(args.partitions);
    if args.list {
        specs
            .iter()
            .for_each(|s| println!("{}\t{} partitions", s.name, s.partitions));
        return Ok(());
    }
    ensure_topics(&KafkaConfig::new(&args.bootstrap), &specs).await?;
    println!("{} topics present on {}", specs.len(), args.bootstrap);
    Ok(())
}
