//! The SQLite destination passes the conformance kit, reads its settings from
//! `[destination.sqlite]` through the registry, and keeps a re-run job from duplicating rows.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use sqlite_destination::Sqlite;
use stevedore::filesystem::{Credentials, Filesystem};
use stevedore::serde_json::{Map, Value};
use stevedore::{Config, Pipeline, Registry, Resource, StagingDestination};
use stevedore_testkit::conformance::{Kit, Row, TableReader, run_all};

/// Reads a dataset's database file directly with rusqlite (no stevedore code involved).
struct SqliteReader {
    dest: Sqlite,
}

impl SqliteReader {
    fn open(&self, dataset: &str) -> Option<rusqlite::Connection> {
        let path: PathBuf = self.dest.dataset_path(dataset);
        path.exists()
            .then(|| rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open dataset"))
    }
}

fn quote(id: &str) -> String {
    format!("\"{}\"", id.replace('"', "\"\""))
}

#[async_trait]
impl TableReader for SqliteReader {
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<Row>>, String> {
        let Some(conn) = self.open(dataset) else { return Ok(None) };
        let Some(cols) = columns(&conn, table)? else { return Ok(None) };
        let mut st = conn.prepare(&format!("SELECT * FROM {}", quote(table))).map_err(|e| e.to_string())?;
        let mut rows = st.query([]).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            let mut m = Map::new();
            for (i, c) in cols.iter().enumerate() {
                let v = match r.get_ref(i).map_err(|e| e.to_string())? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::from(b.to_vec()),
                };
                m.insert(c.clone(), v);
            }
            out.push(m);
        }
        Ok(Some(out))
    }
    async fn columns(&self, dataset: &str, table: &str) -> Result<Option<BTreeSet<String>>, String> {
        let Some(conn) = self.open(dataset) else { return Ok(None) };
        Ok(columns(&conn, table)?.map(|c| c.into_iter().collect()))
    }
}

fn columns(conn: &rusqlite::Connection, table: &str) -> Result<Option<Vec<String>>, String> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({})", quote(table))).map_err(|e| e.to_string())?;
    let cols: Vec<String> =
        st.query_map([], |r| r.get::<_, String>(1)).map_err(|e| e.to_string())?.collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    Ok((!cols.is_empty()).then_some(cols))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_kit() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Sqlite::new(dir.path().join("db").join("kit.db"));
    let staging = local_staging(dir.path());
    let kit = Kit::new("kitsq", Arc::new(dest.clone()), Arc::new(SqliteReader { dest })).staging(staging);
    let report = run_all(&kit).await;
    println!("{report}");
    report.assert_passed();
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, vec!["merge_insert_only", "merge_scd2"], "{report}");
}

/// A staging storage on local disk under `dir`.
fn local_staging(dir: &std::path::Path) -> Arc<dyn StagingDestination> {
    Arc::new(Filesystem::builder().bucket_url(&format!("file://{}", dir.join("staging").display())).build().unwrap())
}

/// Every scenario again, each load going through the staging chain (uploaded to a local
/// bucket, then read back from it by the reference jobs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_kit_through_the_staging_chain() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Sqlite::new(dir.path().join("db").join("kit.db"));
    let kit =
        Kit::new("kitst", Arc::new(dest.clone()), Arc::new(SqliteReader { dest })).staging(local_staging(dir.path())).through_staging();
    let report = run_all(&kit).await;
    println!("{report}");
    report.assert_passed();
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, vec!["merge_insert_only", "merge_scd2"], "{report}");
}

/// The chain through an S3 bucket (the local S3 emulator): the staged parquet files are in
/// the bucket (listed by boto3, not by stevedore) under `<bucket>/<dataset>/<table>/`, the
/// rows in SQLite, and the staged-chain scenarios pass.
#[test]
fn staging_through_an_s3_bucket() {
    use stevedore_testkit::remote::{Service, TestBucket};
    let Some(b) = TestBucket::create(Service::S3, "sqlstage") else { return };
    let region = b.env.get("STEVEDORE_S3_REGION").cloned().unwrap_or_else(|| "us-east-1".into());
    let staging = Filesystem::builder()
        .bucket_url(&b.url("stage"))
        .credentials(
            Credentials::new()
                .with_aws_keys(b.var("STEVEDORE_S3_KEY_ID"), b.var("STEVEDORE_S3_SECRET"))
                .with_endpoint_url(b.var("STEVEDORE_S3_ENDPOINT"))
                .with_region_name(&region),
        )
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = Sqlite::new(dir.path().join("s3.db"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let p = Pipeline::builder("s3stage")
        .destination(Arc::new(dest.clone()))
        .staging(Arc::new(staging.clone()))
        .dataset_name("s3stage_data")
        .pipelines_dir(dir.path().join("pipelines"))
        .config(Config::load(&dir.path().join("project"), &HashMap::new()).unwrap())
        .build()
        .unwrap();
    let rows = (1..=50).map(|i| stevedore::serde_json::json!({"id": i, "tags": ["a", "b"]}));
    let info = rt.block_on(p.run(Resource::from_values("events", rows))).unwrap();
    assert!(info.to_string().contains("staged at s3://"), "{info}");
    let keys = b.keys("stage/s3stage_data/");
    assert!(keys.iter().any(|k| k.starts_with("stage/s3stage_data/events/") && k.ends_with(".parquet")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("stage/s3stage_data/events__tags/")), "{keys:?}");
    // no state, schema or load marker files in the staging bucket: the final destination keeps them
    assert!(!keys.iter().any(|k| k.contains("_dlt_loads") || k.contains("_dlt_version") || k.ends_with("/init")), "{keys:?}");
    let conn = rusqlite::Connection::open(dest.dataset_path("s3stage_data")).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    let t: i64 = conn.query_row("SELECT count(*) FROM events__tags", [], |r| r.get(0)).unwrap();
    assert_eq!((n, t), (50, 100));
    let loads: i64 = conn.query_row("SELECT count(*) FROM _dlt_loads", [], |r| r.get(0)).unwrap();
    assert_eq!(loads, 1);
    // the kit's staged scenarios through the same bucket
    let kit = Kit::new("kits3", Arc::new(dest.clone()), Arc::new(SqliteReader { dest })).staging(Arc::new(staging));
    for scenario in ["staged_load", "staged_resume"] {
        let o = rt.block_on(stevedore_testkit::conformance::run_one(&kit, scenario));
        assert_eq!(o, stevedore_testkit::conformance::Outcome::Passed, "{scenario}");
    }
}

/// With `truncate_tables_on_staging_destination_before_load = false` (read from the config
/// section) the staging bucket keeps every load's files; the kit's staged scenarios check it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_files_are_kept_when_truncation_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        ("DESTINATION__SQLITE__DATABASE".to_string(), dir.path().join("keep.db").display().to_string()),
        ("DESTINATION__SQLITE__TRUNCATE_TABLES_ON_STAGING_DESTINATION_BEFORE_LOAD".to_string(), "false".to_string()),
    ]
    .into();
    let dest = Sqlite::from_config(&Config::load(&dir.path().join("nowhere"), &env).unwrap()).unwrap();
    assert!(!stevedore::Destination::capabilities(&dest).truncate_tables_on_staging_destination_before_load);
    let kit = Kit::new("kitkeep", Arc::new(dest.clone()), Arc::new(SqliteReader { dest })).staging(local_staging(dir.path()));
    for scenario in ["staged_load", "staged_resume"] {
        let o = stevedore_testkit::conformance::run_one(&kit, scenario).await;
        assert_eq!(o, stevedore_testkit::conformance::Outcome::Passed, "{scenario}");
    }
}

/// A destination without staging formats refuses the chain before anything is extracted.
#[test]
fn a_destination_without_staging_support_refuses_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Filesystem::builder().bucket_url(&format!("file://{}", dir.path().join("final").display())).build().unwrap();
    let err = Pipeline::builder("nochain")
        .destination(Arc::new(fs))
        .staging(local_staging(dir.path()))
        .pipelines_dir(dir.path().join("pipelines"))
        .config(Config::load(&dir.path().join("project"), &HashMap::new()).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), stevedore::ErrorKind::Unsupported);
    assert!(err.message().contains("destination filesystem cannot load through a staging storage"), "{err}");
    assert!(!dir.path().join("pipelines").exists() && !dir.path().join("staging").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_job_files_load_too() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Sqlite::new(dir.path().join("kit.db"));
    let kit = Kit::new("kitsqj", Arc::new(dest.clone()), Arc::new(SqliteReader { dest })).loader_file_format(stevedore::FileFormat::Jsonl);
    for scenario in ["append", "schema_evolution", "nested_tables", "merge_delete_insert", "hostile_identifiers"] {
        let o = stevedore_testkit::conformance::run_one(&kit, scenario).await;
        assert_eq!(o, stevedore_testkit::conformance::Outcome::Passed, "{scenario}");
    }
}

#[test]
fn registers_with_its_config_section() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    sqlite_destination::register(&mut registry);
    assert!(registry.names().contains(&"sqlite"));
    std::fs::create_dir_all(dir.path().join(".stevedore")).unwrap();
    std::fs::write(dir.path().join(".stevedore/config.toml"), "[destination.sqlite]\ndatabase = \"data/x.db\"\ncreate_indexes = false\n")
        .unwrap();
    let cfg = Config::load(dir.path(), &HashMap::new()).unwrap();
    cfg.validate(&registry.specs()).unwrap();
    let d = registry.destination("sqlite", &cfg).unwrap();
    assert_eq!(d.name(), "sqlite");
    assert_eq!(d.display_location(), "sqlite:///data/x.db");
    // the environment layer, dlt's way
    let env: HashMap<String, String> = [("DESTINATION__SQLITE__DATABASE".to_string(), "/tmp/y.db".to_string())].into();
    let cfg = Config::load(&dir.path().join("nowhere"), &env).unwrap();
    assert_eq!(Sqlite::from_config(&cfg).unwrap().database(), std::path::Path::new("/tmp/y.db"));
    // an unknown key in the section is an error, naming it
    std::fs::write(dir.path().join(".stevedore/config.toml"), "[destination.sqlite]\ndatabse = \"x.db\"\n").unwrap();
    let cfg = Config::load(dir.path(), &HashMap::new()).unwrap();
    let err = cfg.validate(&registry.specs()).unwrap_err().to_string();
    assert!(err.contains("databse"), "{err}");
}

/// The staged scenarios catch a broken staging storage: one that never removes staged files
/// (while the destination asks for it) and one that reports uploads it did not make.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staged_scenarios_catch_a_broken_staging_storage() {
    use stevedore::destination::{JobInfo, PackageInfo};
    use stevedore::staging::{StagingClient, StagingLocation};

    #[derive(Debug)]
    struct Broken(Arc<dyn StagingDestination>, bool);
    struct BrokenClient(Box<dyn StagingClient>, bool);
    #[async_trait]
    impl StagingDestination for Broken {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn supported_file_formats(&self) -> Vec<stevedore::FileFormat> {
            self.0.supported_file_formats()
        }
        async fn client(&self, d: &str, p: &str) -> stevedore::Result<Box<dyn StagingClient>> {
            Ok(Box::new(BrokenClient(self.0.client(d, p).await?, self.1)))
        }
        fn display_location(&self) -> String {
            self.0.display_location()
        }
    }
    #[async_trait]
    impl StagingClient for BrokenClient {
        fn location(&self) -> StagingLocation {
            self.0.location()
        }
        async fn truncate_tables(&self, package: &PackageInfo, tables: &[String]) -> stevedore::Result<()> {
            if self.1 { Ok(()) } else { self.0.truncate_tables(package, tables).await }
        }
        async fn upload(&self, package: &PackageInfo, job: &JobInfo) -> stevedore::Result<String> {
            let url = self.0.upload(package, job).await?;
            if !self.1 {
                // lose the file after reporting it uploaded
                let _ = std::fs::remove_file(url.strip_prefix("file://").unwrap_or(&url));
            }
            Ok(url)
        }
    }

    for keeps_files in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let dest = Sqlite::new(dir.path().join("broken.db"));
        let staging: Arc<dyn StagingDestination> = Arc::new(Broken(local_staging(dir.path()), keeps_files));
        let kit = Kit::new("kitbrk", Arc::new(dest.clone()), Arc::new(SqliteReader { dest })).staging(staging);
        let o = stevedore_testkit::conformance::run_one(&kit, "staged_load").await;
        let why = if keeps_files { "exists after the second load" } else { "not found" };
        assert!(matches!(&o, stevedore_testkit::conformance::Outcome::Failed(m) if m.contains(why)), "keeps_files={keeps_files}: {o:?}");
    }
}
