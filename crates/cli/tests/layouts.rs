//! Filesystem layouts end to end: every placeholder with a fixed `current_datetime`, `.{ext}`
//! appended when missing, static extra placeholders from config, and invalid layouts that fail
//! with a clear message before anything is written.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Timelike, Utc};
use stevedore_testkit::{CliProject, assert_failure, assert_success, list_dirs, list_files, packages, python, read_json, run_python};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");
const PIPELINE: &str = "lay";
const DATASET: &str = "lay_data";

const INPUT: &str = "{\"id\": 1, \"tags\": [\"a\", \"b\"]}\n{\"id\": 2, \"tags\": [\"c\"]}\n{\"id\": 3}\n";

const ALL_PLACEHOLDERS: &str = "{table_name}/{schema_name}/{load_id}/{file_id}/\
{timestamp}_{timestamp_ms}_{load_package_timestamp}_{load_package_timestamp_ms}/{curr_date}/\
{YYYY}-{YY}-{Y}-{MMMM}-{MMM}-{MM}-{M}/{DD}-{D}-{HH}-{H}-{mm}-{m}-{ss}-{s}/\
{SSSS}-{SSS}-{SS}-{S}-{dddd}-{ddd}-{dd}-{d}-{Q}.{ext}";

/// One uploaded job of the loaded package: (table, file_id, ext with compression).
fn loaded_jobs(proj: &CliProject) -> (String, DateTime<Utc>, Vec<(String, String, String)>) {
    let loaded = packages(&proj.working_dir(PIPELINE), "loaded");
    assert_eq!(loaded.len(), 1, "one loaded package");
    let load_id = loaded[0].clone();
    let pkg = proj.working_dir(PIPELINE).join("load").join("loaded").join(&load_id);
    let created: DateTime<Utc> =
        read_json(&pkg.join("package.json"))["created_at"].as_str().expect("created_at").parse().expect("created_at is a datetime");
    let mut jobs = Vec::new();
    for f in list_files(&pkg.join("completed_jobs")) {
        if f.ends_with(".remote_url") || f.starts_with("_dlt_") {
            continue;
        }
        // <table>.<file_id>.<retry>.<ext>[.gz]
        let parts: Vec<&str> = f.split('.').collect();
        assert!(parts.len() >= 4, "job file name {f}");
        jobs.push((parts[0].to_string(), parts[1].to_string(), parts[3..].join(".")));
    }
    assert!(jobs.len() >= 2, "a root and a child table job: {jobs:?}");
    (load_id, created, jobs)
}

/// Data files of the dataset (everything but dlt's folders and `init`).
fn data_files(proj: &CliProject) -> BTreeSet<String> {
    list_files(&proj.dataset_dir(DATASET)).into_iter().filter(|f| !f.starts_with("_dlt_") && f != "init").collect()
}

/// The date/time placeholders rendered from `dt` the way pendulum does, lower-cased.
fn date_tokens(dt: &DateTime<Utc>) -> Vec<(&'static str, String)> {
    let micros = dt.timestamp_subsec_micros();
    let month_name = dt.format("%B").to_string().to_lowercase();
    let day_name = dt.format("%A").to_string().to_lowercase();
    let year = dt.year().to_string();
    vec![
        ("YYYY", year.clone()),
        ("YY", year[2..].to_string()),
        ("Y", year),
        ("MMMM", month_name.clone()),
        ("MMM", month_name[..3].to_string()),
        ("MM", format!("{:02}", dt.month())),
        ("M", dt.month().to_string()),
        ("DD", format!("{:02}", dt.day())),
        ("D", dt.day().to_string()),
        ("HH", format!("{:02}", dt.hour())),
        ("H", dt.hour().to_string()),
        ("mm", format!("{:02}", dt.minute())),
        ("m", dt.minute().to_string()),
        ("ss", format!("{:02}", dt.second())),
        ("s", dt.second().to_string()),
        ("SSSS", format!("{:04}", micros / 100)),
        ("SSS", format!("{:03}", micros / 1000)),
        ("SS", format!("{:02}", micros / 10_000)),
        ("S", (micros / 100_000).to_string()),
        ("dddd", day_name.clone()),
        ("ddd", day_name[..3].to_string()),
        ("dd", day_name[..2].to_string()),
        ("d", dt.weekday().num_days_from_sunday().to_string()),
        ("Q", ((dt.month() - 1) / 3 + 1).to_string()),
    ]
}

/// Renders `layout` independently of the library: plain string substitution.
fn render(layout: &str, vals: &[(&str, String)]) -> String {
    let mut out = layout.to_string();
    for (k, v) in vals {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    assert!(!out.contains('{'), "unrendered placeholder in {out}");
    out
}

/// dlt's own renderer (`dlt.destinations.path_utils.create_path`), when dlt is installed next
/// to the readers: `{"path": ...}` for file `t.fid.0.jsonl`, or `{"skip": why}`.
const PY_DLT_PATH: &str = r#"
import sys, json
try:
    import pendulum
    from dlt.destinations.path_utils import create_path
except ImportError as e:
    print(json.dumps({"skip": str(e)}))
    sys.exit(0)
layout, schema, load_id, pkg_ts, now = sys.argv[1:6]
p = create_path(layout, "t.fid.0.jsonl", schema, load_id,
                load_package_timestamp=pendulum.parse(pkg_ts), current_datetime=pendulum.parse(now))
print(json.dumps({"path": p}))
"#;

fn all_values(
    table: &str,
    file_id: &str,
    ext: &str,
    load_id: &str,
    created: &DateTime<Utc>,
    now: &DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let mut vals: Vec<(&str, String)> = vec![
        ("table_name", table.to_string()),
        ("schema_name", PIPELINE.to_string()),
        ("load_id", load_id.to_string()),
        ("file_id", file_id.to_string()),
        ("ext", ext.to_string()),
        ("timestamp_ms", now.timestamp_millis().to_string()),
        ("timestamp", now.timestamp().to_string()),
        ("load_package_timestamp_ms", created.timestamp_millis().to_string()),
        ("load_package_timestamp", created.timestamp().to_string()),
        ("curr_date", now.format("%Y-%m-%d").to_string()),
    ];
    vals.extend(date_tokens(now));
    vals
}

fn check_all_placeholders(current_datetime: &str) {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    proj.write(
        ".stevedore/config.toml",
        &format!("[destination.filesystem]\nlayout = \"{ALL_PLACEHOLDERS}\"\ncurrent_datetime = \"{current_datetime}\"\n"),
    );
    assert_success(&proj.load("in.jsonl", "items", PIPELINE, DATASET, &[], &[]), "load");
    let now: DateTime<Utc> = current_datetime.parse().unwrap();
    let (load_id, created, jobs) = loaded_jobs(&proj);
    let expected: BTreeSet<String> = jobs
        .iter()
        .map(|(table, file_id, ext)| render(ALL_PLACEHOLDERS, &all_values(table, file_id, ext, &load_id, &created, &now)))
        .collect();
    // the values computed here are dlt's (checked against dlt's renderer when it is installed)
    if let Some(py) = python() {
        let args = [ALL_PLACEHOLDERS, PIPELINE, &load_id, &created.to_rfc3339(), current_datetime];
        let dlt = run_python(&py, PY_DLT_PATH, &args);
        match dlt.get("path") {
            Some(p) => {
                assert_eq!(p.as_str().unwrap(), render(ALL_PLACEHOLDERS, &all_values("t", "fid", "jsonl", &load_id, &created, &now)))
            }
            None => println!("dlt not installed, not cross-checked: {dlt}"),
        }
    }
    let got = data_files(&proj);
    assert_eq!(got, expected, "files must land exactly at the rendered paths");
    assert!(jobs.iter().any(|(t, _, _)| t == "items__tags"), "child table job present");
}

#[test]
fn every_placeholder_renders_with_fixed_current_datetime() {
    check_all_placeholders("2024-04-14T08:32:00Z");
}

#[test]
fn every_placeholder_renders_unpadded_values_and_fractions() {
    // a Thursday in Q4, single-digit minute/second, fractional seconds
    check_all_placeholders("2024-11-28T17:05:09.987654Z");
}

#[test]
fn layout_without_ext_gets_ext_appended() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    assert_success(&proj.load("in.jsonl", "items", PIPELINE, DATASET, &["--layout", "{table_name}/{load_id}.{file_id}"], &[]), "load");
    let (load_id, _, jobs) = loaded_jobs(&proj);
    let expected: BTreeSet<String> = jobs.iter().map(|(t, f, ext)| format!("{t}/{load_id}.{f}.{ext}")).collect();
    assert!(jobs.iter().all(|(_, _, ext)| ext == "jsonl.gz"), "{jobs:?}");
    assert_eq!(data_files(&proj), expected);
}

#[test]
fn static_extra_placeholders_from_config() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    proj.write(
        ".stevedore/config.toml",
        "[destination.filesystem]\nlayout = \"{table_name}/{owner}/{region}-{load_id}.{file_id}.{ext}\"\n\
         [destination.filesystem.extra_placeholders]\nowner = \"acme\"\nregion = \"eu-west\"\n",
    );
    assert_success(&proj.load("in.jsonl", "items", PIPELINE, DATASET, &[], &[]), "load");
    let (load_id, _, jobs) = loaded_jobs(&proj);
    let expected: BTreeSet<String> = jobs.iter().map(|(t, f, ext)| format!("{t}/acme/eu-west-{load_id}.{f}.{ext}")).collect();
    assert_eq!(data_files(&proj), expected);
}

/// (how the layout is given, layout, words the error must contain)
const INVALID: &[(&str, &str, &[&str])] = &[
    ("flag", "{table_name}/{nope}.{ext}", &["nope", "unknown placeholder"]),
    ("config", "{table_name}/{load_id}-{colour}.{ext}", &["colour", "unknown placeholder"]),
    ("flag", "{load_id}/{table_name}.{ext}", &["{load_id}", "{table_name}"]),
    ("flag", "{table_name}{load_id}.{file_id}.{ext}", &["separator", "{table_name}"]),
    ("flag", "{load_id}.{file_id}.{ext}", &["{table_name}", "missing"]),
    ("flag", ESCAPE, &["`..`", "outside the dataset folder"]),
    ("config", "/{table_name}/{load_id}.{file_id}.{ext}", &["starts with `/`", "outside the dataset folder"]),
    ("flag", "{table_name}//{load_id}.{file_id}.{ext}", &["empty folder name"]),
];

/// A layout whose literal text climbs out of the dataset folder (and of the bucket).
const ESCAPE: &str = "{table_name}/../../../escape/{load_id}.{file_id}.{ext}";

fn run_invalid(proj: &CliProject, how: &str, layout: &str) -> String {
    let _ = std::fs::remove_dir_all(proj.path().join(".stevedore"));
    let out = if how == "config" {
        proj.write(".stevedore/config.toml", &format!("[destination.filesystem]\nlayout = \"{layout}\"\n"));
        proj.load("in.jsonl", "items", PIPELINE, DATASET, &[], &[])
    } else {
        proj.load("in.jsonl", "items", PIPELINE, DATASET, &["--layout", layout], &[])
    };
    let _ = std::fs::remove_dir_all(proj.path().join(".stevedore"));
    assert_failure(&out, &format!("load with layout {layout}"))
}

fn assert_nothing_pending(proj: &CliProject) {
    let wd = proj.working_dir(PIPELINE);
    assert!(packages(&wd, "normalized").is_empty(), "no package left pending");
    assert!(packages(&wd, "new").is_empty(), "no unfinished package left");
}

#[test]
fn invalid_layouts_fail_clearly_and_write_nothing() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    // a fresh project: no dataset folder appears
    for (how, layout, words) in INVALID {
        let err = run_invalid(&proj, how, layout);
        for w in *words {
            assert!(err.contains(w), "error for layout `{layout}` should mention `{w}`:\n{err}");
        }
        assert!(err.contains(layout), "error should quote the layout `{layout}`:\n{err}");
        assert!(!proj.dataset_dir(DATASET).exists(), "no dataset folder after layout `{layout}`");
        assert_nothing_pending(&proj);
    }
    // after a good load, a bad layout changes nothing in the destination
    assert_success(&proj.load("in.jsonl", "items", PIPELINE, DATASET, &[], &[]), "good load");
    let before = list_files(&proj.bucket());
    let loaded_before = packages(&proj.working_dir(PIPELINE), "loaded");
    for (how, layout, _) in INVALID {
        run_invalid(&proj, how, layout);
        assert_eq!(list_files(&proj.bucket()), before, "bucket unchanged after layout `{layout}`");
        assert_eq!(packages(&proj.working_dir(PIPELINE), "loaded"), loaded_before);
        assert_nothing_pending(&proj);
    }
}

/// Every file of the project outside the pipelines folder (`p/`), but the input.
fn files_outside_pipelines(proj: &CliProject) -> BTreeSet<String> {
    list_files(proj.path()).into_iter().filter(|f| !f.starts_with("p/") && f != "in.jsonl").collect()
}

#[test]
fn escaping_layout_is_refused_before_extraction_and_writes_nothing() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    let err = assert_failure(&proj.load("in.jsonl", "items", PIPELINE, DATASET, &["--layout", ESCAPE], &[]), "escaping layout");
    assert!(err.contains(&format!("invalid filesystem layout `{ESCAPE}`")), "{err}");
    assert!(err.contains("configuration error"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    // nothing outside the dataset folder (the layout aims at <project>/escape), nothing in it
    assert!(!proj.path().join("escape").exists());
    assert_eq!(files_outside_pipelines(&proj), BTreeSet::new());
    assert!(!proj.bucket().exists(), "no bucket folder");
    assert_nothing_pending(&proj);
    assert!(packages(&proj.working_dir(PIPELINE), "loaded").is_empty());
}

/// `stevedore load in.jsonl` into `bucket_url` (instead of the project's bucket).
fn load_to(proj: &CliProject, bucket_url: &str) -> std::process::Output {
    let args = ["load", "in.jsonl", "--table", "items", "--pipeline", PIPELINE, "--dataset", DATASET, "--bucket-url", bucket_url];
    let pipelines = proj.pipelines_dir().display().to_string();
    proj.cmd(&[&args[..], &["--pipelines-dir", &pipelines]].concat()).output().expect("run stevedore")
}

#[test]
fn malformed_bucket_urls_are_refused_not_taken_as_folders() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    for (url, words) in [
        ("s3:/nobucket", &["bucket URL `s3:/nobucket` is malformed", "`://` must follow the scheme", "s3://bucket/path"][..]),
        ("s3//x", &["bucket URL `s3//x` is malformed", "`:` is missing", "s3://bucket/path"]),
        ("gs:x", &["bucket URL `gs:x` is malformed", "gs://bucket/path", "./gs:x"]),
        ("az:/c", &["bucket URL `az:/c` is malformed", "az://container/path"]),
        ("s3:/KEY:SECRETVALUE@nobucket", &["s3:/***@nobucket", "s3://bucket/path"]),
        ("foo://bar", &["unknown bucket URL scheme `foo://`", "s3, s3a", "s3://bucket/path"]),
    ] {
        let err = assert_failure(&load_to(&proj, url), &format!("load to {url}"));
        assert!(err.contains("configuration error"), "{url}: {err}");
        for w in words {
            assert!(
                err.contains(w),
                "error for {url} should mention `{w}`:
{err}"
            );
        }
        assert!(!err.contains("SECRETVALUE"), "{err}");
        // no local folder named after the URL, nothing written anywhere
        assert_eq!(files_outside_pipelines(&proj), BTreeSet::new(), "{url}");
        let dirs: Vec<String> = list_dirs(proj.path()).into_iter().filter(|d| d != "p").collect();
        assert_eq!(dirs, ["home"], "{url}: no folder but HOME and the pipelines folder");
        assert!(packages(&proj.working_dir(PIPELINE), "loaded").is_empty());
    }
    // plain relative paths stay local folders, even with a scheme-like name
    for (url, dir) in [("data/lake", "data/lake"), ("./s3data", "s3data"), ("./s3:x", "s3:x")] {
        assert_success(&load_to(&proj, url), &format!("load to {url}"));
        assert!(proj.path().join(dir).join(DATASET).join("items").is_dir(), "{url}");
    }
}

#[test]
fn long_table_names_are_shortened_like_dlt_does() {
    use stevedore::naming::shorten_identifier;
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    let table = "t".repeat(300);
    assert_success(&proj.load("in.jsonl", &table, PIPELINE, DATASET, &[], &[]), "load with a 300-character table name");
    // dlt's shortening with the destination's limit: head and tail kept, a hash tag between
    let root = shorten_identifier(&table, &table, 200);
    let child_path = format!("{root}__tags");
    let child = shorten_identifier(&child_path, &child_path, 200);
    assert_eq!(root.len(), 200);
    assert_ne!(root, "t".repeat(200), "a hash tag is in the name");
    assert_eq!(child.len(), 200);
    let dirs: Vec<String> = list_dirs(&proj.dataset_dir(DATASET)).into_iter().filter(|d| !d.starts_with("_dlt_")).collect();
    let mut expected = vec![root.clone(), child.clone()];
    expected.sort();
    assert_eq!(dirs, expected);
    let (_, _, jobs) = loaded_jobs(&proj);
    let tables: BTreeSet<&str> = jobs.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(tables, BTreeSet::from([root.as_str(), child.as_str()]));
    // the schema names the table by its short name
    let schema = read_json(&proj.working_dir(PIPELINE).join("schemas").join(format!("{PIPELINE}.schema.json")));
    assert!(schema["tables"].get(root.as_str()).is_some(), "{}", schema["tables"]);
    assert_eq!(data_files(&proj).len(), 2);
}

/// On one file system a local load links the package's job files into the dataset instead
/// of copying them: the same inode, the same bytes, no temporary file left behind.
#[cfg(unix)]
#[test]
fn local_files_are_linked_not_copied() {
    use std::os::unix::fs::MetadataExt;
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", INPUT);
    assert_success(&proj.load("in.jsonl", "items", PIPELINE, DATASET, &[], &[]), "load");
    let (load_id, _, jobs) = loaded_jobs(&proj);
    let pkg = proj.working_dir(PIPELINE).join("load").join("loaded").join(&load_id).join("completed_jobs");
    for (table, file_id, ext) in &jobs {
        let job = std::fs::read_dir(&pkg)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.starts_with(&format!("{table}.{file_id}.")) && !name.ends_with(".remote_url")
            })
            .expect("job file in the package");
        let landed = proj.dataset_dir(DATASET).join(table).join(format!("{load_id}.{file_id}.{ext}"));
        let (a, b) = (std::fs::metadata(&job).unwrap(), std::fs::metadata(&landed).unwrap());
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "{} is a link of {}", landed.display(), job.display());
        assert_eq!(std::fs::read(&job).unwrap(), std::fs::read(&landed).unwrap());
    }
    assert!(list_files(&proj.dataset_dir(DATASET)).iter().all(|f| !f.ends_with(".tmp")), "no temporary file left");
}
