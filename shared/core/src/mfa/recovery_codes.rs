//! Recovery codes: ten single-use codes issued with a second factor, for the day the
//! authenticator is lost. Each is 50 random bits written as `xxxxx-xxxxx` in an alphabet
//! without look-alike characters, shown once, and stored only as a keyed hash (HMAC-SHA-256
//! under the server's second-factor key, bound to the user) in an item of its own,
//! `MFA#RECOVERY#{hash}` in the user's partition. Using one deletes its item in the sign-in's
//! own transaction (condition: it still exists), so a code completes at most one sign-in however
//! many requests race with it.

use crate::Result;
use crate::clock::Timestamp;
use crate::crypto::server_secret::mac_hex;
use crate::login::SignIn;
use crate::table::schema::user_partition;
use crate::table::{Condition, Item, Key, Table, TxOp};

/// Codes issued with a factor.
pub const COUNT: usize = 10;
const PREFIX: &str = "MFA#RECOVERY#";
/// Crockford's base32 alphabet, lower case: no `i`, `l`, `o` or `u`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Longest input looked at (a code is 11 characters; spaces and dashes are forgiven).
const MAX_INPUT: usize = 32;

fn key(s: &SignIn<'_>, user_id: &str, normalized: &str) -> Key {
    let hash = mac_hex(
        &s.server_keys.second_factor,
        &[b"recovery-code", user_id.as_bytes(), normalized.as_bytes()],
    );
    Key::new(user_partition(user_id), format!("{PREFIX}{hash}"))
}

/// The code as stored: lower case, without separators; `None` when it cannot be a code.
fn normalize(code: &str) -> Option<String> {
    if code.len() > MAX_INPUT {
        return None;
    }
    let c: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (c.len() == 10 && c.bytes().all(|b| ALPHABET.contains(&b))).then_some(c)
}

/// Ten fresh codes and the writes that store their hashes.
pub fn generate(s: &SignIn<'_>, user_id: &str, now: Timestamp) -> Result<(Vec<String>, Vec<TxOp>)> {
    let mut codes = Vec::with_capacity(COUNT);
    let mut ops = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let random = crate::crypto::random_bytes::<10>()?;
        let plain: String = random
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect();
        ops.push(TxOp::Put {
            item: Item::new(&key(s, user_id, &plain)).with("created_at", now.millis()),
            condition: Some(Condition::NotExists),
        });
        codes.push(format!("{}-{}", &plain[..5], &plain[5..]));
    }
    Ok((codes, ops))
}

/// The account's remaining codes.
pub async fn remaining(table: &dyn Table, user_id: &str) -> Result<Vec<Item>> {
    super::items_under(table, user_id, PREFIX).await
}

/// Deletes of every remaining code (a new set replaces them; removing the factor ends them).
pub async fn clear_ops(table: &dyn Table, user_id: &str) -> Result<Vec<TxOp>> {
    Ok(super::deletes(&remaining(table, user_id).await?))
}

/// The write that spends `code`, when it is one of the account's unused codes: a delete that
/// holds only while the code still exists (the caller commits it with the sign-in).
pub async fn spend_op(s: &SignIn<'_>, user_id: &str, code: &str) -> Result<Option<TxOp>> {
    let Some(normalized) = normalize(code) else {
        return Ok(None);
    };
    let key = key(s, user_id, &normalized);
    Ok(s.table.get(&key).await?.map(|_| TxOp::Delete {
        key,
        condition: Some(Condition::Exists),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_forgivingly_and_nothing_else_is_a_code() {
        assert_eq!(normalize("ABCDE-FGH12").as_deref(), Some("abcdefgh12"));
        assert_eq!(normalize(" abcde fgh12 ").as_deref(), Some("abcdefgh12"));
        assert_eq!(normalize("abcde-fgh1"), None, "too short");
        assert_eq!(normalize("abcde-fghi2"), None, "`i` is not in the alphabet");
        assert_eq!(
            normalize(&"a".repeat(10_000)),
            None,
            "oversized input is not looked at"
        );
    }
}
