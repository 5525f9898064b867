//! The four service binaries: they start from config, answer gRPC health, reflection and
//! Status with a real gRPC client, stop cleanly on SIGTERM, and refuse bad config naming the key.
use anyhow::{bail, Context, Result};
use nopbridge_proto::control::v1::{
    control_client::ControlClient, PauseRequest, ResumeRequest, StatusRequest,
};
use nopbridge_testkit::{unique, Broker, TestDb};
use std::{
    net::TcpListener,
    process::{Child, Command, Output, Stdio},
    time::Duration,
};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};
use tonic_reflection::pb::v1::{
    server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse, ServerReflectionRequest,
};

const SERVICES: [&str; 4] = ["ingest", "transform", "connector-sink", "reconciler"];

fn service(name: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nb-service"));
    c.arg(name)
        .env_remove("NOPBRIDGE_CONFIG")
        .env("RUST_LOG", "warn");
    c
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn connect(port: u16, child: &mut Child) -> Result<Channel> {
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("service exited early with {status}");
        }
        match Channel::from_shared(format!("http://127.0.0.1:{port}"))?
            .connect()
            .await
        {
            Ok(ch) => return Ok(ch),
            Err(_) if tokio::time::Instant::now() < end => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn reflected_services(ch: Channel) -> Result<Vec<String>> {
    let mut client = ServerReflectionClient::new(ch);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await?
        .into_inner();
    let resp = stream.next().await.context("no reflection response")??;
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            Ok(l.service.into_iter().map(|s| s.name).collect())
        }
        other => bail!("unexpected reflection response {other:?}"),
    }
}

/// A plain HTTP/1.0 GET, enough for a Prometheus endpoint.
async fn http_get(port: u16, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    Ok(body)
}

fn sigterm_and_wait(mut child: Child, within: Duration) -> Result<std::process::ExitStatus> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let end = std::time::Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(s);
        }
        if std::time::Instant::now() > end {
            child.kill()?;
            bail!("did not exit within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_serves_health_reflection_status_and_stops_on_sigterm() -> Result<()> {
    let broker = Broker::start().await?;
    let db = TestDb::create().await?;
    for name in SERVICES {
        let port = free_port()?;
        let metrics_port = free_port()?;
        let group = unique(name);
        let mut cmd = service(name);
        cmd.env(
            "NOPBRIDGE_TELEMETRY__METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        );
        cmd.env("NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS", broker.bootstrap())
            .env("NOPBRIDGE_GRPC__LISTEN", format!("127.0.0.1:{port}"))
            .env("NOPBRIDGE_CONSUMER__GROUP_ID", &group)
            .stdin(Stdio::null());
        if name == "ingest" {
            cmd.env("NOPBRIDGE_SERVICE__WEBHOOK_SECRET", "test-secret");
        }
        if name == "reconciler" {
            cmd.env("NOPBRIDGE_SERVICE__DATABASE_URL", &db.url);
        }
        if name == "transform" {
            cmd.env(
                "NOPBRIDGE_SERVICE__MAPPING_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../config/mapping"),
            );
        }
        let mut child = cmd.spawn()?;
        let ch = connect(port, &mut child).await?;

        let health = HealthClient::new(ch.clone())
            .check(HealthCheckRequest {
                service: "nopbridge.control.v1.Control".into(),
            })
            .await?
            .into_inner();
        assert_eq!(health.status(), ServingStatus::Serving, "{name} health");

        let listed = reflected_services(ch.clone()).await?;
        for expected in [
            "grpc.health.v1.Health",
            "nopbridge.control.v1.Control",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(
                listed.iter().any(|s| s == expected),
                "{name}: reflection lacks {expected}: {listed:?}"
            );
        }

        let mut control = ControlClient::new(ch);
        let status = control.status(StatusRequest {}).await?.into_inner();
        assert_eq!(status.service, name);
        assert_eq!(status.consumer_group, group);
        assert!(!status.paused);
        control
            .pause(PauseRequest {
                connection_id: String::new(),
            })
            .await?;
        assert!(
            control.status(StatusRequest {}).await?.into_inner().paused,
            "{name} pause"
        );
        let metrics = http_get(metrics_port, "/metrics").await?;
        assert!(
            metrics.contains(&format!("nopbridge_paused{{service=\"{name}\"}} 1")),
            "{name} /metrics: {metrics}"
        );
        control
            .resume(ResumeRequest {
                connection_id: String::new(),
            })
            .await?;
        assert!(
            !control.status(StatusRequest {}).await?.into_inner().paused,
            "{name} resume"
        );

        let exit = sigterm_and_wait(child, Duration::from_secs(30))?;
        assert!(exit.success(), "{name} exit after SIGTERM: {exit}");
    }
    Ok(())
}

fn run_to_exit(mut cmd: Command) -> Result<Output> {
    Ok(cmd.stdin(Stdio::null()).output()?)
}

#[test]
fn unknown_key_in_file_fails_at_start_naming_the_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("transform.toml");
    std::fs::write(
        &path,
        "[kafka]\nbootstrap_servers = \"127.0.0.1:9\"\nlinger_msec = 5\n",
    )?;
    let mut cmd = service("transform");
    cmd.arg("--config").arg(&path);
    let out = run_to_exit(cmd)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("linger_msec"),
        "message does not name the key: {err}"
    );
    assert!(
        err.contains("kafka"),
        "message does not name the section: {err}"
    );
    Ok(())
}

#[test]
fn unknown_key_in_environment_fails_at_start_naming_the_key() -> Result<()> {
    let mut cmd = service("reconciler");
    cmd.env("NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
        .env("NOPBRIDGE_GRPC__LISTN", "127.0.0.1:1");
    let out = run_to_exit(cmd)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("listn"),
        "message does not name the key: {err}"
    );
    Ok(())
}

#[test]
fn missing_required_secret_fails_at_start_naming_the_key() -> Result<()> {
    let mut cmd = service("ingest");
    cmd.env("NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
        .env_remove("NOPBRIDGE_SERVICE__WEBHOOK_SECRET");
    let out = run_to_exit(cmd)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("service.webhook_secret"),
        "message does not name the key: {err}"
    );
    Ok(())
}

#[test]
fn secrets_are_never_printed() -> Result<()> {
    // A config error elsewhere must not echo the secret that was given.
    let mut cmd = service("ingest");
    cmd.env("NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS", "")
        .env("NOPBRIDGE_SERVICE__WEBHOOK_SECRET", "s3cr3t-value-xyz");
    let out = run_to_exit(cmd)?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(all.contains("kafka.bootstrap_servers"), "{all}");
    assert!(!all.contains("s3cr3t-value-xyz"), "secret leaked: {all}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_requires_the_configured_token_but_health_stays_open() -> Result<()> {
    let broker = Broker::start().await?;
    let port = free_port()?;
    let db = TestDb::create().await?;
    let mut cmd = service("reconciler");
    cmd.env("NOPBRIDGE_SERVICE__DATABASE_URL", &db.url)
        .env("NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS", broker.bootstrap())
        .env("NOPBRIDGE_GRPC__LISTEN", format!("127.0.0.1:{port}"))
        .env("NOPBRIDGE_GRPC__AUTH_TOKEN", "t0ken-abc")
        .env("NOPBRIDGE_CONSUMER__GROUP_ID", unique("reconciler"))
        .stdin(Stdio::null());
    let mut child = cmd.spawn()?;
    let ch = connect(port, &mut child).await?;

    let health = HealthClient::new(ch.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    assert_eq!(health.into_inner().status(), ServingStatus::Serving);

    let mut control = ControlClient::new(ch.clone());
    let denied = control
        .status(StatusRequest {})
        .await
        .err()
        .context("status without a token was allowed")?;
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);
    assert!(denied.message().contains("Bearer"), "{}", denied.message());

    let mut req = tonic::Request::new(StatusRequest {});
    req.metadata_mut()
        .insert("authorization", "Bearer wrong".parse()?);
    assert_eq!(
        control.status(req).await.err().map(|e| e.code()),
        Some(tonic::Code::Unauthenticated)
    );

    let mut req = tonic::Request::new(StatusRequest {});
    req.metadata_mut()
        .insert("authorization", "Bearer t0ken-abc".parse()?);
    assert_eq!(
        control.status(req).await?.into_inner().service,
        "reconciler"
    );

    // The reconciler has nothing to reload: said plainly, not a silent success.
    let mut req = tonic::Request::new(nopbridge_proto::control::v1::ReloadRequest {});
    req.metadata_mut()
        .insert("authorization", "Bearer t0ken-abc".parse()?);
    assert_eq!(
        control.reload(req).await.err().map(|e| e.code()),
        Some(tonic::Code::Unimplemented)
    );

    let exit = sigterm_and_wait(child, Duration::from_secs(30))?;
    assert!(exit.success());
    Ok(())
}
