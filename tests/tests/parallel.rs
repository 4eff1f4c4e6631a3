//! Parallel normalization gives exactly what a one-thread run gives: the same tables, column
//! order, types and hints, and the same rows (checked by content, not only by count).

use std::collections::BTreeMap;
use std::sync::Arc;

use stevedore::filesystem::Filesystem;
use stevedore::{Config, FileFormat, Pipeline, Resource};
use stevedore_testkit::{gen_events, python, run_python};

fn run(workers: u64, input: &std::path::Path, dir: &std::path::Path) -> (serde_json::Value, BTreeMap<String, u64>) {
    let mut config = Config::empty();
    config.set_explicit("normalize.workers", toml::Value::Integer(workers as i64));
    let fs = Filesystem::builder().bucket_url(dir.join("bucket").to_str().unwrap()).build().unwrap();
    let p = Pipeline::builder("par")
        .destination(Arc::new(fs))
        .pipelines_dir(dir.join("pipelines"))
        .config(config)
        .loader_file_format(FileFormat::Parquet)
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let info = rt.block_on(p.run(Resource::from_files("events", [input.to_path_buf()]))).unwrap();
    let rows = info.tables.iter().map(|(t, m)| (t.clone(), m.rows)).collect();
    let mut schema = p.schema().unwrap().unwrap().to_value();
    // hashes and versions may differ only if content differs: compare the content
    for k in ["version_hash", "previous_hashes", "version"] {
        schema.as_object_mut().unwrap().remove(k);
    }
    (schema, rows)
}

#[test]
fn parallel_equals_sequential() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("events.jsonl");
    // ~17 MB: several 2 MiB chunks, with the late column `payload__forced` appearing mid-file
    gen_events(20_000, &input);
    let seq_dir = tmp.path().join("seq");
    let par_dir = tmp.path().join("par");
    let (seq_schema, seq_rows) = run(1, &input, &seq_dir);
    let (par_schema, par_rows) = run(3, &input, &par_dir);
    assert_eq!(seq_rows, par_rows, "rows per table");
    assert_eq!(seq_rows["events"], 20_000);
    assert_eq!(seq_schema, par_schema, "schemas differ");

    // same rows by content: compare the data tables without the random ids
    let Some(py) = python() else { return };
    let script = r#"
import sys, json, glob, pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
out = {}
for name in ["events", "events__tags", "events__payload__commits", "events__payload__labels"]:
    res = []
    for root in sys.argv[1:]:
        files = sorted(glob.glob(f"{root}/bucket/par_dataset/{name}/*.parquet"))
        # files written before a column appeared lack it: read all with the unified schema
        schema = pa.unify_schemas([pq.read_schema(f) for f in files])
        t = ds.dataset(files, schema=schema, format="parquet").to_table()
        cols = sorted(c for c in t.column_names if not c.startswith("_dlt"))
        rows = sorted(json.dumps([str(v) for v in r], sort_keys=True) for r in zip(*[t.column(c).to_pylist() for c in cols]))
        res.append((cols, rows))
    out[name] = res[0] == res[1]
print(json.dumps(out))
"#;
    let v = run_python(&py, script, &[seq_dir.to_str().unwrap(), par_dir.to_str().unwrap()]);
    for (table, same) in v.as_object().unwrap() {
        assert_eq!(same, &serde_json::Value::Bool(true), "table {table} differs between 1 and 3 workers");
    }
}
