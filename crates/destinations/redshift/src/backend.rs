//! The Redshift backend of the shared SQL client (`stevedore_sql::client`), on the shared
//! PostgreSQL wire pieces (`stevedore_pgwire`): pooled connections and transactions,
//! `insert_values` job files as `INSERT` statements under Redshift's 16 MiB statement limit,
//! and reference jobs (staged files on S3) as `COPY ... FROM 's3://...'`.
//!
//! Migration, followups (replace and merge through the staging dataset), idempotent jobs
//! (`_stevedore_jobs`), load markers and the stored state are the shared client's. Redshift
//! speaks the wire protocol but has no arrays: the one list parameter the shared client binds
//! (table names in the `information_schema` query) is written into the statement as an
//! `IN (...)` list of literals instead.

use std::collections::BTreeSet;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use stevedore_core::destination::{JobInfo, PackageInfo};
use stevedore_core::schema::{Column, Table};
use stevedore_core::staging::{fetch_reference, file_format_of, read_reference};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_pgwire::{PgTx, load, pg_err};
use stevedore_sql::Dialect;
use stevedore_sql::client::{Param, SqlBackend, SqlClient, SqlRow, SqlTransaction};
use stevedore_sql::ddl::{INFORMATION_SCHEMA_COLUMNS, complete_columns};

use crate::dialect::{CopyCredentials, MAX_QUERY_LENGTH, RedshiftDialect, check_staged_types, copy_sql, quote_literal};

/// Connections, the dialect and the COPY settings of one Redshift client.
pub struct RedshiftBackend {
    pub(crate) pool: Pool,
    pub(crate) display: String,
    pub(crate) dialect: RedshiftDialect,
    pub(crate) staging_iam_role: Option<String>,
    pub(crate) stand_in_copy: bool,
}

/// A transaction on a pooled connection (see the module docs for list parameters).
pub struct RedshiftTx(PgTx);

/// `sql` and `params` with every `= ANY($n)` of a [`Param::TextList`] written as
/// `IN ('a', 'b')` (`IN (NULL)` for an empty list) and the later parameters renumbered.
pub fn inline_text_lists(sql: &str, params: &[Param]) -> (String, Vec<Param>) {
    let mut sql = sql.to_string();
    let mut kept: Vec<Param> = Vec::new();
    let mut removed = 0;
    for (i, p) in params.iter().enumerate() {
        let n = i + 1;
        match p {
            Param::TextList(items) => {
                let list = if items.is_empty() {
                    "NULL".to_string()
                } else {
                    items.iter().map(|s| quote_literal(s)).collect::<Vec<_>>().join(", ")
                };
                sql = sql.replace(&format!("= ANY(${n})"), &format!("IN ({list})"));
                removed += 1;
            }
            other => {
                if removed > 0 {
                    sql = renumber(&sql, n, n - removed);
                }
                kept.push(other.clone());
            }
        }
    }
    (sql, kept)
}

/// `$from` (not followed by a digit) becomes `$to`.
fn renumber(sql: &str, from: usize, to: usize) -> String {
    let pat = format!("${from}");
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find(&pat) {
        let after = &rest[i + pat.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&pat);
        } else {
            out.push_str(&format!("${to}"));
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[async_trait]
impl SqlTransaction for RedshiftTx {
    async fn batch(&mut self, sql: &str) -> Result<()> {
        self.0.batch(sql).await
    }
    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let (sql, params) = inline_text_lists(sql, params);
        self.0.execute(&sql, &params).await
    }
    async fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<SqlRow>> {
        let (sql, params) = inline_text_lists(sql, params);
        self.0.query(&sql, &params).await
    }
    async fn commit(self) -> Result<()> {
        self.0.commit().await
    }
}

/// Masks `secrets` in a text (a server message that might echo a statement).
fn mask(text: &str, secrets: &[&str]) -> String {
    secrets.iter().filter(|s| s.len() >= 4).fold(text.to_string(), |t, s| t.replace(s, "***"))
}

impl RedshiftBackend {
    async fn conn(&self) -> Result<deadpool_postgres::Object> {
        stevedore_pgwire::connection(&self.pool, &self.display).await
    }

    /// How COPY reads the staging bucket: the IAM role, else the forwarded AWS keys.
    fn copy_credentials(&self, package: &PackageInfo, job: &JobInfo) -> Result<CopyCredentials> {
        if let Some(role) = &self.staging_iam_role {
            return Ok(CopyCredentials::IamRole(role.clone()));
        }
        let creds = package.staging.as_ref().map(|s| &s.credentials);
        let get = |k: &str| creds.and_then(|c| c.get(k)).map(|v| v.expose().clone()).filter(|v| !v.is_empty());
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(access_key_id), Some(secret_access_key)) => {
                Ok(CopyCredentials::Keys { access_key_id, secret_access_key, session_token: get("aws_session_token") })
            }
            _ => Err(Error::new(ErrorKind::Config, "Redshift's COPY has no credentials to read the staging bucket with")
                .with("job", job.job_id())
                .with_hint(
                    "set [destination.redshift] staging_iam_role = \"arn:aws:iam::...:role/...\", or the staging bucket's aws_access_key_id and aws_secret_access_key in [destination.filesystem.credentials]",
                )
                .retryable(false)),
        }
    }

    /// Runs the COPY of a reference job; on a PostgreSQL stand-in (`stand_in_copy`), loads the
    /// staged file the way COPY would: read back from the bucket, then `COPY ... FROM STDIN`.
    async fn copy_reference(
        &self,
        tx: &mut RedshiftTx,
        package: &PackageInfo,
        job: &JobInfo,
        table: &Table,
        qualified: &str,
    ) -> Result<u64> {
        let url = read_reference(job)?;
        let (format, _) = file_format_of(&url)
            .ok_or_else(|| Error::invalid_data(format!("cannot tell the format of the staged file `{url}`")).with("job", job.job_id()))?;
        check_staged_types(table, format)?;
        let creds = self.copy_credentials(package, job)?;
        let region = package.staging.as_ref().and_then(|s| s.credentials.get("region_name")).map(|r| r.expose().clone());
        let stmt = copy_sql(qualified, &url, table, &creds, region.as_deref())?;
        let client = tx.0.client();
        if self.stand_in_copy {
            let fetched = fetch_reference(package, job).await?;
            let cols: Vec<Column> = complete_columns(table).into_iter().cloned().collect();
            return load::copy_arrow_file(client, &self.dialect, &fetched.job, &cols, qualified)
                .await
                .map_err(|e| e.with("file", url.clone()));
        }
        tracing::debug!(statement = %stmt.redacted, "COPY");
        match client.execute(stmt.sql(), &[]).await {
            Ok(n) => Ok(n),
            Err(e) => {
                let secrets: Vec<&str> = match &creds {
                    CopyCredentials::Keys { secret_access_key, session_token, .. } => {
                        std::iter::once(secret_access_key.as_str()).chain(session_token.as_deref()).collect()
                    }
                    CopyCredentials::IamRole(_) => Vec::new(),
                };
                let err = pg_err("COPY", e);
                let msg = mask(err.message(), &secrets);
                let mut out =
                    Error::new(err.kind(), msg).with("table", job.table.clone()).with("file", url.clone()).with("job", job.job_id());
                if let Some(s) = err.context_value("sqlstate") {
                    out = out.with("sqlstate", s.to_string());
                }
                if let Some(reason) = self.load_error(&url).await {
                    out = out.with("stl_load_errors", mask(&reason, &secrets));
                }
                Err(out.with_hint("see stl_load_errors for the rejected row; the staged file stays in the bucket for a rerun"))
            }
        }
    }

    /// The last `stl_load_errors` row of a file, on another connection (the COPY's
    /// transaction is aborted); `None` where the table is not reachable.
    async fn load_error(&self, url: &str) -> Option<String> {
        let conn = self.conn().await.ok()?;
        let row = conn
            .query_opt(
                "SELECT TRIM(colname)::text, line_number::bigint, TRIM(err_reason)::text FROM stl_load_errors WHERE TRIM(filename) = $1 ORDER BY starttime DESC LIMIT 1",
                &[&url],
            )
            .await
            .ok()??;
        let col: Option<String> = row.try_get(0).ok()?;
        let line: Option<i64> = row.try_get(1).ok()?;
        let reason: Option<String> = row.try_get(2).ok()?;
        Some(format!("line {}, column `{}`: {}", line.unwrap_or(0), col.unwrap_or_default(), reason.unwrap_or_default()))
    }
}

#[async_trait]
impl SqlBackend for RedshiftBackend {
    type Tx = RedshiftTx;

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn param(&self, n: usize) -> String {
        format!("${n}")
    }

    fn display(&self) -> &str {
        &self.display
    }

    async fn begin(&self) -> Result<RedshiftTx> {
        Ok(RedshiftTx(PgTx::begin(self.conn().await?).await?))
    }

    async fn load_file(&self, tx: &mut RedshiftTx, package: &PackageInfo, job: &JobInfo, table: &Table, qualified: &str) -> Result<u64> {
        if job.is_reference() {
            return self.copy_reference(tx, package, job, table, qualified).await;
        }
        match job.format.as_str() {
            "insert_values" => load::insert_values_file(tx.0.client(), job, qualified, MAX_QUERY_LENGTH - 1).await,
            other => Err(Error::new(ErrorKind::Unsupported, format!("Redshift loads `{other}` job files only through a staging storage"))
                .with("job", job.job_id())
                .with_hint("add --staging filesystem with an s3:// bucket, or load insert_values files (the default without staging)")),
        }
    }

    fn is_missing_relation(&self, e: &Error) -> bool {
        matches!(e.context_value("sqlstate"), Some("42P01" | "3F000"))
    }

    fn is_unique_violation(&self, e: &Error) -> bool {
        e.context_value("sqlstate") == Some("23505")
    }

    fn information_schema_columns_sql(&self, _schema: &str) -> String {
        INFORMATION_SCHEMA_COLUMNS.to_string()
    }

    fn timestamp_param(&self, n: usize) -> String {
        format!("CAST(${n} AS text)::timestamptz")
    }

    /// Refuses, before anything is uploaded, columns that staged files cannot carry (the
    /// shared client refuses merge strategies Redshift lacks, such as upsert).
    async fn begin_package(&self, _client: &SqlClient<Self>, package: &PackageInfo, _staging_roots: &BTreeSet<String>) -> Result<()> {
        let schema = &package.schema;
        if package.staging.is_some() {
            for (table, formats) in &package.data_formats {
                let Some(t) = schema.table(table) else { continue };
                for f in formats.iter().filter_map(|f| FileFormat::parse(f)) {
                    check_staged_types(t, f).map_err(|e| e.with("staging", "the staged files are not uploaded").retryable(false))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_become_in_lists() {
        let (sql, params) = inline_text_lists(
            "SELECT x FROM t WHERE table_schema = $1 AND table_name = ANY($2) ORDER BY 1",
            &[Param::Text("ds".into()), Param::TextList(vec!["events".into(), "it's".into()])],
        );
        assert_eq!(sql, "SELECT x FROM t WHERE table_schema = $1 AND table_name IN ('events', 'it''s') ORDER BY 1");
        assert_eq!(params, vec![Param::Text("ds".into())]);
        // later parameters are renumbered, $1x left alone
        let (sql, params) =
            inline_text_lists("a = ANY($1) AND b = $2 AND c = $3", &[Param::TextList(vec![]), Param::Text("b".into()), Param::Int(3)]);
        assert_eq!(sql, "a IN (NULL) AND b = $1 AND c = $2");
        assert_eq!(params.len(), 2);
        assert_eq!(renumber("$1 $10 $1", 1, 0), "$0 $10 $0");
    }

    #[test]
    fn secrets_are_masked_in_server_messages() {
        assert_eq!(mask("bad key wJalrXUtnFEMI in statement", &["wJalrXUtnFEMI"]), "bad key *** in statement");
    }
}
