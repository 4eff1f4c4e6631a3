//! Write dispositions on the filesystem: replace removes exactly the replaced table's earlier
//! files (never those of a sibling such as `events` when replacing `event`, whatever the
//! layout), empties child tables and tables that get no rows; append keeps every load; merge
//! falls back to append.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use stevedore_testkit::{CliProject, assert_success, list_files, load_markers, packages, read_json, read_jsonl};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");
const DATASET: &str = "repl_data";
/// Plain jsonl, so rows can be read back here without a Python reader.
const PLAIN: (&str, &str) = ("DATA_WRITER__DISABLE_COMPRESSION", "true");

fn data_files(proj: &CliProject) -> BTreeSet<String> {
    list_files(&proj.dataset_dir(DATASET)).into_iter().filter(|f| !f.starts_with("_dlt_") && f != "init").collect()
}

fn rows_of(proj: &CliProject, files: &BTreeSet<String>) -> Vec<Value> {
    files.iter().flat_map(|f| read_jsonl(&proj.dataset_dir(DATASET).join(f))).collect()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    let mut v: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().expect("id")).collect();
    v.sort();
    v
}

/// Loads `content` into `table` and returns the data files it added.
fn load(proj: &CliProject, pipeline: &str, table: &str, content: &str, extra: &[&str]) -> BTreeSet<String> {
    let before = data_files(proj);
    let file = format!("{table}-{}.jsonl", before.len());
    proj.write(&file, content);
    assert_success(&proj.load(&file, table, pipeline, DATASET, extra, &[PLAIN]), &format!("load {table}"));
    data_files(proj).difference(&before).cloned().collect()
}

fn recs(ids: &[i64]) -> String {
    ids.iter().map(|i| format!("{{\"id\": {i}, \"tags\": [\"t{i}\", \"u{i}\"]}}\n")).collect()
}

/// `event` and `events` (each with a child table) in one dataset; replacing `event` removes
/// exactly `event`'s and `event__tags`' earlier files.
fn check_replace_siblings(layout: Option<&str>, two_pipelines: bool) {
    let proj = CliProject::new(BIN);
    let mut extra: Vec<&str> = Vec::new();
    if let Some(l) = layout {
        extra.extend(["--layout", l]);
    }
    let (p_event, p_events) = if two_pipelines { ("p_one", "p_two") } else { ("repl", "repl") };
    let event_old = load(&proj, p_event, "event", &recs(&[1, 2]), &extra);
    let events_files = load(&proj, p_events, "events", &recs(&[100, 101, 102]), &extra);
    assert!(event_old.len() >= 2 && events_files.len() >= 2, "root and child files: {event_old:?} {events_files:?}");
    assert!(event_old.is_disjoint(&events_files));
    let before = data_files(&proj);

    let mut rextra = extra.clone();
    rextra.extend(["--write-disposition", "replace"]);
    let event_new = load(&proj, p_event, "event", &recs(&[10]), &rextra);
    let after = data_files(&proj);

    let removed: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(removed, event_old, "replace must remove exactly the earlier files of `event` and `event__tags` (layout {layout:?})");
    assert!(events_files.is_subset(&after), "files of `events` must survive (layout {layout:?})");
    assert_eq!(after, events_files.union(&event_new).cloned().collect(), "nothing else is left");
    assert_eq!(rows_of(&proj, &events_files).len(), 3 + 6, "events rows and their tags untouched");
    let new_rows = rows_of(&proj, &event_new);
    assert_eq!(new_rows.iter().filter(|r| r.get("id").is_some()).count(), 1, "one new `event` row");
    assert_eq!(new_rows.iter().filter(|r| r.get("value").is_some()).count(), 2, "two new `event__tags` rows");
    // three loads completed
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 3);
}

#[test]
fn replace_event_keeps_events_default_layout() {
    check_replace_siblings(None, false);
}

#[test]
fn replace_event_keeps_events_default_layout_two_pipelines() {
    check_replace_siblings(None, true);
}

#[test]
fn replace_event_keeps_events_flat_schema_table_layout() {
    check_replace_siblings(Some("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}"), false);
}

#[test]
fn replace_event_keeps_events_flat_schema_table_layout_two_pipelines() {
    check_replace_siblings(Some("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}"), true);
}

#[test]
fn replace_event_keeps_events_flat_digit_separator_layout() {
    check_replace_siblings(Some("{table_name}88{load_id}-u-{file_id}.{ext}"), false);
}

#[test]
fn replace_with_empty_child_list_empties_child_table() {
    let proj = CliProject::new(BIN);
    let rd = ["--write-disposition", "replace"];
    let first = load(
        &proj,
        "repl",
        "orders",
        "{\"id\": 1, \"items\": [{\"sku\": \"a\", \"parts\": [7, 8]}, {\"sku\": \"b\"}]}\n{\"id\": 2, \"items\": [{\"sku\": \"c\"}]}\n",
        &rd,
    );
    assert!(first.iter().any(|f| f.starts_with("orders__items/")), "child files: {first:?}");
    assert!(first.iter().any(|f| f.starts_with("orders__items__parts/")), "grandchild files: {first:?}");
    assert_eq!(rows_of(&proj, &first.iter().filter(|f| f.starts_with("orders__items/")).cloned().collect()).len(), 3);
    let second = load(&proj, "repl", "orders", "{\"id\": 3, \"items\": []}\n", &rd);
    let after = data_files(&proj);
    assert!(first.is_disjoint(&after), "every file of the first load is gone: {after:?}");
    assert!(after.iter().all(|f| !f.starts_with("orders__items")), "child and grandchild tables emptied: {after:?}");
    assert_eq!(after, second);
    assert_eq!(ids(&rows_of(&proj, &after)), vec![3]);
    assert_eq!(load_markers(&proj.dataset_dir(DATASET)).len(), 2);
}

#[test]
fn replace_with_zero_records_empties_table() {
    let proj = CliProject::new(BIN);
    let rd = ["--write-disposition", "replace"];
    let first = load(&proj, "repl", "things", &recs(&[1, 2, 3]), &rd);
    assert!(!first.is_empty());
    let second = load(&proj, "repl", "things", "", &rd);
    assert!(second.is_empty(), "no rows, no files: {second:?}");
    let after = data_files(&proj);
    assert!(after.is_empty(), "table and child table emptied: {after:?}");
    let markers = load_markers(&proj.dataset_dir(DATASET));
    assert_eq!(markers.len(), 2, "the empty replace load completed: {markers:?}");
    let loaded = packages(&proj.working_dir("repl"), "loaded");
    assert_eq!(markers[1].1["load_id"], json!(loaded[1]));
}

#[test]
fn append_keeps_both_loads() {
    let proj = CliProject::new(BIN);
    let first = load(&proj, "repl", "things", &recs(&[1, 2]), &[]);
    let second = load(&proj, "repl", "things", &recs(&[3]), &["--write-disposition", "append"]);
    let after = data_files(&proj);
    assert_eq!(after, first.union(&second).cloned().collect());
    let root: BTreeSet<String> = after.iter().filter(|f| f.starts_with("things/")).cloned().collect();
    assert_eq!(ids(&rows_of(&proj, &root)), vec![1, 2, 3]);
    let loaded = packages(&proj.working_dir("repl"), "loaded");
    assert_eq!(loaded.len(), 2);
    let load_ids: BTreeSet<String> = rows_of(&proj, &root).iter().map(|r| r["_dlt_load_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(load_ids, loaded.into_iter().collect());
}

#[test]
fn merge_falls_back_to_append() {
    let proj = CliProject::new(BIN);
    let m = ["--write-disposition", "merge", "--primary-key", "id"];
    let first = load(&proj, "repl", "things", &recs(&[1, 2]), &m);
    let second = load(&proj, "repl", "things", &recs(&[2, 3]), &m);
    let after = data_files(&proj);
    assert_eq!(after, first.union(&second).cloned().collect(), "merge keeps the first load's files");
    let root: BTreeSet<String> = after.iter().filter(|f| f.starts_with("things/")).cloned().collect();
    assert_eq!(ids(&rows_of(&proj, &root)), vec![1, 2, 2, 3], "rows appended, not deduplicated");
    let schema = read_json(&proj.working_dir("repl").join("schemas").join("repl.schema.json"));
    assert_eq!(schema["tables"]["things"]["write_disposition"], json!("merge"));
    assert_eq!(schema["tables"]["things"]["columns"]["id"]["primary_key"], json!(true));
}
