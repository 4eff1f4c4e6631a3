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
use parquet::arrow::{ArrowWriter, arrow_writer::ArrowWriterOptions};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use serde_json::ser::Formatter as _;

/// Dictionary page limit per column chunk of a parquet file (see where it is set).
const PARQUET_DICTIONARY_PAGE_BYTES: usize = 256 * 1024;
/// How many leading values of a file's first batch [`plain_columns`] looks at.
const DISTINCT_SAMPLE: usize = 4096;
/// Fewer non-null values than this are too few to judge: the column keeps its dictionary.
const DISTINCT_MIN_SAMPLE: usize = 256;
/// How many bytes of a plain column's first values [`plain_columns`] compresses to judge
/// whether snappy pays off.
const COMPRESS_SAMPLE_BYTES: usize = 64 * 1024;

/// A column of a new parquet file written with plain encoding (no dictionary).
#[derive(Debug)]
struct PlainColumn {
    name: String,
    /// Snappy saves at least a tenth of the sample's bytes (always true when the file's
    /// codec is not snappy: the column keeps it).
    compress: bool,
}

/// The columns of `batch` whose first values are mostly distinct (at least half of a sample
/// of [`DISTINCT_MIN_SAMPLE`] to [`DISTINCT_SAMPLE`] non-null values): ids, hashes, urls, free
/// text, timestamps, numeric ids and measures. A dictionary would fill its page limit within
/// a few thousand rows and fall back to plain encoding in every row group, or hold one entry
/// per value plus an index for each, after interning (hashing and comparing) every value;
/// such columns are written plain from the start. Strings, binaries and fixed-width values
/// (numbers, dates, times, timestamps, decimals) are sampled; every other column (booleans,
/// nested), and any column with too few values to sample, keeps the dictionary (pyarrow
/// tries one on every column).
///
/// With `judge_snappy`, the first [`COMPRESS_SAMPLE_BYTES`] of each such column (a 4-byte
/// length before each string or binary value, as in parquet's plain encoding; fixed-width
/// values as Arrow holds them, close to it) are compressed with snappy: where that saves
/// less than a tenth (hashes, random ids: snappy has no entropy coder, it only finds the
/// repeated length prefixes), the column is written uncompressed, which costs that tenth of
/// its size and saves snappy's time on it, the compressor's slowest input.
fn plain_columns(batch: &RecordBatch, judge_snappy: bool) -> Vec<PlainColumn> {
    /// Whether the values are mostly distinct, and if so whether snappy pays off on them.
    /// `prefixed`: plain encoding writes a 4-byte length before each value.
    fn judge<'a>(values: impl Iterator<Item = Option<&'a [u8]>>, prefixed: bool, judge_snappy: bool) -> Option<bool> {
        let mut seen: HashSet<&[u8], foldhash::fast::FixedState> = HashSet::default();
        let mut sample = Vec::new();
        let mut n = 0usize;
        for v in values.flatten().take(DISTINCT_SAMPLE) {
            n += 1;
            seen.insert(v);
            if judge_snappy && sample.len() < COMPRESS_SAMPLE_BYTES {
                if prefixed {
                    sample.extend_from_slice(&(v.len() as u32).to_le_bytes());
                }
                sample.extend_from_slice(v);
            }
        }
        if n < DISTINCT_MIN_SAMPLE || seen.len() * 2 < n {
            return None;
        }
        if !judge_snappy {
            return Some(true);
        }
        // (a sample snappy cannot compress at all keeps the codec: nothing is decided on an error)
        let compressed = snap::raw::Encoder::new().compress_vec(&sample).map(|c| c.len()).unwrap_or(0);
        Some(compressed * 10 <= sample.len() * 9)
    }
    let mut out = Vec::new();
    for (f, a) in batch.schema().fields().iter().zip(batch.columns()) {
        let verdict = match a.data_type() {
            DataType::Utf8 => judge(a.as_string::<i32>().iter().map(|v| v.map(str::as_bytes)), true, judge_snappy),
            DataType::LargeUtf8 => judge(a.as_string::<i64>().iter().map(|v| v.map(str::as_bytes)), true, judge_snappy),
            DataType::Binary => judge(a.as_binary::<i32>().iter(), true, judge_snappy),
            DataType::LargeBinary => judge(a.as_binary::<i64>().iter(), true, judge_snappy),
            t => match t.primitive_width() {
                // the values' bytes, `width` per slot (booleans are bits: no width)
                Some(width) if width > 0 => {
                    let data = a.to_data();
                    let bytes = data.buffers()[0].as_slice();
                    let first = data.offset();
                    let values = (0..a.len()).map(|i| a.is_valid(i).then(|| &bytes[(first + i) * width..(first + i + 1) * width]));
                    judge(values, false, judge_snappy)
                }
                _ => None,
            },
        };
        if let Some(compress) = verdict {
            out.push(PlainColumn { name: f.name().clone(), compress });
        }
    }
    out
}

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
    /// Gzip level 0–9 (flate2 default 6).
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
}

impl WriterConfig {
    /// Defaults (dlt's) for `format`.
    pub fn new(format: FileFormat) -> Self {
        WriterConfig {
            format,
            compression: true,
            gzip_level: 6,
            file_max_items: None,
            file_max_bytes: None,
            parquet_row_group_rows: 65_536,
            parquet_row_group_bytes: Some(4 * 1024 * 1024),
            parquet_compression: Compression::SNAPPY,
            parquet_writer_version: WriterVersion::PARQUET_1_0,
            csv_delimiter: b',',
            csv_include_header: true,
            csv_quoting: CsvQuoting::Needed,
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

// ---------------------------------------------------------------------------------------------
// TableWriter
// ---------------------------------------------------------------------------------------------

/// Writes one table's batches into files named `<table>.<file_id>.0.<ext>[.gz]` inside `dir`,
/// rotating them by [`WriterConfig::file_max_items`], [`WriterConfig::file_max_bytes`] and, for
/// parquet and csv, whenever a batch's schema differs from the open file's.
///
/// Dropping a writer without [`finish`](TableWriter::finish) deletes the file in progress
/// (its temporary file); files already rotated stay.
pub struct TableWriter {
    dir: PathBuf,
    table: String,
    config: WriterConfig,
    current: Option<OpenFile>,
    files: Vec<WrittenFile>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    validated: bool,
}

impl fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableWriter")
            .field("dir", &self.dir)
            .field("table", &self.table)
            .field("config", &self.config)
            .field("current", &self.current.as_ref().map(|c| &c.temp_path))
            .field("files", &self.files)
            .finish()
    }
}

impl TableWriter {
    /// A writer for `table_name` into `dir` (which must exist). Opens no file until the first
    /// non-empty write (or [`write_empty`](TableWriter::write_empty)).
    pub fn new(dir: &Path, table_name: &str, config: WriterConfig) -> Self {
        TableWriter {
            dir: dir.to_path_buf(),
            table: table_name.to_string(),
            config,
            current: None,
            files: Vec::new(),
            buf: Vec::new(),
            scratch: Vec::new(),
            validated: false,
        }
    }

    /// The table this writer writes.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The writer's configuration.
    pub fn config(&self) -> &WriterConfig {
        &self.config
    }

    /// Files closed so far (rotated ones); the open file is not included.
    pub fn closed_files(&self) -> &[WrittenFile] {
        &self.files
    }

    /// Rows written so far, over all files.
    pub fn rows_written(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum::<u64>() + self.current.as_ref().map_or(0, |c| c.rows)
    }

    /// Appends `batch`. Batches with zero rows are ignored. May close the open file and open a
    /// new one (rotation by items, bytes or schema change).
    ///
    /// After an error the open file may hold part of the batch: drop the writer (which deletes
    /// the unfinished file) instead of writing on.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), WriterError> {
        self.validate()?;
        let total = batch.num_rows();
        let mut offset = 0;
        while offset < total {
            if let Some(cur) = &self.current
                && !cur.accepts_schema(batch.schema_ref())
            {
                self.close_current()?;
            }
            if self.current.is_none() {
                self.open(batch.schema_ref(), Some(batch))?;
            }
            let cur = self.current.as_mut().expect("file was just opened");
            let mut take = total - offset;
            if let Some(max) = self.config.file_max_items {
                // `max >= 1` (validated) and a full file is closed right after the write.
                take = take.min(max.saturating_sub(cur.rows as usize).max(1));
            }
            if self.config.file_max_bytes.is_some() {
                take = take.min(BYTES_CHECK_ROWS);
            }
            if offset == 0 && take == total {
                cur.write(batch, &self.table, &self.config, &mut self.buf, &mut self.scratch)?;
            } else {
                let slice = batch.slice(offset, take);
                cur.write(&slice, &self.table, &self.config, &mut self.buf, &mut self.scratch)?;
            }
            offset += take;
            if self.should_rotate()? {
                self.close_current()?;
            }
        }
        Ok(())
    }

    /// Makes sure the table gets a file even with no rows (dlt writes empty files for
    /// `replace` with zero rows): if no file has been opened yet, opens one for `schema`, which
    /// [`finish`](TableWriter::finish) closes as a header-only csv, an empty jsonl (gzip of
    /// nothing when compressed) or a parquet file with the schema and no row groups. A no-op
    /// when a file already exists.
    pub fn write_empty(&mut self, schema: &SchemaRef) -> Result<(), WriterError> {
        self.validate()?;
        if self.current.is_none() && self.files.is_empty() {
            self.open(schema, None)?;
        }
        Ok(())
    }

    /// Closes the open file (flush, fsync, rename) and returns every file written, rotated ones
    /// included, in order. Returns an empty list when nothing was written.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>, WriterError> {
        self.close_current()?;
        Ok(std::mem::take(&mut self.files))
    }

    fn validate(&mut self) -> Result<(), WriterError> {
        if self.validated {
            return Ok(());
        }
        let bad = |message: String| WriterError::InvalidConfig { table: self.table.clone(), dir: self.dir.clone(), message };
        if self.table.is_empty() || self.table.contains(['.', '/', '\\']) || self.table.chars().any(char::is_control) {
            return Err(bad(format!(
                "table name `{}` cannot be used in a job file name (empty, or contains `.`, a path separator or a control character)",
                self.table
            )));
        }
        if self.config.file_max_items == Some(0) {
            return Err(bad("file_max_items must be at least 1".into()));
        }
        if self.config.file_max_bytes == Some(0) {
            return Err(bad("file_max_bytes must be at least 1".into()));
        }
        if self.config.gzip_level > 9 {
            return Err(bad(format!("gzip_level {} is not in 0..=9", self.config.gzip_level)));
        }
        let d = self.config.csv_delimiter;
        if self.config.format == FileFormat::Csv && (!d.is_ascii() || matches!(d, b'"' | b'\r' | b'\n')) {
            return Err(bad(format!("csv delimiter {:?} is not a usable ASCII byte", d as char)));
        }
        if self.config.format == FileFormat::Parquet && self.config.parquet_row_group_rows == 0 {
            return Err(bad("parquet_row_group_rows must be at least 1".into()));
        }
        self.validated = true;
        Ok(())
    }

    fn should_rotate(&self) -> Result<bool, WriterError> {
        let Some(cur) = &self.current else {
            return Ok(false);
        };
        if let Some(max) = self.config.file_max_items
            && cur.rows >= max as u64
        {
            return Ok(true);
        }
        if let Some(max) = self.config.file_max_bytes {
            return Ok(cur.bytes_estimate() >= max);
        }
        Ok(false)
    }

    /// Opens a new file for `schema`; `first` is the batch about to be written, if any
    /// (parquet chooses per-column encodings from it).
    fn open(&mut self, schema: &SchemaRef, first: Option<&RecordBatch>) -> Result<(), WriterError> {
        let compressed = self.config.is_compressed();
        let (file_id, final_path, temp_path, file) = loop {
            let file_id = new_file_id();
            let name = job_file_name(&self.table, &file_id, self.config.format, compressed);
            let final_path = self.dir.join(&name);
            let temp_path = self.dir.join(format!(".{name}.tmp"));
            if final_path.exists() {
                continue;
            }
            match OpenOptions::new().write(true).create_new(true).open(&temp_path) {
                Ok(file) => break (file_id, final_path, temp_path, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(WriterError::Io { table: self.table.clone(), path: temp_path, source });
                }
            }
        };
        let io_err = |source| WriterError::Io { table: self.table.clone(), path: temp_path.clone(), source };
        let mut columns = Vec::new();
        let kind =
            match self.config.format {
                FileFormat::Jsonl => {
                    self.buf.clear();
                    let sink = TextSink::new(file, compressed, self.config.gzip_level);
                    FileKind::Jsonl { sink, last_schema: None, seen: HashSet::new() }
                }
                FileFormat::Csv => {
                    self.buf.clear();
                    let mut sink = TextSink::new(file, compressed, self.config.gzip_level);
                    if self.config.csv_include_header {
                        let mut header = Vec::new();
                        write_csv_header(schema, &self.config, &mut header);
                        sink.write_all(&header).map_err(io_err)?;
                    }
                    columns = schema.fields().iter().map(|f| f.name().clone()).collect();
                    FileKind::Csv { sink }
                }
                FileFormat::InsertValues => {
                    self.buf.clear();
                    let mut sink = TextSink::new(file, compressed, self.config.gzip_level);
                    let mut header = b"INSERT INTO {}(".to_vec();
                    for (n, f) in schema.fields().iter().enumerate() {
                        if n > 0 {
                            header.push(b',');
                        }
                        header.push(b'"');
                        header.extend_from_slice(f.name().replace('"', "\"\"").as_bytes());
                        header.push(b'"');
                    }
                    header.extend_from_slice(b")\nVALUES\n");
                    sink.write_all(&header).map_err(io_err)?;
                    columns = schema.fields().iter().map(|f| f.name().clone()).collect();
                    FileKind::InsertValues { sink }
                }
                FileFormat::Parquet => {
                    let stripped = strip_metadata(schema);
                    let mut props = WriterProperties::builder()
                        .set_compression(self.config.parquet_compression)
                        .set_writer_version(self.config.parquet_writer_version)
                        .set_max_row_group_row_count(Some(self.config.parquet_row_group_rows))
                        .set_max_row_group_bytes(self.config.parquet_row_group_bytes)
                        // Dictionaries pay off for low-cardinality columns, which fit in a few KiB; a
                        // high-cardinality column fills the limit and falls back to plain in every row
                        // group, so a smaller limit wastes less interning (1 MiB default).
                        .set_dictionary_page_size_limit(PARQUET_DICTIONARY_PAGE_BYTES)
                        // Row-group min/max statistics, no page index: pyarrow's defaults.
                        .set_statistics_enabled(EnabledStatistics::Chunk)
                        // Row ids are unique random-looking strings: a dictionary never pays off and
                        // interning every value costs more than writing it plain.
                        .set_column_dictionary_enabled(ColumnPath::from(crate::schema::C_DLT_ID), false)
                        .set_column_dictionary_enabled(ColumnPath::from(crate::schema::C_DLT_PARENT_ID), false)
                        // nor do their min/max statistics: no reader prunes on a random id
                        .set_column_statistics_enabled(ColumnPath::from(crate::schema::C_DLT_ID), EnabledStatistics::None)
                        .set_column_statistics_enabled(ColumnPath::from(crate::schema::C_DLT_PARENT_ID), EnabledStatistics::None);
                    let judge_snappy = self.config.parquet_compression == Compression::SNAPPY;
                    for c in first.map(|b| plain_columns(b, judge_snappy)).unwrap_or_default() {
                        let path = ColumnPath::from(c.name);
                        if !c.compress {
                            tracing::debug!(table = %self.table, column = %path, "snappy saves under a tenth: column written uncompressed");
                            props = props.set_column_compression(path.clone(), Compression::UNCOMPRESSED);
                        }
                        props = props.set_column_dictionary_enabled(path, false);
                    }
                    let props = props.build();
                    let out = BufWriter::with_capacity(IO_BUFFER_BYTES, file);
                    // pyarrow names the root of the parquet schema `schema` (arrow-rs: `arrow_schema`).
                    let options = ArrowWriterOptions::new().with_properties(props).with_schema_root("schema".to_string());
                    let writer = ArrowWriter::try_new_with_options(out, stripped.clone(), options)
                        .map_err(|source| WriterError::Parquet { table: self.table.clone(), path: temp_path.clone(), source })?;
                    columns = schema.fields().iter().map(|f| f.name().clone()).collect();
                    FileKind::Parquet { writer: Box::new(writer), stripped }
                }
            };
        let mut open = OpenFile { temp_path, final_path, file_id, rows: 0, columns, schema: schema.clone(), kind };
        if let FileKind::Jsonl { .. } = open.kind {
            open.note_jsonl_columns(schema);
        }
        self.current = Some(open);
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), WriterError> {
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        let written = cur.close(&self.table, &self.dir, &self.config, &mut self.buf)?;
        self.files.push(written);
        Ok(())
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if let Some(cur) = self.current.take() {
            let temp = cur.temp_path.clone();
            drop(cur);
            let _ = fs::remove_file(temp);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Open files and sinks
// ---------------------------------------------------------------------------------------------

struct OpenFile {
    temp_path: PathBuf,
    final_path: PathBuf,
    file_id: String,
    rows: u64,
    columns: Vec<String>,
    /// Schema the file was opened with (parquet/csv compare incoming batches against it).
    schema: SchemaRef,
    kind: FileKind,
}

enum FileKind {
    Jsonl { sink: TextSink, last_schema: Option<SchemaRef>, seen: HashSet<String> },
    Csv { sink: TextSink },
    InsertValues { sink: TextSink },
    Parquet { writer: Box<ArrowWriter<BufWriter<File>>>, stripped: SchemaRef },
}

impl OpenFile {
    fn accepts_schema(&self, schema: &SchemaRef) -> bool {
        if Arc::ptr_eq(schema, &self.schema) {
            return true;
        }
        match &self.kind {
            FileKind::Jsonl { .. } => true,
            // The csv file's only schema is its header (insert_values: its column list).
            FileKind::Csv { .. } | FileKind::InsertValues { .. } => {
                schema.fields().len() == self.schema.fields().len()
                    && schema.fields().iter().zip(self.schema.fields()).all(|(a, b)| a.name() == b.name())
            }
            FileKind::Parquet { .. } => {
                schema.fields().len() == self.schema.fields().len()
                    && schema
                        .fields()
                        .iter()
                        .zip(self.schema.fields())
                        .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type() && a.is_nullable() == b.is_nullable())
            }
        }
    }

    fn note_jsonl_columns(&mut self, schema: &SchemaRef) {
        if let FileKind::Jsonl { last_schema, seen, .. } = &mut self.kind {
            if last_schema.as_ref().is_some_and(|s| Arc::ptr_eq(s, schema)) {
                return;
            }
            for f in schema.fields() {
                if !seen.contains(f.name()) {
                    seen.insert(f.name().clone());
                    self.columns.push(f.name().clone());
                }
            }
            *last_schema = Some(schema.clone());
        }
    }

    fn bytes_estimate(&self) -> u64 {
        match &self.kind {
            FileKind::Jsonl { sink, .. } | FileKind::Csv { sink } | FileKind::InsertValues { sink } => sink.bytes(),
            FileKind::Parquet { writer, .. } => (writer.bytes_written() + writer.in_progress_size()) as u64,
        }
    }

    fn write(
        &mut self,
        batch: &RecordBatch,
        table: &str,
        config: &WriterConfig,
        buf: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), WriterError> {
        let path = &self.temp_path;
        let io_err = |source| WriterError::Io { table: table.to_string(), path: path.clone(), source };
        match &mut self.kind {
            FileKind::Jsonl { sink, .. } => {
                let cols = build_nodes(batch, table, path, FileFormat::Jsonl)?;
                write_jsonl_rows(&cols, batch.num_rows(), buf, sink).map_err(io_err)?;
                // Flush the line buffer so the byte estimate is accurate for rotation.
                sink.write_all(buf).map_err(io_err)?;
                buf.clear();
            }
            FileKind::Csv { sink } => {
                let cols = build_nodes(batch, table, path, FileFormat::Csv)?;
                write_csv_rows(&cols, batch.num_rows(), config, buf, scratch, sink).map_err(io_err)?;
                sink.write_all(buf).map_err(io_err)?;
                buf.clear();
            }
            FileKind::InsertValues { sink } => {
                let cols = build_nodes(batch, table, path, FileFormat::InsertValues)?;
                write_insert_values_rows(&cols, batch.num_rows(), self.rows, buf, scratch, sink).map_err(io_err)?;
                sink.write_all(buf).map_err(io_err)?;
                buf.clear();
            }
            FileKind::Parquet { writer, stripped } => {
                let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                let batch = RecordBatch::try_new_with_options(stripped.clone(), batch.columns().to_vec(), &options)
                    .map_err(|source| WriterError::Arrow { table: table.to_string(), path: path.clone(), source })?;
                writer.write(&batch).map_err(|source| WriterError::Parquet { table: table.to_string(), path: path.clone(), source })?;
            }
        }
        self.rows += batch.num_rows() as u64;
        let schema = batch.schema_ref().clone();
        self.note_jsonl_columns(&schema);
        Ok(())
    }

    fn close(self, table: &str, dir: &Path, config: &WriterConfig, buf: &mut Vec<u8>) -> Result<WrittenFile, WriterError> {
        let OpenFile { temp_path, final_path, file_id, rows, columns, kind, .. } = self;
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WriterError::Io { table: table.to_string(), path, source }
        };
        let file = match kind {
            FileKind::InsertValues { mut sink } => {
                if rows > 0 {
                    buf.push(b';');
                }
                sink.write_all(buf).map_err(io_err(&temp_path))?;
                buf.clear();
                sink.finish().map_err(io_err(&temp_path))?
            }
            FileKind::Jsonl { mut sink, .. } | FileKind::Csv { mut sink } => {
                sink.write_all(buf).map_err(io_err(&temp_path))?;
                buf.clear();
                sink.finish().map_err(io_err(&temp_path))?
            }
            FileKind::Parquet { writer, .. } => {
                let out = (*writer).into_inner().map_err(|source| WriterError::Parquet {
                    table: table.to_string(),
                    path: temp_path.clone(),
                    source,
                })?;
                out.into_inner().map_err(|e| io_err(&temp_path)(e.into_error()))?
            }
        };
        file.sync_all().map_err(io_err(&temp_path))?;
        let bytes = file.metadata().map_err(io_err(&temp_path))?.len();
        drop(file);
        fs::rename(&temp_path, &final_path).map_err(io_err(&final_path))?;
        sync_dir(dir).map_err(io_err(dir))?;
        Ok(WrittenFile {
            path: final_path,
            file_id,
            table_name: table.to_string(),
            format: config.format,
            compressed: config.is_compressed(),
            rows,
            bytes,
            columns,
        })
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Counts the bytes handed to the inner writer (compressed bytes when under the encoder).
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.count += n as u64;
        Ok(n)
    }
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        self.inner.write_all(b)?;
        self.count += b.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The byte stream of a text (jsonl/csv) file: plain or gzip, over a 256 KiB `BufWriter`.
enum TextSink {
    Plain(Counting<BufWriter<File>>),
    Gzip(Box<GzEncoder<Counting<BufWriter<File>>>>),
}

impl TextSink {
    fn new(file: File, gzip: bool, level: u32) -> Self {
        let inner = Counting { inner: BufWriter::with_capacity(IO_BUFFER_BYTES, file), count: 0 };
        if gzip { TextSink::Gzip(Box::new(GzEncoder::new(inner, flate2::Compression::new(level)))) } else { TextSink::Plain(inner) }
    }

    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        match self {
            TextSink::Plain(w) => w.write_all(b),
            TextSink::Gzip(w) => w.write_all(b),
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            TextSink::Plain(w) => w.count,
            TextSink::Gzip(w) => w.get_ref().count,
        }
    }

    fn finish(self) -> io::Result<File> {
        let counting = match self {
            TextSink::Plain(w) => w,
            TextSink::Gzip(w) => w.finish()?,
        };
        counting.inner.into_inner().map_err(|e| e.into_error())
    }
}

fn strip_metadata(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone().with_metadata(HashMap::new())).collect();
    Arc::new(Schema::new(fields))
}

fn is_json_field(field: &Field) -> bool {
    field.metadata().get(JSON_TYPE_METADATA_KEY).is_some_and(|v| v == JSON_TYPE_METADATA_VALUE)
}

// ---------------------------------------------------------------------------------------------
// Value encoders (shared by jsonl and csv)
// ---------------------------------------------------------------------------------------------

/// Offset of a timestamp's time zone, decided once per column.
#[derive(Clone, Copy)]
enum TzMode {
    /// No time zone: naive ISO string without an offset.
    Naive,
    /// A fixed offset in seconds (UTC = 0), written as `+HH:MM`.
    Fixed(i32),
}

fn parse_tz(tz: Option<&str>) -> TzMode {
    let Some(tz) = tz else { return TzMode::Naive };
    let t = tz.trim();
    if let Some(rest) = t.strip_prefix(['+', '-']) {
        let sign = if t.starts_with('-') { -1 } else { 1 };
        let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
        let (h, m) = match digits.len() {
            1 | 2 => (digits.parse::<i32>().ok(), Some(0)),
            4 => (digits[..2].parse::<i32>().ok(), digits[2..].parse::<i32>().ok()),
            _ => (None, None),
        };
        if let (Some(h), Some(m)) = (h, m)
            && h < 24
            && m < 60
        {
            return TzMode::Fixed(sign * (h * 3600 + m * 60));
        }
    }
    // UTC, Z, Etc/UTC, GMT and named zones: named zones would need a tz database, so their
    // instants are written in UTC (the instant stays right).
    TzMode::Fixed(0)
}

enum StrArr<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl StrArr<'_> {
    #[inline]
    fn value(&self, i: usize) -> &str {
        match self {
            StrArr::Utf8(a) => a.value(i),
            StrArr::Large(a) => a.value(i),
            StrArr::View(a) => a.value(i),
        }
    }
}

enum BinArr<'a> {
    Bin(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
    Fixed(&'a FixedSizeBinaryArray),
}

impl BinArr<'_> {
    #[inline]
    fn value(&self, i: usize) -> &[u8] {
        match self {
            BinArr::Bin(a) => a.value(i),
            BinArr::Large(a) => a.value(i),
            BinArr::View(a) => a.value(i),
            BinArr::Fixed(a) => a.value(i),
        }
    }
}

enum ListOffsets<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
    Fixed(usize),
}

impl ListOffsets<'_> {
    #[inline]
    fn range(&self, i: usize) -> (usize, usize) {
        match self {
            ListOffsets::I32(o) => (o[i] as usize, o[i + 1] as usize),
            ListOffsets::I64(o) => (o[i] as usize, o[i + 1] as usize),
            ListOffsets::Fixed(n) => (i * n, (i + 1) * n),
        }
    }
}

enum Enc<'a> {
    Null,
    Bool(&'a BooleanArray),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F16(&'a Float16Array),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Str(StrArr<'a>),
    Json(StrArr<'a>),
    Bin(BinArr<'a>),
    Date32(&'a [i32]),
    Date64(&'a [i64]),
    Time32(&'a [i32], TimeUnit),
    Time64(&'a [i64], TimeUnit),
    Timestamp(&'a [i64], TimeUnit, TzMode),
    Decimal128(&'a [i128], i8),
    Decimal256(&'a Decimal256Array, i8),
    List(ListOffsets<'a>, Box<Node<'a>>),
    Struct(Vec<(Vec<u8>, Node<'a>)>),
    Map(&'a [i32], Box<Node<'a>>, Box<Node<'a>>),
    Dict(Vec<usize>, Box<Node<'a>>),
    Display(ArrayFormatter<'a>),
}

/// One array (a column or a nested child) ready to be encoded value by value.
struct Node<'a> {
    nulls: Option<NullBuffer>,
    enc: Enc<'a>,
}

/// A top-level column: its pre-escaped JSON key `"name":` and its encoder.
struct Column<'a> {
    key: Vec<u8>,
    node: Node<'a>,
}

fn build_nodes<'a>(batch: &'a RecordBatch, table: &str, path: &Path, format: FileFormat) -> Result<Vec<Column<'a>>, WriterError> {
    batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, array)| {
            let node = Node::new(array.as_ref(), is_json_field(field)).map_err(|_| WriterError::UnsupportedType {
                table: table.to_string(),
                path: path.to_path_buf(),
                column: field.name().clone(),
                data_type: field.data_type().clone(),
                format,
            })?;
            let mut key = Vec::with_capacity(field.name().len() + 3);
            write_json_str(&mut key, field.name());
            key.push(b':');
            Ok(Column { key, node })
        })
        .collect()
}

impl<'a> Node<'a> {
    fn new(array: &'a dyn Array, json: bool) -> Result<Self, ArrowError> {
        let nulls = array.logical_nulls().filter(|n| n.null_count() > 0);
        let enc = match array.data_type() {
            DataType::Null => Enc::Null,
            DataType::Boolean => Enc::Bool(array.as_boolean()),
            DataType::Int8 => Enc::I8(array.as_primitive::<Int8Type>().values()),
            DataType::Int16 => Enc::I16(array.as_primitive::<Int16Type>().values()),
            DataType::Int32 => Enc::I32(array.as_primitive::<Int32Type>().values()),
            DataType::Int64 => Enc::I64(array.as_primitive::<Int64Type>().values()),
            DataType::UInt8 => Enc::U8(array.as_primitive::<UInt8Type>().values()),
            DataType::UInt16 => Enc::U16(array.as_primitive::<UInt16Type>().values()),
            DataType::UInt32 => Enc::U32(array.as_primitive::<UInt32Type>().values()),
            DataType::UInt64 => Enc::U64(array.as_primitive::<UInt64Type>().values()),
            DataType::Float16 => Enc::F16(array.as_primitive::<Float16Type>()),
            DataType::Float32 => Enc::F32(array.as_primitive::<Float32Type>().values()),
            DataType::Float64 => Enc::F64(array.as_primitive::<Float64Type>().values()),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let s = match array.data_type() {
                    DataType::Utf8 => StrArr::Utf8(array.as_string::<i32>()),
                    DataType::LargeUtf8 => StrArr::Large(array.as_string::<i64>()),
                    _ => StrArr::View(array.as_string_view()),
                };
                if json { Enc::Json(s) } else { Enc::Str(s) }
            }
            DataType::Binary => Enc::Bin(BinArr::Bin(array.as_binary::<i32>())),
            DataType::LargeBinary => Enc::Bin(BinArr::Large(array.as_binary::<i64>())),
            DataType::BinaryView => Enc::Bin(BinArr::View(array.as_binary_view())),
            DataType::FixedSizeBinary(_) => Enc::Bin(BinArr::Fixed(array.as_fixed_size_binary())),
            DataType::Date32 => Enc::Date32(array.as_primitive::<arrow_array::types::Date32Type>().values()),
            DataType::Date64 => Enc::Date64(array.as_primitive::<arrow_array::types::Date64Type>().values()),
            DataType::Time32(unit) => {
                let values: &[i32] = match unit {
                    TimeUnit::Second => array.as_primitive::<arrow_array::types::Time32SecondType>().values(),
                    _ => array.as_primitive::<arrow_array::types::Time32MillisecondType>().values(),
                };
                Enc::Time32(values, *unit)
            }
            DataType::Time64(unit) => {
                let values: &[i64] = match unit {
                    TimeUnit::Nanosecond => array.as_primitive::<arrow_array::types::Time64NanosecondType>().values(),
                    _ => array.as_primitive::<arrow_array::types::Time64MicrosecondType>().values(),
                };
                Enc::Time64(values, *unit)
            }
            DataType::Timestamp(unit, tz) => {
                use arrow_array::types::*;
                let values: &[i64] = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                    TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().values(),
                    TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().values(),
                    TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().values(),
                };
                Enc::Timestamp(values, *unit, parse_tz(tz.as_deref()))
            }
            DataType::Decimal128(_, scale) => Enc::Decimal128(array.as_primitive::<arrow_array::types::Decimal128Type>().values(), *scale),
            DataType::Decimal256(_, scale) => Enc::Decimal256(array.as_primitive::<arrow_array::types::Decimal256Type>(), *scale),
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                Enc::List(ListOffsets::I32(l.value_offsets()), Box::new(Node::new(l.values().as_ref(), false)?))
            }
            DataType::LargeList(_) => {
                let l = array.as_list::<i64>();
                Enc::List(ListOffsets::I64(l.value_offsets()), Box::new(Node::new(l.values().as_ref(), false)?))
            }
            DataType::FixedSizeList(_, n) => {
                // A sliced FixedSizeList slices its values too: element `i` starts at `i * n`.
                let l = array.as_fixed_size_list();
                Enc::List(ListOffsets::Fixed(*n as usize), Box::new(Node::new(l.values().as_ref(), false)?))
            }
            DataType::Struct(fields) => {
                let s = array.as_struct();
                let children = fields
                    .iter()
                    .zip(s.columns())
                    .map(|(f, c)| {
                        let mut key = Vec::new();
                        write_json_str(&mut key, f.name());
                        key.push(b':');
                        Ok((key, Node::new(c.as_ref(), is_json_field(f))?))
                    })
                    .collect::<Result<Vec<_>, ArrowError>>()?;
                Enc::Struct(children)
            }
            DataType::Map(_, _) => {
                let m = array.as_map();
                Enc::Map(
                    m.value_offsets(),
                    Box::new(Node::new(m.keys().as_ref(), false)?),
                    Box::new(Node::new(m.values().as_ref(), false)?),
                )
            }
            DataType::Dictionary(_, _) => {
                let d = array.as_any_dictionary();
                Enc::Dict(d.normalized_keys(), Box::new(Node::new(d.values().as_ref(), json)?))
            }
            _ => {
                const OPTIONS: FormatOptions<'static> = FormatOptions::new();
                Enc::Display(ArrayFormatter::try_new(array, &OPTIONS)?)
            }
        };
        Ok(Node { nulls, enc })
    }

    /// Null, or a float that is NaN or infinite (written as null / left out).
    #[inline]
    fn is_absent(&self, i: usize) -> bool {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return true;
        }
        match &self.enc {
            Enc::Null => true,
            Enc::F32(v) => !v[i].is_finite(),
            Enc::F64(v) => !v[i].is_finite(),
            Enc::F16(a) => !a.value(i).to_f64().is_finite(),
            Enc::Dict(keys, values) => values.is_absent(keys[i]),
            _ => false,
        }
    }

    /// Whether the value is written as text (quoted in csv with [`CsvQuoting::Needed`]).
    fn is_textual(&self) -> bool {
        match &self.enc {
            Enc::Str(_) | Enc::Json(_) | Enc::Bin(_) | Enc::List(..) | Enc::Struct(_) | Enc::Map(..) => true,
            Enc::Dict(_, values) => values.is_textual(),
            Enc::Display(_) => true,
            _ => false,
        }
    }

    /// Writes value `i` (not absent) as JSON.
    fn write_json(&self, i: usize, out: &mut Vec<u8>) {
        match &self.enc {
            Enc::Null => out.extend_from_slice(b"null"),
            Enc::Bool(a) => out.extend_from_slice(if a.value(i) { b"true" } else { b"false" }),
            Enc::I8(v) => write_int(out, v[i] as i64),
            Enc::I16(v) => write_int(out, v[i] as i64),
            Enc::I32(v) => write_int(out, v[i] as i64),
            Enc::I64(v) => write_int(out, v[i]),
            Enc::U8(v) => write_int(out, v[i] as i64),
            Enc::U16(v) => write_int(out, v[i] as i64),
            Enc::U32(v) => write_int(out, v[i] as i64),
            Enc::U64(v) => write_uint(out, v[i]),
            Enc::F16(a) => write_json_float(out, a.value(i).to_f64()),
            Enc::F32(v) => write_json_float(out, v[i] as f64),
            Enc::F64(v) => write_json_float(out, v[i]),
            Enc::Str(s) => write_json_str(out, s.value(i)),
            Enc::Json(s) => write_raw_json(out, s.value(i)),
            Enc::Dict(keys, values) => {
                if values.is_absent(keys[i]) {
                    out.extend_from_slice(b"null")
                } else {
                    values.write_json(keys[i], out)
                }
            }
            Enc::List(offsets, child) => {
                let (start, end) = offsets.range(i);
                out.push(b'[');
                for j in start..end {
                    if j > start {
                        out.push(b',');
                    }
                    child.write_json_or_null(j, out);
                }
                out.push(b']');
            }
            Enc::Struct(children) => {
                out.push(b'{');
                for (n, (key, child)) in children.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(key);
                    child.write_json_or_null(i, out);
                }
                out.push(b'}');
            }
            Enc::Map(offsets, keys, values) => {
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                out.push(b'{');
                let mut key_buf = Vec::new();
                for j in start..end {
                    if j > start {
                        out.push(b',');
                    }
                    key_buf.clear();
                    if keys.is_absent(j) {
                        key_buf.extend_from_slice(b"null");
                    } else {
                        keys.write_text(j, &mut key_buf);
                    }
                    write_json_str(out, &String::from_utf8_lossy(&key_buf));
                    out.push(b':');
                    values.write_json_or_null(j, out);
                }
                out.push(b'}');
            }
            Enc::Display(f) => {
                let text = f.value(i).to_string();
                write_json_str(out, &text);
            }
            // Temporal, decimal and binary values: their text form, as a JSON string. The text
            // forms are plain ASCII without quotes or backslashes.
            _ => {
                out.push(b'"');
                self.write_text(i, out);
                out.push(b'"');
            }
        }
    }

    #[inline]
    fn write_json_or_null(&self, i: usize, out: &mut Vec<u8>) {
        if self.is_absent(i) {
            out.extend_from_slice(b"null");
        } else {
            self.write_json(i, out);
        }
    }

    /// Writes value `i` as unquoted text (csv value, map key); nested values become JSON text.
    fn write_text(&self, i: usize, out: &mut Vec<u8>) {
        match &self.enc {
            Enc::Str(s) | Enc::Json(s) => out.extend_from_slice(s.value(i).as_bytes()),
            Enc::Bin(b) => write_base64(out, b.value(i)),
            Enc::Date32(v) => write_date(out, v[i] as i64),
            Enc::Date64(v) => write_date(out, v[i].div_euclid(86_400_000)),
            Enc::Time32(v, unit) => {
                let (secs, nanos) = split_time(v[i] as i64, *unit);
                write_time(out, secs, nanos, *unit == TimeUnit::Nanosecond);
            }
            Enc::Time64(v, unit) => {
                let (secs, nanos) = split_time(v[i], *unit);
                write_time(out, secs, nanos, *unit == TimeUnit::Nanosecond);
            }
            Enc::Timestamp(v, unit, tz) => write_timestamp(out, v[i], *unit, *tz),
            Enc::Decimal128(v, scale) => write_decimal_i128(out, v[i], *scale),
            Enc::Decimal256(a, scale) => write_decimal_str(out, &a.value(i).to_string(), *scale),
            Enc::Dict(keys, values) => values.write_text(keys[i], out),
            Enc::Display(f) => {
                use std::io::Write as _;
                let _ = write!(out, "{}", f.value(i));
            }
            Enc::F16(a) => write_csv_float(out, a.value(i).to_f64()),
            Enc::F32(v) => write_csv_float(out, v[i] as f64),
            Enc::F64(v) => write_csv_float(out, v[i]),
            // Numbers, booleans, nested values: same as JSON.
            _ => self.write_json(i, out),
        }
    }
}

impl Node<'_> {
    /// Null (csv keeps NaN and infinities as `nan`, `inf`, `-inf`).
    #[inline]
    fn is_null(&self, i: usize) -> bool {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return true;
        }
        match &self.enc {
            Enc::Null => true,
            Enc::Dict(keys, values) => values.is_null(keys[i]),
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Row writers
// ---------------------------------------------------------------------------------------------

fn write_jsonl_rows(cols: &[Column<'_>], rows: usize, buf: &mut Vec<u8>, sink: &mut TextSink) -> io::Result<()> {
    for i in 0..rows {
        buf.push(b'{');
        let mut first = true;
        for c in cols {
            if c.node.is_absent(i) {
                continue;
            }
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(&c.key);
            c.node.write_json(i, buf);
        }
        buf.extend_from_slice(b"}\n");
        if buf.len() >= IO_BUFFER_BYTES {
            sink.write_all(buf)?;
            buf.clear();
        }
    }
    Ok(())
}

/// `E'..'` SQL string literal: `\\`, `'`, line breaks and tabs escaped (one row per line).
fn write_sql_str(buf: &mut Vec<u8>, text: &[u8]) {
    buf.extend_from_slice(b"E'");
    for &b in text {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\'' => buf.extend_from_slice(b"''"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => buf.push(b),
        }
    }
    buf.push(b'\'');
}

fn write_sql_value(node: &Node<'_>, i: usize, buf: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    if node.is_null(i) {
        buf.extend_from_slice(b"NULL");
        return;
    }
    match &node.enc {
        Enc::Bool(a) => buf.extend_from_slice(if a.value(i) { b"TRUE" } else { b"FALSE" }),
        Enc::I8(_) | Enc::I16(_) | Enc::I32(_) | Enc::I64(_) | Enc::U8(_) | Enc::U16(_) | Enc::U32(_) | Enc::U64(_) => {
            node.write_text(i, buf)
        }
        Enc::Decimal128(..) | Enc::Decimal256(..) => node.write_text(i, buf),
        Enc::F16(_) | Enc::F32(_) | Enc::F64(_) => {
            scratch.clear();
            node.write_text(i, scratch);
            match scratch.as_slice() {
                b"nan" | b"NaN" => buf.extend_from_slice(b"'NaN'"),
                b"inf" | b"Infinity" => buf.extend_from_slice(b"'Infinity'"),
                b"-inf" | b"-Infinity" => buf.extend_from_slice(b"'-Infinity'"),
                s => buf.extend_from_slice(s),
            }
        }
        Enc::Bin(b) => {
            buf.extend_from_slice(b"E'\\\\x");
            for byte in b.value(i) {
                buf.extend_from_slice(format!("{byte:02x}").as_bytes());
            }
            buf.push(b'\'');
        }
        _ => {
            scratch.clear();
            node.write_text(i, scratch);
            write_sql_str(buf, scratch);
        }
    }
}

fn write_insert_values_rows(
    cols: &[Column<'_>],
    rows: usize,
    rows_before: u64,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    sink: &mut TextSink,
) -> io::Result<()> {
    for i in 0..rows {
        if rows_before > 0 || i > 0 {
            buf.extend_from_slice(b",\n");
        }
        buf.push(b'(');
        for (n, c) in cols.iter().enumerate() {
            if n > 0 {
                buf.push(b',');
            }
            write_sql_value(&c.node, i, buf, scratch);
        }
        buf.push(b')');
        if buf.len() >= IO_BUFFER_BYTES {
            sink.write_all(buf)?;
            buf.clear();
        }
    }
    Ok(())
}

fn write_csv_rows(
    cols: &[Column<'_>],
    rows: usize,
    config: &WriterConfig,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    sink: &mut TextSink,
) -> io::Result<()> {
    let delim = config.csv_delimiter;
    let quoting = config.csv_quoting;
    let textual: Vec<bool> = cols.iter().map(|c| c.node.is_textual()).collect();
    for i in 0..rows {
        for (n, c) in cols.iter().enumerate() {
            if n > 0 {
                buf.push(delim);
            }
            if c.node.is_null(i) {
                continue;
            }
            if let Enc::Str(s) = &c.node.enc {
                write_csv_text(buf, s.value(i).as_bytes(), quoting, delim);
            } else if textual[n] {
                scratch.clear();
                c.node.write_text(i, scratch);
                write_csv_text(buf, scratch, quoting, delim);
            } else if quoting == CsvQuoting::All {
                buf.push(b'"');
                c.node.write_text(i, buf);
                buf.push(b'"');
            } else {
                c.node.write_text(i, buf);
            }
        }
        buf.push(b'\n');
        if buf.len() >= IO_BUFFER_BYTES {
            sink.write_all(buf)?;
            buf.clear();
        }
    }
    Ok(())
}

fn write_csv_header(schema: &Schema, config: &WriterConfig, out: &mut Vec<u8>) {
    for (n, f) in schema.fields().iter().enumerate() {
        if n > 0 {
            out.push(config.csv_delimiter);
        }
        write_csv_text(out, f.name().as_bytes(), config.csv_quoting, config.csv_delimiter);
    }
    out.push(b'\n');
}

/// Writes a text value, quoted per `quoting` with `"` doubled inside quotes.
#[inline]
fn write_csv_text(out: &mut Vec<u8>, text: &[u8], quoting: CsvQuoting, delim: u8) {
    let quote = match quoting {
        CsvQuoting::Needed | CsvQuoting::All => true,
        CsvQuoting::Minimal => text.is_empty() || text.iter().any(|&b| b == delim || b == b'"' || b == b'\n' || b == b'\r'),
    };
    if !quote {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'"' {
            out.extend_from_slice(&text[start..=i]);
            out.push(b'"');
            start = i + 1;
        }
    }
    out.extend_from_slice(&text[start..]);
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// Scalar formatting
// ---------------------------------------------------------------------------------------------

#[inline]
fn write_int(out: &mut Vec<u8>, v: i64) {
    let _ = serde_json::ser::CompactFormatter.write_i64(out, v);
}

#[inline]
fn write_uint(out: &mut Vec<u8>, v: u64) {
    let _ = serde_json::ser::CompactFormatter.write_u64(out, v);
}

/// Shortest round-trip float text in orjson's (dlt's JSON library) style: decimal notation
/// for exponents -5..=15 (`1.0`, `0.00001`, `1000000000000000.0`), otherwise `1e+16`, `1e-6`.
#[inline]
fn write_float(out: &mut Vec<u8>, v: f64) {
    let start = out.len();
    // serde_json's shortest round-trip formatter uses orjson's notation thresholds; depending
    // on its version the exponent is written `e16` or `e+16`: normalise to `e+16`.
    let _ = serde_json::ser::CompactFormatter.write_f64(out, v);
    if let Some(e) = out[start..].iter().position(|&b| b == b'e') {
        let at = start + e + 1;
        if out.get(at).is_some_and(u8::is_ascii_digit) {
            out.insert(at, b'+');
        }
    }
}

#[inline]
fn write_json_float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_float(out, v);
    } else {
        out.extend_from_slice(b"null");
    }
}

#[inline]
fn write_csv_float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_float(out, v);
    } else if v.is_nan() {
        out.extend_from_slice(b"nan");
    } else if v > 0.0 {
        out.extend_from_slice(b"inf");
    } else {
        out.extend_from_slice(b"-inf");
    }
}

/// JSON escape class per byte: 0 = copy, b'u' = `\u00XX`, other = two-char escape.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Writes `s` as a JSON string literal (UTF-8 kept as is, control chars, `"` and `\` escaped).
#[inline]
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Embeds serialized JSON as is. Raw line breaks can only be insignificant whitespace in valid
/// JSON (inside strings they are escaped), so they become spaces to keep one object per line.
/// An empty value is written as `null`.
#[inline]
fn write_raw_json(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        out.extend_from_slice(b"null");
        return;
    }
    let start = out.len();
    out.extend_from_slice(bytes);
    if bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        for b in &mut out[start..] {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
}

#[inline]
fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).expect("base64 length overflows usize");
    out.resize(start + len, 0);
    let written = base64::engine::general_purpose::STANDARD.encode_slice(bytes, &mut out[start..]).expect("buffer sized by encoded_len");
    out.truncate(start + written);
}

#[inline]
fn push2(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
#[inline]
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` (years outside 0..=9999 with as many digits as needed and a sign if negative).
fn write_date(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        push2(out, (y / 100) as u32);
        push2(out, (y % 100) as u32);
    } else {
        if y < 0 {
            out.push(b'-');
        }
        let digits = y.unsigned_abs().to_string();
        for _ in digits.len()..4 {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
    }
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
}

/// `HH:MM:SS`, then `.ffffff` when the fraction is non-zero (Python `isoformat`), or
/// `.fffffffff` when `ns_precision` and the fraction has sub-microsecond digits.
fn write_time(out: &mut Vec<u8>, secs_of_day: i64, nanos: u32, ns_precision: bool) {
    let s = secs_of_day.rem_euclid(86_400) as u32;
    push2(out, s / 3600);
    out.push(b':');
    push2(out, (s / 60) % 60);
    out.push(b':');
    push2(out, s % 60);
    if nanos == 0 {
        return;
    }
    let (mut frac, digits) = if ns_precision && !nanos.is_multiple_of(1000) { (nanos, 9) } else { (nanos / 1000, 6) };
    if frac == 0 {
        return;
    }
    out.push(b'.');
    let start = out.len();
    out.resize(start + digits, b'0');
    for k in (0..digits).rev() {
        out[start + k] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
}

/// Splits a time-of-day or timestamp value into (whole seconds, nanoseconds), flooring.
#[inline]
fn split_time(v: i64, unit: TimeUnit) -> (i64, u32) {
    let per_sec: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let secs = v.div_euclid(per_sec);
    let frac = v.rem_euclid(per_sec);
    (secs, (frac * (1_000_000_000 / per_sec)) as u32)
}

/// ISO-8601 like Python's `datetime.isoformat()`: `2024-01-01T00:00:00[.ffffff]+00:00`.
fn write_timestamp(out: &mut Vec<u8>, v: i64, unit: TimeUnit, tz: TzMode) {
    let (mut secs, nanos) = split_time(v, unit);
    let offset = match tz {
        TzMode::Naive => None,
        TzMode::Fixed(off) => Some(off),
    };
    secs += offset.unwrap_or(0) as i64;
    write_date(out, secs.div_euclid(86_400));
    out.push(b'T');
    write_time(out, secs.rem_euclid(86_400), nanos, unit == TimeUnit::Nanosecond);
    if let Some(off) = offset {
        out.push(if off < 0 { b'-' } else { b'+' });
        let a = off.unsigned_abs();
        push2(out, a / 3600);
        out.push(b':');
        push2(out, (a / 60) % 60);
    }
}

/// The decimal `v * 10^-scale` with exactly `scale` fractional digits (`1.500000000`), like
/// Python's `str(Decimal)` of a pyarrow decimal value.
fn write_decimal_i128(out: &mut Vec<u8>, v: i128, scale: i8) {
    let mut digits = [0u8; 40];
    let mut n = v.unsigned_abs();
    let mut pos = digits.len();
    loop {
        pos -= 1;
        digits[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    write_decimal_digits(out, v < 0, &digits[pos..], scale);
}

fn write_decimal_str(out: &mut Vec<u8>, s: &str, scale: i8) {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    write_decimal_digits(out, neg, digits.as_bytes(), scale);
}

fn write_decimal_digits(out: &mut Vec<u8>, negative: bool, digits: &[u8], scale: i8) {
    if negative {
        out.push(b'-');
    }
    if scale <= 0 {
        out.extend_from_slice(digits);
        if digits != b"0" {
            out.extend(std::iter::repeat_n(b'0', scale.unsigned_abs() as usize));
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}

#[cfg(test)]
mod insert_values_tests {
    use super::*;
    use arrow_array::{BinaryArray, Float64Array, Int64Array};

    #[test]
    fn insert_values_statement() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("na\"me", DataType::Utf8, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Binary, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("it's\na \\ b"), Some("x")])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN)])),
                Arc::new(BinaryArray::from(vec![Some(&b"\x01\xff"[..]), None])),
            ],
        )
        .unwrap();
        let mut cfg = WriterConfig::new(FileFormat::InsertValues);
        cfg.compression = false;
        let mut w = TableWriter::new(dir.path(), "t", cfg);
        w.write(&batch.slice(0, 1)).unwrap();
        w.write(&batch.slice(1, 1)).unwrap();
        let files = w.finish().unwrap();
        assert!(files[0].path.to_str().unwrap().ends_with(".insert_values"));
        let text = std::fs::read_to_string(&files[0].path).unwrap();
        assert_eq!(
            text,
            "INSERT INTO {}(\"id\",\"na\"\"me\",\"f\",\"b\")\nVALUES\n(1,E'it''s\\na \\\\ b',1.5,E'\\\\x01ff'),\n(NULL,E'x','NaN',NULL);"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int64Builder, ListBuilder};
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, Date32Array, Decimal128Array, DictionaryArray, Float32Array, Float64Array, Int64Array, StructArray,
        Time64MicrosecondArray, TimestampMicrosecondArray, TimestampNanosecondArray, UInt64Array,
    };
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use std::io::Read;

    // 2024-01-01T00:00:00Z in microseconds.
    const TS_2024: i64 = 1_704_067_200_000_000;

    fn json_field(name: &str) -> Field {
        Field::new(name, DataType::Utf8, true)
            .with_metadata(HashMap::from([(JSON_TYPE_METADATA_KEY.to_string(), JSON_TYPE_METADATA_VALUE.to_string())]))
    }

    /// Two rows covering every dlt type; row 2 is mostly null.
    fn all_types_batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("ts2", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("d", DataType::Date32, true),
            Field::new("t", DataType::Time64(TimeUnit::Microsecond), true),
            Field::new("dec", DataType::Decimal128(38, 9), true),
            Field::new("b", DataType::Binary, true),
            Field::new("f", DataType::Float64, true),
            Field::new("ok", DataType::Boolean, true),
            json_field("j"),
            Field::new("_dlt_id", DataType::Utf8, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(StringArray::from(vec![Some("a\"b\nc,ü\t\\ 😀"), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![Some(TS_2024), None]).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(vec![Some(TS_2024 + 123_456), Some(TS_2024 + 1)]).with_timezone("UTC")),
            Arc::new(Date32Array::from(vec![Some(19_723), None])),
            Arc::new(Time64MicrosecondArray::from(vec![Some(30_600_000_000), Some(30_600_000_005)])),
            Arc::new(Decimal128Array::from(vec![Some(1_500_000_000), Some(-5)]).with_precision_and_scale(38, 9).unwrap()),
            Arc::new(BinaryArray::from(vec![Some(&b"\x00\x01hi"[..]), None])),
            Arc::new(Float64Array::from(vec![Some(74.8723), Some(f64::NAN)])),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            Arc::new(StringArray::from(vec![Some("{\"x\":[1,2,{\"y\":null}],\n \"s\":\"q\\\"\"}"), None])),
            Arc::new(StringArray::from(vec!["V2jI1llbbZ1m6g", "Mbr7Qt+0SoNlfA"])),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn int_batch(names: &[&str], start: i64, rows: usize) -> RecordBatch {
        let fields: Vec<Field> = names.iter().map(|n| Field::new(*n, DataType::Int64, true)).collect();
        let cols: Vec<ArrayRef> =
            names.iter().map(|_| Arc::new(Int64Array::from_iter_values(start..start + rows as i64)) as ArrayRef).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    fn config(format: FileFormat) -> WriterConfig {
        WriterConfig::new(format)
    }

    fn read_text(path: &Path) -> String {
        let raw = fs::read(path).unwrap();
        if raw.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::MultiGzDecoder::new(&raw[..]).read_to_string(&mut s).unwrap();
            s
        } else {
            String::from_utf8(raw).unwrap()
        }
    }

    fn read_parquet(path: &Path) -> (SchemaRef, Vec<RecordBatch>) {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
        let schema = builder.schema().clone();
        let batches = builder.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        (schema, batches)
    }

    fn write_all(dir: &Path, table: &str, cfg: WriterConfig, batches: &[RecordBatch]) -> Vec<WrittenFile> {
        let mut w = TableWriter::new(dir, table, cfg);
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap()
    }

    fn dir_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    const EXPECTED_JSONL: &str = concat!(
        r#"{"id":1,"name":"a\"b\nc,ü\t\\ 😀","ts":"2024-01-01T00:00:00+00:00","ts2":"2024-01-01T00:00:00.123456+00:00","#,
        r#""d":"2024-01-01","t":"08:30:00","dec":"1.500000000","b":"AAFoaQ==","f":74.8723,"ok":true,"#,
        r#""j":{"x":[1,2,{"y":null}],  "s":"q\""},"_dlt_id":"V2jI1llbbZ1m6g"}"#,
        "\n",
        r#"{"id":2,"ts2":"2024-01-01T00:00:00.000001+00:00","t":"08:30:00.000005","dec":"-0.000000005","_dlt_id":"Mbr7Qt+0SoNlfA"}"#,
        "\n",
    );

    #[test]
    fn jsonl_all_types_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_all(dir.path(), "items", config(FileFormat::Jsonl), &[all_types_batch()]);
        assert_eq!(files.len(), 1);
        let f = &files[0];
        assert!(f.path.to_str().unwrap().ends_with(".jsonl.gz"));
        assert!(f.compressed);
        assert_eq!(f.rows, 2);
        assert_eq!(f.bytes, fs::metadata(&f.path).unwrap().len());
        assert_eq!(&fs::read(&f.path).unwrap()[..2], &[0x1f, 0x8b]);
        let text = read_text(&f.path);
        assert_eq!(text, EXPECTED_JSONL);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v.is_object());
        }
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["name"], "a\"b\nc,ü\t\\ 😀");
        assert_eq!(first["j"]["x"][2], serde_json::json!({"y": null}));
        assert_eq!(f.columns, ["id", "name", "ts", "ts2", "d", "t", "dec", "b", "f", "ok", "j", "_dlt_id"]);
    }

    #[test]
    fn jsonl_uncompressed_and_control_chars() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec![Some("\u{1}\u{8}\u{c}\r\u{1f}\u{7f}/"), Some("")]))])
            .unwrap();
        let cfg = WriterConfig { compression: false, ..config(FileFormat::Jsonl) };
        let files = write_all(dir.path(), "t", cfg, &[batch]);
        assert!(files[0].path.to_str().unwrap().ends_with(".jsonl"));
        assert!(!files[0].compressed);
        let raw = fs::read_to_string(&files[0].path).unwrap();
        assert_eq!(raw, "{\"s\":\"\\u0001\\b\\f\\r\\u001f\u{7f}/\"}\n{\"s\":\"\"}\n");
        let v: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
        assert_eq!(v["s"], "\u{1}\u{8}\u{c}\r\u{1f}\u{7f}/");
    }

    #[test]
    fn jsonl_numbers_nested_dictionary_and_sliced_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let mut list = ListBuilder::new(Int64Builder::new());
        list.values().append_value(1);
        list.values().append_null();
        list.append(true);
        list.append(false);
        list.values().append_value(3);
        list.append(true);
        let list = list.finish();
        let strukt = StructArray::from(vec![
            (Arc::new(Field::new("a", DataType::Int64, true)), Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef),
            (Arc::new(Field::new("b", DataType::Utf8, true)), Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef),
        ]);
        let dict: DictionaryArray<Int32Type> = vec![Some("p"), None, Some("p")].into_iter().collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("u", DataType::UInt64, true),
            Field::new("f32", DataType::Float32, true),
            Field::new("f", DataType::Float64, true),
            Field::new("l", list.data_type().clone(), true),
            Field::new("s", strukt.data_type().clone(), true),
            Field::new("dict", dict.data_type().clone(), true),
            Field::new("ns", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
            Field::new("off", DataType::Timestamp(TimeUnit::Microsecond, Some("+02:00".into())), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt64Array::from(vec![u64::MAX, 0, 7])),
                Arc::new(Float32Array::from(vec![0.5, 1.0, f32::INFINITY])),
                Arc::new(Float64Array::from(vec![1e20, 1.0, 1e-7])),
                Arc::new(list),
                Arc::new(strukt),
                Arc::new(dict),
                Arc::new(TimestampNanosecondArray::from(vec![-1, 1_704_067_200_000_001_000, 1_704_067_200_000_000_001])),
                Arc::new(TimestampMicrosecondArray::from(vec![TS_2024, TS_2024, TS_2024]).with_timezone("+02:00")),
            ],
        )
        .unwrap();
        // A slice exercises offset handling everywhere.
        let files = write_all(dir.path(), "n", config(FileFormat::Jsonl), &[batch.slice(0, 1), batch.slice(1, 2)]);
        let text = read_text(&files[0].path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"u":18446744073709551615,"f32":0.5,"f":1e+20,"l":[1,null],"s":{"a":1,"b":"x"},"dict":"p","ns":"1969-12-31T23:59:59.999999999","off":"2024-01-01T02:00:00+02:00"}"#,
                r#"{"u":0,"f32":1.0,"f":1.0,"s":{"a":null,"b":"y"},"ns":"2024-01-01T00:00:00.000001","off":"2024-01-01T02:00:00+02:00"}"#,
                r#"{"u":7,"f":1e-7,"l":[3],"s":{"a":3,"b":"z"},"dict":"p","ns":"2024-01-01T00:00:00.000000001","off":"2024-01-01T02:00:00+02:00"}"#,
            ]
        );
    }

    #[test]
    fn float_formatting_matches_orjson() {
        let cases = [
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e-4, "0.0001"),
            (1e-5, "0.00001"),
            (1e-6, "1e-6"),
            (1.5e-7, "1.5e-7"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (12345678.9, "12345678.9"),
            (100.0, "100.0"),
        ];
        for (v, want) in cases {
            let mut out = Vec::new();
            write_json_float(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{v:e}");
        }
        let mut out = Vec::new();
        write_json_float(&mut out, f64::NAN);
        write_csv_float(&mut out, f64::NAN);
        write_csv_float(&mut out, f64::NEG_INFINITY);
        assert_eq!(out, b"nullnan-inf");
    }

    #[test]
    fn temporal_and_decimal_formatting() {
        let ts = |v: i64, unit: TimeUnit, tz: Option<&str>| {
            let mut out = Vec::new();
            write_timestamp(&mut out, v, unit, parse_tz(tz));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(ts(0, TimeUnit::Second, Some("UTC")), "1970-01-01T00:00:00+00:00");
        assert_eq!(ts(-1, TimeUnit::Millisecond, Some("Z")), "1969-12-31T23:59:59.999000+00:00");
        assert_eq!(ts(1_704_067_200_500, TimeUnit::Millisecond, None), "2024-01-01T00:00:00.500000");
        assert_eq!(ts(0, TimeUnit::Second, Some("-05:30")), "1969-12-31T18:30:00-05:30");
        assert_eq!(ts(0, TimeUnit::Second, Some("Europe/Berlin")), "1970-01-01T00:00:00+00:00");
        assert_eq!(ts(951_782_400, TimeUnit::Second, Some("UTC")), "2000-02-29T00:00:00+00:00");
        assert_eq!(ts(-62_135_596_800, TimeUnit::Second, None), "0001-01-01T00:00:00");
        assert_eq!(ts(253_402_300_799, TimeUnit::Second, None), "9999-12-31T23:59:59");

        let dec = |v: i128, s: i8| {
            let mut out = Vec::new();
            write_decimal_i128(&mut out, v, s);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(dec(1_500_000_000, 9), "1.500000000");
        assert_eq!(dec(-5, 9), "-0.000000005");
        assert_eq!(dec(0, 2), "0.00");
        assert_eq!(dec(-1234, 0), "-1234");
        assert_eq!(dec(15, -2), "1500");
        assert_eq!(dec(0, -2), "0");
        assert_eq!(dec(i128::MIN, 38), "-1.70141183460469231731687303715884105728");
        let mut out = Vec::new();
        write_decimal_str(&mut out, "-123456", 2);
        assert_eq!(out, b"-1234.56");
    }

    #[test]
    fn csv_all_types_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_all(dir.path(), "items", config(FileFormat::Csv), &[all_types_batch()]);
        let f = &files[0];
        assert!(f.path.to_str().unwrap().ends_with(".csv.gz"));
        assert_eq!(f.rows, 2);
        let text = read_text(&f.path);
        let expected = concat!(
            "\"id\",\"name\",\"ts\",\"ts2\",\"d\",\"t\",\"dec\",\"b\",\"f\",\"ok\",\"j\",\"_dlt_id\"\n",
            "1,\"a\"\"b\nc,ü\t\\ 😀\",2024-01-01T00:00:00+00:00,2024-01-01T00:00:00.123456+00:00,2024-01-01,08:30:00,",
            "1.500000000,\"AAFoaQ==\",74.8723,true,\"{\"\"x\"\":[1,2,{\"\"y\"\":null}],\n \"\"s\"\":\"\"q\\\"\"\"\"}\",\"V2jI1llbbZ1m6g\"\n",
            "2,,,2024-01-01T00:00:00.000001+00:00,,08:30:00.000005,-0.000000005,,nan,,,\"Mbr7Qt+0SoNlfA\"\n",
        );
        assert_eq!(text, expected);
        assert_eq!(f.columns.len(), 12);
    }

    #[test]
    fn csv_minimal_quoting_delimiter_and_empty_string() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("a b", DataType::Utf8, true), Field::new("n", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("plain"), Some(""), None, Some("x|y"), Some("q\"")])),
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4), Some(5)])),
            ],
        )
        .unwrap();
        let cfg = WriterConfig { compression: false, csv_delimiter: b'|', csv_quoting: CsvQuoting::Minimal, ..config(FileFormat::Csv) };
        let files = write_all(dir.path(), "t", cfg.clone(), std::slice::from_ref(&batch));
        assert!(files[0].path.to_str().unwrap().ends_with(".csv"));
        assert_eq!(fs::read_to_string(&files[0].path).unwrap(), "a b|n\nplain|1\n\"\"|\n|3\n\"x|y\"|4\n\"q\"\"\"|5\n");
        let cfg = WriterConfig { csv_quoting: CsvQuoting::All, csv_delimiter: b',', csv_include_header: false, ..cfg };
        let files = write_all(dir.path(), "u", cfg, &[batch]);
        assert_eq!(fs::read_to_string(&files[0].path).unwrap(), "\"plain\",\"1\"\n\"\",\n,\"3\"\n\"x|y\",\"4\"\n\"q\"\"\",\"5\"\n");
    }

    #[test]
    fn parquet_all_types_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let batch = all_types_batch();
        let files = write_all(dir.path(), "items", config(FileFormat::Parquet), std::slice::from_ref(&batch));
        assert_eq!(files.len(), 1);
        let f = &files[0];
        assert!(f.path.file_name().unwrap().to_str().unwrap().ends_with(".0.parquet"));
        assert!(!f.compressed);
        assert_eq!(&fs::read(&f.path).unwrap()[..4], b"PAR1");
        let (schema, batches) = read_parquet(&f.path);
        let expected_schema = strip_metadata(batch.schema_ref());
        assert_eq!(schema.as_ref(), expected_schema.as_ref());
        assert!(schema.fields().iter().all(|f| f.metadata().is_empty()));
        assert!(!schema.field_with_name("_dlt_id").unwrap().is_nullable());
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].columns(), batch.columns());

        let reader = SerializedFileReader::new(File::open(&f.path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.file_metadata().num_rows(), 2);
        let rg = meta.row_group(0);
        assert!(rg.columns().iter().all(|c| c.compression() == Compression::SNAPPY));
        // pyarrow's defaults: min/max per row group, no page index; none for random row ids
        for c in rg.columns() {
            assert!(c.column_index_offset().is_none(), "{}: no page index", c.column_path());
            let is_id = c.column_path().string() == "_dlt_id";
            assert_eq!(c.statistics().is_some_and(|st| st.min_bytes_opt().is_some()), !is_id, "{}", c.column_path());
        }
        let descr = meta.file_metadata().schema_descr();
        let ts = descr.column(2);
        assert_eq!(ts.logical_type_ref(), Some(&parquet::basic::LogicalType::timestamp(true, parquet::basic::TimeUnit::MICROS)));
        assert!(meta.file_metadata().key_value_metadata().is_none_or(|kv| kv.iter().all(|k| k.key == "ARROW:schema")));
    }

    /// Columns whose first values are mostly distinct are written plain, the others with a
    /// dictionary; plain columns snappy cannot shrink by a tenth are written uncompressed;
    /// all read back equal.
    #[test]
    fn parquet_dictionary_only_for_repeating_columns() {
        let n = 3000;
        let sha: Vec<String> = (0..n).map(|i| format!("{:040x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
        let kind: Vec<&str> = (0..n).map(|i| ["push", "watch", "fork"][i % 3]).collect();
        // distinct, but only 100 values: too few to judge, keeps the dictionary
        let rare: Vec<Option<String>> = (0..n).map(|i| (i % 30 == 0).then(|| format!("r{i}"))).collect();
        // half distinct: plain
        let half: Vec<String> = (0..n).map(|i| format!("h{}", i / 2)).collect();
        // fixed-width values are sampled the same way: distinct timestamps and sliced
        // (offset) ids plain, a repeating count with nulls keeps its dictionary
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 1_000_003).collect();
        let ids = Int64Array::from((0..n as i64 + 10).map(|i| i * 7).collect::<Vec<_>>()).slice(10, n);
        let count: Vec<Option<i64>> = (0..n as i64).map(|i| (i % 4 != 0).then_some(i % 5)).collect();
        // random hex digests and random bytes: distinct, and snappy saves under a tenth
        let mut rng = fastrand::Rng::with_seed(7);
        let digest: Vec<String> = (0..n).map(|_| (0..20).map(|_| format!("{:02x}", rng.u8(..))).collect()).collect();
        let random: Vec<Vec<u8>> = (0..n).map(|_| (0..16).map(|_| rng.u8(..)).collect()).collect();
        // nullable where the column has nulls (`rare`, `count`)
        let batch = RecordBatch::try_from_iter([
            ("sha", Arc::new(StringArray::from(sha)) as ArrayRef),
            ("kind", Arc::new(StringArray::from(kind))),
            ("rare", Arc::new(StringArray::from(rare))),
            ("half", Arc::new(BinaryArray::from_iter_values(half.iter().map(|h| h.as_bytes())))),
            ("ts", Arc::new(arrow_array::TimestampMicrosecondArray::from(ts).with_timezone("UTC"))),
            ("ids", Arc::new(ids)),
            ("count", Arc::new(Int64Array::from(count))),
            ("digest", Arc::new(StringArray::from(digest))),
            ("random", Arc::new(BinaryArray::from_iter_values(random.iter()))),
        ])
        .unwrap();
        // writes the batch with `config`; checks it reads back equal; each column's dictionary
        // and codec
        let written = |config: WriterConfig| -> Vec<(String, bool, Compression)> {
            let dir = tempfile::tempdir().unwrap();
            let files = write_all(dir.path(), "t", config, std::slice::from_ref(&batch));
            let (schema, batches) = read_parquet(&files[0].path);
            assert_eq!(arrow_select::concat::concat_batches(&schema, &batches).unwrap().columns(), batch.columns());
            let reader = SerializedFileReader::new(File::open(&files[0].path).unwrap()).unwrap();
            let rg = reader.metadata().row_group(0);
            rg.columns().iter().map(|c| (c.column_path().string(), c.dictionary_page_offset().is_some(), c.compression())).collect()
        };
        let (s, u) = (Compression::SNAPPY, Compression::UNCOMPRESSED);
        let want: Vec<(String, bool, Compression)> = [
            ("sha", false, s),
            ("kind", true, s),
            ("rare", true, s),
            ("half", false, s),
            ("ts", false, s),
            ("ids", false, s),
            ("count", true, s),
            ("digest", false, u),
            ("random", false, u),
        ]
        .iter()
        .map(|(c, d, z)| (c.to_string(), *d, *z))
        .collect();
        assert_eq!(written(config(FileFormat::Parquet)), want);

        // another codec is kept on every column: the user chose size over speed
        let mut zstd = config(FileFormat::Parquet);
        zstd.parquet_compression = Compression::ZSTD(Default::default());
        assert!(written(zstd).iter().all(|(_, _, z)| *z == Compression::ZSTD(Default::default())));
    }

    #[test]
    fn parquet_nullability_change_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![Some(1), None]))]).unwrap();
        let required = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let mut w = TableWriter::new(dir.path(), "req", config(FileFormat::Parquet));
        w.write_empty(&required).unwrap();
        // Same names, different nullability: rotates to a new (nullable) file, no error.
        w.write(&batch).unwrap();
        let files = w.finish().unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].rows, 0);
        assert_eq!(files[1].rows, 2);
    }

    #[test]
    fn rotation_by_items_splits_batches() {
        let dir = tempfile::tempdir().unwrap();
        for format in [FileFormat::Jsonl, FileFormat::Csv, FileFormat::Parquet] {
            let sub = dir.path().join(format.extension());
            fs::create_dir(&sub).unwrap();
            let cfg = WriterConfig { file_max_items: Some(3), ..config(format) };
            let files = write_all(&sub, "items", cfg, &[int_batch(&["a"], 0, 2), int_batch(&["a"], 2, 5)]);
            assert_eq!(files.iter().map(|f| f.rows).collect::<Vec<_>>(), [3, 3, 1], "{format}");
            let ids: HashSet<&str> = files.iter().map(|f| f.file_id.as_str()).collect();
            assert_eq!(ids.len(), 3);
            // Content continues across files in order.
            let mut values = Vec::new();
            for f in &files {
                match format {
                    FileFormat::InsertValues => unreachable!("not in this test"),
                    FileFormat::Parquet => {
                        for b in read_parquet(&f.path).1 {
                            values.extend(b.column(0).as_primitive::<Int64Type>().values().iter().copied());
                        }
                    }
                    FileFormat::Jsonl => {
                        for l in read_text(&f.path).lines() {
                            let v: serde_json::Value = serde_json::from_str(l).unwrap();
                            values.push(v["a"].as_i64().unwrap());
                        }
                    }
                    FileFormat::Csv => {
                        let text = read_text(&f.path);
                        let mut lines = text.lines();
                        assert_eq!(lines.next(), Some("\"a\""));
                        values.extend(lines.map(|l| l.parse::<i64>().unwrap()));
                    }
                }
            }
            assert_eq!(values, (0..7).collect::<Vec<_>>());
        }
    }

    #[test]
    fn rotation_by_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for (format, compression) in
            [(FileFormat::Jsonl, false), (FileFormat::Jsonl, true), (FileFormat::Csv, false), (FileFormat::Parquet, false)]
        {
            let sub = dir.path().join(format!("{format}{compression}"));
            fs::create_dir(&sub).unwrap();
            let max = 20_000;
            let cfg = WriterConfig { file_max_bytes: Some(max), compression, ..config(format) };
            let batch = int_batch(&["a", "b", "c"], 1_000_000_000, 10_000);
            let files = write_all(&sub, "items", cfg, &[batch.clone(), batch]);
            assert!(files.len() > 2, "{format} {compression}: {} files", files.len());
            assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 20_000);
            for f in &files[..files.len() - 1] {
                assert!(f.rows > 0);
                // Rotation happens after the write that crossed the limit: within one slice.
                if !compression && format != FileFormat::Parquet {
                    assert!(f.bytes >= max, "{format}: {} < {max}", f.bytes);
                    assert!(f.bytes < max + 64 * BYTES_CHECK_ROWS as u64, "{format}: {}", f.bytes);
                }
            }
        }
    }

    #[test]
    fn schema_change_rotates_parquet_and_csv_but_not_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let first = int_batch(&["a"], 0, 2);
        let second = int_batch(&["a", "b"], 2, 2);
        let third = int_batch(&["a", "b"], 4, 1);
        for format in [FileFormat::Jsonl, FileFormat::Csv, FileFormat::Parquet] {
            let sub = dir.path().join(format.extension());
            fs::create_dir(&sub).unwrap();
            let files = write_all(&sub, "items", config(format), &[first.clone(), second.clone(), third.clone()]);
            match format {
                FileFormat::Jsonl => {
                    assert_eq!(files.len(), 1);
                    assert_eq!(files[0].rows, 5);
                    assert_eq!(files[0].columns, ["a", "b"]);
                    let text = read_text(&files[0].path);
                    assert_eq!(text.lines().nth(2), Some(r#"{"a":2,"b":2}"#));
                }
                _ => {
                    assert_eq!(files.iter().map(|f| f.rows).collect::<Vec<_>>(), [2, 3], "{format}");
                    assert_eq!(files[0].columns, ["a"]);
                    assert_eq!(files[1].columns, ["a", "b"]);
                }
            }
        }
        // A type change alone rotates parquet, not csv (same header).
        let strings = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)])),
            vec![Arc::new(StringArray::from(vec!["x"]))],
        )
        .unwrap();
        let sub = dir.path().join("types");
        fs::create_dir(&sub).unwrap();
        assert_eq!(write_all(&sub, "p", config(FileFormat::Parquet), &[first.clone(), strings.clone()]).len(), 2);
        assert_eq!(write_all(&sub, "c", config(FileFormat::Csv), &[first, strings]).len(), 1);
    }

    #[test]
    fn empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let schema = all_types_batch().schema();
        for format in [FileFormat::Jsonl, FileFormat::Csv, FileFormat::Parquet] {
            let mut w = TableWriter::new(dir.path(), "empty", config(format));
            w.write(&all_types_batch().slice(0, 0)).unwrap();
            w.write_empty(&schema).unwrap();
            w.write_empty(&schema).unwrap();
            let files = w.finish().unwrap();
            assert_eq!(files.len(), 1, "{format}");
            let f = &files[0];
            assert_eq!(f.rows, 0);
            assert_eq!(f.columns.len(), 12);
            match format {
                FileFormat::Jsonl => {
                    assert!(f.path.to_str().unwrap().ends_with(".jsonl.gz"));
                    assert_eq!(read_text(&f.path), "");
                }
                FileFormat::Csv => assert_eq!(
                    read_text(&f.path),
                    "\"id\",\"name\",\"ts\",\"ts2\",\"d\",\"t\",\"dec\",\"b\",\"f\",\"ok\",\"j\",\"_dlt_id\"\n"
                ),
                FileFormat::Parquet => {
                    let (read_schema, batches) = read_parquet(&f.path);
                    assert_eq!(read_schema, strip_metadata(&schema));
                    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
                }
                FileFormat::InsertValues => unreachable!("not in this test"),
            }
        }
        // Nothing written, nothing asked: no file.
        let w = TableWriter::new(dir.path(), "none", config(FileFormat::Csv));
        assert!(w.finish().unwrap().is_empty());
        // write_empty after data is a no-op.
        let mut w = TableWriter::new(dir.path(), "some", config(FileFormat::Csv));
        w.write(&int_batch(&["a"], 0, 1)).unwrap();
        w.write_empty(&schema).unwrap();
        let files = w.finish().unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].rows, 1);
    }

    #[test]
    fn temp_file_then_rename() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = TableWriter::new(dir.path(), "items", config(FileFormat::Jsonl));
        assert!(dir_names(dir.path()).is_empty(), "no file before the first write");
        w.write(&int_batch(&["a"], 0, 3)).unwrap();
        let during = dir_names(dir.path());
        assert_eq!(during.len(), 1);
        assert!(during[0].starts_with(".items.") && during[0].ends_with(".jsonl.gz.tmp"), "{during:?}");
        let files = w.finish().unwrap();
        let after = dir_names(dir.path());
        assert_eq!(after, [files[0].path.file_name().unwrap().to_str().unwrap()]);
        assert!(!after[0].ends_with(".tmp"));

        // Dropped without finish: the temporary file goes away, rotated files stay.
        let cfg = WriterConfig { file_max_items: Some(2), ..config(FileFormat::Parquet) };
        let mut w = TableWriter::new(dir.path(), "dropped", cfg);
        w.write(&int_batch(&["a"], 0, 3)).unwrap();
        assert_eq!(w.closed_files().len(), 1);
        assert_eq!(w.rows_written(), 3);
        drop(w);
        let names = dir_names(dir.path());
        assert_eq!(names.len(), 2);
        assert!(names.iter().all(|n| !n.ends_with(".tmp")));
    }

    #[test]
    fn file_names_ids_and_formats() {
        let id = new_file_id();
        assert_eq!(id.len(), 10);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(new_file_id(), new_file_id());
        assert_eq!(job_file_name("items", "0123456789", FileFormat::Jsonl, true), "items.0123456789.0.jsonl.gz");
        assert_eq!(job_file_name("items", "0123456789", FileFormat::Parquet, true), "items.0123456789.0.parquet");
        assert_eq!(job_file_name("items", "0123456789", FileFormat::Csv, false), "items.0123456789.0.csv");
        assert_eq!(FileFormat::parse("jsonl"), Some(FileFormat::Jsonl));
        assert_eq!(FileFormat::parse("Parquet"), Some(FileFormat::Parquet));
        assert_eq!(FileFormat::parse("csv"), Some(FileFormat::Csv));
        assert_eq!(FileFormat::parse("insert_values"), Some(FileFormat::InsertValues));
        assert_eq!(FileFormat::parse("sql"), None);
        assert!(FileFormat::Jsonl.supports_compression() && FileFormat::Csv.supports_compression());
        assert!(!FileFormat::Parquet.supports_compression());
        assert_eq!(FileFormat::Csv.to_string(), "csv");

        let dir = tempfile::tempdir().unwrap();
        for (format, compression, suffix) in [
            (FileFormat::Jsonl, true, "jsonl.gz"),
            (FileFormat::Csv, true, "csv.gz"),
            (FileFormat::Parquet, true, "parquet"),
            (FileFormat::Csv, false, "csv"),
        ] {
            let files = write_all(dir.path(), "tbl", WriterConfig { compression, ..config(format) }, &[int_batch(&["a"], 0, 1)]);
            let name = files[0].path.file_name().unwrap().to_str().unwrap().to_string();
            let parts: Vec<&str> = name.split('.').collect();
            assert_eq!(parts[0], "tbl");
            assert_eq!(parts[1], files[0].file_id);
            assert_eq!(parts[2], "0");
            assert_eq!(parts[3..].join("."), suffix);
            assert_eq!(files[0].path.parent().unwrap(), dir.path());
            assert_eq!(files[0].table_name, "tbl");
            assert_eq!(files[0].format, format);
        }
    }

    #[test]
    fn errors_name_path_and_table() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let mut w = TableWriter::new(&missing, "items", config(FileFormat::Jsonl));
        let err = w.write(&int_batch(&["a"], 0, 1)).unwrap_err();
        assert!(matches!(err, WriterError::Io { .. }));
        assert!(err.path().starts_with(&missing));
        assert_eq!(err.table(), "items");
        let msg = err.to_string();
        assert!(msg.contains("items") && msg.contains(missing.to_str().unwrap()), "{msg}");

        let mut w = TableWriter::new(dir.path(), "bad.name", config(FileFormat::Jsonl));
        let err = w.write(&int_batch(&["a"], 0, 1)).unwrap_err();
        assert!(matches!(err, WriterError::InvalidConfig { .. }), "{err}");
        assert!(err.to_string().contains("bad.name"));

        let cfg = WriterConfig { file_max_items: Some(0), ..config(FileFormat::Csv) };
        let mut w = TableWriter::new(dir.path(), "items", cfg);
        assert!(matches!(w.write(&int_batch(&["a"], 0, 1)), Err(WriterError::InvalidConfig { .. })));
    }
}
