//! An authenticator app for the tests: RFC 6238 codes (HMAC-SHA-1, six digits, 30 s) computed
//! here from the RFC, not by the crate Warden uses, so the two are checked against each other.

/// RFC 4648 base32 (no padding) to bytes.
fn base32(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("a base32 secret") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// The code of `secret` (base32) at `unix_seconds`.
pub fn code(secret: &str, unix_seconds: i64) -> String {
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        &base32(secret),
    );
    let counter = (unix_seconds / 30) as u64;
    let mac = aws_lc_rs::hmac::sign(&key, &counter.to_be_bytes());
    let m = mac.as_ref();
    let offset = usize::from(m[m.len() - 1] & 0x0f);
    let value =
        u32::from_be_bytes([m[offset], m[offset + 1], m[offset + 2], m[offset + 3]]) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

#[cfg(test)]
mod tests {
    /// RFC 6238, appendix B (SHA-1, the 20-byte ASCII secret "12345678901234567890").
    #[test]
    fn the_rfc_test_vectors() {
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(super::code(secret, 59), "287082");
        assert_eq!(super::code(secret, 1_111_111_109), "081804");
        assert_eq!(super::code(secret, 2_000_000_000), "279037");
    }
}
