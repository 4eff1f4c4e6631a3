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
