//! A destination's `insert_values_literals` capability reaches the job files the pipeline
//! writes for it: a destination written against the core traits (as a third party would)
//! declares Redshift's literals and reads back the `insert_values` files it is handed.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use stevedore::destination::{Capabilities, JobInfo, JobOutcome, PackageInfo};
use stevedore::writers::SqlLiterals;
use stevedore::{Config, Destination, DestinationClient, FileFormat, Pipeline, Resource, Result};

#[derive(Debug)]
struct Capturing {
    literals: SqlLiterals,
    files: Arc<Mutex<Vec<String>>>,
}

struct CapturingClient(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl Destination for Capturing {
    fn name(&self) -> &str {
        "capturing"
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::new(FileFormat::InsertValues);
        c.insert_values_literals = self.literals;
        c
    }
    async fn client(&self, _dataset_name: &str, _pipeline_name: &str) -> Result<Box<dyn DestinationClient>> {
        Ok(Box::new(CapturingClient(self.files.clone())))
    }
    fn display_location(&self) -> String {
        "memory".into()
    }
}

#[async_trait]
impl DestinationClient for CapturingClient {
    async fn initialize_storage(&self) -> Result<()> {
        Ok(())
    }
    async fn migrate_schema(&self, _package: &PackageInfo) -> Result<()> {
        Ok(())
    }
    async fn run_job(&self, _package: &PackageInfo, job: &JobInfo) -> Result<JobOutcome> {
        if job.table == "items" {
            let bytes = std::fs::read(&job.path).expect("job file");
            let text = if job.compressed {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut s).expect("gzip");
                s
            } else {
                String::from_utf8(bytes).expect("utf-8")
            };
            self.0.lock().unwrap().push(text);
        }
        Ok(JobOutcome { remote_url: None })
    }
    async fn complete_load(&self, _package: &PackageInfo) -> Result<()> {
        Ok(())
    }
}

async fn items_file(literals: SqlLiterals) -> String {
    let dir = tempfile::Builder::new().prefix("stevedore-literals-").tempdir().unwrap();
    let files = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::builder("literals")
        .destination(Arc::new(Capturing { literals, files: files.clone() }))
        .pipelines_dir(dir.path().join("pipelines"))
        .config(Config::empty())
        .build()
        .unwrap();
    p.run(Resource::from_values("items", vec![json!({"id": 1, "note": "it's a \\ b", "doc": {"k": "x'y"}})])).await.unwrap();
    let files = files.lock().unwrap();
    assert_eq!(files.len(), 1, "one insert_values job for items");
    files[0].clone()
}

#[tokio::test]
async fn redshift_literals_reach_the_insert_values_files() {
    let text = items_file(SqlLiterals::Redshift).await;
    assert!(text.contains("'it''s a \\\\ b'") && !text.contains("E'"), "{text}");
}

#[tokio::test]
async fn postgres_literals_are_the_default() {
    assert_eq!(Capabilities::new(FileFormat::InsertValues).insert_values_literals, SqlLiterals::Postgres);
    let text = items_file(SqlLiterals::Postgres).await;
    assert!(text.contains("E'it''s a \\\\ b'"), "{text}");
}
