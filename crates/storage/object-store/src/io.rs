//! Bucket I/O shared by the filesystem destination and the staging chain: atomic puts, uploads
//! of job files within a memory budget, paginated listing, delete-many, and removal of what an
//! aborted load wrote.
//!
//! - **Atomic put**: a remote object store makes a put visible whole. A local folder is
//!   written under a hidden temporary name ([`temp_name`], skipped by readers such as pyarrow
//!   and duckdb globs), fsynced and renamed. object_store's local store stages files as
//!   `<name>#<n>`, which a crash would leave behind next to the data.
//! - **Uploads**: a file up to the store's single-request size goes up in one request; a
//!   larger one in parts of [`PART_SIZE`] streamed from disk (S3 multipart, Azure blocks, GCS
//!   XML multipart on real GCS), at most [`PARTS_IN_FLIGHT`] parts at a time. Both paths take
//!   their size from an [`UploadBudget`] first, so parallel uploads never hold more than it in
//!   buffers. Local folders get the file by a hard link (a job file is complete, fsynced and
//!   never written again), copied only across file systems.
//! - **Deletes** go through `delete_stream` (S3 and Azure batch them; GCS deletes one object
//!   per request); listings are paginated by the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStoreExt, PutPayload};
use stevedore_core::{Error, Result};

use crate::{Bucket, BucketUrl, Failure};

/// Size of one part of a multipart upload.
pub const PART_SIZE: usize = 8 << 20;
/// Parts of one upload in flight at a time.
pub const PARTS_IN_FLIGHT: usize = 4;
/// Upload buffer memory shared by the parallel uploads of one client, in MiB.
pub const MEMORY_BUDGET_MIB: usize = 256;
/// Longest file or folder name most file systems take, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Upload buffer memory shared by parallel uploads (cheap to clone: the clones share it).
#[derive(Debug, Clone)]
pub struct UploadBudget {
    permits: Arc<tokio::sync::Semaphore>,
    mib: usize,
}

impl Default for UploadBudget {
    fn default() -> Self {
        Self::new(MEMORY_BUDGET_MIB)
    }
}

impl UploadBudget {
    /// A budget of `mib` MiB.
    pub fn new(mib: usize) -> Self {
        let mib = mib.max(1);
        UploadBudget { permits: Arc::new(tokio::sync::Semaphore::new(mib)), mib }
    }
    /// Holds `bytes` of the budget (at least 1 MiB, at most all of it) until the permit drops.
    pub async fn reserve(&self, bytes: u64) -> Result<tokio::sync::SemaphorePermit<'_>> {
        let mib = bytes.div_ceil(1 << 20).clamp(1, self.mib as u64) as u32;
        self.permits.acquire_many(mib).await.map_err(|_| Error::internal("upload memory budget closed"))
    }
}

/// The hidden name a local file is written under before it is renamed to `name`:
/// `.<name>.tmp`, or, when that would be longer than a file name may be, `.<hash of
/// name>.tmp`. The same in every attempt: one run per pipeline at a time, and job paths hold
/// the load id, so no two writers share it, and a job run again after a crash replaces what
/// the crash left.
pub fn temp_name(name: &str) -> String {
    let tmp = format!(".{name}.tmp");
    if tmp.len() <= MAX_NAME_BYTES {
        return tmp;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    format!(".{:016x}.tmp", h.finish())
}

enum LocalData {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Bucket {
    /// Writes `bytes` to `rel` (relative to the bucket prefix) so that readers see all of it
    /// or nothing.
    pub async fn put_atomic(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        if let BucketUrl::Local(root) = &self.url {
            return write_local(root.join(rel), LocalData::Bytes(bytes)).await;
        }
        self.store.put(&self.key(rel), PutPayload::from(Bytes::from(bytes))).await.map_err(|e| self.error("write", rel, e))?;
        Ok(())
    }

    /// The path under the bucket of `url`, a URL [`Bucket::url_of`] made; `None` for a URL of
    /// another bucket.
    pub fn rel_of_url(&self, url: &str) -> Option<String> {
        let base = format!("{}/", self.url.display().trim_end_matches('/'));
        url.strip_prefix(&base).filter(|r| !r.is_empty()).map(str::to_string)
    }

    /// Copies the object at `rel` to the local file `local`, streamed (written under a
    /// temporary name, renamed when complete).
    pub async fn download(&self, rel: &str, local: &Path) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let tmp = local.with_file_name(temp_name(&local.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
        let result = async {
            let got = self.store.get(&self.key(rel)).await.map_err(|e| self.error("read", rel, e))?;
            let mut stream = got.into_stream();
            let mut f = tokio::fs::File::create(&tmp).await.map_err(|e| Error::io("create file", &tmp, e))?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.error("read", rel, e))?;
                f.write_all(&chunk).await.map_err(|e| Error::io("write file", &tmp, e))?;
            }
            f.flush().await.map_err(|e| Error::io("write file", &tmp, e))?;
            drop(f);
            tokio::fs::rename(&tmp, local).await.map_err(|e| Error::io("rename file", local, e))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// Uploads the local file `local` to `rel`, holding `budget` for its buffers.
    pub async fn upload_file(&self, local: &Path, rel: &str, budget: &UploadBudget) -> Result<()> {
        if let BucketUrl::Local(root) = &self.url {
            return write_local(root.join(rel), LocalData::File(local.to_path_buf())).await;
        }
        let key = self.key(rel);
        let size = tokio::fs::metadata(local).await.map_err(|e| Error::io("read job file", local, e))?.len();
        if size <= self.caps.single_put_max || !self.caps.multipart_upload {
            // one request: the store (GCS emulators, small files) gets the whole file at once
            let _held = budget.reserve(size).await?;
            let data = tokio::fs::read(local).await.map_err(|e| Error::io("read job file", local, e))?;
            self.store.put(&key, PutPayload::from(Bytes::from(data))).await.map_err(|e| self.error("upload", rel, e))?;
            return Ok(());
        }
        use tokio::io::AsyncReadExt;
        let _held = budget.reserve(((PARTS_IN_FLIGHT + 1) * PART_SIZE) as u64).await?;
        let upload = self.store.put_multipart(&key).await.map_err(|e| self.error("start upload", rel, e))?;
        let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut f = tokio::fs::File::open(local).await.map_err(|e| Error::io("open job file", local, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let r: Result<()> = async {
            loop {
                let n = f.read(&mut buf).await.map_err(|e| Error::io("read job file", local, e))?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(|e| self.error("upload part", rel, e))?;
                w.write(&buf[..n]);
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => {
                w.finish().await.map_err(|e| self.error("finish upload", rel, e))?;
                Ok(())
            }
            Err(e) => {
                // do not leave the parts behind (S3 bills them until aborted)
                let _ = w.abort().await;
                Err(e)
            }
        }
    }

    /// Every object below the folder `dir_rel`, as paths relative to the bucket prefix.
    pub async fn list(&self, dir_rel: &str) -> Result<Vec<String>> {
        let key = self.key(dir_rel.trim_end_matches('/'));
        let base = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        let items: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&key)).try_collect().await.map_err(|e| self.error("list", dir_rel, e))?;
        Ok(items
            .into_iter()
            .map(|m| m.location.as_ref().strip_prefix(base.as_str()).unwrap_or(m.location.as_ref()).to_string())
            .filter(|rel| !rel.is_empty() && !rel.ends_with('/'))
            .collect())
    }

    /// Deletes objects (relative to the bucket prefix); missing ones are fine. `what` names
    /// them in an error. Returns how many were asked for.
    pub async fn delete_many(&self, rels: Vec<String>, what: &str) -> Result<usize> {
        if rels.is_empty() {
            return Ok(0);
        }
        let n = rels.len();
        let locations: Vec<object_store::Result<object_store::path::Path>> = rels.iter().map(|r| Ok(self.key(r))).collect();
        let mut results = self.store.delete_stream(futures::stream::iter(locations).boxed());
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) if self.classify(&e) == Failure::NotFound => {}
                Err(e) => return Err(self.error("delete", what, e)),
            }
        }
        Ok(n)
    }

    /// Removes files an aborted load wrote (relative to the bucket prefix), and in a local
    /// folder their temporary names too; what is not there (or cannot be, a file where a
    /// folder would be) is fine. Returns how many were removed (remote: asked for).
    pub async fn remove_written(&self, rels: Vec<String>, what: &str) -> Result<usize> {
        let BucketUrl::Local(root) = &self.url else {
            return self.delete_many(rels, what).await;
        };
        let root = root.clone();
        tokio::task::spawn_blocking(move || -> Result<usize> {
            let mut n = 0;
            for rel in rels {
                let path = root.join(&rel);
                let tmp = path.with_file_name(temp_name(path.file_name().and_then(|f| f.to_str()).unwrap_or_default()));
                for p in [path, tmp] {
                    match std::fs::remove_file(&p) {
                        Ok(()) => n += 1,
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {}
                        Err(e) => return Err(Error::io("remove file of an aborted load", &p, e)),
                    }
                }
            }
            Ok(n)
        })
        .await
        .map_err(|e| Error::internal(format!("remove task failed: {e}")))?
    }
}

/// Writes a local file through its temporary name: fsync, rename, and no temporary file left
/// behind, whether the write succeeds or fails (a full disk).
async fn write_local(dest: PathBuf, data: LocalData) -> Result<()> {
    tokio::task::spawn_blocking(move || -> Result<()> {
        let parent = dest.parent().expect("a file path has a parent");
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, e))?;
        let tmp = dest.with_file_name(temp_name(dest.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
        let written = (|| -> Result<()> {
            match &data {
                LocalData::Bytes(b) => std::fs::write(&tmp, b).map_err(|e| Error::io("write file", &tmp, e))?,
                LocalData::File(src) => {
                    match std::fs::remove_file(&tmp) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(Error::io("remove stale temporary file", &tmp, e)),
                    }
                    if std::fs::hard_link(src, &tmp).is_err() {
                        std::fs::copy(src, &tmp).map_err(|e| Error::io("copy job file", &tmp, e))?;
                    }
                }
            }
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::io("sync file", &tmp, e))?;
            std::fs::rename(&tmp, &dest).map_err(|e| Error::io("rename file", &dest, e))?;
            // a job run again after a crash links the same job file as the first attempt:
            // renaming a link over another link of the same file does nothing (POSIX), and
            // would leave the temporary name behind
            match std::fs::remove_file(&tmp) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io("remove temporary file", &tmp, e)),
            }
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    })
    .await
    .map_err(|e| Error::internal(format!("write task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &Path) -> Bucket {
        crate::open(&BucketUrl::Local(dir.to_path_buf()), &crate::StoreOptions::default()).expect("local bucket")
    }

    #[tokio::test]
    async fn local_put_and_upload_leave_no_temporary_file_also_when_run_again() {
        let dir = tempfile::tempdir().unwrap();
        let b = local(&dir.path().join("bucket"));
        b.put_atomic("ds/a/x.json", b"{}".to_vec()).await.unwrap();
        let job = dir.path().join("job.parquet");
        std::fs::write(&job, b"data").unwrap();
        // the second upload of the same job file is a rename over a link of the same file
        b.upload_file(&job, "ds/t/1.parquet", &UploadBudget::default()).await.unwrap();
        b.upload_file(&job, "ds/t/1.parquet", &UploadBudget::default()).await.unwrap();
        let mut listed = b.list("ds").await.unwrap();
        listed.sort();
        assert_eq!(listed, vec!["ds/a/x.json", "ds/t/1.parquet"]);
        let hidden: Vec<_> = std::fs::read_dir(dir.path().join("bucket/ds/t")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(hidden.len(), 1, "{hidden:?}");
        assert_eq!(b.remove_written(vec!["ds/t/1.parquet".into(), "ds/a/x.json/nope".into()], "ds").await.unwrap(), 1);
        assert_eq!(b.list("ds").await.unwrap(), vec!["ds/a/x.json"]);
        assert_eq!(b.delete_many(vec!["ds/a/x.json".into(), "ds/missing".into()], "ds").await.unwrap(), 2);
        assert!(b.list("ds").await.unwrap().is_empty());
    }

    #[test]
    fn temporary_names_fit_in_a_file_name() {
        assert_eq!(temp_name("a.jsonl"), ".a.jsonl.tmp");
        let (a, b) = (temp_name(&"a".repeat(255)), temp_name(&format!("{}b", "a".repeat(254))));
        assert!(a.len() <= MAX_NAME_BYTES && a.starts_with('.') && a.ends_with(".tmp"), "{a}");
        assert_ne!(a, b);
    }
}
