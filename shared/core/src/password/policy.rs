//! The password acceptance policy, after NIST SP 800-63B-4.
//!
//! Order matters: the raw input's size is checked first (a megabyte never reaches Unicode
//! normalisation, the strength estimator or Argon2), then the password is NFKC-normalised, and
//! every later check — and the hash itself — sees the normalised form, so a password typed with
//! composed or decomposed characters is the same password. No composition rules by default (they
//! are configurable for regimes that demand them); instead: a minimum length, a strength
//! estimate (zxcvbn, score ≥ 3, told the email and the service name), no email local part, and
//! not on the shipped list of common passwords. Every failing rule is reported, not the first.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

use crate::error::InvalidParam;
use crate::secret::SecretString;
use crate::{Error, Result};

/// Longest accepted password, in characters.
pub const MAX_CHARS: usize = 256;
/// Longest raw input looked at, in bytes (4 bytes per character at most).
pub const MAX_BYTES: usize = MAX_CHARS * 4;
/// Minimum zxcvbn score (0–4).
pub const MIN_SCORE: u8 = 3;
/// zxcvbn's cost grows with length; beyond this many characters it sees a prefix (a password
/// that long and weak is caught by its prefix: repetition and dictionary words show early).
const ZXCVBN_MAX_CHARS: usize = 100;

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.nfkc().collect::<String>().to_lowercase())
        .collect()
});

/// Whether the (normalised) password is on the shipped list of common passwords.
pub fn is_common(normalized: &str) -> bool {
    COMMON.contains(&normalized.to_lowercase())
}

/// Rejects oversized input before any work, then returns the NFKC form. Login uses this too, so
/// the verified bytes are the hashed bytes.
pub fn normalize(raw: &SecretString) -> Result<SecretString> {
    let r = raw.expose();
    if r.len() > MAX_BYTES || r.chars().count() > MAX_CHARS {
        return Err(Error::invalid(
            "password",
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    Ok(SecretString::new(r.nfkc().collect()))
}

#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    /// How many of lower case, upper case, digit, other must appear (0 = no composition rules).
    pub required_classes: u8,
    pub service_name: String,
}

impl PasswordPolicy {
    /// Checks a new password for the account `email` (already normalised). Returns the NFKC form
    /// to hash, or a 400 naming every reason.
    pub fn check(&self, raw: &SecretString, email: &str) -> Result<SecretString> {
        let pw = normalize(raw)?;
        let p = pw.expose();
        let mut reasons = Vec::new();
        let mut reject = |reason: String| {
            reasons.push(InvalidParam {
                name: "password".into(),
                reason,
            })
        };
        let chars = p.chars().count();
        if chars < self.min_chars {
            reject(format!("must be at least {} characters", self.min_chars));
        }
        if self.required_classes > 0 {
            let classes = [
                p.chars().any(char::is_lowercase),
                p.chars().any(char::is_uppercase),
                p.chars().any(|c| c.is_ascii_digit()),
                p.chars().any(|c| !c.is_alphanumeric()),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            if classes < self.required_classes as usize {
                reject(format!(
                    "must mix at least {} of: lower case, upper case, digits, symbols",
                    self.required_classes
                ));
            }
        }
        let lower = p.to_lowercase();
        let local = email.split('@').next().unwrap_or("");
        if local.chars().count() >= 3 && lower.contains(local) {
            reject("must not contain your email address".into());
        }
        if is_common(p) {
            reject("is a commonly used password".into());
        } else if chars > 0 {
            let sample: String = p.chars().take(ZXCVBN_MAX_CHARS).collect();
            let inputs = [email, local, self.service_name.as_str()];
            let estimate = zxcvbn::zxcvbn(&sample, &inputs);
            let score = u8::from(estimate.score());
            if score < MIN_SCORE {
                let hint = estimate
                    .feedback()
                    .and_then(|f| f.warning())
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default();
                reject(format!(
                    "is too easy to guess (strength {score} of 4, need {MIN_SCORE}){hint}"
                ));
            }
        }
        if reasons.is_empty() {
            Ok(pw)
        } else {
            Err(Error::BadRequest {
                detail: "the password does not meet the policy".into(),
                invalid_params: reasons,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy {
            min_chars: 15,
            required_classes: 0,
            service_name: "warden".into(),
        }
    }

    fn reasons(pw: &str, email: &str) -> Vec<String> {
        match policy().check(&SecretString::new(pw.into()), email) {
            Ok(_) => vec![],
            Err(Error::BadRequest { invalid_params, .. }) => {
                invalid_params.into_iter().map(|p| p.reason).collect()
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_long_unusual_passphrase_passes() {
        assert!(reasons("marmalade kiln wobbles at dusk", "ada@example.com").is_empty());
    }

    #[test]
    fn short_passwords_fail_with_the_minimum_named() {
        let r = reasons("Tr0ub4dor&3", "ada@example.com");
        assert!(r.iter().any(|r| r.contains("at least 15")), "{r:?}");
    }

    #[test]
    fn common_passwords_fail_even_when_long_enough() {
        let r = reasons("qwertyuiopasdfgh", "ada@example.com");
        assert!(r.iter().any(|r| r.contains("commonly used")), "{r:?}");
    }

    #[test]
    fn the_email_local_part_is_rejected() {
        let r = reasons("lovelace-marmalade-kiln-wobbles", "lovelace@example.com");
        assert!(r.iter().any(|r| r.contains("email")), "{r:?}");
    }

    #[test]
    fn predictable_long_passwords_are_too_weak() {
        let r = reasons("aaaaaaaaaaaaaaaaaaaa", "ada@example.com");
        assert!(r.iter().any(|r| r.contains("too easy")), "{r:?}");
    }

    #[test]
    fn every_failing_rule_is_listed() {
        let r = reasons("adaada", "ada@example.com");
        assert!(r.len() >= 2, "{r:?}");
    }

    #[test]
    fn oversized_input_is_refused_before_normalisation() {
        let huge = SecretString::new("x".repeat(1_000_000));
        let err = normalize(&huge).unwrap_err();
        assert!(matches!(err, Error::BadRequest { .. }));
        assert!(normalize(&SecretString::new("é".repeat(256))).is_ok());
        assert!(normalize(&SecretString::new("é".repeat(257))).is_err());
    }

    #[test]
    fn nfkc_makes_equivalent_spellings_one_password() {
        let composed = normalize(&SecretString::new("caf\u{e9} ﬁsh".into())).unwrap();
        let decomposed = normalize(&SecretString::new("cafe\u{301} fish".into())).unwrap();
        assert_eq!(composed.expose(), decomposed.expose());
    }

    #[test]
    fn composition_rules_apply_only_when_configured() {
        let p = PasswordPolicy {
            required_classes: 3,
            ..policy()
        };
        let err = p
            .check(
                &SecretString::new("marmalade kiln wobbles at dusk".into()),
                "ada@example.com",
            )
            .unwrap_err();
        assert!(format!("{err:?}").contains("mix at least 3"));
    }
}
