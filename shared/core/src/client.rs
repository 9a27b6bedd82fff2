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

impl ClientSignals {
    /// The device id of the request's device cookie, when its signature holds for `account`
    /// (the email's blind index): a device that signed in to this account before.
    pub fn known_device(&self, key: &aws_lc_rs::hmac::Key, account: &str) -> Option<String> {
        self.device_cookie
            .as_deref()
            .and_then(|c| crate::devices::verify_device_cookie(key, c, account))
    }
}
