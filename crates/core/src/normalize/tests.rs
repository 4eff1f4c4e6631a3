use super::*;
use crate::naming::{SnakeCase, digest128, digest128b};
use crate::schema::WriteDisposition;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;

fn run(schema: Schema, table: &str, lines: &[&str]) -> (Schema, CollectSink) {
    let mut sink = CollectSink::default();
    let schema = {
        let mut n = Normalizer::new(schema, Arc::new(SnakeCase::new(None)), "1700000000.1", NormalizerOptions::default(), &mut sink);
        let t = n.root_table(table).unwrap();
        for l in lines {
            n.push(t, &JVal::parse_in(l, &bumpalo::Bump::new()).unwrap()).unwrap();
        }
        n.finish().unwrap().0
    };
    (schema, sink)
}

fn cols(s: &Schema, t: &str) -> Vec<String> {
    s.tables[t].columns.keys().cloned().collect()
}

fn strings(sink: &CollectSink, table: &str, col: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for (t, b) in &sink.batches {
        if t == table {
            let a = b.column_by_name(col).unwrap().as_string::<i32>();
            out.extend(a.iter().map(|x| x.map(String::from)));
        }
    }
    out
}

/// A schema whose table `t` is merged with `upsert` on primary key `id`.
fn upsert_schema() -> Schema {
    let mut schema = Schema::new("s");
    let mut t = Table::new("t");
    t.write_disposition = Some(WriteDisposition::Merge);
    t.extra.insert("x-merge-strategy".into(), serde_json::json!("upsert"));
    t.add_column(Column::incomplete("id").hint("primary_key"));
    schema.update_table(t).unwrap();
    schema
}

#[test]
fn flattens_like_dlt_order_and_names() {
    let (s, sink) = run(
        Schema::new("s"),
        "Events",
        &[r#"{"id": 1, "Actor": {"Login": "a", "ID": 2}, "repo": {"name": "r"}, "public": true, "tags": ["x", "y"]}"#],
    );
    // scalars first, then nested objects last-in first-out (dlt's stack), then system columns
    assert_eq!(cols(&s, "events"), vec!["id", "public", "repo__name", "actor__login", "actor__id", "_dlt_load_id", "_dlt_id"]);
    assert_eq!(cols(&s, "events__tags"), vec!["value", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id"]);
    assert_eq!(s.tables["events__tags"].parent.as_deref(), Some("events"));
    assert_eq!(sink.rows("events"), 1);
    assert_eq!(sink.rows("events__tags"), 2);
    let id = &s.tables["events"].columns["_dlt_id"];
    assert!(!id.nullable && id.hints.unique && id.hints.row_key);
    assert!(s.tables["events__tags"].columns["_dlt_parent_id"].hints.parent_key);
    assert!(s.tables["events"].seen_data());
}

/// Under a random root id, nested rows get fresh random ids of dlt's shape: unique,
/// 14 base64 characters, and not the hash of the parent id (which would be as random).
#[test]
fn child_ids_under_a_random_root_are_random() {
    let lines: Vec<String> = (0..200).map(|i| format!(r#"{{"i": {i}, "items": [{{"x": 1, "deep": [1, 2]}}, {{"x": 2}}]}}"#)).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (_, sink) = run(Schema::new("s"), "t", &lines);
    let roots = strings(&sink, "t", "_dlt_id");
    let ids = strings(&sink, "t__items", "_dlt_id");
    let deep = strings(&sink, "t__items__deep", "_dlt_id");
    assert_eq!((roots.len(), ids.len(), deep.len()), (200, 400, 400));
    let mut all: Vec<&str> = roots.iter().chain(&ids).chain(&deep).map(|x| x.as_deref().unwrap()).collect();
    for id in &all {
        assert_eq!(id.len(), 14, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'), "{id}");
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 1000, "row ids are unique across tables");
    assert_ne!(ids[0].as_deref(), Some(digest128(&format!("{}_t__items_0", roots[0].as_deref().unwrap()), 10).as_str()));
    // the parent links still hold
    let parents = strings(&sink, "t__items", "_dlt_parent_id");
    assert_eq!(parents[0], roots[0]);
    assert_eq!(parents[1], roots[0]);
    assert_eq!(strings(&sink, "t__items__deep", "_dlt_parent_id")[1], ids[0]);
}

/// Under a root id that follows from the data (upsert's key hash here), every nested
/// level gets dlt's `digest128(f"{parent}_{table}_{idx}", 10)`, so two loads of the same
/// record give the same ids.
#[test]
fn child_ids_under_a_key_hash_root_are_dlts_deterministic_hash() {
    let schema = upsert_schema();
    let line = r#"{"id": 7, "items": [{"x": 1}, {"x": 2, "deep": ["a", "b"]}]}"#;
    let (_, sink) = run(schema.clone(), "t", &[line]);
    let (_, again) = run(schema, "t", &[line]);
    let parent = strings(&sink, "t", "_dlt_id")[0].clone().unwrap();
    let ids = strings(&sink, "t__items", "_dlt_id");
    assert_eq!(ids[0].as_deref(), Some(digest128(&format!("{parent}_t__items_0"), 10).as_str()));
    assert_eq!(ids[1].as_deref(), Some(digest128(&format!("{parent}_t__items_1"), 10).as_str()));
    let item1 = ids[1].clone().unwrap();
    let deep = strings(&sink, "t__items__deep", "_dlt_id");
    assert_eq!(deep[1].as_deref(), Some(digest128(&format!("{item1}_t__items__deep_1"), 10).as_str()));
    assert_eq!(ids, strings(&again, "t__items", "_dlt_id"));
    assert_eq!(deep, strings(&again, "t__items__deep", "_dlt_id"));
}

/// A `_dlt_id` given in a nested record makes that row's children deterministic even
/// under a random root.
#[test]
fn child_ids_under_a_given_id_are_hashed() {
    let (_, sink) = run(Schema::new("s"), "t", &[r#"{"items": [{"_dlt_id": "given", "deep": [1]}, {"deep": [2]}]}"#]);
    let deep = strings(&sink, "t__items__deep", "_dlt_id");
    assert_eq!(deep[0].as_deref(), Some(digest128("given_t__items__deep_0", 10).as_str()));
    assert_ne!(deep[1].as_deref(), None);
}

#[test]
fn variants_for_values_that_do_not_fit() {
    let (s, sink) = run(
        Schema::new("s"),
        "t",
        &[r#"{"a": 1, "b": "2024-01-01T00:00:00Z"}"#, r#"{"a": "x", "b": "not a date"}"#, r#"{"a": "7", "b": true}"#],
    );
    assert_eq!(s.tables["t"].columns["a"].data_type, Some(DataType::Bigint));
    assert_eq!(s.tables["t"].columns["b"].data_type, Some(DataType::Timestamp));
    let v = &s.tables["t"].columns["a__v_text"];
    assert!(v.hints.variant);
    assert_eq!(v.data_type, Some(DataType::Text));
    assert!(s.tables["t"].columns.contains_key("b__v_text"));
    assert!(s.tables["t"].columns.contains_key("b__v_bool"));
    // "7" coerces into the bigint column
    let batch = &sink.batches[0].1;
    let a = batch.column_by_name("a").unwrap().as_primitive::<Int64Type>();
    assert_eq!(a.iter().collect::<Vec<_>>(), vec![Some(1), None, Some(7)]);
}

#[test]
fn bool_into_bigint_is_a_variant() {
    let (s, _) = run(Schema::new("s"), "t", &[r#"{"a": 1}"#, r#"{"a": true}"#]);
    assert!(s.tables["t"].columns.contains_key("a__v_bool"));
}

#[test]
fn null_only_columns_are_not_created() {
    let (s, sink) = run(Schema::new("s"), "t", &[r#"{"a": null, "b": 1}"#, r#"{"a": null, "b": 2}"#]);
    assert!(!s.tables["t"].columns.contains_key("a"));
    // a column that gets a value later is created then, earlier rows are null
    let (s, sink2) = run(Schema::new("s"), "t", &[r#"{"a": null, "b": 1}"#, r#"{"a": "v", "b": 2}"#]);
    assert_eq!(s.tables["t"].columns["a"].data_type, Some(DataType::Text));
    assert_eq!(strings(&sink2, "t", "a"), vec![None, Some("v".into())]);
    assert_eq!(sink.rows("t"), 2);
}

#[test]
fn list_of_lists_and_scalars() {
    let (s, sink) = run(Schema::new("s"), "t", &[r#"{"webpath": [[{"a": 1}, 2], [3]]}"#]);
    assert!(s.tables.contains_key("t__webpath"));
    assert!(s.tables.contains_key("t__webpath__list"));
    assert_eq!(sink.rows("t__webpath"), 2);
    assert_eq!(sink.rows("t__webpath__list"), 3);
    assert_eq!(s.tables["t__webpath__list"].parent.as_deref(), Some("t__webpath"));
}

#[test]
fn max_nesting_keeps_json() {
    let mut schema = Schema::new("s");
    schema.normalizer_config.insert("max_nesting".into(), serde_json::json!(1));
    let (s, sink) = run(schema, "t", &[r#"{"a": {"b": {"c": 1}}, "l": [{"x": [1]}]}"#]);
    assert_eq!(s.tables["t"].columns["a__b"].data_type, Some(DataType::Json));
    assert_eq!(strings(&sink, "t", "a__b"), vec![Some(r#"{"c":1}"#.into())]);
    assert_eq!(s.tables["t__l"].columns["x"].data_type, Some(DataType::Json));
}

#[test]
fn empty_keys_and_scalars_at_root() {
    let (s, _) = run(Schema::new("s"), "t", &[r#"{"": 1, "b": {"": 2}}"#, r#"5"#]);
    assert!(s.tables["t"].columns.contains_key("_empty"));
    assert!(s.tables["t"].columns.contains_key("b___empty"));
    assert!(s.tables["t"].columns.contains_key("value"));
}

#[test]
fn upsert_uses_key_hash_and_root_key() {
    let schema = upsert_schema();
    let (s, sink) = run(schema.clone(), "t", &[r#"{"id": 1, "c": [1]}"#]);
    let (_, sink2) = run(schema, "t", &[r#"{"id": 1, "c": [2]}"#]);
    let a = strings(&sink, "t", "_dlt_id");
    assert_eq!(a, strings(&sink2, "t", "_dlt_id"), "key hash is deterministic");
    assert_eq!(a[0].as_deref(), Some(digest128b(br#"{"id":1}"#, 10).as_str()));
    assert!(s.tables["t__c"].columns["_dlt_root_id"].hints.root_key);
    assert_eq!(strings(&sink, "t__c", "_dlt_root_id"), a);
    assert!(s.tables["t"].columns["id"].hints.primary_key);
}

#[test]
fn not_null_violations_name_table_and_column() {
    let mut schema = Schema::new("s");
    let mut t = Table::new("t");
    t.add_column(Column::new("id", DataType::Bigint).not_null());
    schema.update_table(t).unwrap();
    let mut sink = CollectSink::default();
    let mut n = Normalizer::new(schema, Arc::new(SnakeCase::new(None)), "1", NormalizerOptions::default(), &mut sink);
    let t = n.root_table("t").unwrap();
    n.set_origin("in.jsonl", 3);
    let e = n.push(t, &JVal::parse_in(r#"{"x": 1}"#, &bumpalo::Bump::new()).unwrap()).unwrap_err();
    assert_eq!(e.context_value("column"), Some("id"));
    assert_eq!(e.context_value("line"), Some("3"));
    let e = n.push(t, &JVal::parse_in(r#"{"id": null}"#, &bumpalo::Bump::new()).unwrap()).unwrap_err();
    assert_eq!(e.context_value("table"), Some("t"));
}

#[test]
fn batches_rotate_by_rows_and_schema_grows() {
    let mut sink = CollectSink::default();
    let opts = NormalizerOptions { batch_rows: 2, ..Default::default() };
    let mut n = Normalizer::new(Schema::new("s"), Arc::new(SnakeCase::new(None)), "1", opts, &mut sink);
    let t = n.root_table("t").unwrap();
    for l in [r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3,"b":"x"}"#] {
        n.push(t, &JVal::parse_in(l, &bumpalo::Bump::new()).unwrap()).unwrap();
    }
    n.finish().unwrap();
    assert_eq!(sink.batches.len(), 2);
    assert_eq!(sink.batches[0].1.num_columns() + 1, sink.batches[1].1.num_columns());
}

#[test]
fn arrow_passthrough_adds_system_columns() {
    use arrow_array::Int32Array;
    let b = RecordBatch::try_new(
        Arc::new(ArrowSchema::new(vec![Field::new("Some Id", ArrowType::Int32, true)])),
        vec![Arc::new(Int32Array::from(vec![1, 2]))],
    )
    .unwrap();
    let mut sink = CollectSink::default();
    let mut n = Normalizer::new(Schema::new("s"), Arc::new(SnakeCase::new(None)), "9", NormalizerOptions::default(), &mut sink);
    let t = n.root_table("t").unwrap();
    n.push_arrow(t, &b).unwrap();
    let (s, _) = n.finish().unwrap();
    assert_eq!(cols(&s, "t"), vec!["some_id", "_dlt_load_id", "_dlt_id"]);
    let out = &sink.batches[0].1;
    assert_eq!(out.column(0).data_type(), &ArrowType::Int64);
    assert_eq!(strings(&sink, "t", "_dlt_load_id"), vec![Some("9".into()), Some("9".into())]);
}

#[test]
fn push_decimal_writes_like_display() {
    for n in [0usize, 7, 10, 99, 100, 12345, usize::MAX] {
        let mut s = String::from("x_");
        super::push_decimal(&mut s, n);
        assert_eq!(s, format!("x_{n}"));
    }
}

/// Child row ids equal what Python computes for dlt's formula
/// (`base64(shake_128(f"{parent}_{table}_{idx}").digest(10))`, padding stripped).
#[test]
fn child_ids_equal_pythons_shake128() {
    let items: Vec<String> = (0..13).map(|i| i.to_string()).collect();
    let line = format!(r#"{{"_dlt_id": "root1", "tags": [{}]}}"#, items.join(","));
    let (_, sink) = run(Schema::new("s"), "items", &[line.as_str()]);
    let ids = strings(&sink, "items__tags", "_dlt_id");
    // python3 -c 'import hashlib,base64; print(base64.b64encode(hashlib.shake_128(b"root1_items__tags_0").digest(10)))'
    assert_eq!(ids[0].as_deref(), Some("AyAxfxYjKEUSDg"));
    assert_eq!(ids[1].as_deref(), Some("O1puH0balTwqyQ"));
    assert_eq!(ids[12].as_deref(), Some("zSWsCxaD5y/fEA"));
}

/// `same_key` agrees with slice equality for every length around its word boundaries,
/// for equal keys and for keys differing in any single byte.
#[test]
fn same_key_matches_slice_equality() {
    for n in 0..=40usize {
        let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        assert!(same_key(&a, &a.clone()), "equal keys of length {n}");
        for i in 0..n {
            let mut b = a.clone();
            b[i] ^= 0x20;
            assert!(!same_key(&a, &b), "length {n}, byte {i} differs");
        }
        let mut longer = a.clone();
        longer.push(b'z');
        assert!(!same_key(&a, &longer) && !same_key(&longer, &a), "lengths {n} and {}", n + 1);
    }
}

/// Like [`run`], with each line pushed as a data item (a list is a batch); also returns the
/// records counted and the warnings.
fn run_items(table: &str, lines: &[&str]) -> (Schema, CollectSink, u64, Vec<NormalizeWarning>) {
    let mut sink = CollectSink::default();
    let (schema, records, warnings) = {
        let mut n =
            Normalizer::new(Schema::new("s"), Arc::new(SnakeCase::new(None)), "1700000000.1", NormalizerOptions::default(), &mut sink);
        let t = n.root_table(table).unwrap();
        let mut records = 0;
        for l in lines {
            records += n.push_item(t, &JVal::parse_in(l, &bumpalo::Bump::new()).unwrap()).unwrap();
        }
        let warnings = n.take_warnings();
        (n.finish().unwrap().0, records, warnings)
    };
    (schema, sink, records, warnings)
}

fn ints(sink: &CollectSink, table: &str, col: &str) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for (t, b) in &sink.batches {
        if t == table {
            out.extend(b.column_by_name(col).unwrap().as_primitive::<Int64Type>().iter());
        }
    }
    out
}

/// A list is a batch of records, as dlt takes a list a resource yields: each element a root
/// row, `[]` none, an element that is not an object `{"value": element}` (a nested list too).
#[test]
fn a_list_item_is_a_batch_of_records() {
    let (s, sink, records, _) = run_items("t", &[r#"[{"a": 1}, {"a": 2, "l": [7]}]"#, "[]", r#"{"a": 3}"#, r#"[4, "x", [5, 6]]"#, "9"]);
    assert_eq!(records, 7, "2 + none + 1 + 3 + 1");
    assert_eq!(sink.rows("t"), 7);
    assert_eq!(ints(&sink, "t", "a"), vec![Some(1), Some(2), Some(3), None, None, None, None]);
    assert_eq!(ints(&sink, "t", "value"), vec![None, None, None, Some(4), None, None, Some(9)]);
    assert_eq!(strings(&sink, "t", "value__v_text"), vec![None, None, None, None, Some("x".into()), None, None]);
    // the nested list of the element `[5, 6]` is a nested table, as dlt makes of {"value": [5, 6]}
    assert_eq!(ints(&sink, "t__value", "value"), vec![Some(5), Some(6)]);
    assert_eq!(ints(&sink, "t__l", "value"), vec![Some(7)]);
    assert!(!s.tables["t"].columns.contains_key("list"));
}

/// Keys that normalize to the same column keep the last value, where the first put the
/// column (dlt's dict assignment), and are reported once per table and column.
#[test]
fn colliding_keys_keep_the_last_value_and_warn_once() {
    let (s, sink, _, warnings) = run_items(
        "t",
        &[
            r#"{"x": 0, "A b": 1, "y": 2, "a_b": 3, "aB": 4}"#,
            r#"{"x": 0, "a_b": 5, "A b": 6}"#,
            r#"{"x": 0, "A b": 7, "a_b": null}"#,
            r#"{"x": 0, "a_b": 8}"#,
            r#"{"x": 0, "A b": 9}"#,
        ],
    );
    assert_eq!(cols(&s, "t"), vec!["x", "a_b", "y", "_dlt_load_id", "_dlt_id"]);
    assert_eq!(ints(&sink, "t", "a_b"), vec![Some(4), Some(6), None, Some(8), Some(9)]);
    assert_eq!(
        warnings,
        vec![NormalizeWarning::KeyCollision {
            table: "t".into(),
            column: "a_b".into(),
            keys: vec!["A b".into(), "a_b".into(), "aB".into()],
        }]
    );
    let msg = warnings[0].to_string();
    assert!(msg.contains("`A b`, `a_b`, `aB`") && msg.contains("column `a_b`") && msg.contains("last value is kept"), "{msg}");

    // the last value also decides a new column's type, and a value that does not fit goes to
    // a variant without the dropped one leaving a trace
    let (s, sink, _, _) = run_items("t", &[r#"{"A b": 1, "a_b": "s"}"#, r#"{"a_b": "u", "A b": 2}"#]);
    assert_eq!(s.tables["t"].columns["a_b"].data_type, Some(DataType::Text));
    assert_eq!(strings(&sink, "t", "a_b"), vec![Some("s".into()), Some("2".into())]);
    assert!(!s.tables["t"].columns.contains_key("a_b__v_bigint"));
}

/// dlt flattens nested objects after their parent's keys (last in, first out), so the value
/// of a nested key comes after a top-level key of the same name and wins.
#[test]
fn colliding_nested_and_top_level_keys_follow_dlts_order() {
    let (_, sink, _, warnings) = run_items("t", &[r#"{"a": {"b": 1}, "a__b": 2}"#]);
    assert_eq!(ints(&sink, "t", "a__b"), vec![Some(1)]);
    assert_eq!(
        warnings,
        vec![NormalizeWarning::KeyCollision { table: "t".into(), column: "a__b".into(), keys: vec!["a__b".into(), "a.b".into()] }]
    );
}

/// Collisions are per table: the same keys in a nested table are reported for it too; lists
/// that would fill the same nested table keep the last list.
#[test]
fn collisions_in_nested_tables_and_lists() {
    let (_, sink, _, warnings) = run_items(
        "t",
        &[
            r#"{"items": [{"A b": 1, "a_b": 2}, {"a_b": 3, "A b": 4}], "A b": 5, "a_b": 6}"#,
            r#"{"x_y": [1, 2], "X y": [3]}"#,
            r#"{"X y": [4], "x_y": [5, 6]}"#,
        ],
    );
    assert_eq!(ints(&sink, "t__items", "a_b"), vec![Some(2), Some(4)]);
    assert_eq!(ints(&sink, "t", "a_b"), vec![Some(6), None, None]);
    assert_eq!(ints(&sink, "t__x_y", "value"), vec![Some(3), Some(5), Some(6)]);
    let list_idx: Vec<Option<i64>> = ints(&sink, "t__x_y", "_dlt_list_idx");
    assert_eq!(list_idx, vec![Some(0), Some(0), Some(1)]);
    let mut got: Vec<(String, String)> = warnings
        .iter()
        .map(|w| match w {
            NormalizeWarning::KeyCollision { table, column, .. } => (table.clone(), column.clone()),
            NormalizeWarning::ListCollision { table, nested_table, .. } => (table.clone(), nested_table.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    got.sort();
    assert_eq!(got, vec![("t".into(), "a_b".into()), ("t".into(), "t__x_y".into()), ("t__items".into(), "a_b".into())]);
}

/// A key repeated within one object keeps its first value, with a warning (dlt would keep
/// the last; telling it needs a check per value).
#[test]
fn a_repeated_key_keeps_the_first_value_with_a_warning() {
    let (_, sink, _, warnings) = run_items("t", &[r#"{"a": 1, "a": 2}"#, r#"{"a": 3, "a": 4}"#]);
    assert_eq!(ints(&sink, "t", "a"), vec![Some(1), Some(3)]);
    assert_eq!(warnings, vec![NormalizeWarning::RepeatedValue { table: "t".into(), column: "a".into(), key: "a".into() }]);
}

/// No collision, no warning, and no collision check per row (nothing is flagged).
#[test]
fn distinct_keys_give_no_warning() {
    let (_, sink, _, warnings) = run_items("t", &[r#"{"a": 1, "b": {"a": 2}, "l": [{"a": 3}]}"#]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(ints(&sink, "t", "b__a"), vec![Some(2)]);
}
