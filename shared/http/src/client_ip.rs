//! The client's IP address, from the transport and never from a spoofable header unless the
//! operator says how many proxies in front are trusted.
//!
//! Sources, in order: the [`SourceIp`] extension the Lambda entry point sets from API Gateway's
//! `requestContext.http.sourceIp` (or `warden-local` from the socket); then, only with
//! `WARDEN_TRUSTED_PROXY_HOPS = n > 0`, the n-th address from the right of `X-Forwarded-For`.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::{Error, Problem};

/// The transport-level peer address, inserted as a request extension by the entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp(pub IpAddr);

/// How many `X-Forwarded-For` hops to trust; inserted as an extension by the router.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustedHops(pub usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The address `hops` entries from the right of the `X-Forwarded-For` chain (1 = the address the
/// nearest trusted proxy saw).
pub fn from_forwarded(header: &str, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    let chain: Vec<&str> = header.split(',').map(str::trim).collect();
    chain
        .len()
        .checked_sub(hops)
        .and_then(|i| chain.get(i))
        .and_then(|s| s.parse().ok())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let hops = parts
            .extensions
            .get::<TrustedHops>()
            .copied()
            .unwrap_or_default();
        if hops.0 > 0 {
            let chain = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",");
            if let Some(ip) = from_forwarded(&chain, hops.0) {
                return Ok(ClientIp(ip));
            }
        }
        parts
            .extensions
            .get::<SourceIp>()
            .map(|s| ClientIp(s.0))
            .ok_or_else(|| Problem(Error::Internal("no source IP on the request".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_chain_is_read_from_the_right() {
        let h = "203.0.113.9, 198.51.100.1, 10.0.0.2";
        assert_eq!(from_forwarded(h, 0), None);
        assert_eq!(from_forwarded(h, 1), "10.0.0.2".parse().ok());
        assert_eq!(from_forwarded(h, 3), "203.0.113.9".parse().ok());
        assert_eq!(from_forwarded(h, 4), None);
        assert_eq!(from_forwarded("garbage", 1), None);
    }
}
