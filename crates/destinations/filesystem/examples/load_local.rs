//! A JSON-lines load to a local folder without the CLI's other destinations: a quick build
//! for profiling the normalizer and the writers (`perf record`), not a user entry point.
//! Like the CLI it uses the system allocator, so glibc's `MALLOC_*` tunables apply.
//!
//! Usage: `load_local FILE OUT_DIR [parquet|jsonl|csv]`.

use std::sync::Arc;

use stevedore_core::pipeline::Pipeline;
use stevedore_core::source::Resource;
use stevedore_core::writers::FileFormat;
use stevedore_filesystem::Filesystem;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, out) = (&args[0], &args[1]);
    let format = match args.get(2).map(String::as_str) {
        Some("jsonl") => FileFormat::Jsonl,
        Some("csv") => FileFormat::Csv,
        _ => FileFormat::Parquet,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dest = Filesystem::builder().bucket_url(out).build().expect("destination");
        let p = Pipeline::builder("load_local")
            .destination(Arc::new(dest))
            .pipelines_dir(format!("{out}/.pipelines"))
            .loader_file_format(format)
            .build()
            .expect("pipeline");
        let info = p.run(Resource::from_files("events", [input.clone()])).await.expect("load");
        println!("{info}");
    });
}
