//! `stevedore load --destination snowflake` against fakesnow (server mode), configured only
//! through the environment, read back with snowflake-connector-python (the fakesnow service's
//! venv), not with stevedore's code.

use std::collections::BTreeMap;
use std::path::Path;

use stevedore_testkit::{CliProject, assert_success, run_python};

const DATABASE: &str = "STEVEDORE";

/// snowflake-connector-python against fakesnow: `counts SCHEMA TABLE...` prints `{table: rows}`
/// (`null` for a missing table); `dupes SCHEMA TABLE COLUMN` prints how many values of a column
/// occur more than once; `columns SCHEMA` prints `{TABLE: [[column, type, nullable]]}` from
/// `information_schema.columns`.
const PY_SF: &str = r#"
import sys, json
import snowflake.connector
host, port, op, schema = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].upper()
con = snowflake.connector.connect(user="reader", password="x", account="fakesnow", host=host, port=port, protocol="http",
    database="STEVEDORE", network_timeout=15, socket_timeout=15, login_timeout=15)
cur = con.cursor()
def tables():
    cur.execute(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'")
    return {r[0] for r in cur.fetchall()}
out = {}
if op == "counts":
    have = tables()
    for t in sys.argv[5:]:
        if t.upper() not in have:
            out[t] = None
            continue
        cur.execute(f'SELECT count(*) FROM "{schema}"."{t.upper()}"')
        out[t] = cur.fetchone()[0]
elif op == "dupes":
    t, col = sys.argv[5].upper(), sys.argv[6].upper()
    cur.execute(f'SELECT count(*) FROM (SELECT "{col}" FROM "{schema}"."{t}" GROUP BY "{col}" HAVING count(*) > 1)')
    out = cur.fetchone()[0]
elif op == "columns":
    cur.execute(f"SELECT table_name, column_name, data_type, numeric_precision, numeric_scale, is_nullable FROM information_schema.columns WHERE table_schema = '{schema}' ORDER BY table_name, ordinal_position")
    for t, c, ty, p, s, n in cur.fetchall():
        if ty in ("NUMBER", "DECIMAL") and p is not None:
            ty = f"NUMBER({p},{s})"
        out.setdefault(t, []).append([c, ty, n == "YES"])
print(json.dumps(out))
"#;

struct Env {
    endpoint: String,
    python: String,
}

fn env() -> Option<Env> {
    let v = stevedore_testkit::service("snowflake", &["STEVEDORE_SNOWFLAKE_ENDPOINT", "STEVEDORE_SNOWFLAKE_PYTHON"])?;
    Some(Env { endpoint: v["STEVEDORE_SNOWFLAKE_ENDPOINT"].clone(), python: v["STEVEDORE_SNOWFLAKE_PYTHON"].clone() })
}

impl Env {
    fn py(&self, args: &[&str]) -> serde_json::Value {
        let hp = self.endpoint.trim_start_matches("http://").trim_end_matches('/');
        let (host, port) = hp.split_once(':').unwrap();
        let mut all = vec![host, port];
        all.extend_from_slice(args);
        run_python(Path::new(&self.python), PY_SF, &all)
    }

    /// What a user sets: dlt's connection string, and stevedore's endpoint for a test server.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DESTINATION__SNOWFLAKE__CREDENTIALS", format!("snowflake://loader:s3cret-pw@fakesnow/{DATABASE}?warehouse=WH")),
            ("DESTINATION__SNOWFLAKE__CREDENTIALS__ENDPOINT_URL", self.endpoint.clone()),
        ]
    }

    fn load(&self, proj: &CliProject, file: &Path, dataset: &str, extra: &[&str]) -> std::process::Output {
        let vars = self.vars();
        let envs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut args = vec!["--destination", "snowflake"];
        args.extend_from_slice(extra);
        proj.load(file.to_str().unwrap(), "events", "sf_cli", dataset, &args, &envs)
    }
}

fn dataset(tag: &str) -> String {
    stevedore_testkit::remote::unique_name(tag).replace('-', "_")
}

/// The tables, ordered columns, Snowflake types and nullability dlt 1.31 gives for the
/// 6000-event input (`tests/data/compat/events_6000.snowflake.json`, made by
/// `scripts/dlt_warehouse_expected.py snowflake` with dlt's Snowflake type mapper), against
/// `information_schema.columns` on fakesnow, which reports `VARCHAR(n)` as `TEXT` and
/// `TIMESTAMP_LTZ` as `TIMESTAMP_TZ`: those two are compared in fakesnow's spelling.
fn check_dlt_snowflake_schema(columns: &serde_json::Value, counts: &serde_json::Value) {
    let expected = stevedore_testkit::read_json(&stevedore_testkit::test_data("compat/events_6000.snowflake.json"));
    assert_eq!(expected["dlt_version"].as_str().map(|v| v.starts_with("1.31.")), Some(true));
    let as_fakesnow = |t: &str| -> String {
        if t.starts_with("VARCHAR") {
            "TEXT".into()
        } else if t.starts_with("TIMESTAMP_LTZ") {
            t.replace("TIMESTAMP_LTZ", "TIMESTAMP_TZ")
        } else {
            t.to_string()
        }
    };
    for t in expected["tables"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let want: Vec<(String, String, bool)> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), as_fakesnow(c["type"].as_str().unwrap()), c["nullable"].as_bool().unwrap()))
            .collect();
        let got: Vec<(String, String, bool)> = columns[name]
            .as_array()
            .unwrap_or_else(|| panic!("table {name} is missing: {columns}"))
            .iter()
            .map(|c| (c[0].as_str().unwrap().to_string(), c[1].as_str().unwrap().to_string(), c[2].as_bool().unwrap()))
            .collect();
        assert_eq!(got, want, "columns of {name}");
        let schema_name = t["schema_name"].as_str().unwrap();
        if !schema_name.starts_with("_dlt") {
            assert_eq!(counts[schema_name], t["row_count"], "rows of {name}");
        }
    }
}

/// 6000 generated events: every table's row count equals what dlt's normalizer makes of the
/// input and the catalog holds dlt's Snowflake tables and types; a second `merge` load of the
/// same file on the primary key leaves no duplicates; the password is never printed.
#[test]
fn cli_loads_6000_events_into_snowflake() {
    let Some(e) = env() else { return };
    let proj = CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let input = proj.path().join("events.jsonl");
    stevedore_testkit::gen_events(6000, &input);
    let expected = stevedore_testkit::expected_row_counts(&input, "events");
    let ds = dataset("sfcli");
    let out = e.load(&proj, &input, &ds, &[]);
    let stdout = assert_success(&out, "load");
    assert!(stdout.contains("snowflake"), "{stdout}");
    assert!(!stdout.contains("s3cret-pw") && !String::from_utf8_lossy(&out.stderr).contains("s3cret-pw"), "password shown");
    let mut args = vec!["counts", ds.as_str()];
    args.extend(expected.keys().map(String::as_str));
    let counts = e.py(&args);
    for (t, n) in &expected {
        assert_eq!(counts[t].as_u64(), Some(*n), "rows of {t}: {counts}");
    }
    assert_eq!(e.py(&["counts", &ds, "_dlt_loads"])["_dlt_loads"], 1);
    check_dlt_snowflake_schema(&e.py(&["columns", &ds]), &counts);

    // merge twice on the primary key: no duplicates, root and nested tables
    let ds2 = dataset("sfmerge");
    for _ in 0..2 {
        let out = e.load(&proj, &input, &ds2, &["--write-disposition", "merge", "--primary-key", "id"]);
        assert_success(&out, "merge load");
    }
    let mut args2 = vec!["counts", ds2.as_str()];
    args2.extend(expected.keys().map(String::as_str));
    let counts = e.py(&args2);
    let counts: BTreeMap<String, Option<u64>> = expected.keys().map(|t| (t.clone(), counts[t].as_u64())).collect();
    for (t, n) in &expected {
        assert_eq!(counts[t], Some(*n), "rows of {t} after two merges: {counts:?}");
    }
    assert_eq!(e.py(&["dupes", &ds2, "events", "id"]), 0);
    assert_eq!(e.py(&["counts", &ds2, "_dlt_loads"])["_dlt_loads"], 2);
}

/// `kill -9` while the load's jobs run, then the same command: every table holds the input's
/// rows exactly once (a job's COPY commits with its `_stevedore_jobs` row, so a copied file is
/// never copied again) and `_dlt_loads` has one row.
#[test]
fn kill_9_during_a_load_then_the_same_command_is_exact() {
    let Some(e) = env() else { return };
    let proj = CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let input = proj.path().join("events.jsonl");
    stevedore_testkit::gen_events(3000, &input);
    let expected = stevedore_testkit::expected_row_counts(&input, "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 200\n\n[load]\nworkers = 1\n");
    let ds = dataset("sfkill");
    let command = || {
        let mut c = proj.cmd(&["load", input.to_str().unwrap(), "--table", "events", "--pipeline", "sf_kill", "--dataset", &ds]);
        c.args(["--destination", "snowflake"]);
        c.arg("--pipelines-dir").arg(proj.pipelines_dir());
        for (k, v) in e.vars() {
            c.env(k, v);
        }
        c
    };
    let landed = stevedore_testkit::kill_9_then_rerun(command, &proj.working_dir("sf_kill"), std::time::Duration::from_secs(180));
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
