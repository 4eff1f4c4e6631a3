//! The SQLite destination passes the conformance kit, reads its settings from
//! `[destination.sqlite]` through the registry, and keeps a re-run job from duplicating rows.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use sqlite_destination::Sqlite;
use stevedore::serde_json::{Map, Value};
use stevedore::{Config, Registry};
use stevedore_testkit::conformance::{Kit, Row, TableReader, run_all};

/// Reads a dataset's database file directly with rusqlite (no stevedore code involved).
struct SqliteReader {
    dest: Sqlite,
}

impl SqliteReader {
    fn open(&self, dataset: &str) -> Option<rusqlite::Connection> {
        let path: PathBuf = self.dest.dataset_path(dataset);
        path.exists().then(|| rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open dataset"))
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
    let cols: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(1))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    Ok((!cols.is_empty()).then_some(cols))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_kit() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Sqlite::new(dir.path().join("db").join("kit.db"));
    let kit = Kit::new("kitsq", Arc::new(dest.clone()), Arc::new(SqliteReader { dest }));
    let report = run_all(&kit).await;
    println!("{report}");
    report.assert_passed();
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, vec!["merge_insert_only", "merge_scd2"], "{report}");
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
    std::fs::write(dir.path().join(".stevedore/config.toml"), "[destination.sqlite]\ndatabase = \"data/x.db\"\ncreate_indexes = false\n").unwrap();
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
