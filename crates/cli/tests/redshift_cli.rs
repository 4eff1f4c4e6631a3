//! `stevedore load --destination redshift` on the PostgreSQL stand-in (see
//! docs/destinations/redshift.md: the `super`/`varbinary` domains, `json_parse`/`from_hex` and
//! `standard_conforming_strings = off`), configured only through the environment with a
//! `redshift://` URL, read back with psql (not with stevedore's code). Without a staging
//! storage, Redshift loads dlt's `insert_values` files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use stevedore_testkit::{CliProject, assert_success};

const DB: &str = "stevedore_redshift_cli";
const SECRET: &str = "s3cret-pw";

const SHIMS: &str = "DO $$ BEGIN CREATE DOMAIN super AS jsonb; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
DO $$ BEGIN CREATE DOMAIN varbinary AS bytea; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
CREATE OR REPLACE FUNCTION json_parse(text) RETURNS jsonb AS 'SELECT $1::jsonb' LANGUAGE sql IMMUTABLE; \
CREATE OR REPLACE FUNCTION from_hex(text) RETURNS bytea AS 'SELECT decode($1, ''hex'')' LANGUAGE sql IMMUTABLE;";

struct Env {
    psql: PathBuf,
    /// The stand-in database, as psql reaches it.
    pg_url: String,
    /// The same database as a user configures Redshift.
    redshift_url: String,
}

fn try_psql(psql: &Path, url: &str, sql: &str) -> bool {
    Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn env() -> Option<Env> {
    let url = stevedore_testkit::pg::url()?;
    let psql = stevedore_testkit::pg::psql().expect("STEVEDORE_PSQL is set with STEVEDORE_PG_URL");
    // tests of this binary run in parallel processes: creating twice is not an error
    try_psql(&psql, &url, &format!("CREATE DATABASE {DB}"));
    try_psql(&psql, &url, &format!("ALTER DATABASE {DB} SET standard_conforming_strings = off"));
    let (head, _) = url.rsplit_once('/').expect("a database in STEVEDORE_PG_URL");
    let pg_url = format!("{head}/{DB}");
    for _ in 0..5 {
        if try_psql(&psql, &pg_url, SHIMS) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    stevedore_testkit::pg::psql_query(&psql, &pg_url, "SELECT NULL::super, NULL::varbinary, json_parse('{}'), from_hex('00')");
    // a password the stand-in (trust authentication) ignores, to check it is never printed
    let redshift_url = format!("redshift://{}", pg_url.split_once("://").unwrap().1.replacen('@', &format!(":{SECRET}@"), 1));
    Some(Env { psql, pg_url, redshift_url })
}

impl Env {
    fn query(&self, sql: &str) -> Vec<String> {
        stevedore_testkit::pg::psql_query(&self.psql, &self.pg_url, sql)
    }
    fn count(&self, ds: &str, t: &str) -> u64 {
        self.query(&format!("SELECT count(*) FROM \"{ds}\".\"{t}\""))[0].parse().unwrap()
    }
    fn command(&self, proj: &CliProject, file: &Path, pipeline: &str, ds: &str, extra: &[&str]) -> Command {
        let mut c = proj.cmd(&["load", file.to_str().unwrap(), "--table", "events", "--pipeline", pipeline, "--dataset", ds]);
        c.args(["--destination", "redshift"]).args(extra);
        c.arg("--pipelines-dir").arg(proj.pipelines_dir());
        c.env("DESTINATION__REDSHIFT__CREDENTIALS", &self.redshift_url);
        c
    }
}

/// The tables, ordered columns, Redshift types and nullability dlt 1.31 gives for the
/// 6000-event input (`tests/data/compat/events_6000.redshift.json`, made by
/// `scripts/dlt_warehouse_expected.py redshift` with dlt's Redshift type mapper; unbounded text compared
/// as `varchar(65535)`, what dlt's `varchar(max)` means on Redshift), against
/// `information_schema.columns` read with psql.
fn check_dlt_redshift_schema(e: &Env, ds: &str, counts: &BTreeMap<String, u64>) {
    let expected = stevedore_testkit::read_json(&stevedore_testkit::test_data("compat/events_6000.redshift.json"));
    assert_eq!(expected["dlt_version"].as_str().map(|v| v.starts_with("1.31.")), Some(true));
    let rows = e.query(&format!(
        "SELECT table_name, column_name, CASE WHEN data_type = 'character varying' THEN 'varchar(' || character_maximum_length || ')' \
         WHEN domain_name IS NOT NULL THEN domain_name ELSE data_type END, is_nullable FROM information_schema.columns \
         WHERE table_schema = '{ds}' ORDER BY table_name, ordinal_position"
    ));
    let mut got: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for r in rows {
        let f: Vec<&str> = r.split('|').collect();
        got.entry(f[0].to_string()).or_default().push((f[1].to_string(), f[2].to_string(), f[3] == "YES"));
    }
    for t in expected["tables"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let want: Vec<(String, String, bool)> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["type_stevedore"].as_str().unwrap().to_string(),
                    c["nullable"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(got.get(name), Some(&want), "columns of {name}");
        if !name.starts_with("_dlt") {
            assert_eq!(counts.get(name).copied(), t["row_count"].as_u64(), "rows of {name}");
        }
    }
}

/// 6000 generated events: every table's row count equals what dlt's normalizer makes of the
/// input, and the catalog holds dlt's Redshift tables and types; a second `merge` load of the
/// same file on the primary key leaves no duplicates; the password is never printed.
#[test]
fn cli_loads_6000_events_with_dlt_redshift_types() {
    let Some(e) = env() else { return };
    let proj = CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let input = proj.path().join("events.jsonl");
    stevedore_testkit::gen_events(6000, &input);
    let expected = stevedore_testkit::expected_row_counts(&input, "events");
    let ds = stevedore_testkit::pg::unique_dataset("rscli");
    let out = e.command(&proj, &input, "rs_cli", &ds, &[]).output().unwrap();
    let stdout = assert_success(&out, "redshift load");
    assert!(stdout.contains("redshift://"), "{stdout}");
    assert!(!stdout.contains(SECRET) && !String::from_utf8_lossy(&out.stderr).contains(SECRET), "{stdout}");
    let counts: BTreeMap<String, u64> = expected.keys().map(|t| (t.clone(), e.count(&ds, t))).collect();
    assert_eq!(&counts, &expected);
    assert_eq!(e.count(&ds, "_dlt_loads"), 1);
    check_dlt_redshift_schema(&e, &ds, &counts);

    let ds2 = stevedore_testkit::pg::unique_dataset("rsmerge");
    for _ in 0..2 {
        let out = e.command(&proj, &input, "rs_merge", &ds2, &["--write-disposition", "merge", "--primary-key", "id"]).output().unwrap();
        let all = format!("{}{}", assert_success(&out, "merge load"), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains(SECRET), "{all}");
    }
    for (t, n) in &expected {
        assert_eq!(e.count(&ds2, t), *n, "rows of {t} after two merges");
    }
    assert_eq!(e.query(&format!("SELECT count(*) FROM (SELECT id FROM \"{ds2}\".events GROUP BY id HAVING count(*) > 1) d"))[0], "0");
    assert_eq!(e.count(&ds2, "_dlt_loads"), 2);

    // upsert is refused before anything is loaded, naming what Redshift supports
    let ds3 = stevedore_testkit::pg::unique_dataset("rsupsert");
    let out = e
        .command(&proj, &input, "rs_upsert", &ds3, &["--write-disposition", "merge", "--primary-key", "id", "--merge-strategy", "upsert"])
        .output()
        .unwrap();
    let err = stevedore_testkit::assert_failure(&out, "upsert on redshift");
    assert!(err.contains("upsert") && err.contains("delete-insert, scd2"), "{err}");
    assert!(e.query(&format!("SELECT 1 FROM information_schema.tables WHERE table_schema IN ('{ds3}', '{ds3}_staging')")).is_empty());
}

/// `kill -9` while insert_values jobs run, then the same command: every table holds the
/// input's rows exactly once and `_dlt_loads` has one row.
#[test]
fn kill_9_during_a_load_then_the_same_command_is_exact() {
    let Some(e) = env() else { return };
    let proj = CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let input = proj.path().join("events.jsonl");
    stevedore_testkit::gen_events(3000, &input);
    let expected = stevedore_testkit::expected_row_counts(&input, "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 200\n\n[destination.redshift]\npool_size = 1\n");
    let ds = stevedore_testkit::pg::unique_dataset("rskill");
    let command = || e.command(&proj, &input, "rs_kill", &ds, &[]);
    let landed = stevedore_testkit::kill_9_then_rerun(command, &proj.working_dir("rs_kill"), std::time::Duration::from_secs(120));
    assert!(landed.starts_with("killed"), "{landed}");
    for (t, n) in &expected {
        assert_eq!(e.count(&ds, t), *n, "rows of {t} after kill -9 and rerun");
    }
    assert_eq!(e.query(&format!("SELECT count(*) - count(DISTINCT _dlt_id) FROM \"{ds}\".events"))[0], "0");
    assert_eq!(e.count(&ds, "_dlt_loads"), 1);
}
