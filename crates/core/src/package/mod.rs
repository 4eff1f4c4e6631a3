//! Load packages on disk.
//!
//! ```text
//! <working dir>/load/
//!   new/<load_id>/           being written by extract+normalize; never loaded
//!   normalized/<load_id>/    complete and loadable (moved here by one atomic rename)
//!   loaded/<load_id>/        done: package_completed.json says `loaded` or `aborted`
//! <package>/
//!   package.json             manifest: load id, schema name, tables, replace set, state
//!   schema.json              the schema frozen for this package
//!   new_jobs/ started_jobs/ completed_jobs/ failed_jobs/   job files move between these
//!   failed_jobs/<job>.exception                              why a job failed
//!   applied_schema_updates.json                              migration done (resume skips it)
//!   followups.json                                           followup jobs created
//!   staging_truncated.json                                   staged files of the package's
//!                                                            tables removed (staging chain)
//!   aborting.json                                            a job failed for good: the files
//!                                                            the package wrote are being removed
//! ```
//! `package.json` carries `format_version` ([`PACKAGE_FORMAT_VERSION`]); the whole format is
//! described in `docs/package-format.md`.
//!
//! Job files are named like dlt's: `<table>.<file_id>.<retry_count>.<ext>[.gz]`: data files
//! (`jsonl`, `parquet`, `csv`, `insert_values`), reference jobs of the staging chain
//! (`reference`, holding the staged file's URL, see [`crate::staging`]) and the destination's
//! followups (`sql`, `replace_cleanup`...).

pub mod writers;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::destination::{JobInfo, PackageInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{Schema, WriteDisposition};

/// Job folders in the order a job moves through them.
pub const NEW_JOBS: &str = "new_jobs";
/// Jobs being run.
pub const STARTED_JOBS: &str = "started_jobs";
/// Jobs done.
pub const COMPLETED_JOBS: &str = "completed_jobs";
/// Jobs failed for good.
pub const FAILED_JOBS: &str = "failed_jobs";

/// Status of a package, from where it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    /// Being written.
    New,
    /// Complete, waiting to be loaded (or partly loaded).
    Normalized,
    /// Loaded.
    Loaded,
    /// Stopped by a failed job; no load marker was written.
    Aborted,
}

/// A table entry of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestTable {
    /// Table name.
    pub name: String,
    /// Effective write disposition.
    pub write_disposition: WriteDisposition,
    /// Rows written.
    pub rows: u64,
}

/// The on-disk package format this build writes (`package.json`'s `format_version`).
/// 1: packages written before the field existed (data and followup jobs). 2: reference jobs of
/// the staging chain and `staging_truncated.json` may appear. A build loads packages of any
/// version up to its own and refuses newer ones (see `docs/package-format.md`).
pub const PACKAGE_FORMAT_VERSION: u32 = 2;

fn format_version_1() -> u32 {
    1
}

/// `package.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Package format version ([`PACKAGE_FORMAT_VERSION`] when written by this build; 1 when
    /// absent, as in packages written before versions existed).
    #[serde(default = "format_version_1")]
    pub format_version: u32,
    /// Load id.
    pub load_id: String,
    /// Pipeline that made it.
    pub pipeline_name: String,
    /// Schema name.
    pub schema_name: String,
    /// Creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Tables with rows.
    pub tables: Vec<ManifestTable>,
    /// Tables replaced by this package (root and nested), with or without rows.
    pub replace_tables: Vec<String>,
    /// Pipeline state document to store with the load, when it changed.
    pub state: Option<serde_json::Value>,
    /// What the package was extracted from (see [`crate::fingerprint`]); `None` for packages
    /// of Arrow input and packages written before fingerprints existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<crate::fingerprint::Fingerprint>,
    /// Records read from the source.
    #[serde(default)]
    pub records: u64,
}

/// Marker of a package whose load was aborted by a failed job and whose written data is being
/// removed from the destination; a run that finds it finishes the removal.
pub const ABORTING_MARKER: &str = "aborting.json";

/// Writes `bytes` to `path` through a temporary file, fsync and rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = fs::File::create(&tmp).map_err(|e| Error::io("create file", &tmp, e))?;
    let written = f
        .write_all(bytes)
        .map_err(|e| Error::io("write file", &tmp, e))
        .and_then(|()| f.sync_all().map_err(|e| Error::io("sync file", &tmp, e)));
    drop(f);
    let done = written.and_then(|()| fs::rename(&tmp, path).map_err(|e| Error::io("rename file", path, e)));
    if done.is_err() {
        // no half-written temporary file left behind (e.g. on a full disk)
        let _ = fs::remove_file(&tmp);
    }
    done
}

fn sync_dir(p: &Path) {
    if let Ok(d) = fs::File::open(p) {
        let _ = d.sync_all();
    }
}

/// The `load/` folder of a pipeline.
#[derive(Debug, Clone)]
pub struct LoadStorage {
    root: PathBuf,
}

impl LoadStorage {
    /// Opens (creating) `<working dir>/load`.
    pub fn open(working_dir: &Path) -> Result<Self> {
        let root = working_dir.join("load");
        for d in ["new", "normalized", "loaded"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(|e| Error::io("create folder", &p, e))?;
        }
        Ok(LoadStorage { root })
    }

    /// Starts a new package in `load/new/<load_id>` (removing leftovers of a crashed attempt).
    pub fn create(&self, load_id: &str) -> Result<Package> {
        let dir = self.root.join("new").join(load_id);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| Error::io("remove folder", &dir, e))?;
        }
        for d in [NEW_JOBS, STARTED_JOBS, COMPLETED_JOBS, FAILED_JOBS] {
            let p = dir.join(d);
            fs::create_dir_all(&p).map_err(|e| Error::io("create folder", &p, e))?;
        }
        Ok(Package { dir, load_id: load_id.to_string() })
    }

    /// Removes packages left in `new/` by an interrupted extract (they were never loadable).
    pub fn discard_unfinished(&self) -> Result<usize> {
        let mut n = 0;
        for id in list_dirs(&self.root.join("new"))? {
            let p = self.root.join("new").join(&id);
            fs::remove_dir_all(&p).map_err(|e| Error::io("remove folder", &p, e))?;
            n += 1;
        }
        Ok(n)
    }

    /// Commits a package written in `new/`: manifest and schema are written, everything
    /// fsynced, and the folder renamed into `normalized/` in one step.
    pub fn commit(&self, pkg: Package, manifest: &Manifest, schema: &Schema) -> Result<Package> {
        write_atomic(&pkg.dir.join("schema.json"), schema.to_json_pretty().as_bytes())?;
        write_atomic(&pkg.dir.join("package.json"), &serde_json::to_vec_pretty(manifest)?)?;
        sync_dir(&pkg.dir.join(NEW_JOBS));
        sync_dir(&pkg.dir);
        let dest = self.root.join("normalized").join(&pkg.load_id);
        fs::rename(&pkg.dir, &dest).map_err(|e| Error::io("commit package", &dest, e))?;
        sync_dir(&self.root.join("normalized"));
        Ok(Package { dir: dest, load_id: pkg.load_id })
    }

    /// Loadable packages, oldest first (load ids sort in creation order).
    pub fn pending(&self) -> Result<Vec<Package>> {
        let mut ids = list_dirs(&self.root.join("normalized"))?;
        ids.sort();
        Ok(ids.into_iter().map(|id| Package { dir: self.root.join("normalized").join(&id), load_id: id }).collect())
    }

    /// Loaded (or aborted) packages, oldest first.
    pub fn loaded(&self) -> Result<Vec<Package>> {
        let mut ids = list_dirs(&self.root.join("loaded"))?;
        ids.sort();
        Ok(ids.into_iter().map(|id| Package { dir: self.root.join("loaded").join(&id), load_id: id }).collect())
    }

    /// Moves a finished package to `loaded/` with its status.
    pub fn finish(&self, pkg: &Package, status: PackageStatus) -> Result<Package> {
        let marker = serde_json::to_vec(&serde_json::json!({
            "status": status,
            "completed_at": chrono::Utc::now(),
        }))?;
        write_atomic(&pkg.dir.join("package_completed.json"), &marker)?;
        let dest = self.root.join("loaded").join(&pkg.load_id);
        if dest.exists() {
            fs::remove_dir_all(&dest).map_err(|e| Error::io("remove folder", &dest, e))?;
        }
        fs::rename(&pkg.dir, &dest).map_err(|e| Error::io("move package", &dest, e))?;
        Ok(Package { dir: dest, load_id: pkg.load_id.clone() })
    }
}

fn list_dirs(p: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(p) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("list folder", p, e)),
    };
    for e in rd {
        let e = e.map_err(|e| Error::io("list folder", p, e))?;
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false)
            && let Some(n) = e.file_name().to_str()
        {
            out.push(n.to_string());
        }
    }
    Ok(out)
}

/// One load package folder.
#[derive(Debug, Clone)]
pub struct Package {
    /// The folder.
    pub dir: PathBuf,
    /// Load id.
    pub load_id: String,
}

impl Package {
    /// Folder where job files are written.
    pub fn new_jobs_dir(&self) -> PathBuf {
        self.dir.join(NEW_JOBS)
    }
    /// Reads the manifest.
    pub fn manifest(&self) -> Result<Manifest> {
        let p = self.dir.join("package.json");
        let text = fs::read(&p).map_err(|e| Error::io("read package manifest", &p, e))?;
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
            Error::new(ErrorKind::State, format!("package manifest is corrupted: {e}")).with("path", p.display().to_string())
        })?;
        if m.format_version > PACKAGE_FORMAT_VERSION {
            return Err(Error::new(
                ErrorKind::State,
                format!(
                    "load package {} was written by a newer stevedore (package format {}; this build reads formats up to {PACKAGE_FORMAT_VERSION})",
                    m.load_id, m.format_version
                ),
            )
            .with("path", p.display().to_string())
            .with_hint(format!(
                "finish it with the stevedore version that wrote it, or drop it with `stevedore pipeline {} drop-pending-packages`",
                m.pipeline_name
            )));
        }
        Ok(m)
    }
    /// Reads the schema.
    pub fn schema(&self) -> Result<Schema> {
        let p = self.dir.join("schema.json");
        let text = fs::read_to_string(&p).map_err(|e| Error::io("read package schema", &p, e))?;
        Schema::from_json(&text).map_err(|e| e.with("path", p.display().to_string()))
    }
    /// What a destination client gets to know.
    pub fn info(&self) -> Result<PackageInfo> {
        let m = self.manifest()?;
        let schema = self.schema()?;
        let mut data_formats: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
        for j in self.all_jobs()?.into_iter().filter(JobInfo::is_data) {
            data_formats.entry(j.table).or_default().insert(j.format);
        }
        Ok(PackageInfo {
            load_id: m.load_id,
            pipeline_name: m.pipeline_name,
            schema,
            created_at: m.created_at,
            tables: m.tables.iter().map(|t| (t.name.clone(), t.write_disposition)).collect(),
            replace_tables: m.replace_tables,
            state: m.state,
            staging: None,
            data_formats,
            plans: Default::default(),
        })
    }
    /// Jobs in a folder, sorted by name.
    pub fn jobs(&self, folder: &str) -> Result<Vec<JobInfo>> {
        let p = self.dir.join(folder);
        let mut out = Vec::new();
        let rd = match fs::read_dir(&p) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("list jobs", &p, e)),
        };
        for e in rd {
            let e = e.map_err(|e| Error::io("list jobs", &p, e))?;
            if let Some(mut j) = JobInfo::parse(e.path()) {
                if folder == COMPLETED_JOBS {
                    j.remote_url = fs::read_to_string(p.join(format!("{}.remote_url", j.file_name()))).ok();
                }
                out.push(j);
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
    /// Moves a job file to another folder, optionally with a new retry count.
    pub fn move_job(&self, job: &JobInfo, folder: &str, retry_count: Option<u32>) -> Result<JobInfo> {
        let mut j = job.clone();
        if let Some(r) = retry_count {
            j.retry_count = r;
        }
        let dest = self.dir.join(folder).join(j.file_name());
        fs::rename(&job.path, &dest).map_err(|e| Error::io("move job file", &dest, e))?;
        j.path = dest;
        Ok(j)
    }
    /// The package's data jobs in every folder (new, started, completed, failed).
    pub fn data_jobs(&self) -> Result<Vec<JobInfo>> {
        Ok(self.all_jobs()?.into_iter().filter(JobInfo::is_data).collect())
    }
    /// Every job of the package, in every state (folder by folder, sorted by name in each).
    pub fn all_jobs(&self) -> Result<Vec<JobInfo>> {
        let mut out = Vec::new();
        for f in [NEW_JOBS, STARTED_JOBS, COMPLETED_JOBS, FAILED_JOBS] {
            out.extend(self.jobs(f)?);
        }
        Ok(out)
    }
    /// The jobs that write to the final destination in every state: the data jobs, or, for a
    /// package loaded through a staging storage, the reference jobs (its data jobs went to
    /// the staging bucket).
    pub fn final_jobs(&self) -> Result<Vec<JobInfo>> {
        let (mut data, mut references) = (Vec::new(), Vec::new());
        for j in self.all_jobs()? {
            if j.is_data() {
                data.push(j);
            } else if j.is_reference() {
                references.push(j);
            }
        }
        // a data job without a reference was not uploaded yet, or ran directly
        let staged: std::collections::BTreeSet<(String, String)> =
            references.iter().map(|r| (r.table.clone(), r.file_id.clone())).collect();
        let mut out = references;
        out.extend(data.into_iter().filter(|d| !staged.contains(&(d.table.clone(), d.file_id.clone()))));
        out.sort_by_key(|a| a.file_name());
        Ok(out)
    }
    /// Removes the package from disk (a pending package dropped for good).
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.dir).map_err(|e| Error::io("remove package", &self.dir, e))
    }
    /// Whether a marker file exists.
    pub fn has_marker(&self, name: &str) -> bool {
        self.dir.join(name).exists()
    }
    /// Writes a marker file atomically.
    pub fn write_marker(&self, name: &str, content: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join(name), content)
    }
    /// Status of a loaded package (`loaded` or `aborted`).
    pub fn completed_status(&self) -> Option<PackageStatus> {
        let text = fs::read(self.dir.join("package_completed.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
        serde_json::from_value(v.get("status")?.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_json(version: Option<u32>) -> serde_json::Value {
        let m = Manifest {
            format_version: PACKAGE_FORMAT_VERSION,
            load_id: "1733400000.5".into(),
            pipeline_name: "events_pipe".into(),
            schema_name: "events_pipe".into(),
            created_at: chrono::Utc::now(),
            tables: vec![ManifestTable { name: "events".into(), write_disposition: WriteDisposition::Append, rows: 3 }],
            replace_tables: vec![],
            state: None,
            inputs: None,
            records: 3,
        };
        let mut v = serde_json::to_value(&m).unwrap();
        match version {
            Some(n) => v["format_version"] = n.into(),
            None => {
                v.as_object_mut().unwrap().remove("format_version");
            }
        }
        v
    }

    fn package_with(manifest: &serde_json::Value) -> (tempfile::TempDir, Package) {
        let dir = tempfile::tempdir().unwrap();
        let pkg = Package { dir: dir.path().join("1733400000.5"), load_id: "1733400000.5".into() };
        fs::create_dir_all(&pkg.dir).unwrap();
        fs::write(pkg.dir.join("package.json"), serde_json::to_vec(manifest).unwrap()).unwrap();
        (dir, pkg)
    }

    #[test]
    fn a_manifest_without_a_version_is_format_1_and_loads() {
        let (_dir, pkg) = package_with(&manifest_json(None));
        let m = pkg.manifest().unwrap();
        assert_eq!(m.format_version, 1);
        assert_eq!(m.tables[0].rows, 3);
    }

    #[test]
    fn this_builds_format_round_trips() {
        let (_dir, pkg) = package_with(&manifest_json(Some(PACKAGE_FORMAT_VERSION)));
        assert_eq!(pkg.manifest().unwrap().format_version, PACKAGE_FORMAT_VERSION);
    }

    #[test]
    fn a_newer_format_is_refused_with_what_to_do() {
        let (_dir, pkg) = package_with(&manifest_json(Some(PACKAGE_FORMAT_VERSION + 1)));
        let e = pkg.manifest().unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("written by a newer stevedore") && msg.contains(&format!("package format {}", PACKAGE_FORMAT_VERSION + 1)),
            "{msg}"
        );
        assert!(msg.contains("package.json"), "the error names the file: {msg}");
        let hint = e.hint().expect("a hint");
        assert!(hint.contains("stevedore pipeline events_pipe drop-pending-packages"), "{hint}");
    }
}
