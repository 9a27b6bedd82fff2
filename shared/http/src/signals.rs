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
