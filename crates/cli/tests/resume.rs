//! Resume after a crash: the deterministic fault hook (`STEVEDORE_FAULT_ABORT_AFTER_JOBS`) and a
//! real `kill -9` stop the loader mid-load; running again finishes the pending package, with
//! exact row counts, no duplicate rows and exactly one `_dlt_loads` marker per load.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stevedore_testkit::{CliProject, assert_success, expected_row_counts, gen_events, list_files, load_markers, packages, parquet_stats, python};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");
const PIPELINE: &str = "resume";
const DATASET: &str = "resume_data";
const FAULT: &str = "STEVEDORE_FAULT_ABORT_AFTER_JOBS";

fn job_files(proj: &CliProject, stage: &str, load_id: &str, folder: &str) -> usize {
    let dir = proj.working_dir(PIPELINE).join("load").join(stage).join(load_id).join(folder);
    list_files(&dir).iter().filter(|f| !f.ends_with(".remote_url") && !f.ends_with(".exception")).count()
}

/// Files in the table folders that a reader listing the folder would pick up (not hidden with a
/// leading `.` or `_`) and that are not job files named `<load_id>.<file_id>.parquet`: leftovers
/// of an interrupted write.
fn stray_files(proj: &CliProject, tables: &BTreeMap<String, u64>) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables.keys() {
        for f in list_files(&proj.dataset_dir(DATASET).join(t)) {
            let name = f.rsplit('/').next().unwrap_or(&f);
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let parts: Vec<&str> = name.split('.').collect();
            let ok = parts.len() == 4
                && parts[3] == "parquet"
                && parts[0].chars().all(|c| c.is_ascii_digit())
                && parts[2].chars().all(|c| c.is_ascii_hexdigit());
            if !ok {
                out.push(format!("{t}/{f}"));
            }
        }
    }
    out
}

/// Checks, with pyarrow, that every table holds exactly `times` x the expected rows, `_dlt_id` is
/// unique, and root rows per load id are as given.
fn assert_exact_rows(proj: &CliProject, expected: &BTreeMap<String, u64>, times: u64, root_by_load: Value) {
    let Some(py) = python() else { return };
    let tables: Vec<&str> = expected.keys().map(String::as_str).collect();
    let got = parquet_stats(&py, &proj.dataset_dir(DATASET), &tables);
    for (t, n) in expected {
        assert_eq!(got[t]["rows"], json!(n * times), "rows of `{t}` ({} files)", got[t]["files"].as_array().map_or(0, |a| a.len()));
        assert_eq!(got[t]["distinct_dlt_id"], got[t]["rows"], "`{t}`: no duplicate _dlt_id");
    }
    assert_eq!(got["events"]["by_load_id"], root_by_load, "root rows per load id");
}

fn markers_for(proj: &CliProject, load_id: &str) -> usize {
    load_markers(&proj.dataset_dir(DATASET)).iter().filter(|(n, m)| n.contains(load_id) || m["load_id"] == json!(load_id)).count()
}

/// Loads 3000 events as parquet in files of 500 rows with the fault hook set to abort after 2
/// jobs. Returns the project, expected rows per table and the pending load id.
fn aborted_load() -> (CliProject, BTreeMap<String, u64>, String) {
    let proj = CliProject::new(BIN);
    gen_events(3000, &proj.path().join("events.jsonl"));
    let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 500\n");
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[(FAULT, "2")]);
    assert!(!out.status.success(), "the fault hook must stop the process: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(FAULT), "the abort is the fault hook's:\n{stderr}");
    assert!(load_markers(&proj.dataset_dir(DATASET)).is_empty(), "no `_dlt_loads` marker after the crash");
    let pending = packages(&proj.working_dir(PIPELINE), "normalized");
    assert_eq!(pending.len(), 1, "the package stays pending");
    let lid = pending[0].clone();
    let total: usize = ["new_jobs", "started_jobs", "completed_jobs"].iter().map(|f| job_files(&proj, "normalized", &lid, f)).sum();
    let done = job_files(&proj, "normalized", &lid, "completed_jobs");
    assert!(total >= 4, "the load has at least 4 jobs: {total}");
    assert!(done >= 2 && done < total, "the crash came mid-load: {done} of {total} jobs completed");
    (proj, expected, lid)
}

#[test]
fn fault_abort_then_resume_loads_exactly_once() {
    let (proj, expected, lid) = aborted_load();
    // resume: run again with nothing new to load
    proj.write("empty.jsonl", "");
    let out = proj.load("empty.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
    assert_success(&out, "resume");
    assert!(packages(&proj.working_dir(PIPELINE), "normalized").is_empty(), "nothing pending after the resume");
    assert_eq!(markers_for(&proj, &lid), 1, "exactly one marker for the resumed load");
    assert_exact_rows(&proj, &expected, 1, json!({ lid: expected["events"] }));
}

#[test]
fn fault_abort_then_same_command_again_loads_each_package_once() {
    let (proj, expected, lid) = aborted_load();
    // what the docs tell a user: run the same command again (it loads the input once more)
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
    assert_success(&out, "same command again");
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(loaded.len(), 2, "the resumed package and the new one");
    assert_eq!(loaded[0], lid);
    assert_eq!(markers_for(&proj, &lid), 1);
    assert_eq!(markers_for(&proj, &loaded[1]), 1);
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 2);
    assert_exact_rows(&proj, &expected, 2, json!({ lid: expected["events"], loaded[1].clone(): expected["events"] }));
}

#[test]
fn kill_9_mid_load_then_resume_loads_exactly_once() {
    let proj = CliProject::new(BIN);
    gen_events(6000, &proj.path().join("events.jsonl"));
    let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
    // many small jobs, loaded one at a time, so that the kill lands while jobs run (it is sent
    // once the package is committed and a few jobs completed)
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 40\n\n[load]\nworkers = 1\n");
    let mut args: Vec<String> =
        ["load", "events.jsonl", "--table", "events", "--format", "parquet", "--pipeline", PIPELINE, "--dataset", DATASET]
            .map(String::from)
            .to_vec();
    args.extend(["--bucket-url".into(), proj.bucket().display().to_string()]);
    args.extend(["--pipelines-dir".into(), proj.pipelines_dir().display().to_string()]);
    let mut child = proj
        .cmd(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn stevedore");
    let normalized = proj.working_dir(PIPELINE).join("load").join("normalized");
    let started = Instant::now();
    let mut killed = false;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            println!("the kill came late: the load finished first ({st})");
            break;
        }
        let pending = stevedore_testkit::list_dirs(&normalized);
        let done = pending.first().map_or(0, |lid| job_files(&proj, "normalized", lid, "completed_jobs"));
        if done >= 3 || (pending.len() == 1 && started.elapsed() > Duration::from_secs(30)) {
            child.kill().expect("kill -9");
            let st = child.wait().expect("wait");
            killed = !st.success();
            println!("killed after the package was committed ({st})");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the load never committed a package");
        std::thread::sleep(Duration::from_millis(2));
    }
    let first = if killed {
        let pending = packages(&proj.working_dir(PIPELINE), "normalized");
        let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
        match (pending.len(), loaded.len()) {
            (1, 0) => {
                let done = job_files(&proj, "normalized", &pending[0], "completed_jobs");
                println!("{done} jobs had completed at the kill");
                assert_eq!(markers_for(&proj, &pending[0]), 0, "no marker for a pending load");
                pending[0].clone()
            }
            (0, 1) => {
                println!("the kill came late: the package had been loaded");
                loaded[0].clone()
            }
            other => panic!("unexpected package state after the kill: {other:?}"),
        }
    } else {
        packages(&proj.working_dir(PIPELINE), "loaded")[0].clone()
    };
    proj.write("empty.jsonl", "");
    // the environment beats the config file: resume with parallel jobs
    let out = proj.load("empty.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[("LOAD__WORKERS", "8")]);
    assert_success(&out, "resume after kill -9");
    assert!(packages(&proj.working_dir(PIPELINE), "normalized").is_empty());
    assert_eq!(markers_for(&proj, &first), 1, "exactly one marker for the first load");
    assert_exact_rows(&proj, &expected, 1, json!({ first: expected["events"] }));
}

/// A crash while files are being uploaded may leave partly written files under temporary
/// names; once the load is resumed, a reader listing a table folder must find only the job
/// files. The crash point is not deterministic (other jobs are mid-upload when the fault hook
/// aborts), so up to 6 crashes are tried until one leaves a temporary file behind.
#[test]
fn resume_after_crash_leaves_no_stray_files_in_table_folders() {
    for attempt in 1..=6 {
        let proj = CliProject::new(BIN);
        gen_events(1500, &proj.path().join("events.jsonl"));
        let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
        proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 100\n\n[load]\nworkers = 64\n");
        let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[(FAULT, "2")]);
        assert!(!out.status.success(), "the fault hook must stop the process");
        let after_crash = stray_files(&proj, &expected);
        if after_crash.is_empty() {
            println!("attempt {attempt}: the crash left no temporary file, trying again");
            continue;
        }
        println!("attempt {attempt}: the crash left {} temporary file(s): {after_crash:?}", after_crash.len());
        proj.write("empty.jsonl", "");
        assert_success(&proj.load("empty.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]), "resume");
        let left = stray_files(&proj, &expected);
        assert!(left.is_empty(), "after the resume, table folders still hold files that are not job files: {left:?}");
        return;
    }
    println!("no crash left a temporary file behind; nothing to check");
}
