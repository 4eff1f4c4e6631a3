//! The client of one load package: migrations, jobs, merge followups, the load marker.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool with the connection
//! behind a mutex (the destination declares one job at a time anyway).

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType as ArrowType;
use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, Transaction, params};
use stevedore::destination::{Dataset, DestinationClient, FollowupJob, JobInfo, JobOutcome, PackageInfo};
use stevedore::schema::{LOADS_TABLE, MergeStrategy, STATE_TABLE, Schema, Table, VERSION_TABLE, WriteDisposition};
use stevedore::serde_json::{self, Value as Json};
use stevedore::{Error, ErrorKind, Result};

use crate::{Sqlite, sqlite_type};

/// Job records: `(load_id, job_id)` of every job that committed.
const JOBS_TABLE: &str = "_dlt_sqlite_jobs";
/// Extension of merge followup jobs (their content is the merge strategy).
const MERGE_JOB: &str = "merge";

pub(crate) struct SqliteClient {
    conn: Arc<Mutex<Connection>>,
    /// Attached name of the dataset.
    ds: String,
    /// Attached name of the staging dataset.
    stg: String,
    create_indexes: bool,
    location: String,
}

/// `"name"` with inner quotes doubled.
fn q(id: &str) -> String {
    format!("\"{}\"", id.replace('"', "\"\""))
}

fn sql_err(what: &str, e: rusqlite::Error) -> Error {
    // a busy or locked database is worth another attempt; anything else is for good
    let retry = matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked));
    Error::new(ErrorKind::Destination, format!("sqlite: {what}: {e}")).retryable(retry)
}

impl SqliteClient {
    pub(crate) async fn open(dest: &Sqlite, dataset: &str) -> Result<SqliteClient> {
        let main = dest.database.clone();
        let ds_path = dest.dataset_path(dataset);
        let stg_name = Sqlite::staging_dataset(dataset);
        let stg_path = dest.dataset_path(&stg_name);
        let (ds, stg) = (dataset.to_string(), stg_name.clone());
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            if let Some(dir) = main.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("create the database folder", dir, e))?;
            }
            let conn = Connection::open(&main).map_err(|e| sql_err("opening the database", e))?;
            conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| sql_err("setting the busy timeout", e))?;
            for (path, name) in [(&ds_path, &ds), (&stg_path, &stg)] {
                conn.execute(&format!("ATTACH DATABASE ?1 AS {}", q(name)), params![path.to_string_lossy()])
                    .map_err(|e| sql_err("attaching the dataset", e))?;
            }
            Ok(conn)
        })
        .await
        .map_err(|e| Error::internal(format!("sqlite task: {e}")))??;
        Ok(SqliteClient {
            conn: Arc::new(Mutex::new(conn)),
            ds: dataset.to_string(),
            stg: stg_name,
            create_indexes: dest.create_indexes,
            location: dest.display_location_of(dataset),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(&self, f: impl FnOnce(&mut Connection, &Names) -> Result<T> + Send + 'static) -> Result<T> {
        let conn = self.conn.clone();
        let names = Names { ds: self.ds.clone(), stg: self.stg.clone(), create_indexes: self.create_indexes };
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().map_err(|_| Error::internal("sqlite connection poisoned"))?;
            f(&mut c, &names)
        })
        .await
        .map_err(|e| Error::internal(format!("sqlite task: {e}")))?
    }
}

impl Sqlite {
    fn display_location_of(&self, dataset: &str) -> String {
        format!("sqlite:///{}", self.dataset_path(dataset).display())
    }
}

/// Names a blocking closure needs.
struct Names {
    ds: String,
    stg: String,
    create_indexes: bool,
}

impl Names {
    fn ds(&self, table: &str) -> String {
        format!("{}.{}", q(&self.ds), q(table))
    }
    fn stg(&self, table: &str) -> String {
        format!("{}.{}", q(&self.stg), q(table))
    }
}

/// Columns of `db.table`, empty when the table does not exist.
fn existing_columns(tx: &Transaction<'_>, db: &str, table: &str) -> Result<Vec<String>> {
    let mut st = tx.prepare(&format!("PRAGMA {}.table_info({})", q(db), q(table))).map_err(|e| sql_err("reading table info", e))?;
    let cols = st
        .query_map([], |r| r.get::<_, String>(1))
        .map_err(|e| sql_err("reading table info", e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| sql_err("reading table info", e))?;
    Ok(cols)
}

/// Creates `db.table` or adds its missing columns.
fn ensure_table(tx: &Transaction<'_>, db: &str, t: &Table, create_indexes: bool) -> Result<()> {
    let have = existing_columns(tx, db, &t.name)?;
    let complete: Vec<_> = t.columns.values().filter(|c| c.is_complete()).collect();
    if have.is_empty() {
        let defs: Vec<String> = complete
            .iter()
            .map(|c| {
                let ty = sqlite_type(c.data_type.expect("complete"));
                format!("{} {ty}{}", q(&c.name), if c.nullable { "" } else { " NOT NULL" })
            })
            .collect();
        tx.execute_batch(&format!("CREATE TABLE {}.{} ({})", q(db), q(&t.name), defs.join(", ")))
            .map_err(|e| sql_err(&format!("creating table {}", t.name), e))?;
    } else {
        for c in complete.iter().filter(|c| !have.contains(&c.name)) {
            // ADD COLUMN cannot be NOT NULL without a default: older rows have no value
            let ty = sqlite_type(c.data_type.expect("complete"));
            tx.execute_batch(&format!("ALTER TABLE {}.{} ADD COLUMN {} {ty}", q(db), q(&t.name), q(&c.name)))
                .map_err(|e| sql_err(&format!("adding column {}.{}", t.name, c.name), e))?;
        }
    }
    if create_indexes {
        for c in complete.iter().filter(|c| c.hints.unique) {
            let idx = format!("{}__{}__unique", t.name, c.name);
            tx.execute_batch(&format!("CREATE UNIQUE INDEX IF NOT EXISTS {}.{} ON {} ({})", q(db), q(&idx), q(&t.name), q(&c.name)))
                .map_err(|e| sql_err("creating an index", e))?;
        }
    }
    Ok(())
}

fn table_exists(tx: &Transaction<'_>, db: &str, table: &str) -> Result<bool> {
    Ok(!existing_columns(tx, db, table)?.is_empty())
}

/// Whether the rows of `table` go to staging first (tables of a merge: the loader's plan says
/// so, from the dispositions `Sqlite::capabilities` lists).
fn staged(package: &PackageInfo, table: &str) -> bool {
    package.plan(table).is_ok_and(|p| p.dataset == Dataset::Staging)
}

/// Nesting depth (root: 0).
fn depth(schema: &Schema, table: &str) -> usize {
    let mut d = 0;
    let mut t = schema.table(table);
    while let Some(p) = t.and_then(|t| t.parent.as_deref()) {
        d += 1;
        t = schema.table(p);
    }
    d
}

/// A predicate selecting the rows of `table` in `db` that descend from root rows matching
/// `root_pred`, through `_dlt_parent_id` -> `_dlt_id`.
fn chain_predicate(schema: &Schema, names: &Names, table: &str, root_pred: &str) -> String {
    match schema.table(table).and_then(|t| t.parent.as_deref()) {
        None => root_pred.to_string(),
        Some(parent) => format!(
            "\"_dlt_parent_id\" IN (SELECT \"_dlt_id\" FROM {} WHERE {})",
            names.ds(parent),
            chain_predicate(schema, names, parent, root_pred)
        ),
    }
}

fn complete_columns(schema: &Schema, table: &str) -> Vec<String> {
    schema.table(table).map(|t| t.columns.values().filter(|c| c.is_complete()).map(|c| c.name.clone()).collect()).unwrap_or_default()
}

fn job_done(tx: &Transaction<'_>, names: &Names, load_id: &str, job_id: &str) -> Result<bool> {
    let n: i64 = tx
        .query_row(
            &format!("SELECT count(*) FROM {} WHERE load_id = ?1 AND job_id = ?2", names.ds(JOBS_TABLE)),
            params![load_id, job_id],
            |r| r.get(0),
        )
        .map_err(|e| sql_err("reading job records", e))?;
    Ok(n > 0)
}

fn record_job(tx: &Transaction<'_>, names: &Names, load_id: &str, job_id: &str) -> Result<()> {
    tx.execute(&format!("INSERT INTO {} (load_id, job_id) VALUES (?1, ?2)", names.ds(JOBS_TABLE)), params![load_id, job_id])
        .map_err(|e| sql_err("recording the job", e))?;
    Ok(())
}

fn now_iso() -> String {
    let us = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    stevedore::time::format_timestamp_us(us)
}

/// One Arrow column as SQLite values.
fn arrow_values(a: &dyn Array) -> Result<Vec<Sql>> {
    let cast = |t: &ArrowType| arrow_cast::cast(a, t).map_err(|e| Error::invalid_data(format!("converting a parquet column: {e}")));
    let n = a.len();
    let out = match a.data_type() {
        ArrowType::Null => vec![Sql::Null; n],
        ArrowType::Boolean => {
            let b = a.as_boolean();
            (0..n).map(|i| if b.is_null(i) { Sql::Null } else { Sql::Integer(b.value(i) as i64) }).collect()
        }
        t if t.is_integer() && *t != ArrowType::UInt64 => {
            let c = cast(&ArrowType::Int64)?;
            let v = c.as_primitive::<arrow_array::types::Int64Type>();
            (0..n).map(|i| if v.is_null(i) { Sql::Null } else { Sql::Integer(v.value(i)) }).collect()
        }
        t if t.is_floating() => {
            let c = cast(&ArrowType::Float64)?;
            let v = c.as_primitive::<arrow_array::types::Float64Type>();
            (0..n).map(|i| if v.is_null(i) { Sql::Null } else { Sql::Real(v.value(i)) }).collect()
        }
        ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView | ArrowType::FixedSizeBinary(_) => {
            let c = cast(&ArrowType::LargeBinary)?;
            let v = c.as_binary::<i64>();
            (0..n).map(|i| if v.is_null(i) { Sql::Null } else { Sql::Blob(v.value(i).to_vec()) }).collect()
        }
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => {
            let c = cast(&ArrowType::LargeUtf8)?;
            let v = c.as_string::<i64>();
            (0..n).map(|i| if v.is_null(i) { Sql::Null } else { Sql::Text(v.value(i).to_string()) }).collect()
        }
        _ => {
            // timestamps, dates, times, decimals, u64: their ISO / exact text
            let f = arrow_cast::display::ArrayFormatter::try_new(a, &arrow_cast::display::FormatOptions::default())
                .map_err(|e| Error::invalid_data(format!("converting a parquet column: {e}")))?;
            (0..n).map(|i| if a.is_null(i) { Sql::Null } else { Sql::Text(f.value(i).to_string()) }).collect()
        }
    };
    Ok(out)
}

fn json_value(v: &Json) -> Sql {
    match v {
        Json::Null => Sql::Null,
        Json::Bool(b) => Sql::Integer(*b as i64),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Sql::Integer(i),
            (None, Some(f)) if n.is_f64() => Sql::Real(f),
            _ => Sql::Text(n.to_string()),
        },
        Json::String(s) => Sql::Text(s.clone()),
        other => Sql::Text(other.to_string()),
    }
}

fn insert_batch(tx: &Transaction<'_>, target: &str, batch: &RecordBatch) -> Result<()> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    let cols: Vec<String> = batch.schema().fields().iter().map(|f| q(f.name())).collect();
    let values: Vec<Vec<Sql>> = batch.columns().iter().map(|c| arrow_values(c.as_ref())).collect::<Result<_>>()?;
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let mut st = tx
        .prepare_cached(&format!("INSERT INTO {target} ({}) VALUES ({})", cols.join(", "), marks.join(", ")))
        .map_err(|e| sql_err("preparing the insert", e))?;
    for row in 0..batch.num_rows() {
        st.execute(rusqlite::params_from_iter(values.iter().map(|c| &c[row]))).map_err(|e| sql_err("inserting a row", e))?;
    }
    Ok(())
}

fn insert_jsonl(tx: &Transaction<'_>, target: &str, path: &Path, columns: &[String]) -> Result<()> {
    use std::io::BufRead;
    let reader = stevedore::source::open_maybe_gzip(path)?;
    let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let mut st = tx
        .prepare_cached(&format!("INSERT INTO {target} ({}) VALUES ({})", cols.join(", "), marks.join(", ")))
        .map_err(|e| sql_err("preparing the insert", e))?;
    for line in reader.lines() {
        let line = line.map_err(|e| Error::io("read a job file", path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: serde_json::Map<String, Json> = serde_json::from_str(&line)?;
        let vals: Vec<Sql> = columns.iter().map(|c| row.get(c).map(json_value).unwrap_or(Sql::Null)).collect();
        st.execute(rusqlite::params_from_iter(vals.iter())).map_err(|e| sql_err("inserting a row", e))?;
    }
    Ok(())
}

/// Loads one data job file into `target` (inside the caller's transaction).
fn load_file(tx: &Transaction<'_>, target: &str, package: &PackageInfo, job: &JobInfo) -> Result<()> {
    match job.format.as_str() {
        "parquet" => {
            for batch in stevedore::source::read_parquet(&job.path, 8192)? {
                insert_batch(tx, target, &batch?)?;
            }
            Ok(())
        }
        "jsonl" => insert_jsonl(tx, target, &job.path, &complete_columns(&package.schema, &job.table)),
        other => Err(Error::new(ErrorKind::Unsupported, format!("sqlite cannot load `{other}` job files"))
            .with_hint("use parquet (the default) or jsonl")),
    }
}

/// Merges the staged rows of `root` and its nested tables into the final tables.
fn merge(tx: &Transaction<'_>, names: &Names, schema: &Schema, root: &str, load_id: &str) -> Result<()> {
    let table = schema.table(root).ok_or_else(|| Error::internal(format!("merge of unknown table {root}")))?;
    let mut keys: Vec<String> = table.columns_with_hint("primary_key").iter().map(|c| q(&c.name)).collect();
    if keys.is_empty() {
        keys = table.columns_with_hint("merge_key").iter().map(|c| q(&c.name)).collect();
    }
    let mut nested: Vec<&Table> = schema.nested_tables(root).into_iter().filter(|t| t.has_complete_columns()).collect();
    nested.sort_by_key(|t| std::cmp::Reverse(depth(schema, &t.name)));
    let exec = |sql: String| tx.execute(&sql, params![load_id]).map(|_| ()).map_err(|e| sql_err(&format!("merging {root}: {sql}"), e));
    let exec0 = |sql: String| tx.execute_batch(&sql).map_err(|e| sql_err(&format!("merging {root}: {sql}"), e));
    let cols = |t: &str| complete_columns(schema, t).iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
    if !keys.is_empty() {
        let k = keys.join(", ");
        let replaced = format!("({k}) IN (SELECT {k} FROM {})", names.stg(root));
        // nested rows of the replaced roots first (deepest first), while their parents exist
        for n in &nested {
            if table_exists(tx, &names.ds, &n.name)? {
                exec0(format!("DELETE FROM {} WHERE {}", names.ds(&n.name), chain_predicate(schema, names, &n.name, &replaced)))?;
            }
        }
        exec0(format!("DELETE FROM {} WHERE {replaced}", names.ds(root)))?;
        // one row per key: the last one staged
        exec0(format!(
            "INSERT INTO {} ({c}) SELECT {c} FROM {} WHERE rowid IN (SELECT max(rowid) FROM {} GROUP BY {k})",
            names.ds(root),
            names.stg(root),
            names.stg(root),
            c = cols(root)
        ))?;
    } else {
        exec0(format!("INSERT INTO {} ({c}) SELECT {c} FROM {}", names.ds(root), names.stg(root), c = cols(root)))?;
    }
    // nested rows whose root row was inserted by this load (parents before children)
    for n in nested.iter().rev() {
        if !table_exists(tx, &names.stg, &n.name)? {
            continue;
        }
        let c = cols(&n.name);
        let staged_rows = format!("SELECT {c} FROM {}", names.stg(&n.name));
        let pred = chain_predicate(schema, names, &n.name, "\"_dlt_load_id\" = ?1");
        exec(format!("INSERT INTO {} ({c}) SELECT * FROM ({staged_rows}) WHERE {pred}", names.ds(&n.name)))?;
    }
    for t in std::iter::once(root).chain(nested.iter().map(|t| t.name.as_str())) {
        if table_exists(tx, &names.stg, t)? {
            exec0(format!("DELETE FROM {}", names.stg(t)))?;
        }
    }
    Ok(())
}

#[async_trait]
impl DestinationClient for SqliteClient {
    async fn initialize_storage(&self) -> Result<()> {
        self.with_conn(|c, n| {
            c.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {} (load_id TEXT NOT NULL, job_id TEXT NOT NULL, inserted_at TEXT, PRIMARY KEY (load_id, job_id))",
                n.ds(JOBS_TABLE)
            ))
            .map_err(|e| sql_err("creating the job records table", e))
        })
        .await
    }

    async fn migrate_schema(&self, package: &PackageInfo) -> Result<()> {
        let package = package.clone();
        self.with_conn(move |c, n| {
            let schema = &package.schema;
            for (t, wd) in &package.tables {
                if *wd == WriteDisposition::Merge {
                    let s = schema.merge_strategy(t).unwrap_or(MergeStrategy::DeleteInsert);
                    if !matches!(s, MergeStrategy::DeleteInsert | MergeStrategy::Upsert) {
                        return Err(Error::new(ErrorKind::Unsupported, format!("sqlite does not support the `{s}` merge strategy"))
                            .with("table", t.clone())
                            .with_hint("use delete-insert or upsert"));
                    }
                }
            }
            let tx = c.transaction().map_err(|e| sql_err("starting a transaction", e))?;
            for t in schema.tables.values().filter(|t| t.has_complete_columns()) {
                ensure_table(&tx, &n.ds, t, n.create_indexes)?;
                if staged(&package, &t.name) {
                    ensure_table(&tx, &n.stg, t, false)?;
                    tx.execute_batch(&format!("DELETE FROM {}", n.stg(&t.name))).map_err(|e| sql_err("emptying staging", e))?;
                }
            }
            // truncate-and-insert: empty the replaced tables before their jobs run
            for t in &package.replace_tables {
                if table_exists(&tx, &n.ds, t)? {
                    tx.execute_batch(&format!("DELETE FROM {}", n.ds(t))).map_err(|e| sql_err("truncating a replaced table", e))?;
                }
            }
            if table_exists(&tx, &n.ds, VERSION_TABLE)? {
                tx.execute(
                    &format!(
                        "INSERT INTO {} (version, engine_version, inserted_at, schema_name, version_hash, schema) \
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM {} WHERE version_hash = ?5)",
                        n.ds(VERSION_TABLE),
                        n.ds(VERSION_TABLE)
                    ),
                    params![
                        schema.version as i64,
                        stevedore::schema::ENGINE_VERSION as i64,
                        now_iso(),
                        schema.name,
                        schema.version_hash,
                        schema.to_value().to_string()
                    ],
                )
                .map_err(|e| sql_err("storing the schema version", e))?;
            }
            tx.commit().map_err(|e| sql_err("committing the migration", e))
        })
        .await
    }

    async fn run_job(&self, package: &PackageInfo, job: &JobInfo) -> Result<JobOutcome> {
        // a reference to a staged file (the staging chain): fetch the file from the bucket, as
        // a warehouse's COPY reads it, and load it like a data job; the local copy is removed
        // when `fetched` drops
        let fetched = if job.is_reference() { Some(stevedore::staging::fetch_reference(package, job).await?) } else { None };
        let data = fetched.as_ref().map(|f| f.job.clone());
        let (package, job) = (package.clone(), job.clone());
        let location = format!("{}#{}", self.location, job.table);
        self.with_conn(move |c, n| {
            let tx = c.transaction().map_err(|e| sql_err("starting a transaction", e))?;
            let job_id = job.job_id();
            if job_done(&tx, n, &package.load_id, &job_id)? {
                return Ok(()); // committed before: a re-run loads nothing twice
            }
            if job.format == MERGE_JOB {
                merge(&tx, n, &package.schema, &job.table, &package.load_id)?;
            } else {
                let target = if staged(&package, &job.table) { n.stg(&job.table) } else { n.ds(&job.table) };
                load_file(&tx, &target, &package, data.as_ref().unwrap_or(&job)).map_err(|e| e.with("job", job_id.clone()))?;
            }
            record_job(&tx, n, &package.load_id, &job_id)?;
            tx.commit().map_err(|e| sql_err("committing the job", e))
        })
        .await?;
        Ok(JobOutcome { remote_url: Some(location) })
    }

    async fn create_followup_jobs(&self, package: &PackageInfo, _completed: &[JobInfo]) -> Result<Vec<FollowupJob>> {
        let schema = &package.schema;
        package
            .tables
            .iter()
            .filter(|(t, wd)| *wd == WriteDisposition::Merge && staged(package, t) && schema.table(t).is_some_and(|t| !t.is_nested()))
            .map(|(t, _)| {
                // the payload (the strategy) is typed: written as JSON, read back by JobInfo::payload
                let strategy = package.plan(t).ok().and_then(|p| p.merge_strategy).unwrap_or(MergeStrategy::DeleteInsert);
                FollowupJob::with_payload(t.clone(), MERGE_JOB, &strategy)
            })
            .collect()
    }

    async fn complete_load(&self, package: &PackageInfo) -> Result<()> {
        let package = package.clone();
        self.with_conn(move |c, n| {
            let tx = c.transaction().map_err(|e| sql_err("starting a transaction", e))?;
            ensure_table(&tx, &n.ds, &stevedore::schema::loads_table(), false)?;
            tx.execute(
                &format!(
                    "INSERT INTO {} (load_id, schema_name, status, inserted_at, schema_version_hash) \
                     SELECT ?1, ?2, 0, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM {} WHERE load_id = ?1)",
                    n.ds(LOADS_TABLE),
                    n.ds(LOADS_TABLE)
                ),
                params![package.load_id, package.schema.name, now_iso(), package.schema.version_hash],
            )
            .map_err(|e| sql_err("writing the load marker", e))?;
            tx.commit().map_err(|e| sql_err("committing the load marker", e))
        })
        .await
    }

    async fn discard_package(&self, package: &PackageInfo, _jobs: &[JobInfo]) -> Result<()> {
        let package = package.clone();
        self.with_conn(move |c, n| {
            let schema = &package.schema;
            let tx = c.transaction().map_err(|e| sql_err("starting a transaction", e))?;
            let mut tables: Vec<&str> = package.tables.iter().map(|(t, _)| t.as_str()).collect();
            tables.sort_by_key(|t| std::cmp::Reverse(depth(schema, t)));
            for t in tables {
                let (db, sql) = if staged(&package, t) {
                    (&n.stg, format!("DELETE FROM {}", n.stg(t)))
                } else {
                    (&n.ds, format!("DELETE FROM {} WHERE {}", n.ds(t), chain_predicate(schema, n, t, "\"_dlt_load_id\" = ?1")))
                };
                if table_exists(&tx, db, t)? {
                    let params: &[&dyn rusqlite::ToSql] = if sql.contains("?1") { &[&package.load_id] } else { &[] };
                    tx.execute(&sql, params).map_err(|e| sql_err("removing the rows of an aborted load", e))?;
                }
            }
            if table_exists(&tx, &n.ds, JOBS_TABLE)? {
                tx.execute(&format!("DELETE FROM {} WHERE load_id = ?1", n.ds(JOBS_TABLE)), params![package.load_id])
                    .map_err(|e| sql_err("removing job records", e))?;
            }
            tx.commit().map_err(|e| sql_err("committing the removal", e))
        })
        .await
    }

    async fn stored_state(&self, pipeline_name: &str) -> Result<Option<Json>> {
        let pipeline = pipeline_name.to_string();
        let state: Option<String> = self
            .with_conn(move |c, n| {
                let tx = c.transaction().map_err(|e| sql_err("starting a transaction", e))?;
                if !table_exists(&tx, &n.ds, STATE_TABLE)? || !table_exists(&tx, &n.ds, LOADS_TABLE)? {
                    return Ok(None);
                }
                let r = tx.query_row(
                    &format!(
                        "SELECT state FROM {} WHERE pipeline_name = ?1 AND _dlt_load_id IN (SELECT load_id FROM {}) \
                         ORDER BY version DESC, created_at DESC LIMIT 1",
                        n.ds(STATE_TABLE),
                        n.ds(LOADS_TABLE)
                    ),
                    params![pipeline],
                    |r| r.get::<_, String>(0),
                );
                match r {
                    Ok(s) => Ok(Some(s)),
                    Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
                    Err(e) => Err(sql_err("reading the stored state", e)),
                }
            })
            .await?;
        state.map(|s| stevedore::state::decompress_state(&s)).transpose()
    }
}
