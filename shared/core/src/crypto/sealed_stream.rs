//! A stream sealed a chunk at a time: for copies too large to hold in memory and seal as one
//! envelope (a legal hold's copy of an account, photos included).
//!
//! ```text
//! stream = "WDNSEAL1" | frame*        frame = u32 length (big-endian) | v1 envelope
//! ```
//! Every frame is an [`envelope`](super::envelope) of at most [`CHUNK`] bytes of plaintext under
//! one data key, with the caller's context extended by the frame's position (`chunk`) and
//! whether it is the last (`last`). So frames cannot be reordered, dropped, repeated or moved to
//! another stream, and a stream cut at a frame boundary fails: its new last frame was sealed as
//! not the last. An empty input is one empty last frame.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::envelope::{self, Envelope};
use crate::keys::EncryptionContext;
use crate::secret::SecretBytes;
use crate::{Error, Result};

/// Plaintext bytes per frame.
pub const CHUNK: usize = 64 * 1024;
const MAGIC: &[u8; 8] = b"WDNSEAL1";

fn frame_context(base: &EncryptionContext, index: u64, last: bool) -> EncryptionContext {
    base.clone()
        .with("chunk", &index.to_string())
        .with("last", if last { "1" } else { "0" })
}

/// Up to [`CHUNK`] bytes: fewer only at the end of the stream (empty there).
async fn next_chunk<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>> {
    let mut chunk = vec![0u8; CHUNK];
    let mut filled = 0;
    while filled < CHUNK {
        let n = reader
            .read(&mut chunk[filled..])
            .await
            .map_err(|e| Error::unavailable("sealed stream", e))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    chunk.truncate(filled);
    Ok(chunk)
}

/// Seals everything `reader` yields into `writer` (shut down at the end), under `dk` with
/// `key_field` in each header; returns the plaintext's length.
pub async fn seal<R, W>(
    dk: &SecretBytes,
    key_field: &[u8],
    context: &EncryptionContext,
    mut reader: R,
    mut writer: W,
) -> Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let io = |e| Error::unavailable("sealed stream", e);
    writer.write_all(MAGIC).await.map_err(io)?;
    let mut total = 0u64;
    let mut current = next_chunk(&mut reader).await?;
    for index in 0u64.. {
        let next = if current.len() < CHUNK {
            Vec::new()
        } else {
            next_chunk(&mut reader).await?
        };
        let last = next.is_empty();
        let frame = envelope::seal_with_key(
            dk,
            key_field,
            &frame_context(context, index, last),
            &current,
        )?;
        let len = u32::try_from(frame.len()).map_err(|e| Error::internal("frame", e))?;
        writer.write_all(&len.to_be_bytes()).await.map_err(io)?;
        writer.write_all(&frame).await.map_err(io)?;
        total += current.len() as u64;
        if last {
            break;
        }
        current = next;
    }
    writer.shutdown().await.map_err(io)?;
    Ok(total)
}

/// The key field of a sealed stream (every frame names the same key).
pub fn key_field(sealed: &[u8]) -> Result<&[u8]> {
    let first = sealed.get(MAGIC.len() + 4..).ok_or(Error::Decryption)?;
    Ok(Envelope::parse(first)?.key_field)
}

/// Opens a stream made by [`seal`] with its data key. Every failure (a wrong key or context,
/// a changed, missing, extra or reordered frame, a cut) is [`Error::Decryption`].
pub fn open(dk: &SecretBytes, context: &EncryptionContext, sealed: &[u8]) -> Result<Vec<u8>> {
    let mut rest = sealed.strip_prefix(MAGIC).ok_or(Error::Decryption)?;
    let mut out = Vec::new();
    for index in 0u64.. {
        if rest.len() < 4 {
            return Err(Error::Decryption);
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let frame = rest.get(4..4 + len).ok_or(Error::Decryption)?;
        rest = &rest[4 + len..];
        let last = rest.is_empty();
        let env = Envelope::parse(frame)?;
        let plain = envelope::open_with_key(dk, &env, &frame_context(context, index, last))?;
        out.extend_from_slice(&plain);
        if last {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EncryptionContext {
        EncryptionContext::new().with("purpose", "test")
    }

    async fn sealed(dk: &SecretBytes, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let n = seal(dk, b"ref", &ctx(), plain, &mut out).await.unwrap();
        assert_eq!(n, plain.len() as u64);
        out
    }

    /// Offsets of each frame's length prefix.
    fn frames(s: &[u8]) -> Vec<usize> {
        let mut at = MAGIC.len();
        let mut out = Vec::new();
        while at < s.len() {
            out.push(at);
            let len = u32::from_be_bytes(s[at..at + 4].try_into().unwrap()) as usize;
            at += 4 + len;
        }
        out
    }

    #[tokio::test]
    async fn streams_of_every_shape_round_trip() {
        let dk = SecretBytes::new(vec![7; 32]);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let s = sealed(&dk, &plain).await;
            assert_eq!(open(&dk, &ctx(), &s).unwrap(), plain, "{len}");
            assert_eq!(key_field(&s).unwrap(), b"ref");
        }
    }

    #[tokio::test]
    async fn a_cut_a_swap_a_changed_byte_or_another_key_fails() {
        let dk = SecretBytes::new(vec![7; 32]);
        let plain = vec![1u8; 3 * CHUNK + 5];
        let s = sealed(&dk, &plain).await;
        let at = frames(&s);
        assert_eq!(at.len(), 4);
        // Cut at a frame boundary: the new last frame was sealed as not the last.
        assert!(open(&dk, &ctx(), &s[..at[3]]).is_err());
        assert!(open(&dk, &ctx(), &s[..s.len() - 1]).is_err());
        // Two frames swapped.
        let mut swapped = s[..at[1]].to_vec();
        swapped.extend_from_slice(&s[at[2]..at[3]]);
        swapped.extend_from_slice(&s[at[1]..at[2]]);
        swapped.extend_from_slice(&s[at[3]..]);
        assert!(open(&dk, &ctx(), &swapped).is_err());
        let mut changed = s.clone();
        changed[at[2] + 100] ^= 1;
        assert!(open(&dk, &ctx(), &changed).is_err());
        assert!(open(&SecretBytes::new(vec![8; 32]), &ctx(), &s).is_err());
        let other = EncryptionContext::new().with("purpose", "other");
        assert!(open(&dk, &other, &s).is_err());
        let mut extra = s.clone();
        extra.extend_from_slice(&s[at[3]..]);
        assert!(open(&dk, &ctx(), &extra).is_err());
    }
}
