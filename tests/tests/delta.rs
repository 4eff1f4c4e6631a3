//! Delta tables on the filesystem destination (`table_format = "delta"`, facade feature
//! `delta`): append, replace and merge (upsert, insert-only) on local disk, moto (`s3://`) and
//! azurite (`az://`); partitioned writes; schema evolution across loads; bad input (an
//! incompatible table written by another pipeline, a partition column missing from the data,
//! an unsupported merge strategy) fails naming table and column and leaves the previous version
//! readable. Every table is read back with the Python `deltalake` package (version, rows,
//! values, history), never with stevedore itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use stevedore::filesystem::{Credentials, FilesystemBuilder};
use stevedore::{Column, Config, Destination, FileFormat, MergeStrategy, Pipeline, Resource, TableFormat, WriteDisposition};
use stevedore_testkit::remote::{Service, TestBucket, python_with};
use stevedore_testkit::run_python;

/// Reads a Delta table with the `deltalake` package: version, rows (sorted by argv[3]),
/// history operations, schema, partition columns.
const PY_DELTA: &str = r#"
import os, sys, json, datetime, decimal
from deltalake import DeltaTable
uri, opts, key = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
dt = DeltaTable(uri, storage_options=opts or None)
def conv(v):
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    return v
rows = [{k: conv(v) for k, v in r.items()} for r in dt.to_pyarrow_table().to_pylist()]
def order(r):
    v = r.get(key)
    num = isinstance(v, (int, float)) and not isinstance(v, bool)
    return (0 if num else 1, v if num else 0, "" if num else str(v), json.dumps(r, sort_keys=True, default=str))
rows.sort(key=order)
hist = sorted(dt.history(), key=lambda h: h["version"])
print(json.dumps({
    "version": dt.version(),
    "rows": rows,
    "count": len(rows),
    "history": [h.get("operation") for h in hist],
    "modes": [(h.get("operationParameters") or {}).get("mode") for h in hist],
    "load_ids": [h.get("stevedore_load_id") for h in hist],
    "schema": [f.name for f in dt.schema().fields],
    "types": {f.name: getattr(f.type, "type", str(f.type)) for f in dt.schema().fields},
    "partitions": dt.metadata().partition_columns,
    "files": len(dt.file_uris()),
}, default=str))
sys.stdout.flush()
os._exit(0)  # deltalake's threads can abort the interpreter's shutdown
"#;

/// Writes a Delta table with the `deltalake` package (another tool): argv[3] is a JSON list
/// of records.
const PY_WRITE: &str = r#"
import os, sys, json
import pyarrow as pa
from deltalake import write_deltalake
uri, opts, records = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
write_deltalake(uri, pa.Table.from_pylist(records), storage_options=opts or None)
print(json.dumps({"ok": True}))
sys.stdout.flush()
os._exit(0)
"#;

/// Where the tests write and how the independent reader gets there.
struct Place {
    /// Bucket URL given to the destination.
    bucket_url: String,
    credentials: Credentials,
    /// `deltalake` storage options for the reader.
    reader_options: Value,
    python: PathBuf,
    _bucket: Option<TestBucket>,
    _dir: tempfile::TempDir,
    pipelines: PathBuf,
}

impl Place {
    fn local() -> Option<Place> {
        let python = stevedore_testkit::python()?;
        let python = ensure_deltalake(python, "python")?;
        let dir = tempfile::Builder::new().prefix("stevedore-delta-").tempdir().unwrap();
        Some(Place {
            bucket_url: dir.path().join("bucket").display().to_string(),
            credentials: Credentials::new(),
            reader_options: json!({}),
            python,
            _bucket: None,
            pipelines: dir.path().join("pipelines"),
            _dir: dir,
        })
    }

    fn remote(s: Service) -> Option<Place> {
        let b = TestBucket::create(s, "delta")?;
        let python = python_with(s.name(), &["deltalake", "pyarrow"])?;
        let dir = tempfile::Builder::new().prefix("stevedore-delta-").tempdir().unwrap();
        let (credentials, reader_options) = match s {
            Service::S3 => {
                let region = b.env.get("STEVEDORE_S3_REGION").cloned().unwrap_or_else(|| "us-east-1".into());
                (
                    Credentials::new()
                        .with_aws_keys(b.var("STEVEDORE_S3_KEY_ID"), b.var("STEVEDORE_S3_SECRET"))
                        .with_endpoint_url(b.var("STEVEDORE_S3_ENDPOINT"))
                        .with_region_name(&region),
                    json!({
                        "AWS_ENDPOINT_URL": b.var("STEVEDORE_S3_ENDPOINT"),
                        "AWS_ACCESS_KEY_ID": b.var("STEVEDORE_S3_KEY_ID"),
                        "AWS_SECRET_ACCESS_KEY": b.var("STEVEDORE_S3_SECRET"),
                        "AWS_REGION": region,
                        "AWS_ALLOW_HTTP": "true",
                        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
                    }),
                )
            }
            Service::Azure => (
                Credentials::new()
                    .with_azure_account_key(b.var("STEVEDORE_AZURE_ACCOUNT"), b.var("STEVEDORE_AZURE_KEY"))
                    .with_endpoint_url(b.var("STEVEDORE_AZURE_ENDPOINT")),
                json!({
                    "AZURE_STORAGE_ACCOUNT_NAME": b.var("STEVEDORE_AZURE_ACCOUNT"),
                    "AZURE_STORAGE_ACCOUNT_KEY": b.var("STEVEDORE_AZURE_KEY"),
                    "AZURE_STORAGE_ENDPOINT": b.var("STEVEDORE_AZURE_ENDPOINT"),
                    "AZURE_ALLOW_HTTP": "true",
                }),
            ),
            Service::Gcs => unreachable!("no Delta tests on GCS: the emulators lack the XML API object_store needs"),
        };
        Some(Place {
            bucket_url: b.url("lake"),
            credentials,
            reader_options,
            python,
            _bucket: Some(b),
            pipelines: dir.path().join("pipelines"),
            _dir: dir,
        })
    }

    fn builder(&self) -> FilesystemBuilder {
        stevedore::filesystem_builder().bucket_url(&self.bucket_url).credentials(self.credentials.clone())
    }

    fn destination(&self) -> Arc<dyn Destination> {
        Arc::new(self.builder().build().expect("filesystem destination"))
    }

    fn pipeline(&self, name: &str) -> Pipeline {
        self.pipeline_to(name, self.destination(), None)
    }

    fn pipeline_to(&self, name: &str, d: Arc<dyn Destination>, format: Option<FileFormat>) -> Pipeline {
        let mut b = Pipeline::builder(name).destination(d).pipelines_dir(&self.pipelines).config(Config::empty());
        if let Some(f) = format {
            b = b.loader_file_format(f);
        }
        b.build().expect("pipeline")
    }

    fn table_uri(&self, dataset: &str, table: &str) -> String {
        format!("{}/{dataset}/{table}", self.bucket_url.trim_end_matches('/'))
    }

    /// The table as the `deltalake` package reads it, rows sorted by `key`.
    fn read(&self, dataset: &str, table: &str, key: &str) -> Value {
        let opts = self.reader_options.to_string();
        run_python(&self.python, PY_DELTA, &[&self.table_uri(dataset, table), &opts, key])
    }

    /// Writes a table with the `deltalake` package.
    fn write_other_tool(&self, dataset: &str, table: &str, records: Value) {
        let opts = self.reader_options.to_string();
        run_python(&self.python, PY_WRITE, &[&self.table_uri(dataset, table), &opts, &records.to_string()]);
    }

    fn is_local(&self) -> bool {
        self._bucket.is_none()
    }

    fn local_dataset(&self, dataset: &str) -> PathBuf {
        Path::new(&self.bucket_url).join(dataset)
    }
}

fn ensure_deltalake(python: PathBuf, capability: &str) -> Option<PathBuf> {
    let ok = std::process::Command::new(&python).args(["-c", "import deltalake"]).output().map(|o| o.status.success()).unwrap_or(false);
    if ok {
        return Some(python);
    }
    if stevedore_testkit::required(capability) {
        panic!("{} cannot import deltalake; run `cargo xtask venv`", python.display());
    }
    eprintln!("SKIP: {} cannot import deltalake; run `cargo xtask venv`", python.display());
    None
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn users(ids: std::ops::Range<i64>, tag: &str) -> Vec<Value> {
    ids.map(|i| {
        json!({
            "id": i,
            "name": format!("{tag}-{i}"),
            "region": if i % 2 == 0 { "eu" } else { "us" },
            "score": i as f64 * 1.5,
            "at": "2024-05-01T10:00:00Z",
            "tags": [format!("t{i}"), format!("{tag}")],
        })
    })
    .collect()
}

fn delta_users(rows: Vec<Value>) -> Resource {
    Resource::from_values("users", rows).with_table_format(TableFormat::Delta)
}

fn ids(v: &Value) -> Vec<i64> {
    v["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

fn names(v: &Value) -> BTreeMap<i64, String> {
    v["rows"].as_array().unwrap().iter().map(|r| (r["id"].as_i64().unwrap(), r["name"].as_str().unwrap().to_string())).collect()
}

macro_rules! skip_unless {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return,
        }
    };
}

// ------------------------------------------------------------------------------------------------
// append, replace, upsert: one scenario, run on each storage
// ------------------------------------------------------------------------------------------------

fn append_replace_upsert(place: Place) {
    let rt = rt();
    let p = place.pipeline("dl");
    let ds = "dl_dataset";

    // append, twice; a loader_file_format of jsonl is disregarded for Delta tables
    let first = rt.block_on(p.run(delta_users(users(0..10, "a")))).expect("first append");
    let p_jsonl = place.pipeline_to("dl", place.destination(), Some(FileFormat::Jsonl));
    let second = rt.block_on(p_jsonl.run(delta_users(users(10..15, "a")))).expect("second append");
    let v = place.read(ds, "users", "id");
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["count"], 15);
    assert_eq!(ids(&v), (0..15).collect::<Vec<_>>());
    assert_eq!(v["history"], json!(["WRITE", "WRITE"]), "{v}");
    assert_eq!(v["modes"], json!(["Append", "Append"]), "{v}");
    assert_eq!(v["load_ids"], json!([first.load_ids()[0], second.load_ids()[0]]), "{v}");
    assert_eq!(names(&v)[&3], "a-3");
    assert_eq!(v["types"]["id"], "long", "{v}");
    assert_eq!(v["types"]["score"], "double", "{v}");
    assert!(v["types"]["at"].as_str().unwrap().starts_with("timestamp"), "{v}");
    assert!(v["schema"].as_array().unwrap().contains(&json!("_dlt_id")), "{v}");
    // the child table is a Delta table too
    let tags = place.read(ds, "users__tags", "value");
    assert_eq!(tags["count"], 30, "{tags}");
    assert_eq!(tags["version"], 1, "{tags}");
    if place.is_local() {
        let d = place.local_dataset(ds);
        assert!(d.join("users/_delta_log/00000000000000000000.json").is_file());
        assert!(d.join("users__tags/_delta_log").is_dir());
        // state, schema and load markers as for other filesystem tables
        assert_eq!(std::fs::read_dir(d.join("_dlt_loads")).unwrap().count(), 2);
        assert!(d.join("_dlt_version").is_dir() && d.join("_dlt_pipeline_state").is_dir());
        assert!(d.join("init").is_file());
    }

    // replace: one overwrite commit per table; the child table is overwritten too
    let r = delta_users(users(100..103, "r")).with_write_disposition(WriteDisposition::Replace);
    rt.block_on(p.run(r)).expect("replace");
    let v = place.read(ds, "users", "id");
    assert_eq!(v["version"], 2, "{v}");
    assert_eq!(ids(&v), vec![100, 101, 102]);
    assert_eq!(v["history"].as_array().unwrap().last().unwrap(), "WRITE");
    assert_eq!(v["modes"].as_array().unwrap().last().unwrap(), "Overwrite", "{v}");
    let tags = place.read(ds, "users__tags", "value");
    assert_eq!(tags["count"], 6, "{tags}");
    assert_eq!(tags["version"], 2, "{tags}");

    // merge (upsert on the primary key): 101, 102 updated, 103, 104 inserted, 100 untouched
    let mut rows = users(101..105, "m");
    rows[0]["tags"] = json!([]);
    let m = delta_users(rows).with_write_disposition(WriteDisposition::Merge).with_primary_key(["id"]);
    rt.block_on(p.run(m)).expect("merge");
    let v = place.read(ds, "users", "id");
    assert_eq!(v["version"], 3, "{v}");
    assert_eq!(v["history"].as_array().unwrap().last().unwrap(), "MERGE", "{v}");
    assert_eq!(ids(&v), vec![100, 101, 102, 103, 104]);
    let n = names(&v);
    assert_eq!((n[&100].as_str(), n[&101].as_str(), n[&104].as_str()), ("r-100", "m-101", "m-104"));
    // nested rows merge on _dlt_id (new ids: inserted; the replaced rows' old children stay)
    let tags = place.read(ds, "users__tags", "value");
    assert_eq!(tags["history"].as_array().unwrap().last().unwrap(), "MERGE", "{tags}");
    assert_eq!(tags["count"], 6 + 6, "{tags}");
}

#[test]
fn local_append_replace_upsert() {
    append_replace_upsert(skip_unless!(Place::local()));
}

#[test]
fn s3_append_replace_upsert() {
    append_replace_upsert(skip_unless!(Place::remote(Service::S3)));
}

#[test]
fn azure_append_replace_upsert() {
    append_replace_upsert(skip_unless!(Place::remote(Service::Azure)));
}

// ------------------------------------------------------------------------------------------------
// partitions, schema evolution
// ------------------------------------------------------------------------------------------------

fn partitioned(place: Place) {
    let rt = rt();
    let p = place.pipeline("part");
    let r = || delta_users(users(0..6, "p")).with_column(Column::incomplete("region").hint("partition"));
    rt.block_on(p.run(r())).expect("partitioned load");
    rt.block_on(p.run(delta_users(users(6..8, "p")))).expect("second load");
    let v = place.read("part_dataset", "users", "id");
    assert_eq!(v["partitions"], json!(["region"]), "{v}");
    assert_eq!(v["count"], 8);
    assert_eq!(v["rows"][3]["region"], "us");
    if place.is_local() {
        let t = place.local_dataset("part_dataset").join("users");
        assert!(t.join("region=eu").is_dir() && t.join("region=us").is_dir(), "{:?}", std::fs::read_dir(&t).unwrap().collect::<Vec<_>>());
    }
}

#[test]
fn local_partitioned() {
    partitioned(skip_unless!(Place::local()));
}

#[test]
fn s3_partitioned() {
    partitioned(skip_unless!(Place::remote(Service::S3)));
}

#[test]
fn local_schema_evolves_across_loads() {
    let place = skip_unless!(Place::local());
    let rt = rt();
    let p = place.pipeline("evo");
    rt.block_on(p.run(delta_users(users(0..3, "e")))).expect("first");
    let mut rows = users(3..5, "e");
    for r in rows.iter_mut() {
        r["email"] = json!(format!("{}@x.org", r["id"]));
        r["when"] = json!("12:30:00");
    }
    rt.block_on(p.run(delta_users(rows).with_column_type("when", stevedore::DataType::Time))).expect("second, with new columns");
    let v = place.read("evo_dataset", "users", "id");
    assert_eq!(v["version"], 1, "{v}");
    assert!(v["schema"].as_array().unwrap().contains(&json!("email")), "{v}");
    assert_eq!(v["rows"][0]["email"], Value::Null);
    assert_eq!(v["rows"][4]["email"], "4@x.org");
    // Delta has no time type: times are strings, as in dlt
    assert_eq!(v["types"]["when"], "string", "{v}");
    assert!(v["rows"][4]["when"].as_str().unwrap().starts_with("12:30:00"), "{v}");
}

// ------------------------------------------------------------------------------------------------
// bad input: nothing committed, the previous version stays readable
// ------------------------------------------------------------------------------------------------

#[test]
fn local_incompatible_table_fails_naming_table_and_column() {
    let place = skip_unless!(Place::local());
    let rt = rt();
    // another tool wrote `users` with `id` as a string
    place.write_other_tool("bad_dataset", "users", json!([{"id": "x1", "name": "n"}]));
    let p = place.pipeline("bad");
    let e = rt.block_on(p.run(delta_users(users(0..3, "b")))).expect_err("incompatible schema");
    let text = format!("{e} {e:?}");
    assert!(text.contains("users") && text.contains("`id`"), "{text}");
    let v = place.read("bad_dataset", "users", "id");
    assert_eq!(v["version"], 0, "nothing committed: {v}");
    assert_eq!(v["count"], 1);
    // the nested table was not committed either (checks run before any commit)
    assert!(!place.local_dataset("bad_dataset").join("users__tags/_delta_log").exists());
}

fn failed_write_keeps_previous_version(place: Place) {
    let rt = rt();
    let p = place.pipeline("keep");
    rt.block_on(p.run(delta_users(users(0..4, "k")))).expect("good load");
    // another pipeline (its own schema) loads `name` as a number into the same table
    let other = Pipeline::builder("keep2")
        .destination(place.destination())
        .dataset_name("keep_dataset")
        .pipelines_dir(&place.pipelines)
        .config(Config::empty())
        .build()
        .unwrap();
    let rows: Vec<Value> = (0..3).map(|i| json!({"id": i, "name": i * 10})).collect();
    let e = rt.block_on(other.run(Resource::from_values("users", rows).with_table_format(TableFormat::Delta))).expect_err("type change");
    let text = format!("{e} {e:?}");
    assert!(text.contains("users") && text.contains("`name`"), "{text}");
    let v = place.read("keep_dataset", "users", "id");
    assert_eq!(v["version"], 0, "{v}");
    assert_eq!(v["count"], 4);
    assert_eq!(names(&v)[&2], "k-2");
}

#[test]
fn local_failed_write_keeps_previous_version() {
    failed_write_keeps_previous_version(skip_unless!(Place::local()));
}

#[test]
fn azure_failed_write_keeps_previous_version() {
    failed_write_keeps_previous_version(skip_unless!(Place::remote(Service::Azure)));
}

#[test]
fn local_missing_partition_column_fails() {
    let place = skip_unless!(Place::local());
    let rt = rt();
    let p = place.pipeline("nopart");
    rt.block_on(p.run(delta_users(users(0..2, "n")))).expect("first load");
    let r = delta_users(users(2..4, "n")).with_column(Column::incomplete("country").hint("partition"));
    let e = rt.block_on(p.run(r)).expect_err("partition column missing");
    let text = format!("{e} {e:?}");
    assert!(text.contains("users") && text.contains("`country`"), "{text}");
    let v = place.read("nopart_dataset", "users", "id");
    assert_eq!((v["version"].as_i64(), v["count"].as_i64()), (Some(0), Some(2)), "{v}");
}

#[test]
fn local_delete_insert_is_refused_naming_the_supported_strategies() {
    let place = skip_unless!(Place::local());
    let rt = rt();
    let p = place.pipeline("di");
    rt.block_on(p.run(delta_users(users(0..2, "d")))).expect("first load");
    let r = delta_users(users(1..3, "d"))
        .with_write_disposition(WriteDisposition::Merge)
        .with_primary_key(["id"])
        .with_merge_strategy(MergeStrategy::DeleteInsert);
    let e = rt.block_on(p.run(r)).expect_err("delete-insert");
    let text = format!("{e} {e:?}");
    assert!(text.contains("delete-insert") && text.contains("upsert") && text.contains("insert-only"), "{text}");
    assert_eq!(place.read("di_dataset", "users", "id")["version"], 0);

    // insert-only: existing keys are kept as they are
    let r = delta_users(users(1..3, "i"))
        .with_write_disposition(WriteDisposition::Merge)
        .with_primary_key(["id"])
        .with_merge_strategy(MergeStrategy::InsertOnly);
    let p2 = place.pipeline("di2");
    rt.block_on(p2.run(r)).expect("insert-only");
    let v = place.read("di2_dataset", "users", "id");
    assert_eq!(ids(&v), vec![1, 2]);
    let r = delta_users(users(2..4, "j"))
        .with_write_disposition(WriteDisposition::Merge)
        .with_primary_key(["id"])
        .with_merge_strategy(MergeStrategy::InsertOnly);
    rt.block_on(p2.run(r)).expect("insert-only again");
    let v = place.read("di2_dataset", "users", "id");
    assert_eq!(ids(&v), vec![1, 2, 3]);
    assert_eq!(names(&v)[&2], "i-2", "insert-only does not update: {v}");
}
