//! The config sections the core reads (`[normalize]`, `[data_writer]`, `[load]`, `[pipeline]`, `[runtime]`).

use super::*;

/// `[data_writer]` / `[normalize.data_writer]` keys.
pub static DATA_WRITER_SPEC: SectionSpec = SectionSpec {
    path: &["normalize", "data_writer"],
    alt_paths: &[&["data_writer"]],
    keys: &[
        KeySpec::new("disable_compression", ValueKind::Bool, "write jsonl/csv without gzip").with_default("false"),
        KeySpec::new("buffer_max_items", ValueKind::Integer, "rows buffered per table before a batch is written").with_default("16384"),
        KeySpec::new("file_max_items", ValueKind::Integer, "rotate job files after this many rows"),
        KeySpec::new("file_max_bytes", ValueKind::Integer, "rotate job files at this size"),
    ],
    children: &[],
};

/// `[load]` keys.
pub static LOAD_SPEC: SectionSpec = SectionSpec {
    path: &["load"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("workers", ValueKind::Integer, "parallel load jobs").with_default("20"),
        KeySpec::new("raise_on_failed_jobs", ValueKind::Bool, "a job that fails for good aborts its package (no load marker)")
            .with_default("true"),
        KeySpec::new(
            "raise_on_max_retries",
            ValueKind::Integer,
            "attempts per job and run for transient errors (exponential backoff from 200 ms)",
        )
        .with_default("5"),
        KeySpec::new("delete_completed_jobs", ValueKind::Bool, "delete job files of loaded packages").with_default("false"),
        KeySpec::new(
            "truncate_staging_dataset",
            ValueKind::Bool,
            "empty the staging tables of a load after it completed (SQL destinations)",
        )
        .with_default("false"),
    ],
    children: &[],
};

/// `[normalize]` keys.
pub static NORMALIZE_SPEC: SectionSpec = SectionSpec {
    path: &["normalize"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("max_nesting", ValueKind::Integer, "nesting depth below which nested data stays a JSON column").with_default("1000"),
        KeySpec::new(
            "workers",
            ValueKind::Integer,
            "threads normalizing JSON-lines input (1 = sequential); results are identical either way",
        )
        .with_default("available cores"),
    ],
    children: &[&DATA_WRITER_SPEC_CHILD],
};

pub(super) static DATA_WRITER_SPEC_CHILD: SectionSpec = SectionSpec { path: &["data_writer"], ..DATA_WRITER_SPEC };

/// `[pipeline]` keys.
pub static PIPELINE_SPEC: SectionSpec = SectionSpec {
    path: &["pipeline"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("pipelines_dir", ValueKind::String, "where pipeline working folders live (`--pipelines-dir`)")
            .with_default("`~/.stevedore/pipelines`"),
        KeySpec::new("dataset_name", ValueKind::String, "dataset name (`--dataset`)").with_default("`<pipeline>_dataset`"),
    ],
    children: &[],
};

/// `[runtime]` keys.
pub static RUNTIME_SPEC: SectionSpec = SectionSpec {
    path: &["runtime"],
    alt_paths: &[],
    keys: &[KeySpec::new("log_level", ValueKind::String, "log level: error, warn, info, debug (`RUST_LOG` wins)").with_default("`warn`")],
    children: &[],
};

/// The config sections the core reads; destinations add their own.
pub fn core_specs() -> Vec<&'static SectionSpec> {
    vec![&DATA_WRITER_SPEC, &LOAD_SPEC, &NORMALIZE_SPEC, &PIPELINE_SPEC, &RUNTIME_SPEC]
}
