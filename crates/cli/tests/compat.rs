//! dlt compatibility: the same input loaded by stevedore gives the tables, columns, data types,
//! hints, row counts and parquet Arrow types that dlt 1.31 produced (committed fixtures in
//! `tests/data/compat/`, made by `scripts/dlt_compat_expected.py`), on two input shapes:
//! GitHub-like events and web-shop orders (wide rows, lists in list items).

use serde_json::{Map, Value, json};
use stevedore_testkit::{CliProject, assert_success, gen_events, gen_orders, list_files, python, read_json, run_python, test_data};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");

/// Column keys dlt's fixture script leaves out of a column entry.
const SKIPPED_COLUMN_KEYS: [&str; 4] = ["name", "data_type", "nullable", "description"];

/// A column entry built exactly as `scripts/dlt_compat_expected.py::column_entry` builds dlt's.
fn column_entry(name: &str, col: &Map<String, Value>) -> Value {
    let mut e = Map::new();
    e.insert("name".into(), json!(name));
    e.insert("data_type".into(), col.get("data_type").cloned().unwrap_or(Value::Null));
    e.insert("nullable".into(), col.get("nullable").cloned().unwrap_or(json!(true)));
    for (k, v) in col {
        if SKIPPED_COLUMN_KEYS.contains(&k.as_str()) || v.is_null() || v == &json!(false) {
            continue;
        }
        e.insert(k.clone(), v.clone());
    }
    Value::Object(e)
}

const PY_COMPAT: &str = r#"
import sys, json, os, hashlib
import pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
root, inp = sys.argv[1], sys.argv[2]
with open(inp, "rb") as f:
    out = {"sha256": hashlib.sha256(f.read()).hexdigest(), "tables": {}}
for t in sys.argv[3:]:
    d = ds.dataset(os.path.join(root, t), format="parquet")
    schemas = [pq.read_schema(f) for f in d.files]
    schemas.sort(key=len)
    u = pa.unify_schemas(schemas)
    out["tables"][t] = {
        "rows": d.count_rows(),
        "files": len(d.files),
        "parquet_schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in u],
    }
print(json.dumps(out))
"#;

/// An input shape of the fixtures: its name (also the resource) and generator.
#[derive(Clone, Copy)]
enum Shape {
    Events,
    Orders,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Events => "events",
            Shape::Orders => "orders",
        }
    }

    fn generate(self, rows: usize, out: &std::path::Path) {
        match self {
            Shape::Events => gen_events(rows, out),
            Shape::Orders => gen_orders(rows, out),
        }
    }
}

fn check_compat(shape: Shape, rows: usize) {
    let expected = read_json(&test_data(&format!("compat/{}_{rows}.expected.json", shape.name())));
    assert_eq!(expected["input"]["rows"], json!(rows));
    let pipeline = expected["pipeline"]["pipeline_name"].as_str().unwrap().to_string();
    let dataset = expected["pipeline"]["dataset_name"].as_str().unwrap().to_string();
    let resource = expected["pipeline"]["resource"].as_str().unwrap().to_string();
    assert_eq!(expected["pipeline"]["loader_file_format"], json!("parquet"));

    let proj = CliProject::new(BIN);
    let file = format!("{}.jsonl", shape.name());
    let input = proj.path().join(&file);
    shape.generate(rows, &input);
    let out = proj.load(&file, &resource, &pipeline, &dataset, &["--format", "parquet"], &[]);
    assert_success(&out, "stevedore load");

    // the schema as `stevedore schema` prints it (dlt's YAML), and as stored on disk
    let out = proj
        .cmd(&["schema", &pipeline, "--pipelines-dir", &proj.pipelines_dir().display().to_string()])
        .output()
        .expect("run stevedore schema");
    let yaml = assert_success(&out, "stevedore schema");
    let printed: Value = serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("schema output is not YAML ({e}):\n{yaml}"));
    let stored = read_json(&proj.working_dir(&pipeline).join("schemas").join(format!("{pipeline}.schema.json")));
    assert_eq!(printed, stored, "`stevedore schema` must print the stored schema");
    assert_eq!(stored["name"], expected["schema"]["name"]);
    let ours = stored["tables"].as_object().expect("tables");

    let mut problems: Vec<String> = Vec::new();
    let exp_tables = expected["tables"].as_array().unwrap();
    let exp_names: Vec<&str> = exp_tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let our_names: Vec<&str> = ours.keys().map(String::as_str).collect();
    if exp_names != our_names {
        problems.push(format!("tables differ (in order):\n  dlt:  {exp_names:?}\n  ours: {our_names:?}"));
    }
    for et in exp_tables {
        let name = et["name"].as_str().unwrap();
        let Some(ot) = ours.get(name) else {
            problems.push(format!("table `{name}` is missing"));
            continue;
        };
        for key in ["parent", "write_disposition", "resource"] {
            let ev = et.get(key).cloned().unwrap_or(Value::Null);
            let ov = ot.get(key).cloned().unwrap_or(Value::Null);
            if ev != ov {
                problems.push(format!("table `{name}`: {key} is {ov}, dlt has {ev}"));
            }
        }
        let exp_cols: Vec<Value> = et["columns"].as_array().unwrap().clone();
        let our_cols: Vec<Value> =
            ot["columns"].as_object().expect("columns").iter().map(|(n, c)| column_entry(n, c.as_object().expect("column"))).collect();
        let en: Vec<&Value> = exp_cols.iter().map(|c| &c["name"]).collect();
        let on: Vec<&Value> = our_cols.iter().map(|c| &c["name"]).collect();
        if en != on {
            problems.push(format!("table `{name}`: column names differ (in order):\n  dlt:  {en:?}\n  ours: {on:?}"));
        }
        for ec in &exp_cols {
            match our_cols.iter().find(|c| c["name"] == ec["name"]) {
                Some(oc) if oc != ec => problems.push(format!("table `{name}`: column differs:\n  dlt:  {ec}\n  ours: {oc}")),
                Some(_) => {}
                None => problems.push(format!("table `{name}`: column {} is missing", ec["name"])),
            }
        }
    }

    // dlt's own tables: one row (file) each, as dlt wrote them
    let dataset_dir = proj.dataset_dir(&dataset);
    for et in exp_tables.iter().filter(|t| t["name"].as_str().unwrap().starts_with("_dlt")) {
        let name = et["name"].as_str().unwrap();
        let dir = dataset_dir.join(name);
        let rows: usize = list_files(&dir)
            .iter()
            .map(|f| std::fs::read_to_string(dir.join(f)).unwrap().lines().filter(|l| !l.trim().is_empty()).count())
            .sum();
        if json!(rows) != et["row_count"] {
            problems.push(format!("`{name}`: {rows} rows in {}, dlt wrote {}", dir.display(), et["row_count"]));
        }
    }

    // data tables read back with pyarrow: row counts and parquet Arrow types
    if let Some(py) = python() {
        let data: Vec<&Value> = exp_tables.iter().filter(|t| t.get("parquet_schema").is_some()).collect();
        assert!(!data.is_empty(), "the fixture has data tables");
        let mut args = vec![dataset_dir.display().to_string(), input.display().to_string()];
        args.extend(data.iter().map(|t| t["name"].as_str().unwrap().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = run_python(&py, PY_COMPAT, &args);
        assert_eq!(
            got["sha256"], expected["input"]["sha256"],
            "the generated input differs from the one dlt loaded ({}): its generator changed; regenerate the fixtures",
            expected["input"]["command"]
        );
        for et in data {
            let name = et["name"].as_str().unwrap();
            let g = &got["tables"][name];
            if g["rows"] != et["row_count"] {
                problems.push(format!("`{name}`: pyarrow counts {} rows, dlt wrote {}", g["rows"], et["row_count"]));
            }
            if g["parquet_schema"] != et["parquet_schema"] {
                problems.push(format!(
                    "`{name}`: parquet Arrow schema differs:\n  dlt:  {}\n  ours: {}",
                    et["parquet_schema"], g["parquet_schema"]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{} difference(s) from dlt 1.31:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn compat_events_6000_matches_dlt() {
    check_compat(Shape::Events, 6000);
}

#[test]
fn compat_events_200_matches_dlt() {
    check_compat(Shape::Events, 200);
}

#[test]
fn compat_orders_2000_matches_dlt() {
    check_compat(Shape::Orders, 2000);
}
