//! A job that fails for good, through a destination written against the core traits (as a
//! third-party crate would): the load stops with that job's own error, even when the note
//! about it cannot be written beside the job file (as on a full disk), and no temporary file
//! is left behind.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use stevedore::destination::{Capabilities, FollowupJob, JobInfo, JobOutcome, PackageInfo};
use stevedore::filesystem::Filesystem;
use stevedore::{Config, Destination, DestinationClient, Error, Pipeline, Resource, Result};
use stevedore_testkit::list_files;

const REASON: &str = "simulated job failure: no space left on the device";

/// The filesystem destination, except that jobs of table `events` fail for good after
/// occupying the place of their failure note with a non-empty directory.
#[derive(Debug)]
struct FailingEvents(Filesystem);

struct FailingClient(Box<dyn DestinationClient>);

#[async_trait]
impl Destination for FailingEvents {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn client(&self, dataset_name: &str, pipeline_name: &str) -> Result<Box<dyn DestinationClient>> {
        Ok(Box::new(FailingClient(self.0.client(dataset_name, pipeline_name).await?)))
    }
    fn display_location(&self) -> String {
        self.0.display_location()
    }
}

#[async_trait]
impl DestinationClient for FailingClient {
    async fn begin_package(&self, package: &PackageInfo) -> Result<()> {
        self.0.begin_package(package).await
    }
    async fn initialize_storage(&self) -> Result<()> {
        self.0.initialize_storage().await
    }
    async fn migrate_schema(&self, package: &PackageInfo) -> Result<()> {
        self.0.migrate_schema(package).await
    }
    async fn run_job(&self, package: &PackageInfo, job: &JobInfo) -> Result<JobOutcome> {
        if job.table != "events" {
            return self.0.run_job(package, job).await;
        }
        let package_dir = job.path.parent().and_then(Path::parent).expect("job files live in <package>/<state>/");
        let note = package_dir.join("failed_jobs").join(format!("{}.exception", job.file_name()));
        std::fs::create_dir_all(note.join("occupied")).expect("occupy the note's path");
        Err(Error::invalid_data(REASON).with("table", job.table.clone()))
    }
    async fn create_followup_jobs(&self, package: &PackageInfo, completed: &[JobInfo]) -> Result<Vec<FollowupJob>> {
        self.0.create_followup_jobs(package, completed).await
    }
    async fn complete_load(&self, package: &PackageInfo) -> Result<()> {
        self.0.complete_load(package).await
    }
}

#[tokio::test]
async fn a_failed_job_reports_its_own_error_when_its_note_cannot_be_written() {
    let dir = tempfile::Builder::new().prefix("stevedore-failed-").tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let fs = Filesystem::builder().bucket_url(&bucket.display().to_string()).build().unwrap();
    let p = Pipeline::builder("failing")
        .destination(Arc::new(FailingEvents(fs)))
        .pipelines_dir(dir.path().join("pipelines"))
        .config(Config::empty())
        .build()
        .unwrap();
    let rows = (0..10).map(|i| json!({"id": i, "tags": ["a", "b"]}));
    let err = p.run(Resource::from_values("events", rows)).await.expect_err("the events job fails for good");
    let text = format!("{err}");
    assert!(text.contains(REASON), "the job's own reason is reported: {text}");
    assert!(!text.contains("rename file"), "not the failure to write its note: {text}");

    let files = list_files(&dir.path().join("pipelines"));
    let failed: Vec<&String> = files.iter().filter(|f| f.contains("/failed_jobs/")).collect();
    assert!(failed.iter().any(|f| f.contains("/failed_jobs/events.") && !f.contains(".exception")), "job kept: {failed:?}");
    assert!(files.iter().all(|f| !f.contains(".tmp")), "no temporary file left: {files:?}");
    let loads = bucket.join("failing_dataset").join("_dlt_loads");
    assert!(!loads.exists() || list_files(&loads).is_empty(), "no load marker for an aborted package");
}
