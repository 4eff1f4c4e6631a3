//! What a run reports: [`Progress`] events while it runs, [`LoadInfo`] and [`TableMetrics`] at the end.

use super::*;

/// Progress events for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Records normalized so far.
    Extracted {
        /// Records so far.
        records: u64,
    },
    /// A job finished.
    Job(JobMetrics),
    /// Another run holds the pipeline; this one waits for it (`wait_for_lock`).
    WaitingForLock {
        /// Who holds it (`process 1234`).
        holder: String,
    },
}

pub(super) type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Rows, files and bytes per table of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableMetrics {
    /// Rows.
    pub rows: u64,
    /// Job files.
    pub files: u64,
    /// Bytes of job files.
    pub bytes: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// Pipeline name.
    pub pipeline_name: String,
    /// Destination type.
    pub destination_name: String,
    /// Displayable destination location (no secrets).
    pub destination_location: String,
    /// Displayable staging storage location (no secrets), when loading through one.
    pub staging_location: Option<String>,
    /// Dataset.
    pub dataset_name: String,
    /// Packages loaded in this run (resumed ones first).
    pub packages: Vec<PackageLoad>,
    /// Per table of the new package (or of the pending package that already held the input).
    pub tables: BTreeMap<String, TableMetrics>,
    /// What the run did besides loading its input: packages resumed, input found already in a
    /// pending package.
    pub notes: Vec<String>,
    /// Data-related warnings (e.g. keys that normalized to one column).
    pub warnings: Vec<String>,
    /// Records read from the source.
    pub records: u64,
    /// Time spent extracting and normalizing.
    pub normalize_elapsed: Duration,
    /// Time spent loading.
    pub load_elapsed: Duration,
}

impl LoadInfo {
    /// Rows of all tables.
    pub fn rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
    /// Bytes of all job files.
    pub fn bytes(&self) -> u64 {
        self.tables.values().map(|t| t.bytes).sum()
    }
    /// Load ids in this run.
    pub fn load_ids(&self) -> Vec<&str> {
        self.packages.iter().map(|p| p.load_id.as_str()).collect()
    }
}

impl fmt::Display for LoadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Pipeline {} loaded {} package(s) to {} at {} (dataset {})",
            self.pipeline_name,
            self.packages.len(),
            self.destination_name,
            self.destination_location,
            self.dataset_name
        )?;
        if let Some(s) = &self.staging_location {
            writeln!(f, "  staged at {s}")?;
        }
        for n in &self.notes {
            writeln!(f, "  {n}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        for p in &self.packages {
            let failed = p.jobs.iter().filter(|j| j.state == crate::loader::JobState::Failed).count();
            writeln!(f, "  load {}: {} jobs, {} failed, {:?}", p.load_id, p.jobs.len(), failed, p.status)?;
        }
        for (t, m) in &self.tables {
            writeln!(f, "  {t}: {} rows in {} file(s), {} bytes", m.rows, m.files, m.bytes)?;
        }
        write!(
            f,
            "  {} records, {} rows; normalize {:.2?}, load {:.2?}",
            self.records,
            self.rows(),
            self.normalize_elapsed,
            self.load_elapsed
        )
    }
}
