//! The filesystem as the staging storage of the chain (dlt's `staging="filesystem"`).
//!
//! In staging mode the filesystem only uploads: every job file goes to
//! `<bucket_url>/<dataset>/` under the layout, whatever the table's write disposition (merge
//! and replace happen in the final destination; before a load the staged files of its tables
//! are removed, see [`stevedore_core::staging`]), table formats are ignored, and no
//! `_dlt_version`, `_dlt_pipeline_state` or `_dlt_loads` file is written: the final
//! destination keeps those. The staged files stay after the load.
//!
//! The final destination gets the bucket URL, the bucket's credentials under dlt's key names
//! and a reader of staged files ([`StagingLocation`]).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use stevedore_core::destination::{JobInfo, PackageInfo};
use stevedore_core::staging::{StagedFiles, StagingClient, StagingDestination, StagingLocation};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_object_store::Bucket;

use crate::client::FilesystemClient;
use crate::{Filesystem, NAME};

#[async_trait]
impl StagingDestination for Filesystem {
    fn name(&self) -> &str {
        NAME
    }

    fn supported_file_formats(&self) -> Vec<FileFormat> {
        vec![FileFormat::Jsonl, FileFormat::Parquet, FileFormat::Csv]
    }

    async fn client(&self, dataset_name: &str, pipeline_name: &str) -> Result<Box<dyn StagingClient>> {
        let inner = self.open_client(dataset_name, pipeline_name).await?;
        Ok(Box::new(StagingFilesystemClient { location: location(&inner, self), inner }))
    }

    fn display_location(&self) -> String {
        self.bucket_url().display()
    }
}

fn location(client: &FilesystemClient, fs: &Filesystem) -> StagingLocation {
    StagingLocation {
        destination: NAME.to_string(),
        bucket_url: fs.bucket_url().display(),
        credentials: fs.config.store.credentials.to_key_map(),
        files: Arc::new(BucketFiles { bucket: client.bucket.clone() }),
    }
}

/// The staging client: uploads under the layout, truncates tables' files.
struct StagingFilesystemClient {
    inner: FilesystemClient,
    location: StagingLocation,
}

#[async_trait]
impl StagingClient for StagingFilesystemClient {
    fn location(&self) -> StagingLocation {
        self.location.clone()
    }

    async fn truncate_tables(&self, package: &PackageInfo, tables: &[String]) -> Result<()> {
        let c = &self.inner;
        let mut doomed = Vec::new();
        for table in tables {
            doomed.extend(c.table_files(&package.schema.name, table).await?);
        }
        let removed = c.bucket.delete_many(doomed, &c.dataset).await?;
        tracing::debug!(load_id = %package.load_id, tables = tables.len(), removed, "staging: removed the staged files of the load's tables");
        Ok(())
    }

    async fn upload(&self, package: &PackageInfo, job: &JobInfo) -> Result<String> {
        let c = &self.inner;
        let rel = c.rel(&c.job_path(package, job)?);
        c.bucket.upload_file(&job.path, &rel, &c.memory).await.map_err(|e| e.with("table", job.table.clone()))?;
        Ok(c.bucket.url_of(&rel))
    }
}

/// Reads staged files of one bucket back.
struct BucketFiles {
    bucket: Bucket,
}

#[async_trait]
impl StagedFiles for BucketFiles {
    async fn download(&self, url: &str, local: &Path) -> Result<()> {
        let rel = self.bucket.rel_of_url(url).ok_or_else(|| {
            Error::new(ErrorKind::Config, format!("the staged file `{url}` is not in the staging bucket {}", self.bucket.url.display()))
                .with_hint("run with the staging bucket the package was uploaded to")
        })?;
        self.bucket.download(&rel, local).await
    }
}
