//! Configuration layering through the CLI: `--bucket-url` beats `DESTINATION__FILESYSTEM__BUCKET_URL`
//! beats `.stevedore/config.toml`; `.dlt/config.toml` is read when there is no `.stevedore/`.

use std::path::Path;

use stevedore_testkit::{CliProject, assert_success, list_files};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");
const DATASET: &str = "cfg_data";

/// `stevedore load in.jsonl --table t --dataset cfg_data --pipelines-dir <tmp>/p` plus `extra`.
fn load(proj: &CliProject, extra: &[&str], envs: &[(&str, &str)]) {
    proj.write("in.jsonl", "{\"id\": 1}\n{\"id\": 2}\n");
    let mut args: Vec<String> = ["load", "in.jsonl", "--table", "t", "--dataset", DATASET].map(String::from).to_vec();
    args.extend(["--pipelines-dir".into(), proj.pipelines_dir().display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut c = proj.cmd(&args);
    for (k, v) in envs {
        c.env(k, v);
    }
    assert_success(&c.output().expect("run"), "stevedore load");
}

/// Whether the load's table files landed in `<bucket>/cfg_data/t/`.
fn landed(bucket: &Path) -> bool {
    !list_files(&bucket.join(DATASET).join("t")).is_empty()
}

fn config_file(dir: &str, bucket: &Path) -> String {
    format!("{dir}/config.toml|[destination.filesystem]\nbucket_url = \"{}\"\n", bucket.display())
}

fn write_config(proj: &CliProject, spec: &str) {
    let (rel, content) = spec.split_once('|').unwrap();
    proj.write(rel, content);
}

#[test]
fn config_file_sets_bucket_url() {
    let proj = CliProject::new(BIN);
    let from_file = proj.path().join("from_file");
    write_config(&proj, &config_file(".stevedore", &from_file));
    load(&proj, &[], &[]);
    assert!(landed(&from_file), "files land in the config file's bucket");
    assert!(!proj.path().join("stevedore_data").exists(), "the default bucket is not used");
}

#[test]
fn env_beats_config_file() {
    let proj = CliProject::new(BIN);
    let (from_file, from_env) = (proj.path().join("from_file"), proj.path().join("from_env"));
    write_config(&proj, &config_file(".stevedore", &from_file));
    load(&proj, &[], &[("DESTINATION__FILESYSTEM__BUCKET_URL", &from_env.display().to_string())]);
    assert!(landed(&from_env), "the environment wins over the config file");
    assert!(!from_file.exists(), "the config file's bucket is not touched");
}

#[test]
fn flag_beats_env_and_config_file() {
    let proj = CliProject::new(BIN);
    let (from_file, from_env, from_flag) = (proj.path().join("from_file"), proj.path().join("from_env"), proj.path().join("from_flag"));
    write_config(&proj, &config_file(".stevedore", &from_file));
    let flag = from_flag.display().to_string();
    load(&proj, &["--bucket-url", &flag], &[("DESTINATION__FILESYSTEM__BUCKET_URL", &from_env.display().to_string())]);
    assert!(landed(&from_flag), "the flag wins");
    assert!(!from_env.exists() && !from_file.exists(), "other buckets are not touched");
}

#[test]
fn file_url_bucket_from_env() {
    let proj = CliProject::new(BIN);
    let bucket = proj.path().join("as_url");
    load(&proj, &[], &[("DESTINATION__FILESYSTEM__BUCKET_URL", &format!("file://{}", bucket.display()))]);
    assert!(landed(&bucket), "file:// URLs work");
}

#[test]
fn dlt_config_is_read_without_stevedore_folder() {
    let proj = CliProject::new(BIN);
    let from_dlt = proj.path().join("from_dlt");
    write_config(&proj, &config_file(".dlt", &from_dlt));
    load(&proj, &[], &[]);
    assert!(landed(&from_dlt), "`.dlt/config.toml` is used when there is no `.stevedore/`");
}

#[test]
fn stevedore_folder_wins_over_dlt_folder() {
    let proj = CliProject::new(BIN);
    let (from_dlt, from_stevedore) = (proj.path().join("from_dlt"), proj.path().join("from_stevedore"));
    write_config(&proj, &config_file(".dlt", &from_dlt));
    write_config(&proj, &config_file(".stevedore", &from_stevedore));
    load(&proj, &[], &[]);
    assert!(landed(&from_stevedore), "`.stevedore/` is used");
    assert!(!from_dlt.exists(), "`.dlt/` is ignored when `.stevedore/` exists");
}

#[test]
fn no_config_loads_into_stevedore_data_in_current_folder() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", "{\"id\": 1}\n");
    let args = ["load", "in.jsonl", "--table", "t", "--pipelines-dir", &proj.pipelines_dir().display().to_string()];
    assert_success(&proj.cmd(&args).output().unwrap(), "load with defaults");
    // default pipeline `stevedore`, dataset `stevedore_dataset`, bucket `./stevedore_data`
    assert!(!list_files(&proj.path().join("stevedore_data").join("stevedore_dataset").join("t")).is_empty());
    assert!(proj.pipelines_dir().join("stevedore").is_dir());
    assert!(!proj.path().join("home").join(".stevedore").exists(), "--pipelines-dir keeps HOME untouched");
}

/// `--staging filesystem` in front of a destination without staging support is refused
/// before anything is read or written, naming the destination; an unknown staging storage
/// names the ones this build has.
#[test]
fn staging_is_refused_by_a_destination_that_cannot_load_staged_files() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", "{\"id\": 1}\n");
    let pipelines = proj.pipelines_dir().display().to_string();
    let stage = proj.path().join("stage").display().to_string();
    let base = ["load", "in.jsonl", "--table", "t", "--pipelines-dir", &pipelines];
    for (destination, expected) in [
        ("postgres", "destination postgres cannot load through a staging storage"),
        ("filesystem", "destination filesystem cannot load through a staging storage"),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--destination", destination, "--staging", "filesystem", "--staging-bucket-url", &stage]);
        let out = proj.cmd(&args).env("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://loader:pw@127.0.0.1:1/db").output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{destination}: {stderr}");
        assert!(!proj.path().join("stage").exists() && !proj.pipelines_dir().join("stevedore").join("load").exists(), "{stderr}");
    }
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--staging", "ftp"]);
    let out = proj.cmd(&args).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("unknown staging storage `ftp`") && stderr.contains("filesystem"), "{stderr}");
}
