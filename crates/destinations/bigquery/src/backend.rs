//! The BigQuery backend of the shared SQL client (`stevedore_sql::client`).
//!
//! **Transactions.** BigQuery has no interactive transactions over a connection; a
//! multi-statement transaction lives inside one script. So a [`BqTx`] is a buffer:
//! * DML (`INSERT`, `DELETE`, `MERGE`, `UPDATE`, `CREATE TEMP TABLE`) and `execute` calls are
//!   buffered and sent at [`SqlTransaction::commit`] as one script
//!   `BEGIN TRANSACTION; ...; COMMIT TRANSACTION;` (a lone statement is sent as is): all of
//!   it or nothing. Dropping the transaction without a commit sends nothing (the rollback).
//!   Parameters of buffered statements are written into the script as literals (scripts on
//!   the emulator take no query parameters); `execute` reports 0 rows.
//! * DDL (`CREATE` / `ALTER` / `DROP` of datasets and tables) runs at once, outside the
//!   transaction: BigQuery does not allow it inside one. Migration DDL is idempotent
//!   (`IF NOT EXISTS`, columns added once), so a failed migration run again converges.
//! * Queries run at once. The shared client never reads what the same transaction wrote.
//!
//! **Load jobs.** A data job (direct) or reference job (a `gs://` URL) becomes one BigQuery
//! load job (`WRITE_APPEND`, `CREATE_NEVER`, `max_bad_records=0`) with a job id derived from
//! the project, target dataset, load id and job file name. The id is looked up with
//! `jobs.get` first: a job that ran before a crash is waited for (or its result taken), not
//! run again. The shared client's `_stevedore_jobs` row is then written as usual.

use std::io::Read;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use sha3::{Digest, Sha3_256};
use stevedore_core::destination::{Dataset, JobInfo, JobKind, PackageInfo};
use stevedore_core::schema::{Column, Table};
use stevedore_core::staging::{file_format_of, read_reference};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::Dialect;
use stevedore_sql::client::{Param, SqlBackend, SqlRow, SqlTransaction};

use crate::dialect::BigQueryDialect;
use crate::rest::{Rest, is_transient_reason, job_error};

/// The backend: the REST client, the dialect and the two dataset names.
pub struct BigQueryBackend {
    pub(crate) rest: Arc<Rest>,
    pub(crate) dialect: BigQueryDialect,
    pub(crate) display: String,
    pub(crate) dataset: String,
    pub(crate) staging_dataset: String,
}

/// A buffered transaction (see the module docs).
pub struct BqTx {
    rest: Arc<Rest>,
    script: Vec<String>,
}

/// Whether a statement is DDL that BigQuery runs outside transactions.
pub fn is_ddl(sql: &str) -> bool {
    let words: Vec<String> = sql.split_whitespace().take(3).map(|w| w.to_ascii_uppercase()).collect();
    match words.first().map(String::as_str) {
        Some("CREATE") => !matches!(words.get(1).map(String::as_str), Some("TEMP" | "TEMPORARY")),
        Some("ALTER" | "DROP") => true,
        _ => false,
    }
}

/// A BigQuery string literal.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `sql` with `@p<n>` replaced by literals of `params` (highest `n` first, so `@p1` does not
/// eat `@p10`).
pub fn inline_params(sql: &str, params: &[Param]) -> String {
    let mut out = sql.to_string();
    for (i, p) in params.iter().enumerate().rev() {
        let lit = match p {
            Param::Text(s) => string_literal(s),
            Param::Int(n) => n.to_string(),
            Param::TextList(v) => format!("[{}]", v.iter().map(|s| string_literal(s)).collect::<Vec<_>>().join(", ")),
        };
        out = out.replace(&format!("@p{}", i + 1), &lit);
    }
    out
}

/// The script sent at commit.
pub fn commit_script(statements: &[String]) -> Option<String> {
    match statements {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(format!("BEGIN TRANSACTION;\n{};\nCOMMIT TRANSACTION;", many.join(";\n"))),
    }
}

#[async_trait]
impl SqlTransaction for BqTx {
    async fn batch(&mut self, sql: &str) -> Result<()> {
        if is_ddl(sql) {
            self.rest.query(sql, &[]).await.map(|_| ())
        } else {
            self.script.push(sql.trim().trim_end_matches(';').to_string());
            Ok(())
        }
    }

    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        if is_ddl(sql) {
            self.rest.query(sql, params).await?;
        } else {
            self.script.push(inline_params(sql.trim().trim_end_matches(';'), params));
        }
        Ok(0)
    }

    async fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<SqlRow>> {
        self.rest.query(sql, params).await
    }

    async fn commit(mut self) -> Result<()> {
        let statements = std::mem::take(&mut self.script);
        match commit_script(&statements) {
            Some(script) => self.rest.query(&script, &[]).await.map(|_| ()),
            None => Ok(()),
        }
    }
}

/// The BigQuery job id of a stevedore job: readable parts and a hash of everything that
/// makes it unique (project, target dataset, load id, job file name).
pub fn bq_job_id(project: &str, dataset: &str, load_id: &str, job: &JobInfo) -> String {
    let clean =
        |s: &str| -> String { s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect() };
    let mut h = Sha3_256::new();
    for part in [project, dataset, load_id, &job.file_name()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let hash: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let table: String = clean(&job.table).chars().take(200).collect();
    format!("stevedore_{}_{table}_{}_{}_{hash}", clean(load_id), clean(&job.file_id), job.retry_count)
}

fn source_format(f: FileFormat, job: &JobInfo) -> Result<&'static str> {
    match f {
        FileFormat::Parquet => Ok("PARQUET"),
        FileFormat::Jsonl => Ok("NEWLINE_DELIMITED_JSON"),
        other => Err(Error::new(ErrorKind::Unsupported, format!("BigQuery loads parquet and jsonl files, not {}", other.extension()))
            .with("job", job.job_id())
            .with_hint("use --loader-file-format jsonl or parquet")),
    }
}

impl BigQueryBackend {
    fn load_config(&self, job_id: &str, dataset: &str, table: &str, format: &str, uris: Option<Vec<String>>) -> Value {
        let mut load = json!({
            "destinationTable": {"projectId": self.rest.project, "datasetId": dataset, "tableId": table},
            "sourceFormat": format,
            "writeDisposition": "WRITE_APPEND",
            "createDisposition": "CREATE_NEVER",
            "maxBadRecords": 0,
            "ignoreUnknownValues": false,
            "autodetect": false,
        });
        if format == "PARQUET" {
            load["parquetOptions"] = json!({"enableListInference": true});
            load["decimalTargetTypes"] = json!(["NUMERIC", "BIGNUMERIC"]);
        }
        if let Some(u) = uris {
            load["sourceUris"] = json!(u);
        }
        json!({
            "jobReference": {"projectId": self.rest.project, "jobId": job_id, "location": self.rest.location},
            "configuration": {"load": load},
        })
    }

    /// Runs (or finds) the load job of `job` and returns the finished job resource.
    async fn run_load_job(&self, package: &PackageInfo, job: &JobInfo, dataset: &str, table: &str, bq_id: &str) -> Result<(Value, String)> {
        if let Some(found) = self.rest.get_job(bq_id).await? {
            tracing::info!(job = %job.job_id(), bigquery_job = bq_id, "the load job ran before (a resumed load): waiting for its result");
            let source = found["configuration"]["load"]["sourceUris"][0].as_str().unwrap_or(&job.file_name()).to_string();
            return Ok((self.rest.wait_job(found).await?, source));
        }
        match job.kind() {
            JobKind::Reference => {
                let url = read_reference(job)?;
                if !url.starts_with("gs://") {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!("BigQuery loads staged files from gs:// buckets only, not `{url}`"),
                    )
                    .with("job", job.job_id())
                    .with_hint("use a gs:// staging bucket (--staging-bucket-url gs://bucket/path)"));
                }
                if package.staging.is_none() {
                    tracing::debug!(job = %job.job_id(), "reference job without a staging location: loading the URL as it is");
                }
                let (format, _) = file_format_of(&url).ok_or_else(|| {
                    Error::invalid_data(format!("cannot tell the format of the staged file `{url}`")).with("job", job.job_id())
                })?;
                let body = self.load_config(bq_id, dataset, table, source_format(format, job)?, Some(vec![url.clone()]));
                let started = self.rest.insert_job(&body).await?;
                Ok((self.rest.wait_job(started).await?, url))
            }
            JobKind::Data(format) => {
                let body = self.load_config(bq_id, dataset, table, source_format(format, job)?, None);
                let raw = tokio::fs::read(&job.path).await.map_err(|e| Error::io("read job file", &job.path, e))?;
                // uploads go uncompressed: BigQuery unpacks gzip only from gs:// (and the emulator not at all)
                let data = if job.compressed {
                    let mut out = Vec::with_capacity(raw.len() * 4);
                    flate2::read::GzDecoder::new(raw.as_slice())
                        .read_to_end(&mut out)
                        .map_err(|e| Error::io("decompress job file", &job.path, e))?;
                    out
                } else {
                    raw
                };
                let started = self.rest.upload_job(&body, data).await?;
                Ok((self.rest.wait_job(started).await?, job.path.display().to_string()))
            }
            JobKind::Followup => Err(Error::internal(format!("followup job {} sent to the load path", job.job_id()))),
        }
    }
}

#[async_trait]
impl SqlBackend for BigQueryBackend {
    type Tx = BqTx;

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn param(&self, n: usize) -> String {
        format!("@p{n}")
    }

    fn display(&self) -> &str {
        &self.display
    }

    async fn begin(&self) -> Result<BqTx> {
        Ok(BqTx { rest: self.rest.clone(), script: Vec::new() })
    }

    async fn load_file(&self, _tx: &mut BqTx, package: &PackageInfo, job: &JobInfo, table: &Table, _qualified: &str) -> Result<u64> {
        let dataset = match package.plan(&job.table)?.dataset {
            Dataset::Staging => &self.staging_dataset,
            Dataset::Final => &self.dataset,
        };
        let table_id = self.dialect.casefold(&table.name);
        let bq_id = bq_job_id(&self.rest.project, dataset, &package.load_id, job);
        let (done, source) = self.run_load_job(package, job, dataset, &table_id, &bq_id).await?;
        if let Some((reason, message)) = job_error(&done) {
            let transient = is_transient_reason(&reason);
            let kind = if reason == "invalid" { ErrorKind::InvalidData } else { ErrorKind::Destination };
            return Err(Error::new(
                kind,
                format!("BigQuery load job {bq_id} failed loading {source} into {dataset}.{table_id}: {reason}: {message}"),
            )
            .with("table", table.name.clone())
            .with("file", source)
            .with("bigquery_job", bq_id)
            .with(crate::rest::REASON_KEY, reason)
            .retryable(transient)
            .with_hint(if transient {
                "BigQuery called this error transient: the job is retried"
            } else {
                "the file does not fit the table: compare the file's columns and types with the table's (bq show --schema)"
            }));
        }
        Ok(done["statistics"]["load"]["outputRows"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    fn is_missing_relation(&self, e: &Error) -> bool {
        e.kind() == ErrorKind::NotFound
    }

    fn information_schema_columns_sql(&self, schema: &str) -> String {
        format!(
            "SELECT table_name, column_name, data_type, is_nullable, CAST(NULL AS INT64), CAST(NULL AS INT64) \
             FROM {}.INFORMATION_SCHEMA.COLUMNS WHERE table_schema = @p1 AND table_name IN UNNEST(@p2) \
             ORDER BY table_name, ordinal_position",
            self.dialect.quote_identifier(schema)
        )
    }

    fn create_schema_sql(&self, schema: &str) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS {schema} OPTIONS(location={})", string_literal(&self.rest.location))
    }

    async fn after_add_columns(&self, _tx: &mut BqTx, schema: &str, table: &str, columns: &[&Column]) -> Result<()> {
        let table = self.dialect.casefold(table);
        for c in columns {
            let ty = self.dialect.db_type(c)?;
            self.rest.ensure_column_listed(schema, &table, &self.dialect.casefold(&c.name), &ty).await?;
        }
        Ok(())
    }

    fn jobs_table_ddl(&self, qualified: &str) -> String {
        format!("CREATE TABLE IF NOT EXISTS {qualified} (load_id STRING NOT NULL, job_id STRING NOT NULL)")
    }

    fn timestamp_param(&self, n: usize) -> String {
        format!("CAST(@p{n} AS TIMESTAMP)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ddl_runs_at_once_dml_is_buffered() {
        assert!(is_ddl("CREATE TABLE `d`.`t` (a INT64)"));
        assert!(is_ddl("  create schema if not exists `d`"));
        assert!(is_ddl("CREATE OR REPLACE TABLE `d`.`t` CLONE `s`.`t`"));
        assert!(is_ddl("ALTER TABLE `d`.`t`\nADD COLUMN x INT64"));
        assert!(is_ddl("DROP TABLE IF EXISTS `d`.`t`"));
        assert!(!is_ddl("CREATE TEMP TABLE x AS SELECT 1"));
        assert!(!is_ddl("CREATE TEMPORARY TABLE x AS SELECT 1"));
        assert!(!is_ddl("INSERT INTO `d`.`t` SELECT 1"));
        assert!(!is_ddl("DELETE FROM `d`.`t` WHERE true"));
        assert!(!is_ddl("MERGE `d`.`t` USING ..."));
    }

    #[test]
    fn params_become_literals() {
        let sql = "INSERT INTO t VALUES (@p1, @p2, CAST(@p3 AS TIMESTAMP), @p10)";
        let mut params: Vec<Param> = (1..=10).map(Param::Int).collect();
        params[0] = Param::Text("it's a \\ test\n".into());
        params[2] = Param::Text("2024-01-01T00:00:00Z".into());
        assert_eq!(
            inline_params(sql, &params),
            "INSERT INTO t VALUES ('it\\'s a \\\\ test\\n', 2, CAST('2024-01-01T00:00:00Z' AS TIMESTAMP), 10)"
        );
        assert_eq!(inline_params("x IN UNNEST(@p1)", &[Param::TextList(vec!["a".into(), "b'".into()])]), "x IN UNNEST(['a', 'b\\''])");
    }

    #[test]
    fn commit_scripts() {
        assert_eq!(commit_script(&[]), None);
        assert_eq!(commit_script(&["INSERT 1".into()]), Some("INSERT 1".into()));
        assert_eq!(
            commit_script(&["DELETE 1".into(), "INSERT 2".into()]),
            Some("BEGIN TRANSACTION;\nDELETE 1;\nINSERT 2;\nCOMMIT TRANSACTION;".into())
        );
    }

    #[test]
    fn job_ids_are_stable_valid_and_distinct() {
        let job = |table: &str, file_id: &str, retry: u32| JobInfo {
            table: table.into(),
            file_id: file_id.into(),
            retry_count: retry,
            format: "parquet".into(),
            compressed: false,
            path: PathBuf::from("/x"),
            remote_url: None,
        };
        let a = bq_job_id("p", "ds", "1733380000.123", &job("events", "abc123", 0));
        assert_eq!(a, bq_job_id("p", "ds", "1733380000.123", &job("events", "abc123", 0)));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') && a.len() <= 1024, "{a}");
        assert!(a.starts_with("stevedore_1733380000_123_events_abc123_0_"), "{a}");
        assert_ne!(a, bq_job_id("p", "ds_staging", "1733380000.123", &job("events", "abc123", 0)));
        assert_ne!(a, bq_job_id("p", "ds", "1733380000.123", &job("events", "abc123", 1)));
        assert_ne!(a, bq_job_id("p", "ds", "1733380001.123", &job("events", "abc123", 0)));
        let weird = bq_job_id("p", "ds", "1", &job("ev`ents; drop", "f", 0));
        assert!(weird.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{weird}");
    }
}
