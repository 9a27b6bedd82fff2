//! The export's archive: ZIP written by `async_zip`'s streaming writer, with Warden's choices
//! fixed in one place. Entries are *stored* (photos are already compressed and `data.json` is
//! small next to them) and streamed: each is written through once, its CRC-32 and sizes
//! following in a data descriptor, so nothing is buffered and nothing needs seeking — the
//! archive goes straight into the upload. Streamed entries always carry a ZIP64 field and the
//! archive ends with the ZIP64 end records, so neither 4 GiB (a thousand 5 MB photos) nor
//! 65,535 entries is a limit. Memory: the central directory, a few hundred bytes per entry. Names are UTF-8; every entry is dated 1980-01-01 (the archive's times
//! are in `data.json`). Readers: unzip, Python's `zipfile`, Windows, macOS.
//!
//! An entry borrows the archive while it is open ([`ZipStream::start`] → [`Entry`]), so the
//! type system, not a runtime check, keeps one entry open at a time.

use async_zip::tokio::write::{EntryStreamWriter, ZipFileWriter};
use async_zip::{Compression, ZipDateTime, ZipDateTimeBuilder, ZipEntryBuilder};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::compat::{Compat, FuturesAsyncWriteCompatExt};

use crate::{Error, Result};

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::unavailable("export stream", e)
}

/// The date every entry carries: the earliest a ZIP date can say.
fn epoch() -> ZipDateTime {
    ZipDateTimeBuilder::new().year(1980).month(1).day(1).build()
}

/// An archive being written into `W`.
pub struct ZipStream<W: AsyncWrite + Unpin> {
    zip: ZipFileWriter<W>,
}

/// One open entry; [`Entry::finish`] writes its data descriptor.
pub struct Entry<'a, W: AsyncWrite + Unpin> {
    out: Compat<EntryStreamWriter<'a, W>>,
}

impl<W: AsyncWrite + Unpin> ZipStream<W> {
    pub fn new(out: W) -> Self {
        ZipStream {
            zip: async_zip::base::write::ZipFileWriter::with_tokio(out),
        }
    }

    /// Starts an entry named `name`.
    pub async fn start(&mut self, name: &str) -> Result<Entry<'_, W>> {
        let entry = ZipEntryBuilder::new(name.into(), Compression::Stored)
            .last_modification_date(epoch())
            .unix_permissions(0o644);
        let out = self.zip.write_entry_stream(entry).await.map_err(failed)?;
        Ok(Entry {
            out: out.compat_write(),
        })
    }

    /// One whole entry.
    pub async fn entry(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let mut e = self.start(name).await?;
        e.write(bytes).await?;
        e.finish().await
    }

    /// Writes the central directory and the end records, and returns the sink, flushed.
    pub async fn finish(self) -> Result<W> {
        let mut out = self.zip.close().await.map_err(failed)?.into_inner();
        out.flush().await.map_err(failed)?;
        Ok(out)
    }
}

impl<W: AsyncWrite + Unpin> Entry<'_, W> {
    /// Appends bytes to the entry.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).await.map_err(failed)
    }

    /// Finishes the entry: its CRC-32 and sizes, and its central directory record.
    pub async fn finish(self) -> Result<()> {
        self.out.into_inner().close().await.map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that keeps no data: it counts the bytes and keeps the small writes (headers,
    /// descriptors, the central directory, the end records) at their offsets, so that an
    /// archive of any size can be checked by its structure.
    #[derive(Default)]
    struct CountingSink {
        len: u64,
        /// Runs of consecutive small writes: offset → bytes.
        kept: std::collections::BTreeMap<u64, Vec<u8>>,
        /// Where the last kept run ends (a large write breaks the run).
        run_end: Option<u64>,
    }

    const KEEP_BELOW: usize = 1024;

    impl AsyncWrite for CountingSink {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let at = self.len;
            if buf.len() < KEEP_BELOW {
                if self.run_end == Some(at) {
                    self.kept
                        .last_entry()
                        .unwrap()
                        .get_mut()
                        .extend_from_slice(buf);
                } else {
                    self.kept.insert(at, buf.to_vec());
                }
                self.run_end = Some(at + buf.len() as u64);
            } else {
                self.run_end = None;
            }
            self.len += buf.len() as u64;
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    impl CountingSink {
        /// `len` bytes at `at`, which must lie in one kept run.
        fn at(&self, at: u64, len: usize) -> &[u8] {
            let (start, run) = self.kept.range(..=at).next_back().expect("a kept run");
            let from = (at - start) as usize;
            assert!(from + len <= run.len(), "{len} bytes at {at} were not kept");
            &run[from..from + len]
        }
        fn u16(&self, at: u64) -> u64 {
            u64::from(u16::from_le_bytes(self.at(at, 2).try_into().unwrap()))
        }
        fn u32(&self, at: u64) -> u64 {
            u64::from(u32::from_le_bytes(self.at(at, 4).try_into().unwrap()))
        }
        fn u64(&self, at: u64) -> u64 {
            u64::from_le_bytes(self.at(at, 8).try_into().unwrap())
        }
    }

    /// An entry as the central directory describes it.
    #[derive(Debug)]
    struct Described {
        name: String,
        crc: u32,
        size: u64,
        offset: u64,
        /// Where its data starts (found from its local header).
        data_at: u64,
    }

    /// Checks the archive's structure (APPNOTE 6.3.10, sections 4.3 and 4.5.3) and returns its
    /// entries in central-directory order: the ZIP64 end records when the classic ones
    /// overflow, each central record resolved through its ZIP64 field, each local header where
    /// its record says, each entry's data followed by its descriptor, and entries, directory and
    /// end records laid end to end with no gap.
    fn structure(sink: &CountingSink) -> Vec<Described> {
        const MAX16: u64 = 0xffff;
        const MAX32: u64 = 0xffff_ffff;
        let eocd = sink.len - 22;
        assert_eq!(sink.u32(eocd), 0x0605_4b50, "end of central directory");
        let (mut count, mut cd_size, mut cd_at) = (
            sink.u16(eocd + 10),
            sink.u32(eocd + 12),
            sink.u32(eocd + 16),
        );
        let mut cd_end = eocd;
        let locator = eocd - 20;
        let zip64 = sink.u32(locator) == 0x0706_4b50;
        if count == MAX16 || cd_size == MAX32 || cd_at == MAX32 {
            assert!(
                zip64,
                "the classic end record overflowed: a ZIP64 locator precedes it"
            );
        }
        if zip64 {
            let record = sink.u64(locator + 8);
            assert_eq!(sink.u32(record), 0x0606_4b50, "ZIP64 end record");
            assert_eq!(record + 12 + sink.u64(record + 4), locator);
            assert_eq!(sink.u64(record + 24), sink.u64(record + 32));
            (count, cd_size, cd_at) = (
                sink.u64(record + 32),
                sink.u64(record + 40),
                sink.u64(record + 48),
            );
            cd_end = record;
        }
        assert_eq!(
            cd_at + cd_size,
            cd_end,
            "the directory ends where the end records start"
        );
        let mut entries = Vec::new();
        let mut at = cd_at;
        for _ in 0..count {
            assert_eq!(sink.u32(at), 0x0201_4b50, "central record at {at}");
            let (name_len, extra_len, comment_len) =
                (sink.u16(at + 28), sink.u16(at + 30), sink.u16(at + 32));
            let name = String::from_utf8(sink.at(at + 46, name_len as usize).to_vec()).unwrap();
            let mut fields = [sink.u32(at + 24), sink.u32(at + 20), sink.u32(at + 42)];
            // The ZIP64 field holds, in this order, each of the three that overflowed.
            let mut x = at + 46 + name_len;
            while x < at + 46 + name_len + extra_len {
                let (id, len) = (sink.u16(x), sink.u16(x + 2));
                if id == 1 {
                    let mut v = x + 4;
                    for f in fields.iter_mut().filter(|f| **f == MAX32) {
                        *f = sink.u64(v);
                        v += 8;
                    }
                }
                x += 4 + len;
            }
            let [size, compressed, offset] = fields;
            assert_eq!(size, compressed, "{name} is stored");
            entries.push(Described {
                name,
                crc: sink.u32(at + 16) as u32,
                size,
                offset,
                data_at: 0,
            });
            at += 46 + name_len + extra_len + comment_len;
        }
        assert_eq!(at, cd_end);
        let mut next = 0;
        for e in &mut entries {
            assert_eq!(
                e.offset, next,
                "{} starts where the previous entry ended",
                e.name
            );
            assert_eq!(
                sink.u32(e.offset),
                0x0403_4b50,
                "local header of {}",
                e.name
            );
            let (name_len, extra_len) = (sink.u16(e.offset + 26), sink.u16(e.offset + 28));
            assert_eq!(sink.at(e.offset + 30, name_len as usize), e.name.as_bytes());
            e.data_at = e.offset + 30 + name_len + extra_len;
            let data_end = e.data_at + e.size;
            assert_eq!(sink.u32(data_end), 0x0807_4b50, "descriptor of {}", e.name);
            assert_eq!(sink.u32(data_end + 4) as u32, e.crc);
            next = data_end + 16;
        }
        assert_eq!(next, cd_at, "the directory follows the last entry");
        entries
    }

    #[tokio::test]
    async fn more_than_65535_entries_are_written_with_zip64_end_records() {
        const N: usize = 70_000;
        let mut z = ZipStream::new(CountingSink::default());
        for i in 0..N {
            z.entry(&format!("photos/{i:05}"), i.to_string().as_bytes())
                .await
                .unwrap();
        }
        let sink = z.finish().await.unwrap();
        let entries = structure(&sink);
        assert_eq!(entries.len(), N);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.name, format!("photos/{i:05}"));
            assert_eq!(e.crc, crc32fast::hash(i.to_string().as_bytes()));
        }
    }

    #[tokio::test]
    async fn an_archive_over_4_gib_is_written_with_64_bit_sizes_and_offsets() {
        // Eighteen entries of 256 MiB: 4.5 GiB, streamed in 64 KiB writes of a pattern that
        // differs per block, so a dropped, repeated or reordered write changes the CRC.
        const BLOCK: usize = 64 * 1024;
        const BLOCKS: usize = 4096;
        const ENTRIES: usize = 18;
        let mut block = vec![0u8; BLOCK];
        let fill = |block: &mut [u8], n: usize| {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (j.wrapping_mul(31) ^ n.wrapping_mul(7)) as u8;
            }
        };
        let mut expected = crc32fast::Hasher::new();
        for n in 0..BLOCKS {
            fill(&mut block, n);
            expected.update(&block);
        }
        let expected = expected.finalize();
        let mut z = ZipStream::new(CountingSink::default());
        z.entry("data.json", b"{}").await.unwrap();
        for i in 0..ENTRIES {
            let mut e = z.start(&format!("photos/{i}")).await.unwrap();
            for n in 0..BLOCKS {
                fill(&mut block, n);
                e.write(&block).await.unwrap();
            }
            e.finish().await.unwrap();
        }
        z.entry("manifest.json", b"{}").await.unwrap();
        let sink = z.finish().await.unwrap();
        assert!(sink.len > 4 << 30);
        let entries = structure(&sink);
        assert_eq!(entries.len(), ENTRIES + 2);
        let photos = &entries[1..=ENTRIES];
        assert!(
            photos
                .iter()
                .all(|e| e.size == (BLOCK * BLOCKS) as u64 && e.crc == expected)
        );
        assert!(
            entries.last().unwrap().offset > u64::from(u32::MAX),
            "the last entry lies beyond 4 GiB and is still found"
        );
    }

    #[tokio::test]
    async fn entries_read_back_through_the_central_directory() {
        let mut z = ZipStream::new(CountingSink::default());
        z.entry("data.json", b"{\"a\":1}").await.unwrap();
        let mut e = z.start("photos/p1.jpg").await.unwrap();
        e.write(b"part one ").await.unwrap();
        e.write(b"part two").await.unwrap();
        e.finish().await.unwrap();
        z.entry("empty", b"").await.unwrap();
        z.entry("naïve ✓", b"utf-8").await.unwrap();
        let sink = z.finish().await.unwrap();
        let entries: Vec<_> = structure(&sink)
            .iter()
            .map(|e| {
                let data = sink.at(e.data_at, e.size as usize).to_vec();
                assert_eq!(crc32fast::hash(&data), e.crc, "{}", e.name);
                (e.name.clone(), data)
            })
            .collect();
        assert_eq!(
            entries,
            vec![
                ("data.json".to_string(), b"{\"a\":1}".to_vec()),
                ("photos/p1.jpg".to_string(), b"part one part two".to_vec()),
                ("empty".to_string(), Vec::new()),
                ("naïve ✓".to_string(), b"utf-8".to_vec()),
            ]
        );
    }
}
