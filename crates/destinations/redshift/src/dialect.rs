//! Redshift's SQL: dlt's Redshift type mapper, lower-cased identifiers of up to 127
//! characters, `DISTKEY` / `SORTKEY` from the `cluster` / `sort` hints, one `ALTER` per added
//! column, no alias in `DELETE`, and the `COPY` statement of staged files
//! ([`copy_sql`]).

use stevedore_core::schema::{Column, DataType, Table};
use stevedore_core::staging::file_format_of;
use stevedore_core::writers::{FileFormat, SqlLiterals};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::Dialect;

/// Redshift's longest identifier (bytes).
pub const MAX_IDENTIFIER_LENGTH: usize = 127;
/// Redshift's longest statement.
pub const MAX_QUERY_LENGTH: usize = 16 * 1024 * 1024;
/// `varchar(65535)`: the longest Redshift text, what dlt's `varchar(max)` means.
pub const MAX_TEXT_LENGTH: usize = 65535;

/// The Redshift dialect.
#[derive(Debug, Clone, Default)]
pub struct RedshiftDialect {
    /// `has_case_sensitive_identifiers`: identifiers keep their case (no lower-casing).
    pub case_sensitive: bool,
}

fn bad_type(col: &Column, what: String) -> Error {
    Error::new(ErrorKind::Schema, what).with("column", col.name.clone())
}

impl Dialect for RedshiftDialect {
    fn name(&self) -> &'static str {
        "redshift"
    }

    fn casefold(&self, ident: &str) -> String {
        if self.case_sensitive { ident.to_string() } else { ident.to_lowercase() }
    }

    fn max_identifier_length(&self) -> usize {
        MAX_IDENTIFIER_LENGTH
    }

    fn db_type(&self, col: &Column) -> Result<String> {
        let dt = col.data_type.ok_or_else(|| bad_type(col, format!("column `{}` has no data type", col.name)))?;
        Ok(match dt {
            DataType::Text => match col.precision {
                Some(n) => format!("varchar({n})"),
                None => format!("varchar({MAX_TEXT_LENGTH})"),
            },
            DataType::Double => "double precision".into(),
            DataType::Bool => "boolean".into(),
            DataType::Bigint => stevedore_sql::dialect::integer_type(col)?.into(),
            DataType::Decimal => match (col.precision, col.scale) {
                (Some(p), Some(s)) => format!("numeric({p},{s})"),
                (Some(p), None) => format!("numeric({p},0)"),
                _ => "numeric(38,9)".into(),
            },
            DataType::Wei => "numeric(38,0)".into(),
            // Redshift keeps microseconds: a precision is ignored, as dlt ignores it
            DataType::Timestamp if col.timezone == Some(false) => "timestamp without time zone".into(),
            DataType::Timestamp => "timestamp with time zone".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Date => "date".into(),
            DataType::Binary => match col.precision {
                Some(n) => format!("varbinary({n})"),
                None => "varbinary".into(),
            },
            DataType::Json => "super".into(),
        })
    }

    fn dlt_type_of(&self, db_type: &str, precision: Option<i64>, scale: Option<i64>) -> DataType {
        match db_type {
            "character varying" | "varchar" | "text" | "character" => DataType::Text,
            "double precision" | "real" => DataType::Double,
            "boolean" => DataType::Bool,
            "bigint" | "integer" | "smallint" => DataType::Bigint,
            "numeric" if precision == Some(38) && scale == Some(0) => DataType::Wei,
            "numeric" => DataType::Decimal,
            "timestamp with time zone" | "timestamp without time zone" => DataType::Timestamp,
            "time without time zone" | "time with time zone" => DataType::Time,
            "date" => DataType::Date,
            // `binary varying` and `super` on Redshift; `bytea` and `jsonb` under the
            // stand-in's domains on PostgreSQL
            "binary varying" | "varbyte" | "varbinary" | "bytea" => DataType::Binary,
            "super" | "jsonb" | "json" => DataType::Json,
            _ => DataType::Text,
        }
    }

    fn column_hints(&self, col: &Column) -> Vec<&'static str> {
        let mut out = Vec::new();
        if col.hints.cluster {
            out.push("DISTKEY");
        }
        if col.hints.sort {
            out.push("SORTKEY");
        }
        out
    }

    fn insert_values_literals(&self) -> SqlLiterals {
        SqlLiterals::Redshift
    }

    fn max_text_data_type_length(&self) -> Option<usize> {
        Some(MAX_TEXT_LENGTH)
    }

    fn alter_add_multi_column(&self) -> bool {
        false
    }

    fn delete_alias_allowed(&self) -> bool {
        false
    }

    fn create_temp_table_as(&self, name: &str, select: &str) -> String {
        // pooled sessions live on: a temporary table of an earlier load on the same session
        // goes first
        format!("DROP TABLE IF EXISTS {name};\nCREATE TEMP TABLE {name} AS {select}")
    }
}

/// How Redshift's `COPY` reads the staging bucket.
#[derive(Clone, PartialEq, Eq)]
pub enum CopyCredentials {
    /// `IAM_ROLE 'arn:...'` (`staging_iam_role`).
    IamRole(String),
    /// The staging bucket's AWS keys, forwarded.
    Keys {
        /// `aws_access_key_id`.
        access_key_id: String,
        /// `aws_secret_access_key`.
        secret_access_key: String,
        /// `aws_session_token`.
        session_token: Option<String>,
    },
}

impl std::fmt::Debug for CopyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyCredentials::IamRole(r) => f.debug_tuple("IamRole").field(r).finish(),
            CopyCredentials::Keys { access_key_id, session_token, .. } => f
                .debug_struct("Keys")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"***")
                .field("session_token", &session_token.as_ref().map(|_| "***"))
                .finish(),
        }
    }
}

/// A `COPY` statement and the same statement with its secrets masked (for logs and errors).
#[derive(Clone, PartialEq, Eq)]
pub struct CopyStatement {
    sql: String,
    /// The statement with `***` for the secret key and the session token.
    pub redacted: String,
}

impl CopyStatement {
    /// The statement to run (holds the forwarded secrets: never log it).
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

impl std::fmt::Debug for CopyStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CopyStatement").field(&self.redacted).finish()
    }
}

/// A Redshift string literal: quotes doubled, backslashes escaped (Redshift reads backslash
/// escapes in plain strings).
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// The `COPY` of one staged file into `qualified` (dlt's `RedshiftCopyFileLoadJob`):
/// `FORMAT AS JSON 'auto'` (plus `GZIP` for `.gz`) with `dateformat`/`timeformat 'auto'` and
/// the bucket's region for jsonl, `PARQUET` (`SERIALIZETOJSON` when the table has json
/// columns; no region, which Redshift refuses for columnar files) for parquet, then the
/// credentials and `MAXERROR 0`.
pub fn copy_sql(qualified: &str, url: &str, table: &Table, creds: &CopyCredentials, region: Option<&str>) -> Result<CopyStatement> {
    if !url.starts_with("s3://") {
        return Err(Error::new(ErrorKind::Config, format!("Redshift's COPY reads staged files from s3:// only, not `{url}`"))
            .with("table", table.name.clone())
            .with_hint("use an s3:// staging bucket (--staging-bucket-url s3://bucket/path)"));
    }
    let (format, compressed) = file_format_of(url).ok_or_else(|| {
        Error::invalid_data(format!("cannot tell the format of the staged file `{url}`")).with("table", table.name.clone())
    })?;
    let mut region = region.filter(|r| !r.is_empty());
    let body = match format {
        FileFormat::Jsonl => {
            let gz = if compressed { " GZIP" } else { "" };
            format!("FORMAT AS JSON 'auto' dateformat 'auto' timeformat 'auto'{gz}")
        }
        FileFormat::Parquet => {
            if region.take().is_some() {
                tracing::warn!(table = %table.name, "Redshift does not copy parquet files across regions; the region is left out");
            }
            let has_json = table.columns.values().any(|c| c.data_type == Some(DataType::Json));
            if has_json { "PARQUET SERIALIZETOJSON".into() } else { "PARQUET".into() }
        }
        other => {
            return Err(Error::new(ErrorKind::Unsupported, format!("Redshift cannot COPY staged `{}` files", other.extension()))
                .with("table", table.name.clone())
                .with_hint("stage jsonl (the default) or parquet files"));
        }
    };
    let (cred, cred_redacted) = match creds {
        CopyCredentials::IamRole(role) => {
            let c = format!("IAM_ROLE {}", quote_literal(role));
            (c.clone(), c)
        }
        CopyCredentials::Keys { access_key_id, secret_access_key, session_token } => {
            let token = session_token.as_ref().map(|t| format!(";token={t}")).unwrap_or_default();
            let token_r = if session_token.is_some() { ";token=***" } else { "" };
            (
                format!(
                    "CREDENTIALS {}",
                    quote_literal(&format!("aws_access_key_id={access_key_id};aws_secret_access_key={secret_access_key}{token}"))
                ),
                format!("CREDENTIALS 'aws_access_key_id={access_key_id};aws_secret_access_key=***{token_r}'"),
            )
        }
    };
    let region = region.map(|r| format!(" region {}", quote_literal(r))).unwrap_or_default();
    let head = format!("COPY {qualified} FROM {} {body} ", quote_literal(url));
    Ok(CopyStatement { sql: format!("{head}{cred}{region} MAXERROR 0"), redacted: format!("{head}{cred_redacted}{region} MAXERROR 0") })
}

/// Refuses the columns that cannot go through staged files of `format` (dlt's
/// `ensure_supported_type`): `time` in any staged file, `binary` in jsonl, fixed-width
/// `binary(n)` in parquet.
pub fn check_staged_types(table: &Table, format: FileFormat) -> Result<()> {
    for c in table.columns.values().filter(|c| c.is_complete()) {
        let why = match (c.data_type, format) {
            (Some(DataType::Time), FileFormat::Jsonl | FileFormat::Parquet) => {
                Some(("Redshift cannot COPY `time` columns from staged files", "convert the times to text or to timestamps"))
            }
            (Some(DataType::Binary), FileFormat::Jsonl) => {
                Some(("Redshift cannot COPY `binary` columns from jsonl files", "stage parquet files (loader_file_format = \"parquet\")"))
            }
            (Some(DataType::Binary), FileFormat::Parquet) if c.precision.is_some() => Some((
                "Redshift cannot COPY fixed-width `binary` columns from parquet files",
                "drop the precision of the binary column, or stage jsonl files",
            )),
            _ => None,
        };
        if let Some((what, hint)) = why {
            return Err(Error::new(ErrorKind::Unsupported, format!("{what}: column `{}` of table `{}`", c.name, table.name))
                .with("table", table.name.clone())
                .with("column", c.name.clone())
                .with("file_format", format.extension().to_string())
                .with_hint(hint));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stevedore_sql::ddl::{alter_table_sql, create_table_sql};

    fn table(cols: Vec<Column>) -> Table {
        let mut t = Table::new("events");
        for c in cols {
            t.columns.insert(c.name.clone(), c);
        }
        t
    }

    #[test]
    fn dlt_redshift_types() {
        let d = RedshiftDialect::default();
        let t = |c: Column| d.db_type(&c).unwrap();
        assert_eq!(t(Column::new("a", DataType::Text)), "varchar(65535)");
        assert_eq!(t(Column::new("a", DataType::Text).with_precision(10)), "varchar(10)");
        assert_eq!(t(Column::new("a", DataType::Double)), "double precision");
        assert_eq!(t(Column::new("a", DataType::Bool)), "boolean");
        assert_eq!(t(Column::new("a", DataType::Bigint)), "bigint");
        assert_eq!(t(Column::new("a", DataType::Bigint).with_precision(16)), "smallint");
        assert_eq!(t(Column::new("a", DataType::Bigint).with_precision(32)), "integer");
        assert!(d.db_type(&Column::new("a", DataType::Bigint).with_precision(65)).is_err());
        assert_eq!(t(Column::new("a", DataType::Decimal)), "numeric(38,9)");
        assert_eq!(t(Column::new("a", DataType::Wei)), "numeric(38,0)");
        assert_eq!(t(Column::new("a", DataType::Timestamp)), "timestamp with time zone");
        assert_eq!(t(Column::new("a", DataType::Timestamp).with_precision(3)), "timestamp with time zone");
        let mut naive = Column::new("a", DataType::Timestamp);
        naive.timezone = Some(false);
        assert_eq!(t(naive), "timestamp without time zone");
        assert_eq!(t(Column::new("a", DataType::Time)), "time without time zone");
        assert_eq!(t(Column::new("a", DataType::Date)), "date");
        assert_eq!(t(Column::new("a", DataType::Binary)), "varbinary");
        assert_eq!(t(Column::new("a", DataType::Binary).with_precision(16)), "varbinary(16)");
        assert_eq!(t(Column::new("a", DataType::Json)), "super");
        assert_eq!(d.dlt_type_of("super", None, None), DataType::Json);
        assert_eq!(d.dlt_type_of("binary varying", None, None), DataType::Binary);
        assert_eq!(d.dlt_type_of("numeric", Some(38), Some(0)), DataType::Wei);
        assert_eq!(d.dlt_type_of("numeric", Some(38), Some(9)), DataType::Decimal);
        assert_eq!(d.dlt_type_of("character varying", Some(65535), None), DataType::Text);
    }

    #[test]
    fn identifiers_fold_to_lower_case_up_to_127_characters() {
        let d = RedshiftDialect::default();
        assert_eq!(d.casefold("CamelCase"), "camelcase");
        assert_eq!(RedshiftDialect { case_sensitive: true }.casefold("CamelCase"), "CamelCase");
        assert_eq!(d.max_identifier_length(), 127);
        // the naming convention shortens longer names to 127 with a hash suffix, as dlt does
        use stevedore_core::naming::{NamingConvention, SnakeCase};
        let long = "a".repeat(200);
        let n = SnakeCase::new(Some(d.max_identifier_length())).normalize_identifier(&long);
        assert_eq!(n.len(), 127, "{n}");
        assert_ne!(n, "a".repeat(127));
    }

    #[test]
    fn ddl_with_dist_and_sort_keys_and_one_alter_per_column() {
        let d = RedshiftDialect::default();
        let id = Column::new("id", DataType::Bigint).hint("cluster").hint("sort");
        let mut id = id;
        id.nullable = false;
        let payload = Column::new("payload", DataType::Json);
        let blob = Column::new("blob", DataType::Binary);
        let sql = create_table_sql(&d, "\"ds\".\"events\"", &[&id, &payload, &blob], false, true).unwrap();
        assert_eq!(
            sql,
            "CREATE TABLE \"ds\".\"events\" (\n\"id\" bigint DISTKEY SORTKEY NOT NULL,\n\"payload\" super,\n\"blob\" varbinary\n)"
        );
        let a = Column::new("Added_A", DataType::Text);
        let b = Column::new("added_b", DataType::Timestamp);
        let alters = alter_table_sql(&d, "\"ds\".\"events\"", &[&a, &b], true).unwrap();
        assert_eq!(
            alters,
            vec![
                "ALTER TABLE \"ds\".\"events\"\nADD COLUMN \"added_a\" varchar(65535)".to_string(),
                "ALTER TABLE \"ds\".\"events\"\nADD COLUMN \"added_b\" timestamp with time zone".to_string(),
            ]
        );
    }

    fn keys(token: Option<&str>) -> CopyCredentials {
        CopyCredentials::Keys {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG".into(),
            session_token: token.map(String::from),
        }
    }

    #[test]
    fn copy_statements_for_every_format_and_credential() {
        let plain = table(vec![Column::new("id", DataType::Bigint)]);
        let with_json = table(vec![Column::new("id", DataType::Bigint), Column::new("payload", DataType::Json)]);
        let q = "\"ds\".\"events\"";
        let role = CopyCredentials::IamRole("arn:aws:iam::123456789012:role/loader".into());
        // jsonl.gz with an IAM role and a region
        let s = copy_sql(q, "s3://bucket/ds/events/1.abc.jsonl.gz", &plain, &role, Some("eu-central-1")).unwrap();
        assert_eq!(
            s.sql(),
            "COPY \"ds\".\"events\" FROM 's3://bucket/ds/events/1.abc.jsonl.gz' FORMAT AS JSON 'auto' dateformat 'auto' timeformat 'auto' GZIP IAM_ROLE 'arn:aws:iam::123456789012:role/loader' region 'eu-central-1' MAXERROR 0"
        );
        assert_eq!(s.sql(), s.redacted);
        // uncompressed jsonl, forwarded keys with a session token, no region
        let s = copy_sql(q, "s3://bucket/ds/events/1.abc.jsonl", &plain, &keys(Some("TOKEN123")), None).unwrap();
        assert_eq!(
            s.sql(),
            "COPY \"ds\".\"events\" FROM 's3://bucket/ds/events/1.abc.jsonl' FORMAT AS JSON 'auto' dateformat 'auto' timeformat 'auto' CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=wJalrXUtnFEMI/K7MDENG;token=TOKEN123' MAXERROR 0"
        );
        assert_eq!(
            s.redacted,
            "COPY \"ds\".\"events\" FROM 's3://bucket/ds/events/1.abc.jsonl' FORMAT AS JSON 'auto' dateformat 'auto' timeformat 'auto' CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=***;token=***' MAXERROR 0"
        );
        let shown = format!("{s:?} {:?}", keys(Some("TOKEN123")));
        assert!(!shown.contains("wJalr") && !shown.contains("TOKEN123"), "{shown}");
        // parquet: the region is dropped; SERIALIZETOJSON for json columns
        let s = copy_sql(q, "s3://bucket/ds/events/1.abc.parquet", &plain, &keys(None), Some("us-east-1")).unwrap();
        assert_eq!(
            s.sql(),
            "COPY \"ds\".\"events\" FROM 's3://bucket/ds/events/1.abc.parquet' PARQUET CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=wJalrXUtnFEMI/K7MDENG' MAXERROR 0"
        );
        let s = copy_sql(q, "s3://bucket/ds/events/1.abc.parquet", &with_json, &role, None).unwrap();
        assert_eq!(
            s.sql(),
            "COPY \"ds\".\"events\" FROM 's3://bucket/ds/events/1.abc.parquet' PARQUET SERIALIZETOJSON IAM_ROLE 'arn:aws:iam::123456789012:role/loader' MAXERROR 0"
        );
        // a URL with a quote stays one literal
        let s = copy_sql(q, "s3://bucket/it's/1.abc.parquet", &plain, &role, None).unwrap();
        assert!(s.sql().contains("FROM 's3://bucket/it''s/1.abc.parquet'"), "{}", s.sql());
        // not s3, or not a format COPY reads
        let e = copy_sql(q, "gs://bucket/ds/events/1.abc.parquet", &plain, &role, None).unwrap_err();
        assert!(e.to_string().contains("s3:// only"), "{e}");
        let e = copy_sql(q, "s3://bucket/ds/events/1.abc.csv", &plain, &role, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }

    #[test]
    fn staged_types_that_redshift_cannot_copy_are_refused_with_the_column() {
        let t = table(vec![Column::new("id", DataType::Bigint), Column::new("at", DataType::Time)]);
        let e = check_staged_types(&t, FileFormat::Parquet).unwrap_err();
        assert_eq!(e.context_value("column"), Some("at"));
        assert!(e.to_string().contains("`time`"), "{e}");
        let b = table(vec![Column::new("blob", DataType::Binary)]);
        let e = check_staged_types(&b, FileFormat::Jsonl).unwrap_err();
        assert_eq!(e.context_value("column"), Some("blob"));
        check_staged_types(&b, FileFormat::Parquet).unwrap();
        let fixed = table(vec![Column::new("blob", DataType::Binary).with_precision(8)]);
        assert!(check_staged_types(&fixed, FileFormat::Parquet).is_err());
        check_staged_types(&table(vec![Column::new("id", DataType::Bigint)]), FileFormat::Jsonl).unwrap();
    }
}
