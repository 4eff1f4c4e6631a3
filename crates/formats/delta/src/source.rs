//! A load's parquet job files as one DataFusion frame, streamed (never all in memory), in the
//! table's schema with Delta-compatible types.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use deltalake::arrow::datatypes::{Schema as ArrowSchema, SchemaRef};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::dataframe::DataFrame;
use deltalake::datafusion::logical_expr::{Expr, cast};
use deltalake::datafusion::prelude::{ParquetReadOptions, SessionContext, ident};
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use stevedore_core::{Error, ErrorKind, Result};

/// The Arrow schema of one parquet job file.
pub(crate) fn file_schema(path: &Path) -> Result<SchemaRef> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("open job file", path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| Error::invalid_data(format!("job file {} is not parquet: {e}", path.display())))?;
    Ok(b.schema().clone())
}

/// Rows in the job files (from the parquet footers).
fn row_count(files: &[PathBuf]) -> Result<u64> {
    let mut n = 0u64;
    for p in files {
        let f = std::fs::File::open(p).map_err(|e| Error::io("open job file", p, e))?;
        let b = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| Error::invalid_data(format!("job file {} is not parquet: {e}", p.display())))?;
        n += b.metadata().file_metadata().num_rows().max(0) as u64;
    }
    Ok(n)
}

/// The job files read as one frame with `native`'s columns (in its order; columns a file
/// lacks are null), cast to `target`'s types (Delta types, same columns). No files: an empty
/// frame.
pub(crate) async fn frame(ctx: &SessionContext, files: &[PathBuf], native: &SchemaRef, target: &SchemaRef) -> Result<(DataFrame, u64)> {
    if files.is_empty() {
        let df = ctx
            .read_batch(RecordBatch::new_empty(target.clone()))
            .map_err(|e| Error::internal(format!("cannot build an empty frame: {e}")))?;
        return Ok((df, 0));
    }
    let rows = row_count(files)?;
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let opts = ParquetReadOptions::default().schema(native.as_ref()).file_extension(".parquet");
    let df = ctx
        .read_parquet(paths, opts)
        .await
        .map_err(|e| Error::new(ErrorKind::InvalidData, format!("cannot read the load's parquet files: {e}")))?;
    let exprs: Vec<Expr> = target
        .fields()
        .iter()
        .zip(native.fields())
        .map(|(t, f)| {
            let c = ident(t.name());
            if t.data_type() == f.data_type() { c } else { cast(c, t.data_type().clone()).alias(t.name()) }
        })
        .collect();
    let df = df.select(exprs).map_err(|e| Error::internal(format!("cannot project the load's rows: {e}")))?;
    Ok((df, rows))
}

/// A schema without field metadata (DataFusion compares it with the files' schemas).
pub(crate) fn plain(schema: &ArrowSchema) -> SchemaRef {
    Arc::new(ArrowSchema::new(schema.fields().iter().map(|f| f.as_ref().clone().with_metadata(Default::default())).collect::<Vec<_>>()))
}
