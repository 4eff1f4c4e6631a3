//! Job-file writers: Arrow [`RecordBatch`]es of one table into `jsonl`, `parquet` or `csv`
//! files, optionally gzip-compressed, rotated by row count, byte size and schema change.
//!
//! The output mirrors what dlt 1.x writes into a load package:
//!
//! * **jsonl** — one JSON object per line, keys in column order, null values left out,
//!   timestamps, dates and times as ISO-8601 strings (fractional seconds only when non-zero,
//!   like Python's `isoformat`), decimals as JSON strings, binary as base64 strings, floats
//!   formatted like `orjson` (`74.8723`, `1.0`, `1e+20`, `1e-7`; NaN and ±inf count as null),
//!   columns typed `json` embedded as raw JSON. Gzip by default (`.jsonl.gz`).
//! * **parquet** — written with [`ArrowWriter`], snappy-compressed by default, field and schema
//!   metadata stripped so the Arrow schema looks like dlt's. Never gzip-wrapped.
//! * **csv** — header row, `,` delimiter, `\n` line terminator, quoting like dlt's default
//!   `quote_needed` for Arrow data (pyarrow's `needed` style: text values are always quoted,
//!   numbers, booleans and temporal values never), nulls as empty fields, temporal values and
//!   binary (base64) formatted as in jsonl, `json` columns as JSON text. Gzip by default
//!   (`.csv.gz`).
//!
//! A column is typed `json` when its Arrow field carries the metadata
//! [`JSON_TYPE_METADATA_KEY`]` = `[`JSON_TYPE_METADATA_VALUE`] on a string field holding
//! serialized JSON.
//!
//! Files are named `<table>.<file_id>.0.<ext>[.gz]` (dlt's job file name with retry count 0)
//! and written under a hidden temporary name (`.<final name>.tmp`) in the same directory; on
//! close they are flushed, fsync'd and renamed, so a crash never leaves a half-written file
//! under a final name.
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc};
//! # use arrow_array::{Int64Array, RecordBatch};
//! # use arrow_schema::{DataType, Field, Schema};
//! # use stevedore_core::writers::{FileFormat, TableWriter, WriterConfig};
//! let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
//! let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
//! let mut writer = TableWriter::new(Path::new("/tmp/pkg/new_jobs"), "items", WriterConfig::new(FileFormat::Jsonl));
//! writer.write(&batch).unwrap();
//! let files = writer.finish().unwrap();
//! assert_eq!(files[0].rows, 2);
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, BinaryArray, BinaryViewArray, BooleanArray, Decimal256Array, FixedSizeBinaryArray, Float16Array, LargeBinaryArray,
    LargeStringArray, RecordBatch, RecordBatchOptions, StringArray, StringViewArray,
};
use arrow_buffer::NullBuffer;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use base64::Engine as _;
use flate2::write::GzEncoder;

/// Default gzip level of jsonl and csv job files.
pub const DEFAULT_GZIP_LEVEL: u32 = 5;
use parquet::arrow::{ArrowWriter, arrow_writer::ArrowWriterOptions};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use serde_json::ser::Formatter as _;

#[cfg(test)]
mod insert_values_tests;
mod parquet_tuning;
mod table;
#[cfg(test)]
mod tests;
mod text;

use self::parquet_tuning::*;
pub use self::table::TableWriter;
use self::table::*;
use self::text::*;

/// Arrow field metadata key that carries a dlt data type hint.
pub const JSON_TYPE_METADATA_KEY: &str = "stevedore.data_type";
/// Value of [`JSON_TYPE_METADATA_KEY`] that marks a string column holding serialized JSON.
pub const JSON_TYPE_METADATA_VALUE: &str = "json";

/// Size of the in-memory line buffer and of the `BufWriter` below the file (256 KiB).
const IO_BUFFER_BYTES: usize = 256 * 1024;
/// When `file_max_bytes` is set, batches are written in slices of at most this many rows so
/// the size check after each slice stays close to the limit.
const BYTES_CHECK_ROWS: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Formats and configuration
// ---------------------------------------------------------------------------------------------

/// A job file format this module writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Newline-delimited JSON objects (`.jsonl`).
    Jsonl,
    /// Apache Parquet (`.parquet`).
    Parquet,
    /// Comma-separated values with a header row (`.csv`).
    Csv,
    /// A SQL `INSERT ... VALUES` statement (`.insert_values`), dlt's format for SQL
    /// destinations: first line `INSERT INTO {}("c1","c2")` (the destination puts the
    /// qualified table name in place of `{}`), then `VALUES`, then one row per line
    /// (`(..),` and `(..);` for the last). Strings are `E'...'` literals with `\`, `'`, line
    /// breaks escaped, binary `E'\\x..'` (hex), numbers and booleans bare, NULL for nulls.
    InsertValues,
}

impl FileFormat {
    /// The file extension without the dot and without a compression suffix.
    pub fn extension(&self) -> &'static str {
        match self {
            FileFormat::Jsonl => "jsonl",
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
            FileFormat::InsertValues => "insert_values",
        }
    }

    /// Whether the format may be gzip-wrapped (`jsonl`, `csv`); parquet compresses internally.
    pub fn supports_compression(&self) -> bool {
        !matches!(self, FileFormat::Parquet)
    }

    /// Whether a file of this format can take batches with a different column set (only
    /// `jsonl`; parquet and csv files are rotated instead).
    pub fn supports_schema_changes(&self) -> bool {
        matches!(self, FileFormat::Jsonl)
    }

    /// Parses a dlt `loader_file_format` name (`jsonl`, `parquet`, `csv`; ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [FileFormat::Jsonl, FileFormat::Parquet, FileFormat::Csv, FileFormat::InsertValues]
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// How csv values are quoted (dlt's `CsvFormatConfiguration.quoting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CsvQuoting {
    /// dlt's default `quote_needed` (pyarrow's `needed`): header names and every text value
    /// (strings, json, base64 binary, nested values) are quoted; numbers, booleans and
    /// temporal values are not. Nulls are empty unquoted fields, so an empty string (`""`)
    /// and a null stay distinguishable.
    #[default]
    Needed,
    /// `quote_all`: every non-null value and the header are quoted; nulls stay empty.
    All,
    /// `quote_minimal`: values are quoted only if they contain the delimiter, a quote or a line
    /// break, or are empty strings (so they are not read back as null).
    Minimal,
}

/// Configuration of a [`TableWriter`].
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The file format to write.
    pub format: FileFormat,
    /// Gzip-compress `jsonl` and `csv` files (adds `.gz` to the name); ignored for parquet.
    /// dlt's `disable_compression = false` ⇒ default `true`.
    pub compression: bool,
    /// Gzip level 0–9. Default 5: with zlib-rs its files are within about 1% of the size of
    /// dlt's (CPython's zlib at level 9) and it compresses 1.4x faster than level 6 (see
    /// `docs/design.md`).
    pub gzip_level: u32,
    /// Rotate to a new file once a file holds this many rows; a batch that would overflow is
    /// split. `None`: no limit (dlt's default).
    pub file_max_items: Option<usize>,
    /// Rotate to a new file once a file reaches this many bytes: compressed bytes handed to the
    /// file for jsonl/csv (the compressor's internal buffer lags by a few KiB), bytes written
    /// plus the in-progress row group estimate for parquet. Checked after every slice of up to
    /// 1024 rows. `None`: no limit.
    pub file_max_bytes: Option<u64>,
    /// Maximum rows per parquet row group. Default 1 048 576, pyarrow's (and so dlt's) default.
    pub parquet_row_group_rows: usize,
    /// Maximum encoded bytes buffered for one parquet row group before it is flushed, bounding
    /// memory for wide tables. Default 128 MiB; `None` disables the limit.
    pub parquet_row_group_bytes: Option<usize>,
    /// Parquet compression codec. Default snappy (pyarrow's default).
    pub parquet_compression: Compression,
    /// Parquet writer version. Default [`WriterVersion::PARQUET_1_0`]: data pages v1 with
    /// PLAIN / RLE_DICTIONARY encodings, the page layout pyarrow writes and every warehouse
    /// reads. Logical types (timestamp with `isAdjustedToUTC`, time, date, decimal, string) are
    /// written with either version. `PARQUET_2_0` switches to data pages v2 and DELTA
    /// encodings, which some loaders do not read.
    pub parquet_writer_version: WriterVersion,
    /// Csv field delimiter (one ASCII byte, not `"`, `\r` or `\n`). Default `,`.
    pub csv_delimiter: u8,
    /// Write a header row in csv files. Default `true`.
    pub csv_include_header: bool,
    /// Csv quoting style. Default [`CsvQuoting::Needed`].
    pub csv_quoting: CsvQuoting,
    /// How `insert_values` files write literals (the destination's dialect). Default
    /// [`SqlLiterals::Postgres`].
    pub sql_literals: SqlLiterals,
}

/// How `insert_values` job files write SQL literals: the destination's dialect, as dlt's
/// `escape_literal` capability chooses per destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqlLiterals {
    /// PostgreSQL: strings as `E'..'` with backslash escapes, binary as `E'\\x..'`, JSON as
    /// a string.
    #[default]
    Postgres,
    /// Redshift: strings as `'..'` with backslash escapes (Redshift keeps them in plain
    /// strings), binary as `from_hex('..')`, JSON as `json_parse('..')`.
    Redshift,
}

impl WriterConfig {
    /// Defaults (dlt's) for `format`.
    pub fn new(format: FileFormat) -> Self {
        WriterConfig {
            format,
            compression: true,
            gzip_level: DEFAULT_GZIP_LEVEL,
            file_max_items: None,
            file_max_bytes: None,
            parquet_row_group_rows: 65_536,
            parquet_row_group_bytes: Some(4 * 1024 * 1024),
            parquet_compression: Compression::SNAPPY,
            parquet_writer_version: WriterVersion::PARQUET_1_0,
            csv_delimiter: b',',
            csv_include_header: true,
            csv_quoting: CsvQuoting::Needed,
            sql_literals: SqlLiterals::Postgres,
        }
    }

    /// Whether files written with this configuration are gzip-wrapped.
    pub fn is_compressed(&self) -> bool {
        self.compression && self.format.supports_compression()
    }
}

impl Default for WriterConfig {
    /// Defaults for [`FileFormat::Jsonl`].
    fn default() -> Self {
        WriterConfig::new(FileFormat::Jsonl)
    }
}

/// A closed, renamed job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Final path of the file (`<dir>/<table>.<file_id>.0.<ext>[.gz]`).
    pub path: PathBuf,
    /// The file's 10-hex-char id.
    pub file_id: String,
    /// Table the file belongs to.
    pub table_name: String,
    /// Format of the file.
    pub format: FileFormat,
    /// Whether the file is gzip-wrapped.
    pub compressed: bool,
    /// Rows in the file.
    pub rows: u64,
    /// Size of the file on disk.
    pub bytes: u64,
    /// Column names in file order (for jsonl: every column seen, in order of first appearance;
    /// columns whose values were all null still count).
    pub columns: Vec<String>,
}

/// A fresh job file id: 10 random lowercase hex chars, like dlt's `uniq_id(5)`.
pub fn new_file_id() -> String {
    format!("{:010x}", fastrand::u64(..) >> 24)
}

/// The job file name `<table>.<file_id>.0.<ext>[.gz]` (retry count 0).
pub fn job_file_name(table_name: &str, file_id: &str, format: FileFormat, compressed: bool) -> String {
    let gz = if compressed && format.supports_compression() { ".gz" } else { "" };
    format!("{table_name}.{file_id}.0.{}{gz}", format.extension())
}

/// Errors of the writers; every variant names the table and, where there is one, the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriterError {
    /// Reading or writing the file failed.
    #[error("table `{table}`: i/o error on `{}`: {source}", path.display())]
    Io {
        /// Table being written.
        table: String,
        /// File (temporary or final path) the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The parquet writer failed.
    #[error("table `{table}`: parquet error on `{}`: {source}", path.display())]
    Parquet {
        /// Table being written.
        table: String,
        /// File being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: ParquetError,
    },
    /// An Arrow operation failed (e.g. nulls in a non-nullable column).
    #[error("table `{table}`: arrow error on `{}`: {source}", path.display())]
    Arrow {
        /// Table being written.
        table: String,
        /// File being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: ArrowError,
    },
    /// A column has an Arrow type this format cannot represent.
    #[error(
        "table `{table}`: column `{column}` of type {data_type} cannot be written as {format} to `{}`",
        path.display()
    )]
    UnsupportedType {
        /// Table being written.
        table: String,
        /// File being written.
        path: PathBuf,
        /// The offending column.
        column: String,
        /// Its Arrow type.
        data_type: DataType,
        /// The target format.
        format: FileFormat,
    },
    /// The configuration or table name cannot be used.
    #[error("table `{table}`: invalid writer configuration for `{}`: {message}", dir.display())]
    InvalidConfig {
        /// Table being written.
        table: String,
        /// Directory the files go to.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl WriterError {
    /// The file (or, for configuration errors, the directory) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            WriterError::Io { path, .. }
            | WriterError::Parquet { path, .. }
            | WriterError::Arrow { path, .. }
            | WriterError::UnsupportedType { path, .. } => path,
            WriterError::InvalidConfig { dir, .. } => dir,
        }
    }

    /// The table being written.
    pub fn table(&self) -> &str {
        match self {
            WriterError::Io { table, .. }
            | WriterError::Parquet { table, .. }
            | WriterError::Arrow { table, .. }
            | WriterError::UnsupportedType { table, .. }
            | WriterError::InvalidConfig { table, .. } => table,
        }
    }
}
