//! Input shapes: a JSON array on a JSON-lines line is a batch of records (as dlt treats a list
//! a resource yields), and a leading UTF-8 byte order mark is skipped.

use stevedore_testkit::{CliProject, assert_success, read_json};

const BIN: &str = env!("CARGO_BIN_EXE_stevedore");

fn schema_columns(proj: &CliProject, pipeline: &str, table: &str) -> Vec<String> {
    let s = read_json(&proj.working_dir(pipeline).join("schemas").join(format!("{pipeline}.schema.json")));
    s["tables"][table]["columns"].as_object().expect("columns").keys().cloned().collect()
}

#[test]
fn an_array_on_a_line_is_a_batch_of_records() {
    let proj = CliProject::new(BIN);
    proj.write("in.jsonl", "[{\"a\": 1}, {\"a\": 2, \"tags\": [\"x\"]}]\n[]\n{\"a\": 3}\n[4]\n");
    let stdout = assert_success(&proj.load("in.jsonl", "t", "shapes", "shapes_data", &[], &[]), "array lines");
    // 2 + 0 + 1 + 1 records; a scalar in a batch is wrapped as {"value": 4}, as dlt does
    assert!(stdout.contains("  t: 4 rows") && stdout.contains("  t__tags: 1 rows") && stdout.contains("4 records"), "{stdout}");
    let cols = schema_columns(&proj, "shapes", "t");
    assert!(cols.contains(&"a".to_string()) && cols.contains(&"value".to_string()), "{cols:?}");
}

#[test]
fn a_leading_byte_order_mark_is_skipped() {
    let proj = CliProject::new(BIN);
    proj.write("bom.jsonl", "\u{feff}{\"a\": 1}\n{\"a\": 2}\n");
    let stdout = assert_success(&proj.load("bom.jsonl", "j", "bom", "bom_data", &[], &[]), "jsonl with a BOM");
    assert!(stdout.contains("  j: 2 rows") && stdout.contains("2 records"), "{stdout}");
    proj.write("bom.csv", "\u{feff}a,b\n1,x\n2,y\n");
    assert_success(&proj.load("bom.csv", "c", "bom", "bom_data", &[], &[]), "csv with a BOM");
    let cols = schema_columns(&proj, "bom", "c");
    assert!(cols.starts_with(&["a".to_string(), "b".to_string()]), "the first column is `a`, not a BOM: {cols:?}");

    let path = proj.write("bom_stdin.jsonl", "\u{feff}{\"a\": 1}\n");
    let mut c = proj.cmd(&["load", "-", "--table", "s", "--pipeline", "bom_stdin", "--bucket-url"]);
    c.arg(proj.bucket()).arg("--pipelines-dir").arg(proj.pipelines_dir()).stdin(std::fs::File::open(path).unwrap());
    let stdout = assert_success(&c.output().unwrap(), "stdin with a BOM");
    assert!(stdout.contains("  s: 1 rows") && stdout.contains("1 records"), "{stdout}");
}
