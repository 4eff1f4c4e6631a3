//! The library API through the `stevedore` facade: pipelines built in code, resources from JSON
//! values, `Serialize` structs and Arrow batches, LoadInfo, schema evolution, hints, the
//! pipeline state file, and a layout with a callback placeholder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};
use stevedore::filesystem::{ExtraPlaceholder, Filesystem};
use stevedore::{Config, FileFormat, Pipeline, Resource, Source, WriteDisposition};
use stevedore_testkit::{list_files, parquet_stats, python, read_json, run_python};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env { dir: tempfile::Builder::new().prefix("stevedore-lib-").tempdir().unwrap() }
    }
    fn bucket(&self) -> PathBuf {
        self.dir.path().join("bucket")
    }
    fn pipelines(&self) -> PathBuf {
        self.dir.path().join("pipelines")
    }
    fn dataset_dir(&self, dataset: &str) -> PathBuf {
        self.bucket().join(dataset)
    }
    fn pipeline_with(&self, name: &str, fs: Filesystem, format: Option<FileFormat>) -> Pipeline {
        let mut b = Pipeline::builder(name).destination(Arc::new(fs)).pipelines_dir(self.pipelines()).config(Config::empty());
        if let Some(f) = format {
            b = b.loader_file_format(f);
        }
        b.build().expect("build pipeline")
    }
    fn pipeline(&self, name: &str, format: Option<FileFormat>) -> Pipeline {
        let fs = Filesystem::builder().bucket_url(&self.bucket().display().to_string()).build().expect("filesystem");
        self.pipeline_with(name, fs, format)
    }
}

#[derive(Serialize)]
struct Line {
    sku: String,
    qty: i64,
}

#[derive(Serialize)]
struct Order {
    id: i64,
    customer: String,
    lines: Vec<Line>,
}

fn orders() -> Vec<Order> {
    (1..=4)
        .map(|i| Order { id: i, customer: format!("c{i}"), lines: (0..i).map(|j| Line { sku: format!("s{i}-{j}"), qty: j }).collect() })
        .collect()
}

fn metrics_batch() -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(vec![10, 11, 12])) as ArrayRef),
        ("name", Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef),
        ("value", Arc::new(Float64Array::from(vec![1.5, 2.5, 3.5])) as ArrayRef),
    ])
    .unwrap()
}

#[tokio::test]
async fn values_serialize_and_arrow_resources_load_with_load_info() {
    let env = Env::new();
    let p = env.pipeline("lib", Some(FileFormat::Parquet));
    assert_eq!(p.dataset_name(), "lib_dataset", "default dataset name");
    let people = vec![json!({"id": 1, "name": "ann"}), json!({"id": 2, "name": "bob", "tags": ["x", "y", "z"]})];
    let orders = orders();
    let n_lines: u64 = orders.iter().map(|o| o.lines.len() as u64).sum();
    let n_orders = orders.len() as u64;
    let batch = metrics_batch();
    let source: Source = vec![
        Resource::from_values("people", people.clone()),
        Resource::from_serialize("orders", orders),
        Resource::from_arrow("metrics", vec![batch.clone()]),
    ]
    .into();
    let info = p.run(source).await.expect("run");

    assert_eq!(info.packages.len(), 1);
    assert_eq!(info.packages[0].status, stevedore::package::PackageStatus::Loaded);
    let lid = info.load_ids()[0].to_string();
    assert_eq!(info.records, people.len() as u64 + n_orders + batch.num_rows() as u64);
    let rows = |t: &str| info.tables.get(t).map(|m| m.rows).unwrap_or(0);
    assert_eq!(rows("people"), 2);
    assert_eq!(rows("people__tags"), 3);
    assert_eq!(rows("orders"), n_orders);
    assert_eq!(rows("orders__lines"), n_lines);
    assert_eq!(rows("metrics"), batch.num_rows() as u64);
    assert!(info.tables.values().all(|m| m.rows == 0 || (m.files >= 1 && m.bytes > 0)), "{:?}", info.tables);
    assert_eq!(info.dataset_name, "lib_dataset");

    // the schema knows the child tables
    let schema = p.schema().unwrap().expect("stored schema");
    assert_eq!(schema.table("orders__lines").unwrap().parent.as_deref(), Some("orders"));
    assert_eq!(schema.table("people__tags").unwrap().parent.as_deref(), Some("people"));
    let metrics_cols: Vec<&str> = schema.table("metrics").unwrap().columns.keys().map(String::as_str).collect();
    assert_eq!(metrics_cols, ["id", "name", "value", "_dlt_load_id", "_dlt_id"]);

    let Some(py) = python() else { return };
    let ds = env.dataset_dir("lib_dataset");
    let got = parquet_stats(&py, &ds, &["people", "people__tags", "orders", "orders__lines", "metrics"]);
    for (t, n) in [("people", 2), ("people__tags", 3), ("orders", n_orders), ("orders__lines", n_lines), ("metrics", 3)] {
        assert_eq!(got[t]["rows"], json!(n), "pyarrow rows of {t}");
        assert_eq!(got[t]["distinct_dlt_id"], json!(n), "{t}: unique _dlt_id");
        assert_eq!(got[t]["null_dlt_id"], json!(0));
    }
    for t in ["people", "orders", "metrics"] {
        assert_eq!(got[t]["by_load_id"], json!({ lid.clone(): rows(t) }), "{t}: _dlt_load_id");
    }
    // the arrow data passed through unchanged
    let script = r#"
import sys, json, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet").to_table().sort_by("id")
print(json.dumps({c: t.column(c).to_pylist() for c in ["id", "name", "value"]}))
"#;
    let vals = run_python(&py, script, &[&ds.join("metrics").display().to_string()]);
    assert_eq!(vals, json!({"id": [10, 11, 12], "name": ["a", null, "c"], "value": [1.5, 2.5, 3.5]}));
}

const PY_ITEMS: &str = r#"
import sys, json, os
import pyarrow as pa, pyarrow.parquet as pq
folder = sys.argv[1]
files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
tables = [pq.read_table(f) for f in files]
schema = pa.unify_schemas([t.schema for t in tables])
t = pa.concat_tables(tables, promote_options="default")
rows = sorted(t.to_pylist(), key=lambda r: r["id"])
print(json.dumps({"columns": schema.names, "types": {f.name: str(f.type) for f in schema},
                  "rows": [{k: r.get(k) for k in ["id", "x", "x__v_text", "flag"]} for r in rows]}))
"#;

#[tokio::test]
async fn schema_evolves_across_runs_and_pyarrow_reads_it() {
    let env = Env::new();
    let p = env.pipeline("evo", Some(FileFormat::Parquet));
    p.run(Resource::from_values("items", vec![json!({"id": 1, "x": 5}), json!({"id": 2, "x": 6, "flag": null})])).await.expect("run 1");
    let s1 = p.schema().unwrap().unwrap();
    let t1 = s1.table("items").unwrap();
    assert!(t1.columns.contains_key("x"));
    assert!(!t1.columns.contains_key("flag"), "a column seen only as null is not created");
    assert!(s1.table("items__tags").is_none());

    p.run(Resource::from_values("items", vec![json!({"id": 3, "x": "seven", "flag": true, "tags": ["a", "b"]})])).await.expect("run 2");
    let s2 = p.schema().unwrap().unwrap();
    let t2 = s2.table("items").unwrap();
    let cols: Vec<&str> = t2.columns.keys().map(String::as_str).collect();
    for c in ["id", "x", "_dlt_load_id", "_dlt_id", "flag", "x__v_text"] {
        assert!(cols.contains(&c), "column {c} in {cols:?}");
    }
    assert_eq!(t2.columns["x"].data_type, Some(stevedore::DataType::Bigint), "the first type stays");
    assert_eq!(t2.columns["x__v_text"].data_type, Some(stevedore::DataType::Text));
    assert!(t2.columns["x__v_text"].hints.variant, "x__v_text is a variant column");
    assert_eq!(t2.columns["flag"].data_type, Some(stevedore::DataType::Bool));
    assert_eq!(s2.table("items__tags").unwrap().parent.as_deref(), Some("items"));
    assert!(s2.version > s1.version, "version bumped: {} -> {}", s1.version, s2.version);
    assert_ne!(s2.version_hash, s1.version_hash);
    // the stored schema as other tools see it
    let stored = stevedore::pipeline::stored_schema(&env.pipelines(), "evo").unwrap().unwrap();
    assert_eq!(stored.version_hash, s2.version_hash);
    let yaml = stored.to_yaml();
    assert!(yaml.contains("x__v_text:") && yaml.contains("variant: true"), "{yaml}");

    let Some(py) = python() else { return };
    let got = run_python(&py, PY_ITEMS, &[&env.dataset_dir("evo_dataset").join("items").display().to_string()]);
    assert_eq!(got["types"]["x"], json!("int64"));
    assert_eq!(got["types"]["x__v_text"], json!("string"));
    assert_eq!(got["types"]["flag"], json!("bool"));
    assert_eq!(
        got["rows"],
        json!([
            {"id": 1, "x": 5, "x__v_text": null, "flag": null},
            {"id": 2, "x": 6, "x__v_text": null, "flag": null},
            {"id": 3, "x": null, "x__v_text": "seven", "flag": true},
        ])
    );
    let tags = parquet_stats(&py, &env.dataset_dir("evo_dataset"), &["items__tags"]);
    assert_eq!(tags["items__tags"]["rows"], json!(2));
}

#[tokio::test]
async fn primary_key_and_merge_disposition_become_schema_hints() {
    let env = Env::new();
    let p = env.pipeline("keys", None);
    let r = Resource::from_values("users", vec![json!({"user_id": 1, "name": "a"}), json!({"user_id": 2, "name": "b"})])
        .with_primary_key(["user_id"])
        .with_write_disposition(WriteDisposition::Merge);
    let info = p.run(r).await.expect("run");
    assert_eq!(info.tables["users"].rows, 2);
    let schema = p.schema().unwrap().unwrap();
    let t = schema.table("users").unwrap();
    assert_eq!(t.write_disposition, Some(WriteDisposition::Merge));
    assert!(t.columns["user_id"].hints.primary_key);
    assert!(!t.columns["user_id"].nullable, "primary key columns are not null");
    assert!(!t.columns["name"].hints.primary_key);
    let v = schema.to_value();
    assert_eq!(v["tables"]["users"]["columns"]["user_id"]["primary_key"], json!(true));
    assert_eq!(v["tables"]["users"]["write_disposition"], json!("merge"));
}

/// `(file name, row)` of the only state file in the dataset.
fn state_file(dataset: &Path) -> (String, Value) {
    let files: Vec<String> = list_files(&dataset.join("_dlt_pipeline_state")).into_iter().collect();
    assert_eq!(files.len(), 1, "one state file: {files:?}");
    let row = read_json(&dataset.join("_dlt_pipeline_state").join(&files[0]));
    (files[0].clone(), row)
}

#[tokio::test]
async fn pipeline_state_file_is_written_and_decompresses() {
    let env = Env::new();
    let p = env.pipeline("stateful", None);
    let info = p.run(Resource::from_values("t", vec![json!({"a": 1})])).await.expect("run");
    let lid = info.load_ids()[0].to_string();
    let (name, row) = state_file(&env.dataset_dir("stateful_dataset"));
    let prefix = format!("stateful__{lid}__");
    assert!(name.starts_with(&prefix) && name.ends_with(".jsonl"), "state file name {name}");
    let hex = &name[prefix.len()..name.len() - ".jsonl".len()];
    assert!(!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()), "hex in {name}");
    assert_eq!(row["_dlt_load_id"], json!(lid));
    assert_eq!(row["pipeline_name"], json!("stateful"));
    let doc = stevedore::state::decompress_state(row["state"].as_str().expect("state")).expect("decompress");
    assert_eq!(doc["pipeline_name"], json!("stateful"));
    assert_eq!(doc["dataset_name"], json!("stateful_dataset"));
    assert!(doc.get("_local").is_none(), "local state is not synced");
}

/// dlt 1.31 names the file `<pipeline>__<load_id>__<hex of the schema's stored version_hash>.jsonl`
/// (`FilesystemClient._store_current_state` passes `self.schema.stored_version_hash`), the same
/// hash the `_dlt_loads` marker carries as `schema_version_hash`.
#[tokio::test]
async fn pipeline_state_file_name_carries_the_schema_version_hash() {
    let env = Env::new();
    let p = env.pipeline("stateful", None);
    p.run(Resource::from_values("t", vec![json!({"a": 1})])).await.expect("run");
    let dataset = env.dataset_dir("stateful_dataset");
    let (name, _) = state_file(&dataset);
    let markers = stevedore_testkit::load_markers(&dataset);
    assert_eq!(markers.len(), 1);
    let hash = markers[0].1["schema_version_hash"].as_str().expect("schema_version_hash").to_string();
    assert_eq!(hash, p.schema().unwrap().unwrap().version_hash);
    let bytes = base64::engine::general_purpose::STANDARD.decode(&hash).expect("base64 version_hash");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert!(name.ends_with(&format!("__{hex}.jsonl")), "state file `{name}` should end with the hex of `{hash}` ({hex})");
}

#[tokio::test]
async fn callback_extra_placeholder_renders_every_path() {
    let env = Env::new();
    let calls: Arc<Mutex<Vec<[String; 5]>>> = Arc::default();
    let c2 = calls.clone();
    let fs = Filesystem::builder()
        .bucket_url(&format!("file://{}", env.bucket().display()))
        .layout("{table_name}/{who}/{load_id}.{file_id}.{ext}")
        .extra_placeholder(
            "who",
            ExtraPlaceholder::callback(move |schema, table, load_id, file_id, ext| {
                c2.lock().unwrap().push([schema, table, load_id, file_id, ext].map(String::from));
                format!("{schema}-{table}-{}", ext.replace('.', "_"))
            }),
        )
        .build()
        .expect("filesystem");
    let p = env.pipeline_with("cb", fs, None);
    let info =
        p.run(Resource::from_values("things", vec![json!({"id": 1, "parts": [1, 2]}), json!({"id": 2, "parts": [3]})])).await.expect("run");
    let lid = info.load_ids()[0].to_string();
    // expected paths from the jobs the loader reports (`<table>.<file_id>.<ext>`)
    let mut expected = BTreeSet::new();
    for j in &info.packages[0].jobs {
        if j.table.starts_with("_dlt") || j.state != "completed" {
            continue;
        }
        let (table, rest) = j.job_id.split_once('.').unwrap();
        let (file_id, ext) = rest.split_once('.').unwrap();
        expected.insert(format!("{table}/cb-{table}-{}/{lid}.{file_id}.{ext}", ext.replace('.', "_")));
    }
    assert_eq!(expected.len(), 2, "a root and a child job: {:?}", info.packages[0].jobs);
    let got: BTreeSet<String> =
        list_files(&env.dataset_dir("cb_dataset")).into_iter().filter(|f| !f.starts_with("_dlt_") && f != "init").collect();
    assert_eq!(got, expected);
    let calls = calls.lock().unwrap();
    assert!(calls.len() >= expected.len(), "the callback runs for every file: {calls:?}");
    for [schema, table, load_id, file_id, ext] in calls.iter() {
        assert_eq!(schema, "cb");
        assert_eq!(load_id, &lid);
        let path = format!("{table}/cb-{table}-{}/{lid}.{file_id}.{ext}", ext.replace('.', "_"));
        assert!(expected.contains(&path), "callback args give a written path: {path}");
    }
}

/// A pipeline writing plain JSON lines with `workers` normalizer threads, for reading rows back.
fn plain_jsonl_pipeline(env: &Env, name: &str, workers: i64) -> Pipeline {
    let mut config = Config::empty();
    config.set_explicit("data_writer.disable_compression", toml::Value::Boolean(true));
    config.set_explicit("normalize.workers", toml::Value::Integer(workers));
    let fs = Filesystem::builder().bucket_url(&env.bucket().display().to_string()).build().expect("filesystem");
    Pipeline::builder(name)
        .destination(Arc::new(fs))
        .pipelines_dir(env.pipelines())
        .config(config)
        .loader_file_format(FileFormat::Jsonl)
        .build()
        .expect("build pipeline")
}

/// The rows of a loaded table without the system columns, sorted by `id`, then their JSON text.
fn loaded_rows(env: &Env, dataset: &str, table: &str) -> Vec<Value> {
    let dir = env.dataset_dir(dataset).join(table);
    let mut rows: Vec<Value> = list_files(&dir)
        .iter()
        .flat_map(|f| stevedore_testkit::read_jsonl(&dir.join(f)))
        .map(|mut r| {
            r.as_object_mut().unwrap().retain(|k, _| !k.starts_with("_dlt"));
            r
        })
        .collect();
    rows.sort_by_key(|r| (r["id"].as_i64(), r.to_string()));
    rows
}

/// What dlt makes of a list a resource yields, for JSON lines and `.json` documents: a JSON
/// array on a line is a batch of records (`[]` none, a scalar element `{"value": x}`); a
/// `.json` file holds one array (pretty-printed or not), one object, or JSON lines; a UTF-8
/// byte order mark first is skipped. One worker and two give the same rows.
#[tokio::test]
async fn json_lines_batches_and_json_documents_load_as_dlt_takes_lists() {
    let env = Env::new();
    let dir = env.dir.path();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let files = vec![
        write("batches.jsonl", "\u{feff}[{\"id\": 1}, {\"id\": 2}]\n[]\n{\"id\": 3}\n[\"s\", 4]\n"),
        write("pretty.json", "\u{feff}[\n  {\n    \"id\": 5,\n    \"tags\": [\"x\", \"y\"]\n  },\n  {\"id\": 6}\n]\n"),
        write("object.json", "{\n  \"id\": 7,\n  \"nested\": {\"k\": 1}\n}\n"),
        write("lines.json", "{\"id\": 8}\n{\"id\": 9}\n"),
    ];
    let mut outcomes = Vec::new();
    for workers in [1, 2] {
        let name = format!("shapes{workers}");
        let p = plain_jsonl_pipeline(&env, &name, workers);
        let info = p.run(Resource::from_files("t", files.clone())).await.expect("run");
        assert_eq!(info.records, 5 + 2 + 1 + 2, "records with {workers} workers");
        assert_eq!(info.tables["t"].rows, 10);
        assert_eq!(info.tables["t__tags"].rows, 2);
        let dataset = format!("{name}_dataset");
        let rows = loaded_rows(&env, &dataset, "t");
        let ids: BTreeSet<i64> = rows.iter().filter_map(|r| r["id"].as_i64()).collect();
        assert_eq!(ids, BTreeSet::from([1, 2, 3, 5, 6, 7, 8, 9]), "{rows:?}");
        let values: BTreeSet<String> = rows.iter().filter_map(|r| r.get("value")).map(|v| v.to_string()).collect();
        assert_eq!(values, BTreeSet::from(["\"4\"".to_string(), "\"s\"".to_string()]), "scalars of a batch are `value`s: {rows:?}");
        assert!(rows.iter().any(|r| r["id"] == json!(7) && r["nested__k"] == json!(1)), "{rows:?}");
        assert!(rows.iter().all(|r| r.as_object().unwrap().keys().all(|k| !k.contains('\u{feff}'))), "{rows:?}");
        outcomes.push((rows, loaded_rows(&env, &dataset, "t__tags")));
    }
    assert_eq!(outcomes[0], outcomes[1], "one worker and two load the same rows");
}

/// A big pretty-printed `.json` array (several chunks of the parallel reader) loads the same
/// rows with two workers as with one; colliding keys keep the value found last in each.
#[tokio::test]
async fn a_big_json_array_loads_the_same_rows_with_two_workers() {
    let env = Env::new();
    let input = env.dir.path().join("big.json");
    let mut doc = String::from("[\n");
    for i in 0..20_000 {
        let sep = if i == 0 { "" } else { ",\n" };
        let note = "n".repeat(50 + i % 100);
        doc.push_str(&format!(
            "{sep}  {{\n    \"id\": {i},\n    \"a_b\": {i},\n    \"A b\": \"last {i}\",\n    \"note\": \"{note}\",\n    \"tags\": [{i}, {}]\n  }}",
            i + 1
        ));
    }
    doc.push_str("\n]\n");
    assert!(doc.len() > 3 << 20, "the document spans several chunks");
    std::fs::write(&input, doc).unwrap();
    let mut outcomes = Vec::new();
    for workers in [1, 2] {
        let name = format!("big{workers}");
        let info = plain_jsonl_pipeline(&env, &name, workers).run(Resource::from_files("t", [input.clone()])).await.expect("run");
        assert_eq!(info.records, 20_000);
        assert_eq!(info.tables["t"].rows, 20_000);
        assert_eq!(info.tables["t__tags"].rows, 40_000);
        let rows = loaded_rows(&env, &format!("{name}_dataset"), "t");
        assert!(rows.iter().all(|r| r["a_b"] == json!(format!("last {}", r["id"]))), "the last value wins: {:?}", &rows[..2]);
        outcomes.push((rows, loaded_rows(&env, &format!("{name}_dataset"), "t__tags")));
    }
    assert!(outcomes[0] == outcomes[1], "one worker and two load the same rows");
}

/// Keys that normalize to one column keep the last value of the record, as dlt does.
#[tokio::test]
async fn colliding_keys_keep_the_last_value() {
    let env = Env::new();
    let p = plain_jsonl_pipeline(&env, "collide", 1);
    let records = vec![json!({"id": 1, "A b": "first", "a_b": "second", "aB": "third"}), json!({"id": 2, "a_b": "only"})];
    let info = p.run(Resource::from_values("t", records)).await.expect("run");
    let rows = loaded_rows(&env, "collide_dataset", "t");
    assert_eq!(rows, vec![json!({"id": 1, "a_b": "third"}), json!({"id": 2, "a_b": "only"})]);
    // one warning for the table and column, naming the keys, in the run's summary too
    let about: Vec<&String> = info.warnings.iter().filter(|w| w.contains("a_b")).collect();
    assert_eq!(about.len(), 1, "{:?}", info.warnings);
    assert!(about[0].contains("A b") && about[0].contains("aB"), "{}", about[0]);
    assert!(info.to_string().contains(&format!("warning: {}", about[0])), "{info}");
    // a list of records is a batch here too
    let info = p.run(Resource::from_values("u", vec![json!([{"id": 1}, {"id": 2}]), json!([])])).await.expect("run");
    assert_eq!(info.records, 2);
    assert_eq!(loaded_rows(&env, "collide_dataset", "u"), vec![json!({"id": 1}), json!({"id": 2})]);
}
