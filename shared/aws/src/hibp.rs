//! [`HibpRange`]: the `BreachedPasswords` adapter over the Have I Been Pwned range API, with
//! k-anonymity: only the first 5 hex characters of the password's SHA-1 leave the process,
//! `Add-Padding: true` hides the response size, padded rows with count 0 are ignored, each call
//! has a timeout, and prefix responses are cached with a TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use warden_core::clock::{Clock, Timestamp};
use warden_core::error::BoxError;
use warden_core::password::breach::{BreachedPasswords, parse_range, sha1_prefix_suffix};
use warden_core::secret::SecretString;
use warden_core::{Error, Result};

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
            .map_err(|e| Error::internal("TLS roots", e))?
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
            .map_err(|e| Error::internal("a breach-check request", e))?;
        let unavailable = |e: BoxError| Error::unavailable("breach check", e);
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|e| unavailable(e.into()))?
            .map_err(|e| unavailable(e.into()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("status {}", resp.status()).into()));
        }
        let body = tokio::time::timeout(self.timeout, resp.into_body().collect())
            .await
            .map_err(|e| unavailable(e.into()))?
            .map_err(|e| unavailable(e.into()))?
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
