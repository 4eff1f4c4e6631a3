use super::*;
use arrow_array::builder::{Int64Builder, ListBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Date32Array, Decimal128Array, DictionaryArray, Float32Array, Float64Array, Int64Array, StructArray, Time64MicrosecondArray,
    TimestampMicrosecondArray, TimestampNanosecondArray, UInt64Array,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::io::Read;

// 2024-01-01T00:00:00Z in microseconds.
const TS_2024: i64 = 1_704_067_200_000_000;

fn json_field(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
        .with_metadata(HashMap::from([(JSON_TYPE_METADATA_KEY.to_string(), JSON_TYPE_METADATA_VALUE.to_string())]))
}

/// Two rows covering every dlt type; row 2 is mostly null.
fn all_types_batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new("ts2", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new("d", DataType::Date32, true),
        Field::new("t", DataType::Time64(TimeUnit::Microsecond), true),
        Field::new("dec", DataType::Decimal128(38, 9), true),
        Field::new("b", DataType::Binary, true),
        Field::new("f", DataType::Float64, true),
        Field::new("ok", DataType::Boolean, true),
        json_field("j"),
        Field::new("_dlt_id", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2])),
        Arc::new(StringArray::from(vec![Some("a\"b\nc,ü\t\\ 😀"), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(TS_2024), None]).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(TS_2024 + 123_456), Some(TS_2024 + 1)]).with_timezone("UTC")),
        Arc::new(Date32Array::from(vec![Some(19_723), None])),
        Arc::new(Time64MicrosecondArray::from(vec![Some(30_600_000_000), Some(30_600_000_005)])),
        Arc::new(Decimal128Array::from(vec![Some(1_500_000_000), Some(-5)]).with_precision_and_scale(38, 9).unwrap()),
        Arc::new(BinaryArray::from(vec![Some(&b"\x00\x01hi"[..]), None])),
        Arc::new(Float64Array::from(vec![Some(74.8723), Some(f64::NAN)])),
        Arc::new(BooleanArray::from(vec![Some(true), None])),
        Arc::new(StringArray::from(vec![Some("{\"x\":[1,2,{\"y\":null}],\n \"s\":\"q\\\"\"}"), None])),
        Arc::new(StringArray::from(vec!["V2jI1llbbZ1m6g", "Mbr7Qt+0SoNlfA"])),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn int_batch(names: &[&str], start: i64, rows: usize) -> RecordBatch {
    let fields: Vec<Field> = names.iter().map(|n| Field::new(*n, DataType::Int64, true)).collect();
    let cols: Vec<ArrayRef> =
        names.iter().map(|_| Arc::new(Int64Array::from_iter_values(start..start + rows as i64)) as ArrayRef).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

fn config(format: FileFormat) -> WriterConfig {
    WriterConfig::new(format)
}

fn read_text(path: &Path) -> String {
    let raw = fs::read(path).unwrap();
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_string(&mut s).unwrap();
        s
    } else {
        String::from_utf8(raw).unwrap()
    }
}

fn read_parquet(path: &Path) -> (SchemaRef, Vec<RecordBatch>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let batches = builder.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    (schema, batches)
}

fn write_all(dir: &Path, table: &str, cfg: WriterConfig, batches: &[RecordBatch]) -> Vec<WrittenFile> {
    let mut w = TableWriter::new(dir, table, cfg);
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap()
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

const EXPECTED_JSONL: &str = concat!(
    r#"{"id":1,"name":"a\"b\nc,ü\t\\ 😀","ts":"2024-01-01T00:00:00+00:00","ts2":"2024-01-01T00:00:00.123456+00:00","#,
    r#""d":"2024-01-01","t":"08:30:00","dec":"1.500000000","b":"AAFoaQ==","f":74.8723,"ok":true,"#,
    r#""j":{"x":[1,2,{"y":null}],  "s":"q\""},"_dlt_id":"V2jI1llbbZ1m6g"}"#,
    "\n",
    r#"{"id":2,"ts2":"2024-01-01T00:00:00.000001+00:00","t":"08:30:00.000005","dec":"-0.000000005","_dlt_id":"Mbr7Qt+0SoNlfA"}"#,
    "\n",
);

#[test]
fn jsonl_all_types_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_all(dir.path(), "items", config(FileFormat::Jsonl), &[all_types_batch()]);
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert!(f.path.to_str().unwrap().ends_with(".jsonl.gz"));
    assert!(f.compressed);
    assert_eq!(f.rows, 2);
    assert_eq!(f.bytes, fs::metadata(&f.path).unwrap().len());
    assert_eq!(&fs::read(&f.path).unwrap()[..2], &[0x1f, 0x8b]);
    let text = read_text(&f.path);
    assert_eq!(text, EXPECTED_JSONL);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.is_object());
    }
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["name"], "a\"b\nc,ü\t\\ 😀");
    assert_eq!(first["j"]["x"][2], serde_json::json!({"y": null}));
    assert_eq!(f.columns, ["id", "name", "ts", "ts2", "d", "t", "dec", "b", "f", "ok", "j", "_dlt_id"]);
}

#[test]
fn jsonl_uncompressed_and_control_chars() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec![Some("\u{1}\u{8}\u{c}\r\u{1f}\u{7f}/"), Some("")]))]).unwrap();
    let cfg = WriterConfig { compression: false, ..config(FileFormat::Jsonl) };
    let files = write_all(dir.path(), "t", cfg, &[batch]);
    assert!(files[0].path.to_str().unwrap().ends_with(".jsonl"));
    assert!(!files[0].compressed);
    let raw = fs::read_to_string(&files[0].path).unwrap();
    assert_eq!(raw, "{\"s\":\"\\u0001\\b\\f\\r\\u001f\u{7f}/\"}\n{\"s\":\"\"}\n");
    let v: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    assert_eq!(v["s"], "\u{1}\u{8}\u{c}\r\u{1f}\u{7f}/");
}

#[test]
fn jsonl_numbers_nested_dictionary_and_sliced_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let mut list = ListBuilder::new(Int64Builder::new());
    list.values().append_value(1);
    list.values().append_null();
    list.append(true);
    list.append(false);
    list.values().append_value(3);
    list.append(true);
    let list = list.finish();
    let strukt = StructArray::from(vec![
        (Arc::new(Field::new("a", DataType::Int64, true)), Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef),
        (Arc::new(Field::new("b", DataType::Utf8, true)), Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef),
    ]);
    let dict: DictionaryArray<Int32Type> = vec![Some("p"), None, Some("p")].into_iter().collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("u", DataType::UInt64, true),
        Field::new("f32", DataType::Float32, true),
        Field::new("f", DataType::Float64, true),
        Field::new("l", list.data_type().clone(), true),
        Field::new("s", strukt.data_type().clone(), true),
        Field::new("dict", dict.data_type().clone(), true),
        Field::new("ns", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
        Field::new("off", DataType::Timestamp(TimeUnit::Microsecond, Some("+02:00".into())), true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(UInt64Array::from(vec![u64::MAX, 0, 7])),
            Arc::new(Float32Array::from(vec![0.5, 1.0, f32::INFINITY])),
            Arc::new(Float64Array::from(vec![1e20, 1.0, 1e-7])),
            Arc::new(list),
            Arc::new(strukt),
            Arc::new(dict),
            Arc::new(TimestampNanosecondArray::from(vec![-1, 1_704_067_200_000_001_000, 1_704_067_200_000_000_001])),
            Arc::new(TimestampMicrosecondArray::from(vec![TS_2024, TS_2024, TS_2024]).with_timezone("+02:00")),
        ],
    )
    .unwrap();
    // A slice exercises offset handling everywhere.
    let files = write_all(dir.path(), "n", config(FileFormat::Jsonl), &[batch.slice(0, 1), batch.slice(1, 2)]);
    let text = read_text(&files[0].path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"u":18446744073709551615,"f32":0.5,"f":1e+20,"l":[1,null],"s":{"a":1,"b":"x"},"dict":"p","ns":"1969-12-31T23:59:59.999999999","off":"2024-01-01T02:00:00+02:00"}"#,
            r#"{"u":0,"f32":1.0,"f":1.0,"s":{"a":null,"b":"y"},"ns":"2024-01-01T00:00:00.000001","off":"2024-01-01T02:00:00+02:00"}"#,
            r#"{"u":7,"f":1e-7,"l":[3],"s":{"a":3,"b":"z"},"dict":"p","ns":"2024-01-01T00:00:00.000000001","off":"2024-01-01T02:00:00+02:00"}"#,
        ]
    );
}

#[test]
fn float_formatting_matches_orjson() {
    let cases = [
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (1.2345678901234568e17, "1.2345678901234568e+17"),
        (1e-4, "0.0001"),
        (1e-5, "0.00001"),
        (1e-6, "1e-6"),
        (1.5e-7, "1.5e-7"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (12345678.9, "12345678.9"),
        (100.0, "100.0"),
    ];
    for (v, want) in cases {
        let mut out = Vec::new();
        write_json_float(&mut out, v);
        assert_eq!(String::from_utf8(out).unwrap(), want, "{v:e}");
    }
    let mut out = Vec::new();
    write_json_float(&mut out, f64::NAN);
    write_csv_float(&mut out, f64::NAN);
    write_csv_float(&mut out, f64::NEG_INFINITY);
    assert_eq!(out, b"nullnan-inf");
}

#[test]
fn temporal_and_decimal_formatting() {
    let ts = |v: i64, unit: TimeUnit, tz: Option<&str>| {
        let mut out = Vec::new();
        write_timestamp(&mut out, v, unit, parse_tz(tz));
        String::from_utf8(out).unwrap()
    };
    assert_eq!(ts(0, TimeUnit::Second, Some("UTC")), "1970-01-01T00:00:00+00:00");
    assert_eq!(ts(-1, TimeUnit::Millisecond, Some("Z")), "1969-12-31T23:59:59.999000+00:00");
    assert_eq!(ts(1_704_067_200_500, TimeUnit::Millisecond, None), "2024-01-01T00:00:00.500000");
    assert_eq!(ts(0, TimeUnit::Second, Some("-05:30")), "1969-12-31T18:30:00-05:30");
    assert_eq!(ts(0, TimeUnit::Second, Some("Europe/Berlin")), "1970-01-01T00:00:00+00:00");
    assert_eq!(ts(951_782_400, TimeUnit::Second, Some("UTC")), "2000-02-29T00:00:00+00:00");
    assert_eq!(ts(-62_135_596_800, TimeUnit::Second, None), "0001-01-01T00:00:00");
    assert_eq!(ts(253_402_300_799, TimeUnit::Second, None), "9999-12-31T23:59:59");

    let dec = |v: i128, s: i8| {
        let mut out = Vec::new();
        write_decimal_i128(&mut out, v, s);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(dec(1_500_000_000, 9), "1.500000000");
    assert_eq!(dec(-5, 9), "-0.000000005");
    assert_eq!(dec(0, 2), "0.00");
    assert_eq!(dec(-1234, 0), "-1234");
    assert_eq!(dec(15, -2), "1500");
    assert_eq!(dec(0, -2), "0");
    assert_eq!(dec(i128::MIN, 38), "-1.70141183460469231731687303715884105728");
    let mut out = Vec::new();
    write_decimal_str(&mut out, "-123456", 2);
    assert_eq!(out, b"-1234.56");
}

#[test]
fn csv_all_types_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_all(dir.path(), "items", config(FileFormat::Csv), &[all_types_batch()]);
    let f = &files[0];
    assert!(f.path.to_str().unwrap().ends_with(".csv.gz"));
    assert_eq!(f.rows, 2);
    let text = read_text(&f.path);
    let expected = concat!(
        "\"id\",\"name\",\"ts\",\"ts2\",\"d\",\"t\",\"dec\",\"b\",\"f\",\"ok\",\"j\",\"_dlt_id\"\n",
        "1,\"a\"\"b\nc,ü\t\\ 😀\",2024-01-01T00:00:00+00:00,2024-01-01T00:00:00.123456+00:00,2024-01-01,08:30:00,",
        "1.500000000,\"AAFoaQ==\",74.8723,true,\"{\"\"x\"\":[1,2,{\"\"y\"\":null}],\n \"\"s\"\":\"\"q\\\"\"\"\"}\",\"V2jI1llbbZ1m6g\"\n",
        "2,,,2024-01-01T00:00:00.000001+00:00,,08:30:00.000005,-0.000000005,,nan,,,\"Mbr7Qt+0SoNlfA\"\n",
    );
    assert_eq!(text, expected);
    assert_eq!(f.columns.len(), 12);
}

#[test]
fn csv_minimal_quoting_delimiter_and_empty_string() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("a b", DataType::Utf8, true), Field::new("n", DataType::Int64, true)]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![Some("plain"), Some(""), None, Some("x|y"), Some("q\"")])),
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4), Some(5)])),
        ],
    )
    .unwrap();
    let cfg = WriterConfig { compression: false, csv_delimiter: b'|', csv_quoting: CsvQuoting::Minimal, ..config(FileFormat::Csv) };
    let files = write_all(dir.path(), "t", cfg.clone(), std::slice::from_ref(&batch));
    assert!(files[0].path.to_str().unwrap().ends_with(".csv"));
    assert_eq!(fs::read_to_string(&files[0].path).unwrap(), "a b|n\nplain|1\n\"\"|\n|3\n\"x|y\"|4\n\"q\"\"\"|5\n");
    let cfg = WriterConfig { csv_quoting: CsvQuoting::All, csv_delimiter: b',', csv_include_header: false, ..cfg };
    let files = write_all(dir.path(), "u", cfg, &[batch]);
    assert_eq!(fs::read_to_string(&files[0].path).unwrap(), "\"plain\",\"1\"\n\"\",\n,\"3\"\n\"x|y\",\"4\"\n\"q\"\"\",\"5\"\n");
}

#[test]
fn parquet_all_types_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let batch = all_types_batch();
    let files = write_all(dir.path(), "items", config(FileFormat::Parquet), std::slice::from_ref(&batch));
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert!(f.path.file_name().unwrap().to_str().unwrap().ends_with(".0.parquet"));
    assert!(!f.compressed);
    assert_eq!(&fs::read(&f.path).unwrap()[..4], b"PAR1");
    let (schema, batches) = read_parquet(&f.path);
    let expected_schema = strip_metadata(batch.schema_ref());
    assert_eq!(schema.as_ref(), expected_schema.as_ref());
    assert!(schema.fields().iter().all(|f| f.metadata().is_empty()));
    assert!(!schema.field_with_name("_dlt_id").unwrap().is_nullable());
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].columns(), batch.columns());

    let reader = SerializedFileReader::new(File::open(&f.path).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 2);
    let rg = meta.row_group(0);
    assert!(rg.columns().iter().all(|c| c.compression() == Compression::SNAPPY));
    // pyarrow's defaults: min/max per row group, no page index; none for random row ids
    for c in rg.columns() {
        assert!(c.column_index_offset().is_none(), "{}: no page index", c.column_path());
        let is_id = c.column_path().string() == "_dlt_id";
        assert_eq!(c.statistics().is_some_and(|st| st.min_bytes_opt().is_some()), !is_id, "{}", c.column_path());
    }
    let descr = meta.file_metadata().schema_descr();
    let ts = descr.column(2);
    assert_eq!(ts.logical_type_ref(), Some(&parquet::basic::LogicalType::timestamp(true, parquet::basic::TimeUnit::MICROS)));
    assert!(meta.file_metadata().key_value_metadata().is_none_or(|kv| kv.iter().all(|k| k.key == "ARROW:schema")));
}

/// Columns whose first values are mostly distinct are written plain, the others with a
/// dictionary; plain columns snappy cannot shrink by a tenth are written uncompressed;
/// all read back equal.
#[test]
fn parquet_dictionary_only_for_repeating_columns() {
    let n = 3000;
    let sha: Vec<String> = (0..n).map(|i| format!("{:040x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
    let kind: Vec<&str> = (0..n).map(|i| ["push", "watch", "fork"][i % 3]).collect();
    // distinct, but only 100 values: too few to judge, keeps the dictionary
    let rare: Vec<Option<String>> = (0..n).map(|i| (i % 30 == 0).then(|| format!("r{i}"))).collect();
    // half distinct: plain
    let half: Vec<String> = (0..n).map(|i| format!("h{}", i / 2)).collect();
    // fixed-width values are sampled the same way: distinct timestamps and sliced
    // (offset) ids plain, a repeating count with nulls keeps its dictionary
    let ts: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 1_000_003).collect();
    let ids = Int64Array::from((0..n as i64 + 10).map(|i| i * 7).collect::<Vec<_>>()).slice(10, n);
    let count: Vec<Option<i64>> = (0..n as i64).map(|i| (i % 4 != 0).then_some(i % 5)).collect();
    // random hex digests and random bytes: distinct, and snappy saves under a tenth
    let mut rng = fastrand::Rng::with_seed(7);
    let digest: Vec<String> = (0..n).map(|_| (0..20).map(|_| format!("{:02x}", rng.u8(..))).collect()).collect();
    let random: Vec<Vec<u8>> = (0..n).map(|_| (0..16).map(|_| rng.u8(..)).collect()).collect();
    // nullable where the column has nulls (`rare`, `count`)
    let batch = RecordBatch::try_from_iter([
        ("sha", Arc::new(StringArray::from(sha)) as ArrayRef),
        ("kind", Arc::new(StringArray::from(kind))),
        ("rare", Arc::new(StringArray::from(rare))),
        ("half", Arc::new(BinaryArray::from_iter_values(half.iter().map(|h| h.as_bytes())))),
        ("ts", Arc::new(arrow_array::TimestampMicrosecondArray::from(ts).with_timezone("UTC"))),
        ("ids", Arc::new(ids)),
        ("count", Arc::new(Int64Array::from(count))),
        ("digest", Arc::new(StringArray::from(digest))),
        ("random", Arc::new(BinaryArray::from_iter_values(random.iter()))),
    ])
    .unwrap();
    // writes the batch with `config`; checks it reads back equal; each column's dictionary
    // and codec
    let written = |config: WriterConfig| -> Vec<(String, bool, Compression)> {
        let dir = tempfile::tempdir().unwrap();
        let files = write_all(dir.path(), "t", config, std::slice::from_ref(&batch));
        let (schema, batches) = read_parquet(&files[0].path);
        assert_eq!(arrow_select::concat::concat_batches(&schema, &batches).unwrap().columns(), batch.columns());
        let reader = SerializedFileReader::new(File::open(&files[0].path).unwrap()).unwrap();
        let rg = reader.metadata().row_group(0);
        rg.columns().iter().map(|c| (c.column_path().string(), c.dictionary_page_offset().is_some(), c.compression())).collect()
    };
    let (s, u) = (Compression::SNAPPY, Compression::UNCOMPRESSED);
    let want: Vec<(String, bool, Compression)> = [
        ("sha", false, s),
        ("kind", true, s),
        ("rare", true, s),
        ("half", false, s),
        ("ts", false, s),
        ("ids", false, s),
        ("count", true, s),
        ("digest", false, u),
        ("random", false, u),
    ]
    .iter()
    .map(|(c, d, z)| (c.to_string(), *d, *z))
    .collect();
    assert_eq!(written(config(FileFormat::Parquet)), want);

    // another codec is kept on every column: the user chose size over speed
    let mut zstd = config(FileFormat::Parquet);
    zstd.parquet_compression = Compression::ZSTD(Default::default());
    assert!(written(zstd).iter().all(|(_, _, z)| *z == Compression::ZSTD(Default::default())));
}

#[test]
fn parquet_nullability_change_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![Some(1), None]))]).unwrap();
    let required = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
    let mut w = TableWriter::new(dir.path(), "req", config(FileFormat::Parquet));
    w.write_empty(&required).unwrap();
    // Same names, different nullability: rotates to a new (nullable) file, no error.
    w.write(&batch).unwrap();
    let files = w.finish().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].rows, 0);
    assert_eq!(files[1].rows, 2);
}

#[test]
fn rotation_by_items_splits_batches() {
    let dir = tempfile::tempdir().unwrap();
    for format in [FileFormat::Jsonl, FileFormat::Csv, FileFormat::Parquet] {
        let sub = dir.path().join(format.extension());
        fs::create_dir(&sub).unwrap();
        let cfg = WriterConfig { file_max_items: Some(3), ..config(format) };
        let files = write_all(&sub, "items", cfg, &[int_batch(&["a"], 0, 2), int_batch(&["a"], 2, 5)]);
        assert_eq!(files.iter().map(|f| f.rows).collect::<Vec<_>>(), [3, 3, 1], "{format}");
        let ids: HashSet<&str> = files.iter().map(|f| f.file_id.as_str()).collect();
        assert_eq!(ids.len(), 3);
        // Content continues across files in order.
        let mut values = Vec::new();
        for f in &files {
            match format {
                FileFormat::InsertValues => unreachable!("not in this test"),
                FileFormat::Parquet => {
                    for b in read_parquet(&f.path).1 {
                        values.extend(b.column(0).as_primitive::<Int64Type>().values().iter().copied());
                    }
                }
                FileFormat::Jsonl => {
                    for l in read_text(&f.path).lines() {
                        let v: serde_json::Value = serde_json::from_str(l).unwrap();
                        values.push(v["a"].as_i64().unwrap());
                    }
                }
                FileFormat::Csv => {
                    let text = read_text(&f.path);
                    let mut lines = text.lines();
                    assert_eq!(lines.next(), Some("\"a\""));
                    values.extend(lines.map(|l| l.parse::<i64>().unwrap()));
                }
            }
        }
        assert_eq!(values, (0..7).collect::<Vec<_>>());
    }
}

#[test]
fn rotation_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (format, compression) in
        [(FileFormat::Jsonl, false), (FileFormat::Jsonl, true), (FileFormat::Csv, false), (FileFormat::Parquet, false)]
    {
        let sub = dir.path().join(format!("{format}{compression}"));
        fs::create_dir(&sub).unwrap();
        let max = 20_000;
        let cfg = WriterConfig { file_max_bytes: Some(max), compression, ..config(format) };
        let batch = int_batch(&["a", "b", "c"], 1_000_000_000, 10_000);
        let files = write_all(&sub, "items", cfg, &[batch.clone(), batch]);
        assert!(files.len() > 2, "{format} {compression}: {} files", files.len());
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 20_000);
        for f in &files[..files.len() - 1] {
            assert!(f.rows > 0);
            // Rotation happens after the write that crossed the limit: within one slice.
            if !compression && format != FileFormat::Parquet {
                assert!(f.bytes >= max, "{format}: {} < {max}", f.bytes);
                assert!(f.bytes < max + 64 * BYTES_CHECK_ROWS as u64, "{format}: {}", f.bytes);
            }
        }
    }
}

#[test]
fn schema_change_rotates_parquet_and_csv_but_not_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let first = int_batch(&["a"], 0, 2);
    let second = int_batch(&["a", "b"], 2, 2);
    let third = int_batch(&["a", "b"], 4, 1);
    for format in [FileFormat::Jsonl, FileFormat::Csv, FileFormat::Parquet] {
        let sub = dir.path().join(format.extension());
        fs::create_dir(&sub).unwrap();
        let files = write_all(&sub, "items", config(format), &[first.clone(), second.clone(), third.clone()]);
        match format {
            FileFormat::Jsonl => {
                assert_eq!(files.len(), 1);
                assert_eq!(files[0].rows, 5);
                assert_eq!(files[0].columns, ["a", "b"]);
                let text = read_text(&files[0].path);
                assert_eq!(text.lines().nth(2), Some(r#"{"a":2,"b":2}"#));
            }
            _ => {
                assert_eq!(files.iter().map(|f| f.rows).collect::<Vec<_>>(), [2, 3], "{format}");
                assert_eq!(files[0].columns, ["a"]);
                assert_eq!(files[1].columns, ["a", "b"]);
            }
        }
    }
    // A type change alone rotates parquet, not csv (same header).
    let strings = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["x"]))],
    )
    .unwrap();
    let sub = dir.path().join("types");
    fs::create_dir(&sub).unwrap();
    assert_eq!(write_all(&sub, "p", config(FileFormat::Parquet), &[first.clone(), strings.clone()]).len(), 2);
    assert_eq!(write_all(&sub, "c", config(FileFormat::Csv), &[first, strings]).len(), 1);
}

#[test]
fn empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let schema = all_types_batch().schema();
    for format in [FileFormat::Jsonl, FileFormat::Csv, FileFormat::Parquet] {
        let mut w = TableWriter::new(dir.path(), "empty", config(format));
        w.write(&all_types_batch().slice(0, 0)).unwrap();
        w.write_empty(&schema).unwrap();
        w.write_empty(&schema).unwrap();
        let files = w.finish().unwrap();
        assert_eq!(files.len(), 1, "{format}");
        let f = &files[0];
        assert_eq!(f.rows, 0);
        assert_eq!(f.columns.len(), 12);
        match format {
            FileFormat::Jsonl => {
                assert!(f.path.to_str().unwrap().ends_with(".jsonl.gz"));
                assert_eq!(read_text(&f.path), "");
            }
            FileFormat::Csv => {
                assert_eq!(read_text(&f.path), "\"id\",\"name\",\"ts\",\"ts2\",\"d\",\"t\",\"dec\",\"b\",\"f\",\"ok\",\"j\",\"_dlt_id\"\n")
            }
            FileFormat::Parquet => {
                let (read_schema, batches) = read_parquet(&f.path);
                assert_eq!(read_schema, strip_metadata(&schema));
                assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
            }
            FileFormat::InsertValues => unreachable!("not in this test"),
        }
    }
    // Nothing written, nothing asked: no file.
    let w = TableWriter::new(dir.path(), "none", config(FileFormat::Csv));
    assert!(w.finish().unwrap().is_empty());
    // write_empty after data is a no-op.
    let mut w = TableWriter::new(dir.path(), "some", config(FileFormat::Csv));
    w.write(&int_batch(&["a"], 0, 1)).unwrap();
    w.write_empty(&schema).unwrap();
    let files = w.finish().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].rows, 1);
}

#[test]
fn temp_file_then_rename() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TableWriter::new(dir.path(), "items", config(FileFormat::Jsonl));
    assert!(dir_names(dir.path()).is_empty(), "no file before the first write");
    w.write(&int_batch(&["a"], 0, 3)).unwrap();
    let during = dir_names(dir.path());
    assert_eq!(during.len(), 1);
    assert!(during[0].starts_with(".items.") && during[0].ends_with(".jsonl.gz.tmp"), "{during:?}");
    let files = w.finish().unwrap();
    let after = dir_names(dir.path());
    assert_eq!(after, [files[0].path.file_name().unwrap().to_str().unwrap()]);
    assert!(!after[0].ends_with(".tmp"));

    // Dropped without finish: the temporary file goes away, rotated files stay.
    let cfg = WriterConfig { file_max_items: Some(2), ..config(FileFormat::Parquet) };
    let mut w = TableWriter::new(dir.path(), "dropped", cfg);
    w.write(&int_batch(&["a"], 0, 3)).unwrap();
    assert_eq!(w.closed_files().len(), 1);
    assert_eq!(w.rows_written(), 3);
    drop(w);
    let names = dir_names(dir.path());
    assert_eq!(names.len(), 2);
    assert!(names.iter().all(|n| !n.ends_with(".tmp")));
}

#[test]
fn file_names_ids_and_formats() {
    let id = new_file_id();
    assert_eq!(id.len(), 10);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_ne!(new_file_id(), new_file_id());
    assert_eq!(job_file_name("items", "0123456789", FileFormat::Jsonl, true), "items.0123456789.0.jsonl.gz");
    assert_eq!(job_file_name("items", "0123456789", FileFormat::Parquet, true), "items.0123456789.0.parquet");
    assert_eq!(job_file_name("items", "0123456789", FileFormat::Csv, false), "items.0123456789.0.csv");
    assert_eq!(FileFormat::parse("jsonl"), Some(FileFormat::Jsonl));
    assert_eq!(FileFormat::parse("Parquet"), Some(FileFormat::Parquet));
    assert_eq!(FileFormat::parse("csv"), Some(FileFormat::Csv));
    assert_eq!(FileFormat::parse("insert_values"), Some(FileFormat::InsertValues));
    assert_eq!(FileFormat::parse("sql"), None);
    assert!(FileFormat::Jsonl.supports_compression() && FileFormat::Csv.supports_compression());
    assert!(!FileFormat::Parquet.supports_compression());
    assert_eq!(FileFormat::Csv.to_string(), "csv");

    let dir = tempfile::tempdir().unwrap();
    for (format, compression, suffix) in [
        (FileFormat::Jsonl, true, "jsonl.gz"),
        (FileFormat::Csv, true, "csv.gz"),
        (FileFormat::Parquet, true, "parquet"),
        (FileFormat::Csv, false, "csv"),
    ] {
        let files = write_all(dir.path(), "tbl", WriterConfig { compression, ..config(format) }, &[int_batch(&["a"], 0, 1)]);
        let name = files[0].path.file_name().unwrap().to_str().unwrap().to_string();
        let parts: Vec<&str> = name.split('.').collect();
        assert_eq!(parts[0], "tbl");
        assert_eq!(parts[1], files[0].file_id);
        assert_eq!(parts[2], "0");
        assert_eq!(parts[3..].join("."), suffix);
        assert_eq!(files[0].path.parent().unwrap(), dir.path());
        assert_eq!(files[0].table_name, "tbl");
        assert_eq!(files[0].format, format);
    }
}

#[test]
fn errors_name_path_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let mut w = TableWriter::new(&missing, "items", config(FileFormat::Jsonl));
    let err = w.write(&int_batch(&["a"], 0, 1)).unwrap_err();
    assert!(matches!(err, WriterError::Io { .. }));
    assert!(err.path().starts_with(&missing));
    assert_eq!(err.table(), "items");
    let msg = err.to_string();
    assert!(msg.contains("items") && msg.contains(missing.to_str().unwrap()), "{msg}");

    let mut w = TableWriter::new(dir.path(), "bad.name", config(FileFormat::Jsonl));
    let err = w.write(&int_batch(&["a"], 0, 1)).unwrap_err();
    assert!(matches!(err, WriterError::InvalidConfig { .. }), "{err}");
    assert!(err.to_string().contains("bad.name"));

    let cfg = WriterConfig { file_max_items: Some(0), ..config(FileFormat::Csv) };
    let mut w = TableWriter::new(dir.path(), "items", cfg);
    assert!(matches!(w.write(&int_batch(&["a"], 0, 1)), Err(WriterError::InvalidConfig { .. })));
}
