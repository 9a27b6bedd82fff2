//! [`ClientSignals`]: what a request says about the client device beyond who the caller is —
//! the fingerprint's inputs and the signed device cookie. The transport reads them from headers
//! and cookies; the domain decides what they mean (see [`crate::devices`]).

use crate::devices::DeviceSignals;

#[derive(Debug, Clone, Default)]
pub struct ClientSignals {
    pub device: DeviceSignals,
    /// The device cookie's value, when the request carried exactly one.
    pub device_cookie: Option<String>,
}
