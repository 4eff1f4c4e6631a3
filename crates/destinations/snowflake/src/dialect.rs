//! Snowflake SQL: dlt 1.31's Snowflake type mapping, upper-case quoted identifiers
//! (`"SCHEMA"."TABLE"."COLUMN"`), `CLUSTER BY` and primary-key constraints on `CREATE TABLE`,
//! and the statement shapes that differ.

use chrono::{DateTime, Utc};
use stevedore_core::schema::{Column, DataType};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::Dialect;

/// Snowflake SQL.
#[derive(Debug, Clone, Default)]
pub struct SnowflakeDialect {
    /// `TIMESTAMP_TZ` instead of `TIMESTAMP_LTZ` for tz-aware timestamps.
    pub use_timestamp_tz: bool,
    /// Render `UNIQUE` for `unique` columns (dlt's default: false).
    pub create_indexes: bool,
}

fn bad(col: &Column, what: String) -> Error {
    Error::new(ErrorKind::Schema, what).with("column", col.name.clone())
}

/// A Snowflake string literal: `'` doubled, `\` escaped (Snowflake reads backslash escapes in
/// single-quoted strings).
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl Dialect for SnowflakeDialect {
    fn name(&self) -> &'static str {
        "snowflake"
    }

    /// Upper case, as dlt's `casefold_identifier = str.upper`: unquoted Snowflake names
    /// resolve to these.
    fn casefold(&self, ident: &str) -> String {
        ident.to_uppercase()
    }

    fn max_identifier_length(&self) -> usize {
        255
    }

    fn db_type(&self, col: &Column) -> Result<String> {
        let dt = col.data_type.ok_or_else(|| bad(col, format!("column `{}` has no data type", col.name)))?;
        Ok(match dt {
            DataType::Text => match col.precision {
                Some(n) => format!("VARCHAR({n})"),
                None => "VARCHAR".into(),
            },
            DataType::Double => "FLOAT".into(),
            DataType::Bool => "BOOLEAN".into(),
            // Snowflake has no integer types: every bigint is NUMBER(19,0), whatever its precision
            DataType::Bigint => "NUMBER(19,0)".into(),
            DataType::Decimal => match (col.precision, col.scale) {
                (Some(p), s) => format!("NUMBER({p},{})", s.unwrap_or(0)),
                (None, _) => "NUMBER(38,9)".into(),
            },
            DataType::Wei => "NUMBER(38,0)".into(),
            DataType::Timestamp => {
                let base = if col.timezone == Some(false) {
                    "TIMESTAMP_NTZ"
                } else if self.use_timestamp_tz {
                    "TIMESTAMP_TZ"
                } else {
                    "TIMESTAMP_LTZ"
                };
                match col.precision {
                    None => base.into(),
                    Some(p) if p <= 9 => format!("{base}({p})"),
                    Some(p) => {
                        return Err(bad(col, format!("Snowflake does not support precision {p} for timestamp column `{}`", col.name))
                            .with_hint("timestamp precision is 0 to 9 on Snowflake"));
                    }
                }
            }
            DataType::Time => match col.precision {
                Some(p) => format!("TIME({p})"),
                None => "TIME".into(),
            },
            DataType::Date => "DATE".into(),
            DataType::Binary => "BINARY".into(),
            DataType::Json => "VARIANT".into(),
        })
    }

    fn dlt_type_of(&self, db_type: &str, precision: Option<i64>, scale: Option<i64>) -> DataType {
        let base = db_type.split('(').next().unwrap_or(db_type).trim().to_ascii_uppercase();
        match base.as_str() {
            "VARCHAR" | "TEXT" | "STRING" | "CHAR" | "CHARACTER" => DataType::Text,
            "FLOAT" | "DOUBLE" | "REAL" | "FLOAT8" | "DOUBLE PRECISION" => DataType::Double,
            "BOOLEAN" => DataType::Bool,
            "NUMBER" | "DECIMAL" | "NUMERIC" => match (precision, scale) {
                (Some(19), Some(0)) => DataType::Bigint,
                (Some(38), Some(0)) => DataType::Wei,
                _ => DataType::Decimal,
            },
            "DECFLOAT" => DataType::Decimal,
            "TIMESTAMP_LTZ" | "TIMESTAMP_TZ" | "TIMESTAMP_NTZ" | "TIMESTAMP" | "DATETIME" => DataType::Timestamp,
            "TIME" => DataType::Time,
            "DATE" => DataType::Date,
            "BINARY" | "VARBINARY" => DataType::Binary,
            "VARIANT" | "OBJECT" | "ARRAY" | "MAP" => DataType::Json,
            _ => DataType::Text,
        }
    }

    fn column_hints(&self, col: &Column) -> Vec<&'static str> {
        // the scd2 row version (`x-row-version`) repeats across versions of a record
        if self.create_indexes && col.hints.unique && !col.extra.contains_key("x-row-version") { vec!["UNIQUE"] } else { Vec::new() }
    }

    /// One `ALTER TABLE ... ADD COLUMN` per column: valid Snowflake, and the only multi-column
    /// form fakesnow does not refuse is Snowflake's comma list without repeated `ADD COLUMN`,
    /// which the shared DDL does not write.
    fn alter_add_multi_column(&self) -> bool {
        false
    }

    /// Snowflake has no lock that would serialize two loads migrating one schema (DDL commits
    /// at once): every table and column is created with `IF NOT EXISTS`.
    fn idempotent_migrations(&self) -> bool {
        true
    }

    fn timestamp_literal(&self, ts: DateTime<Utc>, timezone: bool) -> String {
        if timezone {
            format!("CAST('{}' AS TIMESTAMP_TZ)", ts.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
        } else {
            format!("CAST('{}' AS TIMESTAMP_NTZ)", ts.format("%Y-%m-%dT%H:%M:%S%.6f"))
        }
    }

    /// `DELETE ... WHERE 1=1`: DML, so it commits or rolls back with the rest of a
    /// transaction and never commits one implicitly (as DDL would on Snowflake).
    fn truncate_table(&self, qualified: &str) -> String {
        format!("DELETE FROM {qualified} WHERE 1=1")
    }

    /// dlt runs one `DELETE` per key clause on Snowflake (no `OR` of correlated subqueries).
    fn split_key_clauses(&self) -> bool {
        true
    }

    fn concat(&self, exprs: &[String]) -> String {
        let cast: Vec<String> = exprs.iter().map(|e| format!("CAST({e} AS VARCHAR)")).collect();
        format!("CONCAT({})", cast.join(", "))
    }

    /// `CLUSTER BY ("A", "B")` from `cluster` hints, and dlt's primary-key constraint
    /// `CONSTRAINT "PK_<TABLE>_<hash>" PRIMARY KEY (...)` is left out: the shared DDL renders
    /// clauses after the closing parenthesis, where only `CLUSTER BY` is valid.
    fn create_table_clauses(&self, cols: &[&Column]) -> Result<Vec<String>> {
        let cluster: Vec<String> =
            cols.iter().filter(|c| c.hints.cluster).map(|c| self.quote_identifier(&self.casefold(&c.name))).collect();
        if cluster.is_empty() { Ok(Vec::new()) } else { Ok(vec![format!("CLUSTER BY ({})", cluster.join(","))]) }
    }

    /// dlt's `CONSTRAINT "PK_<TABLE>_<4 random chars>" PRIMARY KEY (...)` of a new table with
    /// `primary_key` columns, with `create_indexes` only (Snowflake does not enforce it).
    fn table_constraints(&self, table: &str, cols: &[&Column]) -> Vec<String> {
        let pk: Vec<String> = cols.iter().filter(|c| c.hints.primary_key).map(|c| self.quote_identifier(&self.casefold(&c.name))).collect();
        if !self.create_indexes || pk.is_empty() {
            return Vec::new();
        }
        let uniq: String = (0..4).map(|_| fastrand::alphanumeric().to_ascii_lowercase()).collect();
        let name = self.quote_identifier(&self.casefold(&format!("pk_{table}_{uniq}")));
        vec![format!("CONSTRAINT {name} PRIMARY KEY ({})", pk.join(", "))]
    }

    /// dlt's Snowflake `staging-optimized` without atomic swap: drop the final table and clone
    /// the staging one (both DDL).
    fn staging_optimized_replace(&self, final_q: &str, staging_q: &str, _final_schema: &str, _table: &str) -> Option<Vec<String>> {
        Some(vec![format!("DROP TABLE IF EXISTS {final_q}"), format!("CREATE TABLE {final_q} CLONE {staging_q}")])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlt_snowflake_types() {
        let d = SnowflakeDialect::default();
        let t = |c: Column| d.db_type(&c).unwrap();
        assert_eq!(t(Column::new("a", DataType::Text)), "VARCHAR");
        assert_eq!(t(Column::new("a", DataType::Text).with_precision(10)), "VARCHAR(10)");
        assert_eq!(t(Column::new("a", DataType::Double)), "FLOAT");
        assert_eq!(t(Column::new("a", DataType::Bool)), "BOOLEAN");
        assert_eq!(t(Column::new("a", DataType::Bigint)), "NUMBER(19,0)");
        assert_eq!(t(Column::new("a", DataType::Bigint).with_precision(16)), "NUMBER(19,0)");
        assert_eq!(t(Column::new("a", DataType::Decimal)), "NUMBER(38,9)");
        let mut c = Column::new("a", DataType::Decimal);
        c.precision = Some(10);
        c.scale = Some(2);
        assert_eq!(t(c), "NUMBER(10,2)");
        assert_eq!(t(Column::new("a", DataType::Wei)), "NUMBER(38,0)");
        assert_eq!(t(Column::new("a", DataType::Timestamp)), "TIMESTAMP_LTZ");
        assert_eq!(t(Column::new("a", DataType::Timestamp).with_precision(3)), "TIMESTAMP_LTZ(3)");
        let mut naive = Column::new("a", DataType::Timestamp);
        naive.timezone = Some(false);
        assert_eq!(t(naive), "TIMESTAMP_NTZ");
        assert!(d.db_type(&Column::new("a", DataType::Timestamp).with_precision(10)).is_err());
        let tz = SnowflakeDialect { use_timestamp_tz: true, ..Default::default() };
        assert_eq!(tz.db_type(&Column::new("a", DataType::Timestamp)).unwrap(), "TIMESTAMP_TZ");
        assert_eq!(tz.db_type(&Column::new("a", DataType::Timestamp).with_precision(9)).unwrap(), "TIMESTAMP_TZ(9)");
        assert_eq!(t(Column::new("a", DataType::Time)), "TIME");
        assert_eq!(t(Column::new("a", DataType::Time).with_precision(3)), "TIME(3)");
        assert_eq!(t(Column::new("a", DataType::Date)), "DATE");
        assert_eq!(t(Column::new("a", DataType::Binary)), "BINARY");
        assert_eq!(t(Column::new("a", DataType::Json)), "VARIANT");
        // reverse, as information_schema reports them (fakesnow says TEXT for VARCHAR)
        assert_eq!(d.dlt_type_of("NUMBER", Some(19), Some(0)), DataType::Bigint);
        assert_eq!(d.dlt_type_of("NUMBER", Some(38), Some(0)), DataType::Wei);
        assert_eq!(d.dlt_type_of("NUMBER", Some(38), Some(9)), DataType::Decimal);
        assert_eq!(d.dlt_type_of("TEXT", None, None), DataType::Text);
        assert_eq!(d.dlt_type_of("TIMESTAMP_LTZ", None, None), DataType::Timestamp);
        assert_eq!(d.dlt_type_of("VARIANT", None, None), DataType::Json);
    }

    #[test]
    fn identifiers_fold_to_upper_case_and_quote() {
        let d = SnowflakeDialect::default();
        assert_eq!(d.quote_identifier(&d.casefold("events__items")), "\"EVENTS__ITEMS\"");
        assert_eq!(d.quote_identifier(&d.casefold("a\"b")), "\"A\"\"B\"");
        assert_eq!(string_literal("it's a \\ test"), "'it''s a \\\\ test'");
    }

    #[test]
    fn clauses_hints_and_literals() {
        let d = SnowflakeDialect::default();
        let a = Column::new("a", DataType::Text).hint("cluster");
        let b = Column::new("b", DataType::Bigint).hint("cluster");
        let c = Column::new("c", DataType::Bigint).hint("unique");
        assert_eq!(d.create_table_clauses(&[&a, &c, &b]).unwrap(), vec!["CLUSTER BY (\"A\",\"B\")".to_string()]);
        assert!(d.create_table_clauses(&[&c]).unwrap().is_empty());
        assert!(d.column_hints(&c).is_empty(), "UNIQUE only with create_indexes");
        assert_eq!(SnowflakeDialect { create_indexes: true, ..Default::default() }.column_hints(&c), vec!["UNIQUE"]);
        let ts = DateTime::parse_from_rfc3339("2024-04-14T08:32:01.5Z").unwrap().with_timezone(&Utc);
        assert_eq!(d.timestamp_literal(ts, true), "CAST('2024-04-14T08:32:01.500000+00:00' AS TIMESTAMP_TZ)");
        let id = Column::new("id", DataType::Bigint).hint("primary_key");
        assert!(d.table_constraints("events", &[&id, &a]).is_empty(), "constraints only with create_indexes");
        let idx = SnowflakeDialect { create_indexes: true, ..Default::default() };
        let pk = idx.table_constraints("events", &[&id, &a]);
        assert_eq!(pk.len(), 1);
        assert!(pk[0].starts_with("CONSTRAINT \"PK_EVENTS_") && pk[0].ends_with("\" PRIMARY KEY (\"ID\")"), "{pk:?}");
        let t = {
            let mut t = stevedore_core::schema::Table::new("events");
            t.add_column(id.clone());
            t.add_column(Column::new("v", DataType::Text));
            t
        };
        let sql =
            stevedore_sql::ddl::migration_sql(&idx, &[&t], &Default::default(), &|n| format!("\"DS\".\"{}\"", n.to_uppercase()), true)
                .unwrap();
        assert!(
            sql[0].starts_with(
                "CREATE TABLE IF NOT EXISTS \"DS\".\"EVENTS\" (\n\"ID\" NUMBER(19,0),\n\"V\" VARCHAR,\nCONSTRAINT \"PK_EVENTS_"
            ),
            "{sql:?}"
        );
        assert!(sql[0].ends_with(" PRIMARY KEY (\"ID\")\n)"), "{sql:?}");
        // a second load migrating at once finds its tables and columns there
        let mut stored = stevedore_sql::ddl::StorageTables::default();
        let id_col =
            stevedore_sql::ddl::StorageColumn { name: "ID".into(), db_type: "NUMBER".into(), nullable: true, precision: None, scale: None };
        stored.insert("events".into(), [("id".to_string(), id_col)].into());
        let sql = stevedore_sql::ddl::migration_sql(&idx, &[&t], &stored, &|n| format!("\"DS\".\"{}\"", n.to_uppercase()), true).unwrap();
        assert_eq!(sql, ["ALTER TABLE \"DS\".\"EVENTS\"\nADD COLUMN IF NOT EXISTS \"V\" VARCHAR"]);
        assert_eq!(d.truncate_table("\"S\".\"T\""), "DELETE FROM \"S\".\"T\" WHERE 1=1");
        assert_eq!(
            d.staging_optimized_replace("\"S\".\"T\"", "\"S_STAGING\".\"T\"", "\"S\"", "\"T\"").unwrap(),
            vec!["DROP TABLE IF EXISTS \"S\".\"T\"".to_string(), "CREATE TABLE \"S\".\"T\" CLONE \"S_STAGING\".\"T\"".to_string()]
        );
    }
}
