//! The store delta-rs gets for a remote table: the destination's store behind a thin guard.
//!
//! - `Debug` / `Display` name the table location only (delta-rs logs its store at debug
//!   level; the inner client's `Debug` shows key material).
//! - `list_with_offset` also filters client-side: Azure pushes the offset down as `startFrom`,
//!   which some Azure-compatible servers (azurite) ignore; delta-rs then sees log entries
//!   before the version it asked for and fails ("Invalid table version").
//! - With `AWS_S3_ALLOW_UNSAFE_RENAME=true` (delta-rs' name for "single writer, no safe
//!   commits"), a create-if-absent put becomes "check, then put": for S3-compatible stores
//!   without conditional writes, at the price of concurrent writers overwriting each other's
//!   commits.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

pub(crate) struct GuardedStore {
    inner: Arc<dyn ObjectStore>,
    label: String,
    unsafe_create: bool,
}

impl GuardedStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, label: String, unsafe_create: bool) -> Self {
        GuardedStore { inner, label, unsafe_create }
    }
}

impl fmt::Debug for GuardedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GuardedStore({})", self.label)
    }
}

impl fmt::Display for GuardedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store of {}", self.label)
    }
}

#[async_trait]
impl ObjectStore for GuardedStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        if self.unsafe_create && matches!(opts.mode, PutMode::Create) {
            match self.inner.head(location).await {
                Ok(_) => {
                    return Err(object_store::Error::AlreadyExists {
                        path: location.to_string(),
                        source: "the object exists (checked before an unconditional put: AWS_S3_ALLOW_UNSAFE_RENAME)".into(),
                    });
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            let opts = PutOptions { mode: PutMode::Overwrite, ..opts };
            return self.inner.put_opts(location, payload, opts).await;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        let offset = offset.clone();
        self.inner
            .list_with_offset(prefix, &offset)
            .filter(move |r| futures::future::ready(r.as_ref().map_or(true, |m| m.location > offset)))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}
