//! [`PipelineBuilder`]: destination, staging, dataset, folders and config, checked when the pipeline is built.

use super::*;

/// Builds a [`Pipeline`].
pub struct PipelineBuilder {
    pub(super) name: String,
    pub(super) destination: Option<Arc<dyn Destination>>,
    pub(super) staging: Option<Arc<dyn StagingDestination>>,
    pub(super) dataset_name: Option<String>,
    pub(super) pipelines_dir: Option<PathBuf>,
    pub(super) config: Option<Config>,
    pub(super) format: Option<FileFormat>,
    pub(super) progress: Option<ProgressFn>,
    pub(super) wait_for_lock: bool,
}

impl PipelineBuilder {
    /// When another run holds this pipeline: wait for it (`true`) instead of failing at once
    /// (the default). Runs of one pipeline never overlap: they would mix their packages.
    pub fn wait_for_lock(mut self, wait: bool) -> Self {
        self.wait_for_lock = wait;
        self
    }
    /// Sets the destination.
    pub fn destination(mut self, d: Arc<dyn Destination>) -> Self {
        self.destination = Some(d);
        self
    }
    /// Loads through a staging storage (dlt's `staging="filesystem"`): job files are uploaded
    /// there first (under `<bucket>/<dataset>/`, the destination's dataset name), and the
    /// destination loads them from the bucket. The destination must support staging; the
    /// file format is the destination's preferred staging format the staging storage holds
    /// (see [`crate::staging::staging_file_formats`]).
    pub fn staging(mut self, s: Arc<dyn StagingDestination>) -> Self {
        self.staging = Some(s);
        self
    }
    /// Sets the dataset name (default `<pipeline>_dataset`).
    pub fn dataset_name(mut self, n: &str) -> Self {
        self.dataset_name = Some(n.into());
        self
    }
    /// Folder holding pipeline working folders (default `~/.stevedore/pipelines`).
    pub fn pipelines_dir(mut self, p: impl Into<PathBuf>) -> Self {
        self.pipelines_dir = Some(p.into());
        self
    }
    /// Configuration (default: discovered from the current folder and environment).
    pub fn config(mut self, c: Config) -> Self {
        self.config = Some(c);
        self
    }
    /// Loader file format for all tables (default: the destination's preferred format).
    pub fn loader_file_format(mut self, f: FileFormat) -> Self {
        self.format = Some(f);
        self
    }
    /// A progress callback.
    pub fn progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
    /// Builds the pipeline; reads settings and validates them.
    pub fn build(self) -> Result<Pipeline> {
        crate::schema::Schema::validate_name(&self.name).map_err(|e| {
            Error::config(format!("invalid pipeline name `{}`", self.name)).with_hint(e.hint().unwrap_or_default().to_string())
        })?;
        let destination =
            self.destination.ok_or_else(|| Error::config("no destination set").with_hint("call .destination(...) on the builder"))?;
        let config = match self.config {
            Some(c) => c,
            None => Config::from_env()?,
        }
        .with_pipeline_name(&self.name);
        let pipeline_cfg = PipelineConfig::read(&config)?;
        let pipelines_dir = match self.pipelines_dir {
            Some(p) => p,
            None => pipeline_cfg.pipelines_dir_or_default()?,
        };
        let dataset_name = match self.dataset_name {
            Some(d) => d,
            None => pipeline_cfg.dataset_name.unwrap_or_else(|| format!("{}_dataset", self.name)),
        };
        let writer = DataWriterConfig::read(&config)?;
        let compression = !writer.disable_compression;
        let mut loader = LoadConfig::read(&config)?.loader_options();
        let caps = destination.capabilities();
        if let Some(w) = caps.max_parallel_load_jobs {
            loader.workers = loader.workers.min(w);
        }
        // the chain is checked before anything is extracted
        let stage_formats = self.staging.as_ref().map(|s| (s.name().to_string(), s.supported_file_formats()));
        let formats = crate::staging::staging_file_formats(
            destination.name(),
            &caps,
            stage_formats.as_ref().map(|(n, f)| (n.as_str(), f.as_slice())),
        )?;
        let mut normalizer = NormalizerOptions::default();
        if let Some(b) = writer.buffer_max_items {
            normalizer.batch_rows = b.max(1);
        }
        let normalize = NormalizeConfig::read(&config)?;
        if let Some(m) = normalize.max_nesting {
            normalizer.max_nesting = Some(u32::try_from(m).unwrap_or(u32::MAX));
        }
        if let Some(w) = normalize.workers {
            normalizer.workers = w.max(1);
        }
        Ok(Pipeline {
            working_dir: pipelines_dir.join(&self.name),
            name: self.name,
            destination,
            staging: self.staging,
            formats,
            dataset_name,
            config,
            format: self.format,
            compression,
            file_max_items: writer.file_max_items,
            file_max_bytes: writer.file_max_bytes,
            loader,
            normalizer,
            progress: self.progress,
            wait_for_lock: self.wait_for_lock,
        })
    }
}

/// `~/.stevedore/pipelines`.
pub fn default_pipelines_dir() -> Result<PathBuf> {
    let home =
        std::env::var_os("HOME").ok_or_else(|| Error::config("HOME is not set").with_hint("pass a pipelines folder (--pipelines-dir)"))?;
    Ok(PathBuf::from(home).join(".stevedore").join("pipelines"))
}
