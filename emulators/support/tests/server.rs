//! The accept loop over plain TCP and TLS: dropped connections, client certificates.

use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use nopbridge_emu_support::{serve, DropConnection, PeerCertificate, TlsMaterial};
use tokio::net::TcpListener;
use tokio::sync::watch;

async fn who(req: Request) -> Response {
    match req.extensions().get::<PeerCertificate>() {
        Some(p) => format!("cert:{}", p.0.len()).into_response(),
        None => "anonymous".into_response(),
    }
}

async fn drop_me() -> Response {
    let mut r = StatusCode::OK.into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

fn router() -> Router {
    Router::new()
        .route("/who", get(who))
        .route("/drop", get(drop_me))
}

async fn start(tls: Option<&TlsMaterial>) -> anyhow::Result<(String, watch::Sender<bool>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let acceptor = match tls {
        Some(m) => Some(m.acceptor(true)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tokio::spawn(serve(listener, router(), acceptor, rx));
    Ok((format!("{scheme}://{addr}"), tx))
}

#[tokio::test]
async fn a_dropped_response_closes_the_connection_without_an_answer() -> anyhow::Result<()> {
    let (base, _stop) = start(None).await?;
    let client = reqwest::Client::new();
    assert!(client.get(format!("{base}/drop")).send().await.is_err());
    let ok = client
        .get(format!("{base}/who"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(ok, "anonymous");
    Ok(())
}

#[tokio::test]
async fn tls_with_an_issued_client_certificate_is_seen_by_the_handler() -> anyhow::Result<()> {
    let material = TlsMaterial::generate("test")?;
    let (base, _stop) = start(Some(&material)).await?;
    let ca = reqwest::Certificate::from_pem(material.ca_pem().as_bytes())?;
    let anonymous = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .timeout(Duration::from_secs(10))
        .build()?;
    assert_eq!(
        anonymous
            .get(format!("{base}/who"))
            .send()
            .await?
            .text()
            .await?,
        "anonymous"
    );
    let identity = material.issue_client("connector-1")?;
    let with_cert = reqwest::Client::builder()
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(
            identity.combined_pem().as_bytes(),
        )?)
        .build()?;
    let text = with_cert
        .get(format!("{base}/who"))
        .send()
        .await?
        .text()
        .await?;
    assert!(text.starts_with("cert:"), "{text}");
    // A client that does not trust the CA cannot connect at all.
    let untrusting = reqwest::Client::new();
    assert!(untrusting.get(format!("{base}/who")).send().await.is_err());
    Ok(())
}

#[tokio::test]
async fn issued_client_certificates_are_named_and_foreign_ones_are_not() -> anyhow::Result<()> {
    let material = TlsMaterial::generate("test")?;
    let other = TlsMaterial::generate("other")?;
    let id = material.issue_client("gp-connector")?;
    let der = pem_to_der(&id.cert_pem);
    assert_eq!(material.client_name(&der).as_deref(), Some("gp-connector"));
    assert_eq!(other.client_name(&der), None);
    Ok(())
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_default()
}
