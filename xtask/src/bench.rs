//! `cargo xtask bench`: stevedore against dlt and against the raw floors, on the same input,
//! on this machine, in one run. Medians of repeated runs; ratios, not absolute claims.
//!
//! Inputs, both deterministic and cached under `$STEVEDORE_CACHE/bench`: GitHub-like events
//! (`../shared/bench/gen_events.py`) and, as a second shape with wider rows, deeper nesting
//! and many short lists, web-shop orders (`scripts/gen_orders.py`). Each command runs under `/usr/bin/time` for wall, CPU and peak
//! RSS. The report goes to stdout and to `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::proc::{self, cache_dir, workspace_root};
use crate::services;
use crate::venv::{self, DLT, READERS};
use crate::{Error, Result, bail};

const USAGE: &str = "usage: cargo xtask bench [--sizes 100000,1000000] [--shapes events,orders] [--runs N] [--dlt-runs N] [--skip-dlt] [--skip-postgres] [--with-10m] [--no-write]";

/// An input shape: its name (also the table loaded), generator and what a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    name: &'static str,
    /// The generator, relative to the workspace root.
    script: &'static str,
    about: &'static str,
    /// Whether the whole bench runs on it; otherwise only the floors, stevedore's formats and
    /// dlt's parquet and jsonl.gz (the dlt runs are most of the bench): no uncompressed jsonl
    /// for dlt, no PostgreSQL, no 1-core run.
    full: bool,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "events",
        script: "../shared/bench/gen_events.py",
        about: "GitHub-like events, nested objects and lists: 1 record ≈ 3.2 rows over 4 tables, ≈ 875 bytes",
        full: true,
    },
    Shape {
        name: "orders",
        script: "scripts/gen_orders.py",
        about: "web-shop orders: wider rows (57 columns in `orders`), lists in list items, many short lists: 1 record ≈ 15.8 rows over 6 tables, ≈ 2.2 KB",
        full: false,
    },
];

struct Opts {
    sizes: Vec<usize>,
    shapes: Vec<Shape>,
    runs: usize,
    dlt_runs: usize,
    skip_dlt: bool,
    skip_pg: bool,
    with_10m: bool,
    write: bool,
}

/// One measured run.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    wall: f64,
    cpu: f64,
    rss_mb: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn med(samples: &[Sample]) -> Sample {
    Sample {
        wall: median(samples.iter().map(|s| s.wall).collect()),
        cpu: median(samples.iter().map(|s| s.cpu).collect()),
        rss_mb: median(samples.iter().map(|s| s.rss_mb).collect()),
    }
}

/// The shell line of one `stevedore load` of `file` into table `table` of a local folder
/// under `dir`.
fn stevedore_load(stevedore: &Path, file: &str, table: &str, fmt: &str, dir: &Path) -> String {
    format!(
        "{} load {file} --table {table} --format {fmt} --bucket-url {d}/data --pipelines-dir {d}/p --pipeline bench",
        stevedore.display(),
        d = dir.display()
    )
}

/// The environment that turns gzip off (`nogz`), for stevedore and dlt alike.
fn gzip_env(nogz: bool) -> Vec<(&'static str, String)> {
    if nogz { vec![("DATA_WRITER__DISABLE_COMPRESSION", "true".to_string())] } else { vec![] }
}

/// Measures one `stevedore load` into `dir` (removed afterwards).
fn run_stevedore(stevedore: &Path, file: &str, table: &str, fmt: &str, nogz: bool, dir: &Path) -> Result<(Sample, String)> {
    let r = measure(&stevedore_load(stevedore, file, table, fmt, dir), &gzip_env(nogz));
    let _ = fs::remove_dir_all(dir);
    r
}

/// Runs `cmd` (a shell line) under /usr/bin/time; returns the sample and stdout.
fn measure(shell: &str, env: &[(&str, String)]) -> Result<(Sample, String)> {
    let tf = std::env::temp_dir().join(format!("stevedore-bench-time-{}", std::process::id()));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%e %U %S %M").arg("-o").arg(&tf).arg("sh").arg("-c").arg(shell);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null());
    let out = cmd.output().map_err(|e| Error(format!("cannot run /usr/bin/time (apt-get install time): {e}")))?;
    if !out.status.success() {
        bail!("benchmark command failed ({}): {shell}\n{}", proc::describe_status(out.status), String::from_utf8_lossy(&out.stderr));
    }
    let t = fs::read_to_string(&tf).map_err(|e| Error(format!("read timing: {e}")))?;
    let _ = fs::remove_file(&tf);
    let f: Vec<f64> = t.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    if f.len() < 4 {
        bail!("unexpected /usr/bin/time output: {t}");
    }
    Ok((Sample { wall: f[0], cpu: f[1] + f[2], rss_mb: f[3] / 1024.0 }, String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn parse_opts(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        sizes: vec![100_000, 1_000_000],
        shapes: SHAPES.to_vec(),
        runs: 5,
        dlt_runs: 1,
        skip_dlt: false,
        skip_pg: false,
        with_10m: false,
        write: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                let v = it.next().ok_or_else(|| Error(USAGE.into()))?;
                o.sizes =
                    v.split(',').map(|s| s.replace('_', "").parse().map_err(|_| Error(format!("bad size {s}")))).collect::<Result<_>>()?;
            }
            "--shapes" => {
                let v = it.next().ok_or_else(|| Error(USAGE.into()))?;
                o.shapes = v
                    .split(',')
                    .map(|name| {
                        SHAPES.iter().copied().find(|s| s.name == name).ok_or_else(|| Error(format!("unknown shape {name}\n{USAGE}")))
                    })
                    .collect::<Result<_>>()?;
            }
            "--runs" => o.runs = it.next().and_then(|v| v.parse().ok()).ok_or_else(|| Error(USAGE.into()))?,
            "--dlt-runs" => o.dlt_runs = it.next().and_then(|v| v.parse().ok()).ok_or_else(|| Error(USAGE.into()))?,
            "--skip-dlt" => o.skip_dlt = true,
            "--skip-postgres" => o.skip_pg = true,
            "--with-10m" => o.with_10m = true,
            "--no-write" => o.write = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(o)
}

fn input(root: &Path, shape: Shape, n: usize) -> Result<PathBuf> {
    let dir = cache_dir()?.join("bench");
    fs::create_dir_all(&dir).map_err(|e| Error(format!("{}: {e}", dir.display())))?;
    let p = dir.join(format!("{}_{n}.jsonl", shape.name));
    if !p.exists() {
        let gen_script = root.join(shape.script);
        println!("bench: generating {n} {} into {}", shape.name, p.display());
        let tmp = p.with_extension("tmp");
        let st = Command::new("python3").arg(&gen_script).arg(n.to_string()).arg(&tmp).status();
        match st {
            Ok(s) if s.success() => fs::rename(&tmp, &p).map_err(|e| Error(e.to_string()))?,
            _ => bail!("generating input with {} failed", gen_script.display()),
        }
    }
    Ok(p)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

/// Rows of all tables, from the CLI summary line `N records, M rows; ...`.
fn rows_from_summary(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.contains(" records, ") && l.contains(" rows"))?;
    let after = line.split(" records, ").nth(1)?;
    after.split(' ').next()?.parse().ok()
}

struct Row {
    scenario: String,
    shape: &'static str,
    n: usize,
    s: Sample,
    rows: u64,
}

/// The floor the performance issue measures stevedore's CPU seconds against.
const SONIC_FLOOR: &str = "floor: sonic-rs parse (value)";

/// `cargo` arguments of the binaries the bench runs.
/// The packages are named: without `-p`, features unify over the whole workspace and the
/// test crates bring Delta back in.
const BUILD_ARGS: &[&str] = &[
    "build",
    "--release",
    "-p",
    "stevedore-cli",
    "-p",
    "stevedore-core",
    "--bin",
    "stevedore",
    "--example",
    "parse_floor",
    "--no-default-features",
    "--features",
    "stevedore-cli/postgres",
];

pub fn main(args: &[String]) -> Result<ExitCode> {
    let o = parse_opts(args)?;
    let root = workspace_root()?;
    let python = venv::ensure(&READERS, if o.skip_dlt { &[] } else { DLT }, false)?;
    println!("bench: building release binaries");
    // only the destinations measured here: the default binary adds Delta tables (DataFusion),
    // three times the build time and code no scenario runs
    let st = proc::run(proc::cargo().current_dir(&root).args(BUILD_ARGS), "cargo build --release failed")?;
    if !st.success() {
        bail!("release build failed");
    }
    let rel = target_dir(&root).join("release");
    let stevedore = rel.join("stevedore");
    let floor = rel.join("examples").join("parse_floor");
    let work = std::env::temp_dir().join(format!("stevedore-bench-{}", std::process::id()));
    let mut results: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut pg_env: Option<std::result::Result<(String, String, services::Session), String>> = None;

    for (&n, shape) in o.sizes.iter().flat_map(|n| o.shapes.iter().map(move |s| (n, *s))) {
        let file = input(&root, shape, n)?;
        let f = file.display().to_string();
        let t = shape.name;
        let runs = if n >= 1_000_000 { o.runs } else { o.runs.max(3) };
        // floors
        for (mode, scenario) in
            [("value", "floor: serde_json parse (value)"), ("ignored", "floor: serde_json parse (ignored)"), ("sonic", SONIC_FLOOR)]
        {
            let mut v = Vec::new();
            for _ in 0..runs {
                v.push(measure(&format!("{} {f} {mode}", floor.display()), &[])?.0);
            }
            results.push(Row { scenario: scenario.into(), shape: t, n, s: med(&v), rows: 0 });
        }
        // stevedore
        let mut rows_by_format: BTreeMap<&str, u64> = BTreeMap::new();
        for (name, fmt, nogz) in
            [("stevedore parquet", "parquet", false), ("stevedore jsonl.gz", "jsonl", false), ("stevedore jsonl", "jsonl", true)]
        {
            let mut v = Vec::new();
            let mut rows = 0;
            for i in 0..runs {
                let (s, out) = run_stevedore(&stevedore, &f, t, fmt, nogz, &work.join(format!("{t}-{fmt}-{nogz}-{n}-{i}")))?;
                rows = rows_from_summary(&out).unwrap_or(0);
                v.push(s);
            }
            rows_by_format.insert(fmt, rows);
            results.push(Row { scenario: name.into(), shape: t, n, s: med(&v), rows });
        }
        // dlt
        if !o.skip_dlt {
            let script = root.join("scripts").join("bench_dlt.py");
            for (name, fmt, nogz) in [("dlt parquet", "parquet", false), ("dlt jsonl.gz", "jsonl", false), ("dlt jsonl", "jsonl", true)] {
                if nogz && !shape.full {
                    continue;
                }
                let mut v = Vec::new();
                // The machine's speed drifts over minutes, and a dlt run takes minutes: each dlt
                // run is paired with stevedore runs right before and after it.
                let mut pairs = Vec::new();
                for i in 0..o.dlt_runs.max(1) {
                    let sdir = work.join(format!("pair-{t}-{fmt}-{nogz}-{n}-{i}"));
                    let (before, _) = run_stevedore(&stevedore, &f, t, fmt, nogz, &sdir)?;
                    let dir = work.join(format!("dlt-{t}-{fmt}-{nogz}-{n}-{i}"));
                    let cmd = format!("{} {} {f} {fmt} {} {t}", python.display(), script.display(), dir.display());
                    let d = measure(&cmd, &gzip_env(nogz))?.0;
                    let _ = fs::remove_dir_all(&dir);
                    let (after, _) = run_stevedore(&stevedore, &f, t, fmt, nogz, &sdir)?;
                    pairs.push((before.wall, d.wall, after.wall));
                    v.push(d);
                }
                let rows = rows_by_format.get(fmt).copied().unwrap_or(0);
                results.push(Row { scenario: name.into(), shape: t, n, s: med(&v), rows });
                let mut sorted: Vec<f64> = pairs.iter().map(|(b, d, a)| d / ((b + a) / 2.0)).collect();
                sorted.sort_by(|a, b| a.total_cmp(b));
                let shown: Vec<String> = pairs.iter().map(|(b, d, a)| format!("{b:.2} s / {d:.1} s / {a:.2} s")).collect();
                notes.push(format!(
                    "{n} {t}, {}: dlt vs stevedore run right before and after it (interleaved): median {:.1}x (stevedore before / dlt / stevedore after: {})",
                    name.trim_start_matches("dlt "),
                    sorted[sorted.len() / 2],
                    shown.join("; ")
                ));
            }
        }
        // PostgreSQL: stevedore end to end, dlt end to end, and `psql \copy` of the same rows
        if !o.skip_pg && shape.full {
            let pg = pg_env.get_or_insert_with(start_postgres);
            match pg {
                Ok((url, psql, _)) => {
                    let (url, psql) = (url.clone(), psql.clone());
                    bench_postgres(&mut results, &mut notes, shape, n, &f, &stevedore, &python, &root, &work, &url, &psql, runs, &o)?;
                }
                Err(e) => notes.push(format!("PostgreSQL scenarios skipped: {e}")),
            }
        }
        // 1 core vs 2 cores, paired
        if n >= 1_000_000 && shape.full && has_taskset() {
            let mut ratios = Vec::new();
            let mut one = Vec::new();
            let mut two = Vec::new();
            for i in 0..runs {
                let dir = work.join(format!("cores-{i}"));
                let base = stevedore_load(&stevedore, &f, t, "parquet", &dir);
                let (s1, _) = measure(&format!("taskset -c 0 {base}"), &[])?;
                let _ = fs::remove_dir_all(&dir);
                let (s2, _) = measure(&format!("taskset -c 0,1 {base}"), &[])?;
                let _ = fs::remove_dir_all(&dir);
                ratios.push(s1.wall / s2.wall);
                one.push(s1);
                two.push(s2);
            }
            results.push(Row { scenario: "stevedore parquet, 1 core".into(), shape: t, n, s: med(&one), rows: rows_by_format["parquet"] });
            results.push(Row { scenario: "stevedore parquet, 2 cores".into(), shape: t, n, s: med(&two), rows: rows_by_format["parquet"] });
            notes.push(format!(
                "{n} {t}: 1 core → 2 cores speedup, median of {runs} paired runs: {:.2}x (runs: {})",
                median(ratios.clone()),
                ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if o.with_10m {
        let gen_script = root.join("..").join("shared").join("bench").join("gen_events.py");
        let dir = work.join("10m");
        let tf = std::env::temp_dir().join(format!("stevedore-bench-10m-{}", std::process::id()));
        let shell = format!(
            "python3 {} 10000000 - | /usr/bin/time -f '%e %U %S %M' -o {} {} load - --table events --format parquet --bucket-url {d}/data --pipelines-dir {d}/p --pipeline bench >/dev/null",
            gen_script.display(),
            tf.display(),
            stevedore.display(),
            d = dir.display()
        );
        let st = Command::new("sh").arg("-c").arg(&shell).status().map_err(|e| Error(e.to_string()))?;
        let t = fs::read_to_string(&tf).unwrap_or_default();
        let f: Vec<f64> = t.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if st.success() && f.len() >= 4 {
            notes.push(format!(
                "10M records streamed from the generator through `stevedore load -` (parquet): peak RSS {:.0} MB, wall {:.0} s (includes waiting on the Python generator)",
                f[3] / 1024.0,
                f[0]
            ));
        } else {
            notes.push("10M records run failed".into());
        }
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_file(&tf);
    }
    if let Some(Ok((_, _, mut session))) = pg_env {
        session.stop();
    }
    let _ = fs::remove_dir_all(&work);
    let report = render(&results, &notes);
    println!("\n{report}");
    if o.write {
        let p = root.join("docs").join("benchmarks.md");
        let old = fs::read_to_string(&p).unwrap_or_default();
        fs::write(&p, with_kept_history(&report, &old)).map_err(|e| Error(format!("{}: {e}", p.display())))?;
        println!("bench: wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn start_postgres() -> std::result::Result<(String, String, services::Session), String> {
    let sel = services::select(&["postgres".to_string()]).map_err(|e| e.0)?;
    let session = services::Session::start(&sel).map_err(|e| e.0)?;
    let var = |k: &str| session.running.iter().flat_map(|r| r.env.iter()).find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    match (var("STEVEDORE_PG_URL"), var("STEVEDORE_PSQL")) {
        (Some(u), Some(p)) => Ok((u, p, session)),
        _ => Err("the postgres service did not provide STEVEDORE_PG_URL and STEVEDORE_PSQL".into()),
    }
}

fn psql(psql: &str, url: &str, sql: &str) -> Result<String> {
    let out = Command::new(psql)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .map_err(|e| Error(format!("psql: {e}")))?;
    if !out.status.success() {
        bail!("psql failed: {sql}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[allow(clippy::too_many_arguments)]
fn bench_postgres(
    results: &mut Vec<Row>,
    notes: &mut Vec<String>,
    shape: Shape,
    n: usize,
    f: &str,
    stevedore: &Path,
    python: &Path,
    root: &Path,
    work: &Path,
    url: &str,
    psql_bin: &str,
    runs: usize,
    o: &Opts,
) -> Result<()> {
    let t = shape.name;
    let mut v = Vec::new();
    let mut rows = 0;
    let floor_schema = format!("bench_floor_{n}");
    let mut tables: Vec<String> = Vec::new();
    for i in 0..runs {
        let ds = format!("bench_sd_{n}_{i}");
        psql(psql_bin, url, &format!("DROP SCHEMA IF EXISTS {ds} CASCADE; DROP SCHEMA IF EXISTS {ds}_staging CASCADE"))?;
        let dir = work.join(format!("pg-{n}-{i}"));
        let cmd = format!(
            "{} load {f} --table {t} --destination postgres --dataset {ds} --pipelines-dir {d}/p --pipeline benchpg",
            stevedore.display(),
            d = dir.display()
        );
        let (s, out) = measure(&cmd, &[("DESTINATION__POSTGRES__CREDENTIALS", url.to_string())])?;
        rows = rows_from_summary(&out).unwrap_or(0);
        v.push(s);
        let _ = fs::remove_dir_all(&dir);
        if i == 0 {
            // the floor: export the same rows as CSV, then time `\copy` into identical tables
            tables = psql(
                psql_bin,
                url,
                &format!(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema='{ds}' AND table_name NOT LIKE '\\_%' ORDER BY 1"
                ),
            )?
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
            psql(psql_bin, url, &format!("DROP SCHEMA IF EXISTS {floor_schema} CASCADE; CREATE SCHEMA {floor_schema}"))?;
            let csv_dir = work.join(format!("csv-{n}"));
            fs::create_dir_all(&csv_dir).map_err(|e| Error(e.to_string()))?;
            let mut script = String::new();
            for t in &tables {
                let file = csv_dir.join(format!("{t}.csv"));
                psql(psql_bin, url, &format!("\\copy {ds}.\"{t}\" TO '{}' WITH (FORMAT csv)", file.display()))?;
                psql(psql_bin, url, &format!("CREATE TABLE {floor_schema}.\"{t}\" (LIKE {ds}.\"{t}\" INCLUDING ALL)"))?;
                script.push_str(&format!("\\copy {floor_schema}.\"{t}\" FROM '{}' WITH (FORMAT csv)\n", file.display()));
            }
            let script_path = csv_dir.join("copy.sql");
            fs::write(&script_path, script).map_err(|e| Error(e.to_string()))?;
            let mut fv = Vec::new();
            for _ in 0..runs {
                let trunc: Vec<String> = tables.iter().map(|t| format!("{floor_schema}.\"{t}\"")).collect();
                psql(psql_bin, url, &format!("TRUNCATE {}", trunc.join(", ")))?;
                fv.push(measure(&format!("{psql_bin} -X -q -v ON_ERROR_STOP=1 -d '{url}' -f {}", script_path.display()), &[])?.0);
            }
            results.push(Row { scenario: "floor: psql \\copy csv (all tables)".into(), shape: t, n, s: med(&fv), rows });
            let _ = fs::remove_dir_all(&csv_dir);
            psql(psql_bin, url, &format!("DROP SCHEMA IF EXISTS {floor_schema} CASCADE"))?;
        }
        psql(psql_bin, url, &format!("DROP SCHEMA IF EXISTS {ds} CASCADE; DROP SCHEMA IF EXISTS {ds}_staging CASCADE"))?;
    }
    results.push(Row { scenario: "stevedore postgres".into(), shape: t, n, s: med(&v), rows });
    if !o.skip_dlt {
        let mut dv = Vec::new();
        for i in 0..o.dlt_runs.max(1) {
            let ds = format!("bench_dlt_{n}_{i}");
            let dir = work.join(format!("dltpg-{n}-{i}"));
            let script = root.join("scripts").join("bench_dlt.py");
            let cmd = format!("{} {} {f} postgres {} {t}", python.display(), script.display(), dir.display());
            dv.push(measure(&cmd, &[("DESTINATION__POSTGRES__CREDENTIALS", url.to_string()), ("BENCH_DATASET", ds.clone())])?.0);
            let _ = fs::remove_dir_all(&dir);
            psql(psql_bin, url, &format!("DROP SCHEMA IF EXISTS {ds} CASCADE; DROP SCHEMA IF EXISTS {ds}_staging CASCADE"))?;
        }
        results.push(Row { scenario: "dlt postgres".into(), shape: t, n, s: med(&dv), rows });
    }
    notes.push(format!("{n} {t} into PostgreSQL: {} tables, {rows} rows", tables.len()));
    Ok(())
}

fn has_taskset() -> bool {
    Command::new("taskset").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

/// The line of `docs/benchmarks.md` after which the page is written by hand (figures measured
/// by hand, earlier runs): the bench replaces only what is above it.
const HISTORY_MARKER: &str = "<!-- Below: measured by hand and earlier runs; `cargo xtask bench` keeps this part. -->";

/// The new report followed by the hand-written part of the old page (from its marker on).
fn with_kept_history(report: &str, old: &str) -> String {
    let kept = old.find(HISTORY_MARKER).map_or(HISTORY_MARKER, |i| &old[i..]);
    format!("{}\n\n{}{}", report.trim_end(), kept, if kept.ends_with('\n') { "" } else { "\n" })
}

fn render(rows: &[Row], notes: &[String]) -> String {
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut s = format!(
        "# Benchmarks\n\nGenerated by `cargo xtask bench` on {date}, {}. Medians of repeated runs (the machine is shared \
         and noisy). `rows/s` counts rows of all tables. CPU = user + system seconds. Binaries: `cargo {}`. Inputs:\n\n",
        machine(),
        BUILD_ARGS.join(" ")
    );
    for shape in SHAPES.iter().filter(|sh| rows.iter().any(|r| r.shape == sh.name)) {
        s.push_str(&format!("- `{}` (`{} N`): {}\n", shape.name, shape.script, shape.about));
    }
    let sections: Vec<(usize, &str)> = {
        let mut v: Vec<(usize, &str)> = rows.iter().map(|r| (r.n, r.shape)).collect();
        v.dedup();
        v
    };
    for (n, shape) in sections {
        let of = |name: &str| rows.iter().find(|r| r.n == n && r.shape == shape && r.scenario == name);
        s.push_str(&format!(
            "\n## {n} {shape}\n\n| scenario | wall s | CPU s | peak RSS MB | records/s | rows/s | vs dlt (records/s) | vs parse floor (wall) |\n|---|---|---|---|---|---|---|---|\n"
        ));
        let floor = of("floor: serde_json parse (value)").map(|r| r.s.wall);
        let pg_floor = of("floor: psql \\copy csv (all tables)").map(|r| r.s.wall);
        for r in rows.iter().filter(|r| r.n == n && r.shape == shape) {
            let rps = n as f64 / r.s.wall;
            let rows_s = if r.rows > 0 { format!("{:.0}", r.rows as f64 / r.s.wall) } else { "–".into() };
            let dlt_name = r.scenario.replace("stevedore ", "dlt ");
            let vs_dlt = match (r.scenario.starts_with("stevedore ") && !r.scenario.contains("core"), of(&dlt_name)) {
                (true, Some(d)) => format!("{:.1}x", d.s.wall / r.s.wall),
                _ => "".into(),
            };
            let vs_floor = match (r.scenario.as_str(), floor, pg_floor) {
                ("stevedore postgres", _, Some(f)) => format!("{:.2}x of psql", r.s.wall / f),
                (sc, Some(f), _) if sc.starts_with("stevedore") => format!("{:.2}x", r.s.wall / f),
                _ => "".into(),
            };
            s.push_str(&format!(
                "| {} | {:.2} | {:.2} | {:.0} | {:.0} | {} | {} | {} |\n",
                r.scenario, r.s.wall, r.s.cpu, r.s.rss_mb, rps, rows_s, vs_dlt, vs_floor
            ));
        }
        if let Some(sonic) = of(SONIC_FLOOR).filter(|f| f.s.cpu > 0.0) {
            s.push('\n');
            for r in rows
                .iter()
                .filter(|r| r.n == n && r.shape == shape && r.scenario.starts_with("stevedore ") && r.scenario != "stevedore postgres")
            {
                s.push_str(&format!(
                    "- {}: {:.2} CPU s, {:.1}x the CPU of the sonic-rs parse floor ({:.2} s)\n",
                    r.scenario,
                    r.s.cpu,
                    r.s.cpu / sonic.s.cpu,
                    sonic.s.cpu
                ));
            }
        }
    }
    if !notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        for n in notes {
            s.push_str(&format!("- {n}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_part_survives_a_new_report() {
        let old = format!("# Benchmarks\n\n## 100000 events\nold table\n\n{HISTORY_MARKER}\n\n## By hand\nkept\n");
        let new = with_kept_history("# Benchmarks\n\n## 100000 events\nnew table\n", &old);
        assert!(new.contains("new table") && !new.contains("old table"), "{new}");
        assert!(new.ends_with(&format!("{HISTORY_MARKER}\n\n## By hand\nkept\n")), "{new}");
        // a page without the marker gets one, and nothing of the old page
        let fresh = with_kept_history("# Benchmarks\n", "# Benchmarks\nall generated\n");
        assert_eq!(fresh, format!("# Benchmarks\n\n{HISTORY_MARKER}\n"));
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn rows_are_read_from_the_cli_summary() {
        let out = "Pipeline x\n  events: 3 rows\n  6000 records, 19201 rows; normalize 1.2s, load 8ms\n";
        assert_eq!(rows_from_summary(out), Some(19201));
        assert_eq!(rows_from_summary("nothing"), None);
    }
}
