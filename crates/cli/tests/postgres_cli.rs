//! `stevedore load --destination postgres` with credentials from the environment.

use std::process::Command;

async fn query(url: &str, sql: &str) -> Vec<String> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut out = Vec::new();
    for m in c.simple_query(sql).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            out.push(r.get(0).unwrap_or("NULL").to_string());
        }
    }
    out
}

#[tokio::test]
async fn cli_loads_into_postgres_with_merge() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dataset = stevedore_testkit::pg::unique_dataset("cli");
    let run = |file: &str, body: &str| {
        let f = dir.path().join(file);
        std::fs::write(&f, body).unwrap();
        Command::new(env!("CARGO_BIN_EXE_stevedore"))
            .args(["load", f.to_str().unwrap(), "--table", "users", "--pipeline", "cli_pg", "--destination", "postgres"])
            .args(["--dataset", &dataset, "--write-disposition", "merge", "--primary-key", "id"])
            .arg("--pipelines-dir")
            .arg(dir.path().join("p"))
            .env("DESTINATION__POSTGRES__CREDENTIALS", &url)
            .env("STEVEDORE_PROJECT_DIR", dir.path())
            .output()
            .unwrap()
    };
    let out = run("a.jsonl", "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run("b.jsonl", "{\"id\": 2, \"name\": \"B\"}\n{\"id\": 3, \"name\": \"c\"}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("to postgres at postgresql://"), "{stdout}");
    if let Some(pw) = url.split_once("://").and_then(|(_, r)| r.split_once('@')).and_then(|(c, _)| c.split_once(':')).map(|x| x.1) {
        assert!(pw.is_empty() || !stdout.contains(pw), "password shown: {stdout}");
    }
    let rows = query(&url, &format!("SELECT id || ':' || name FROM \"{dataset}\".users ORDER BY id")).await;
    assert_eq!(rows, vec!["1:a", "2:B", "3:c"]);
    if let Some(psql) = stevedore_testkit::pg::psql() {
        let out = stevedore_testkit::pg::psql_query(&psql, &url, &format!("SELECT count(*) FROM \"{dataset}\"._dlt_loads"));
        assert_eq!(out, vec!["2"]);
    }
    query(&url, &format!("DROP SCHEMA \"{dataset}\" CASCADE; DROP SCHEMA \"{dataset}_staging\" CASCADE")).await;
}

/// `stevedore load ... --destination postgres` in `proj`, with `url` as the credentials.
fn pg_load(proj: &stevedore_testkit::CliProject, file: &str, dataset: &str, url: &str, envs: &[(&str, &str)]) -> std::process::Command {
    let mut c =
        proj.cmd(&["load", file, "--table", "events", "--pipeline", "pg_resume", "--destination", "postgres", "--dataset", dataset]);
    c.arg("--pipelines-dir").arg(proj.pipelines_dir()).env("DESTINATION__POSTGRES__CREDENTIALS", url);
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

async fn count_rows(url: &str, dataset: &str, tables: &[&String]) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for t in tables {
        let n = query(url, &format!("SELECT count(*) FROM \"{dataset}\".\"{t}\"")).await;
        out.insert(t.to_string(), n[0].parse().unwrap());
    }
    out
}

/// The server cannot be reached: the package stays pending. Once it can, the same command
/// loads the input once (2 rows, not 4).
#[tokio::test]
async fn unreachable_server_then_same_command_loads_the_input_once() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    let proj = stevedore_testkit::CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let dataset = stevedore_testkit::pg::unique_dataset("unreach");
    proj.write("two.jsonl", "{\"id\": 1}\n{\"id\": 2}\n");
    // the same server at a port nothing listens on
    let port = url.rsplit_once(':').and_then(|(_, r)| r.split('/').next()).expect("a port in the URL");
    let bad = url.replace(&format!(":{port}/"), ":1/");
    assert_ne!(bad, url);
    let out = pg_load(&proj, "two.jsonl", &dataset, &bad, &[]).output().unwrap();
    stevedore_testkit::assert_failure(&out, "a load to an unreachable server");
    assert_eq!(stevedore_testkit::packages(&proj.working_dir("pg_resume"), "normalized").len(), 1, "the package stays pending");
    let out = pg_load(&proj, "two.jsonl", &dataset, &url, &[]).output().unwrap();
    let stdout = stevedore_testkit::assert_success(&out, "same command, server reachable");
    assert!(stdout.contains("the input was already in it, not extracted again"), "{stdout}");
    assert_eq!(query(&url, &format!("SELECT count(*) FROM \"{dataset}\".events")).await, vec!["2"]);
    assert_eq!(query(&url, &format!("SELECT count(*) FROM \"{dataset}\"._dlt_loads")).await, vec!["1"]);
    query(&url, &format!("DROP SCHEMA \"{dataset}\" CASCADE")).await;
}

/// `kill -9` while COPY jobs run, then the same command: every table holds the input's rows
/// exactly once and `_dlt_loads` one row.
#[tokio::test]
async fn kill_9_during_copy_then_same_command_is_exact() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    let proj = stevedore_testkit::CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let dataset = stevedore_testkit::pg::unique_dataset("kill9");
    stevedore_testkit::gen_events(6000, &proj.path().join("events.jsonl"));
    let expected = stevedore_testkit::expected_row_counts(&proj.path().join("events.jsonl"), "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 150\n\n[load]\nworkers = 1\n");
    let command = || pg_load(&proj, "events.jsonl", &dataset, &url, &[]);
    stevedore_testkit::kill_9_then_rerun(command, &proj.working_dir("pg_resume"), std::time::Duration::from_secs(120));
    let tables: Vec<&String> = expected.keys().collect();
    assert_eq!(count_rows(&url, &dataset, &tables).await, expected, "exact rows per table");
    assert_eq!(query(&url, &format!("SELECT count(*) FROM \"{dataset}\"._dlt_loads")).await, vec!["1"]);
    // the unique constraints deferred after the data jobs were built by the rerun
    let unique = query(
        &url,
        &format!(
            "SELECT table_name FROM information_schema.table_constraints WHERE table_schema = '{dataset}' AND constraint_type = 'UNIQUE' AND constraint_name = table_name || '__dlt_id_key' AND table_name NOT LIKE '\\_dlt%' ORDER BY 1"
        ),
    )
    .await;
    let mut want: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    want.sort();
    assert_eq!(unique, want, "a UNIQUE constraint on _dlt_id in every table");
    assert_eq!(query(&url, &format!("SELECT count(*) FROM \"{dataset}\"._stevedore_pending_indexes")).await, vec!["0"]);
    query(&url, &format!("DROP SCHEMA \"{dataset}\" CASCADE")).await;
}

/// A job that fails for good (a NOT NULL column the data does not fill) aborts the load: the
/// rows its other jobs already committed are removed, root and nested alike, and no
/// `_dlt_loads` row is written. Once the cause is gone the same command loads the input.
#[tokio::test]
async fn failed_job_aborts_and_removes_the_loads_rows() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    let proj = stevedore_testkit::CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
    let dataset = stevedore_testkit::pg::unique_dataset("abort");
    stevedore_testkit::gen_events(2000, &proj.path().join("events.jsonl"));
    let expected = stevedore_testkit::expected_row_counts(&proj.path().join("events.jsonl"), "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 300\n\n[load]\nworkers = 1\n");
    // the deepest table gets a column the loads never fill: its COPY fails, after the jobs of
    // the tables sorted before it committed
    let blocked = expected.keys().max().unwrap().clone();
    query(&url, &format!("CREATE SCHEMA \"{dataset}\"; CREATE TABLE \"{dataset}\".\"{blocked}\" (must bigint NOT NULL)")).await;
    let out = pg_load(&proj, "events.jsonl", &dataset, &url, &[]).output().unwrap();
    let stderr = stevedore_testkit::assert_failure(&out, "a load with a failing COPY");
    assert!(stderr.contains("load package aborted") && stderr.contains(&blocked), "{stderr}");
    let tables: Vec<&String> = expected.keys().collect();
    let after = count_rows(&url, &dataset, &tables).await;
    assert!(after.values().all(|n| *n == 0), "rows of the aborted load remain: {after:?}");
    assert_eq!(query(&url, &format!("SELECT count(*) FROM \"{dataset}\"._dlt_loads")).await, vec!["0"]);
    let loaded = stevedore_testkit::packages(&proj.working_dir("pg_resume"), "loaded");
    let done = stevedore_testkit::list_files(&proj.working_dir("pg_resume").join("load/loaded").join(&loaded[0]).join("completed_jobs"));
    assert!(!done.is_empty(), "jobs had committed rows before the failure");

    query(&url, &format!("ALTER TABLE \"{dataset}\".\"{blocked}\" DROP COLUMN must")).await;
    let out = pg_load(&proj, "events.jsonl", &dataset, &url, &[]).output().unwrap();
    stevedore_testkit::assert_success(&out, "same command once the cause is gone");
    assert_eq!(count_rows(&url, &dataset, &tables).await, expected);
    assert_eq!(query(&url, &format!("SELECT count(*) FROM \"{dataset}\"._dlt_loads")).await, vec!["1"]);
    query(&url, &format!("DROP SCHEMA \"{dataset}\" CASCADE")).await;
}

/// `kill -9` once a merge's or a replace's followup SQL jobs were created (while they run, or
/// right after), then the same command: the final tables hold each key once, with the rows
/// of the input, and one `_dlt_loads` row per load.
#[tokio::test]
async fn kill_9_during_merge_and_replace_followups_then_same_command_is_exact() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    for disposition in ["merge", "replace"] {
        let proj = stevedore_testkit::CliProject::new(env!("CARGO_BIN_EXE_stevedore"));
        let dataset = stevedore_testkit::pg::unique_dataset(disposition);
        stevedore_testkit::gen_events(3000, &proj.path().join("events.jsonl"));
        let expected = stevedore_testkit::expected_row_counts(&proj.path().join("events.jsonl"), "events");
        let extra: &[&str] = if disposition == "merge" {
            &["--write-disposition", "merge", "--primary-key", "id"]
        } else {
            &["--write-disposition", "replace"]
        };
        let load = || {
            let mut c = pg_load(&proj, "events.jsonl", &dataset, &url, &[]);
            c.args(extra);
            c
        };
        // a first complete load, so the followups of the second one replace or merge into rows
        stevedore_testkit::assert_success(&load().output().unwrap(), "first load");
        let normalized = proj.working_dir("pg_resume").join("load").join("normalized");
        let mut child = load().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let landed =
            stevedore_testkit::kill_9_when(&mut child, std::time::Duration::from_secs(120), std::time::Duration::from_micros(200), || {
                let pending = stevedore_testkit::list_dirs(&normalized);
                pending
                    .first()
                    .is_some_and(|l| normalized.join(l).join("followups.json").exists())
                    .then(|| "killed in the followup phase".to_string())
            });
        println!("{disposition}: {landed}");
        stevedore_testkit::assert_success(&load().output().unwrap(), "same command after kill -9");
        let tables: Vec<&String> = expected.keys().collect();
        assert_eq!(count_rows(&url, &dataset, &tables).await, expected, "{disposition}: exact rows per table");
        let distinct = query(&url, &format!("SELECT count(DISTINCT id) = count(*) FROM \"{dataset}\".events")).await;
        assert_eq!(distinct, vec!["t"], "{disposition}: each key once");
        assert_eq!(query(&url, &format!("SELECT count(*) FROM \"{dataset}\"._dlt_loads")).await, vec!["2"]);
        query(&url, &format!("DROP SCHEMA \"{dataset}\" CASCADE; DROP SCHEMA IF EXISTS \"{dataset}_staging\" CASCADE")).await;
    }
}
