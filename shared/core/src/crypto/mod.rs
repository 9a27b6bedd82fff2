//! Cryptographic building blocks on `aws-lc-rs` (already in the build through the SDK's TLS):
//! the envelope format every encrypted value uses ([`envelope`]) and per-installation secrets
//! kept wrapped in the table ([`server_secret`]).

pub mod envelope;
pub mod sealed_stream;
pub mod server_secret;
pub mod user_keys;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random identifier: 128 bits, lower-case hex.
pub fn random_id() -> crate::Result<String> {
    Ok(hex(&random_bytes::<16>()?))
}

/// Fresh random bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> crate::Result<[u8; N]> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|e| crate::Error::internal("random source failed", e))?;
    Ok(b)
}
