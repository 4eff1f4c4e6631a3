//! [`TableWriter`]: rotation of one table's files by rows, bytes and schema, and the open
//! file (temporary name, sink, fsync and rename on close).

use super::*;

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

pub(super) struct OpenFile {
    temp_path: PathBuf,
    final_path: PathBuf,
    file_id: String,
    rows: u64,
    columns: Vec<String>,
    /// Schema the file was opened with (parquet/csv compare incoming batches against it).
    schema: SchemaRef,
    kind: FileKind,
}

pub(super) enum FileKind {
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
                write_insert_values_rows(&cols, batch.num_rows(), self.rows, buf, scratch, sink, config.sql_literals).map_err(io_err)?;
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
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Counts the bytes handed to the inner writer (compressed bytes when under the encoder).
pub(super) struct Counting<W> {
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
pub(super) enum TextSink {
    Plain(Counting<BufWriter<File>>),
    Gzip(Box<GzEncoder<Counting<BufWriter<File>>>>),
}

impl TextSink {
    pub(super) fn new(file: File, gzip: bool, level: u32) -> Self {
        let inner = Counting { inner: BufWriter::with_capacity(IO_BUFFER_BYTES, file), count: 0 };
        if gzip { TextSink::Gzip(Box::new(GzEncoder::new(inner, flate2::Compression::new(level)))) } else { TextSink::Plain(inner) }
    }

    pub(super) fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        match self {
            TextSink::Plain(w) => w.write_all(b),
            TextSink::Gzip(w) => w.write_all(b),
        }
    }

    pub(super) fn bytes(&self) -> u64 {
        match self {
            TextSink::Plain(w) => w.count,
            TextSink::Gzip(w) => w.get_ref().count,
        }
    }

    pub(super) fn finish(self) -> io::Result<File> {
        let counting = match self {
            TextSink::Plain(w) => w,
            TextSink::Gzip(w) => w.finish()?,
        };
        counting.inner.into_inner().map_err(|e| e.into_error())
    }
}

pub(super) fn strip_metadata(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone().with_metadata(HashMap::new())).collect();
    Arc::new(Schema::new(fields))
}

pub(super) fn is_json_field(field: &Field) -> bool {
    field.metadata().get(JSON_TYPE_METADATA_KEY).is_some_and(|v| v == JSON_TYPE_METADATA_VALUE)
}
