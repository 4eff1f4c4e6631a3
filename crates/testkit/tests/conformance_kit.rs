//! The conformance kit catches broken destinations: variants of the filesystem destination
//! (and of its reader) that duplicate rows, keep the rows of an aborted load, write no load
//! marker or run a job twice must fail the scenarios that check those things.

use std::sync::Arc;

use async_trait::async_trait;
use stevedore_core::destination::{Capabilities, Destination, DestinationClient, FollowupJob, JobInfo, JobOutcome, PackageInfo};
use stevedore_core::writers::FileFormat;
use stevedore_filesystem::Filesystem;
use stevedore_testkit::conformance::{Kit, LocalParquetReader, Outcome, Row, TableReader, run_one};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// `discard_package` does nothing: an aborted load's files stay.
    KeepsAbortedFiles,
    /// `complete_load` writes no marker.
    NoMarker,
    /// Every data job is written twice under another file id (not idempotent).
    DuplicatesJobs,
}

#[derive(Debug)]
struct Broken(Filesystem, Fault);
struct BrokenClient(Box<dyn DestinationClient>, Fault);

#[async_trait]
impl Destination for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn client(&self, d: &str, p: &str) -> stevedore_core::Result<Box<dyn DestinationClient>> {
        Ok(Box::new(BrokenClient(self.0.client(d, p).await?, self.1)))
    }
    fn display_location(&self) -> String {
        self.0.display_location()
    }
}

#[async_trait]
impl DestinationClient for BrokenClient {
    async fn initialize_storage(&self) -> stevedore_core::Result<()> {
        self.0.initialize_storage().await
    }
    async fn migrate_schema(&self, p: &PackageInfo) -> stevedore_core::Result<()> {
        self.0.migrate_schema(p).await
    }
    async fn run_job(&self, p: &PackageInfo, j: &JobInfo) -> stevedore_core::Result<JobOutcome> {
        if self.1 == Fault::DuplicatesJobs && j.is_data() {
            let mut twin = j.clone();
            twin.file_id = format!("{}x", j.file_id);
            self.0.run_job(p, &twin).await?;
        }
        self.0.run_job(p, j).await
    }
    async fn create_followup_jobs(&self, p: &PackageInfo, c: &[JobInfo]) -> stevedore_core::Result<Vec<FollowupJob>> {
        self.0.create_followup_jobs(p, c).await
    }
    async fn complete_load(&self, p: &PackageInfo) -> stevedore_core::Result<()> {
        if self.1 == Fault::NoMarker {
            return Ok(());
        }
        self.0.complete_load(p).await
    }
    async fn discard_package(&self, p: &PackageInfo, jobs: &[JobInfo]) -> stevedore_core::Result<()> {
        if self.1 == Fault::KeepsAbortedFiles {
            return Ok(());
        }
        self.0.discard_package(p, jobs).await
    }
}

/// A reader that sees every data row twice.
struct DoublingReader(LocalParquetReader);

#[async_trait]
impl TableReader for DoublingReader {
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<Row>>, String> {
        let rows = self.0.rows(dataset, table).await?;
        Ok(rows.map(|r| if table.starts_with("_dlt") { r } else { r.iter().chain(r.iter()).cloned().collect() }))
    }
}

fn kit(dir: &std::path::Path, fault: Option<Fault>) -> (Kit, LocalParquetReader) {
    let bucket = dir.join("bucket");
    let fs = Filesystem::builder().bucket_url(&bucket.display().to_string()).build().unwrap();
    let dest: Arc<dyn Destination> = match fault {
        Some(f) => Arc::new(Broken(fs, f)),
        None => Arc::new(fs),
    };
    let reader = LocalParquetReader::new(&bucket);
    (Kit::new("selftest", dest, Arc::new(reader.clone())).loader_file_format(FileFormat::Parquet), reader)
}

fn failed(o: &Outcome) -> bool {
    matches!(o, Outcome::Failed(_))
}

#[tokio::test]
async fn an_aborted_load_left_in_place_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = kit(dir.path(), Some(Fault::KeepsAbortedFiles));
    let o = run_one(&k, "failed_job_then_rerun").await;
    assert!(failed(&o), "{o:?}");
    assert!(format!("{o:?}").contains("aborted load"), "{o:?}");
}

#[tokio::test]
async fn a_missing_load_marker_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = kit(dir.path(), Some(Fault::NoMarker));
    for s in ["append", "empty_load", "replace"] {
        let o = run_one(&k, s).await;
        assert!(failed(&o), "{s}: {o:?}");
    }
}

#[tokio::test]
async fn a_job_that_loads_twice_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = kit(dir.path(), Some(Fault::DuplicatesJobs));
    for s in ["append", "nested_tables", "resume_after_crash"] {
        let o = run_one(&k, s).await;
        assert!(failed(&o), "{s}: {o:?}");
    }
}

#[tokio::test]
async fn duplicated_rows_fail_every_row_check() {
    let dir = tempfile::tempdir().unwrap();
    let (mut k, reader) = kit(dir.path(), None);
    k.reader = Arc::new(DoublingReader(reader));
    for s in [
        "append",
        "replace",
        "schema_evolution",
        "nested_tables",
        "failed_job_then_rerun",
        "resume_after_crash",
        "idempotent_job_rerun",
        "hostile_identifiers",
    ] {
        let o = run_one(&k, s).await;
        assert!(failed(&o), "{s}: {o:?}");
    }
}

#[tokio::test]
async fn unknown_and_undeclared_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = kit(dir.path(), None);
    assert!(failed(&run_one(&k, "no_such_scenario").await));
    // the filesystem without table formats declares no merge strategy
    let o = run_one(&k, "merge_delete_insert").await;
    assert!(matches!(o, Outcome::Skipped(ref why) if why.contains("delete-insert")), "{o:?}");
}
