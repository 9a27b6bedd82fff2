//! The `BreachedPasswords` port: has this password appeared in a breach?
//!
//! Adapters: [`OfflineList`] (the shipped list; the default, needs no network) and, in
//! `warden-aws`, `HibpRange` (the Have I Been Pwned range API with k-anonymity), which uses the
//! range helpers here ([`sha1_prefix_suffix`], [`parse_range`]).
//!
//! Callers decide how to fail: registration and password change fail closed (503) when the
//! check is unavailable; login fails soft (it succeeds and flags the account).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_lc_rs::digest;

use crate::Result;
use crate::secret::SecretString;

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
