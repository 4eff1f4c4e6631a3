//! Outputs of `stevedore load` read back by independent readers: duckdb for jsonl (gzip and
//! plain) and csv, pyarrow for parquet; and the `_dlt_loads` marker's content.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use stevedore_testkit::{
    CliProject, assert_success, expected_row_counts, gen_events, list_files, load_markers, packages, parquet_stats, python, read_json,
    read_jsonl, run_python,
};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");
const PIPELINE: &str = "readers";
const DATASET: &str = "readers_data";

/// duckdb: `{table: {rows, distinct_dlt_id, load_ids}}` for the files matching `<root>/<table>/*`.
const PY_DUCKDB: &str = r#"
import sys, json, duckdb
root, fmt = sys.argv[1], sys.argv[2]
con = duckdb.connect()
out = {}
for t in sys.argv[3:]:
    pattern = "%s/%s/*" % (root, t)
    src = ("read_json('%s', format='newline_delimited')" if fmt == "json" else "read_csv('%s', header=true)") % pattern
    rows, distinct = con.execute("select count(*), count(distinct _dlt_id) from %s" % src).fetchall()[0]
    cols = [c[0] for c in con.execute("describe select * from %s" % src).fetchall()]
    load_ids = None
    if "_dlt_load_id" in cols:
        load_ids = sorted(r[0] for r in con.execute("select distinct _dlt_load_id::varchar from %s" % src).fetchall())
    out[t] = {"rows": rows, "distinct_dlt_id": distinct, "load_ids": load_ids}
print(json.dumps(out))
"#;

fn duckdb_stats(py: &Path, dataset_dir: &Path, fmt: &str, tables: &[String]) -> Value {
    let mut args = vec![dataset_dir.display().to_string(), fmt.to_string()];
    args.extend(tables.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_python(py, PY_DUCKDB, &args)
}

/// Loads 200 generated events into `events`; returns (project, expected counts, load id).
fn load_events(extra: &[&str], envs: &[(&str, &str)], config_toml: Option<&str>) -> (CliProject, BTreeMap<String, u64>, String) {
    let proj = CliProject::new(BIN);
    if let Some(c) = config_toml {
        proj.write(".stevedore/config.toml", c);
    }
    let input = proj.path().join("events.jsonl");
    gen_events(200, &input);
    let expected = expected_row_counts(&input, "events");
    assert!(expected.len() >= 3, "the input has child tables: {expected:?}");
    assert_success(&proj.load("events.jsonl", "events", PIPELINE, DATASET, extra, envs), "stevedore load");
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(loaded.len(), 1, "one loaded package");
    (proj, expected, loaded[0].clone())
}

/// The data files of each expected table: all files in `<dataset>/<table>/`, each ending in `suffix`.
fn table_files(proj: &CliProject, expected: &BTreeMap<String, u64>, suffix: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in expected.keys() {
        let files: Vec<String> = list_files(&proj.dataset_dir(DATASET).join(t)).into_iter().collect();
        assert!(!files.is_empty(), "table `{t}` has no files");
        for f in &files {
            assert!(f.ends_with(suffix), "`{t}/{f}` should end with `{suffix}`");
        }
        out.insert(t.clone(), files);
    }
    out
}

fn is_gzip(p: &Path) -> bool {
    let b = std::fs::read(p).unwrap();
    b.len() > 2 && b[0] == 0x1f && b[1] == 0x8b
}

/// Plain jsonl files counted in Rust: rows per table, distinct `_dlt_id`, and the load ids of root rows.
fn check_plain_jsonl(proj: &CliProject, expected: &BTreeMap<String, u64>, load_id: &str) {
    for (t, files) in table_files(proj, expected, ".jsonl") {
        let mut rows = Vec::new();
        for f in &files {
            let p = proj.dataset_dir(DATASET).join(&t).join(f);
            assert!(!is_gzip(&p), "{} must not be gzip-compressed", p.display());
            rows.extend(read_jsonl(&p));
        }
        assert_eq!(rows.len() as u64, expected[&t], "rows of `{t}`");
        let ids: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["_dlt_id"].as_str().expect("_dlt_id")).collect();
        assert_eq!(ids.len(), rows.len(), "`{t}`: _dlt_id is unique");
        if t == "events" {
            assert!(rows.iter().all(|r| r["_dlt_load_id"] == json!(load_id)), "root rows carry the load id");
        }
    }
}

fn check_duckdb_json(proj: &CliProject, expected: &BTreeMap<String, u64>, load_id: &str) {
    let Some(py) = python() else { return };
    let tables: Vec<String> = expected.keys().cloned().collect();
    let got = duckdb_stats(&py, &proj.dataset_dir(DATASET), "json", &tables);
    for (t, n) in expected {
        assert_eq!(got[t]["rows"], json!(n), "duckdb rows of `{t}`: {got}");
        assert_eq!(got[t]["distinct_dlt_id"], json!(n), "duckdb distinct _dlt_id of `{t}`");
    }
    assert_eq!(got["events"]["load_ids"], json!([load_id]));
}

#[test]
fn jsonl_default_is_gzip_and_read_by_duckdb() {
    let (proj, expected, load_id) = load_events(&[], &[], None);
    for (t, files) in table_files(&proj, &expected, ".jsonl.gz") {
        for f in files {
            assert!(is_gzip(&proj.dataset_dir(DATASET).join(&t).join(&f)), "{t}/{f} is gzip");
        }
    }
    check_duckdb_json(&proj, &expected, &load_id);
}

#[test]
fn disable_compression_in_config_file_gives_plain_jsonl() {
    let (proj, expected, load_id) = load_events(&[], &[], Some("[data_writer]\ndisable_compression = true\n"));
    check_plain_jsonl(&proj, &expected, &load_id);
    check_duckdb_json(&proj, &expected, &load_id);
}

#[test]
fn disable_compression_in_normalize_section_of_config_file_gives_plain_jsonl() {
    let (proj, expected, load_id) = load_events(&[], &[], Some("[normalize.data_writer]\ndisable_compression = true\n"));
    check_plain_jsonl(&proj, &expected, &load_id);
}

#[test]
fn disable_compression_via_env_gives_plain_jsonl() {
    let (proj, expected, load_id) = load_events(&[], &[("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "true")], None);
    check_plain_jsonl(&proj, &expected, &load_id);
    check_duckdb_json(&proj, &expected, &load_id);
}

#[test]
fn csv_is_read_by_duckdb_with_correct_counts() {
    let (proj, expected, load_id) = load_events(&["--format", "csv"], &[], None);
    let files = table_files(&proj, &expected, ".csv.gz");
    for (t, fs) in &files {
        for f in fs {
            assert!(is_gzip(&proj.dataset_dir(DATASET).join(t).join(f)), "{t}/{f} is gzip");
        }
    }
    let Some(py) = python() else { return };
    let tables: Vec<String> = expected.keys().cloned().collect();
    let got = duckdb_stats(&py, &proj.dataset_dir(DATASET), "csv", &tables);
    for (t, n) in &expected {
        assert_eq!(got[t]["rows"], json!(n), "duckdb rows of `{t}`: {got}");
        assert_eq!(got[t]["distinct_dlt_id"], json!(n), "duckdb distinct _dlt_id of `{t}`");
    }
    assert_eq!(got["events"]["load_ids"], json!([load_id]));
}

#[test]
fn csv_with_disabled_compression_is_plain_csv() {
    let (proj, expected, _) = load_events(&["--format", "csv"], &[("DATA_WRITER__DISABLE_COMPRESSION", "true")], None);
    for (t, fs) in table_files(&proj, &expected, ".csv") {
        let mut lines = 0u64;
        for f in fs {
            let p = proj.dataset_dir(DATASET).join(&t).join(&f);
            assert!(!is_gzip(&p), "{} is plain", p.display());
            // our writer never emits multi-line fields for this input (no newlines in values)
            lines += std::fs::read_to_string(&p).unwrap().lines().count() as u64 - 1;
        }
        assert_eq!(lines, expected[&t], "data lines of `{t}`");
    }
}

#[test]
fn parquet_is_read_by_pyarrow() {
    let (proj, expected, load_id) = load_events(&["--format", "parquet"], &[], None);
    let files = table_files(&proj, &expected, ".parquet");
    for (t, fs) in &files {
        for f in fs {
            let b = std::fs::read(proj.dataset_dir(DATASET).join(t).join(f)).unwrap();
            assert!(b.starts_with(b"PAR1") && b.ends_with(b"PAR1"), "{t}/{f} is a parquet file");
        }
    }
    let Some(py) = python() else { return };
    let tables: Vec<&str> = expected.keys().map(String::as_str).collect();
    let got = parquet_stats(&py, &proj.dataset_dir(DATASET), &tables);
    for (t, n) in &expected {
        assert_eq!(got[t]["rows"], json!(n), "pyarrow rows of `{t}`: {}", got[t]);
        assert_eq!(got[t]["distinct_dlt_id"], json!(n), "pyarrow distinct _dlt_id of `{t}`");
        assert_eq!(got[t]["null_dlt_id"], json!(0));
    }
    assert_eq!(got["events"]["by_load_id"], json!({ load_id.clone(): expected["events"] }));
}

#[test]
fn loads_marker_names_the_load_and_schema_version() {
    let (proj, _, load_id) = load_events(&[], &[("DATA_WRITER__DISABLE_COMPRESSION", "true")], None);
    let dataset = proj.dataset_dir(DATASET);
    let markers = load_markers(&dataset);
    assert_eq!(markers.len(), 1, "one marker: {markers:?}");
    let (name, m) = &markers[0];
    assert_eq!(name, &format!("{PIPELINE}__{load_id}.jsonl"));
    let schema = read_json(&proj.working_dir(PIPELINE).join("schemas").join(format!("{PIPELINE}.schema.json")));
    assert_eq!(m["load_id"], json!(load_id));
    assert_eq!(m["schema_name"], schema["name"]);
    assert_eq!(m["schema_name"], json!(PIPELINE));
    assert_eq!(m["status"], json!(0));
    assert_eq!(m["schema_version_hash"], schema["version_hash"]);
    let at = m["inserted_at"].as_str().expect("inserted_at");
    chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("inserted_at `{at}` is not ISO 8601: {e}"));
    // the load id in the marker is the one in the data
    let rows: Vec<Value> = list_files(&dataset.join("events")).iter().flat_map(|f| read_jsonl(&dataset.join("events").join(f))).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["_dlt_load_id"] == m["load_id"]));
    // and `_dlt_version` holds the same schema version
    let versions: Vec<String> = list_files(&dataset.join("_dlt_version")).into_iter().collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    let v = read_json(&dataset.join("_dlt_version").join(&versions[0]));
    assert_eq!(v["version_hash"], schema["version_hash"]);
    assert_eq!(v["schema_name"], json!(PIPELINE));
    // the `init` file as dlt writes it
    assert_eq!(read_json(&dataset.join("init")), json!({"initial_version": 2, "current_version": 2}));
}

/// deltalake: `{table: {version, rows, distinct_dlt_id, partitions}}` of the Delta tables.
const PY_DELTA_STATS: &str = r#"
import os, sys, json
from deltalake import DeltaTable
root = sys.argv[1]
out = {}
for t in sys.argv[2:]:
    dt = DeltaTable("%s/%s" % (root, t))
    tab = dt.to_pyarrow_table()
    out[t] = {"version": dt.version(), "rows": tab.num_rows,
              "distinct_dlt_id": len(set(tab.column("_dlt_id").to_pylist())),
              "partitions": dt.metadata().partition_columns}
print(json.dumps(out))
sys.stdout.flush()
os._exit(0)  # deltalake's threads can abort the interpreter's shutdown
"#;

#[test]
fn delta_table_format_is_read_by_deltalake() {
    // --format jsonl is disregarded for Delta tables (always parquet), as in dlt
    let (proj, expected, _) = load_events(&["--table-format", "delta", "--format", "jsonl"], &[], None);
    let dataset = proj.dataset_dir(DATASET);
    for t in expected.keys() {
        assert!(dataset.join(t).join("_delta_log").is_dir(), "{t} is a Delta table");
        let files = list_files(&dataset.join(t));
        assert!(files.iter().all(|f| f.starts_with("_delta_log/") || f.ends_with(".parquet")), "{t}: {files:?}");
    }
    // state, schema and load markers as for other filesystem tables
    assert_eq!(load_markers(&dataset).len(), 1);
    let Some(py) = python() else { return };
    let mut args = vec![dataset.display().to_string()];
    args.extend(expected.keys().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let got = run_python(&py, PY_DELTA_STATS, &args);
    for (t, n) in &expected {
        assert_eq!(got[t]["rows"], json!(n), "deltalake rows of `{t}`: {}", got[t]);
        assert_eq!(got[t]["distinct_dlt_id"], json!(n));
        assert_eq!(got[t]["version"], json!(0));
    }
}
