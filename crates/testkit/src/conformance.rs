//! The destination conformance kit: scenarios every destination must pass, run through
//! [`Pipeline`] against an `Arc<dyn Destination>` and a [`TableReader`] of its tables.
//!
//! ```no_run
//! # async fn demo(destination: std::sync::Arc<dyn stevedore_core::destination::Destination>,
//! #               reader: std::sync::Arc<dyn stevedore_testkit::conformance::TableReader>) {
//! use stevedore_testkit::conformance::{Kit, run_all};
//! let kit = Kit::new("mydest", destination, reader);
//! let report = run_all(&kit).await;
//! println!("{report}");
//! report.assert_passed();
//! # }
//! ```
//!
//! Each scenario gets a fresh temporary pipelines folder and its own dataset
//! (`<prefix>_<scenario>_<pid>_<nanos>`), so scenarios never see each other's rows. Scenarios
//! that need an ability the destination does not declare in its
//! [`Capabilities`](stevedore_core::destination::Capabilities) (a merge strategy) are skipped,
//! and the report says why. A scenario fails with a message naming what differed; panics
//! inside a scenario are caught and reported as failures, so one run reports all of them.
//!
//! What a reader must expose: the rows of a table of a dataset as JSON objects (a missing
//! value and SQL `NULL` both read as `null` or an absent key), `None` when the table does not
//! exist, and the load markers as a table `_dlt_loads` with at least `load_id` and `status`
//! (for a destination that keeps them as files, the reader turns the files into rows).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::FutureExt;
use serde_json::{Map, Value, json};
use stevedore_core::config::Config;
use stevedore_core::destination::{Capabilities, Destination, DestinationClient, FollowupJob, JobInfo, JobOutcome, PackageInfo};
use stevedore_core::naming::{NamingConvention, SnakeCase};
use stevedore_core::package::{COMPLETED_JOBS, LoadStorage};
use stevedore_core::pipeline::{LoadInfo, Pipeline};
use stevedore_core::schema::{MergeStrategy, WriteDisposition};
use stevedore_core::source::{Resource, Scd2Options};
use stevedore_core::staging::{StagingClient, StagingDestination, StagingLocation};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, ErrorKind};

/// One row: column name to value.
pub type Row = Map<String, Value>;

/// Reads what a destination holds, independently of the destination's own code.
#[async_trait]
pub trait TableReader: Send + Sync {
    /// The rows of `table` in `dataset`, or `None` when the table does not exist. `_dlt_loads`
    /// must be readable this way (with `load_id` and `status`), also when the destination
    /// keeps its load markers as files.
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<Row>>, String>;
    /// The columns of `table`, or `None` when it does not exist. Default: every key of every
    /// row (a destination whose empty tables keep their columns should override this).
    async fn columns(&self, dataset: &str, table: &str) -> Result<Option<BTreeSet<String>>, String> {
        Ok(self.rows(dataset, table).await?.map(|rows| rows.iter().flat_map(|r| r.keys().cloned()).collect()))
    }
}

/// What the kit runs against.
#[derive(Clone)]
pub struct Kit {
    /// The destination under test.
    pub destination: Arc<dyn Destination>,
    /// A reader of its tables.
    pub reader: Arc<dyn TableReader>,
    /// Prefix of the scenarios' dataset names (`<prefix>_<scenario>_<pid>_<nanos>`).
    pub dataset_prefix: String,
    /// Loader file format (default: the destination's preferred one).
    pub loader_file_format: Option<FileFormat>,
    /// A staging storage for the staged scenarios (required when the destination declares
    /// staging formats).
    pub staging: Option<Arc<dyn StagingDestination>>,
    /// Run every scenario through the staging storage, not only the staged ones.
    pub all_through_staging: bool,
}

impl fmt::Debug for Kit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kit").field("destination", &self.destination).field("dataset_prefix", &self.dataset_prefix).finish()
    }
}

impl Kit {
    /// A kit for `destination` read back by `reader`; `dataset_prefix` starts every dataset
    /// name (lower case letters, digits and `_`, short: names must fit the destination).
    pub fn new(dataset_prefix: &str, destination: Arc<dyn Destination>, reader: Arc<dyn TableReader>) -> Self {
        Kit {
            destination,
            reader,
            dataset_prefix: dataset_prefix.to_string(),
            loader_file_format: None,
            staging: None,
            all_through_staging: false,
        }
    }
    /// The staging storage the staged scenarios load through (e.g. a local filesystem).
    pub fn staging(mut self, s: Arc<dyn StagingDestination>) -> Self {
        self.staging = Some(s);
        self
    }
    /// Runs every scenario through the staging storage set with [`Kit::staging`].
    pub fn through_staging(mut self) -> Self {
        self.all_through_staging = true;
        self
    }
    /// Loads every scenario with this file format.
    pub fn loader_file_format(mut self, f: FileFormat) -> Self {
        self.loader_file_format = Some(f);
        self
    }
    fn caps(&self) -> Capabilities {
        self.destination.capabilities()
    }
}

/// The result of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// Not run: the destination does not declare what it needs.
    Skipped(String),
    /// An assertion failed, or the scenario panicked or got an error.
    Failed(String),
}

/// Which scenarios ran, which were skipped and why, which failed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Destination name.
    pub destination: String,
    /// `(scenario, outcome)` in the order they ran.
    pub results: Vec<(String, Outcome)>,
}

impl Report {
    /// Names of the scenarios that passed.
    pub fn passed(&self) -> Vec<&str> {
        self.results.iter().filter(|(_, o)| *o == Outcome::Passed).map(|(n, _)| n.as_str()).collect()
    }
    /// `(scenario, why)` of the skipped ones.
    pub fn skipped(&self) -> Vec<(&str, &str)> {
        self.results
            .iter()
            .filter_map(|(n, o)| match o {
                Outcome::Skipped(w) => Some((n.as_str(), w.as_str())),
                _ => None,
            })
            .collect()
    }
    /// `(scenario, message)` of the failed ones.
    pub fn failed(&self) -> Vec<(&str, &str)> {
        self.results
            .iter()
            .filter_map(|(n, o)| match o {
                Outcome::Failed(w) => Some((n.as_str(), w.as_str())),
                _ => None,
            })
            .collect()
    }
    /// Panics with the whole report when a scenario failed.
    pub fn assert_passed(&self) {
        assert!(self.failed().is_empty(), "conformance failures:\n{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of `{}`:", self.destination)?;
        for (n, o) in &self.results {
            match o {
                Outcome::Passed => writeln!(f, "  PASS {n}")?,
                Outcome::Skipped(w) => writeln!(f, "  SKIP {n}: {w}")?,
                Outcome::Failed(w) => writeln!(f, "  FAIL {n}: {w}")?,
            }
        }
        Ok(())
    }
}

/// What a scenario returns: `Ok(Passed | Skipped)`, or the failure message.
pub type ScenarioResult = Result<Outcome, String>;

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

macro_rules! check_eq {
    ($left:expr, $right:expr, $($fmt:tt)+) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!("{}: left {:?} != right {:?}", format!($($fmt)+), l, r));
        }
    }};
}

/// Scenario names, in the order [`run_all`] runs them.
pub const SCENARIOS: &[&str] = &[
    "append",
    "replace",
    "merge_delete_insert",
    "merge_upsert",
    "merge_insert_only",
    "merge_scd2",
    "schema_evolution",
    "nested_tables",
    "empty_load",
    "failed_job_then_rerun",
    "resume_after_crash",
    "idempotent_job_rerun",
    "hostile_identifiers",
    "staged_load",
    "staged_resume",
];

/// Runs every scenario and reports each one; never panics (see [`Report::assert_passed`]).
pub async fn run_all(kit: &Kit) -> Report {
    let mut report = Report { destination: kit.destination.name().to_string(), results: Vec::new() };
    for name in SCENARIOS {
        let outcome = run_one(kit, name).await;
        report.results.push((name.to_string(), outcome));
    }
    report
}

/// Runs one scenario by name (see [`SCENARIOS`]), catching panics.
pub async fn run_one(kit: &Kit, name: &str) -> Outcome {
    let fut = async {
        match name {
            "append" => append(kit).await,
            "replace" => replace(kit).await,
            "merge_delete_insert" => merge_delete_insert(kit).await,
            "merge_upsert" => merge_upsert(kit).await,
            "merge_insert_only" => merge_insert_only(kit).await,
            "merge_scd2" => merge_scd2(kit).await,
            "schema_evolution" => schema_evolution(kit).await,
            "nested_tables" => nested_tables(kit).await,
            "empty_load" => empty_load(kit).await,
            "failed_job_then_rerun" => failed_job_then_rerun(kit).await,
            "resume_after_crash" => resume_after_crash(kit).await,
            "idempotent_job_rerun" => idempotent_job_rerun(kit).await,
            "hostile_identifiers" => hostile_identifiers(kit).await,
            "staged_load" => staged_load(kit).await,
            "staged_resume" => staged_resume(kit).await,
            other => Err(format!("unknown scenario `{other}`")),
        }
    };
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(Ok(o)) => o,
        Ok(Err(msg)) => Outcome::Failed(msg),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Outcome::Failed(format!("panicked: {msg}"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario plumbing
// ---------------------------------------------------------------------------------------------

/// One scenario's temporary folder, dataset and pipeline settings.
struct Scn<'k> {
    kit: &'k Kit,
    dir: tempfile::TempDir,
    dataset: String,
    pipeline_name: String,
}

impl<'k> Scn<'k> {
    fn new(kit: &'k Kit, scenario: &str) -> Scn<'k> {
        let dir = tempfile::Builder::new().prefix("stevedore-kit-").tempdir().expect("temp dir");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let short: String = scenario.chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect();
        let dataset = format!("{}_{short}_{}_{nanos:x}", kit.dataset_prefix, std::process::id());
        Scn { kit, dir, dataset, pipeline_name: format!("kit_{short}") }
    }

    fn pipelines_dir(&self) -> PathBuf {
        self.dir.path().join("pipelines")
    }

    /// A pipeline on `destination` with core settings from `env` (dlt-style variables such
    /// as `LOAD__WORKERS`), nothing from the process environment.
    fn pipeline_on(&self, destination: Arc<dyn Destination>, env: &[(&str, &str)]) -> Result<Pipeline, String> {
        let staging = if self.kit.all_through_staging { self.kit.staging.clone() } else { None };
        self.pipeline_with(destination, staging, env)
    }

    fn pipeline_with(
        &self,
        destination: Arc<dyn Destination>,
        staging: Option<Arc<dyn StagingDestination>>,
        env: &[(&str, &str)],
    ) -> Result<Pipeline, String> {
        let project = self.dir.path().join("project");
        std::fs::create_dir_all(&project).map_err(|e| e.to_string())?;
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let config = Config::load(&project, &env).map_err(|e| format!("config: {e}"))?;
        let mut b = Pipeline::builder(&self.pipeline_name)
            .destination(destination)
            .dataset_name(&self.dataset)
            .pipelines_dir(self.pipelines_dir())
            .config(config);
        if let Some(f) = self.kit.loader_file_format {
            b = b.loader_file_format(f);
        }
        if let Some(st) = staging {
            b = b.staging(st);
        }
        b.build().map_err(|e| format!("build pipeline: {e}"))
    }

    fn pipeline(&self) -> Result<Pipeline, String> {
        self.pipeline_on(self.kit.destination.clone(), &[])
    }

    async fn rows(&self, table: &str) -> Result<Option<Vec<Row>>, String> {
        self.kit.reader.rows(&self.dataset, table).await.map_err(|e| format!("reading `{table}`: {e}"))
    }

    /// Rows of a table that must exist.
    async fn table(&self, table: &str) -> Result<Vec<Row>, String> {
        self.rows(table).await?.ok_or_else(|| format!("table `{table}` does not exist in dataset `{}`", self.dataset))
    }

    async fn columns(&self, table: &str) -> Result<BTreeSet<String>, String> {
        self.kit
            .reader
            .columns(&self.dataset, table)
            .await
            .map_err(|e| format!("reading the columns of `{table}`: {e}"))?
            .ok_or_else(|| format!("table `{table}` does not exist in dataset `{}`", self.dataset))
    }

    /// Load ids in `_dlt_loads` with status 0.
    async fn loads(&self) -> Result<Vec<String>, String> {
        let rows = self.rows("_dlt_loads").await?.unwrap_or_default();
        let mut ids = Vec::new();
        for r in rows {
            let id = r.get("load_id").and_then(Value::as_str).ok_or_else(|| format!("_dlt_loads row without load_id: {r:?}"))?;
            let status = r.get("status").and_then(as_i64);
            check_eq!(status, Some(0), "_dlt_loads status of load {id}");
            ids.push(id.to_string());
        }
        ids.sort();
        Ok(ids)
    }
}

async fn run(p: &Pipeline, r: Resource) -> Result<LoadInfo, String> {
    p.run(r).await.map_err(|e| format!("pipeline.run failed: {e}"))
}

/// An integer from a number or a numeric string (readers differ: SQLite and parquet give
/// numbers, some give text).
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

fn get<'r>(row: &'r Row, col: &str) -> &'r Value {
    row.get(col).unwrap_or(&Value::Null)
}

fn str_of(row: &Row, col: &str) -> Option<String> {
    match get(row, col) {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The sorted integer values of `col`.
fn ints(rows: &[Row], col: &str) -> Vec<Option<i64>> {
    let mut v: Vec<Option<i64>> = rows.iter().map(|r| as_i64(get(r, col))).collect();
    v.sort();
    v
}

/// `id -> row` (ids must be unique).
fn by_id(rows: &[Row]) -> Result<BTreeMap<i64, Row>, String> {
    let mut m = BTreeMap::new();
    for r in rows {
        let id = as_i64(get(r, "id")).ok_or_else(|| format!("row without an integer id: {r:?}"))?;
        check!(m.insert(id, r.clone()).is_none(), "id {id} appears twice");
    }
    Ok(m)
}

/// `_dlt_id` is set and unique in `rows`.
fn check_row_ids(rows: &[Row], table: &str) -> Result<BTreeSet<String>, String> {
    let mut ids = BTreeSet::new();
    for r in rows {
        let id = str_of(r, "_dlt_id").ok_or_else(|| format!("`{table}`: a row without _dlt_id: {r:?}"))?;
        check!(ids.insert(id.clone()), "`{table}`: _dlt_id {id} appears twice");
    }
    Ok(ids)
}

fn merge_resource(table: &str, rows: Vec<Value>, strategy: MergeStrategy) -> Resource {
    Resource::from_values(table, rows)
        .with_write_disposition(WriteDisposition::Merge)
        .with_merge_strategy(strategy)
        .with_primary_key(["id"])
}

fn needs_merge(kit: &Kit, s: MergeStrategy) -> Option<Outcome> {
    if kit.caps().supported_merge_strategies.contains(&s) {
        None
    } else {
        Some(Outcome::Skipped(format!("merge strategy `{s}` not in capabilities().supported_merge_strategies")))
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// Two appends: every row of both loads, each with its load id, both loads marked.
pub async fn append(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "append");
    let p = s.pipeline()?;
    let first = run(&p, Resource::from_values("items", (1..=3).map(|i| json!({"id": i, "name": format!("n{i}")})))).await?;
    let second = run(&p, Resource::from_values("items", (4..=5).map(|i| json!({"id": i, "name": format!("n{i}")})))).await?;
    let rows = s.table("items").await?;
    check_eq!(ints(&rows, "id"), (1..=5).map(Some).collect::<Vec<_>>(), "ids after two appends");
    for r in &rows {
        let id = as_i64(get(r, "id")).unwrap_or_default();
        check_eq!(str_of(r, "name"), Some(format!("n{id}")), "name of id {id}");
    }
    check_row_ids(&rows, "items")?;
    let cols = s.columns("items").await?;
    for c in ["id", "name", "_dlt_load_id", "_dlt_id"] {
        check!(cols.contains(c), "column `{c}` missing from items: {cols:?}");
    }
    let (l1, l2) = (first.load_ids(), second.load_ids());
    check!(l1.len() == 1 && l2.len() == 1, "one package per run: {l1:?} {l2:?}");
    let mut expected = vec![l1[0].to_string(), l2[0].to_string()];
    expected.sort();
    check_eq!(s.loads().await?, expected, "_dlt_loads after two appends");
    let per_load = |id: &str| rows.iter().filter(|r| str_of(r, "_dlt_load_id").as_deref() == Some(id)).count();
    check_eq!((per_load(l1[0]), per_load(l2[0])), (3, 2), "rows per load id");
    Ok(Outcome::Passed)
}

/// Replace twice (the second load's rows only, nested table too), then replace with an
/// empty load: the table and its nested table end empty, and the load is marked.
pub async fn replace(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "replace");
    let p = s.pipeline()?;
    let res = |rows: Vec<Value>| Resource::from_values("items", rows).with_write_disposition(WriteDisposition::Replace);
    run(&p, res((1..=3).map(|i| json!({"id": i, "tags": ["a", "b"]})).collect())).await?;
    run(&p, res(vec![json!({"id": 10, "tags": ["z"]}), json!({"id": 11})])).await?;
    let rows = s.table("items").await?;
    check_eq!(ints(&rows, "id"), vec![Some(10), Some(11)], "ids after the second replace");
    let tags = s.table("items__tags").await?;
    check_eq!(tags.len(), 1, "nested rows after the second replace ({tags:?})");
    check_eq!(str_of(&tags[0], "value"), Some("z".to_string()), "nested value");
    let third = run(&p, res(Vec::new())).await?;
    let rows = s.rows("items").await?.unwrap_or_default();
    check!(rows.is_empty(), "items after an empty replace: {rows:?}");
    let tags = s.rows("items__tags").await?.unwrap_or_default();
    check!(tags.is_empty(), "items__tags after an empty replace: {tags:?}");
    let loads = s.loads().await?;
    check_eq!(loads.len(), 3, "_dlt_loads rows after three replaces ({loads:?})");
    for id in third.load_ids() {
        check!(loads.iter().any(|l| l == id), "the empty replace's load {id} is not in _dlt_loads {loads:?}");
    }
    Ok(Outcome::Passed)
}

/// delete-insert with a primary key: after two loads (the second repeats a key of the first
/// and one key twice) every key is there once, with the newest values and only its newest
/// nested rows.
pub async fn merge_delete_insert(kit: &Kit) -> ScenarioResult {
    if let Some(o) = needs_merge(kit, MergeStrategy::DeleteInsert) {
        return Ok(o);
    }
    let s = Scn::new(kit, "merge_delete_insert");
    let p = s.pipeline()?;
    let m = MergeStrategy::DeleteInsert;
    run(&p, merge_resource("items", vec![json!({"id": 1, "v": "a", "tags": ["x"]}), json!({"id": 2, "v": "b", "tags": ["y", "z"]})], m))
        .await?;
    run(
        &p,
        merge_resource(
            "items",
            vec![json!({"id": 2, "v": "b2", "tags": ["w"]}), json!({"id": 3, "v": "c"}), json!({"id": 3, "v": "c"})],
            m,
        ),
    )
    .await?;
    let rows = s.table("items").await?;
    let ids = by_id(&rows)?;
    check_eq!(ids.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3], "keys after two merges");
    check_eq!(str_of(&ids[&2], "v"), Some("b2".to_string()), "merged value of id 2");
    check_eq!(str_of(&ids[&1], "v"), Some("a".to_string()), "untouched id 1");
    let parents = check_row_ids(&rows, "items")?;
    let tags = s.table("items__tags").await?;
    let mut values: Vec<String> = tags.iter().filter_map(|r| str_of(r, "value")).collect();
    values.sort();
    check_eq!(values, vec!["w".to_string(), "x".to_string()], "nested rows after the merge");
    for t in &tags {
        let pid = str_of(t, "_dlt_parent_id").unwrap_or_default();
        check!(parents.contains(&pid), "nested row {t:?} has no parent");
    }
    Ok(Outcome::Passed)
}

/// upsert: a changed key is updated in place (same `_dlt_id`, a key hash), a new key is
/// inserted, and the nested rows of an updated key are the new ones only.
pub async fn merge_upsert(kit: &Kit) -> ScenarioResult {
    if let Some(o) = needs_merge(kit, MergeStrategy::Upsert) {
        return Ok(o);
    }
    let s = Scn::new(kit, "merge_upsert");
    let p = s.pipeline()?;
    let m = MergeStrategy::Upsert;
    run(&p, merge_resource("items", vec![json!({"id": 1, "v": "a", "tags": ["x", "y"]}), json!({"id": 2, "v": "b"})], m)).await?;
    let before = by_id(&s.table("items").await?)?;
    run(&p, merge_resource("items", vec![json!({"id": 1, "v": "a2", "tags": ["z"]}), json!({"id": 3, "v": "c"})], m)).await?;
    let rows = s.table("items").await?;
    let after = by_id(&rows)?;
    check_eq!(after.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3], "keys after the upsert");
    check_eq!(str_of(&after[&1], "v"), Some("a2".to_string()), "updated value");
    check_eq!(str_of(&after[&2], "v"), Some("b".to_string()), "untouched value");
    check_eq!(str_of(&after[&1], "_dlt_id"), str_of(&before[&1], "_dlt_id"), "_dlt_id of an upserted key (a key hash)");
    let tags = s.table("items__tags").await?;
    let id1 = str_of(&after[&1], "_dlt_id").unwrap_or_default();
    let mine: Vec<String> =
        tags.iter().filter(|t| str_of(t, "_dlt_parent_id").as_deref() == Some(id1.as_str())).filter_map(|t| str_of(t, "value")).collect();
    check_eq!(mine, vec!["z".to_string()], "nested rows of the upserted key");
    check_eq!(tags.len(), 1, "nested rows in all ({tags:?})");
    Ok(Outcome::Passed)
}

/// insert-only: keys already there keep their values, new keys are inserted.
pub async fn merge_insert_only(kit: &Kit) -> ScenarioResult {
    if let Some(o) = needs_merge(kit, MergeStrategy::InsertOnly) {
        return Ok(o);
    }
    let s = Scn::new(kit, "merge_insert_only");
    let p = s.pipeline()?;
    let m = MergeStrategy::InsertOnly;
    run(&p, merge_resource("items", vec![json!({"id": 1, "v": "a"}), json!({"id": 2, "v": "b"})], m)).await?;
    run(&p, merge_resource("items", vec![json!({"id": 2, "v": "b2"}), json!({"id": 3, "v": "c"})], m)).await?;
    let after = by_id(&s.table("items").await?)?;
    check_eq!(after.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3], "keys after insert-only");
    check_eq!(str_of(&after[&2], "v"), Some("b".to_string()), "an existing key keeps its value");
    Ok(Outcome::Passed)
}

/// scd2: a changed record retires its old version (`_dlt_valid_to` set to the new version's
/// `_dlt_valid_from`) and adds the new one; an unchanged record stays as it was.
pub async fn merge_scd2(kit: &Kit) -> ScenarioResult {
    if let Some(o) = needs_merge(kit, MergeStrategy::Scd2) {
        return Ok(o);
    }
    let s = Scn::new(kit, "merge_scd2");
    let p = s.pipeline()?;
    let res = |rows: Vec<Value>| Resource::from_values("dim", rows).with_scd2(Scd2Options::default());
    run(&p, res(vec![json!({"id": 1, "v": "a"}), json!({"id": 2, "v": "b"})])).await?;
    let first = s.table("dim").await?;
    run(&p, res(vec![json!({"id": 1, "v": "a2"}), json!({"id": 2, "v": "b"})])).await?;
    let rows = s.table("dim").await?;
    let cols = s.columns("dim").await?;
    for c in ["_dlt_valid_from", "_dlt_valid_to"] {
        check!(cols.contains(c), "validity column `{c}` missing: {cols:?}");
    }
    check_eq!(rows.len(), 3, "versions after one change ({rows:?})");
    let find = |id: i64, v: &str| rows.iter().find(|r| as_i64(get(r, "id")) == Some(id) && str_of(r, "v").as_deref() == Some(v)).cloned();
    let old = find(1, "a").ok_or("the retired version of id 1 is gone")?;
    let new = find(1, "a2").ok_or("the new version of id 1 is missing")?;
    let same = find(2, "b").ok_or("id 2 is missing")?;
    check!(str_of(&old, "_dlt_valid_to").is_some(), "the retired version has no _dlt_valid_to: {old:?}");
    check_eq!(str_of(&old, "_dlt_valid_to"), str_of(&new, "_dlt_valid_from"), "retired valid_to vs new valid_from");
    check_eq!(str_of(&new, "_dlt_valid_to"), None, "the new version is active");
    check_eq!(str_of(&same, "_dlt_valid_to"), None, "the unchanged record is active");
    let first_b = first.iter().find(|r| as_i64(get(r, "id")) == Some(2)).ok_or("id 2 missing after the first load")?;
    check_eq!(str_of(&same, "_dlt_valid_from"), str_of(first_b, "_dlt_valid_from"), "valid_from of the unchanged record");
    Ok(Outcome::Passed)
}

/// Schema evolution: a new column, a new nested table, and a variant column when a value's
/// type changes (`n__v_text`, as dlt names it); older rows read the new columns as null.
pub async fn schema_evolution(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "schema_evolution");
    let p = s.pipeline()?;
    run(&p, Resource::from_values("items", vec![json!({"id": 1, "n": 5})])).await?;
    run(&p, Resource::from_values("items", vec![json!({"id": 2, "n": "five", "extra": "new", "parts": [{"a": 1}, {"a": 2}]})])).await?;
    let cols = s.columns("items").await?;
    for c in ["id", "n", "extra", "n__v_text"] {
        check!(cols.contains(c), "column `{c}` missing after evolution: {cols:?}");
    }
    let rows = by_id(&s.table("items").await?)?;
    check_eq!(rows.keys().copied().collect::<Vec<_>>(), vec![1, 2], "ids");
    check_eq!(as_i64(get(&rows[&1], "n")), Some(5), "n of the first row");
    check_eq!(str_of(&rows[&1], "extra"), None, "the new column reads null in an old row");
    check_eq!(str_of(&rows[&1], "n__v_text"), None, "the variant reads null in an old row");
    check_eq!(str_of(&rows[&2], "n"), None, "n of the row whose value changed type");
    check_eq!(str_of(&rows[&2], "n__v_text"), Some("five".to_string()), "the variant column's value");
    check_eq!(str_of(&rows[&2], "extra"), Some("new".to_string()), "the new column's value");
    let parts = s.table("items__parts").await?;
    check_eq!(ints(&parts, "a"), vec![Some(1), Some(2)], "rows of the new nested table");
    let parent = str_of(&rows[&2], "_dlt_id").unwrap_or_default();
    for r in &parts {
        check_eq!(str_of(r, "_dlt_parent_id"), Some(parent.clone()), "parent of a new nested row");
    }
    Ok(Outcome::Passed)
}

/// Nested tables: lists become child tables with `_dlt_parent_id` = the parent's `_dlt_id`
/// and `_dlt_list_idx` = the position, two levels deep; empty lists make no rows.
pub async fn nested_tables(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "nested_tables");
    let p = s.pipeline()?;
    run(
        &p,
        Resource::from_values(
            "doc",
            vec![
                json!({"id": 1, "tags": ["a", "b", "c"], "items": [{"k": "x", "sub": [10, 20]}, {"k": "y", "sub": []}]}),
                json!({"id": 2, "tags": [], "items": [{"k": "z"}]}),
            ],
        ),
    )
    .await?;
    let roots = by_id(&s.table("doc").await?)?;
    check_eq!(roots.len(), 2, "root rows");
    let id1 = str_of(&roots[&1], "_dlt_id").ok_or("root without _dlt_id")?;
    let id2 = str_of(&roots[&2], "_dlt_id").ok_or("root without _dlt_id")?;
    let tags = s.table("doc__tags").await?;
    check_row_ids(&tags, "doc__tags")?;
    let mut t: Vec<(Option<i64>, Option<String>, Option<String>)> =
        tags.iter().map(|r| (as_i64(get(r, "_dlt_list_idx")), str_of(r, "value"), str_of(r, "_dlt_parent_id"))).collect();
    t.sort();
    let want: Vec<_> =
        [(0, "a"), (1, "b"), (2, "c")].iter().map(|(i, v)| (Some(*i as i64), Some(v.to_string()), Some(id1.clone()))).collect();
    check_eq!(t, want, "doc__tags (idx, value, parent)");
    let items = s.table("doc__items").await?;
    let item_ids = check_row_ids(&items, "doc__items")?;
    check_eq!(items.len(), 3, "doc__items rows");
    let x = items.iter().find(|r| str_of(r, "k").as_deref() == Some("x")).ok_or("item x missing")?;
    let z = items.iter().find(|r| str_of(r, "k").as_deref() == Some("z")).ok_or("item z missing")?;
    check_eq!(str_of(x, "_dlt_parent_id"), Some(id1.clone()), "parent of item x");
    check_eq!(as_i64(get(x, "_dlt_list_idx")), Some(0), "index of item x");
    check_eq!(str_of(z, "_dlt_parent_id"), Some(id2.clone()), "parent of item z");
    let sub = s.table("doc__items__sub").await?;
    check_eq!(ints(&sub, "value"), vec![Some(10), Some(20)], "doc__items__sub values");
    let xid = str_of(x, "_dlt_id").unwrap_or_default();
    for r in &sub {
        check_eq!(str_of(r, "_dlt_parent_id"), Some(xid.clone()), "parent of a second-level row");
        check!(item_ids.contains(&xid), "second-level parent is an item row");
    }
    let mut idx: Vec<Option<i64>> = sub.iter().map(|r| as_i64(get(r, "_dlt_list_idx"))).collect();
    idx.sort();
    check_eq!(idx, vec![Some(0), Some(1)], "second-level indices");
    Ok(Outcome::Passed)
}

/// An empty load (no rows) after a load with rows: the data stays, and the empty load is
/// marked in `_dlt_loads` too.
pub async fn empty_load(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "empty_load");
    let p = s.pipeline()?;
    let first = run(&p, Resource::from_values("items", vec![json!({"id": 1}), json!({"id": 2})])).await?;
    let second = run(&p, Resource::from_values("items", Vec::<Value>::new())).await?;
    check_eq!(second.rows(), 0, "rows of the empty load");
    check_eq!(second.load_ids().len(), 1, "packages of the empty load ({second})");
    let rows = s.table("items").await?;
    check_eq!(ints(&rows, "id"), vec![Some(1), Some(2)], "ids after an empty load");
    let mut expected: Vec<String> = first.load_ids().into_iter().chain(second.load_ids()).map(String::from).collect();
    expected.sort();
    check_eq!(s.loads().await?, expected, "_dlt_loads after an empty load");
    Ok(Outcome::Passed)
}

/// A destination wrapper whose client fails jobs: for good for the data (or reference) jobs of one table
/// while `fail_table` is armed, or with a retryable error once `crash_after` jobs completed
/// while `crash` is armed (a crash between jobs, as the loader sees it).
#[derive(Debug)]
pub struct FaultyDestination {
    inner: Arc<dyn Destination>,
    state: Arc<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    fail_table: Option<String>,
    fail_armed: AtomicBool,
    crash_after: usize,
    crash_armed: AtomicBool,
    completed: AtomicUsize,
    failed_calls: AtomicUsize,
}

impl FaultyDestination {
    fn failing_table(inner: Arc<dyn Destination>, table: &str) -> Self {
        let state = FaultState { fail_table: Some(table.to_string()), fail_armed: AtomicBool::new(true), ..Default::default() };
        FaultyDestination { inner, state: Arc::new(state) }
    }
    fn crashing_after(inner: Arc<dyn Destination>, jobs: usize) -> Self {
        let state = FaultState { crash_after: jobs, crash_armed: AtomicBool::new(true), ..Default::default() };
        FaultyDestination { inner, state: Arc::new(state) }
    }
    fn disarm(&self) {
        self.state.fail_armed.store(false, Ordering::SeqCst);
        self.state.crash_armed.store(false, Ordering::SeqCst);
    }
}

#[async_trait]
impl Destination for FaultyDestination {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn client(&self, dataset_name: &str, pipeline_name: &str) -> stevedore_core::Result<Box<dyn DestinationClient>> {
        Ok(Box::new(FaultyClient { inner: self.inner.client(dataset_name, pipeline_name).await?, state: self.state.clone() }))
    }
    fn display_location(&self) -> String {
        self.inner.display_location()
    }
}

struct FaultyClient {
    inner: Box<dyn DestinationClient>,
    state: Arc<FaultState>,
}

#[async_trait]
impl DestinationClient for FaultyClient {
    async fn begin_package(&self, package: &PackageInfo) -> stevedore_core::Result<()> {
        self.inner.begin_package(package).await
    }
    async fn initialize_storage(&self) -> stevedore_core::Result<()> {
        self.inner.initialize_storage().await
    }
    async fn migrate_schema(&self, package: &PackageInfo) -> stevedore_core::Result<()> {
        self.inner.migrate_schema(package).await
    }
    async fn run_job(&self, package: &PackageInfo, job: &JobInfo) -> stevedore_core::Result<JobOutcome> {
        let st = &self.state;
        if st.fail_armed.load(Ordering::SeqCst) && !job.is_followup() && st.fail_table.as_deref() == Some(job.table.as_str()) {
            st.failed_calls.fetch_add(1, Ordering::SeqCst);
            return Err(Error::invalid_data("conformance kit: this job fails for good").with("table", job.table.clone()));
        }
        if st.crash_armed.load(Ordering::SeqCst) {
            // claim a slot before running, so parallel jobs never exceed `crash_after`
            if st.completed.fetch_add(1, Ordering::SeqCst) >= st.crash_after {
                st.failed_calls.fetch_add(1, Ordering::SeqCst);
                return Err(Error::new(ErrorKind::Destination, "conformance kit: simulated crash between jobs").retryable(true));
            }
        }
        self.inner.run_job(package, job).await
    }
    async fn create_followup_jobs(&self, package: &PackageInfo, completed: &[JobInfo]) -> stevedore_core::Result<Vec<FollowupJob>> {
        self.inner.create_followup_jobs(package, completed).await
    }
    async fn complete_load(&self, package: &PackageInfo) -> stevedore_core::Result<()> {
        self.inner.complete_load(package).await
    }
    async fn discard_package(&self, package: &PackageInfo, jobs: &[JobInfo]) -> stevedore_core::Result<()> {
        self.inner.discard_package(package, jobs).await
    }
    async fn truncate_staging_dataset(&self, package: &PackageInfo) -> stevedore_core::Result<()> {
        self.inner.truncate_staging_dataset(package).await
    }
    async fn stored_state(&self, pipeline_name: &str) -> stevedore_core::Result<Option<Value>> {
        self.inner.stored_state(pipeline_name).await
    }
}

/// Settings of the crash scenarios: one job at a time, one attempt per run, small files (so
/// that a package has many jobs), one normalizer thread.
const CRASH_ENV: &[(&str, &str)] = &[
    ("LOAD__WORKERS", "1"),
    ("LOAD__RAISE_ON_MAX_RETRIES", "1"),
    ("NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", "2"),
    ("NORMALIZE__WORKERS", "1"),
];

/// A JSON-lines input file of `n` records with a nested list each.
fn write_input(dir: &Path, n: usize) -> Result<PathBuf, String> {
    let path = dir.join("input.jsonl");
    let mut text = String::new();
    for i in 1..=n {
        text.push_str(&json!({"id": i, "name": format!("r{i}"), "tags": [format!("t{i}a"), format!("t{i}b")]}).to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Checks that `items` and `items__tags` hold the `n` input records exactly once, all from
/// one load that is the only one in `_dlt_loads`.
async fn check_exactly_once(s: &Scn<'_>, n: usize) -> Result<(), String> {
    let rows = s.table("items").await?;
    check_eq!(ints(&rows, "id"), (1..=n as i64).map(Some).collect::<Vec<_>>(), "ids loaded");
    let parents = check_row_ids(&rows, "items")?;
    let tags = s.table("items__tags").await?;
    check_eq!(tags.len(), 2 * n, "nested rows loaded");
    for t in &tags {
        check!(parents.contains(&str_of(t, "_dlt_parent_id").unwrap_or_default()), "orphan nested row {t:?}");
    }
    let loads = s.loads().await?;
    check_eq!(loads.len(), 1, "_dlt_loads rows ({loads:?})");
    let ids: BTreeSet<String> = rows.iter().filter_map(|r| str_of(r, "_dlt_load_id")).collect();
    check_eq!(ids.into_iter().collect::<Vec<_>>(), loads, "load ids of the rows");
    Ok(())
}

/// A job that fails for good aborts the package (no marker, nothing of it left in the
/// tables); after the cause is fixed the same run loads the input exactly once.
pub async fn failed_job_then_rerun(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "failed_job_then_rerun");
    let input = write_input(s.dir.path(), 6)?;
    let faulty = Arc::new(FaultyDestination::failing_table(kit.destination.clone(), "items__tags"));
    let p = s.pipeline_on(faulty.clone(), &[])?;
    let err = match p.run(Resource::from_files("items", [&input])).await {
        Ok(info) => return Err(format!("the load succeeded although a job failed for good: {info}")),
        Err(e) => e,
    };
    check!(faulty.state.failed_calls.load(Ordering::SeqCst) >= 1, "the failing job never ran");
    check!(!err.is_retryable(), "an aborted package is not retryable: {err}");
    let (pending, loaded, aborted) =
        stevedore_core::pipeline::package_counts(&s.pipelines_dir(), &s.pipeline_name).map_err(|e| e.to_string())?;
    check_eq!((pending, loaded, aborted), (0, 0, 1), "packages (pending, loaded, aborted) after the failure");
    check_eq!(s.loads().await?, Vec::<String>::new(), "_dlt_loads after an aborted load");
    let left = s.rows("items").await?.unwrap_or_default();
    check!(left.is_empty(), "rows of the aborted load are still visible: {left:?}");
    let left = s.rows("items__tags").await?.unwrap_or_default();
    check!(left.is_empty(), "nested rows of the aborted load are still visible: {left:?}");
    faulty.disarm();
    run(&p, Resource::from_files("items", [&input])).await?;
    check_exactly_once(&s, 6).await?;
    Ok(Outcome::Passed)
}

/// A crash between jobs (a retryable failure after 2 jobs, small files so that the package
/// has many), then the same run with the same input file: the pending package is finished,
/// the input is not extracted again, every record is there once.
pub async fn resume_after_crash(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "resume_after_crash");
    let n = 8;
    let input = write_input(s.dir.path(), n)?;
    let faulty = Arc::new(FaultyDestination::crashing_after(kit.destination.clone(), 2));
    let p = s.pipeline_on(faulty.clone(), CRASH_ENV)?;
    let err = match p.run(Resource::from_files("items", [&input])).await {
        Ok(info) => return Err(format!("the load succeeded through a crash: {info}")),
        Err(e) => e,
    };
    check!(err.is_retryable(), "a crash leaves a retryable error: {err}");
    let (pending, loaded, aborted) =
        stevedore_core::pipeline::package_counts(&s.pipelines_dir(), &s.pipeline_name).map_err(|e| e.to_string())?;
    check_eq!((pending, loaded, aborted), (1, 0, 0), "packages (pending, loaded, aborted) after the crash");
    check_eq!(s.loads().await?, Vec::<String>::new(), "_dlt_loads after the crash");
    faulty.disarm();
    let info = run(&p, Resource::from_files("items", [&input])).await?;
    check_eq!(info.packages.len(), 1, "packages loaded by the rerun ({info})");
    check!(info.notes.iter().any(|n| n.contains("resumed")), "the rerun did not resume the pending package: {:?}", info.notes);
    let (pending, loaded, _) = stevedore_core::pipeline::package_counts(&s.pipelines_dir(), &s.pipeline_name).map_err(|e| e.to_string())?;
    check_eq!((pending, loaded), (0, 1), "packages (pending, loaded) after the rerun");
    check_exactly_once(&s, n).await?;
    Ok(Outcome::Passed)
}

/// Runs every completed job of a loaded package a second time through a new client: no
/// row is duplicated.
pub async fn idempotent_job_rerun(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "idempotent_job_rerun");
    let p = s.pipeline()?;
    run(&p, Resource::from_values("items", (1..=4).map(|i| json!({"id": i, "tags": ["a", "b"]})))).await?;
    let storage = LoadStorage::open(p.working_dir()).map_err(|e| e.to_string())?;
    let loaded = storage.loaded().map_err(|e| e.to_string())?;
    check_eq!(loaded.len(), 1, "loaded packages");
    let pkg = &loaded[0];
    let mut info = pkg.info().map_err(|e| e.to_string())?;
    // as the loader hands it to the destination
    info.plan_tables(&kit.destination.capabilities());
    let staged = kit.all_through_staging && kit.staging.is_some();
    if let (true, Some(st)) = (staged, &kit.staging) {
        // the final destination ran the reference jobs; the data jobs went to the bucket
        let c = st.client(&s.dataset, &s.pipeline_name).await.map_err(|e| e.to_string())?;
        info.staging = Some(c.location());
    }
    let jobs: Vec<JobInfo> = pkg.jobs(COMPLETED_JOBS).map_err(|e| e.to_string())?.into_iter().filter(|j| !staged || !j.is_data()).collect();
    check!(jobs.iter().any(|j| j.table == "items"), "no completed job of `items` kept in the package: {jobs:?}");
    let client = kit.destination.client(&s.dataset, &s.pipeline_name).await.map_err(|e| e.to_string())?;
    for job in &jobs {
        client.run_job(&info, job).await.map_err(|e| format!("running {} again: {e}", job.job_id()))?;
    }
    check_exactly_once_simple(&s, 4).await?;
    // and once more, so that a second re-run is no different
    for job in jobs.iter().filter(|j| !j.is_followup()) {
        client.run_job(&info, job).await.map_err(|e| format!("running {} a third time: {e}", job.job_id()))?;
    }
    check_exactly_once_simple(&s, 4).await?;
    Ok(Outcome::Passed)
}

async fn check_exactly_once_simple(s: &Scn<'_>, n: usize) -> Result<(), String> {
    let rows = s.table("items").await?;
    check_eq!(ints(&rows, "id"), (1..=n as i64).map(Some).collect::<Vec<_>>(), "ids after a job ran again");
    check_row_ids(&rows, "items")?;
    let tags = s.table("items__tags").await?;
    check_eq!(tags.len(), 2 * n, "nested rows after a job ran again");
    check_row_ids(&tags, "items__tags")?;
    check_eq!(s.loads().await?.len(), 1, "_dlt_loads rows after a job ran again");
    Ok(())
}

/// The staging storage of the staged scenarios, or why they do not run: skipped when the
/// destination declares no staging formats, failed when it does and the kit has no staging
/// storage.
fn needs_staging(kit: &Kit) -> Result<Result<Arc<dyn StagingDestination>, Outcome>, String> {
    if kit.caps().supported_staging_file_formats.is_empty() {
        return Ok(Err(Outcome::Skipped("capabilities().supported_staging_file_formats is empty: no staging chain".into())));
    }
    match &kit.staging {
        Some(st) => Ok(Ok(st.clone())),
        None => Err("the destination declares staging formats: give the kit a staging storage with Kit::staging".into()),
    }
}

/// A staging storage wrapper that counts uploads and truncations.
#[derive(Debug)]
struct CountingStaging {
    inner: Arc<dyn StagingDestination>,
    uploads: Arc<AtomicUsize>,
    truncations: Arc<AtomicUsize>,
}

#[async_trait]
impl StagingDestination for CountingStaging {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn supported_file_formats(&self) -> Vec<FileFormat> {
        self.inner.supported_file_formats()
    }
    async fn client(&self, dataset_name: &str, pipeline_name: &str) -> stevedore_core::Result<Box<dyn StagingClient>> {
        Ok(Box::new(CountingStagingClient {
            inner: self.inner.client(dataset_name, pipeline_name).await?,
            uploads: self.uploads.clone(),
            truncations: self.truncations.clone(),
        }))
    }
    fn display_location(&self) -> String {
        self.inner.display_location()
    }
}

struct CountingStagingClient {
    inner: Box<dyn StagingClient>,
    uploads: Arc<AtomicUsize>,
    truncations: Arc<AtomicUsize>,
}

#[async_trait]
impl StagingClient for CountingStagingClient {
    fn location(&self) -> StagingLocation {
        self.inner.location()
    }
    async fn truncate_tables(&self, package: &PackageInfo, tables: &[String]) -> stevedore_core::Result<()> {
        self.truncations.fetch_add(1, Ordering::SeqCst);
        self.inner.truncate_tables(package, tables).await
    }
    async fn upload(&self, package: &PackageInfo, job: &JobInfo) -> stevedore_core::Result<String> {
        self.uploads.fetch_add(1, Ordering::SeqCst);
        self.inner.upload(package, job).await
    }
}

fn counting(st: Arc<dyn StagingDestination>) -> Arc<CountingStaging> {
    Arc::new(CountingStaging { inner: st, uploads: Arc::default(), truncations: Arc::default() })
}

/// Whether the staged file at `url` can be read back from the staging storage.
async fn staged_file_exists(location: &StagingLocation, url: &str, dir: &Path) -> bool {
    let local = dir.join(format!("probe-{}", url.len()));
    let ok = location.files.download(url, &local).await.is_ok() && local.exists();
    let _ = std::fs::remove_file(&local);
    ok
}

/// Through the staging chain: each data job is uploaded (in the destination's preferred
/// staging format, under the staging bucket) and loaded by a reference job; an append and a
/// merge (or a second append without delete-insert) hold the right rows; the staged files are
/// kept after a load and the files of a table are removed before its next load.
pub async fn staged_load(kit: &Kit) -> ScenarioResult {
    let st = match needs_staging(kit)? {
        Ok(st) => st,
        Err(o) => return Ok(o),
    };
    let caps = kit.caps();
    let s = Scn::new(kit, "staged_load");
    let counted = counting(st.clone());
    let p = s.pipeline_with(kit.destination.clone(), Some(counted.clone()), &[])?;
    let merge = caps.supported_merge_strategies.contains(&MergeStrategy::DeleteInsert);
    let res = |rows: Vec<Value>| {
        if merge { merge_resource("items", rows, MergeStrategy::DeleteInsert) } else { Resource::from_values("items", rows) }
    };
    let first = run(&p, res((1..=3).map(|i| json!({"id": i, "name": format!("a{i}"), "tags": ["x", "y"]})).collect())).await?;
    let pkg = &first.packages[0];
    let is_data = |id: &str| FileFormat::parse(id.trim_end_matches(".gz").rsplit('.').next().unwrap_or("")).is_some();
    let data: Vec<_> = pkg.jobs.iter().filter(|j| is_data(&j.job_id)).collect();
    let references: Vec<_> = pkg.jobs.iter().filter(|j| j.job_id.ends_with(".reference")).collect();
    check!(!data.is_empty(), "no data job in the staged load: {:?}", pkg.jobs);
    check_eq!(references.len(), data.len(), "reference jobs per uploaded data job ({:?})", pkg.jobs);
    check_eq!(counted.uploads.load(Ordering::SeqCst), data.len(), "uploads");
    let location = counted.client(&s.dataset, &s.pipeline_name).await.map_err(|e| e.to_string())?.location();
    let bucket = st.display_location();
    let preferred =
        stevedore_core::staging::staging_file_formats(kit.destination.name(), &caps, Some((st.name(), &st.supported_file_formats())))
            .map_err(|e| e.to_string())?
            .0;
    let mut first_urls = Vec::new();
    for j in &data {
        check_eq!(j.state.as_str(), "completed", "state of {}", j.job_id);
        let url = j.remote_url.clone().ok_or_else(|| format!("uploaded job {} has no remote URL", j.job_id))?;
        check!(url.starts_with(bucket.trim_end_matches('/')), "staged file {url} is not under the staging bucket {bucket}");
        check!(url.contains(&format!("/{}/", s.dataset)), "staged file {url} is not under the dataset folder `{}`", s.dataset);
        let format = stevedore_core::staging::file_format_of(&url).map(|(f, _)| f);
        check_eq!(format, Some(preferred), "format of the staged file {url}");
        check!(staged_file_exists(&location, &url, s.dir.path()).await, "the staged file {url} cannot be read back");
        first_urls.push(url);
    }
    let rows = s.table("items").await?;
    check_eq!(ints(&rows, "id"), vec![Some(1), Some(2), Some(3)], "ids after the first staged load");
    check_eq!(s.table("items__tags").await?.len(), 6, "nested rows after the first staged load");

    let second = run(&p, res(vec![json!({"id": 3, "name": "b3", "tags": ["z"]}), json!({"id": 4, "name": "b4"})])).await?;
    let rows = s.table("items").await?;
    let tags = s.table("items__tags").await?;
    if merge {
        check_eq!(ints(&rows, "id"), vec![Some(1), Some(2), Some(3), Some(4)], "ids after the staged merge");
        let by = by_id(&rows)?;
        check_eq!(by.get(&3).and_then(|r| str_of(r, "name")), Some("b3".to_string()), "merged name of id 3");
        check_eq!(tags.len(), 5, "nested rows after the staged merge (2+2 kept, 1 new)");
    } else {
        check_eq!(rows.len(), 5, "rows after two staged appends");
        check_eq!(tags.len(), 7, "nested rows after two staged appends");
    }
    check_eq!(s.loads().await?.len(), 2, "_dlt_loads rows after two staged loads");
    // the first load's files of the tables loaded again (`_dlt_pipeline_state` was not: the
    // state did not change) were removed before the second load
    // (truncate_tables_on_staging_destination_before_load, true by default); the second
    // load's files are kept
    let truncate = caps.truncate_tables_on_staging_destination_before_load;
    for url in first_urls.iter().filter(|u| u.contains("/items/") || u.contains("/items__tags/")) {
        check_eq!(
            staged_file_exists(&location, url, s.dir.path()).await,
            !truncate,
            "the first load's staged file {url} exists after the second load"
        );
    }
    for j in second.packages[0].jobs.iter().filter(|j| is_data(&j.job_id)) {
        let url = j.remote_url.clone().ok_or_else(|| format!("uploaded job {} has no remote URL", j.job_id))?;
        check!(staged_file_exists(&location, &url, s.dir.path()).await, "the staged file {url} was not kept after its load");
    }
    Ok(Outcome::Passed)
}

/// A crash between the uploads and the loads of the staged files (the destination's
/// reference jobs fail with a retryable error after one of them ran), then the same run with
/// the same input: nothing is uploaded again, every record is there once.
pub async fn staged_resume(kit: &Kit) -> ScenarioResult {
    let st = match needs_staging(kit)? {
        Ok(st) => st,
        Err(o) => return Ok(o),
    };
    let s = Scn::new(kit, "staged_resume");
    let n = 8;
    let input = write_input(s.dir.path(), n)?;
    let counted = counting(st);
    let faulty = Arc::new(FaultyDestination::crashing_after(kit.destination.clone(), 1));
    let p = s.pipeline_with(faulty.clone(), Some(counted.clone()), CRASH_ENV)?;
    let err = match p.run(Resource::from_files("items", [&input])).await {
        Ok(info) => return Err(format!("the load succeeded through a crash: {info}")),
        Err(e) => e,
    };
    check!(err.is_retryable(), "a crash leaves a retryable error: {err}");
    let uploads = counted.uploads.load(Ordering::SeqCst);
    check!(uploads >= 2, "the crash came before the uploads: {uploads} uploads");
    check_eq!(s.loads().await?, Vec::<String>::new(), "_dlt_loads after the crash");
    faulty.disarm();
    let info = run(&p, Resource::from_files("items", [&input])).await?;
    check!(info.notes.iter().any(|n| n.contains("resumed")), "the rerun did not resume the pending package: {:?}", info.notes);
    check_eq!(counted.uploads.load(Ordering::SeqCst), uploads, "uploads after the rerun (nothing is uploaded twice)");
    check_eq!(
        counted.truncations.load(Ordering::SeqCst),
        usize::from(kit.caps().truncate_tables_on_staging_destination_before_load),
        "staging truncations (once, before the first upload)"
    );
    check_exactly_once(&s, n).await?;
    Ok(Outcome::Passed)
}

/// Hostile identifiers: table and column names with spaces, quotes, unicode, upper case and
/// 200+ characters are normalized by dlt's snake_case (shortened to the destination's
/// identifier length), loaded and read back under those names.
pub async fn hostile_identifiers(kit: &Kit) -> ScenarioResult {
    let s = Scn::new(kit, "hostile_identifiers");
    let p = s.pipeline()?;
    let max = kit.caps().max_identifier_length;
    let naming = SnakeCase::new(max);
    let long = format!("Long Column {}", "Überlänge \"quoted\" ".repeat(12));
    check!(long.chars().count() > 200, "the long name is long");
    let keys: Vec<String> = vec![
        "Column With Spaces".into(),
        "quote\"d 'col'".into(),
        "ünïcödé naïve".into(),
        "UPPER CASE".into(),
        "HTTPResponseCode".into(),
        "Größe €".into(),
        long.clone(),
    ];
    let table_raw = "Hostile Table \"Ünïcödé\" CamelCase";
    let mut rec = Map::new();
    for (i, k) in keys.iter().enumerate() {
        rec.insert(k.clone(), json!(format!("v{i}")));
    }
    rec.insert("Nested List!".into(), json!([1, 2]));
    let mut rec2 = rec.clone();
    for (i, k) in keys.iter().enumerate() {
        rec2.insert(k.clone(), json!(format!("w{i}")));
    }
    run(&p, Resource::from_values(table_raw, vec![Value::Object(rec), Value::Object(rec2)])).await?;

    let table = naming.normalize_table_identifier(table_raw);
    let expected: Vec<String> = keys.iter().map(|k| naming.normalize_identifier(k)).collect();
    // spot checks against dlt's snake_case (which these names do not depend on stevedore for)
    check_eq!(expected[0], "column_with_spaces", "snake_case of a name with spaces");
    check_eq!(expected[3], "upper_case", "snake_case of an upper-case name");
    check_eq!(expected[4], "http_response_code", "snake_case of a camel-case name");
    check!(table.starts_with("hostile_table_") && table.ends_with("_camel_case"), "snake_case of the table name: {table}");
    if let Some(m) = max {
        for e in &expected {
            check!(e.len() <= m, "`{e}` is longer than the destination's {m} characters");
        }
    }
    let distinct: BTreeSet<&String> = expected.iter().collect();
    check_eq!(distinct.len(), expected.len(), "normalized names are distinct ({expected:?})");
    let rows = s.table(&table).await?;
    check_eq!(rows.len(), 2, "rows of the hostile table `{table}`");
    let cols = s.columns(&table).await?;
    for (i, e) in expected.iter().enumerate() {
        check!(cols.contains(e), "column `{e}` (from {:?}) missing: {cols:?}", keys[i]);
        let mut vals: Vec<String> = rows.iter().filter_map(|r| str_of(r, e)).collect();
        vals.sort();
        check_eq!(vals, vec![format!("v{i}"), format!("w{i}")], "values of `{e}`");
    }
    let child = naming.normalize_tables_path(&format!("{table}__{}", naming.normalize_identifier("Nested List!")));
    let nested = s.table(&child).await?;
    check_eq!(nested.len(), 4, "rows of the nested table `{child}`");
    Ok(Outcome::Passed)
}

// ---------------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------------

/// Reads a filesystem destination on local disk with the default layout
/// (`<bucket>/<dataset>/<table>/...`): the parquet files below a table's folder (with the
/// `parquet` crate, not stevedore's code), and `_dlt_loads` from its marker files (JSON
/// lines). Loads with `loader_file_format(FileFormat::Parquet)`.
#[derive(Debug, Clone)]
pub struct LocalParquetReader {
    /// The bucket folder.
    pub bucket: PathBuf,
}

impl LocalParquetReader {
    /// A reader of the bucket folder `bucket`.
    pub fn new(bucket: impl Into<PathBuf>) -> Self {
        LocalParquetReader { bucket: bucket.into() }
    }
}

fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_below(&p, out);
        } else if !e.file_name().to_string_lossy().starts_with('.') {
            out.push(p);
        }
    }
}

/// The rows of a parquet file as JSON objects (nulls kept as `null`).
pub fn read_parquet_rows(path: &Path) -> Result<Vec<Row>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.build())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = arrow_json::WriterBuilder::new().with_explicit_nulls(true).build::<_, arrow_json::writer::JsonArray>(Vec::new());
        w.write(&batch).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
        let buf = w.into_inner();
        if buf.is_empty() {
            continue;
        }
        let v: Vec<Row> = serde_json::from_slice(&buf).map_err(|e| e.to_string())?;
        rows.extend(v);
    }
    Ok(rows)
}

#[async_trait]
impl TableReader for LocalParquetReader {
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<Row>>, String> {
        let dir = self.bucket.join(dataset).join(table);
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut files = Vec::new();
        files_below(&dir, &mut files);
        files.sort();
        let mut rows = Vec::new();
        for f in files {
            let name = f.to_string_lossy();
            if name.ends_with(".parquet") {
                rows.extend(read_parquet_rows(&f)?);
            } else if table == "_dlt_loads" && (name.ends_with(".jsonl") || name.ends_with(".json")) {
                let text = std::fs::read_to_string(&f).map_err(|e| e.to_string())?;
                for l in text.lines().filter(|l| !l.trim().is_empty()) {
                    rows.push(serde_json::from_str(l).map_err(|e| format!("{}: {e}", f.display()))?);
                }
            }
        }
        Ok(Some(rows))
    }
}

/// Two clients of `destination` migrate dataset `dataset` at once, twice: three new tables,
/// then a new column in each. Returns the tables it made (`items`, `orders`, `users`, each with
/// `id` and then `note`) for the caller to read back; an error names the failed migration.
/// For warehouses without a lock that serializes migrations.
pub async fn concurrent_migrations(destination: &dyn Destination, dataset: &str) -> Result<Vec<&'static str>, String> {
    use stevedore_core::schema::{Column, DataType, Schema, Table};
    const TABLES: [&str; 3] = ["items", "orders", "users"];
    for extra in [false, true] {
        let mut schema = Schema::new("race");
        for name in TABLES {
            let mut t = Table::new(name);
            t.add_column(Column::new("id", DataType::Bigint));
            if extra {
                t.add_column(Column::new("note", DataType::Text));
            }
            schema.tables.insert(name.into(), t);
        }
        let mut p = PackageInfo {
            load_id: format!("1796000000.00000{}", u8::from(extra)),
            pipeline_name: "race".into(),
            schema,
            created_at: chrono::Utc::now(),
            tables: TABLES.iter().map(|t| (t.to_string(), WriteDisposition::Append)).collect(),
            replace_tables: Vec::new(),
            state: None,
            staging: None,
            data_formats: Default::default(),
            plans: Default::default(),
        };
        p.plan_tables(&destination.capabilities());
        let a = destination.client(dataset, "race").await.map_err(|e| e.to_string())?;
        let b = destination.client(dataset, "race").await.map_err(|e| e.to_string())?;
        a.initialize_storage().await.map_err(|e| e.to_string())?;
        let (ra, rb) = futures::join!(a.migrate_schema(&p), b.migrate_schema(&p));
        ra.and(rb).map_err(|e| format!("migration {}: {e}", if extra { "adding columns" } else { "creating tables" }))?;
    }
    Ok(TABLES.to_vec())
}
