//! Micro-benchmarks of the relational normalizer: records/s into Arrow batches, so
//! regressions show on a small scale. `cargo bench -p stevedore-core --bench normalize`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stevedore_core::naming::SnakeCase;
use stevedore_core::normalize::{CollectSink, JScratch, JVal, Normalizer, NormalizerOptions};
use stevedore_core::schema::Schema;

fn records(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{i}","type":"PushEvent","actor":{{"id":{i},"login":"user{i}","url":"https://x/{i}"}},"repo":{{"id":{},"name":"o/r{i}"}},"payload":{{"size":2,"commits":[{{"sha":"a{i}","author":{{"name":"n","email":"e"}},"message":"fix {i}","distinct":true}},{{"sha":"b{i}","author":{{"name":"n","email":"e"}},"message":"add","distinct":false}}]}},"public":true,"created_at":"2024-01-01T00:00:{:02}Z","score":{}.5,"tags":["rust","data"]}}"#,
                i * 7,
                i % 60,
                i % 100
            )
        })
        .collect()
}

fn bench_normalize(c: &mut Criterion) {
    let lines = records(10_000);
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_only", |b| {
        let (mut arena, mut scratch) = (bumpalo::Bump::new(), JScratch::default());
        b.iter(|| {
            for l in &lines {
                black_box(JVal::parse_with(l, &arena, &mut scratch).unwrap());
                arena.reset();
            }
        })
    });
    g.bench_function("parse_and_normalize", |b| {
        b.iter(|| {
            let mut sink = CollectSink::default();
            let mut n = Normalizer::new(Schema::new("bench"), Arc::new(SnakeCase::new(None)), "1", NormalizerOptions::default(), &mut sink);
            let t = n.root_table("events").unwrap();
            let (mut arena, mut scratch) = (bumpalo::Bump::new(), JScratch::default());
            for l in &lines {
                n.push(t, &JVal::parse_with(l, &arena, &mut scratch).unwrap()).unwrap();
                arena.reset();
            }
            black_box(n.finish().unwrap());
        })
    });
    g.finish();
}

criterion_group!(benches, bench_normalize);
criterion_main!(benches);
