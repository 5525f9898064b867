use crate::TestkitError;
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A Kafka-API broker for one test (or the shared one named by `KAFKA_BOOTSTRAP_SERVERS`).
/// A broker this started is stopped when the value is dropped.
pub struct Broker {
    bootstrap: String,
    owned: Option<Owned>,
}

enum Owned {
    Process(Child),
    Container(String),
}

impl Broker {
    pub async fn start() -> Result<Self, TestkitError> {
        if let Some(b) = std::env::var("KAFKA_BOOTSTRAP_SERVERS")
            .ok()
            .filter(|b| !b.trim().is_empty())
        {
            return Ok(Self {
                bootstrap: b,
                owned: None,
            });
        }
        let broker = if let Some(tansu) = find_on_path("tansu") {
            Self::start_tansu(tansu)?
        } else if docker_available() {
            Self::start_docker()?
        } else {
            return Err(TestkitError::NoBroker);
        };
        broker.wait_ready().await?;
        Ok(broker)
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    fn start_tansu(bin: PathBuf) -> Result<Self, TestkitError> {
        let port = free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| TestkitError::Spawn {
                what: "tansu",
                source,
            })?;
        Ok(Self {
            bootstrap: format!("127.0.0.1:{port}"),
            owned: Some(Owned::Process(child)),
        })
    }

    /// Apache Kafka in KRaft mode through the Docker CLI (used only where tansu is absent).
    fn start_docker() -> Result<Self, TestkitError> {
        let port = free_port()?;
        let out = Command::new("docker")
            .args(["run", "-d", "--rm", "-p", &format!("127.0.0.1:{port}:9092")])
            .args([
                "-e",
                &format!("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:{port}"),
            ])
            .arg("apache/kafka:3.9.0")
            .output()
            .map_err(|source| TestkitError::Spawn {
                what: "docker run",
                source,
            })?;
        if !out.status.success() {
            return Err(TestkitError::BrokerNotReady {
                bootstrap: format!("127.0.0.1:{port}"),
                reason: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(Self {
            bootstrap: format!("127.0.0.1:{port}"),
            owned: Some(Owned::Container(id)),
        })
    }

    async fn wait_ready(&self) -> Result<(), TestkitError> {
        let cfg = nopbridge_kafka::KafkaConfig::new(&self.bootstrap);
        nopbridge_kafka::wait_until_ready(&cfg, Duration::from_secs(60))
            .await
            .map_err(|e| TestkitError::BrokerNotReady {
                bootstrap: self.bootstrap.clone(),
                reason: e.to_string(),
            })
    }

    pub fn kafka_config(&self) -> nopbridge_kafka::KafkaConfig {
        nopbridge_kafka::KafkaConfig::new(&self.bootstrap)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        match self.owned.take() {
            // Best effort: the broker holds nothing that outlives the test.
            Some(Owned::Process(mut child)) => {
                let _ = child.kill().and_then(|()| child.wait());
            }
            Some(Owned::Container(id)) => {
                let _ = Command::new("docker").args(["rm", "-f", &id]).output();
            }
            _ => {}
        }
    }
}

fn free_port() -> Result<u16, TestkitError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| TestkitError::Spawn {
            what: "port probe",
            source,
        })
}

fn find_on_path(bin: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(bin)).find(|p| p.is_file())
}

fn docker_available() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
