//! The Snowflake backend of the shared SQL client (`stevedore_sql::client`).
//!
//! **Sessions.** A destination client keeps a few logged-in sessions in a pool; a
//! transaction takes one and gives it back when it ends. The sessions log out when the load is
//! complete (after `_dlt_loads` is written), and any opened later when the client is dropped.
//!
//! **Transactions.** Snowflake commits an open transaction implicitly before any DDL. So a
//! [`SfTx`] runs DDL (`CREATE` / `ALTER` / `DROP`, temporary tables included) and queries at
//! once, and buffers DML (`INSERT`, `DELETE`, `MERGE`, `UPDATE`, `COPY INTO`); at
//! [`SqlTransaction::commit`] the buffered statements run between `BEGIN` and `COMMIT` (a lone
//! statement runs as is): all of them or none, and never split by a DDL statement. Dropping
//! the transaction without a commit runs nothing (the rollback). The SQL the shared client
//! writes never needs DML before DDL in one transaction: temporary tables of a merge read the
//! final tables before the deletes, or only staging tables. Migration DDL is idempotent
//! (`IF NOT EXISTS`, columns added once), so a failed migration run again converges.
//!
//! **Loads.** A job file is `PUT` to the table's stage (or `stage_name`) under
//! `"<load_id>"/<file_id>.<retry>.<ext>`, at once, then `COPY INTO` runs in the transaction
//! with the job's `_stevedore_jobs` row: a resumed load never copies a file twice. A reference
//! job (a file staged in a bucket) is copied from the bucket URL with the forwarded staging
//! credentials, or from `@stage_name`, as [`copy_source`] routes it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use stevedore_core::config::Secret;
use stevedore_core::destination::{Dataset, JobInfo, JobKind, PackageInfo};
use stevedore_core::schema::Table;
use stevedore_core::staging::{file_format_of, read_reference};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::Dialect;
use stevedore_sql::client::{Param, SqlBackend, SqlRow, SqlTransaction};

use crate::config::CsvFormat;
use crate::dialect::{SnowflakeDialect, string_literal};
use crate::rest::{OBJECT_MISSING, QueryResult, Rest, Session};

/// A pooled session older than this logs in again before a transaction (Snowflake's session
/// tokens are valid for an hour by default).
pub const SESSION_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(45 * 60);

/// Sessions kept for reuse.
pub type Pool = Arc<Mutex<Vec<Session>>>;

/// The backend: the client, the session pool, the dialect, the dataset names and the load
/// options.
pub struct SnowflakeBackend {
    pub(crate) rest: Arc<Rest>,
    pub(crate) pool: Pool,
    pub(crate) dialect: SnowflakeDialect,
    pub(crate) display: String,
    pub(crate) dataset: String,
    pub(crate) staging_dataset: String,
    pub(crate) stage_name: Option<String>,
    pub(crate) keep_staged_files: bool,
    pub(crate) csv_format: CsvFormat,
}

impl Drop for SnowflakeBackend {
    /// Logs the pooled sessions out (in the background, when a runtime is there).
    fn drop(&mut self) {
        let sessions: Vec<Session> = self.pool.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        if sessions.is_empty() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let rest = self.rest.clone();
            handle.spawn(async move {
                for s in sessions {
                    rest.logout(s).await;
                }
            });
        }
    }
}

/// A statement waiting for the commit.
enum Pending {
    /// DML with its parameters.
    Dml(String, Vec<Param>),
    /// `COPY INTO` of one file; its result is checked, its errors name file and table.
    Copy { sql: String, file: String, table: String, secrets: Vec<String> },
}

/// A transaction on one pooled session (see the module docs).
pub struct SfTx {
    rest: Arc<Rest>,
    pool: Pool,
    session: Option<Session>,
    pending: Vec<Pending>,
    after_commit: Vec<String>,
    use_schema: String,
}

impl Drop for SfTx {
    fn drop(&mut self) {
        // nothing buffered ran: the session is clean and goes back to the pool
        if let Some(s) = self.session.take()
            && let Ok(mut p) = self.pool.lock()
        {
            p.push(s);
        }
    }
}

/// Whether a statement is DDL (run at once, outside the buffered transaction).
pub fn is_ddl(sql: &str) -> bool {
    let first = sql.split_whitespace().next().map(|w| w.to_ascii_uppercase());
    matches!(first.as_deref(), Some("CREATE" | "ALTER" | "DROP" | "USE" | "COMMENT" | "PUT" | "REMOVE" | "GRANT"))
}

/// Whether `sql` creates a temporary table (the session needs a current schema).
fn is_temp_table(sql: &str) -> bool {
    let words: Vec<String> = sql.split_whitespace().take(2).map(|w| w.to_ascii_uppercase()).collect();
    words.len() == 2 && words[0] == "CREATE" && matches!(words[1].as_str(), "TEMPORARY" | "TEMP")
}

/// `text` with every secret (of at least 4 characters) replaced by `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// Checks the result of a `COPY INTO`: every file `LOADED`, and at least one file.
pub fn check_copy_result(r: &QueryResult, file: &str, table: &str) -> Result<u64> {
    let fail = |msg: String| {
        Error::new(ErrorKind::InvalidData, format!("Snowflake COPY of {file} into {table} failed: {msg}"))
            .with("file", file.to_string())
            .with("table", table.to_string())
    };
    if r.rows.is_empty() || r.get(0, "status").is_none() {
        // `Copy executed with 0 files processed.`
        let msg = r.rows.first().and_then(|row| row.first().cloned().flatten()).unwrap_or_else(|| "no file was processed".into());
        return Err(fail(format!("{msg} (the staged file was not found)"))
            .with_hint("the file was not in the stage: check stage_name, the staging bucket and the stage's URL"));
    }
    let mut rows = 0u64;
    for i in 0..r.rows.len() {
        let status = r.get(i, "status").unwrap_or("");
        if !status.eq_ignore_ascii_case("LOADED") {
            let first = r.get(i, "first_error").unwrap_or("no error message");
            return Err(fail(format!("status {status}: {first}")));
        }
        rows += r.get(i, "rows_loaded").and_then(|n| n.parse().ok()).unwrap_or(0);
    }
    Ok(rows)
}

impl SfTx {
    fn session(&self) -> Result<&Session> {
        self.session.as_ref().ok_or_else(|| Error::internal("the Snowflake transaction has no session"))
    }

    async fn run(&mut self, sql: &str, params: &[Param]) -> Result<QueryResult> {
        if is_temp_table(sql) && !self.session()?.schema_set {
            let use_schema = format!("USE SCHEMA {}", self.use_schema);
            self.rest.query(self.session()?, &use_schema, &[]).await?;
            if let Some(s) = self.session.as_mut() {
                s.schema_set = true;
            }
        }
        self.rest.query(self.session()?, sql, params).await
    }

    async fn run_pending(&mut self, pending: &[Pending]) -> Result<()> {
        for p in pending {
            match p {
                Pending::Dml(sql, params) => {
                    self.run(sql, params).await.map_err(|e| e.with("statement", sql.chars().take(300).collect::<String>()))?;
                }
                Pending::Copy { sql, file, table, secrets } => {
                    // the statement may hold staging credentials: it is never attached to errors,
                    // and they are cut out of the server's message (a test server echoes the SQL)
                    let r = self.run(sql, &[]).await.map_err(|e| {
                        let kind = if e.kind() == ErrorKind::Destination { ErrorKind::InvalidData } else { e.kind() };
                        let msg = redact(&e.to_string(), secrets);
                        Error::new(kind, format!("Snowflake COPY of {file} into {table} failed: {msg}"))
                            .with("file", file.clone())
                            .with("table", table.clone())
                    })?;
                    let rows = check_copy_result(&r, file, table)?;
                    tracing::debug!(file, table, rows, "copied");
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SqlTransaction for SfTx {
    async fn batch(&mut self, sql: &str) -> Result<()> {
        self.execute(sql, &[]).await.map(|_| ())
    }

    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        if is_ddl(sql) {
            self.run(sql, params).await?;
        } else {
            self.pending.push(Pending::Dml(sql.trim().trim_end_matches(';').to_string(), params.to_vec()));
        }
        Ok(0)
    }

    async fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<SqlRow>> {
        Ok(self.run(sql, params).await?.rows)
    }

    async fn commit(mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let result = match pending.len() {
            0 => Ok(()),
            1 => self.run_pending(&pending).await,
            _ => {
                self.run("BEGIN", &[]).await?;
                match self.run_pending(&pending).await {
                    Ok(()) => self.run("COMMIT", &[]).await.map(|_| ()),
                    Err(e) => {
                        if let Err(r) = self.run("ROLLBACK", &[]).await {
                            // the session's state is unknown: do not pool it
                            tracing::warn!(error = %r, "Snowflake ROLLBACK failed; the session is closed");
                            if let Some(s) = self.session.take() {
                                self.rest.logout(s).await;
                            }
                        }
                        Err(e)
                    }
                }
            }
        };
        if result.is_ok() {
            for sql in std::mem::take(&mut self.after_commit) {
                if let Err(e) = self.run(&sql, &[]).await {
                    tracing::warn!(error = %e, statement = %sql, "Snowflake statement after the commit failed (the load is complete)");
                }
            }
        }
        result
    }
}

/// Snowflake's `FILE_FORMAT = (...)` and `MATCH_BY_COLUMN_NAME` of a COPY, dlt's options per
/// format, space separated (Snowflake takes spaces or commas; fakesnow only spaces) and the
/// column match keyword unquoted (valid on Snowflake; fakesnow refuses the quoted form).
pub fn copy_format_clause(format: FileFormat, csv: &CsvFormat) -> Result<String> {
    Ok(match format {
        FileFormat::Parquet => {
            "FILE_FORMAT = (TYPE = 'PARQUET' BINARY_AS_TEXT = FALSE USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE".into()
        }
        FileFormat::Jsonl => "FILE_FORMAT = (TYPE = 'JSON' BINARY_FORMAT = 'BASE64') MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE".into(),
        FileFormat::Csv => {
            let mut s = format!(
                "FILE_FORMAT = (TYPE = 'CSV' BINARY_FORMAT = 'UTF-8' PARSE_HEADER = {} FIELD_OPTIONALLY_ENCLOSED_BY = '\"' NULL_IF = ('') \
                 ERROR_ON_COLUMN_COUNT_MISMATCH = FALSE FIELD_DELIMITER = {} ENCODING = {})",
                if csv.include_header { "TRUE" } else { "FALSE" },
                string_literal(&csv.delimiter),
                string_literal(&csv.encoding)
            );
            if csv.include_header {
                s.push_str(" MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE");
            }
            if csv.on_error_continue {
                s.push_str(" ON_ERROR = CONTINUE");
            }
            s
        }
        other => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("Snowflake loads parquet, jsonl and csv files, not {}", other.extension()),
            )
            .with_hint("use --loader-file-format parquet, jsonl or csv"));
        }
    })
}

/// Where a COPY reads a staged file from: `FROM ...` plus `FILES = (...)` and the
/// `CREDENTIALS = (...)` clause (which holds secrets: never log it).
#[derive(Clone, PartialEq, Eq)]
pub struct CopySource {
    /// `@stage` or `'s3://...'`.
    pub from: String,
    /// `FILES = ('...')`.
    pub files: Option<String>,
    /// `CREDENTIALS=(...)`.
    pub credentials: Option<String>,
}

impl std::fmt::Debug for CopySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopySource").field("from", &self.from).field("files", &self.files).finish_non_exhaustive()
    }
}

fn cred<'a>(c: &'a BTreeMap<String, Secret<String>>, k: &str) -> Option<&'a str> {
    c.get(k).map(|s| s.expose().as_str()).filter(|s| !s.is_empty())
}

/// Routes a staged file's URL as dlt does (digest §3.4): `@stage_name` with `FILES` when a
/// stage is configured (any bucket; required for GCS), else the S3 URL with the forwarded AWS
/// keys, else the Azure URL (as `azure://<account>.blob.core.windows.net/...`) with the SAS
/// token; anything else is a terminal error naming what to configure.
pub fn copy_source(
    url: &str,
    stage_name: Option<&str>,
    bucket_url: Option<&str>,
    creds: &BTreeMap<String, Secret<String>>,
) -> Result<CopySource> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| Error::invalid_data(format!("`{url}` is not a bucket URL")))?;
    let path_of = |s: &str| -> String {
        // path after the bucket (or container@account)
        s.split_once("://").map(|(_, r)| r.split_once('/').map(|(_, p)| p.to_string()).unwrap_or_default()).unwrap_or_default()
    };
    if let Some(stage) = stage_name {
        let mut relative = path_of(url);
        if let Some(b) = bucket_url {
            let prefix = path_of(b);
            let prefix = prefix.trim_matches('/');
            if !prefix.is_empty()
                && let Some(r) = relative.strip_prefix(prefix)
            {
                relative = r.to_string();
            }
        }
        return Ok(CopySource {
            from: format!("@{stage}"),
            files: Some(format!("FILES = ({})", string_literal(&relative))),
            credentials: None,
        });
    }
    let terminal = |what: &str| {
        Error::new(ErrorKind::Unsupported, format!("cannot load the staged file `{url}` into Snowflake: {what}")).with_hint(
            "set [destination.snowflake] stage_name to an external stage on the bucket (required for gs://), or forward the bucket's \
             credentials: aws_access_key_id/aws_secret_access_key for s3://, azure_storage_sas_token for az://",
        )
    };
    match scheme {
        "s3" | "s3a" => {
            let (Some(id), Some(secret)) = (cred(creds, "aws_access_key_id"), cred(creds, "aws_secret_access_key")) else {
                return Err(terminal("no stage_name and no AWS keys forwarded from the staging bucket"));
            };
            let mut c = format!("CREDENTIALS=(AWS_KEY_ID={} AWS_SECRET_KEY={}", string_literal(id), string_literal(secret));
            if let Some(t) = cred(creds, "aws_session_token") {
                c.push_str(&format!(" AWS_TOKEN={}", string_literal(t)));
            }
            c.push(')');
            Ok(CopySource { from: format!("FROM {}", string_literal(url)), files: None, credentials: Some(c) })
        }
        "az" | "abfs" | "abfss" | "azure" => {
            let Some(sas) = cred(creds, "azure_storage_sas_token") else {
                return Err(terminal("no stage_name and no Azure SAS token (azure_storage_sas_token) forwarded from the staging bucket"));
            };
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            // az://container/path, abfss://container@account.dfs.core.windows.net/path
            let (container, account) = match authority.split_once('@') {
                Some((c, host)) => (c.to_string(), host.split('.').next().unwrap_or_default().to_string()),
                None => (authority.to_string(), cred(creds, "azure_storage_account_name").unwrap_or_default().to_string()),
            };
            if account.is_empty() {
                return Err(terminal("the Azure storage account name is unknown (azure_storage_account_name)"));
            }
            let azure = format!("azure://{account}.blob.core.windows.net/{container}/{path}");
            let sas = sas.trim_start_matches('?');
            Ok(CopySource {
                from: format!("FROM {}", string_literal(&azure)),
                files: None,
                credentials: Some(format!("CREDENTIALS=(AZURE_SAS_TOKEN={})", string_literal(&format!("?{sas}")))),
            })
        }
        _ => Err(terminal("a bucket of this kind is read through a named stage only")),
    }
}

/// `COPY INTO <table> <source> <file format>`.
pub fn copy_sql(qualified: &str, source: &CopySource, format_clause: &str) -> String {
    let from = if source.from.starts_with("FROM ") { source.from.clone() } else { format!("FROM {}", source.from) };
    let mut s = format!("COPY INTO {qualified} {from}");
    if let Some(f) = &source.files {
        s.push(' ');
        s.push_str(f);
    }
    if let Some(c) = &source.credentials {
        s.push(' ');
        s.push_str(c);
    }
    s.push(' ');
    s.push_str(format_clause);
    s
}

/// The path of a reference job's staged file when the staging storage is local disk.
fn local_reference(job: &JobInfo) -> Option<String> {
    let url = read_reference(job).ok()?;
    if let Some(p) = url.strip_prefix("file://") {
        return Some(p.to_string());
    }
    url.starts_with('/').then_some(url)
}

impl SnowflakeBackend {
    /// `PUT` of a local file to the internal stage, then its `COPY INTO` in `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn put_and_copy(
        &self,
        tx: &mut SfTx,
        package: &PackageInfo,
        job: &JobInfo,
        table: &Table,
        qualified: &str,
        format: FileFormat,
        path: &std::path::Path,
        schema: &str,
        table_display: String,
    ) -> Result<u64> {
        let clause = copy_format_clause(format, &self.csv_format).map_err(|e| e.with("job", job.job_id()))?;
        let bytes = tokio::fs::read(path).await.map_err(|e| Error::io("read job file", path, e))?;
        let gz = if path.extension().is_some_and(|e| e == "gz") { ".gz" } else { "" };
        let staged = format!("{}.{}.{}{gz}", job.file_id, job.retry_count, format.extension());
        let target = self.stage_target(schema, &table.name, &package.load_id);
        self.rest.put(tx.session()?, &target, &staged, bytes).await.map_err(|e| e.with("file", path.display().to_string()))?;
        let source = CopySource { from: format!("{target}/{staged}"), files: None, credentials: None };
        tx.pending.push(Pending::Copy {
            sql: copy_sql(qualified, &source, &clause),
            file: job.file_name(),
            table: table_display,
            secrets: Vec::new(),
        });
        if !self.keep_staged_files {
            tx.after_commit.push(format!("REMOVE {target}/{staged}"));
        }
        Ok(0)
    }

    /// The internal stage job files go to: `@stage_name`, or the table's stage
    /// `@"SCHEMA"."%TABLE"`; then `/"<load_id>"`.
    pub fn stage_target(&self, schema: &str, table: &str, load_id: &str) -> String {
        let d = &self.dialect;
        let stage = match &self.stage_name {
            Some(s) => format!("@{s}"),
            None => format!("@{}.{}", d.quote_identifier(&d.casefold(schema)), d.quote_identifier(&format!("%{}", d.casefold(table)))),
        };
        format!("{stage}/\"{}\"", load_id.replace('"', ""))
    }
}

#[async_trait]
impl SqlBackend for SnowflakeBackend {
    type Tx = SfTx;

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn param(&self, n: usize) -> String {
        format!(":{n}")
    }

    fn display(&self) -> &str {
        &self.display
    }

    async fn begin(&self) -> Result<SfTx> {
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let session = match pooled {
            // Snowflake's session tokens last an hour: an old session is replaced before a
            // transaction starts on it, never in the middle of one
            Some(s) if s.created.elapsed() > SESSION_MAX_AGE => {
                self.rest.logout(s).await;
                self.rest.login().await?
            }
            Some(s) => s,
            None => self.rest.login().await?,
        };
        let d = &self.dialect;
        Ok(SfTx {
            rest: self.rest.clone(),
            pool: self.pool.clone(),
            session: Some(session),
            pending: Vec::new(),
            after_commit: Vec::new(),
            use_schema: d.quote_identifier(&d.casefold(&self.dataset)),
        })
    }

    async fn load_file(&self, tx: &mut SfTx, package: &PackageInfo, job: &JobInfo, table: &Table, qualified: &str) -> Result<u64> {
        let schema = match package.plan(&job.table)?.dataset {
            Dataset::Staging => &self.staging_dataset,
            Dataset::Final => &self.dataset,
        };
        let table_display = format!("{}.{}", self.dialect.casefold(schema), self.dialect.casefold(&table.name));
        match job.kind() {
            JobKind::Reference if local_reference(job).is_some() => {
                // a staging storage on local disk (dlt: the file goes through the internal stage)
                let path = local_reference(job).unwrap_or_default();
                let (format, _) = file_format_of(&path).ok_or_else(|| {
                    Error::invalid_data(format!("cannot tell the format of the staged file `{path}`")).with("job", job.job_id())
                })?;
                self.put_and_copy(tx, package, job, table, qualified, format, std::path::Path::new(&path), schema, table_display).await
            }
            JobKind::Data(format) => self.put_and_copy(tx, package, job, table, qualified, format, &job.path, schema, table_display).await,
            JobKind::Reference => {
                let url = read_reference(job)?;
                let (format, _) = file_format_of(&url).ok_or_else(|| {
                    Error::invalid_data(format!("cannot tell the format of the staged file `{url}`")).with("job", job.job_id())
                })?;
                let clause = copy_format_clause(format, &self.csv_format).map_err(|e| e.with("job", job.job_id()))?;
                let empty = BTreeMap::new();
                let (bucket, creds) = match &package.staging {
                    Some(s) => (Some(s.bucket_url.as_str()), &s.credentials),
                    None => (None, &empty),
                };
                let source = copy_source(&url, self.stage_name.as_deref(), bucket, creds).map_err(|e| e.with("job", job.job_id()))?;
                let secrets = creds.values().map(|v| v.expose().clone()).collect();
                tx.pending.push(Pending::Copy { sql: copy_sql(qualified, &source, &clause), file: url, table: table_display, secrets });
                Ok(0)
            }
            JobKind::Followup => Err(Error::internal(format!("followup job {} sent to the load path", job.job_id()))),
        }
    }

    /// The load is complete: log the pooled sessions out now (the transaction that wrote the
    /// load marker gave its session back before this).
    async fn after_complete_load(&self) -> Result<()> {
        let sessions: Vec<Session> = self.pool.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        let n = sessions.len();
        for s in sessions {
            self.rest.logout(s).await;
        }
        tracing::debug!(sessions = n, "Snowflake sessions closed after the load");
        Ok(())
    }

    fn is_missing_relation(&self, e: &Error) -> bool {
        e.kind() == ErrorKind::NotFound || e.context_value(crate::rest::CODE_KEY) == Some(OBJECT_MISSING)
    }

    fn information_schema_columns_sql(&self, _schema: &str) -> String {
        "SELECT table_name, column_name, data_type, is_nullable, numeric_precision, numeric_scale \
         FROM information_schema.columns WHERE table_schema = :1 AND table_name IN (:2) \
         ORDER BY table_name, ordinal_position"
            .into()
    }

    fn jobs_table_ddl(&self, qualified: &str) -> String {
        format!("CREATE TABLE IF NOT EXISTS {qualified} (load_id VARCHAR NOT NULL, job_id VARCHAR NOT NULL)")
    }

    fn timestamp_param(&self, n: usize) -> String {
        format!("CAST(:{n} AS TIMESTAMP_TZ)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(pairs: &[(&str, &str)]) -> BTreeMap<String, Secret<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(v.to_string()))).collect()
    }

    #[test]
    fn ddl_runs_at_once_dml_waits_for_the_commit() {
        assert!(is_ddl("CREATE TABLE \"D\".\"T\" (A VARCHAR)"));
        assert!(is_ddl("  create schema if not exists \"D\""));
        assert!(is_ddl("CREATE TEMPORARY TABLE \"X\" AS SELECT 1"));
        assert!(is_ddl("ALTER TABLE \"D\".\"T\"\nADD COLUMN \"X\" FLOAT"));
        assert!(is_ddl("DROP TABLE IF EXISTS \"D\".\"T\""));
        assert!(!is_ddl("INSERT INTO \"D\".\"T\" SELECT 1"));
        assert!(!is_ddl("DELETE FROM \"D\".\"T\" WHERE 1=1"));
        assert!(!is_ddl("MERGE INTO \"D\".\"T\" USING ..."));
        assert!(!is_ddl("COPY INTO \"D\".\"T\" FROM @x"));
        assert!(is_temp_table("CREATE TEMPORARY TABLE \"X\" AS SELECT 1"));
        assert!(!is_temp_table("CREATE TABLE \"X\" (A INT)"));
    }

    #[test]
    fn copy_statements_per_format() {
        let csv = CsvFormat::default();
        let src = CopySource { from: "@\"DS\".\"%EVENTS\"/\"1733.12\"/abc.0.parquet".into(), files: None, credentials: None };
        assert_eq!(
            copy_sql("\"DS\".\"EVENTS\"", &src, &copy_format_clause(FileFormat::Parquet, &csv).unwrap()),
            "COPY INTO \"DS\".\"EVENTS\" FROM @\"DS\".\"%EVENTS\"/\"1733.12\"/abc.0.parquet FILE_FORMAT = (TYPE = 'PARQUET' \
             BINARY_AS_TEXT = FALSE USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
        );
        assert_eq!(
            copy_format_clause(FileFormat::Jsonl, &csv).unwrap(),
            "FILE_FORMAT = (TYPE = 'JSON' BINARY_FORMAT = 'BASE64') MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
        );
        assert_eq!(
            copy_format_clause(FileFormat::Csv, &csv).unwrap(),
            "FILE_FORMAT = (TYPE = 'CSV' BINARY_FORMAT = 'UTF-8' PARSE_HEADER = TRUE FIELD_OPTIONALLY_ENCLOSED_BY = '\"' NULL_IF = ('') \
             ERROR_ON_COLUMN_COUNT_MISMATCH = FALSE FIELD_DELIMITER = ',' ENCODING = 'UTF-8') MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
        );
        let no_header = CsvFormat { include_header: false, on_error_continue: true, delimiter: "|".into(), ..Default::default() };
        let c = copy_format_clause(FileFormat::Csv, &no_header).unwrap();
        assert!(c.contains("PARSE_HEADER = FALSE") && c.contains("FIELD_DELIMITER = '|'") && c.ends_with(") ON_ERROR = CONTINUE"), "{c}");
        assert!(!c.contains("MATCH_BY_COLUMN_NAME"), "{c}");
        assert!(copy_format_clause(FileFormat::InsertValues, &csv).is_err());
    }

    #[test]
    fn staged_files_route_as_dlt_does() {
        let none = BTreeMap::new();
        // a named stage: FILES relative to the stage's bucket path (required for gs://)
        let s = copy_source("gs://bkt/stage/ds/events/1.abc.0.parquet", Some("ext_stage"), Some("gs://bkt/stage"), &none).unwrap();
        assert_eq!(
            copy_sql("\"DS\".\"EVENTS\"", &s, "FILE_FORMAT = (TYPE = 'PARQUET')"),
            "COPY INTO \"DS\".\"EVENTS\" FROM @ext_stage FILES = ('/ds/events/1.abc.0.parquet') FILE_FORMAT = (TYPE = 'PARQUET')"
        );
        let s = copy_source("s3://bkt/ds/events/1.abc.0.parquet", Some("DB.S.STG"), Some("s3://bkt"), &none).unwrap();
        assert_eq!(s.from, "@DB.S.STG");
        assert_eq!(s.files.as_deref(), Some("FILES = ('ds/events/1.abc.0.parquet')"));
        // s3 with forwarded keys
        let aws = creds(&[("aws_access_key_id", "AKIA1"), ("aws_secret_access_key", "s3cr3t"), ("aws_session_token", "tok")]);
        let s = copy_source("s3://bkt/ds/events/1.abc.0.jsonl.gz", None, Some("s3://bkt"), &aws).unwrap();
        assert_eq!(
            copy_sql("\"DS\".\"EVENTS\"", &s, "FILE_FORMAT = (TYPE = 'JSON')"),
            "COPY INTO \"DS\".\"EVENTS\" FROM 's3://bkt/ds/events/1.abc.0.jsonl.gz' CREDENTIALS=(AWS_KEY_ID='AKIA1' AWS_SECRET_KEY='s3cr3t' \
             AWS_TOKEN='tok') FILE_FORMAT = (TYPE = 'JSON')"
        );
        assert!(!format!("{s:?}").contains("s3cr3t"), "Debug hides the credentials");
        // azure with a SAS token
        let az = creds(&[("azure_storage_account_name", "acct"), ("azure_storage_sas_token", "sv=2024&sig=x")]);
        let s = copy_source("az://cont/ds/events/1.abc.0.parquet", None, Some("az://cont"), &az).unwrap();
        assert_eq!(s.from, "FROM 'azure://acct.blob.core.windows.net/cont/ds/events/1.abc.0.parquet'");
        assert_eq!(s.credentials.as_deref(), Some("CREDENTIALS=(AZURE_SAS_TOKEN='?sv=2024&sig=x')"));
        let s = copy_source("abfss://cont@other.dfs.core.windows.net/p/f.parquet", None, None, &az).unwrap();
        assert_eq!(s.from, "FROM 'azure://other.blob.core.windows.net/cont/p/f.parquet'");
        // what none of these can load: a terminal error naming what to configure
        let e = copy_source("gs://bkt/f.parquet", None, None, &none).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("gs://bkt/f.parquet") && format!("{e:?}").contains("stage_name"), "{e:?}");
        let e = copy_source("s3://bkt/f.parquet", None, None, &none).unwrap_err().to_string();
        assert!(e.contains("AWS keys"), "{e}");
        let e = copy_source("az://c/f.parquet", None, None, &creds(&[("azure_storage_account_key", "k")])).unwrap_err().to_string();
        assert!(e.contains("SAS"), "{e}");
    }

    #[test]
    fn secrets_are_cut_out_of_messages() {
        let m = "sql_text='COPY INTO t FROM 's3://b/f' CREDENTIALS=(AWS_KEY_ID='AKIA1234' AWS_SECRET_KEY='s3cr3tkey')' failed";
        assert_eq!(
            redact(m, &["AKIA1234".into(), "s3cr3tkey".into(), "x".into()]),
            "sql_text='COPY INTO t FROM 's3://b/f' CREDENTIALS=(AWS_KEY_ID='***' AWS_SECRET_KEY='***')' failed"
        );
    }

    #[test]
    fn copy_results() {
        let ok = QueryResult {
            columns: vec!["file".into(), "status".into(), "rows_parsed".into(), "rows_loaded".into(), "first_error".into()],
            rows: vec![vec![Some("f".into()), Some("LOADED".into()), Some("3".into()), Some("3".into()), None]],
            data: serde_json::Value::Null,
        };
        assert_eq!(check_copy_result(&ok, "f.parquet", "DS.T").unwrap(), 3);
        let mut failed = ok.clone();
        failed.rows[0][1] = Some("LOAD_FAILED".into());
        failed.rows[0][4] = Some("Numeric value 'x' is not recognized".into());
        let e = check_copy_result(&failed, "f.parquet", "DS.T").unwrap_err().to_string();
        assert!(e.contains("f.parquet") && e.contains("DS.T") && e.contains("Numeric value"), "{e}");
        let none = QueryResult {
            columns: vec!["status".into()],
            rows: vec![vec![Some("Copy executed with 0 files processed.".into())]],
            data: serde_json::Value::Null,
        };
        let e = check_copy_result(&none, "f.parquet", "DS.T").unwrap_err().to_string();
        assert!(e.contains("0 files processed"), "{e}");
    }
}
