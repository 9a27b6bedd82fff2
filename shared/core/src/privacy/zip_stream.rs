//! A streaming ZIP writer for exports: entries are *stored* (photos are already compressed and
//! `data.json` is small next to them), each written through once with its CRC-32 and sizes in
//! a trailing data descriptor, so nothing is buffered and nothing needs seeking. Memory: the
//! central directory, about 60 bytes per entry. Limits: 4 GiB per entry and per archive
//! (ZIP64 is not written); 65,535 entries. Readers: any unzip, Python's `zipfile`, Windows.

use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{Error, Result};

struct Central {
    name: String,
    crc: u32,
    size: u32,
    offset: u32,
}

struct Open {
    hasher: crc32fast::Hasher,
    size: u64,
}

pub struct ZipStream<W> {
    out: W,
    offset: u64,
    entries: Vec<Central>,
    open: Option<(String, u64, Open)>,
}

const FLAGS: u16 = 0x0008 | 0x0800; // sizes in a data descriptor; names are UTF-8
const VERSION: u16 = 20;
/// 1980-01-01 00:00 in DOS format (the archive's times are in `data.json`, not in entries).
const DOS_DATE: u16 = 0x0021;

fn too_big() -> Error {
    Error::Internal("the export exceeds the ZIP format's 4 GiB limit".into())
}

impl<W: AsyncWrite + Unpin> ZipStream<W> {
    pub fn new(out: W) -> Self {
        ZipStream {
            out,
            offset: 0,
            entries: Vec::new(),
            open: None,
        }
    }

    async fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .await
            .map_err(|e| Error::unavailable("export stream", e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Starts an entry; the previous one must have been finished.
    pub async fn start(&mut self, name: &str) -> Result<()> {
        if self.open.is_some() {
            return Err(Error::Internal("zip entry still open".into()));
        }
        if self.entries.len() >= usize::from(u16::MAX) {
            return Err(too_big());
        }
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&0u16.to_le_bytes()); // time
        h.extend_from_slice(&DOS_DATE.to_le_bytes());
        h.extend_from_slice(&[0; 12]); // crc, sizes: in the descriptor
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        let offset = self.offset;
        self.emit(&h).await?;
        self.open = Some((
            name.to_string(),
            offset,
            Open {
                hasher: crc32fast::Hasher::new(),
                size: 0,
            },
        ));
        Ok(())
    }

    /// Appends bytes to the open entry.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some((_, _, open)) = self.open.as_mut() else {
            return Err(Error::Internal("no zip entry open".into()));
        };
        open.hasher.update(bytes);
        open.size += bytes.len() as u64;
        self.emit(bytes).await
    }

    /// Finishes the open entry with its data descriptor.
    pub async fn finish_entry(&mut self) -> Result<()> {
        let Some((name, offset, open)) = self.open.take() else {
            return Err(Error::Internal("no zip entry open".into()));
        };
        let crc = open.hasher.finalize();
        let size = u32::try_from(open.size).map_err(|_| too_big())?;
        let offset = u32::try_from(offset).map_err(|_| too_big())?;
        let mut d = Vec::with_capacity(16);
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        self.emit(&d).await?;
        self.entries.push(Central {
            name,
            crc,
            size,
            offset,
        });
        Ok(())
    }

    /// One whole entry.
    pub async fn entry(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.start(name).await?;
        self.write(bytes).await?;
        self.finish_entry().await
    }

    /// Writes the central directory and returns the sink, flushed.
    pub async fn finish(mut self) -> Result<W> {
        if self.open.is_some() {
            return Err(Error::Internal("zip entry still open".into()));
        }
        let start = u32::try_from(self.offset).map_err(|_| too_big())?;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut c = Vec::with_capacity(46 + e.name.len());
            c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            c.extend_from_slice(&VERSION.to_le_bytes()); // made by
            c.extend_from_slice(&VERSION.to_le_bytes()); // needed
            c.extend_from_slice(&FLAGS.to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes());
            c.extend_from_slice(&DOS_DATE.to_le_bytes());
            c.extend_from_slice(&e.crc.to_le_bytes());
            c.extend_from_slice(&e.size.to_le_bytes());
            c.extend_from_slice(&e.size.to_le_bytes());
            c.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            c.extend_from_slice(&[0; 12]); // extra, comment, disk, attrs (internal, external)
            c.extend_from_slice(&e.offset.to_le_bytes());
            c.extend_from_slice(e.name.as_bytes());
            self.emit(&c).await?;
        }
        let size = u32::try_from(self.offset - u64::from(start)).map_err(|_| too_big())?;
        let n = entries.len() as u16;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0; 4]); // disk numbers
        end.extend_from_slice(&n.to_le_bytes());
        end.extend_from_slice(&n.to_le_bytes());
        end.extend_from_slice(&size.to_le_bytes());
        end.extend_from_slice(&start.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.emit(&end).await?;
        self.out
            .flush()
            .await
            .map_err(|e| Error::unavailable("export stream", e))?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the archive back by its central directory, checking every CRC.
    fn read_back(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
        let end = zip.len() - 22;
        assert_eq!(&zip[end..end + 4], &0x0605_4b50u32.to_le_bytes());
        let le16 = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
        let le32 = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
        let n = le16(end + 10);
        let mut at = le32(end + 16);
        let mut out = Vec::new();
        for _ in 0..n {
            assert_eq!(le32(at), 0x0201_4b50);
            let crc = le32(at + 16) as u32;
            let size = le32(at + 24);
            let name_len = le16(at + 28);
            let local = le32(at + 42);
            let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
            let data_at = local + 30 + le16(local + 26) + le16(local + 28);
            let data = zip[data_at..data_at + size].to_vec();
            assert_eq!(crc32fast::hash(&data), crc, "{name}");
            out.push((name, data));
            at += 46 + name_len;
        }
        out
    }

    #[tokio::test]
    async fn entries_read_back_through_the_central_directory() {
        let mut z = ZipStream::new(Vec::new());
        z.entry("data.json", b"{\"a\":1}").await.unwrap();
        z.start("photos/p1.jpg").await.unwrap();
        z.write(b"part one ").await.unwrap();
        z.write(b"part two").await.unwrap();
        z.finish_entry().await.unwrap();
        z.entry("empty", b"").await.unwrap();
        let bytes = z.finish().await.unwrap();
        let entries = read_back(&bytes);
        assert_eq!(
            entries,
            vec![
                ("data.json".to_string(), b"{\"a\":1}".to_vec()),
                ("photos/p1.jpg".to_string(), b"part one part two".to_vec()),
                ("empty".to_string(), Vec::new()),
            ]
        );
    }

    #[tokio::test]
    async fn an_entry_must_be_finished_before_the_next() {
        let mut z = ZipStream::new(Vec::new());
        z.start("a").await.unwrap();
        assert!(z.start("b").await.is_err());
    }
}
