//! `stevedore load --destination bigquery` against the emulators (bqemulator + fake-gcs-server),
//! configured only through the environment, read back with Google's Python client
//! (google-cloud-bigquery pointed at the emulator), not with stevedore's code.

use std::collections::BTreeMap;
use std::path::Path;

use stevedore_testkit::remote::{Service, TestBucket, python_with, require_service};
use stevedore_testkit::{CliProject, assert_failure, assert_success, run_python};

/// google-cloud-bigquery against the emulator: `counts DATASET TABLE...` prints `{table: rows}`
/// (`null` for a missing table); `dupes DATASET TABLE COLUMN` prints how many values of a
/// column occur more than once.
const PY_BQ: &str = r#"
import sys, json
from google.cloud import bigquery
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.api_core.exceptions import NotFound
endpoint, project, op, dataset = sys.argv[1:5]
c = bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=endpoint))
out = {}
if op == "counts":
    for t in sys.argv[5:]:
        try:
            c.get_table(f"{project}.{dataset}.{t}")
        except NotFound:
            out[t] = None
            continue
        rows = list(c.query(f"SELECT count(*) AS n FROM `{dataset}`.`{t}`").result())
        out[t] = rows[0]["n"]
elif op == "dupes":
    t, col = sys.argv[5:7]
    rows = list(c.query(f"SELECT count(*) AS n FROM (SELECT `{col}` FROM `{dataset}`.`{t}` GROUP BY `{col}` HAVING count(*) > 1)").result())
    out = rows[0]["n"]
elif op == "columns":
    for r in c.query(f"SELECT table_name, column_name, data_type, is_nullable FROM `{dataset}`.INFORMATION_SCHEMA.COLUMNS ORDER BY table_name, ordinal_position").result():
        out.setdefault(r["table_name"], []).append([r["column_name"], r["data_type"], r["is_nullable"] == "YES"])
elif op == "tables":
    out = sorted(t.table_id for t in c.list_tables(dataset))
print(json.dumps(out))
"#;

struct Env {
    bq: BTreeMap<String, String>,
    python: std::path::PathBuf,
    bucket: TestBucket,
}

fn env(tag: &str) -> Option<Env> {
    let bq = require_service("bigquery", &["STEVEDORE_BQ_ENDPOINT", "STEVEDORE_BQ_PROJECT"])?;
    let python = python_with("bigquery", &["google.cloud.bigquery"])?;
    let bucket = TestBucket::create(Service::Gcs, tag)?;
    Some(Env { bq, python, bucket })
}

impl Env {
    fn py(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec![self.bq["STEVEDORE_BQ_ENDPOINT"].as_str(), self.bq["STEVEDORE_BQ_PROJECT"].as_str()];
        all.extend_from_slice(args);
        run_python(&self.python, PY_BQ, &all)
    }

    /// The variables a user would set: BigQuery on the emulator, the GCS staging bucket's
    /// endpoint for the filesystem staging.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID", self.bq["STEVEDORE_BQ_PROJECT"].clone()),
            ("DESTINATION__BIGQUERY__CREDENTIALS__ENDPOINT_URL", self.bq["STEVEDORE_BQ_ENDPOINT"].clone()),
            ("DESTINATION__BIGQUERY__LOCATION", "US".into()),
            ("DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL", self.bucket.var("STEVEDORE_GCS_ENDPOINT").to_string()),
        ]
    }

    fn load(&self, proj: &CliProject, file: &Path, dataset: &str, extra: &[&str]) -> std::process::Output {
        let vars = self.vars();
        let envs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let staging = self.bucket.url("stage");
        let mut args = vec!["--destination", "bigquery", "--staging", "filesystem", "--staging-bucket-url", staging.as_str()];
        args.extend_from_slice(extra);
        proj.load(file.to_str().unwrap(), "events", "bq_cli", dataset, &args, &envs)
    }
}

/// The tables, ordered columns, BigQuery types and nullability dlt 1.31 gives for the
/// 6000-event input, and its row counts (`tests/data/compat/events_6000.bigquery.json`, made
/// by `scripts/dlt_warehouse_expected.py bigquery` with dlt's BigQuery type mapper), against what
/// `INFORMATION_SCHEMA.COLUMNS` reports. bqemulator drops the length of `STRING(n)`
/// (`_dlt_loads.load_id` is `STRING(64)` in dlt), so types are compared without it.
fn check_dlt_bigquery_schema(columns: &serde_json::Value, counts: &serde_json::Value) {
    let expected = stevedore_testkit::read_json(&stevedore_testkit::test_data("compat/events_6000.bigquery.json"));
    assert_eq!(expected["dlt_version"].as_str().map(|v| v.starts_with("1.31.")), Some(true));
    let base = |t: &str| t.split('(').next().unwrap_or(t).to_string();
    for t in expected["tables"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let want: Vec<(String, String, bool)> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), base(c["type"].as_str().unwrap()), c["nullable"].as_bool().unwrap()))
            .collect();
        let got: Vec<(String, String, bool)> = columns[name]
            .as_array()
            .unwrap_or_else(|| panic!("table {name} is missing: {columns}"))
            .iter()
            .map(|c| (c[0].as_str().unwrap().to_string(), base(c[1].as_str().unwrap()), c[2].as_bool().unwrap()))
            .collect();
        assert_eq!(got, want, "columns of {name}");
        if !name.starts_with("_dlt") {
            assert_eq!(counts[name], t["row_count"], "rows of {name}");
        }
    }
}

fn dataset(tag: &str) -> String {
    stevedore_testkit::remote::unique_name(tag).replace('-', "_")
}

/// 6000 generated events through the GCS chain: every table's row count equals what dlt's
/// normalizer makes of the input; the staged files are in the bucket; a second `merge` load
/// of the same file on the primary key leaves no duplicates.
///
/// Staged as jsonl (`--format jsonl`): the generated events gain columns as the normalizer
/// reads on, so the first parquet files of `events` have fewer columns than the table, and
/// bqemulator matches parquet columns by position and refuses such a file (real BigQuery
/// matches them by name). Parquet through the chain is covered by the conformance kit.
#[test]
fn cli_loads_6000_events_through_the_gcs_chain() {
    let Some(e) = env("bqcli") else { return };
    let proj = CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let input = proj.path().join("events.jsonl");
    stevedore_testkit::gen_events(6000, &input);
    let expected = stevedore_testkit::expected_row_counts(&input, "events");
    let ds = dataset("bqcli");
    let out = e.load(&proj, &input, &ds, &["--format", "jsonl"]);
    let stdout = assert_success(&out, "chained load");
    assert!(stdout.contains("bigquery"), "{stdout}");
    assert!(stdout.contains("staged at gs://"), "{stdout}");
    let tables: Vec<&str> = expected.keys().map(String::as_str).collect();
    let mut args = vec!["counts", ds.as_str()];
    args.extend(tables.iter().copied());
    let counts = e.py(&args);
    for (t, n) in &expected {
        assert_eq!(counts[t].as_u64(), Some(*n), "rows of {t}: {counts}");
    }
    let loads = e.py(&["counts", &ds, "_dlt_loads"]);
    assert_eq!(loads["_dlt_loads"], 1);
    check_dlt_bigquery_schema(&e.py(&["columns", &ds]), &counts);
    let keys = e.bucket.keys("stage/");
    assert!(keys.iter().any(|k| k.contains("/events/") && k.contains(".jsonl")), "{keys:?}");

    // merge twice on the primary key: no duplicates, root and nested tables
    let ds2 = dataset("bqmerge");
    for _ in 0..2 {
        let out = e.load(&proj, &input, &ds2, &["--format", "jsonl", "--write-disposition", "merge", "--primary-key", "id"]);
        assert_success(&out, "merge load");
    }
    let counts = e.py(&args.iter().map(|a| if *a == ds.as_str() { ds2.as_str() } else { a }).collect::<Vec<_>>());
    for (t, n) in &expected {
        assert_eq!(counts[t].as_u64(), Some(*n), "rows of {t} after two merges: {counts}");
    }
    assert_eq!(e.py(&["dupes", &ds2, "events", "id"]), 0);
    let loads = e.py(&["counts", &ds2, "_dlt_loads"]);
    assert_eq!(loads["_dlt_loads"], 2);
}

/// A staged file BigQuery refuses (a value that does not fit the column the table has) fails
/// the command with BigQuery's reason, the table and the staged file named.
#[test]
fn cli_reports_a_failing_load_job() {
    let Some(e) = env("bqclifail") else { return };
    let proj = CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let ds = dataset("bqclifail");
    let a = proj.write("a.jsonl", "{\"id\": 1, \"code\": \"x\"}\n");
    assert_success(&e.load(&proj, &a, &ds, &[]), "first load");
    // another writer turns `code` into INT64
    let sql = format!(
        "DROP TABLE `{ds}`.`events`; CREATE TABLE `{ds}`.`events` (id INT64, code INT64, _dlt_load_id STRING NOT NULL, _dlt_id STRING NOT NULL)"
    );
    let py = "import sys\nfrom google.cloud import bigquery\nfrom google.api_core.client_options import ClientOptions\nfrom google.auth.credentials import AnonymousCredentials\nc = bigquery.Client(project=sys.argv[2], credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=sys.argv[1]))\nlist(c.query(sys.argv[3]).result())\nprint('null')\n";
    run_python(&e.python, py, &[&e.bq["STEVEDORE_BQ_ENDPOINT"], &e.bq["STEVEDORE_BQ_PROJECT"], &sql]);
    let b = proj.write("b.jsonl", "{\"id\": 2, \"code\": \"not a number\"}\n");
    let err = assert_failure(&e.load(&proj, &b, &ds, &["--format", "jsonl"]), "load into a mismatched table");
    assert!(err.contains("BigQuery load job"), "{err}");
    assert!(err.contains("events"), "{err}");
    assert!(err.contains("gs://"), "the staged file is named: {err}");
    assert!(err.contains("invalid"), "BigQuery's reason: {err}");
    assert_eq!(e.py(&["counts", &ds, "events"])["events"], 0);
}

/// `kill -9` while the chained load's jobs run, then the same command: every table holds the
/// input's rows exactly once (no staged file was loaded twice: a load job that ran before the
/// kill is found by its id and not run again) and `_dlt_loads` has one row.
#[test]
fn kill_9_during_a_chained_load_then_the_same_command_is_exact() {
    let Some(e) = env("bqkill") else { return };
    let proj = CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let input = proj.path().join("events.jsonl");
    stevedore_testkit::gen_events(3000, &input);
    let expected = stevedore_testkit::expected_row_counts(&input, "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 200\n\n[load]\nworkers = 1\n");
    let ds = dataset("bqkill");
    let command = || {
        let staging = e.bucket.url("stage");
        let mut c = proj.cmd(&["load", input.to_str().unwrap(), "--table", "events", "--pipeline", "bq_kill", "--dataset", &ds]);
        c.args(["--destination", "bigquery", "--staging", "filesystem", "--staging-bucket-url", &staging, "--format", "jsonl"]);
        c.arg("--pipelines-dir").arg(proj.pipelines_dir());
        for (k, v) in e.vars() {
            c.env(k, v);
        }
        c
    };
    let landed = stevedore_testkit::kill_9_then_rerun(command, &proj.working_dir("bq_kill"), std::time::Duration::from_secs(180));
    assert!(landed.starts_with("killed"), "{landed}");
    let mut args = vec!["counts", ds.as_str()];
    args.extend(expected.keys().map(String::as_str));
    let counts = e.py(&args);
    for (t, n) in &expected {
        assert_eq!(counts[t].as_u64(), Some(*n), "rows of {t} after kill -9 and rerun: {counts}");
    }
    assert_eq!(e.py(&["dupes", &ds, "events", "_dlt_id"]), 0);
    assert_eq!(e.py(&["counts", &ds, "_dlt_loads"])["_dlt_loads"], 1);
}
