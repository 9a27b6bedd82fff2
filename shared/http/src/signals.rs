//! Reads the domain's [`ClientSignals`] from a request's headers and cookies: the fingerprint's
//! inputs ([`SIGNAL_HEADERS`]) and the device cookie. The domain decides what they mean.

use http::HeaderMap;
use warden_core::client::ClientSignals;
use warden_core::devices::DeviceSignals;

use crate::cookies;

/// The client signals of a request with these headers.
pub fn client_signals(headers: &HeaderMap) -> ClientSignals {
    ClientSignals {
        device: device_signals(headers),
        device_cookie: cookies::get(headers, cookies::DEVICE),
    }
}

/// The fingerprint inputs of a request with these headers.
pub fn device_signals(headers: &HeaderMap) -> DeviceSignals {
    DeviceSignals::read(|name| headers.get(name).map(|v| v.as_bytes()))
}

/// [`ClientSignals`] as an extractor.
#[derive(Debug, Clone)]
pub struct Client(pub ClientSignals);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(client_signals(&parts.headers)))
    }
}
