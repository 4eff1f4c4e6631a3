//! The staging storage chain (dlt's `staging="filesystem"`): job files are uploaded to a
//! bucket first, and the final destination loads them from there (a warehouse's `COPY`, a
//! BigQuery load job...).
//!
//! How a package moves through the chain, driven by the loader:
//! 1. before the first upload of a package, the staged files of the tables with jobs in it are
//!    removed from the staging bucket ([`StagingClient::truncate_tables`]), unless the final
//!    destination keeps them ([`Capabilities::truncate_tables_on_staging_destination_before_load`]);
//!    a marker in the package makes a resumed load skip this step;
//! 2. every data job is uploaded by the [`StagingClient`]; a **reference job**
//!    `<table>.<file_id>.<retry>.reference`, holding the remote URL, is written into the
//!    package before the data job counts as completed (a resumed load that finds the reference
//!    does not upload the file again);
//! 3. the reference jobs run on the final destination's client like data jobs (into the
//!    staging dataset for merge and staging replace tables); they must be idempotent, as every
//!    job is;
//! 4. followups (merge SQL...) and the load marker come from the final destination only.
//!
//! The final client learns where the staged files are from [`PackageInfo::staging`]: the
//! bucket URL, the staging credentials under dlt's key names (forwarded, as dlt forwards
//! `staging_config`, for destinations whose `COPY` reads the bucket with them) and a reader
//! that fetches a staged file ([`fetch_reference`]) for destinations that load local files.
//!
//! Format selection follows dlt's `merge_caps_file_formats`: see [`staging_file_formats`].
//!
//! [`Capabilities::truncate_tables_on_staging_destination_before_load`]: crate::destination::Capabilities::truncate_tables_on_staging_destination_before_load
//! [`PackageInfo::staging`]: crate::destination::PackageInfo::staging

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::Secret;
use crate::destination::{Capabilities, JobInfo, PackageInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::writers::FileFormat;

/// Extension of reference jobs.
pub const REFERENCE_FORMAT: &str = "reference";

/// A staging storage: where job files go before the final destination loads them.
#[async_trait]
pub trait StagingDestination: Send + Sync + fmt::Debug {
    /// Its name (`filesystem`).
    fn name(&self) -> &str;
    /// Formats it can stage (dlt: the staging destination's `supported_loader_file_formats`).
    fn supported_file_formats(&self) -> Vec<FileFormat>;
    /// A client for the final destination's dataset (files go under `<bucket>/<dataset>/`).
    /// Configuration problems surface here, before anything is uploaded.
    async fn client(&self, dataset_name: &str, pipeline_name: &str) -> Result<Box<dyn StagingClient>>;
    /// A displayable location without secrets (e.g. `s3://bucket/path`).
    fn display_location(&self) -> String;
}

/// A staging client bound to one dataset.
#[async_trait]
pub trait StagingClient: Send + Sync {
    /// What the final destination gets to know about the staged files.
    fn location(&self) -> StagingLocation;
    /// Removes the staged files of `tables` (before a package's first upload). Removing what
    /// is not there is not an error.
    async fn truncate_tables(&self, package: &PackageInfo, tables: &[String]) -> Result<()>;
    /// Uploads one data job file and returns its remote URL. Idempotent: the same job always
    /// lands at the same URL, and an upload that ran before a crash may run again.
    async fn upload(&self, package: &PackageInfo, job: &JobInfo) -> Result<String>;
}

/// Reads staged files back (what a warehouse `COPY` does, for destinations that load local
/// files).
#[async_trait]
pub trait StagedFiles: Send + Sync {
    /// Copies the staged file at `url` (a URL a [`StagingClient::upload`] returned) to `local`.
    async fn download(&self, url: &str, local: &Path) -> Result<()>;
}

/// Where the staged files of a load are, handed to the final destination.
#[derive(Clone)]
pub struct StagingLocation {
    /// Staging destination (`filesystem`).
    pub destination: String,
    /// The staging bucket URL, without secrets (`s3://bucket/path`).
    pub bucket_url: String,
    /// The staging bucket's credentials under dlt's key names (`aws_access_key_id`,
    /// `aws_secret_access_key`, `aws_session_token`, `region_name`, `endpoint_url`,
    /// `azure_storage_account_name`, `azure_storage_account_key`, `azure_storage_sas_token`,
    /// `project_id`, `client_email`, `private_key`...), forwarded as dlt forwards the staging
    /// config; the final destination decides whether to use them.
    pub credentials: BTreeMap<String, Secret<String>>,
    /// Reads a staged file back.
    pub files: Arc<dyn StagedFiles>,
}

impl fmt::Debug for StagingLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StagingLocation")
            .field("destination", &self.destination)
            .field("bucket_url", &self.bucket_url)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The file formats a load uses: `(preferred, possible)`, as dlt's `merge_caps_file_formats`
/// computes them. Without staging, the destination's loader formats. With staging, the final
/// destination's staging formats the staging destination can hold, the preferred staging
/// format first when it is one of them. A destination without staging support, or no common
/// format, is an error naming both sides.
pub fn staging_file_formats(
    destination: &str,
    caps: &Capabilities,
    staging: Option<(&str, &[FileFormat])>,
) -> Result<(FileFormat, Vec<FileFormat>)> {
    let Some((stage_name, stage_formats)) = staging else {
        return Ok((caps.preferred_loader_file_format, caps.supported_loader_file_formats.clone()));
    };
    if caps.supported_staging_file_formats.is_empty() {
        return Err(Error::new(ErrorKind::Unsupported, format!("destination {destination} cannot load through a staging storage"))
            .with("destination", destination.to_string())
            .with_hint(format!("drop --staging (and `staging`): {destination} loads the job files directly")));
    }
    let possible: Vec<FileFormat> = caps.supported_staging_file_formats.iter().copied().filter(|f| stage_formats.contains(f)).collect();
    if possible.is_empty() {
        let names = |v: &[FileFormat]| v.iter().map(|f| f.extension()).collect::<Vec<_>>().join(", ");
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "destination {destination} loads staged {} files and staging {stage_name} holds {}: no format in common",
                names(&caps.supported_staging_file_formats),
                names(stage_formats)
            ),
        )
        .with("destination", destination.to_string())
        .with_hint("use a staging storage that holds one of the destination's staging formats"));
    }
    let preferred = caps.preferred_staging_file_format.filter(|f| possible.contains(f)).unwrap_or(possible[0]);
    Ok((preferred, possible))
}

/// The format and compression of a staged file, from its URL (`x.jsonl.gz` is compressed
/// jsonl, `x.parquet` parquet), as dlt's `get_file_format_and_compression`.
pub fn file_format_of(url: &str) -> Option<(FileFormat, bool)> {
    let name = url.rsplit('/').next().unwrap_or(url);
    let (name, compressed) = match name.strip_suffix(".gz") {
        Some(n) => (n, true),
        None => (name, false),
    };
    let ext = name.rsplit_once('.')?.1;
    FileFormat::parse(ext).map(|f| (f, compressed))
}

/// Reads the remote URL a reference job holds (the first non-empty line).
pub fn read_reference(job: &JobInfo) -> Result<String> {
    let text = std::fs::read_to_string(&job.path).map_err(|e| Error::io("read reference job", &job.path, e))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::invalid_data("the reference job holds no URL").with("path", job.path.display().to_string()))
}

/// A staged file fetched to local disk for a reference job; removed when dropped.
#[derive(Debug)]
pub struct FetchedFile {
    /// The remote URL.
    pub url: String,
    /// The job as if the staged file were its data file: same table, file id and retry,
    /// format and compression from the URL, `path` the local copy.
    pub job: JobInfo,
}

impl Drop for FetchedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.job.path);
    }
}

/// Fetches the staged file of a reference job next to the job file, through the staging
/// location the loader put in `package`, for destinations that load local files.
pub async fn fetch_reference(package: &PackageInfo, job: &JobInfo) -> Result<FetchedFile> {
    let url = read_reference(job)?;
    let staging = package.staging.as_ref().ok_or_else(|| {
        Error::new(ErrorKind::Config, "this package was loaded through a staging storage, and none is configured now")
            .with("job", job.job_id())
            .with_hint("run again with the same --staging (or `staging`) as the run that made the package")
    })?;
    let (format, compressed) = file_format_of(&url)
        .ok_or_else(|| Error::invalid_data(format!("cannot tell the format of the staged file `{url}`")).with("job", job.job_id()))?;
    let data = JobInfo {
        table: job.table.clone(),
        file_id: job.file_id.clone(),
        retry_count: job.retry_count,
        format: format.extension().to_string(),
        compressed,
        path: PathBuf::new(),
        remote_url: Some(url.clone()),
    };
    let local = job.path.with_file_name(format!(".{}.staged", data.file_name()));
    let fetched = FetchedFile { url: url.clone(), job: JobInfo { path: local.clone(), ..data } };
    staging.files.download(&url, &local).await.map_err(|e| e.with("job", job.job_id()))?;
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_picked_as_dlt_picks_them() {
        let mut caps = Capabilities::new(FileFormat::InsertValues);
        // no staging: the destination's own formats
        assert_eq!(staging_file_formats("d", &caps, None).unwrap(), (FileFormat::InsertValues, vec![FileFormat::InsertValues]));
        let fs = [FileFormat::Jsonl, FileFormat::Parquet, FileFormat::Csv];
        // a destination without staging formats refuses the chain
        let e = staging_file_formats("postgres", &caps, Some(("filesystem", &fs))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.message().contains("postgres cannot load through a staging storage"), "{e}");
        // preferred staging format first when possible, else the first possible
        caps.supported_staging_file_formats = vec![FileFormat::Jsonl, FileFormat::Parquet];
        caps.preferred_staging_file_format = Some(FileFormat::Parquet);
        assert_eq!(
            staging_file_formats("d", &caps, Some(("filesystem", &fs))).unwrap(),
            (FileFormat::Parquet, vec![FileFormat::Jsonl, FileFormat::Parquet])
        );
        let only_jsonl = [FileFormat::Jsonl];
        assert_eq!(staging_file_formats("d", &caps, Some(("s", &only_jsonl))).unwrap(), (FileFormat::Jsonl, vec![FileFormat::Jsonl]));
        let none = [FileFormat::Csv];
        let e = staging_file_formats("d", &caps, Some(("s", &none))).unwrap_err();
        assert!(e.message().contains("loads staged jsonl, parquet files and staging s holds csv"), "{e}");
    }

    #[test]
    fn staged_file_formats_come_from_the_url() {
        assert_eq!(file_format_of("s3://b/ds/t/1.abc.jsonl.gz"), Some((FileFormat::Jsonl, true)));
        assert_eq!(file_format_of("file:///x/t/1.abc.parquet"), Some((FileFormat::Parquet, false)));
        assert_eq!(file_format_of("gs://b/t/1.abc.csv"), Some((FileFormat::Csv, false)));
        assert_eq!(file_format_of("gs://b/t/1.abc.gz"), None);
        assert_eq!(file_format_of("gs://b/t/noext"), None);
    }

    #[test]
    fn location_debug_shows_no_secret() {
        struct Nothing;
        #[async_trait]
        impl StagedFiles for Nothing {
            async fn download(&self, _: &str, _: &Path) -> Result<()> {
                Ok(())
            }
        }
        let loc = StagingLocation {
            destination: "filesystem".into(),
            bucket_url: "s3://b/p".into(),
            credentials: [("aws_secret_access_key".to_string(), Secret::new("SUPERSECRET".to_string()))].into(),
            files: Arc::new(Nothing),
        };
        let d = format!("{loc:?}");
        assert!(d.contains("aws_secret_access_key") && !d.contains("SUPERSECRET"), "{d}");
    }
}
