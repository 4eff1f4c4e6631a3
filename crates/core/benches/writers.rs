//! Micro-benchmarks of the job-file writers (rows/s per format).
//! `cargo bench -p stevedore-core --bench writers`.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stevedore_core::writers::{FileFormat, TableWriter, WriterConfig};

fn batch(n: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n as i64)),
        Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("user-{i}")))),
        Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64 * 0.5))),
        Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))),
        Arc::new(TimestampMicrosecondArray::from_iter_values((0..n as i64).map(|i| i * 1_000_000)).with_timezone("UTC")),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

fn bench_writers(c: &mut Criterion) {
    let b = batch(100_000);
    let mut g = c.benchmark_group("writers");
    g.throughput(Throughput::Elements(b.num_rows() as u64));
    for (name, format, gz) in [
        ("parquet", FileFormat::Parquet, false),
        ("jsonl", FileFormat::Jsonl, false),
        ("jsonl_gz", FileFormat::Jsonl, true),
        ("csv", FileFormat::Csv, false),
    ] {
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let dir = tempfile::tempdir().unwrap();
                let mut cfg = WriterConfig::new(format);
                cfg.compression = gz;
                let mut w = TableWriter::new(dir.path(), "t", cfg);
                w.write(&b).unwrap();
                w.finish().unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_writers);
criterion_main!(benches);
