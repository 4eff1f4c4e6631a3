//! Input fingerprints: how a run recognizes that its input is already in a pending package.
//!
//! The rule (documented in `docs/getting-started.md`): a load package records the fingerprint
//! of what it was extracted from. When a run finds a *pending* package (left by a crash, a
//! kill, a failed connection, a full disk) whose fingerprint equals its own input's, it
//! finishes that package and does not load the input a second time.
//!
//! - **Files** are identified before anything is read by their canonical path, size and
//!   modification time (nanoseconds): the same command on unchanged files skips extraction
//!   altogether. A file that was rewritten is a new input.
//! - **Streams** (standard input, readers given to the library) and **JSON values** are
//!   identified by the content read: a 128-bit XXH3 of the bytes (or of the values' JSON),
//!   computed while the input is normalized. A new package whose content equals a pending
//!   one's is dropped before it is committed.
//! - **Arrow batches** have no fingerprint: such a package is always a new load.
//!
//! Each resource also contributes its name and table hints, so the same file loaded with
//! another write disposition or key is a different input. Loading the same input again after
//! the package holding it *completed* is a new load, as before.

use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::source::{Resource, ResourceData, Source};

/// What one input of a resource was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputId {
    /// A file, by path and metadata.
    File {
        /// Canonical path.
        path: String,
        /// Size in bytes.
        size: u64,
        /// Modification time, nanoseconds since the epoch.
        mtime_ns: i64,
    },
    /// A stream or values, by content (hex XXH3-128 of the bytes read, and their count).
    Content {
        /// Where it came from (`-` for standard input).
        origin: String,
        /// Bytes hashed.
        bytes: u64,
        /// Hex digest.
        xxh3_128: String,
    },
}

/// The inputs of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceInputs {
    /// Resource name.
    pub resource: String,
    /// Hex digest of the resource's table hints.
    pub hints: String,
    /// Its inputs, in order.
    pub inputs: Vec<InputId>,
}

/// The fingerprint of a source: one entry per resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Per resource, in order.
    pub resources: Vec<ResourceInputs>,
}

fn hex128(v: u128) -> String {
    format!("{v:032x}")
}

fn hints_digest(r: &Resource) -> String {
    // the Debug form holds every hint; only compared between runs of one pipeline
    let text = format!("{}\u{0}{:?}", r.name, r.hints);
    hex128(twox_hash::XxHash3_128::oneshot(text.as_bytes()))
}

/// Identifies a file by canonical path, size and modification time.
pub fn file_id(path: &Path) -> Result<InputId> {
    let canon = std::fs::canonicalize(path)
        .map_err(|e| Error::io("open input file", path, e).with_hint("check the path; use `-` to read standard input"))?;
    let meta = std::fs::metadata(&canon).map_err(|e| Error::io("read input file metadata", &canon, e))?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Ok(InputId::File { path: canon.display().to_string(), size: meta.len(), mtime_ns })
}

/// The fingerprint of `source` when it can be known before reading it: every resource reads
/// files (not standard input). `None` otherwise.
pub fn before_reading(source: &Source) -> Result<Option<Fingerprint>> {
    let mut resources = Vec::new();
    for r in &source.resources {
        let ResourceData::Files(files) = &r.data else { return Ok(None) };
        let mut inputs = Vec::new();
        for f in files {
            if f.as_os_str() == "-" {
                return Ok(None);
            }
            inputs.push(file_id(f)?);
        }
        resources.push(ResourceInputs { resource: r.name.clone(), hints: hints_digest(r), inputs });
    }
    Ok(Some(Fingerprint { resources }))
}

/// Collects the fingerprint of a source while it is read. `None` inputs (Arrow batches) make
/// the whole fingerprint unknown.
#[derive(Debug, Default)]
pub struct Recorder {
    resources: Vec<ResourceInputs>,
    unknown: bool,
}

impl Recorder {
    /// Starts the entry of resource `r`.
    pub fn resource(&mut self, r: &Resource) {
        self.resources.push(ResourceInputs { resource: r.name.clone(), hints: hints_digest(r), inputs: Vec::new() });
    }
    /// Adds an input to the current resource.
    pub fn input(&mut self, id: InputId) {
        if let Some(r) = self.resources.last_mut() {
            r.inputs.push(id);
        }
    }
    /// Marks the source as having an input without a fingerprint.
    pub fn unknown(&mut self) {
        self.unknown = true;
    }
    /// The fingerprint, if every input had one.
    pub fn finish(self) -> Option<Fingerprint> {
        (!self.unknown).then_some(Fingerprint { resources: self.resources })
    }
}

/// A content digest being computed; shared with the reader that feeds it.
#[derive(Clone)]
pub struct ContentDigest {
    origin: String,
    state: Arc<Mutex<(twox_hash::xxhash3_128::Hasher, u64)>>,
}

impl std::fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentDigest").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl ContentDigest {
    /// A new digest of the input named `origin`.
    pub fn new(origin: &str) -> Self {
        ContentDigest { origin: origin.to_string(), state: Arc::new(Mutex::new((twox_hash::xxhash3_128::Hasher::new(), 0))) }
    }
    /// Adds bytes.
    pub fn update(&self, bytes: &[u8]) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0.write(bytes);
        s.1 += bytes.len() as u64;
    }
    /// The input id of what was hashed so far.
    pub fn id(&self) -> InputId {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        InputId::Content { origin: self.origin.clone(), bytes: s.1, xxh3_128: hex128(s.0.finish_128()) }
    }
    /// Wraps a reader so that every byte consumed through it is hashed.
    pub fn reader<R: BufRead>(&self, inner: R) -> HashingReader<R> {
        HashingReader { inner, digest: self.clone() }
    }
}

/// The content digest of JSON values given to the library (their compact JSON text).
#[derive(Default)]
pub struct ValueDigest {
    hasher: twox_hash::xxhash3_128::Hasher,
    bytes: u64,
}

impl std::io::Write for ValueDigest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.write(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ValueDigest {
    /// Adds one value.
    pub fn add(&mut self, v: &serde_json::Value) {
        // writing into a hasher cannot fail
        let _ = serde_json::to_writer(&mut *self, v);
        self.hasher.write(b"\n");
    }
    /// The input id of the values so far.
    pub fn id(&self) -> InputId {
        InputId::Content { origin: "values".into(), bytes: self.bytes, xxh3_128: hex128(self.hasher.finish_128()) }
    }
}

/// A `BufRead` that hashes the bytes its consumer takes.
pub struct HashingReader<R> {
    inner: R,
    digest: ContentDigest,
}

impl<R: BufRead> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for HashingReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if amt > 0 {
            // the buffer holds at least `amt` bytes: fill_buf returns it again without reading
            if let Ok(b) = self.inner.fill_buf() {
                self.digest.update(&b[..amt.min(b.len())]);
            }
        }
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_reader_hashes_what_is_read_however_it_is_read() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let a = ContentDigest::new("-");
        let mut r = a.reader(std::io::BufReader::with_capacity(1000, &data[..]));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let b = ContentDigest::new("-");
        let mut r = b.reader(std::io::BufReader::with_capacity(777, &data[..]));
        loop {
            let n = {
                let buf = r.fill_buf().unwrap();
                if buf.is_empty() {
                    break;
                }
                buf.len().min(313)
            };
            r.consume(n);
        }
        assert_eq!(a.id(), b.id());
        let InputId::Content { bytes, xxh3_128, .. } = a.id() else { panic!() };
        assert_eq!(bytes, data.len() as u64);
        assert_eq!(xxh3_128, hex128(twox_hash::XxHash3_128::oneshot(&data)));
        let c = ContentDigest::new("-");
        c.update(&data[1..]);
        assert_ne!(c.id(), a.id(), "other content, other digest");
    }

    #[test]
    fn file_ids_change_when_the_file_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, "{\"a\":1}\n").unwrap();
        let a = file_id(&p).unwrap();
        assert_eq!(a, file_id(&p).unwrap());
        std::fs::write(&p, "{\"a\":1}\n{\"a\":2}\n").unwrap();
        assert_ne!(a, file_id(&p).unwrap());
    }

    #[test]
    fn hints_are_part_of_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, "{}\n").unwrap();
        let plain = before_reading(&Resource::from_files("t", [&p]).into()).unwrap();
        let keyed = before_reading(&Resource::from_files("t", [&p]).with_primary_key(["a"]).into()).unwrap();
        assert!(plain.is_some());
        assert_ne!(plain, keyed);
        assert_eq!(plain, before_reading(&Resource::from_files("t", [&p]).into()).unwrap());
        assert_eq!(before_reading(&Resource::from_files("t", ["-"]).into()).unwrap(), None, "stdin is known only after reading");
    }
}
