//! The `BreachedPasswords` port: has this password appeared in a breach?
//!
//! Adapters: [`OfflineList`] (the shipped list; the default, needs no network) and [`HibpRange`]
//! (the Have I Been Pwned range API with k-anonymity: only the first 5 hex characters of the
//! password's SHA-1 leave the process, `Add-Padding: true` hides the response size, padded rows
//! with count 0 are ignored, each call has a timeout, and prefix responses are cached with a TTL).
//!
//! Callers decide how to fail: registration and password change fail closed (503) when the
//! check is unavailable; login fails soft (it succeeds and flags the account).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::digest;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::clock::{Clock, Timestamp};
use crate::secret::SecretString;
use crate::{Error, Result};

#[async_trait]
pub trait BreachedPasswords: Send + Sync + 'static {
    /// How many times the (normalised) password was seen in breaches; 0 = not known.
    async fn times_seen(&self, password: &SecretString) -> Result<u64>;
}

/// The shipped list of common passwords.
#[derive(Debug, Default, Clone, Copy)]
pub struct OfflineList;

#[async_trait]
impl BreachedPasswords for OfflineList {
    async fn times_seen(&self, password: &SecretString) -> Result<u64> {
        Ok(u64::from(super::policy::is_common(password.expose())))
    }
}

/// Upper-case hex SHA-1 of the password, split into the 5-character prefix and the rest.
pub fn sha1_prefix_suffix(password: &str) -> (String, String) {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    (hex[..5].to_string(), hex[5..].to_string())
}

/// Parses a range response: `SUFFIX:COUNT` lines; padding rows (count 0) are dropped.
pub fn parse_range(body: &str) -> HashMap<String, u64> {
    body.lines()
        .filter_map(|l| {
            let (suffix, count) = l.trim().split_once(':')?;
            let count: u64 = count.trim().parse().ok()?;
            (count > 0 && suffix.len() == 35).then(|| (suffix.to_ascii_uppercase(), count))
        })
        .collect()
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<bytes::Bytes>>;

pub struct HibpRange {
    client: HttpsClient,
    base_url: String,
    timeout: Duration,
    cache_ttl: Duration,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, CachedRange>>,
}

/// A fetched range (suffix → count) and when it was fetched.
type CachedRange = (Timestamp, Arc<HashMap<String, u64>>);

impl HibpRange {
    /// `base_url` is `https://api.pwnedpasswords.com` in production (plain http is accepted for
    /// a loopback test server).
    pub fn new(
        base_url: &str,
        timeout: Duration,
        cache_ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .map_err(|e| Error::Internal(format!("TLS roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HibpRange {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
            cache_ttl,
            clock,
            cache: Mutex::new(HashMap::new()),
        })
    }

    async fn fetch(&self, prefix: &str) -> Result<Arc<HashMap<String, u64>>> {
        let now = self.clock.now();
        if let Some((at, rows)) = self.cache.lock().expect("cache lock").get(prefix)
            && now.since(*at) < self.cache_ttl
        {
            return Ok(rows.clone());
        }
        let req = http::Request::get(format!("{}/range/{prefix}", self.base_url))
            .header("Add-Padding", "true")
            .header("User-Agent", "warden-breach-check")
            .body(Empty::new())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let unavailable = |e: &dyn std::fmt::Display| Error::unavailable("breach check", e);
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| unavailable(&"timed out"))?
            .map_err(|e| unavailable(&e))?;
        if !resp.status().is_success() {
            return Err(unavailable(&format!("status {}", resp.status())));
        }
        let body = tokio::time::timeout(self.timeout, resp.into_body().collect())
            .await
            .map_err(|_| unavailable(&"timed out"))?
            .map_err(|e| unavailable(&e))?
            .to_bytes();
        let rows = Arc::new(parse_range(&String::from_utf8_lossy(&body)));
        let mut cache = self.cache.lock().expect("cache lock");
        // Bound the cache: drop stale entries when it grows.
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| now.since(*at) < self.cache_ttl);
        }
        cache.insert(prefix.to_string(), (now, rows.clone()));
        Ok(rows)
    }
}

#[async_trait]
impl BreachedPasswords for HibpRange {
    async fn times_seen(&self, password: &SecretString) -> Result<u64> {
        let (prefix, suffix) = sha1_prefix_suffix(password.expose());
        let rows = self.fetch(&prefix).await?;
        Ok(rows.get(&suffix).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_splits_into_a_five_character_prefix() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        let (p, s) = sha1_prefix_suffix("password");
        assert_eq!(p, "5BAA6");
        assert_eq!(s, "1E4C9B93F3F0682250B6CF8331B7EE68FD8");
    }

    #[test]
    fn padding_rows_and_garbage_are_ignored() {
        let rows = parse_range(
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:3861493\r\n\
             0000000000000000000000000000000000A:0\r\nnot a row\r\nABC:12\r\n",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows["1E4C9B93F3F0682250B6CF8331B7EE68FD8"], 3_861_493);
    }
}
