//! Bad input fails the load with the file and line named; nothing of that load becomes visible
//! in the destination, no package is left behind, and the pipeline stays usable.

use std::collections::BTreeSet;

use stevedore_testkit::{CliProject, assert_failure, assert_success, list_files, load_markers, packages, read_jsonl};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");
const PIPELINE: &str = "bad";
const DATASET: &str = "bad_data";
const PLAIN: (&str, &str) = ("DATA_WRITER__DISABLE_COMPRESSION", "true");

fn good_jsonl(from: i64, n: i64) -> String {
    (from..from + n).map(|i| format!("{{\"id\": {i}, \"name\": \"n{i}\"}}\n")).collect()
}

fn good_csv(from: i64, n: i64) -> String {
    let mut s = String::from("id,name\n");
    for i in from..from + n {
        s.push_str(&format!("{i},n{i}\n"));
    }
    s
}

fn table_ids(proj: &CliProject, table: &str) -> Vec<i64> {
    let dir = proj.dataset_dir(DATASET).join(table);
    let mut v: Vec<i64> = list_files(&dir).iter().flat_map(|f| read_jsonl(&dir.join(f))).map(|r| r["id"].as_i64().expect("id")).collect();
    v.sort();
    v
}

/// State of the destination and the pipeline's packages.
#[derive(Debug, PartialEq)]
struct Snapshot {
    bucket: BTreeSet<String>,
    loaded: Vec<String>,
}

fn snapshot(proj: &CliProject) -> Snapshot {
    Snapshot { bucket: list_files(&proj.bucket()), loaded: packages(&proj.working_dir(PIPELINE), "loaded") }
}

fn assert_nothing_left(proj: &CliProject, before: &Snapshot, what: &str) {
    assert_eq!(&snapshot(proj), before, "{what}: the destination and loaded packages must not change");
    assert!(packages(&proj.working_dir(PIPELINE), "normalized").is_empty(), "{what}: no package left pending");
    assert!(packages(&proj.working_dir(PIPELINE), "new").is_empty(), "{what}: no unfinished package left");
}

/// A good load first, then `bad` (after the good file `other.<ext>` in the same load when
/// `good_file_first`) must fail naming `words`, change nothing, and a good load afterwards must work.
fn check_bad_load(ext: &str, good: fn(i64, i64) -> String, bad_name: &str, bad: &str, good_file_first: bool, words: &[&str]) {
    let proj = CliProject::new(BIN);
    let table = "rows";
    proj.write(&format!("first.{ext}"), &good(1, 3));
    assert_success(&proj.load(&format!("first.{ext}"), table, PIPELINE, DATASET, &[], &[PLAIN]), "first load");
    let before = snapshot(&proj);
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 1);

    proj.write(bad_name, bad);
    proj.write(&format!("other.{ext}"), &good(50, 2));
    let other = format!("other.{ext}");
    let out = if good_file_first {
        proj.load(&other, table, PIPELINE, DATASET, &[bad_name], &[PLAIN])
    } else {
        proj.load(bad_name, table, PIPELINE, DATASET, &[], &[PLAIN])
    };
    let err = assert_failure(&out, "load of bad input");
    for w in words {
        assert!(err.contains(w), "the error should contain `{w}`:\n{err}");
    }
    assert_nothing_left(&proj, &before, "after bad input");

    proj.write(&format!("after.{ext}"), &good(100, 2));
    assert_success(&proj.load(&format!("after.{ext}"), table, PIPELINE, DATASET, &[], &[PLAIN]), "load after bad input");
    assert_eq!(table_ids(&proj, table), vec![1, 2, 3, 100, 101], "only the good loads are visible");
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 2);
}

#[test]
fn malformed_json_line_names_file_and_line_and_writes_nothing() {
    let bad = "{\"id\": 7, \"name\": \"a\"}\n{\"id\": 8, \"name\": \"b\"}\n{\"id\": 9, \"name\": }\n{\"id\": 10, \"name\": \"d\"}\n";
    check_bad_load("jsonl", good_jsonl, "broken.jsonl", bad, false, &["broken.jsonl", "line: 3"]);
}

#[test]
fn malformed_json_line_in_second_file_makes_nothing_of_the_load_visible() {
    // the first file of the load is fine; its rows must not become visible either
    let bad = "{\"id\": 7}\n\n{\"id\": 9,,}\n";
    check_bad_load("jsonl", good_jsonl, "broken.jsonl", bad, true, &["broken.jsonl", "line: 3"]);
}

/// `stevedore load -` into table `rows` with `input` on standard input.
fn load_stdin(proj: &CliProject, input: &[u8]) -> std::process::Output {
    let mut args: Vec<String> = ["load", "-", "--table", "rows", "--pipeline", PIPELINE, "--dataset", DATASET].map(String::from).to_vec();
    args.extend(["--bucket-url".into(), proj.bucket().display().to_string()]);
    args.extend(["--pipelines-dir".into(), proj.pipelines_dir().display().to_string()]);
    let mut child = proj
        .cmd(&args)
        .env(PLAIN.0, PLAIN.1)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn malformed_json_line_on_stdin_names_line() {
    let proj = CliProject::new(BIN);
    proj.write("first.jsonl", &good_jsonl(1, 2));
    assert_success(&proj.load("first.jsonl", "rows", PIPELINE, DATASET, &[], &[PLAIN]), "first load");
    let before = snapshot(&proj);
    let out = load_stdin(&proj, b"{\"id\": 5}\n{\"id\": 6}\nnot json\n");
    let err = assert_failure(&out, "load from stdin");
    assert!(err.contains("line: 3"), "{err}");
    assert_nothing_left(&proj, &before, "after bad stdin");
}

/// A `.json` document: a malformed record is placed by the line and column of the input and
/// its element number in the top-level array; good `.json` files (here JSON lines) load.
#[test]
fn malformed_record_of_a_json_array_names_line_column_and_element() {
    let bad = "[\n  {\"id\": 7, \"name\": \"a\"},\n  {\"id\": 8,\n   \"name\": }\n]\n";
    check_bad_load("json", good_jsonl, "broken.json", bad, false, &["broken.json", "line: 4", "element: 2", "column 12"]);
    let bad = "[{\"id\": 7}\n {\"id\": 8}]";
    check_bad_load("json", good_jsonl, "broken.json", bad, true, &["broken.json", "line: 2", "after element 1", "`,` or `]`"]);
    let bad = "[\n  {\"id\": 7},\n  {\"id\": 8";
    check_bad_load("json", good_jsonl, "cut.json", bad, false, &["cut.json", "not closed"]);
}

/// A JSON array on a line is a batch of records: an error in one names its element.
#[test]
fn bad_record_in_a_batch_line_names_line_and_element() {
    let proj = CliProject::new(BIN);
    proj.write("keyed.jsonl", "[{\"id\": 1}, {\"name\": \"no id\"}]\n");
    let out = proj.load("keyed.jsonl", "rows", PIPELINE, DATASET, &["--write-disposition", "merge", "--primary-key", "id"], &[PLAIN]);
    let err = assert_failure(&out, "batch with a record missing its key");
    for w in ["keyed.jsonl", "line: 1", "element: 2"] {
        assert!(err.contains(w), "the error should contain `{w}`:\n{err}");
    }
}

/// A UTF-8 byte order mark before the data (Excel, PowerShell) is skipped in JSON lines on
/// standard input and in CSV files, and the first column keeps its name.
#[test]
fn byte_order_mark_is_skipped_on_stdin_and_in_csv() {
    let proj = CliProject::new(BIN);
    let out = load_stdin(&proj, b"\xEF\xBB\xBF{\"id\": 5}\n[{\"id\": 6}, {\"id\": 7}]\n");
    assert_success(&out, "load from stdin with a BOM");
    proj.write("bom.csv", "\u{feff}id,name\n8,a\n");
    assert_success(&proj.load("bom.csv", "rows", PIPELINE, DATASET, &[], &[PLAIN]), "load of a CSV with a BOM");
    assert_eq!(table_ids(&proj, "rows"), vec![5, 6, 7, 8]);
}

#[test]
fn malformed_csv_row_names_file_and_line_and_writes_nothing() {
    let bad = "id,name\n7,a\n8,b,extra\n9,c\n";
    check_bad_load("csv", good_csv, "broken.csv", bad, false, &["broken.csv", "line 3"]);
}

/// 1500 good rows (file lines 2..=1501), then `bad_row` on file line 1502: past the 1000 rows
/// used to infer the CSV's types.
fn csv_with_late_bad_row(bad_row: &str) -> String {
    let mut s = good_csv(1000, 1500);
    s.push_str(bad_row);
    s.push('\n');
    s.push_str("5000,z\n");
    s
}

#[test]
fn csv_row_with_extra_field_after_type_inference_names_line() {
    check_bad_load("csv", good_csv, "late.csv", &csv_with_late_bad_row("4000,x,extra"), false, &["late.csv", "line 1502"]);
}

#[test]
fn csv_value_of_wrong_type_after_type_inference_names_line() {
    // `id` is inferred as an integer from the first 1000 rows; `abc` on file line 1502 is not one
    check_bad_load("csv", good_csv, "late.csv", &csv_with_late_bad_row("abc,x"), false, &["late.csv", "line 1502"]);
}

#[test]
fn missing_input_file_is_a_clear_error() {
    let proj = CliProject::new(BIN);
    let out = proj.load("does_not_exist.jsonl", "rows", PIPELINE, DATASET, &[], &[]);
    let err = assert_failure(&out, "load of a missing file");
    assert!(err.contains("does_not_exist.jsonl"), "names the file:\n{err}");
    assert!(err.contains("No such file") || err.contains("not found"), "says it is missing:\n{err}");
    assert!(!proj.dataset_dir(DATASET).exists(), "no dataset folder");
    assert!(packages(&proj.working_dir(PIPELINE), "normalized").is_empty());
}

#[test]
fn unknown_config_key_is_named_with_a_suggestion() {
    for (section, key, right) in
        [("destination.filesystem", "bucket_ulr", "bucket_url"), ("data_writer", "disable_compresion", "disable_compression")]
    {
        let proj = CliProject::new(BIN);
        proj.write("in.jsonl", &good_jsonl(1, 2));
        proj.write(".stevedore/config.toml", &format!("[{section}]\n{key} = \"x\"\n"));
        let out = proj.load("in.jsonl", "rows", PIPELINE, DATASET, &[], &[]);
        let err = assert_failure(&out, &format!("load with unknown key {key}"));
        assert!(err.contains(key), "names the unknown key `{key}`:\n{err}");
        assert!(err.contains(right), "suggests `{right}`:\n{err}");
        assert!(!proj.bucket().exists(), "nothing written");
        assert!(!proj.path().join("x").exists(), "the misspelled value is not used");
        assert!(packages(&proj.working_dir(PIPELINE), "normalized").is_empty());
    }
}
