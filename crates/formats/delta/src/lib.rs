//! stevedore-delta: the Delta table format for the filesystem destination (dlt's
//! `table_format="delta"`), on delta-rs (`deltalake` 1.1 with DataFusion).
//!
//! [`DeltaWriter`] implements [`TableFormatWriter`]: one table's parquet job files of one load
//! package go into the Delta table at the table's folder in **one Delta commit**:
//!
//! - append: `write` in append mode;
//! - replace: `write` in overwrite mode (readers see the old or the new version, never an
//!   empty table); a replaced table with no rows in the load gets an empty overwrite;
//! - merge, strategy `upsert` (the default): a Delta `MERGE` on the primary key (nested tables
//!   on `_dlt_id`) that updates matched rows and inserts the others; `insert-only` inserts
//!   rows whose key is not in the table. `delete-insert` and `scd2` are refused with an error
//!   naming the supported strategies (see `docs/destinations/delta.md` for why);
//! - partition columns come from the `partition` column hint (at creation; partitioning
//!   cannot change later);
//! - schema evolution: new columns are added to the table schema in the same commit; a column
//!   whose type differs from the table's is an error naming table and column, checked before
//!   any commit of the package.
//!
//! Commits are idempotent per load: each carries a Delta application transaction
//! (`txn` action, app id `stevedore/<pipeline>`, version = the load id in microseconds); a
//! commit that finds its load already in the table's log does nothing.
//!
//! Storage: local folders through delta-rs' own local store; remote buckets (`s3://`,
//! `az://`...) through the store the filesystem destination built from its credentials (with
//! `deltalake_storage_options` applied), so credentials are resolved once, the same way as for
//! plain files. Commits use delta-rs' default log store: the commit file is created with a
//! conditional put (`If-None-Match: *` on S3), so concurrent writers cannot overwrite each
//! other's commits; no DynamoDB lock is needed (delta-rs 1.x dropped it).
//!
//! ```no_run
//! # fn demo() -> stevedore_core::Result<()> {
//! // the facade does this when its feature `delta` is on
//! let writer = stevedore_delta::writer();
//! # let _ = writer; Ok(()) }
//! ```

#![warn(missing_docs)]

mod guard;
mod schema;
mod source;
mod store;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use deltalake::DeltaTableError;
use deltalake::datafusion::prelude::{Expr, SessionContext};
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use stevedore_core::schema::{MergeStrategy, TableFormat};
use stevedore_core::table_format::{TableCommit, TableFormatWriter, TableWrite, TableWriteMode};
use stevedore_core::{Error, ErrorKind, Result};

pub use store::register_schemes;

/// Merge strategies the Delta writer supports, the default first.
pub const MERGE_STRATEGIES: &[MergeStrategy] = &[MergeStrategy::Upsert, MergeStrategy::InsertOnly];

/// The Delta writer, as an `Arc<dyn TableFormatWriter>` to register on the filesystem
/// destination (`Filesystem::builder().table_format(stevedore_delta::writer())`).
pub fn writer() -> Arc<dyn TableFormatWriter> {
    Arc::new(DeltaWriter::new())
}

/// Writes Delta tables (see the crate docs).
#[derive(Debug, Clone, Default)]
pub struct DeltaWriter {
    _private: (),
}

impl DeltaWriter {
    /// A writer with default settings.
    pub fn new() -> Self {
        DeltaWriter { _private: () }
    }
}

/// Application id of the `txn` actions stevedore writes for `pipeline`.
pub fn app_id(pipeline: &str) -> String {
    format!("stevedore/{pipeline}")
}

/// The `txn` version of a load: the load id (`<secs>.<fraction>`) in microseconds.
pub fn txn_version(load_id: &str) -> Result<i64> {
    let (secs, frac) = load_id.split_once('.').unwrap_or((load_id, ""));
    let mut frac = frac.to_string();
    frac.truncate(6);
    while frac.len() < 6 {
        frac.push('0');
    }
    let parsed = secs.parse::<i64>().ok().zip(frac.parse::<i64>().ok());
    match parsed {
        Some((s, f)) => Ok(s * 1_000_000 + f),
        None => Err(Error::new(ErrorKind::State, format!("load id `{load_id}` is not a timestamp"))),
    }
}

fn strategy_error(table: &str, strategy: MergeStrategy) -> Error {
    let supported: Vec<&str> = MERGE_STRATEGIES.iter().map(MergeStrategy::as_str).collect();
    let why = match strategy {
        MergeStrategy::DeleteInsert => {
            "delete-insert cannot be one safe Delta commit per table (deleting the nested rows of replaced records needs the \
             rows of another table)"
        }
        _ => "it is not implemented for Delta tables",
    };
    Error::new(ErrorKind::Unsupported, format!("merge strategy `{strategy}` is not supported for Delta table `{table}`: {why}"))
        .with("table", table.to_string())
        .with_hint(format!("use one of: {} (upsert is the default for Delta tables)", supported.join(", ")))
}

#[async_trait]
impl TableFormatWriter for DeltaWriter {
    fn format(&self) -> TableFormat {
        TableFormat::Delta
    }

    fn merge_strategies(&self) -> Vec<MergeStrategy> {
        MERGE_STRATEGIES.to_vec()
    }

    async fn check(&self, write: &TableWrite, file: &std::path::Path) -> Result<()> {
        let name = write.table.name.clone();
        if let TableWriteMode::Merge { strategy, .. } = &write.mode
            && !MERGE_STRATEGIES.contains(strategy)
        {
            return Err(strategy_error(&name, *strategy));
        }
        let file_schema = source::file_schema(file).map_err(|e| e.with("table", name.clone()))?;
        let target = schema::delta_schema(&file_schema);
        schema::check_partition_columns(&write.table, &target)?;
        let Some(table) = store::load_table(&write.location).await.map_err(|e| store::error(&name, "open", e, &write.location))? else {
            return Ok(());
        };
        schema::check_compatible(&name, &table, &target, &write.table)
    }

    async fn commit(&self, write: &TableWrite) -> Result<TableCommit> {
        let name = write.table.name.clone();
        let loc = &write.location;
        let err = |what: &str, e: DeltaTableError| store::error(&name, what, e, loc);
        let app = app_id(&write.pipeline_name);
        let version = txn_version(&write.load_id)?;

        let existing = store::load_table(loc).await.map_err(|e| err("open", e))?;
        if let Some(t) = &existing {
            let done = t
                .snapshot()
                .map_err(|e| err("read", e))?
                .transaction_version(t.log_store().as_ref(), &app)
                .await
                .map_err(|e| err("read", e))?;
            if done.is_some_and(|v| v >= version) {
                tracing::info!(table = %name, load_id = %write.load_id, "load already committed to the Delta table");
                return Ok(TableCommit { version: t.version(), rows: 0, already_committed: true });
            }
        }
        if existing.is_none() && write.files.is_empty() {
            // a replace with no rows of a table that was never written: nothing to empty
            return Ok(TableCommit::default());
        }

        let native = schema::native_schema(&write.table);
        let target = schema::delta_schema(&native);
        if target.fields().is_empty() {
            return Ok(TableCommit::default());
        }
        schema::check_partition_columns(&write.table, &target)?;
        if let Some(t) = &existing {
            schema::check_compatible(&name, t, &target, &write.table)?;
        }
        let ctx: SessionContext = deltalake::delta_datafusion::create_session().into_inner();
        let (df, rows) = source::frame(&ctx, &write.files, &native, &target).await.map_err(|e| e.with("table", name.clone()))?;

        let commit_props = || {
            CommitProperties::default().with_application_transaction(Transaction::new(&app, version)).with_metadata([
                ("stevedore_load_id".to_string(), serde_json::Value::String(write.load_id.clone())),
                ("stevedore_pipeline".to_string(), serde_json::Value::String(write.pipeline_name.clone())),
            ])
        };
        let partitions: Vec<String> = write.table.columns_with_hint("partition").into_iter().map(|c| c.name.clone()).collect();

        let table = match existing {
            Some(t) => t,
            None => store::new_table(loc).map_err(|e| err("open", e))?,
        };
        let table_exists = table.version().is_some();
        let mode = match &write.mode {
            TableWriteMode::Merge { .. } if !table_exists => TableWriteMode::Append,
            m => m.clone(),
        };
        let state: Arc<dyn deltalake::datafusion::catalog::Session> = Arc::new(ctx.state());
        let result = match &mode {
            TableWriteMode::Append | TableWriteMode::Overwrite => {
                let save = if mode == TableWriteMode::Overwrite { SaveMode::Overwrite } else { SaveMode::Append };
                let mut b = table
                    .write(Vec::new())
                    .with_input_plan(df.logical_plan().clone())
                    .with_session_state(state)
                    .with_save_mode(save)
                    .with_schema_mode(SchemaMode::Merge)
                    .with_table_name(name.clone())
                    .with_commit_properties(commit_props());
                if !partitions.is_empty() {
                    b = b.with_partition_columns(partitions.clone());
                }
                b.await.map_err(|e| err("write", e))?
            }
            TableWriteMode::Merge { strategy, keys } => {
                if !MERGE_STRATEGIES.contains(strategy) {
                    return Err(strategy_error(&name, *strategy));
                }
                let predicate = keys
                    .iter()
                    .map(|k| qualified("target", k).eq(qualified("source", k)))
                    .reduce(Expr::and)
                    .expect("merge keys are not empty");
                let columns: Vec<String> = target.fields().iter().map(|f| f.name().clone()).collect();
                let mut b = table
                    .merge(df, predicate)
                    .with_source_alias("source")
                    .with_target_alias("target")
                    .with_session_state(state)
                    .with_merge_schema(true)
                    .with_streaming(true)
                    .with_commit_properties(commit_props());
                if *strategy == MergeStrategy::Upsert {
                    let cols = columns.clone();
                    b = b
                        .when_matched_update(move |mut u| {
                            for c in &cols {
                                u = u.update(c.as_str(), qualified("source", c));
                            }
                            u
                        })
                        .map_err(|e| err("merge", e))?;
                }
                b = b
                    .when_not_matched_insert(move |mut i| {
                        for c in &columns {
                            i = i.set(c.as_str(), qualified("source", c));
                        }
                        i
                    })
                    .map_err(|e| err("merge", e))?;
                let (t, metrics) = b.await.map_err(|e| err("merge", e))?;
                tracing::debug!(table = %name, ?metrics, "delta merge");
                t
            }
            other => {
                return Err(Error::new(ErrorKind::Unsupported, format!("Delta table `{name}`: write mode {other} is not supported"))
                    .with("table", name.clone()));
            }
        };
        Ok(TableCommit { version: result.version(), rows, already_committed: false })
    }
}

/// `alias.column` as a DataFusion column expression (no SQL parsing of the name).
fn qualified(alias: &str, column: &str) -> Expr {
    Expr::Column(deltalake::datafusion::common::Column::new(Some(alias), column))
}

/// Storage options as delta-rs takes them.
pub(crate) fn storage_options(loc: &stevedore_core::table_format::TableLocation) -> HashMap<String, String> {
    loc.storage_options.expose().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_version_is_the_load_id_in_microseconds() {
        assert_eq!(txn_version("1714485123.4567891").unwrap(), 1_714_485_123_456_789);
        assert_eq!(txn_version("1714485123.45").unwrap(), 1_714_485_123_450_000);
        assert_eq!(txn_version("1714485123").unwrap(), 1_714_485_123_000_000);
        assert!(txn_version("x").is_err());
        assert!(txn_version("1714485123.5").unwrap() > txn_version("1714485123.45").unwrap());
    }

    fn table() -> stevedore_core::schema::Table {
        use stevedore_core::schema::{Column, DataType, Table};
        let mut t = Table::new("t");
        t.add_column(Column::new("id", DataType::Bigint).hint("primary_key"));
        t.add_column(Column::new("at", DataType::Time));
        t
    }

    fn job_file(dir: &std::path::Path, name: &str, ids: Vec<i64>) -> std::path::PathBuf {
        use deltalake::arrow::array::{ArrayRef, Int64Array, Time64MicrosecondArray};
        let native = schema::native_schema(&table());
        let n = ids.len();
        let batch = deltalake::arrow::record_batch::RecordBatch::try_new(
            native.clone(),
            vec![
                std::sync::Arc::new(Int64Array::from(ids)) as ArrayRef,
                std::sync::Arc::new(Time64MicrosecondArray::from(vec![3_600_000_000; n])) as ArrayRef,
            ],
        )
        .unwrap();
        let p = dir.join(name);
        let mut w = deltalake::parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&p).unwrap(), native, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        p
    }

    fn write(dir: &std::path::Path, files: Vec<std::path::PathBuf>, mode: TableWriteMode, load_id: &str) -> TableWrite {
        TableWrite {
            table: table(),
            location: stevedore_core::table_format::TableLocation {
                url: format!("file://{}", dir.join("t").display()),
                store: None,
                storage_options: Default::default(),
                secrets: Default::default(),
            },
            files,
            mode,
            pipeline_name: "p".into(),
            load_id: load_id.into(),
        }
    }

    #[tokio::test]
    async fn a_load_is_committed_once() {
        let d = tempfile::tempdir().unwrap();
        let f = job_file(d.path(), "a.parquet", vec![1, 2, 3]);
        let w = DeltaWriter::new();
        let c = w.commit(&write(d.path(), vec![f.clone()], TableWriteMode::Append, "1700000000.5")).await.unwrap();
        assert_eq!((c.version, c.rows, c.already_committed), (Some(0), 3, false));
        // the same load again (a job resumed after a crash): nothing is written
        let c = w.commit(&write(d.path(), vec![f.clone()], TableWriteMode::Append, "1700000000.5")).await.unwrap();
        assert_eq!((c.version, c.already_committed), (Some(0), true));
        // a later load: upsert 3, insert 4
        let g = job_file(d.path(), "b.parquet", vec![3, 4]);
        let merge = TableWriteMode::Merge { strategy: MergeStrategy::Upsert, keys: vec!["id".into()] };
        let c = w.commit(&write(d.path(), vec![g.clone()], merge, "1700000001")).await.unwrap();
        assert_eq!((c.version, c.already_committed), (Some(1), false));
        let t = store::load_table(&write(d.path(), vec![], TableWriteMode::Append, "1").location).await.unwrap().unwrap();
        let arrow = t.snapshot().unwrap().snapshot().arrow_schema();
        assert_eq!(arrow.field_with_name("at").unwrap().data_type(), &deltalake::arrow::datatypes::DataType::Utf8);
        // a merge strategy Delta cannot do is refused by the check, before any commit
        let di = TableWriteMode::Merge { strategy: MergeStrategy::DeleteInsert, keys: vec!["id".into()] };
        let e = w.check(&write(d.path(), vec![g.clone()], di, "1700000002"), &g).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }

    #[test]
    fn unsupported_strategies_name_the_supported_ones() {
        let e = strategy_error("events", MergeStrategy::DeleteInsert);
        let t = e.to_string();
        assert!(t.contains("events") && t.contains("delete-insert"), "{t}");
        assert!(e.hint().unwrap().contains("upsert, insert-only"));
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }
}
