//! Sources and resources: what a pipeline loads, and the per-resource table hints.
//!
//! A [`Resource`] is one stream of records that lands in one root table (plus the child tables
//! its nested lists produce). Records come from iterators of `serde_json::Value` or of any
//! `Serialize` type, from Arrow record batches, or from files: JSON lines (`.jsonl`,
//! `.ndjson`), JSON documents (`.json`: one array of records, one object, or values one after
//! the other, pretty-printed or not), each also gzip-compressed, CSV and Parquet.
//!
//! As in dlt, where a resource yields a list: a JSON array on a line of JSON lines (or as one
//! of the values) is a batch of records, `[]` none; a record that is not an object (a number,
//! a string, a nested array) is loaded as `{"value": record}`. A leading UTF-8 byte order
//! mark is skipped in JSON and CSV input.

pub mod fingerprint;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::error::{Error, ErrorKind, Result};
use crate::normalize::jsondoc::JsonDocLines;
use crate::schema::{Column, DataType, MergeStrategy, TableFormat, WriteDisposition};
use crate::writers::FileFormat;

/// Table hints of a resource (dlt's `apply_hints`).
#[derive(Debug, Clone, Default)]
pub struct TableHints {
    /// Table name; defaults to the resource name.
    pub table_name: Option<String>,
    /// Write disposition; default append.
    pub write_disposition: Option<WriteDisposition>,
    /// Merge strategy for merge tables.
    pub merge_strategy: Option<MergeStrategy>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Merge key columns.
    pub merge_key: Vec<String>,
    /// Declared columns (types and hints), applied before data.
    pub columns: Vec<Column>,
    /// Table format (e.g. delta).
    pub table_format: Option<TableFormat>,
    /// File format for this table's job files.
    pub file_format: Option<FileFormat>,
    /// Nesting depth below which nested data stays JSON.
    pub max_nesting: Option<u32>,
    /// Options of the `scd2` merge strategy.
    pub scd2: Option<Scd2Options>,
}

/// Options of the `scd2` merge strategy (dlt's `write_disposition={"disposition": "merge",
/// "strategy": "scd2", ...}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scd2Options {
    /// Names of the validity columns (default `_dlt_valid_from`, `_dlt_valid_to`).
    pub validity_column_names: Option<(String, String)>,
    /// ISO timestamp marking active records instead of NULL (e.g. `9999-12-31T00:00:00Z`).
    pub active_record_timestamp: Option<String>,
    /// ISO timestamp used as the boundary instead of the load package's creation time.
    pub boundary_timestamp: Option<String>,
    /// A user column holding the row version (default: `_dlt_id`, a hash of the record).
    pub row_version_column_name: Option<String>,
}

/// Where a resource's records come from.
pub enum ResourceData {
    /// JSON values.
    Values(Box<dyn Iterator<Item = Result<serde_json::Value>> + Send>),
    /// A JSON-lines stream; `origin` names it in errors.
    JsonLines {
        /// Name used in errors (`-` for standard input).
        origin: String,
        /// The stream.
        reader: Box<dyn BufRead + Send>,
    },
    /// Files, format detected from the extension.
    Files(Vec<PathBuf>),
    /// Arrow record batches.
    Arrow(Box<dyn Iterator<Item = Result<RecordBatch>> + Send>),
}

impl std::fmt::Debug for ResourceData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResourceData::Values(_) => f.write_str("Values(..)"),
            ResourceData::JsonLines { origin, .. } => write!(f, "JsonLines({origin})"),
            ResourceData::Files(p) => write!(f, "Files({p:?})"),
            ResourceData::Arrow(_) => f.write_str("Arrow(..)"),
        }
    }
}

/// One stream of records and its table hints.
#[derive(Debug)]
pub struct Resource {
    /// Resource name (the table name unless hinted otherwise).
    pub name: String,
    /// Hints.
    pub hints: TableHints,
    /// Data.
    pub data: ResourceData,
}

impl Resource {
    /// From JSON values.
    pub fn from_values<I>(name: &str, values: I) -> Resource
    where
        I: IntoIterator<Item = serde_json::Value>,
        I::IntoIter: Send + 'static,
    {
        Resource { name: name.into(), hints: TableHints::default(), data: ResourceData::Values(Box::new(values.into_iter().map(Ok))) }
    }
    /// From any serializable records (structs with `#[derive(Serialize)]`).
    pub fn from_serialize<T, I>(name: &str, items: I) -> Resource
    where
        T: serde::Serialize,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let it = items.into_iter().map(|x| serde_json::to_value(&x).map_err(Error::from));
        Resource { name: name.into(), hints: TableHints::default(), data: ResourceData::Values(Box::new(it)) }
    }
    /// From Arrow record batches.
    pub fn from_arrow<I>(name: &str, batches: I) -> Resource
    where
        I: IntoIterator<Item = RecordBatch>,
        I::IntoIter: Send + 'static,
    {
        Resource { name: name.into(), hints: TableHints::default(), data: ResourceData::Arrow(Box::new(batches.into_iter().map(Ok))) }
    }
    /// From files (`.jsonl`, `.ndjson`, `.json`, `.jsonl.gz`, `.csv`, `.csv.gz`, `.parquet`).
    pub fn from_files<P: Into<PathBuf>>(name: &str, files: impl IntoIterator<Item = P>) -> Resource {
        Resource { name: name.into(), hints: TableHints::default(), data: ResourceData::Files(files.into_iter().map(Into::into).collect()) }
    }
    /// From a JSON-lines stream (e.g. standard input); `origin` names it in errors.
    pub fn from_jsonl_reader(name: &str, origin: &str, reader: impl BufRead + Send + 'static) -> Resource {
        Resource {
            name: name.into(),
            hints: TableHints::default(),
            data: ResourceData::JsonLines { origin: origin.into(), reader: Box::new(reader) },
        }
    }
    /// From a JSON document stream (what a `.json` file holds: one array of records, one
    /// object, or values one after the other, pretty-printed or not), read without holding it
    /// in memory; `origin` names it in errors.
    pub fn from_json_reader(name: &str, origin: &str, reader: impl BufRead + Send + 'static) -> Resource {
        let lines = JsonDocLines::new(reader, origin);
        Resource {
            name: name.into(),
            hints: TableHints::default(),
            data: ResourceData::JsonLines { origin: origin.into(), reader: Box::new(lines) },
        }
    }
    /// Sets the table name.
    pub fn with_table_name(mut self, t: &str) -> Self {
        self.hints.table_name = Some(t.into());
        self
    }
    /// Sets the write disposition.
    pub fn with_write_disposition(mut self, wd: WriteDisposition) -> Self {
        self.hints.write_disposition = Some(wd);
        self
    }
    /// Sets the merge strategy (implies merge).
    pub fn with_merge_strategy(mut self, s: MergeStrategy) -> Self {
        self.hints.write_disposition = Some(WriteDisposition::Merge);
        self.hints.merge_strategy = Some(s);
        self
    }
    /// Merges with the `scd2` strategy and these options.
    pub fn with_scd2(mut self, options: Scd2Options) -> Self {
        self.hints.write_disposition = Some(WriteDisposition::Merge);
        self.hints.merge_strategy = Some(MergeStrategy::Scd2);
        self.hints.scd2 = Some(options);
        self
    }
    /// Sets the primary key.
    pub fn with_primary_key<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.hints.primary_key = cols.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the merge key.
    pub fn with_merge_key<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.hints.merge_key = cols.into_iter().map(Into::into).collect();
        self
    }
    /// Declares a column (type and hints).
    pub fn with_column(mut self, c: Column) -> Self {
        self.hints.columns.push(c);
        self
    }
    /// Declares a column's type.
    pub fn with_column_type(self, name: &str, t: DataType) -> Self {
        self.with_column(Column::new(name, t))
    }
    /// Sets the table format.
    pub fn with_table_format(mut self, f: TableFormat) -> Self {
        self.hints.table_format = Some(f);
        self
    }
    /// Sets the file format of this table's job files.
    pub fn with_file_format(mut self, f: FileFormat) -> Self {
        self.hints.file_format = Some(f);
        self
    }
    /// Sets max nesting for this table.
    pub fn with_max_nesting(mut self, n: u32) -> Self {
        self.hints.max_nesting = Some(n);
        self
    }
}

/// A set of resources loaded together in one package.
#[derive(Debug, Default)]
pub struct Source {
    /// Resources in order.
    pub resources: Vec<Resource>,
}

impl From<Resource> for Source {
    fn from(r: Resource) -> Self {
        Source { resources: vec![r] }
    }
}

impl From<Vec<Resource>> for Source {
    fn from(resources: Vec<Resource>) -> Self {
        Source { resources }
    }
}

/// Kind of an input file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// JSON lines, or a JSON document (`.json`), maybe gzip: open it with [`open_json`].
    JsonLines,
    /// CSV with header (maybe gzip).
    Csv,
    /// Parquet.
    Parquet,
}

/// Detects the kind of an input file from its extension; `-` is JSON lines on stdin.
pub fn input_kind(path: &Path) -> Result<InputKind> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name == "-" || name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        Ok(InputKind::JsonLines)
    } else if name.ends_with(".csv") {
        Ok(InputKind::Csv)
    } else if name.ends_with(".parquet") || name.ends_with(".pq") {
        Ok(InputKind::Parquet)
    } else {
        Err(Error::new(ErrorKind::Unsupported, format!("cannot tell the format of `{}`", path.display()))
            .with_hint("input files must end in .jsonl, .ndjson, .json, .csv (each optionally .gz) or .parquet"))
    }
}

/// The UTF-8 byte order mark, which some tools (Excel, PowerShell, Notepad) write first.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Skips a UTF-8 byte order mark at the start of `r`; returns whether there was one.
pub fn skip_bom<R: BufRead + ?Sized>(r: &mut R) -> std::io::Result<bool> {
    let bom = r.fill_buf()?.starts_with(UTF8_BOM);
    if bom {
        r.consume(UTF8_BOM.len());
    }
    Ok(bom)
}

/// Opens a JSON input file for the JSON-lines reader: JSON lines as they are, a JSON
/// document (`.json`, `.json.gz`) through [`JsonDocLines`], which streams it as lines.
pub fn open_json(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let r = open_maybe_gzip(path)?;
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.strip_suffix(".gz").unwrap_or(&name).ends_with(".json") {
        Ok(Box::new(JsonDocLines::new(r, &path.display().to_string())))
    } else {
        Ok(r)
    }
}

/// Opens a file for reading, transparently decompressing gzip (by magic bytes).
pub fn open_maybe_gzip(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let f =
        File::open(path).map_err(|e| Error::io("open input file", path, e).with_hint("check the path; use `-` to read standard input"))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let head = r.fill_buf().map_err(|e| Error::io("read input file", path, e))?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(1 << 20, flate2::bufread::MultiGzDecoder::new(r))))
    } else {
        Ok(Box::new(r))
    }
}

/// Reads CSV into Arrow batches with types inferred from the first 1000 rows.
pub fn read_csv(path: &Path, batch_rows: usize) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    use arrow_csv::reader::Format;
    let fmt = Format::default().with_header(true);
    let bom = |e| Error::io("read input file", path, e);
    let mut sample = open_maybe_gzip(path)?;
    skip_bom(&mut sample).map_err(bom)?;
    let (schema, _) = fmt
        .infer_schema(&mut sample, Some(1000))
        .map_err(|e| Error::invalid_data(format!("cannot read CSV header and first rows: {e}")).with("file", path.display().to_string()))?;
    let mut reader = open_maybe_gzip(path)?;
    skip_bom(&mut reader).map_err(bom)?;
    let reader: Box<dyn Read + Send> = reader;
    let r = arrow_csv::ReaderBuilder::new(std::sync::Arc::new(schema))
        .with_format(fmt)
        .with_batch_size(batch_rows)
        .build(reader)
        .map_err(|e| Error::invalid_data(format!("cannot read CSV: {e}")).with("file", path.display().to_string()))?;
    let file = path.display().to_string();
    Ok(Box::new(r.map(move |b| b.map_err(|e| csv_error(&file, e)))))
}

/// An arrow-csv error with the file's real line number as context. arrow-csv counts lines of
/// data for value errors (so the header is not counted) but file lines for field-count errors.
fn csv_error(file: &str, e: arrow_schema::ArrowError) -> Error {
    static LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(r"(at|for) line (\d+)").expect("regex"));
    let mut msg = e.to_string();
    let mut line = None;
    if let Some(c) = LINE.captures(&msg) {
        let n: u64 = c[2].parse().unwrap_or(0);
        let n = if msg.contains("Error while parsing value") { n + 1 } else { n };
        line = Some(n);
        msg = LINE.replace(&msg, format!("$1 line {n}").as_str()).into_owned();
    }
    let mut err = Error::invalid_data(format!("malformed CSV: {msg}")).with("file", file.to_string());
    if let Some(n) = line {
        err = err.with("line", n.to_string());
    }
    err.with_hint("fix that row and run again; nothing of this load was written")
}

/// Reads a Parquet file as Arrow batches.
pub fn read_parquet(path: &Path, batch_rows: usize) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    let f = File::open(path).map_err(|e| Error::io("open input file", path, e))?;
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.with_batch_size(batch_rows).build())
        .map_err(|e| Error::invalid_data(format!("cannot read Parquet: {e}")).with("file", path.display().to_string()))?;
    let file = path.display().to_string();
    Ok(Box::new(r.map(move |b| b.map_err(|e| Error::invalid_data(format!("cannot read Parquet: {e}")).with("file", file.clone())))))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::*;
    use crate::naming::SnakeCase;
    use crate::normalize::{CollectSink, Normalizer, NormalizerOptions};
    use crate::schema::Schema;

    /// Root rows and records of a file read as the pipeline reads JSON input.
    fn load_json(path: &Path) -> Result<(usize, u64)> {
        let mut sink = CollectSink::default();
        let records = {
            let mut n = Normalizer::new(Schema::new("s"), Arc::new(SnakeCase::new(None)), "1", NormalizerOptions::default(), &mut sink);
            let mut r = open_json(path)?;
            let records = crate::parallel::normalize_sequential(&mut n, "t", &path.display().to_string(), &mut r, &|_| {})?;
            n.finish()?;
            records
        };
        Ok((sink.rows("t"), records))
    }

    fn gzip(path: &Path, text: &str) {
        let mut gz = flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
    }

    #[test]
    fn json_documents_plain_and_gzip_stream_as_records() {
        let dir = tempfile::tempdir().unwrap();
        let pretty = "\u{feff}[\n  {\"a\": 1,\n   \"l\": [1, 2]},\n  {\"a\": 2}\n]\n";
        for name in ["a.json", "a.JSON.gz"] {
            let p = dir.path().join(name);
            if name.ends_with(".gz") {
                gzip(&p, pretty)
            } else {
                std::fs::write(&p, pretty).unwrap()
            }
            assert_eq!(load_json(&p).unwrap(), (2, 2), "{name}");
        }
        // a JSON-lines file keeps its meaning: an array line is a batch
        let p = dir.path().join("b.jsonl.gz");
        gzip(&p, "\u{feff}[{\"a\": 1}, {\"a\": 2}]\n{\"a\": 3}\n[]\n");
        assert_eq!(load_json(&p).unwrap(), (3, 3));
        // an error names the file, the line and the element
        let p = dir.path().join("bad.json.gz");
        gzip(&p, "[\n {\"a\": 1},\n {\"a\": tru}\n]");
        let e = load_json(&p).unwrap_err().to_string();
        assert!(e.contains("bad.json.gz") && e.contains("line: 3") && e.contains("element: 2") && e.contains("column 8"), "{e}");
    }

    #[test]
    fn csv_byte_order_mark_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bom.csv");
        std::fs::write(&p, "\u{feff}id,name\n1,a\n2,b\n").unwrap();
        let batches: Vec<RecordBatch> = read_csv(&p, 100).unwrap().collect::<Result<_>>().unwrap();
        let schema = batches[0].schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "name"]);
        assert_eq!(schema.field(0).data_type(), &arrow_schema::DataType::Int64, "the first column's type is inferred");
    }
}
