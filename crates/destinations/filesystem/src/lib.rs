//! stevedore-filesystem: the filesystem destination (dlt's `filesystem`).
//!
//! Files land under `<bucket_url>/<dataset_name>/` following the layout (default
//! `{table_name}/{load_id}.{file_id}.{ext}`), as jsonl (gzip by default), parquet or csv.
//! `append` adds files, `replace` removes a table's earlier files once the new ones landed,
//! `merge` falls back to append (as in dlt). dlt's state folders are written too, and
//! `_dlt_loads/<schema>__<load_id>.jsonl` marks a complete load, written last.
//!
//! Table formats: a table whose `table_format` is `delta` (or another format with a writer
//! registered by [`FilesystemBuilder::table_format`]) is not uploaded as files: its parquet
//! job files are checked by the writer, then committed by one followup job per table
//! ([`TABLE_COMMIT_FORMAT`]) through the [`stevedore_core::table_format::TableFormatWriter`].
//! This crate does not depend on any table-format library.
//!
//! Buckets: local folders always; `s3://` (feature `s3`), `az://` / `abfss://` (feature
//! `azure`) through object_store; `gs://` (feature `gcs`) through opendal's GCS service
//! (`stevedore-opendal`). Remote buckets are checked before the first write of every load
//! package ([`stevedore_object_store::Bucket::preflight`]).
//!
//! ```no_run
//! # fn demo() -> stevedore_core::Result<()> {
//! use stevedore_filesystem::Filesystem;
//! let destination = Filesystem::builder().bucket_url("file:///tmp/lake").build()?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod client;
pub mod config;
pub mod layout;
pub mod staging;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use stevedore_core::config::Config;
use stevedore_core::destination::{Capabilities, Destination, DestinationClient};
use stevedore_core::schema::ReplaceStrategy;
use stevedore_core::table_format::TableFormatWriter;
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, Result};

pub use client::{CLEANUP_FORMAT, FilesystemClient, ReplaceCleanup, TABLE_COMMIT_FORMAT, TableCommit};
pub use config::{CREDENTIALS_SPEC, CurrentDatetime, DEFAULT_BUCKET_URL, FILESYSTEM_SPEC, FilesystemConfig, SHARED_CREDENTIALS_SPEC};
pub use layout::{DEFAULT_LAYOUT, ExtraPlaceholder, Layout};
pub use stevedore_object_store::{Bucket, BucketUrl, Credentials, StoreOptions, object_store};

/// URL schemes this destination serves in this build.
pub fn schemes() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v = stevedore_object_store::schemes();
    #[cfg(feature = "_opendal")]
    v.extend(stevedore_opendal::schemes());
    v
}

/// Opens the bucket of `url` with the backend that serves its scheme (no request is made).
pub fn open_bucket(url: &BucketUrl, options: &StoreOptions) -> Result<Bucket> {
    #[cfg(feature = "_opendal")]
    if stevedore_opendal::serves(url.scheme()) {
        return stevedore_opendal::open(url, options);
    }
    if !schemes().contains(&url.scheme()) {
        return Err(stevedore_object_store::unsupported_scheme(url.scheme(), url, &schemes()));
    }
    stevedore_object_store::open(url, options)
}

/// Job file size the store prefers, when it has a preference (GCS: one-request uploads).
fn recommended_file_size(url: &BucketUrl) -> Option<u64> {
    match url.scheme() {
        #[cfg(feature = "gcs")]
        s if stevedore_opendal::gcs::SCHEMES.contains(&s) => Some(stevedore_opendal::gcs::RECOMMENDED_FILE_SIZE),
        _ => None,
    }
}

/// Destination name.
pub const NAME: &str = "filesystem";

/// Longest table and column name, in characters: longer names are shortened by the naming
/// convention the way dlt shortens them for length-limited destinations (head and tail kept,
/// a hash tag in the middle). Table names become folder and file names, in the bucket and in
/// the pipeline's working folder (`<table>.<file_id>.<retry>.<ext>.gz` and its
/// `.remote_url` / `.exception` notes, under 50 bytes more), so they must stay well below the
/// 255 bytes a file name may have. dlt declares no limit (65536) and fails with the file
/// system's `File name too long` instead.
pub const MAX_IDENTIFIER_LENGTH: usize = 200;

/// The filesystem destination.
#[derive(Debug, Clone)]
pub struct Filesystem {
    config: FilesystemConfig,
    layout: Layout,
    bucket: stevedore_object_store::BucketUrl,
    table_formats: TableFormats,
}

/// Table-format writers by format (see [`stevedore_core::table_format`]).
pub(crate) type TableFormats = BTreeMap<String, Arc<dyn TableFormatWriter>>;

/// Builds a [`Filesystem`] destination.
#[derive(Debug, Clone, Default)]
pub struct FilesystemBuilder {
    config: FilesystemConfig,
    cwd: Option<PathBuf>,
    table_formats: TableFormats,
}

impl FilesystemBuilder {
    /// Starts from layered configuration (`[destination.filesystem]`).
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(FilesystemBuilder { config: FilesystemConfig::from_config(config)?, cwd: None, table_formats: TableFormats::new() })
    }
    /// Sets the bucket URL.
    pub fn bucket_url(mut self, u: &str) -> Self {
        self.config.bucket_url = u.into();
        self
    }
    /// Sets the layout.
    pub fn layout(mut self, l: &str) -> Self {
        self.config.layout = l.into();
        self
    }
    /// Adds an extra placeholder (static value or callback).
    pub fn extra_placeholder(mut self, name: &str, v: impl Into<ExtraPlaceholder>) -> Self {
        self.config.extra_placeholders.insert(name.into(), v.into());
        self
    }
    /// Replaces all extra placeholders.
    pub fn extra_placeholders(mut self, m: BTreeMap<String, ExtraPlaceholder>) -> Self {
        self.config.extra_placeholders = m;
        self
    }
    /// Overrides the datetime used by date/time placeholders.
    pub fn current_datetime(mut self, d: CurrentDatetime) -> Self {
        self.config.current_datetime = Some(d);
        self
    }
    /// State files kept per pipeline.
    pub fn max_state_files(mut self, n: i64) -> Self {
        self.config.max_state_files = n;
        self
    }
    /// Credentials for remote buckets (dlt's keys).
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.config.store.credentials = c;
        self
    }
    /// Credentials, `kwargs` and `client_kwargs` for remote buckets.
    pub fn store_options(mut self, o: StoreOptions) -> Self {
        self.config.store = o;
        self
    }
    /// Registers the writer of a table format (e.g. `stevedore_delta::DeltaWriter` for
    /// `delta`): tables whose `table_format` is that format are committed through it instead
    /// of being uploaded as plain files. The facade registers the Delta writer when its
    /// feature `delta` is on.
    pub fn table_format(mut self, writer: Arc<dyn TableFormatWriter>) -> Self {
        self.table_formats.insert(writer.format().as_str().to_string(), writer);
        self
    }
    /// Options for Delta tables (`deltalake_storage_options`), merged over the credentials.
    pub fn deltalake_storage_options(mut self, options: BTreeMap<String, String>) -> Self {
        self.config.deltalake_storage_options = stevedore_core::config::Secret::new(options);
        self
    }
    /// Folder relative bucket paths are resolved against (default: the current folder).
    pub fn cwd(mut self, p: impl Into<PathBuf>) -> Self {
        self.cwd = Some(p.into());
        self
    }
    /// Validates the layout and bucket URL; nothing is written yet.
    pub fn build(self) -> Result<Filesystem> {
        let layout = self.config.parsed_layout()?;
        let cwd = match self.cwd {
            Some(c) => c,
            None => std::env::current_dir().map_err(|e| Error::config(format!("cannot read the current folder: {e}")))?,
        };
        let bucket = self.config.bucket(&cwd)?;
        if !schemes().contains(&bucket.scheme()) {
            return Err(stevedore_object_store::unsupported_scheme(bucket.scheme(), &bucket, &schemes()));
        }
        if !bucket.is_local() {
            // credentials are checked for completeness now; the bucket itself at the preflight
            let _ = open_bucket(&bucket, &self.config.store)?;
        }
        Ok(Filesystem { config: self.config, layout, bucket, table_formats: self.table_formats })
    }
}

impl Filesystem {
    /// A builder with dlt's defaults.
    pub fn builder() -> FilesystemBuilder {
        FilesystemBuilder::default()
    }
    /// The layout in use.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// The resolved bucket URL.
    pub fn bucket_url(&self) -> &stevedore_object_store::BucketUrl {
        &self.bucket
    }
    /// Table formats with a registered writer (`delta`...).
    pub fn table_formats(&self) -> Vec<&str> {
        self.table_formats.keys().map(String::as_str).collect()
    }
}

#[async_trait]
impl Destination for Filesystem {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::new(FileFormat::Jsonl);
        c.supported_loader_file_formats = vec![FileFormat::Jsonl, FileFormat::Parquet, FileFormat::Csv];
        c.supported_replace_strategies = vec![ReplaceStrategy::TruncateAndInsert];
        // merge applies to table-format tables; plain files fall back to append
        for w in self.table_formats.values() {
            for m in w.merge_strategies() {
                if !c.supported_merge_strategies.contains(&m) {
                    c.supported_merge_strategies.push(m);
                }
            }
        }
        c.state_as_table = false;
        c.recommended_file_size = recommended_file_size(&self.bucket);
        c.max_identifier_length = Some(MAX_IDENTIFIER_LENGTH);
        c.max_column_identifier_length = Some(MAX_IDENTIFIER_LENGTH);
        c
    }

    async fn client(&self, dataset_name: &str, pipeline_name: &str) -> Result<Box<dyn DestinationClient>> {
        Ok(Box::new(self.open_client(dataset_name, pipeline_name).await?))
    }

    fn display_location(&self) -> String {
        self.bucket.display()
    }
}

impl Filesystem {
    /// A client for `dataset_name` (a folder of the bucket), after the preflight.
    pub(crate) async fn open_client(&self, dataset_name: &str, pipeline_name: &str) -> Result<FilesystemClient> {
        let problem = if dataset_name.is_empty() {
            Some("it is empty".to_string())
        } else if dataset_name.contains('/') || dataset_name.contains("..") {
            Some("it has a `/` or `..`".to_string())
        } else {
            layout::check_path(dataset_name).err().map(|p| p.to_string())
        };
        if let Some(problem) = problem {
            return Err(Error::config(format!("invalid dataset name `{dataset_name}` for the filesystem: {problem}"))
                .with("dataset", dataset_name.to_string())
                .with_hint(format!(
                    "a dataset name is one folder name of at most {} bytes: letters, digits, `_`",
                    layout::MAX_SEGMENT_BYTES
                )));
        }
        let bucket = open_bucket(&self.bucket, &self.config.store)?;
        // preflight: the bucket exists and can be listed, before anything is written
        bucket.preflight().await?;
        // table formats reach the bucket through a store with `deltalake_storage_options`
        // applied over the credentials (the same store when there are none)
        let table_store = if self.table_formats.is_empty() || self.config.deltalake_storage_options.expose().is_empty() {
            bucket.clone()
        } else {
            let opts = self.config.store.clone().with_store_overrides(self.config.deltalake_storage_options.expose().clone());
            open_bucket(&self.bucket, &opts)?
        };
        Ok(FilesystemClient {
            table_formats: self.table_formats.clone(),
            table_store,
            memory: stevedore_object_store::io::UploadBudget::default(),
            bucket,
            dataset: dataset_name.to_string(),
            layout: self.layout.clone(),
            config: self.config.clone(),
            pipeline_name: pipeline_name.to_string(),
        })
    }
}

/// The destination built from layered config, as the facade's registry does it.
pub fn from_config(config: &Config) -> Result<Arc<dyn Destination>> {
    Ok(Arc::new(FilesystemBuilder::from_config(config)?.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stevedore_core::ErrorKind;
    use stevedore_core::destination::{JobInfo, PackageInfo};
    use stevedore_core::schema::{Schema, WriteDisposition};

    /// Every file under `root`, relative to it.
    fn files(root: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        out
    }

    fn package(tables: &[&str]) -> PackageInfo {
        let mut schema = Schema::new("p");
        for t in tables {
            schema.tables.insert(t.to_string(), stevedore_core::schema::Table::new(*t));
        }
        let mut info = PackageInfo {
            load_id: "1712345678.123".into(),
            pipeline_name: "p".into(),
            schema,
            created_at: chrono::Utc::now(),
            tables: tables.iter().map(|t| (t.to_string(), WriteDisposition::Append)).collect(),
            replace_tables: Vec::new(),
            state: None,
            staging: None,
            data_formats: Default::default(),
            plans: Default::default(),
        };
        info.plan_tables(&Filesystem::builder().bucket_url("bucket").build().unwrap().capabilities());
        info
    }

    #[test]
    fn escaping_layouts_are_refused_when_the_destination_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let layout = "{table_name}/../../../escape/{load_id}.{file_id}.{ext}";
        let err = Filesystem::builder().bucket_url("bucket").cwd(dir.path()).layout(layout).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains(&format!("invalid filesystem layout `{layout}`")), "{err}");
        assert!(err.message().contains("outside the dataset folder"), "{err}");
        assert_eq!(err.context_value("layout"), Some(layout));
        assert!(err.hint().unwrap().contains(DEFAULT_LAYOUT), "{err}");
        // a static extra placeholder is known when the destination is built too
        let err = Filesystem::builder()
            .bucket_url("bucket")
            .cwd(dir.path())
            .layout("{table_name}/{up}/{load_id}")
            .extra_placeholder("up", "..")
            .build()
            .unwrap_err();
        assert!(err.message().contains("`..`"), "{err}");
        assert!(files(dir.path()).is_empty());
        assert!(!dir.path().join("bucket").exists());
    }

    #[test]
    fn table_names_are_shortened_to_fit_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let caps = Filesystem::builder().bucket_url("bucket").cwd(dir.path()).build().unwrap().capabilities();
        assert_eq!(caps.max_identifier_length, Some(MAX_IDENTIFIER_LENGTH));
        assert_eq!(caps.max_column_identifier_length, Some(MAX_IDENTIFIER_LENGTH));
        // the longest job file name in the working folder, with its notes, fits in a file name
        let longest = format!("{}.{}.{}.{}.remote_url", "t".repeat(MAX_IDENTIFIER_LENGTH), "f".repeat(10), u32::MAX, "jsonl.gz");
        assert!(longest.len() <= layout::MAX_SEGMENT_BYTES, "{}", longest.len());
        let cleanup = format!("{}.f000000000.{}.{CLEANUP_FORMAT}.exception", "t".repeat(MAX_IDENTIFIER_LENGTH), u32::MAX);
        assert!(cleanup.len() <= layout::MAX_SEGMENT_BYTES, "{}", cleanup.len());
    }

    #[tokio::test]
    async fn paths_are_checked_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let fs = Filesystem::builder().bucket_url("bucket").cwd(dir.path()).build().unwrap();
        let client = fs.client("ds", "p").await.unwrap();
        let long = "t".repeat(300);
        let err = client.begin_package(&package(&["items", &long])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.context_value("table"), Some(long.as_str()));
        assert_eq!(err.context_value("layout"), Some(DEFAULT_LAYOUT));
        assert!(err.message().contains("300 bytes long"), "{err}");
        assert!(err.message().contains("255 bytes per file or folder name"), "{err}");
        client.begin_package(&package(&["items", &"t".repeat(200)])).await.unwrap();
        // flat layouts put several values in one file name
        let flat = Filesystem::builder()
            .bucket_url("bucket")
            .cwd(dir.path())
            .layout("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}")
            .build()
            .unwrap();
        let client = flat.client("ds", "p").await.unwrap();
        let err = client.begin_package(&package(&[&"t".repeat(230)])).await.unwrap_err();
        assert!(err.message().contains("bytes long"), "{err}");
        assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
    }

    #[tokio::test]
    async fn a_job_whose_path_would_leave_the_dataset_fails_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let fs = Filesystem::builder()
            .bucket_url("bucket")
            .cwd(dir.path())
            .layout("{table_name}/{up}/{load_id}.{file_id}.{ext}")
            .extra_placeholder("up", ExtraPlaceholder::callback(|_, _, _, _, _| "../..".to_string()))
            .build()
            .unwrap();
        let client = fs.client("ds", "p").await.unwrap();
        let pkg = package(&["items"]);
        // callbacks are not called before the jobs run
        client.begin_package(&pkg).await.unwrap();
        let jobs = tempfile::tempdir().unwrap();
        let path = jobs.path().join("items.0123456789.0.jsonl");
        std::fs::write(&path, b"{\"id\":1}\n").unwrap();
        let job = JobInfo::parse(path).unwrap();
        let err = client.run_job(&pkg, &job).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!err.is_retryable());
        assert_eq!(err.context_value("table"), Some("items"));
        assert!(err.message().contains("renders the path `items/../../1712345678.123.0123456789.jsonl`"), "{err}");
        assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
    }

    #[tokio::test]
    async fn dataset_names_are_one_folder() {
        let dir = tempfile::tempdir().unwrap();
        let fs = Filesystem::builder().bucket_url("bucket").cwd(dir.path()).build().unwrap();
        for name in ["", ".", "..", "a/b", "a\\b", "a\0b", &"d".repeat(256)] {
            let err = fs.client(name, "p").await.err().unwrap_or_else(|| panic!("{name:?} accepted"));
            assert_eq!(err.kind(), ErrorKind::Config, "{name:?}");
            assert!(err.message().contains("invalid dataset name"), "{err}");
        }
        fs.client("lake_2024", "p").await.unwrap();
    }
}
