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

use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};

use crate::config::AwsTrust;
use crate::{Error, Result};

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority - G2, as PEM.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");

/// The SDK configuration with an HTTPS client trusting the roots `trust` names.
pub(super) async fn load(trust: AwsTrust) -> Result<aws_config::SdkConfig> {
    let roots = match trust {
        AwsTrust::AmazonRoots => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES),
        AwsTrust::System => TrustStore::default(),
    };
    let tls = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .map_err(|e| Error::Internal(format!("AWS TLS configuration: {e}")))?;
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https();
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
}
