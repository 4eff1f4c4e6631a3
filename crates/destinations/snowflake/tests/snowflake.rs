//! The Snowflake destination against fakesnow in server mode (see docs/testing.md): the
//! conformance kit with job files PUT to table stages, key-pair login, fail-fast errors.
//! Tables are read back with snowflake-connector-python (the fakesnow service's venv), not
//! with stevedore's client.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use stevedore::{Config, Pipeline, Resource};
use stevedore_snowflake::{Credentials, Snowflake};
use stevedore_testkit::conformance::{Kit, Row, TableReader, run_all};

const DATABASE: &str = "STEVEDORE";

struct Sf {
    endpoint: String,
    python: String,
}

/// fakesnow's variables (None: SKIP, or a panic when `STEVEDORE_TEST_REQUIRE` names
/// snowflake).
fn sf() -> Option<Sf> {
    let v = stevedore_testkit::service("snowflake", &["STEVEDORE_SNOWFLAKE_ENDPOINT", "STEVEDORE_SNOWFLAKE_PYTHON"])?;
    Some(Sf { endpoint: v["STEVEDORE_SNOWFLAKE_ENDPOINT"].clone(), python: v["STEVEDORE_SNOWFLAKE_PYTHON"].clone() })
}

fn destination(s: &Sf) -> Snowflake {
    Snowflake::builder().credentials(Credentials::test_server(&s.endpoint, DATABASE)).build().unwrap()
}

/// One Python process with snowflake-connector-python connected to fakesnow: a JSON request
/// per line on stdin (`{"sql": ...}`), a JSON answer per line on stdout
/// (`{"cols": [...], "rows": [[...]]}` or `{"error": ...}`). Timestamps are read as text
/// (fakesnow returns NULL timestamps as 1970-01-01 otherwise).
const PY_READER: &str = r#"
import sys, json, base64, datetime, decimal
import snowflake.connector
host, port, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
con = snowflake.connector.connect(user="reader", password="x", account="fakesnow", host=host, port=port, protocol="http",
    database=db, network_timeout=15, socket_timeout=15, login_timeout=15)
def val(v):
    if isinstance(v, (bytes, bytearray)): return base64.b64encode(v).decode()
    if isinstance(v, decimal.Decimal): return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)): return v.isoformat()
    return v
for line in sys.stdin:
    req = json.loads(line)
    try:
        cur = con.cursor()
        cur.execute(req["sql"])
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = [[val(v) for v in r] for r in cur.fetchall()] if cols else []
        out = {"cols": cols, "rows": rows}
    except Exception as e:
        out = {"error": str(e)}
    sys.stdout.write(json.dumps(out, default=str) + "\n")
    sys.stdout.flush()
"#;

struct PyReader {
    io: Mutex<(Child, ChildStdin, BufReader<ChildStdout>)>,
}

impl PyReader {
    fn new(s: &Sf) -> Self {
        let hostport = s.endpoint.trim_start_matches("http://").trim_end_matches('/');
        let (host, port) = hostport.split_once(':').unwrap();
        let mut child = Command::new(&s.python)
            .arg("-c")
            .arg(PY_READER)
            .args([host, port, DATABASE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the python reader");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        PyReader { io: Mutex::new((child, stdin, stdout)) }
    }

    fn sql(&self, sql: &str) -> Result<(Vec<String>, Vec<Vec<Value>>), String> {
        let mut g = self.io.lock().unwrap();
        let (_, stdin, stdout) = &mut *g;
        writeln!(stdin, "{}", json!({ "sql": sql })).map_err(|e| e.to_string())?;
        stdin.flush().map_err(|e| e.to_string())?;
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("reader answered `{line}`: {e}"))?;
        if let Some(e) = v["error"].as_str() {
            return Err(e.to_string());
        }
        let cols = v["cols"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
        let rows = v["rows"].as_array().unwrap().iter().map(|r| r.as_array().unwrap().clone()).collect();
        Ok((cols, rows))
    }

    /// `(column, data_type)` of a table (names as stored, upper case), or None.
    fn columns_of(&self, dataset: &str, table: &str) -> Result<Option<Vec<(String, String)>>, String> {
        let (_, rows) = self.sql(&format!(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '{}' AND table_name = '{}' ORDER BY ordinal_position",
            dataset.to_uppercase().replace('\'', "''"),
            table.to_uppercase().replace('\'', "''")
        ))?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows.iter().map(|r| (r[0].as_str().unwrap_or("").to_string(), r[1].as_str().unwrap_or("").to_string())).collect()))
    }

    fn count(&self, dataset: &str, table: &str) -> i64 {
        let (_, rows) = self.sql(&format!("SELECT count(*) FROM \"{}\".\"{}\"", dataset.to_uppercase(), table.to_uppercase())).unwrap();
        rows[0][0].as_i64().unwrap()
    }
}

impl Drop for PyReader {
    fn drop(&mut self) {
        if let Ok(mut g) = self.io.lock() {
            let _ = g.0.kill();
            let _ = g.0.wait();
        }
    }
}

fn q(s: &str) -> String {
    format!("\"{}\"", s.to_uppercase().replace('"', "\"\""))
}

#[async_trait]
impl TableReader for PyReader {
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<Row>>, String> {
        let Some(cols) = self.columns_of(dataset, table)? else { return Ok(None) };
        let select: Vec<String> = cols
            .iter()
            .map(|(c, t)| if t.starts_with("TIMESTAMP") { format!("CAST({} AS VARCHAR) AS {}", q(c), q(c)) } else { q(c) })
            .collect();
        let (names, rows) = self.sql(&format!("SELECT {} FROM {}.{}", select.join(", "), q(dataset), q(table)))?;
        Ok(Some(
            rows.into_iter()
                .map(|r| {
                    let mut m = Map::new();
                    for (n, v) in names.iter().zip(r) {
                        m.insert(n.to_lowercase(), v);
                    }
                    m
                })
                .collect(),
        ))
    }

    async fn columns(&self, dataset: &str, table: &str) -> Result<Option<BTreeSet<String>>, String> {
        Ok(self.columns_of(dataset, table)?.map(|c| c.into_iter().map(|(n, _)| n.to_lowercase()).collect()))
    }
}

/// Scenarios that fail on fakesnow only, and why: a `MERGE` inside a transaction that already
/// wrote (the followup's `BEGIN ... MERGE ... COMMIT`) makes fakesnow write its own metadata
/// database in the same DuckDB transaction, which DuckDB refuses ("a single transaction can
/// only write to a single attached database"); and a `MERGE` whose only clause is
/// `WHEN NOT MATCHED AND ... THEN INSERT` trips an assertion in its SQL translator. Both
/// statements are valid Snowflake (dlt writes the same); their text is checked by
/// stevedore-sql's unit tests.
const FAKESNOW_GAPS: &[&str] = &["merge_upsert", "merge_insert_only"];

/// The staged scenarios run through a staging storage on local disk: its files go through
/// the table stage like job files (fakesnow cannot COPY from a bucket).
fn kit(tag: &str, s: &Sf, staging_dir: &std::path::Path) -> Kit {
    let staging = stevedore::filesystem::Filesystem::builder().bucket_url(&staging_dir.display().to_string()).build().unwrap();
    Kit::new(tag, Arc::new(destination(s)), Arc::new(PyReader::new(s))).staging(Arc::new(staging))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snowflake_passes_the_conformance_kit() {
    let Some(s) = sf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let report = run_all(&kit("kitsf", &s, dir.path())).await;
    println!("{report}");
    let failed: Vec<&str> = report.failed().iter().map(|(n, _)| *n).collect();
    assert_eq!(failed, FAKESNOW_GAPS, "{report}");
    assert!(report.skipped().is_empty(), "{report}");
}

fn pipeline(name: &str, dest: Snowflake, dataset: &str, dir: &std::path::Path) -> Pipeline {
    Pipeline::builder(name)
        .destination(Arc::new(dest))
        .dataset_name(dataset)
        .pipelines_dir(dir.join("pipelines"))
        .config(Config::load(&dir.join("project"), &Default::default()).unwrap())
        .build()
        .unwrap()
}

fn unique(tag: &str) -> String {
    stevedore_testkit::remote::unique_name(tag).replace('-', "_")
}

/// dlt 1.31's Snowflake types in the catalog (fakesnow reports VARCHAR as TEXT and
/// TIMESTAMP_LTZ as TIMESTAMP_TZ), upper-case names, and values read back by the connector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_have_upper_case_names_and_dlt_types() {
    let Some(s) = sf() else { return };
    let reader = PyReader::new(&s);
    let ds = unique("sftypes");
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("sftypes", destination(&s), &ds, dir.path());
    let rows = vec![
        json!({"id": 1, "name": "a", "score": 1.5, "ok": true, "at": "2024-04-14T08:32:01.5Z", "day": "2024-04-14", "doc": {"x": [1, 2]}}),
        json!({"id": 2, "name": "b'\"\\", "score": null, "ok": false, "at": null, "day": null, "doc": null}),
    ];
    p.run(Resource::from_values("Typed Items", rows)).await.unwrap();
    let cols = reader.columns_of(&ds, "typed_items").unwrap().unwrap();
    let types: std::collections::BTreeMap<String, String> = cols.into_iter().collect();
    assert_eq!(types["ID"], "NUMBER");
    assert_eq!(types["NAME"], "TEXT");
    assert_eq!(types["SCORE"], "FLOAT");
    assert_eq!(types["OK"], "BOOLEAN");
    assert!(types["AT"].starts_with("TIMESTAMP"), "{types:?}");
    assert_eq!(types["DAY"], "TEXT", "dates in JSON are text, as in dlt");
    assert!(types.contains_key("_DLT_LOAD_ID") && types.contains_key("_DLT_ID"), "{types:?}");
    let got = reader.rows(&ds, "typed_items").await.unwrap().unwrap();
    let two = got.iter().find(|r| r["id"] == json!(2)).unwrap();
    assert_eq!(two["name"], json!("b'\"\\"));
    assert_eq!(two["at"], Value::Null);
    let one = got.iter().find(|r| r["id"] == json!(1)).unwrap();
    assert!(one["at"].as_str().unwrap().starts_with("2024-04-14"), "{one:?}");
    assert_eq!(reader.count(&ds, "_dlt_loads"), 1);
}

/// A wrong password on a server that refuses it, or no server: the load fails once, fast,
/// naming the endpoint, never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_fast_without_the_password() {
    let port = stevedore_testkit::remote::closed_port();
    let mut c = Credentials::test_server(&format!("http://127.0.0.1:{port}"), DATABASE);
    c.password = Some(stevedore::config::Secret::new("hunter2-secret".into()));
    let dest = Snowflake::builder().credentials(c).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let p = pipeline("sfdown", dest, "ds", dir.path());
    let err = p.run(Resource::from_values("items", [json!({"id": 1})])).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(t.elapsed() < std::time::Duration::from_secs(30), "took {:?}", t.elapsed());
}

/// Key-pair login (fakesnow accepts any login, so this checks that stevedore logs in with a JWT
/// and loads; the JWT itself is checked by `rest::tests::key_pair_jwt_is_signed_with_snowflakes_claims`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_pair_login_loads() {
    let Some(s) = sf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.p8");
    let ok = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&key)
        .status()
        .expect("openssl makes the test key");
    assert!(ok.success());
    let mut c = Credentials::test_server(&s.endpoint, DATABASE);
    c.password = None;
    c.private_key = Some(stevedore::config::Secret::new(std::fs::read_to_string(&key).unwrap()));
    let dest = Snowflake::builder().credentials(c).build().unwrap();
    let reader = PyReader::new(&s);
    let ds = unique("sfkeypair");
    let p = pipeline("sfkeypair", dest, &ds, dir.path());
    p.run(Resource::from_values("items", (1..=3).map(|i| json!({"id": i})))).await.unwrap();
    assert_eq!(reader.count(&ds, "items"), 3);
}

/// A COPY Snowflake refuses (text for a NUMBER column that exists already) fails the job with
/// the file, the table and Snowflake's message; nothing is marked loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_copy_names_file_table_and_message() {
    let Some(s) = sf() else { return };
    let reader = PyReader::new(&s);
    let ds = unique("sffail");
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("sffail", destination(&s), &ds, dir.path());
    p.run(Resource::from_values("items", (1..=3).map(|i| json!({"id": i, "amount": "x"})))).await.unwrap();
    // another writer turns `amount` into a NUMBER column
    let t = format!("{}.{}", q(&ds), q("items"));
    reader.sql(&format!("DROP TABLE {t}")).unwrap();
    reader
        .sql(&format!("CREATE TABLE {t} (ID NUMBER(19,0), AMOUNT NUMBER(19,0), _DLT_LOAD_ID VARCHAR NOT NULL, _DLT_ID VARCHAR NOT NULL)"))
        .unwrap();
    let err = p.run(Resource::from_values("items", (4..=5).map(|i| json!({"id": i, "amount": "not a number"})))).await.unwrap_err();
    let e = format!("{err}");
    assert!(e.contains("Snowflake COPY of items."), "the file is named: {e}");
    assert!(e.contains(".parquet"), "{e}");
    assert!(e.contains("ITEMS"), "the table is named: {e}");
    assert_eq!(reader.count(&ds, "items"), 0);
    assert_eq!(reader.count(&ds, "_dlt_loads"), 1, "only the first load is marked");
}

/// The chain's routing, run up to where fakesnow stops: files staged in a `gs://` bucket (the
/// GCS emulator) without `stage_name` cannot be copied by Snowflake, so the job fails with a
/// terminal error naming the staged file and `stage_name`, after the upload and before any COPY
/// is sent. (COPY from a bucket itself cannot run on fakesnow; its statements are golden
/// strings in `backend.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gs_chain_without_a_stage_name_is_a_clear_terminal_error() {
    use stevedore_testkit::remote::{Service, TestBucket};
    let Some(s) = sf() else { return };
    let Some(bucket) = TestBucket::create(Service::Gcs, "sfchain") else { return };
    let staging = stevedore::filesystem::Filesystem::builder()
        .bucket_url(&bucket.url("stage"))
        .credentials(stevedore::filesystem::Credentials::new().with_endpoint_url(bucket.var("STEVEDORE_GCS_ENDPOINT")))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique("sfchain");
    let p = Pipeline::builder("sfchain")
        .destination(Arc::new(destination(&s)))
        .staging(Arc::new(staging))
        .dataset_name(&ds)
        .pipelines_dir(dir.path().join("pipelines"))
        .config(Config::load(&dir.path().join("project"), &Default::default()).unwrap())
        .build()
        .unwrap();
    let err = p.run(Resource::from_values("items", (1..=3).map(|i| json!({"id": i})))).await.unwrap_err();
    let e = format!("{err:?}");
    assert!(e.contains("gs://") && e.contains("stage_name"), "{e}");
    let keys = bucket.keys("stage/");
    assert!(keys.iter().any(|k| k.contains("/items/") && k.ends_with(".parquet")), "the file was staged: {keys:?}");
    let reader = PyReader::new(&s);
    assert_eq!(reader.count(&ds, "_dlt_loads"), 0, "nothing is marked loaded");
}

/// `stage_name`: job files go to that named internal stage (under the load id) instead of the
/// table's stage, and COPY reads them there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_internal_stage_holds_the_job_files() {
    let Some(s) = sf() else { return };
    let reader = PyReader::new(&s);
    reader.sql("CREATE SCHEMA IF NOT EXISTS STEVEDORE_STAGES").unwrap();
    reader.sql("CREATE STAGE IF NOT EXISTS STEVEDORE_STAGES.JOB_FILES").unwrap();
    let dest = Snowflake::builder()
        .credentials(Credentials::test_server(&s.endpoint, DATABASE))
        .stage_name("STEVEDORE_STAGES.JOB_FILES")
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique("sfnamed");
    let p = pipeline("sfnamed", dest, &ds, dir.path());
    p.run(Resource::from_values("items", (1..=4).map(|i| json!({"id": i})))).await.unwrap();
    assert_eq!(reader.count(&ds, "items"), 4);
    let (_, listed) = reader.sql("LIST @STEVEDORE_STAGES.JOB_FILES").unwrap();
    assert!(listed.iter().any(|r| r[0].as_str().is_some_and(|n| n.ends_with(".parquet"))), "{listed:?}");
}
