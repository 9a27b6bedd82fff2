//! The tokens of the links Warden mails (a password reset, an email change and its revert):
//! `{user id}.{256 random bits, base64url}`, carried in the link's fragment. Only the SHA-256 of
//! the secret part is stored, on the profile, next to an expiry; a link is consumed by the
//! conditional write that acts on it (its condition names the hash), so it works once, and a
//! newer link of the same kind replaces the older one.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{Error, Result};

/// Longest token accepted (a user id, a dot, 43 characters of base64url): checked before work.
pub const TOKEN_MAX: usize = 128;

/// The answer to a link that is malformed, used, expired or superseded (one answer for all).
pub fn dead() -> Error {
    Error::invalid(
        "token",
        "the link is invalid, used, expired or superseded; ask for a new one",
    )
}

/// A fresh link token and the hash the profile keeps of it.
pub struct Link {
    pub token: String,
    pub hash: String,
}

fn hash_secret(secret: &[u8]) -> String {
    crate::crypto::hex(digest(&SHA256, secret).as_ref())
}

/// A new token for `user_id`.
pub fn new(user_id: &str) -> Result<Link> {
    let secret = crate::crypto::random_bytes::<32>()?;
    Ok(Link {
        token: format!("{user_id}.{}", URL_SAFE_NO_PAD.encode(secret)),
        hash: hash_secret(&secret),
    })
}

/// The user id and the secret's hash of a well-formed token.
pub fn parse(token: &str) -> Option<(&str, String)> {
    if token.len() > TOKEN_MAX {
        return None;
    }
    let (user_id, secret) = token.split_once('.')?;
    let secret = URL_SAFE_NO_PAD.decode(secret).ok()?;
    (!user_id.is_empty() && user_id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 32)
        .then(|| (user_id, hash_secret(&secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_parsed_strictly_and_bounded() {
        let link = new("abc123").unwrap();
        assert_eq!(parse(&link.token), Some(("abc123", link.hash.clone())));
        for bad in [
            "".to_string(),
            "abc123".to_string(),
            format!("abc123.{}", URL_SAFE_NO_PAD.encode([7u8; 31])),
            format!("../x.{}", URL_SAFE_NO_PAD.encode([7u8; 32])),
            format!("{}.{}", "a".repeat(200), URL_SAFE_NO_PAD.encode([7u8; 32])),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }
}
