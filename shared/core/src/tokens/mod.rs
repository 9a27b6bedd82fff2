//! What a logged-in user carries: RS256 access tokens ([`access`]) signed by rotating keys
//! ([`signing_keys`]), and opaque rotating refresh tokens bound to a session ([`crate::sessions`]).

pub mod access;
pub mod jwt_provider;
pub mod signing_keys;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

pub fn unb64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}
