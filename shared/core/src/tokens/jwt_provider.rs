//! A `jsonwebtoken` crypto provider that parses each RSA signing key once.
//!
//! The crate's aws-lc provider parses the private key (`RsaKeyPair::from_der`) at every
//! signature, which costs more than the signature itself. Its `CryptoProvider` takes a signer
//! factory — a plain function, not a closure — so the parsed keys live in a process-wide cache
//! keyed by the SHA-256 of the key's DER (bounded: the signing keyset holds a handful of keys).
//! RS256 signing goes through the cache; everything else — verification, other algorithms, the
//! JWK utilities — is the crate's own aws-lc provider. Signatures are the stock provider's, bit
//! for bit (RSASSA-PKCS1-v1_5 is deterministic): see the tests.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, aws_lc::DEFAULT_PROVIDER};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

/// Parsed keys kept at most (a rotation adds one every so often; older ones are dropped).
const MAX_KEYS: usize = 16;

static PARSED: LazyLock<Mutex<HashMap<[u8; 32], Arc<RsaKeyPair>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Makes [`PROVIDER`] the process's `jsonwebtoken` provider (once; every keyset load calls it).
/// Should something else have installed a provider first, that one stays: tokens are the same,
/// only slower to sign.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::warn!("another jsonwebtoken crypto provider was installed first");
        }
    });
}

/// The provider: install it once per process ([`install`]), or call its factories directly.
pub static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: signer,
    verifier_factory: DEFAULT_PROVIDER.verifier_factory,
    key_utils: DEFAULT_PROVIDER.key_utils.clone(),
});

struct CachedRs256(Arc<RsaKeyPair>);

impl Signer<Vec<u8>> for CachedRs256 {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(signature::Error::from_source)?;
        Ok(sig)
    }
}

impl JwtSigner for CachedRs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::RS256 {
        return (DEFAULT_PROVIDER.signer_factory)(algorithm, key);
    }
    let mut id = [0u8; 32];
    id.copy_from_slice(digest(&SHA256, key.as_bytes()).as_ref());
    let cached = PARSED.lock().ok().and_then(|p| p.get(&id).cloned());
    let pair = match cached {
        Some(pair) => pair,
        None => {
            let pair = Arc::new(
                RsaKeyPair::from_der(key.as_bytes())
                    .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?,
            );
            if let Ok(mut p) = PARSED.lock() {
                if p.len() >= MAX_KEYS {
                    p.clear();
                }
                p.insert(id, pair.clone());
            }
            pair
        }
    };
    Ok(Box::new(CachedRs256(pair)))
}

/// The crate's key for an RSA private key held as PKCS#8 (as Warden stores its signing keys):
/// the crate reads the inner `RSAPrivateKey` (PKCS#1), which PKCS#8 wraps in an OCTET STRING.
pub fn rsa_encoding_key(pkcs8: &[u8]) -> Result<EncodingKey> {
    let bad = || ErrorKind::InvalidRsaKey("not a PKCS#8 RSA private key".into());
    // PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE, privateKey OCTET STRING }
    let (tag, body, _) = der_element(pkcs8).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad().into());
    }
    let (_, _, rest) = der_element(body)
        .filter(|(t, _, _)| *t == 0x02)
        .ok_or_else(bad)?;
    let (_, _, rest) = der_element(rest)
        .filter(|(t, _, _)| *t == 0x30)
        .ok_or_else(bad)?;
    let (_, inner, _) = der_element(rest)
        .filter(|(t, _, _)| *t == 0x04)
        .ok_or_else(bad)?;
    Ok(EncodingKey::from_rsa_der(inner))
}

/// One DER element of `input`: its tag, its contents and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;

    /// A fresh RSA-2048 key, stored as Warden stores its signing keys (PKCS#8).
    fn key() -> (EncodingKey, jsonwebtoken::DecodingKey) {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_der()
            .unwrap();
        (
            rsa_encoding_key(der.as_ref()).unwrap(),
            jsonwebtoken::DecodingKey::from_rsa_der(public.as_ref()),
        )
    }

    #[test]
    fn a_key_that_is_not_pkcs8_is_refused() {
        assert!(rsa_encoding_key(b"").is_err());
        assert!(rsa_encoding_key(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(rsa_encoding_key(&[0x30, 0x82, 0xff]).is_err());
    }

    #[test]
    fn the_cached_signer_signs_as_the_stock_provider_does_and_its_signatures_verify() {
        let (encoding, decoding) = key();
        let msg = b"header.claims";
        let stock = (DEFAULT_PROVIDER.signer_factory)(&Algorithm::RS256, &encoding)
            .unwrap()
            .try_sign(msg)
            .unwrap();
        for _ in 0..2 {
            let cached = (PROVIDER.signer_factory)(&Algorithm::RS256, &encoding)
                .unwrap()
                .try_sign(msg)
                .unwrap();
            assert_eq!(cached, stock);
            let verifier = (PROVIDER.verifier_factory)(&Algorithm::RS256, &decoding).unwrap();
            assert!(verifier.verify(msg, &cached).is_ok());
        }
    }

    #[test]
    fn other_algorithms_are_the_stock_providers() {
        let key = EncodingKey::from_secret(b"k").unwrap();
        let signer = (PROVIDER.signer_factory)(&Algorithm::HS256, &key).unwrap();
        assert_eq!(signer.algorithm(), Algorithm::HS256);
        assert!((PROVIDER.signer_factory)(&Algorithm::RS256, &key).is_err());
    }
}
