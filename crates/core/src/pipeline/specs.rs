//! The config sections the core reads (`[normalize]`, `[data_writer]`, `[load]`, `[pipeline]`,
//! `[runtime]`), each declared once as a typed struct.

use super::*;
use crate::loader::LoaderOptions;

crate::config_section! {
    /// `[data_writer]` / `[normalize.data_writer]` keys.
    pub static DATA_WRITER_SPEC = ["normalize", "data_writer"], alt [["data_writer"]];
    /// Resolved `[normalize.data_writer]` settings.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DataWriterConfig {
        /// write jsonl/csv without gzip
        pub disable_compression: bool = false => "false",
        /// rows buffered per table before a batch is written
        pub buffer_max_items: Option<usize> = None => "16384",
        /// rotate job files after this many rows
        pub file_max_items: Option<usize> = None,
        /// rotate job files at this size
        pub file_max_bytes: Option<u64> = None,
    }
}

crate::config_section! {
    /// `[load]` keys.
    pub static LOAD_SPEC = ["load"];
    /// Resolved `[load]` settings.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LoadConfig {
        /// parallel load jobs
        pub workers: usize = LoaderOptions::default().workers => "20",
        /// a job that fails for good aborts its package (no load marker)
        pub raise_on_failed_jobs: bool = LoaderOptions::default().raise_on_failed_jobs => "true",
        /// attempts per job and run for transient errors (exponential backoff from 200 ms)
        pub raise_on_max_retries: u64 = LoaderOptions::default().max_attempts.into() => "5",
        /// delete job files of loaded packages
        pub delete_completed_jobs: bool = LoaderOptions::default().delete_completed_jobs => "false",
        /// empty the staging tables of a load after it completed (SQL destinations)
        pub truncate_staging_dataset: bool = LoaderOptions::default().truncate_staging_dataset => "false",
    }
}

impl LoadConfig {
    /// The loader's options from these settings (at least one worker and one attempt).
    pub fn loader_options(&self) -> LoaderOptions {
        LoaderOptions {
            workers: self.workers.max(1),
            raise_on_failed_jobs: self.raise_on_failed_jobs,
            max_attempts: u32::try_from(self.raise_on_max_retries.max(1)).unwrap_or(u32::MAX),
            delete_completed_jobs: self.delete_completed_jobs,
            truncate_staging_dataset: self.truncate_staging_dataset,
            ..LoaderOptions::default()
        }
    }
}

crate::config_section! {
    /// `[normalize]` keys.
    pub static NORMALIZE_SPEC = ["normalize"], children [&DATA_WRITER_SPEC_CHILD];
    /// Resolved `[normalize]` settings.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NormalizeConfig {
        /// nesting depth below which nested data stays a JSON column
        pub max_nesting: Option<u64> = None => "1000",
        /// threads normalizing JSON-lines input (1 = sequential); results are identical either way
        pub workers: Option<usize> = None => "available cores",
    }
}

pub(super) static DATA_WRITER_SPEC_CHILD: SectionSpec = SectionSpec { path: &["data_writer"], ..DATA_WRITER_SPEC };

crate::config_section! {
    /// `[pipeline]` keys.
    pub static PIPELINE_SPEC = ["pipeline"];
    /// Resolved `[pipeline]` settings.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PipelineConfig {
        /// where pipeline working folders live (`--pipelines-dir`)
        pub pipelines_dir: Option<String> = None => "`~/.stevedore/pipelines`",
        /// dataset name (`--dataset`)
        pub dataset_name: Option<String> = None => "`<pipeline>_dataset`",
    }
}

impl PipelineConfig {
    /// `pipelines_dir`, else the default (`~/.stevedore/pipelines`).
    pub fn pipelines_dir_or_default(&self) -> Result<PathBuf> {
        match &self.pipelines_dir {
            Some(p) => Ok(PathBuf::from(p)),
            None => default_pipelines_dir(),
        }
    }
}

crate::config_section! {
    /// `[runtime]` keys.
    pub static RUNTIME_SPEC = ["runtime"];
    /// Resolved `[runtime]` settings.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RuntimeConfig {
        /// log level: error, warn, info, debug (`RUST_LOG` wins)
        pub log_level: Option<String> = None => "`warn`",
    }
}

/// The config sections the core reads; destinations add their own.
pub fn core_specs() -> Vec<&'static SectionSpec> {
    vec![&DATA_WRITER_SPEC, &LOAD_SPEC, &NORMALIZE_SPEC, &PIPELINE_SPEC, &RUNTIME_SPEC]
}
