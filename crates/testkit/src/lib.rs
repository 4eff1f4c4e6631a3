//! Test helpers shared by stevedore's test suites.
//!
//! * [`python`]: the Python interpreter with the independent readers (pyarrow, duckdb)
//!   installed by `cargo xtask venv`. When `STEVEDORE_TEST_REQUIRE` names `python` (as
//!   `cargo xtask test` and CI set it), a missing interpreter fails the test; run bare with
//!   `cargo test`, the test prints why it skips and returns.
//! * [`run_python`]: runs a script and parses its last stdout line as JSON.
//! * [`gen_events`]: the benchmark generator `../shared/bench/gen_events.py`.
//! * [`service`] and its shortcuts [`postgres_url`], [`s3`], [`azure`], [`gcs`]: the test
//!   services started by `cargo xtask services up` (or `cargo xtask test`), found through the
//!   variables `cargo xtask services env` prints (see `docs/testing.md` for the contract).
//!   Missing: the test fails when `STEVEDORE_TEST_REQUIRE` names the service, else it prints
//!   `SKIP: ...` and gets `None`.

//! * [`remote`]: local bucket servers (S3, Azure, GCS) from the environment, per-test
//!   buckets read back with the vendors' Python clients, a TCP fault proxy, an HTTP stub.

#![warn(missing_docs)]

pub mod conformance;
pub mod pg;
pub mod remote;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether CI requires a capability (`STEVEDORE_TEST_REQUIRE=python,postgres,...`).
pub fn required(capability: &str) -> bool {
    std::env::var("STEVEDORE_TEST_REQUIRE").map(|v| v.split(',').any(|c| c.trim() == capability || c.trim() == "all")).unwrap_or(false)
}

/// The Python interpreter with pyarrow and duckdb, or None (after printing why) when it is
/// not available and not required. Panics when it is required but missing.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("STEVEDORE_PYTHON").map(PathBuf::from);
    let ok = p
        .as_ref()
        .is_some_and(|p| Command::new(p).args(["-c", "import pyarrow, duckdb"]).output().map(|o| o.status.success()).unwrap_or(false));
    if ok {
        return p;
    }
    let why = match &p {
        None => "STEVEDORE_PYTHON is not set".to_string(),
        Some(p) => format!("{} cannot import pyarrow and duckdb", p.display()),
    };
    if required("python") {
        panic!("the independent Python readers are required (STEVEDORE_TEST_REQUIRE) but unavailable: {why}; run `cargo xtask venv`");
    }
    eprintln!("SKIP: {why}; run the suite with `cargo xtask test` to check outputs with pyarrow/duckdb");
    None
}

/// Runs `script` with `args` under `python`, returns the last stdout line parsed as JSON.
/// Panics with stderr when the script fails.
pub fn run_python(python: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python).arg("-c").arg(script).args(args).output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed ({}):\n{stderr}\n{stdout}", out.status);
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("null");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("python output is not JSON ({e}): {last}\n{stderr}"))
}

/// The workspace root: the nearest folder above the test's working directory (cargo and
/// nextest run a test in its package's folder) whose `Cargo.toml` declares `[workspace]`.
/// Found at run time, because a build cache shared by checkouts at different paths keeps
/// the path this crate was first compiled at.
pub fn workspace_root() -> PathBuf {
    let start = std::env::current_dir().unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|s| s.lines().any(|l| l.trim() == "[workspace]")) {
            return dir.to_path_buf();
        }
    }
    let mut p = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    p.pop();
    p.pop();
    p
}

/// `../shared` beside the workspace (the benchmark generator lives there).
pub fn shared_dir() -> PathBuf {
    workspace_root().join("..").join("shared")
}

/// Writes `n` generated events to `out` with `../shared/bench/gen_events.py` (stdlib Python).
pub fn gen_events(n: usize, out: &Path) {
    let script = shared_dir().join("bench").join("gen_events.py");
    assert!(script.exists(), "{} is missing: the test data generator lives in ../shared/bench", script.display());
    run_generator(&script, n, out);
}

/// Writes `n` web-shop orders (`scripts/gen_orders.py`: wide rows, lists in list items) as
/// JSON lines to `out`.
pub fn gen_orders(n: usize, out: &Path) {
    run_generator(&workspace_root().join("scripts").join("gen_orders.py"), n, out);
}

/// Runs a record generator (`SCRIPT N OUT`) with the test Python, or `python3`.
fn run_generator(script: &Path, n: usize, out: &Path) {
    let py = std::env::var_os("STEVEDORE_PYTHON").unwrap_or_else(|| "python3".into());
    let name = script.file_name().unwrap_or_default().to_string_lossy();
    let st = Command::new(py).arg(script).arg(n.to_string()).arg(out).status().unwrap_or_else(|e| panic!("run {name}: {e}"));
    assert!(st.success(), "{name} failed");
}

/// A committed test data file (`tests/data/...`).
pub fn test_data(rel: &str) -> PathBuf {
    workspace_root().join("tests").join("data").join(rel)
}

// ---------------------------------------------------------------------------------------------
// End-to-end helpers: isolated CLI projects, file listings, expected row counts, Python readers.
// ---------------------------------------------------------------------------------------------

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

/// Environment variables kept when a command is isolated from the user's environment (none of
/// them is a configuration key).
const KEPT_ENV: &[&str] = &["PATH", "LLVM_PROFILE_FILE", "TMPDIR", "LANG", "LC_ALL", "SYSTEMROOT"];

/// A `Command` for `bin` isolated from the user's configuration: the environment is cleared
/// (dlt-style variables such as `DESTINATION__*`, and also bare keys like `BUCKET_URL`, are all
/// configuration), except [`KEPT_ENV`]; `HOME` points at `home` and the command runs in `cwd`.
pub fn isolated_command(bin: &Path, cwd: &Path, home: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_clear();
    for k in KEPT_ENV {
        if let Some(v) = std::env::var_os(k) {
            c.env(k, v);
        }
    }
    c.env("HOME", home).current_dir(cwd);
    c
}

/// A temporary project folder for CLI tests: `<tmp>` is the current folder of every command,
/// `<tmp>/home` its HOME, `<tmp>/p` the pipelines folder and `<tmp>/bucket` the bucket.
pub struct CliProject {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl CliProject {
    /// A new empty project running the binary `bin` (`env!("CARGO_BIN_EXE_stevedore")`).
    pub fn new(bin: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("stevedore-e2e-").tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        CliProject { dir, bin: PathBuf::from(bin) }
    }
    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// `<tmp>/p`.
    pub fn pipelines_dir(&self) -> PathBuf {
        self.path().join("p")
    }
    /// `<tmp>/bucket`.
    pub fn bucket(&self) -> PathBuf {
        self.path().join("bucket")
    }
    /// `<tmp>/bucket/<dataset>`.
    pub fn dataset_dir(&self, dataset: &str) -> PathBuf {
        self.bucket().join(dataset)
    }
    /// The working folder of a pipeline.
    pub fn working_dir(&self, pipeline: &str) -> PathBuf {
        self.pipelines_dir().join(pipeline)
    }
    /// An isolated command (see [`isolated_command`]) with `args`.
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = isolated_command(&self.bin, self.path(), &self.path().join("home"));
        c.args(args);
        c
    }
    /// Writes a file relative to the project folder (creating parents); returns its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, content).expect("write file");
        p
    }
    /// `stevedore load FILE --table TABLE --pipeline PIPELINE --dataset DATASET
    /// --bucket-url <tmp>/bucket --pipelines-dir <tmp>/p EXTRA...`, run with `envs` set.
    pub fn load(&self, file: &str, table: &str, pipeline: &str, dataset: &str, extra: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut args: Vec<String> = vec!["load".into(), file.into(), "--table".into(), table.into()];
        args.extend(["--pipeline".into(), pipeline.into(), "--dataset".into(), dataset.into()]);
        args.extend(["--bucket-url".into(), self.bucket().display().to_string()]);
        args.extend(["--pipelines-dir".into(), self.pipelines_dir().display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut c = self.cmd(&args);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("run stevedore")
    }
}

/// Panics with the command's output unless it succeeded; returns stdout.
pub fn assert_success(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    stdout
}

/// Panics unless the command failed; returns stderr.
pub fn assert_failure(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{what} should have failed but succeeded:\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stderr
}

/// Every file below `root`, as `/`-separated paths relative to `root` (empty when missing).
pub fn list_files(root: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).expect("below base");
                let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                out.insert(parts.join("/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// Names of the sub-folders of `dir` (empty when missing).
pub fn list_dirs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Reads a JSON-lines file (plain text) into values.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: bad JSON line ({e}): {l}", path.display())))
        .collect()
}

/// Rows per table that dlt's relational normalizer makes of a JSON-lines file loaded into
/// `root`, computed independently of stevedore: nested objects flatten into their table, every
/// list becomes a child table `<table>__<path>` with one row per item (objects in lists recurse
/// into the child table). Keys must already be snake_case (as the generator's are). Tables
/// with no rows are absent.
pub fn expected_row_counts(jsonl: &Path, root: &str) -> BTreeMap<String, u64> {
    fn walk(counts: &mut BTreeMap<String, u64>, table: &str, prefix: &str, obj: &serde_json::Map<String, serde_json::Value>) {
        for (k, v) in obj {
            let path = format!("{prefix}{k}");
            match v {
                serde_json::Value::Object(o) => walk(counts, table, &format!("{path}__"), o),
                serde_json::Value::Array(items) => {
                    let child = format!("{table}__{path}");
                    if !items.is_empty() {
                        *counts.entry(child.clone()).or_default() += items.len() as u64;
                    }
                    for it in items {
                        match it {
                            serde_json::Value::Object(o) => walk(counts, &child, "", o),
                            serde_json::Value::Array(_) => panic!("lists of lists are not modelled by expected_row_counts"),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut counts = BTreeMap::new();
    for v in read_jsonl(jsonl) {
        let obj = v.as_object().expect("records are objects");
        *counts.entry(root.to_string()).or_default() += 1;
        walk(&mut counts, root, "", obj);
    }
    counts
}

/// Python (pyarrow) reader: for each table folder given, reads the `*.parquet` files below it
/// (as a glob-based reader would) with `pyarrow.dataset` and returns `{table: {rows,
/// distinct_dlt_id, null_dlt_id, by_load_id: {id: rows} | null, files, other_files, columns}}`;
/// `other_files` lists the files that do not end in `.parquet`. Args: dataset dir, then tables.
pub const PY_PARQUET_STATS: &str = r#"
import sys, json, os
import pyarrow as pa, pyarrow.dataset as ds, pyarrow.compute as pc
root = sys.argv[1]
out = {}
for t in sys.argv[2:]:
    folder = os.path.join(root, t)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs)
    pq_files = [f for f in files if f.endswith(".parquet")]
    d = ds.dataset(pq_files, format="parquet")
    tbl = d.to_table()
    e = {"rows": tbl.num_rows, "files": [os.path.relpath(f, root) for f in pq_files],
         "other_files": [os.path.relpath(f, root) for f in files if not f.endswith(".parquet")],
         "columns": tbl.schema.names}
    if "_dlt_id" in tbl.schema.names:
        ids = tbl.column("_dlt_id")
        e["distinct_dlt_id"] = len(pc.unique(ids))
        e["null_dlt_id"] = ids.null_count
    if "_dlt_load_id" in tbl.schema.names:
        vc = pc.value_counts(tbl.column("_dlt_load_id")).to_pylist()
        e["by_load_id"] = {x["values"]: x["counts"] for x in vc}
    else:
        e["by_load_id"] = None
    out[t] = e
print(json.dumps(out))
"#;

/// Runs [`PY_PARQUET_STATS`] over `tables` of `dataset_dir`.
pub fn parquet_stats(python: &Path, dataset_dir: &Path, tables: &[&str]) -> serde_json::Value {
    let mut args: Vec<String> = vec![dataset_dir.display().to_string()];
    args.extend(tables.iter().map(|t| t.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_python(python, PY_PARQUET_STATS, &args)
}

/// The `_dlt_loads` markers of a dataset: `(file name, content)`, sorted by name.
pub fn load_markers(dataset_dir: &Path) -> Vec<(String, serde_json::Value)> {
    let dir = dataset_dir.join("_dlt_loads");
    let mut v: Vec<(String, serde_json::Value)> = list_files(&dir)
        .into_iter()
        .map(|n| {
            let content = read_json(&dir.join(&n));
            (n, content)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The load ids of a pipeline's packages in `load/<stage>/` (`new`, `normalized`, `loaded`).
pub fn packages(working_dir: &Path, stage: &str) -> Vec<String> {
    list_dirs(&working_dir.join("load").join(stage))
}

/// The variables `vars` of a test service, when all are set (and not empty). When one is
/// missing: panics if `STEVEDORE_TEST_REQUIRE` names `capability` (CI and `cargo xtask test`),
/// else prints `SKIP: <capability> not running (...)` and returns `None`, so a bare
/// `cargo test` skips the test. `capability` is the service's name in `cargo xtask services`
/// (`postgres`, `s3`, `azure`, `gcs`).
///
/// ```no_run
/// let Some(env) = stevedore_testkit::service("s3", &["STEVEDORE_S3_ENDPOINT"]) else { return };
/// let endpoint = &env["STEVEDORE_S3_ENDPOINT"];
/// ```
pub fn service(capability: &str, vars: &[&str]) -> Option<HashMap<String, String>> {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for var in vars {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => {
                found.insert((*var).to_string(), v);
            }
            _ => missing.push(*var),
        }
    }
    if missing.is_empty() {
        return Some(found);
    }
    if required(capability) {
        panic!(
            "the test service `{capability}` is required (STEVEDORE_TEST_REQUIRE) but not running: \
             {} not set; run the suite with `cargo xtask test`, or start it with \
             `cargo xtask services up {capability}` and `eval \"$(cargo xtask services env)\"`",
            missing.join(", ")
        );
    }
    eprintln!(
        "SKIP: {capability} not running (start it with cargo xtask services up {capability}) \
         [{} not set]",
        missing.join(", ")
    );
    None
}

/// `STEVEDORE_PG_URL`: `postgresql://postgres@127.0.0.1:55432/postgres` (superuser `postgres`,
/// trust auth), or `None` after a `SKIP:` line (see [`service`]).
pub fn postgres_url() -> Option<String> {
    service("postgres", &["STEVEDORE_PG_URL"]).map(|mut v| v.remove("STEVEDORE_PG_URL").unwrap_or_default())
}

/// The S3 server (moto): path-style endpoint and static credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Env {
    /// `STEVEDORE_S3_ENDPOINT`, e.g. `http://127.0.0.1:9020` (use path-style addressing).
    pub endpoint: String,
    /// `STEVEDORE_S3_KEY_ID`.
    pub key_id: String,
    /// `STEVEDORE_S3_SECRET`.
    pub secret: String,
    /// `STEVEDORE_S3_REGION`, e.g. `us-east-1`.
    pub region: String,
}

/// The S3 server's settings, or `None` after a `SKIP:` line (see [`service`]).
pub fn s3() -> Option<S3Env> {
    let mut v = service("s3", &["STEVEDORE_S3_ENDPOINT", "STEVEDORE_S3_KEY_ID", "STEVEDORE_S3_SECRET", "STEVEDORE_S3_REGION"])?;
    let mut take = |k: &str| v.remove(k).unwrap_or_default();
    Some(S3Env {
        endpoint: take("STEVEDORE_S3_ENDPOINT"),
        key_id: take("STEVEDORE_S3_KEY_ID"),
        secret: take("STEVEDORE_S3_SECRET"),
        region: take("STEVEDORE_S3_REGION"),
    })
}

/// The Azure Blob server (azurite) with its development account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureEnv {
    /// `STEVEDORE_AZURE_ENDPOINT`: the blob endpoint including the account,
    /// e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: String,
    /// `STEVEDORE_AZURE_ACCOUNT`: `devstoreaccount1`.
    pub account: String,
    /// `STEVEDORE_AZURE_KEY`: the account key (azurite's well-known one).
    pub key: String,
}

/// The Azure Blob server's settings, or `None` after a `SKIP:` line (see [`service`]).
pub fn azure() -> Option<AzureEnv> {
    let mut v = service("azure", &["STEVEDORE_AZURE_ENDPOINT", "STEVEDORE_AZURE_ACCOUNT", "STEVEDORE_AZURE_KEY"])?;
    let mut take = |k: &str| v.remove(k).unwrap_or_default();
    Some(AzureEnv {
        endpoint: take("STEVEDORE_AZURE_ENDPOINT"),
        account: take("STEVEDORE_AZURE_ACCOUNT"),
        key: take("STEVEDORE_AZURE_KEY"),
    })
}

/// `STEVEDORE_GCS_ENDPOINT` of the GCS server (fake-gcs-server, JSON API, no buckets: tests
/// create their own), e.g. `http://127.0.0.1:9024`, or `None` after a `SKIP:` line.
pub fn gcs() -> Option<String> {
    service("gcs", &["STEVEDORE_GCS_ENDPOINT"]).map(|mut v| v.remove("STEVEDORE_GCS_ENDPOINT").unwrap_or_default())
}

/// Sends `kill -9` to `child` as soon as `now()` says so (polled every `poll`), and returns
/// what happened: the kill's description from `now`, or `late: ...` when the process ended
/// first. Panics when neither happens within `limit`.
pub fn kill_9_when(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    poll: std::time::Duration,
    mut now: impl FnMut() -> Option<String>,
) -> String {
    let started = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return format!("late: the load finished first ({st})");
        }
        if let Some(what) = now() {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
            return what;
        }
        assert!(started.elapsed() < limit, "the process never reached the moment to kill it");
        std::thread::sleep(poll);
    }
}

/// The CLI resume check: starts `command` (output discarded), `kill -9`s it once 3 jobs of its
/// first package completed under `working_dir` ([`kill_9_after_jobs`], waiting at most
/// `limit`), then runs the same command again, which must succeed. Returns what the kill saw
/// (`killed with N jobs done`, or why it did not kill).
pub fn kill_9_then_rerun(command: impl Fn() -> std::process::Command, working_dir: &Path, limit: std::time::Duration) -> String {
    let mut child = command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("start the load");
    let landed = kill_9_after_jobs(&mut child, working_dir, 3, limit);
    println!("{landed}");
    assert_success(&command().output().expect("run the load again"), "same command after kill -9");
    landed
}

/// `kill -9` of a `stevedore load` child once `jobs` jobs of its first normalized package
/// completed (under `working_dir/load/normalized`), polled every millisecond: the moment the
/// CLI resume tests aim at. Returns what happened, as [`kill_9_when`] does.
pub fn kill_9_after_jobs(child: &mut std::process::Child, working_dir: &Path, jobs: usize, limit: std::time::Duration) -> String {
    let normalized = working_dir.join("load").join("normalized");
    kill_9_when(child, limit, std::time::Duration::from_millis(1), || {
        let pending = list_dirs(&normalized);
        let done = pending.first().map_or(0, |l| list_files(&normalized.join(l).join("completed_jobs")).len());
        (done >= jobs).then(|| format!("killed with {done} jobs done"))
    })
}
