//! Open table formats (Delta, later Iceberg) as plugins of the filesystem destination.
//!
//! A [`TableFormatWriter`] commits one table's job files of one load package into a table of
//! its format at a [`TableLocation`], in **one commit**: append, overwrite (replace) or merge
//! ([`TableWriteMode`]). The filesystem destination hands every table whose `table_format`
//! is set to the writer registered for that format, so the filesystem crate never depends on
//! a table-format library (deltalake and its DataFusion stay behind the facade's `delta`
//! feature).
//!
//! Contract:
//! - [`TableFormatWriter::check`] runs for every data job before any commit of the package:
//!   it validates what can be validated without writing (strategy supported, partition columns
//!   present in the data, the data's schema compatible with an existing table) and must not
//!   write anything. A failure here aborts the package with nothing committed.
//! - [`TableFormatWriter::commit`] writes the data files and commits them in one atomic
//!   commit; readers see the table before or after it, never in between. It must be
//!   idempotent per `(pipeline_name, load_id)`: a commit that already landed (the loader ran it
//!   again after a crash) is detected and not repeated ([`TableCommit::already_committed`]).
//! - Errors name the table (and the column, when one is at fault) and say whether a retry may
//!   help; a failed commit leaves the previous version of the table readable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::ObjectStore;

use crate::config::Secret;
use crate::error::Result;
use crate::schema::{MergeStrategy, Table, TableFormat};

/// Where a table of a table format lives, and how to reach it.
#[derive(Clone)]
pub struct TableLocation {
    /// URL of the table folder: `file:///abs/bucket/dataset/table`,
    /// `s3://bucket/prefix/dataset/table`, `az://container/prefix/dataset/table`...
    pub url: String,
    /// The bucket's store, rooted at the bucket (its keys are the URL's path without the
    /// leading `/`), with the destination's credentials, endpoint, retries and the
    /// `deltalake_storage_options` that configure the store already applied. `None` for local
    /// folders: the writer uses the local file system.
    pub store: Option<Arc<dyn ObjectStore>>,
    /// Options for the table-format library (`[destination.filesystem]
    /// deltalake_storage_options`), keys as the user wrote them. May hold secrets: never
    /// printed.
    pub storage_options: Secret<BTreeMap<String, String>>,
    /// Secret values (keys, tokens) to scrub from error texts.
    pub secrets: Secret<Vec<String>>,
}

impl fmt::Debug for TableLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableLocation")
            .field("url", &self.url)
            .field("store", &self.store.as_ref().map(|_| "<store>"))
            .field("storage_options", &self.storage_options.expose().keys().collect::<Vec<_>>())
            .finish()
    }
}

/// How the rows of a load combine with the table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableWriteMode {
    /// Add the rows.
    Append,
    /// Replace the table's rows with these (possibly none) in one commit.
    Overwrite,
    /// Merge on `keys` with `strategy`.
    Merge {
        /// The merge strategy (the writer refuses those it does not support).
        strategy: MergeStrategy,
        /// Columns matched between the load's rows and the table's: the primary key of root
        /// tables, `_dlt_id` of nested tables.
        keys: Vec<String>,
    },
}

impl fmt::Display for TableWriteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableWriteMode::Append => f.write_str("append"),
            TableWriteMode::Overwrite => f.write_str("overwrite"),
            TableWriteMode::Merge { strategy, keys } => write!(f, "merge ({strategy} on {})", keys.join(", ")),
        }
    }
}

/// One table's share of a load package, for one commit.
#[derive(Debug, Clone)]
pub struct TableWrite {
    /// The table as the package's schema has it (columns in order, types, hints such as
    /// `partition`, `primary_key`, `nullable`).
    pub table: Table,
    /// Where the table lives.
    pub location: TableLocation,
    /// The load's parquet job files of this table, on local disk (may be empty: an overwrite
    /// with no rows empties the table).
    pub files: Vec<PathBuf>,
    /// Append, overwrite or merge.
    pub mode: TableWriteMode,
    /// Pipeline name (with the load id, the idempotency key of the commit).
    pub pipeline_name: String,
    /// Load id.
    pub load_id: String,
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableCommit {
    /// Table version after the commit (Delta: the log version).
    pub version: Option<u64>,
    /// Rows in the committed files (appended, overwritten or merged source rows).
    pub rows: u64,
    /// The same load had already been committed (found in the table's log); nothing was written.
    pub already_committed: bool,
}

/// Writes tables of one open table format. Object-safe; register one per format on the
/// filesystem destination (`Filesystem::builder().table_format(..)`).
#[async_trait]
pub trait TableFormatWriter: Send + Sync + fmt::Debug {
    /// The format written.
    fn format(&self) -> TableFormat;
    /// Merge strategies [`TableFormatWriter::commit`] accepts, the default first.
    fn merge_strategies(&self) -> Vec<MergeStrategy>;
    /// Validates one job file of `write` (one of `write.files`) before any commit of the
    /// package; writes nothing. Default: nothing to check.
    async fn check(&self, _write: &TableWrite, _file: &std::path::Path) -> Result<()> {
        Ok(())
    }
    /// Commits `write.files` into the table in one commit.
    async fn commit(&self, write: &TableWrite) -> Result<TableCommit>;
}
