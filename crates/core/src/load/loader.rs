//! The loader: runs a committed load package against a destination client.
//!
//! Jobs run with bounded parallelism. A transient (retryable) error is retried with
//! exponential backoff; a job that keeps failing goes back to `new_jobs` with its retry count
//! raised, the package stays pending and the next run resumes it. A terminal error moves the
//! job to `failed_jobs` (its reason kept in `<job>.exception`), stops new jobs, and aborts the
//! package: no load marker is written, and what the package's data jobs wrote is removed from
//! the destination ([`DestinationClient::discard_package`]; an `aborting.json` marker makes a
//! later run finish that removal if it was interrupted). Jobs found in `started_jobs` (a crash
//! or kill while they ran) are run again: destination jobs are idempotent, so this never
//! duplicates rows.
//!
//! Through a staging storage ([`Staging`]), data jobs are uploaded to the staging bucket and
//! each leaves a reference job that the final destination runs; see [`crate::staging`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::destination::{Capabilities, DestinationClient, JobInfo, JobOutcome, PackageInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::package::{ABORTING_MARKER, COMPLETED_JOBS, FAILED_JOBS, LoadStorage, NEW_JOBS, Package, PackageStatus, STARTED_JOBS};
use crate::staging::{REFERENCE_FORMAT, StagingClient};

/// Environment variable: abort the process (as a crash would) after this many jobs completed
/// in this process. A deterministic fault hook for resume tests.
pub const FAULT_ABORT_AFTER_JOBS: &str = "STEVEDORE_FAULT_ABORT_AFTER_JOBS";

/// Loader settings (`[load]` section).
#[derive(Debug, Clone)]
pub struct LoaderOptions {
    /// Parallel jobs (`[load] workers`).
    pub workers: usize,
    /// Attempts per job within one run for retryable errors (`[load] raise_on_max_retries`).
    pub max_attempts: u32,
    /// First backoff delay; doubles per attempt.
    pub backoff: Duration,
    /// Abort the package when a job fails for good (`[load] raise_on_failed_jobs`).
    pub raise_on_failed_jobs: bool,
    /// Delete completed job files after the load (`[load] delete_completed_jobs`).
    pub delete_completed_jobs: bool,
    /// Empty the staging dataset after a completed load (`[load] truncate_staging_dataset`).
    pub truncate_staging_dataset: bool,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        LoaderOptions {
            workers: 20,
            max_attempts: 5,
            backoff: Duration::from_millis(200),
            raise_on_failed_jobs: true,
            delete_completed_jobs: false,
            truncate_staging_dataset: false,
        }
    }
}

/// Where a job ended in a run of the loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Done: its rows are in the destination (or it was found done there).
    Completed,
    /// Failed for good: the package is aborted.
    Failed,
    /// Failed with a retryable error: the package stays pending, the next run retries it.
    Retry,
}

impl JobState {
    /// `completed`, `failed` or `retry` (dlt's names).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Retry => "retry",
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for JobState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What happened to one job.
#[derive(Debug, Clone)]
pub struct JobMetrics {
    /// `<table>.<file_id>.<ext>`.
    pub job_id: String,
    /// Table.
    pub table: String,
    /// Where it ended.
    pub state: JobState,
    /// Attempts made in this run.
    pub attempts: u32,
    /// Size of the job file.
    pub file_size: u64,
    /// Time spent.
    pub elapsed: Duration,
    /// Where the data went.
    pub remote_url: Option<String>,
    /// Why it failed.
    pub failed_message: Option<String>,
}

/// The result of loading one package.
#[derive(Debug, Clone)]
pub struct PackageLoad {
    /// Load id.
    pub load_id: String,
    /// `loaded` or `aborted`.
    pub status: PackageStatus,
    /// Per job.
    pub jobs: Vec<JobMetrics>,
    /// Time spent.
    pub elapsed: Duration,
}

/// The staging side of a load through the staging storage chain.
pub struct Staging<'a> {
    /// The staging storage's client for the final destination's dataset.
    pub client: &'a dyn StagingClient,
    /// Remove the staged files of the package's tables before its first upload (the final
    /// destination's `truncate_tables_on_staging_destination_before_load`).
    pub truncate_before_load: bool,
}

/// Marker: the staged files of the package's tables were removed before its uploads.
pub const STAGING_TRUNCATED_MARKER: &str = "staging_truncated.json";

/// Which client runs a job.
#[derive(Clone, Copy)]
enum Target<'a> {
    Final(&'a dyn DestinationClient),
    Stage(&'a dyn StagingClient, &'a BTreeSet<(String, String)>),
}

static JOBS_DONE_IN_PROCESS: AtomicUsize = AtomicUsize::new(0);

fn fault_hook() {
    if let Some(n) = std::env::var(FAULT_ABORT_AFTER_JOBS).ok().and_then(|v| v.parse::<usize>().ok()) {
        let done = JOBS_DONE_IN_PROCESS.fetch_add(1, Ordering::SeqCst) + 1;
        if done >= n {
            eprintln!("stevedore: fault injection: aborting after {done} completed jobs ({FAULT_ABORT_AFTER_JOBS}={n})");
            std::process::abort();
        }
    }
}

/// Runs one package to completion (or to a clean stop that a later run resumes).
pub async fn load_package(
    storage: &LoadStorage,
    pkg: &Package,
    client: &dyn DestinationClient,
    caps: &Capabilities,
    staging: Option<&Staging<'_>>,
    opts: &LoaderOptions,
    progress: &(dyn Fn(&JobMetrics) + Send + Sync),
) -> Result<PackageLoad> {
    let started = Instant::now();
    let mut info = pkg.info()?;
    // every table's disposition, merge strategy, table format and dataset, decided once
    info.plan_tables(caps);
    if let Some(s) = staging {
        info.staging = Some(s.client.location());
    }
    let info = info;

    if pkg.has_marker(ABORTING_MARKER) {
        // aborted by a failed job in an earlier run that stopped before it removed the
        // package's files: finish that, and the package stays aborted
        discard(pkg, client, &info).await?;
        storage.finish(pkg, PackageStatus::Aborted)?;
        return Ok(PackageLoad { load_id: info.load_id, status: PackageStatus::Aborted, jobs: Vec::new(), elapsed: started.elapsed() });
    }

    // jobs interrupted by a crash run again
    for j in pkg.jobs(STARTED_JOBS)? {
        pkg.move_job(&j, NEW_JOBS, None)?;
    }

    client.begin_package(&info).await?;
    if !pkg.has_marker("applied_schema_updates.json") {
        client.initialize_storage().await?;
        client.migrate_schema(&info).await?;
        let tables: Vec<&str> = info.tables.iter().map(|(t, _)| t.as_str()).collect();
        pkg.write_marker("applied_schema_updates.json", &serde_json::to_vec(&tables)?)?;
    }
    if let Some(s) = staging.filter(|s| s.truncate_before_load)
        && !pkg.has_marker(STAGING_TRUNCATED_MARKER)
    {
        // before this package's first upload only: a resumed load keeps what it uploaded
        let tables: Vec<String> = info.tables.iter().map(|(t, _)| t.clone()).collect();
        s.client.truncate_tables(&info, &tables).await?;
        pkg.write_marker(STAGING_TRUNCATED_MARKER, &serde_json::to_vec(&tables)?)?;
    }

    let mut metrics = Vec::new();
    let aborted = Arc::new(AtomicBool::new(false));
    // phase 0: data jobs (uploads to the staging storage, which leave reference jobs, when
    // there is one); phase 1: reference jobs; phase 2: followups, created once all data and
    // reference jobs completed
    for phase in 0..3 {
        if phase == 2 {
            if aborted.load(Ordering::SeqCst) {
                break;
            }
            if !pkg.has_marker("followups.json") {
                // what ran on the final destination: the staged data jobs went to the bucket
                let completed: Vec<JobInfo> = pkg.jobs(COMPLETED_JOBS)?.into_iter().filter(|j| staging.is_none() || !j.is_data()).collect();
                let followups = client.create_followup_jobs(&info, &completed).await?;
                let existing: BTreeSet<String> = pkg.all_jobs()?.iter().map(JobInfo::job_id).collect();
                let mut names = Vec::new();
                for (i, f) in followups.iter().enumerate() {
                    let job = JobInfo {
                        table: f.table.clone(),
                        file_id: format!("f{i:09}"),
                        retry_count: 0,
                        format: f.format.clone(),
                        compressed: false,
                        path: pkg.new_jobs_dir(),
                        remote_url: None,
                    };
                    names.push(job.file_name());
                    if existing.contains(&job.job_id()) {
                        continue; // created before a crash
                    }
                    crate::package::write_atomic(&pkg.new_jobs_dir().join(job.file_name()), &f.content)?;
                }
                pkg.write_marker("followups.json", &serde_json::to_vec(&names)?)?;
            }
        }
        let jobs: Vec<JobInfo> = pkg
            .jobs(NEW_JOBS)?
            .into_iter()
            .filter(|j| match phase {
                0 => j.is_data(),
                1 => j.is_reference(),
                _ => j.is_followup(),
            })
            .collect();
        // data jobs whose reference was written before a crash are not uploaded again
        let staged: BTreeSet<(String, String)> = if phase == 0 && staging.is_some() {
            pkg.all_jobs()?.into_iter().filter(JobInfo::is_reference).map(|j| (j.table, j.file_id)).collect()
        } else {
            BTreeSet::new()
        };
        let target = match staging {
            Some(s) if phase == 0 => Target::Stage(s.client, &staged),
            _ => Target::Final(client),
        };
        let workers = opts.workers.max(1);
        let results: Vec<Result<JobMetrics>> = futures::stream::iter(jobs.into_iter().map(|job| {
            let aborted = aborted.clone();
            let info = &info;
            async move {
                if aborted.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                let m = run_one(pkg, target, info, job, opts).await?;
                if m.state == JobState::Failed && opts.raise_on_failed_jobs {
                    aborted.store(true, Ordering::SeqCst);
                }
                progress(&m);
                Ok(Some(m))
            }
        }))
        .buffer_unordered(workers)
        .filter_map(|r: Result<Option<JobMetrics>>| async move { r.transpose() })
        .collect()
        .await;
        for r in results {
            metrics.push(r?);
        }
        if let Some(m) = metrics.iter().find(|m| m.state == JobState::Retry) {
            return Err(Error::new(
                ErrorKind::Destination,
                format!("job {} did not succeed after {} attempts: {}", m.job_id, m.attempts, m.failed_message.as_deref().unwrap_or("")),
            )
            .retryable(true)
            .with("load_id", info.load_id.clone())
            .with_hint("the package is kept; run the same command again to resume the load"));
        }
    }

    if aborted.load(Ordering::SeqCst) {
        let failed: Vec<String> = metrics
            .iter()
            .filter(|m| m.state == JobState::Failed)
            .map(|m| format!("{}: {}", m.job_id, m.failed_message.as_deref().unwrap_or("")))
            .collect();
        pkg.write_marker(ABORTING_MARKER, &serde_json::to_vec(&failed)?)?;
        let removed = discard(pkg, client, &info).await?;
        storage.finish(pkg, PackageStatus::Aborted)?;
        let hint = if removed {
            "no load marker was written for this load id and the files its jobs wrote were removed; fix the cause and run again"
        } else {
            "no load marker was written for this load id; fix the cause and run again"
        };
        return Err(Error::new(ErrorKind::Destination, format!("load package aborted, failed jobs: {}", failed.join("; ")))
            .with("load_id", info.load_id.clone())
            .with_hint(hint));
    }

    client.complete_load(&info).await?;
    if opts.truncate_staging_dataset
        && let Err(e) = client.truncate_staging_dataset(&info).await
    {
        tracing::warn!(load_id = %info.load_id, error = %e, "could not truncate the staging dataset (the load itself is complete)");
    }
    let done = storage.finish(pkg, PackageStatus::Loaded)?;
    if opts.delete_completed_jobs {
        let _ = std::fs::remove_dir_all(done.dir.join(COMPLETED_JOBS));
    }
    Ok(PackageLoad { load_id: info.load_id, status: PackageStatus::Loaded, jobs: metrics, elapsed: started.elapsed() })
}

/// Removes what `pkg`'s data jobs wrote to the destination, unless a followup job already
/// ran (then the followups may have moved that data into final tables, and removing the job
/// files could lose rows that were there before). Returns whether it removed anything.
pub async fn discard(pkg: &Package, client: &dyn DestinationClient, info: &PackageInfo) -> Result<bool> {
    if pkg.jobs(COMPLETED_JOBS)?.iter().any(|j| j.is_followup()) {
        tracing::warn!(load_id = %info.load_id, "a followup job of this package already ran: its data stays in the destination, without a load marker");
        return Ok(false);
    }
    let jobs = pkg.final_jobs()?;
    client.discard_package(info, &jobs).await.map_err(|e| {
        e.with("load_id", info.load_id.clone()).with_hint(
            "the package is kept; run again to finish removing its files, or drop it with `stevedore pipeline NAME drop-pending-packages`",
        )
    })?;
    tracing::info!(load_id = %info.load_id, jobs = jobs.len(), "removed what the package's jobs wrote");
    Ok(true)
}

/// Uploads a data job to the staging storage and writes its reference job into `new_jobs`
/// (before the data job counts as completed), unless a reference was written before.
async fn stage(
    pkg: &Package,
    client: &dyn StagingClient,
    staged: &BTreeSet<(String, String)>,
    info: &PackageInfo,
    job: &JobInfo,
) -> Result<JobOutcome> {
    if staged.contains(&(job.table.clone(), job.file_id.clone())) {
        return Ok(JobOutcome::default());
    }
    let url = client.upload(info, job).await?;
    let reference =
        JobInfo { format: REFERENCE_FORMAT.to_string(), compressed: false, path: pkg.new_jobs_dir(), remote_url: None, ..job.clone() };
    crate::package::write_atomic(&pkg.new_jobs_dir().join(reference.file_name()), format!("{url}\n").as_bytes())?;
    Ok(JobOutcome { remote_url: Some(url) })
}

async fn run_one(pkg: &Package, target: Target<'_>, info: &PackageInfo, job: JobInfo, opts: &LoaderOptions) -> Result<JobMetrics> {
    let started = Instant::now();
    let file_size = std::fs::metadata(&job.path).map(|m| m.len()).unwrap_or(0);
    let job = pkg.move_job(&job, STARTED_JOBS, None)?;
    let mut attempts = 0;
    let mut delay = opts.backoff;
    loop {
        attempts += 1;
        let outcome = match target {
            Target::Final(client) => client.run_job(info, &job).await,
            Target::Stage(client, staged) => stage(pkg, client, staged, info, &job).await,
        };
        match outcome {
            Ok(outcome) => {
                if let Some(url) = &outcome.remote_url {
                    let side = pkg.dir.join(COMPLETED_JOBS).join(format!("{}.remote_url", job.file_name()));
                    crate::package::write_atomic(&side, url.as_bytes())?;
                }
                pkg.move_job(&job, COMPLETED_JOBS, None)?;
                fault_hook();
                return Ok(JobMetrics {
                    job_id: job.job_id(),
                    table: job.table.clone(),
                    state: JobState::Completed,
                    attempts,
                    file_size,
                    elapsed: started.elapsed(),
                    remote_url: outcome.remote_url,
                    failed_message: None,
                });
            }
            Err(e) if e.is_retryable() && attempts < opts.max_attempts.max(1) => {
                tracing::warn!(job = %job.job_id(), attempt = attempts, error = %e, "transient job failure, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            Err(e) if e.is_retryable() => {
                let msg = e.to_string();
                pkg.move_job(&job, NEW_JOBS, Some(job.retry_count + 1))?;
                return Ok(JobMetrics {
                    job_id: job.job_id(),
                    table: job.table.clone(),
                    state: JobState::Retry,
                    attempts,
                    file_size,
                    elapsed: started.elapsed(),
                    remote_url: None,
                    failed_message: Some(msg),
                });
            }
            Err(e) => {
                let msg = e.to_string();
                let failed = pkg.move_job(&job, FAILED_JOBS, None)?;
                let exc = failed.path.with_file_name(format!("{}.exception", failed.file_name()));
                // The reason is also returned below: a full disk that made the job fail must
                // not hide that reason behind the failure to write this note.
                if let Err(note) = crate::package::write_atomic(&exc, msg.as_bytes()) {
                    tracing::warn!(job = %job.job_id(), error = %note, "could not keep why the job failed beside it");
                }
                return Ok(JobMetrics {
                    job_id: job.job_id(),
                    table: job.table.clone(),
                    state: JobState::Failed,
                    attempts,
                    file_size,
                    elapsed: started.elapsed(),
                    remote_url: None,
                    failed_message: Some(msg),
                });
            }
        }
    }
}
