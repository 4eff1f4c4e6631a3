//! Opening Delta tables at a [`TableLocation`], and delta-rs errors as stevedore errors.

use std::sync::{Arc, Once};

use deltalake::logstore::{LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories};
use deltalake::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use stevedore_core::table_format::TableLocation;
use stevedore_core::{Error, ErrorKind};
use url::Url;

/// Remote schemes whose tables are reached through the destination's own store.
const SCHEMES: &[&str] = &["s3", "s3a", "az", "abfs", "abfss", "azure", "gs", "gcs"];

/// delta-rs' default log store (commits by conditional put: the commit file is created only
/// if absent) for a store we built ourselves.
#[derive(Debug, Default)]
struct ConditionalPutLogStore;

impl LogStoreFactory for ConditionalPutLogStore {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(prefixed_store, root_store, location, options))
    }
}

/// Registers delta-rs' conditional-put log store for the remote schemes stevedore serves
/// (`s3`, `az`, `abfss`, `gs`...). Idempotent; called before the first table is opened.
/// Existing registrations (e.g. delta-rs' own S3 handlers, registered by an application) are
/// kept.
pub fn register_schemes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let registry = logstore_factories();
        for s in SCHEMES {
            let url = Url::parse(&format!("{s}://")).expect("a scheme URL");
            if !registry.contains_key(&url) {
                registry.insert(url, Arc::new(ConditionalPutLogStore));
            }
        }
    });
}

/// `AWS_S3_ALLOW_UNSAFE_RENAME=true` in `deltalake_storage_options` (delta-rs' switch for
/// S3 stores without conditional writes: single writer only).
pub(crate) fn unsafe_rename(loc: &TableLocation) -> bool {
    loc.storage_options
        .expose()
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("AWS_S3_ALLOW_UNSAFE_RENAME") && v.trim().eq_ignore_ascii_case("true"))
}

fn parse_url(loc: &TableLocation) -> DeltaResult<Url> {
    Url::parse(&loc.url).map_err(|e| DeltaTableError::InvalidTableLocation(format!("{}: {e}", loc.url)))
}

fn builder(loc: &TableLocation) -> DeltaResult<DeltaTableBuilder> {
    register_schemes();
    let url = parse_url(loc)?;
    if url.scheme() == "file"
        && let Ok(p) = url.to_file_path()
    {
        std::fs::create_dir_all(&p).map_err(|e| DeltaTableError::Generic(format!("cannot create {}: {e}", p.display())))?;
    }
    let mut b = DeltaTableBuilder::from_url(url.clone())?.with_storage_options(crate::storage_options(loc));
    if let Some(store) = &loc.store {
        let guarded = crate::guard::GuardedStore::new(store.clone(), loc.url.clone(), unsafe_rename(loc));
        b = b.with_storage_backend(Arc::new(guarded), url);
    }
    Ok(b)
}

/// A table handle whose log is not loaded (for creating a table).
pub(crate) fn new_table(loc: &TableLocation) -> DeltaResult<DeltaTable> {
    builder(loc)?.build()
}

/// The table at `loc` with its newest version loaded, or `None` when there is no Delta table
/// there yet.
pub(crate) async fn load_table(loc: &TableLocation) -> DeltaResult<Option<DeltaTable>> {
    let mut t = builder(loc)?.build()?;
    match t.load().await {
        Ok(()) => Ok(Some(t)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A delta-rs error as a stevedore error naming the table; retryable when a store request or
/// a commit race failed (running the job again re-reads the table and commits anew).
pub(crate) fn error(table: &str, what: &str, e: DeltaTableError, loc: &TableLocation) -> Error {
    use deltalake::kernel::transaction::TransactionError;
    let retryable = match &e {
        DeltaTableError::ObjectStore { source } => is_transient(source),
        DeltaTableError::Transaction { source } => match source {
            TransactionError::VersionAlreadyExists(_) | TransactionError::MaxCommitAttempts(_) | TransactionError::CommitConflict(_) => {
                true
            }
            TransactionError::ObjectStore { source } => is_transient(source),
            _ => false,
        },
        _ => false,
    };
    let kind = match &e {
        DeltaTableError::SchemaMismatch { .. } | DeltaTableError::InvalidData { .. } => ErrorKind::InvalidData,
        _ => ErrorKind::Destination,
    };
    let mut text = e.to_string();
    for s in loc.secrets.expose() {
        if !s.is_empty() {
            text = text.replace(s.as_str(), "***");
        }
    }
    Error::new(kind, format!("Delta {what} of table `{table}` failed: {text}"))
        .with("table", table.to_string())
        .with("location", loc.url.clone())
        .retryable(retryable)
}

fn is_transient(e: &object_store::Error) -> bool {
    !matches!(
        e,
        object_store::Error::NotFound { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::InvalidPath { .. }
    )
}
