//! Resume after a crash: the deterministic fault hook (`STEVEDORE_FAULT_ABORT_AFTER_JOBS`) and a
//! real `kill -9` stop the loader mid-load; running again finishes the pending package, with
//! exact row counts, no duplicate rows and exactly one `_dlt_loads` marker per load.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stevedore_testkit::{
    CliProject, assert_failure, assert_success, expected_row_counts, gen_events, list_files, load_markers, packages, parquet_stats, python,
};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");
const PIPELINE: &str = "resume";
const DATASET: &str = "resume_data";
const FAULT: &str = "STEVEDORE_FAULT_ABORT_AFTER_JOBS";

/// `stevedore load INPUT --table events --format parquet` of this file's pipeline and dataset,
/// into the project's bucket and pipelines folder.
fn load_args(proj: &CliProject, input: &str) -> Vec<String> {
    let mut a: Vec<String> = ["load", input, "--table", "events", "--format", "parquet", "--pipeline", PIPELINE, "--dataset", DATASET]
        .map(String::from)
        .to_vec();
    a.extend(["--bucket-url".into(), proj.bucket().display().to_string()]);
    a.extend(["--pipelines-dir".into(), proj.pipelines_dir().display().to_string()]);
    a
}

fn job_files(proj: &CliProject, stage: &str, load_id: &str, folder: &str) -> usize {
    let dir = proj.working_dir(PIPELINE).join("load").join(stage).join(load_id).join(folder);
    list_files(&dir).iter().filter(|f| !f.ends_with(".remote_url") && !f.ends_with(".exception")).count()
}

/// Files in the table folders that are not job files named `<load_id>.<file_id>.parquet`:
/// leftovers of an interrupted write, hidden temporary files (`.<name>.tmp`) included.
fn stray_files(proj: &CliProject, tables: &BTreeMap<String, u64>) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables.keys() {
        for f in list_files(&proj.dataset_dir(DATASET).join(t)) {
            let name = f.rsplit('/').next().unwrap_or(&f);
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
fn fault_abort_then_same_command_finishes_the_package_and_loads_the_input_once() {
    let (proj, expected, lid) = aborted_load();
    // what the docs tell a user: run the same command again
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
    let stdout = assert_success(&out, "same command again");
    assert!(stdout.contains(&format!("resumed load {lid}; the input was already in it, not extracted again")), "{stdout}");
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(loaded, vec![lid.clone()], "only the resumed package, no second copy of the input");
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 1);
    assert_exact_rows(&proj, &expected, 1, json!({ lid.clone(): expected["events"] }));
    assert!(stray_files(&proj, &expected).is_empty(), "{:?}", stray_files(&proj, &expected));

    // once that load completed, the same file again is a new load
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
    let stdout = assert_success(&out, "the same file after a completed load");
    assert!(!stdout.contains("already in it"), "{stdout}");
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(loaded.len(), 2);
    assert_exact_rows(&proj, &expected, 2, json!({ lid: expected["events"], loaded[1].clone(): expected["events"] }));
}

/// The input comes from standard input: it can only be recognized by its content, after it
/// was read again; the copy read by the rerun is dropped and the pending package is loaded.
#[test]
fn stdin_fault_abort_then_same_input_again_is_loaded_once() {
    let proj = CliProject::new(BIN);
    gen_events(3000, &proj.path().join("events.jsonl"));
    let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 500\n");
    let stdin_load = |envs: &[(&str, &str)], input: &str| {
        let mut c = proj.cmd(&load_args(&proj, "-"));
        c.stdin(std::fs::File::open(proj.path().join(input)).unwrap());
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = stdin_load(&[(FAULT, "2")], "events.jsonl");
    assert!(!out.status.success(), "the fault hook stops the process");
    let pending = packages(&proj.working_dir(PIPELINE), "normalized");
    assert_eq!(pending.len(), 1);
    let lid = pending[0].clone();
    let stdout = assert_success(&stdin_load(&[], "events.jsonl"), "same input on stdin again");
    assert!(stdout.contains(&format!("resumed load {lid}; the input was already in it, the copy read now was dropped")), "{stdout}");
    assert_eq!(packages(&proj.working_dir(PIPELINE), "loaded"), vec![lid.clone()]);
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 1);
    assert_exact_rows(&proj, &expected, 1, json!({ lid.clone(): expected["events"] }));

    // other content on stdin is a new load, even while a package is pending
    let out = stdin_load(&[(FAULT, "2")], "events.jsonl");
    assert!(!out.status.success());
    std::fs::write(proj.path().join("one.jsonl"), "{\"id\": 1}\n").unwrap();
    let stdout = assert_success(&stdin_load(&[], "one.jsonl"), "other input on stdin");
    assert!(stdout.contains("left pending by an earlier run"), "{stdout}");
    assert_eq!(packages(&proj.working_dir(PIPELINE), "loaded").len(), 3);
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 3);
}

/// `kill -9` at several moments of a load (while normalizing, right after the package was
/// committed, between jobs), then the same command: every table holds the input's rows
/// exactly once, with one marker.
#[test]
fn kill_9_at_several_moments_then_same_command_loads_exactly_once() {
    let mut exact = 0;
    let phases = ["normalizing", "committed", "between jobs"];
    for phase in phases {
        let proj = CliProject::new(BIN);
        gen_events(if phase == "normalizing" { 20000 } else { 6000 }, &proj.path().join("events.jsonl"));
        let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
        proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 150\n\n[load]\nworkers = 1\n");
        let mut child = proj
            .cmd(&load_args(&proj, "events.jsonl"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let load = proj.working_dir(PIPELINE).join("load");
        let landed = stevedore_testkit::kill_9_when(&mut child, Duration::from_secs(120), Duration::from_millis(1), || {
            let new = stevedore_testkit::list_dirs(&load.join("new"));
            let pending = stevedore_testkit::list_dirs(&load.join("normalized"));
            let done = pending.first().map_or(0, |lid| job_files(&proj, "normalized", lid, "completed_jobs"));
            let now = match phase {
                "normalizing" => !new.is_empty(),
                "committed" => !pending.is_empty(),
                _ => done >= 3,
            };
            now.then(|| format!("killed {phase} ({} new, {} pending, {done} jobs done)", new.len(), pending.len()))
        });
        println!("{landed}");
        let pending = packages(&proj.working_dir(PIPELINE), "normalized");
        let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
        let stdout = assert_success(&out, "same command after kill -9");
        let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
        if let Some(lid) = pending.first() {
            assert!(stdout.contains(&format!("resumed load {lid}; the input was already in it")), "{stdout}");
            assert_eq!(&loaded, &pending, "the pending package was finished and nothing else loaded");
        }
        assert_eq!(loaded.len(), 1, "one load: {loaded:?}");
        assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 1, "one marker");
        assert_exact_rows(&proj, &expected, 1, json!({ loaded[0].clone(): expected["events"] }));
        let stray = stray_files(&proj, &expected);
        assert!(stray.is_empty(), "{phase}: {stray:?}");
        exact += 1;
    }
    assert_eq!(exact, phases.len());
}

/// A second run of a pipeline that is running fails at once, naming the process that holds it;
/// with `--wait` it waits and then loads.
#[test]
fn two_runs_of_one_pipeline_do_not_overlap() {
    let proj = CliProject::new(BIN);
    gen_events(6000, &proj.path().join("events.jsonl"));
    let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 40\n\n[load]\nworkers = 1\n");
    let args = |wait: bool| -> Vec<String> {
        let mut a = load_args(&proj, "events.jsonl");
        if wait {
            a.push("--wait".into());
        }
        a
    };
    let lock = proj.working_dir(PIPELINE).join(".lock");
    let wait_for_holder = |pid: u32| {
        let t = Instant::now();
        while std::fs::read_to_string(&lock).unwrap_or_default().trim() != pid.to_string() {
            assert!(t.elapsed() < Duration::from_secs(60), "the first run never took the lock");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let first = proj.cmd(&args(false)).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    wait_for_holder(first.id());
    let second = proj.cmd(&args(false)).output().unwrap();
    let first_pid = first.id();
    let first = first.wait_with_output().unwrap();
    assert_success(&first, "the first run");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "the second run must not run alongside the first");
    assert!(stderr.contains(&format!("pipeline `{PIPELINE}` is being run by another stevedore process (process {first_pid})")), "{stderr}");
    assert!(stderr.contains("--wait"), "{stderr}");
    assert_eq!(packages(&proj.working_dir(PIPELINE), "loaded").len(), 1);

    // with --wait the second run waits, then loads its own package
    let first = proj.cmd(&args(false)).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    wait_for_holder(first.id());
    let second = proj.cmd(&args(true)).output().unwrap();
    let mut first = first;
    assert!(first.wait().unwrap().success());
    assert_success(&second, "the waiting run");
    assert!(String::from_utf8_lossy(&second.stderr).contains("waiting: the pipeline is being run by another stevedore process"));
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(loaded.len(), 3, "three loads, none mixed: {loaded:?}");
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 3);
    let by_load: serde_json::Map<String, Value> = loaded.iter().map(|l| (l.clone(), expected["events"].into())).collect();
    assert_exact_rows(&proj, &expected, 3, Value::Object(by_load));
}

/// A job that fails for good aborts the package, and the files its other jobs already wrote
/// are removed: no unmarked data stays in the table folders. The same command then loads the
/// input as a new load.
#[test]
fn failed_job_aborts_and_removes_what_the_load_wrote() {
    let proj = CliProject::new(BIN);
    gen_events(3000, &proj.path().join("events.jsonl"));
    let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 500\n");
    // a file where a child table's folder would go: its jobs fail with a non-transient error
    let child = expected.keys().find(|t| t.as_str() != "events").expect("a child table").clone();
    proj.write(&format!("bucket/{DATASET}/{child}"), "not a folder");
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
    let stderr = assert_failure(&out, "a load with a failing job");
    assert!(stderr.contains("load package aborted") && stderr.contains(&child), "{stderr}");
    assert!(stderr.contains("files its jobs wrote were removed"), "{stderr}");
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(loaded.len(), 1);
    let completed = job_files(&proj, "loaded", &loaded[0], "completed_jobs");
    assert!(completed > 0, "other jobs had completed before the abort");
    for t in expected.keys().filter(|t| **t != child) {
        let left = list_files(&proj.dataset_dir(DATASET).join(t));
        assert!(left.is_empty(), "`{t}` still holds files of the aborted load: {left:?}");
    }
    assert!(load_markers(&proj.dataset_dir(DATASET)).is_empty());

    std::fs::remove_file(proj.dataset_dir(DATASET).join(&child)).unwrap();
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
    assert_success(&out, "same command once the cause is gone");
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 1);
    assert_exact_rows(&proj, &expected, 1, json!({ loaded[1].clone(): expected["events"] }));
}

/// `stevedore load --resume-only` finishes the pending package without reading any input;
/// `stevedore pipeline NAME drop-pending-packages` drops one for good, with what it wrote.
#[test]
fn resume_only_and_drop_pending_packages() {
    let (proj, expected, lid) = aborted_load();
    let common = |args: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--dataset".into(), DATASET.into(), "--bucket-url".into(), proj.bucket().display().to_string()]);
        a.extend(["--pipelines-dir".into(), proj.pipelines_dir().display().to_string()]);
        a
    };
    let out = proj.cmd(&common(&["load", "--resume-only", "--pipeline", PIPELINE])).output().unwrap();
    let stdout = assert_success(&out, "resume only");
    assert!(stdout.contains(&format!("resumed load {lid}")), "{stdout}");
    assert_exact_rows(&proj, &expected, 1, json!({ lid.clone(): expected["events"] }));
    let out = proj.cmd(&common(&["load", "--resume-only", "--pipeline", PIPELINE])).output().unwrap();
    assert!(assert_success(&out, "nothing to resume").contains("nothing to resume"));

    // a second pending package, dropped: its files go, the first load stays
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[(FAULT, "2")]);
    assert!(!out.status.success());
    let pending = packages(&proj.working_dir(PIPELINE), "normalized");
    assert_eq!(pending.len(), 1);
    let out = proj.cmd(&common(&["pipeline", PIPELINE, "drop-pending-packages"])).output().unwrap();
    let stdout = assert_success(&out, "drop-pending-packages");
    assert!(stdout.contains(&format!("dropped 1 pending load package(s) of pipeline {PIPELINE}: {}", pending[0])), "{stdout}");
    assert!(packages(&proj.working_dir(PIPELINE), "normalized").is_empty());
    assert_exact_rows(&proj, &expected, 1, json!({ lid: expected["events"] }));
    assert!(stray_files(&proj, &expected).is_empty(), "{:?}", stray_files(&proj, &expected));
}

#[test]
fn kill_9_mid_load_then_resume_loads_exactly_once() {
    let proj = CliProject::new(BIN);
    gen_events(6000, &proj.path().join("events.jsonl"));
    let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
    // many small jobs, loaded one at a time, so that the kill lands while jobs run (it is sent
    // once the package is committed and a few jobs completed)
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 40\n\n[load]\nworkers = 1\n");
    let mut child = proj
        .cmd(&load_args(&proj, "events.jsonl"))
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

/// Unmounts a test's tmpfs when the test ends, however it ends.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The bucket's disk fills up during the load (a small tmpfs the test mounts when it runs as
/// root): the package stays pending and no partial or temporary file is left in the table
/// folders; once there is space again, the same command finishes that load exactly once.
#[test]
fn full_disk_then_same_command_leaves_no_stray_file() {
    let uid = std::process::Command::new("id").arg("-u").output().expect("id -u");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        println!("SKIP: mounting a tmpfs needs root");
        return;
    }
    let proj = CliProject::new(BIN);
    gen_events(3000, &proj.path().join("events.jsonl"));
    let expected = expected_row_counts(&proj.path().join("events.jsonl"), "events");
    proj.write(".stevedore/config.toml", "[data_writer]\nfile_max_items = 500\n");
    std::fs::create_dir_all(proj.bucket()).unwrap();
    let mount =
        |opts: &str| std::process::Command::new("mount").args(["-t", "tmpfs", "-o", opts, "tmpfs"]).arg(proj.bucket()).status().unwrap();
    assert!(mount("size=256k").success(), "root can mount a tmpfs");
    let _unmount = Unmount(proj.bucket());
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[("LOAD__RAISE_ON_MAX_RETRIES", "1")]);
    let stderr = assert_failure(&out, "a load onto a full disk");
    assert!(stderr.contains("No space left on device") && stderr.contains("run the same command again"), "{stderr}");
    let pending = packages(&proj.working_dir(PIPELINE), "normalized");
    assert_eq!(pending.len(), 1, "the package stays pending");
    let stray = stray_files(&proj, &expected);
    assert!(stray.is_empty(), "the failed writes left files behind: {stray:?}");

    let remount = std::process::Command::new("mount").args(["-o", "remount,size=64m"]).arg(proj.bucket()).status().unwrap();
    assert!(remount.success());
    let out = proj.load("events.jsonl", "events", PIPELINE, DATASET, &["--format", "parquet"], &[]);
    let stdout = assert_success(&out, "same command with space again");
    assert!(stdout.contains(&format!("resumed load {}; the input was already in it", pending[0])), "{stdout}");
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 1);
    assert_exact_rows(&proj, &expected, 1, json!({ pending[0].clone(): expected["events"] }));
    assert!(stray_files(&proj, &expected).is_empty(), "{:?}", stray_files(&proj, &expected));
}
