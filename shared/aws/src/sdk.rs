//! The configuration every AWS adapter (DynamoDB, KMS, S3) is built from: the SDK's usual
//! sources for region, credentials and endpoint (so `AWS_ENDPOINT_URL` points it at an
//! emulator; credentials straight from the environment when it holds them, as in Lambda), and
//! one HTTPS client whose trust store holds only the Amazon Trust Services roots.
//!
//! Why a narrowed trust store: every AWS service endpoint presents a certificate issued under
//! Amazon Trust Services, so trusting its five roots (Amazon Root CA 1–4 and the Starfield
//! Services G2 root they are cross-signed by) loses no endpoint, while a certificate for
//! `dynamodb.<region>.amazonaws.com` mis-issued by any other CA of a system store is refused.
//! It is also start-up time: the system store is read from the bundle and from every file of
//! the certificate directory, and each certificate parsed, when the first client is built —
//! measured at about 40 % of a function's start-up CPU (docs/BENCHMARKS.md).
//! `WARDEN_AWS_TRUST=system` restores the system store, for a TLS-inspecting egress proxy or an
//! endpoint with its own CA.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};

use warden_core::config::AwsTrust;
use warden_core::{Error, Result};

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority - G2, as PEM.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");

/// The SDK configuration with an HTTPS client trusting the roots `trust` names.
pub async fn load(trust: AwsTrust) -> Result<aws_config::SdkConfig> {
    let https = https_client(trust_store(trust))?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https);
    // The default credentials chain tries the environment first. When the environment holds
    // credentials (Lambda puts the role's there), take them directly: the same credentials,
    // without building the chain's other providers at start-up (profile files, an STS client
    // for web identity, container and instance metadata clients).
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    Ok(loader.load().await)
}

/// The root certificates `trust` names.
fn trust_store(trust: AwsTrust) -> TrustStore {
    match trust {
        AwsTrust::AmazonRoots => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES),
        AwsTrust::System => TrustStore::default(),
    }
}

/// The HTTPS client every SDK request goes through, trusting exactly `roots`.
fn https_client(roots: TrustStore) -> Result<SharedHttpClient> {
    let tls = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .map_err(|e| Error::internal("AWS TLS configuration", e))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_shipped_roots_are_the_five_amazon_trust_services_roots_and_all_parse() {
        let ders = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES)
            .collect::<std::result::Result<Vec<_>, _>>()
            .expect("valid PEM");
        assert_eq!(ders.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        assert_eq!(store.add_parsable_certificates(ders), (5, 0));
        let subjects = store
            .roots
            .iter()
            .map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned())
            .collect::<Vec<_>>();
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(
                subjects.iter().any(|s| s.contains(name)),
                "{name} missing from the shipped roots"
            );
        }
    }

    /// A TLS server on loopback presenting a certificate for 127.0.0.1 issued by a private test
    /// CA (`shared/aws/tests/fixtures/tls/`; the CA's key was not kept). It takes one connection and
    /// reports whether an HTTP request arrived over a completed handshake.
    fn private_ca_server() -> (u16, std::sync::mpsc::Receiver<bool>) {
        use std::io::{Read, Write};
        let chain =
            CertificateDer::pem_slice_iter(include_bytes!("../tests/fixtures/tls/server.pem"))
                .collect::<std::result::Result<Vec<_>, _>>()
                .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(include_bytes!(
            "../tests/fixtures/tls/server.key"
        ))
        .unwrap();
        let config = std::sync::Arc::new(
            rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut first = [0u8; 16];
            let request_arrived = matches!(tls.read(&mut first), Ok(n) if n > 0);
            if request_arrived {
                let _ = tls.write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
            let _ = tx.send(request_arrived);
        });
        (port, rx)
    }

    /// Whether a DynamoDB call through `https` reached a server of the private test CA.
    async fn reaches_private_ca_server(https: SharedHttpClient) -> bool {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
        let (port, request_arrived) = private_ca_server();
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https)
            .endpoint_url(format!("https://127.0.0.1:{port}"))
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .build();
        let call = aws_sdk_dynamodb::Client::from_conf(conf)
            .list_tables()
            .send()
            .await;
        assert!(
            call.is_err(),
            "the test server answers no call with success"
        );
        tokio::task::spawn_blocking(move || {
            request_arrived
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("the test server saw a connection")
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn aws_calls_refuse_a_server_whose_certificate_is_not_from_amazon_trust_services() {
        let amazon = trust_store(AwsTrust::AmazonRoots);
        assert!(
            !reaches_private_ca_server(https_client(amazon).unwrap()).await,
            "a request was sent to a server the Amazon roots do not vouch for"
        );
        // The same server is reachable once its CA is trusted: the refusal above is the trust
        // store's doing, not a broken server.
        let private_ca = TrustStore::empty()
            .with_pem_certificate(&include_bytes!("../tests/fixtures/tls/ca.pem")[..]);
        assert!(reaches_private_ca_server(https_client(private_ca).unwrap()).await);
    }
}
