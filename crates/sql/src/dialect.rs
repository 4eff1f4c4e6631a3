//! The [`Dialect`] trait: what differs between SQL warehouses (types, identifiers, the few
//! statement shapes that vary), and [`PostgresDialect`].
//!
//! Hooks follow the spec digest (§7 #13): `key_table_clauses` splitting
//! ([`Dialect::split_key_clauses`]), temporary tables ([`Dialect::create_temp_table_as`]),
//! `DELETE` aliases ([`Dialect::delete_alias_allowed`]), `truncate`, clone/swap
//! ([`Dialect::staging_optimized_replace`]), datetime literals and `CONCAT`.

use std::fmt;

use chrono::{DateTime, Utc};
use stevedore_core::schema::{Column, DataType};
use stevedore_core::writers::SqlLiterals;
use stevedore_core::{Error, ErrorKind, Result};

/// A SQL dialect. Object safe; every method has the generic (ANSI-ish) default where one exists.
pub trait Dialect: Send + Sync + fmt::Debug {
    /// Dialect name (`postgres`).
    fn name(&self) -> &'static str;

    /// Quotes one identifier (no qualification): `"x"` with `"` doubled. Identifiers are
    /// never spliced into SQL unquoted.
    fn quote_identifier(&self, ident: &str) -> String {
        let mut s = String::with_capacity(ident.len() + 2);
        s.push('"');
        for c in ident.chars() {
            if c == '"' {
                s.push('"');
            }
            s.push(c);
        }
        s.push('"');
        s
    }

    /// Case folding applied to identifiers before quoting (identity by default).
    fn casefold(&self, ident: &str) -> String {
        ident.to_string()
    }

    /// Maximum length of a table identifier.
    fn max_identifier_length(&self) -> usize;

    /// Maximum length of a column identifier.
    fn max_column_identifier_length(&self) -> usize {
        self.max_identifier_length()
    }

    /// The SQL type of a column (dlt's type mapping for this dialect).
    fn db_type(&self, col: &Column) -> Result<String>;

    /// dlt type of a type name read from `information_schema.columns`.
    fn dlt_type_of(&self, db_type: &str, precision: Option<i64>, scale: Option<i64>) -> DataType;

    /// Inline column hints rendered after the type (e.g. `UNIQUE`).
    fn column_hints(&self, _col: &Column) -> Vec<&'static str> {
        Vec::new()
    }

    /// How `insert_values` job files write literals for this dialect (a destination copies it
    /// into its `Capabilities::insert_values_literals`).
    fn insert_values_literals(&self) -> SqlLiterals {
        SqlLiterals::Postgres
    }

    /// The longest text a `text` column takes, in bytes, when it is bounded (Redshift's
    /// `varchar(65535)`): a longer schema document in `_dlt_version` is stored compressed, as
    /// dlt stores it. `None`: unbounded.
    fn max_text_data_type_length(&self) -> Option<usize> {
        None
    }

    /// Whether one `ALTER TABLE` may add several columns.
    fn alter_add_multi_column(&self) -> bool {
        true
    }

    /// Whether migrations write every `CREATE TABLE` and `ADD COLUMN` with `IF NOT EXISTS`, so
    /// that two loads migrating the same dataset at once both succeed: for warehouses with no
    /// lock that serializes migrations ([`crate::client::SqlBackend::lock_dataset`]). Default:
    /// dlt's plain statements (data tables without `IF NOT EXISTS`).
    fn idempotent_migrations(&self) -> bool {
        false
    }

    /// Whether `CREATE TABLE IF NOT EXISTS` is supported.
    fn supports_create_if_not_exists(&self) -> bool {
        true
    }

    /// A typed timestamp literal.
    fn timestamp_literal(&self, ts: DateTime<Utc>, timezone: bool) -> String {
        let s = ts.format("%Y-%m-%dT%H:%M:%S%.6f+00:00");
        if timezone {
            format!("CAST('{s}' AS TIMESTAMP WITH TIME ZONE)")
        } else {
            format!("CAST('{}' AS TIMESTAMP)", ts.format("%Y-%m-%dT%H:%M:%S%.6f"))
        }
    }

    /// `CREATE TEMPORARY TABLE name AS select` (the name is already quoted).
    fn create_temp_table_as(&self, name: &str, select: &str) -> String {
        format!("CREATE TEMPORARY TABLE {name} AS {select}")
    }

    /// Empties a table.
    fn truncate_table(&self, qualified: &str) -> String {
        format!("TRUNCATE TABLE {qualified}")
    }

    /// Whether delete statements need one statement per key clause (no `OR` in a correlated
    /// subquery: BigQuery, Snowflake).
    fn split_key_clauses(&self) -> bool {
        false
    }

    /// Whether `DELETE FROM t AS d` is allowed (Redshift: no).
    fn delete_alias_allowed(&self) -> bool {
        true
    }

    /// Concatenation of expressions (compound merge keys in scd2).
    fn concat(&self, exprs: &[String]) -> String {
        format!("CONCAT({})", exprs.join(", "))
    }

    /// Whether `MERGE INTO` exists (upsert and insert-only).
    fn supports_merge(&self) -> bool {
        true
    }

    /// Clauses appended to `CREATE TABLE` of a new table with these columns (BigQuery's
    /// `PARTITION BY` / `CLUSTER BY` from the `partition` and `cluster` hints); none by default.
    fn create_table_clauses(&self, _cols: &[&Column]) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Table constraints written inside `CREATE TABLE (...)` after the columns of a new table
    /// (Snowflake's primary key with `create_indexes`); none by default. Not used for tables
    /// created without hints (merge staging tables) nor by `ALTER TABLE`.
    fn table_constraints(&self, _table: &str, _cols: &[&Column]) -> Vec<String> {
        Vec::new()
    }

    /// Statements of the `staging-optimized` replace for one table, or `None` when the
    /// dialect has no optimized form (the generic insert-from-staging SQL is used).
    /// `final_schema` is the quoted final dataset, `table` the quoted unqualified table name.
    fn staging_optimized_replace(&self, _final_q: &str, _staging_q: &str, _final_schema: &str, _table: &str) -> Option<Vec<String>> {
        None
    }
}

/// PostgreSQL (and the shared base of Redshift): dlt's `postgres` type mapper and identifiers.
#[derive(Debug, Clone)]
pub struct PostgresDialect {
    /// Render `UNIQUE` for `unique` columns (`[destination.postgres] create_indexes`, default true).
    pub create_indexes: bool,
}

impl Default for PostgresDialect {
    fn default() -> Self {
        PostgresDialect { create_indexes: true }
    }
}

fn bad_type(col: &Column, what: String) -> Error {
    Error::new(ErrorKind::Schema, what).with("column", col.name.clone())
}

/// dlt's `to_db_integer_type` of PostgreSQL and Redshift: `bigint`, or by precision in bits
/// `smallint` (≤ 16), `integer` (≤ 32), `bigint` (≤ 64); wider is an error.
pub fn integer_type(col: &Column) -> Result<&'static str> {
    Ok(match col.precision {
        None => "bigint",
        Some(p) if p <= 16 => "smallint",
        Some(p) if p <= 32 => "integer",
        Some(p) if p <= 64 => "bigint",
        Some(p) => {
            return Err(bad_type(col, format!("bigint precision {p} bits of column `{}` exceeds 64 bits", col.name))
                .with_hint("use decimal for integers wider than 64 bits"));
        }
    })
}

impl Dialect for PostgresDialect {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn max_identifier_length(&self) -> usize {
        63
    }

    fn db_type(&self, col: &Column) -> Result<String> {
        let dt = col.data_type.ok_or_else(|| bad_type(col, format!("column `{}` has no data type", col.name)))?;
        Ok(match dt {
            DataType::Text => match col.precision {
                Some(n) => format!("varchar({n})"),
                None => "varchar".into(),
            },
            DataType::Double => "double precision".into(),
            DataType::Bool => "boolean".into(),
            DataType::Bigint => integer_type(col)?.into(),
            DataType::Decimal => match (col.precision, col.scale) {
                (Some(p), Some(s)) => format!("numeric({p},{s})"),
                (Some(p), None) => format!("numeric({p},0)"),
                _ => "numeric(38,9)".into(),
            },
            DataType::Wei => "numeric(156,78)".into(),
            DataType::Timestamp => {
                let tz = if col.timezone == Some(false) { "without" } else { "with" };
                match col.precision {
                    None => format!("timestamp {tz} time zone"),
                    Some(p) if p <= 6 => format!("timestamp ({p}) {tz} time zone"),
                    Some(p) => {
                        return Err(bad_type(col, format!("timestamp precision {p} of column `{}` is above 6", col.name))
                            .with_hint("postgres stores microseconds at most"));
                    }
                }
            }
            DataType::Time => match col.precision {
                None => "time without time zone".into(),
                Some(p) if p <= 6 => format!("time ({p}) without time zone"),
                Some(p) => return Err(bad_type(col, format!("time precision {p} of column `{}` is above 6", col.name))),
            },
            DataType::Date => "date".into(),
            DataType::Binary => "bytea".into(),
            DataType::Json => "jsonb".into(),
        })
    }

    fn dlt_type_of(&self, db_type: &str, precision: Option<i64>, scale: Option<i64>) -> DataType {
        match db_type {
            "character varying" | "text" | "character" => DataType::Text,
            "double precision" | "real" => DataType::Double,
            "boolean" => DataType::Bool,
            "bigint" | "integer" | "smallint" => DataType::Bigint,
            "numeric" if precision == Some(156) && scale == Some(78) => DataType::Wei,
            "numeric" => DataType::Decimal,
            "timestamp with time zone" | "timestamp without time zone" => DataType::Timestamp,
            "time without time zone" | "time with time zone" => DataType::Time,
            "date" => DataType::Date,
            "bytea" => DataType::Binary,
            "jsonb" | "json" => DataType::Json,
            _ => DataType::Text,
        }
    }

    fn column_hints(&self, col: &Column) -> Vec<&'static str> {
        // the scd2 row version (`x-row-version`) repeats across versions of a record
        if self.create_indexes && col.hints.unique && !col.extra.contains_key("x-row-version") { vec!["UNIQUE"] } else { Vec::new() }
    }

    fn create_temp_table_as(&self, name: &str, select: &str) -> String {
        // pooled connections live on: drop the table with the transaction
        format!("CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS {select}")
    }

    fn staging_optimized_replace(&self, final_q: &str, staging_q: &str, final_schema: &str, _table: &str) -> Option<Vec<String>> {
        Some(vec![
            format!("DROP TABLE IF EXISTS {final_q}"),
            format!("ALTER TABLE {staging_q} SET SCHEMA {final_schema}"),
            format!("CREATE TABLE {staging_q} (LIKE {final_q} INCLUDING ALL)"),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_types() {
        let d = PostgresDialect::default();
        let t = |c: Column| d.db_type(&c).unwrap();
        assert_eq!(t(Column::new("a", DataType::Text)), "varchar");
        assert_eq!(t(Column::new("a", DataType::Text).with_precision(10)), "varchar(10)");
        assert_eq!(t(Column::new("a", DataType::Double)), "double precision");
        assert_eq!(t(Column::new("a", DataType::Bool)), "boolean");
        assert_eq!(t(Column::new("a", DataType::Bigint)), "bigint");
        assert_eq!(t(Column::new("a", DataType::Bigint).with_precision(16)), "smallint");
        assert_eq!(t(Column::new("a", DataType::Bigint).with_precision(32)), "integer");
        assert_eq!(t(Column::new("a", DataType::Bigint).with_precision(64)), "bigint");
        assert!(d.db_type(&Column::new("a", DataType::Bigint).with_precision(65)).is_err());
        assert_eq!(t(Column::new("a", DataType::Decimal)), "numeric(38,9)");
        let mut c = Column::new("a", DataType::Decimal);
        c.precision = Some(10);
        c.scale = Some(2);
        assert_eq!(t(c), "numeric(10,2)");
        assert_eq!(t(Column::new("a", DataType::Wei)), "numeric(156,78)");
        assert_eq!(t(Column::new("a", DataType::Timestamp)), "timestamp with time zone");
        assert_eq!(t(Column::new("a", DataType::Timestamp).with_precision(3)), "timestamp (3) with time zone");
        let mut c = Column::new("a", DataType::Timestamp);
        c.timezone = Some(false);
        assert_eq!(t(c), "timestamp without time zone");
        assert!(d.db_type(&Column::new("a", DataType::Timestamp).with_precision(9)).is_err());
        assert_eq!(t(Column::new("a", DataType::Time)), "time without time zone");
        assert_eq!(t(Column::new("a", DataType::Date)), "date");
        assert_eq!(t(Column::new("a", DataType::Binary)), "bytea");
        assert_eq!(t(Column::new("a", DataType::Json)), "jsonb");
        assert_eq!(d.dlt_type_of("character varying", None, None), DataType::Text);
        assert_eq!(d.dlt_type_of("numeric", Some(156), Some(78)), DataType::Wei);
        assert_eq!(d.dlt_type_of("numeric", Some(38), Some(9)), DataType::Decimal);
        assert_eq!(d.dlt_type_of("jsonb", None, None), DataType::Json);
        assert_eq!(d.dlt_type_of("interval", None, None), DataType::Text);
    }

    #[test]
    fn quoting_escapes_quotes() {
        let d = PostgresDialect::default();
        assert_eq!(d.quote_identifier("a"), "\"a\"");
        assert_eq!(d.quote_identifier("a\"; DROP TABLE x; --"), "\"a\"\"; DROP TABLE x; --\"");
        assert_eq!(d.quote_identifier("select"), "\"select\"");
        assert_eq!(d.quote_identifier("ünï côde"), "\"ünï côde\"");
    }

    #[test]
    fn unique_hint_skips_row_version() {
        let d = PostgresDialect::default();
        let c = Column::new("_dlt_id", DataType::Text).hint("unique");
        assert_eq!(d.column_hints(&c), vec!["UNIQUE"]);
        let mut c2 = c.clone();
        c2.extra.insert("x-row-version".into(), serde_json::json!(true));
        assert!(d.column_hints(&c2).is_empty());
        assert!(PostgresDialect { create_indexes: false }.column_hints(&c).is_empty());
    }

    #[test]
    fn literals() {
        let d = PostgresDialect::default();
        let ts = DateTime::parse_from_rfc3339("2024-04-14T08:32:01.5Z").unwrap().with_timezone(&Utc);
        assert_eq!(d.timestamp_literal(ts, true), "CAST('2024-04-14T08:32:01.500000+00:00' AS TIMESTAMP WITH TIME ZONE)");
        assert_eq!(d.timestamp_literal(ts, false), "CAST('2024-04-14T08:32:01.500000' AS TIMESTAMP)");
    }
}
