use super::*;
use arrow_array::{BinaryArray, Float64Array, Int64Array};

#[test]
fn insert_values_statement() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("na\"me", DataType::Utf8, true),
        Field::new("f", DataType::Float64, true),
        Field::new("b", DataType::Binary, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![Some(1), None])),
            Arc::new(StringArray::from(vec![Some("it's\na \\ b"), Some("x")])),
            Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN)])),
            Arc::new(BinaryArray::from(vec![Some(&b"\x01\xff"[..]), None])),
        ],
    )
    .unwrap();
    let mut cfg = WriterConfig::new(FileFormat::InsertValues);
    cfg.compression = false;
    let mut w = TableWriter::new(dir.path(), "t", cfg);
    w.write(&batch.slice(0, 1)).unwrap();
    w.write(&batch.slice(1, 1)).unwrap();
    let files = w.finish().unwrap();
    assert!(files[0].path.to_str().unwrap().ends_with(".insert_values"));
    let text = std::fs::read_to_string(&files[0].path).unwrap();
    assert_eq!(
        text,
        "INSERT INTO {}(\"id\",\"na\"\"me\",\"f\",\"b\")\nVALUES\n(1,E'it''s\\na \\\\ b',1.5,E'\\\\x01ff'),\n(NULL,E'x','NaN',NULL);"
    );
}

/// Redshift's literals, as dlt's `escape_redshift_literal` writes them: plain `'..'` strings
/// keeping backslash escapes, `from_hex('..')` for binary, `json_parse('..')` for JSON.
#[test]
fn insert_values_with_redshift_literals() {
    let dir = tempfile::tempdir().unwrap();
    let json_meta = HashMap::from([(JSON_TYPE_METADATA_KEY.to_string(), JSON_TYPE_METADATA_VALUE.to_string())]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("b", DataType::Binary, true),
        Field::new("j", DataType::Utf8, true).with_metadata(json_meta),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![Some("it's\na \\ b"), None])),
            Arc::new(BinaryArray::from(vec![Some(&b"\x01\xff"[..]), None])),
            Arc::new(StringArray::from(vec![Some(r#"{"a":"x'y"}"#), None])),
        ],
    )
    .unwrap();
    let mut cfg = WriterConfig::new(FileFormat::InsertValues);
    cfg.compression = false;
    cfg.sql_literals = SqlLiterals::Redshift;
    let mut w = TableWriter::new(dir.path(), "t", cfg);
    w.write(&batch).unwrap();
    let files = w.finish().unwrap();
    let text = std::fs::read_to_string(&files[0].path).unwrap();
    assert_eq!(
        text,
        "INSERT INTO {}(\"s\",\"b\",\"j\")\nVALUES\n('it''s\\na \\\\ b',from_hex('01ff'),json_parse('{\"a\":\"x''y\"}')),\n(NULL,NULL,NULL);"
    );
}

/// The default stays PostgreSQL's, whose JSON columns are plain extended strings.
#[test]
fn postgres_literals_write_json_as_a_string() {
    let dir = tempfile::tempdir().unwrap();
    let json_meta = HashMap::from([(JSON_TYPE_METADATA_KEY.to_string(), JSON_TYPE_METADATA_VALUE.to_string())]);
    let schema = Arc::new(Schema::new(vec![Field::new("j", DataType::Utf8, true).with_metadata(json_meta)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec![Some(r#"{"a":"x'y"}"#)]))]).unwrap();
    let mut cfg = WriterConfig::new(FileFormat::InsertValues);
    cfg.compression = false;
    assert_eq!(cfg.sql_literals, SqlLiterals::Postgres);
    let mut w = TableWriter::new(dir.path(), "t", cfg);
    w.write(&batch).unwrap();
    let text = std::fs::read_to_string(&w.finish().unwrap()[0].path).unwrap();
    assert_eq!(text, "INSERT INTO {}(\"j\")\nVALUES\n(E'{\"a\":\"x''y\"}');");
}
