//! BigQuery SQL: dlt's BigQuery type mapping, backtick identifiers, `PARTITION BY` /
//! `CLUSTER BY` from column hints, and the statement shapes that differ.

use chrono::{DateTime, Utc};
use stevedore_core::schema::{Column, DataType};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::Dialect;

/// BigQuery standard SQL.
#[derive(Debug, Clone, Default)]
pub struct BigQueryDialect;

fn bad(col: &Column, what: String) -> Error {
    Error::new(ErrorKind::Schema, what).with("column", col.name.clone())
}

impl Dialect for BigQueryDialect {
    fn name(&self) -> &'static str {
        "bigquery"
    }

    /// `` `x` `` with `` ` `` and `\` escaped by a backslash.
    fn quote_identifier(&self, ident: &str) -> String {
        let mut s = String::with_capacity(ident.len() + 2);
        s.push('`');
        for c in ident.chars() {
            if c == '`' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('`');
        s
    }

    fn max_identifier_length(&self) -> usize {
        1024
    }

    fn max_column_identifier_length(&self) -> usize {
        300
    }

    fn db_type(&self, col: &Column) -> Result<String> {
        let dt = col.data_type.ok_or_else(|| bad(col, format!("column `{}` has no data type", col.name)))?;
        Ok(match dt {
            DataType::Text => match col.precision {
                Some(n) => format!("STRING({n})"),
                None => "STRING".into(),
            },
            DataType::Double => "FLOAT64".into(),
            DataType::Bool => "BOOL".into(),
            DataType::Bigint => match col.precision {
                Some(p) if p > 64 => {
                    return Err(bad(col, format!("bigint precision {p} bits of column `{}` exceeds 64 bits", col.name))
                        .with_hint("use decimal or wei for integers wider than 64 bits"));
                }
                _ => "INT64".into(),
            },
            DataType::Decimal => {
                let (p, s) = (col.precision.unwrap_or(38), col.scale.unwrap_or(if col.precision.is_some() { 0 } else { 9 }));
                if (s == 0 && p > 29) || p > 38 || s > 9 { format!("BIGNUMERIC({p},{s})") } else { format!("NUMERIC({p},{s})") }
            }
            DataType::Wei => "BIGNUMERIC".into(),
            // BigQuery has no naive timestamps: timezone=false loads as UTC, like dlt
            DataType::Timestamp => "TIMESTAMP".into(),
            DataType::Time => "TIME".into(),
            DataType::Date => "DATE".into(),
            DataType::Binary => match col.precision {
                Some(n) => format!("BYTES({n})"),
                None => "BYTES".into(),
            },
            DataType::Json => "JSON".into(),
        })
    }

    fn dlt_type_of(&self, db_type: &str, _precision: Option<i64>, _scale: Option<i64>) -> DataType {
        let base = db_type.split('(').next().unwrap_or(db_type).trim().to_ascii_uppercase();
        match base.as_str() {
            "STRING" => DataType::Text,
            "FLOAT64" | "FLOAT" => DataType::Double,
            "BOOL" | "BOOLEAN" => DataType::Bool,
            "INT64" | "INTEGER" | "INT" => DataType::Bigint,
            "NUMERIC" | "DECIMAL" => DataType::Decimal,
            "BIGNUMERIC" | "BIGDECIMAL" => {
                if db_type.contains('(') {
                    DataType::Decimal
                } else {
                    DataType::Wei
                }
            }
            "TIMESTAMP" | "DATETIME" => DataType::Timestamp,
            "TIME" => DataType::Time,
            "DATE" => DataType::Date,
            "BYTES" => DataType::Binary,
            "JSON" => DataType::Json,
            _ => DataType::Text,
        }
    }

    /// Real BigQuery takes several `ADD COLUMN`s in one statement, the emulator does not; one
    /// statement per column is right on both.
    fn alter_add_multi_column(&self) -> bool {
        false
    }

    /// BigQuery has no lock to serialize two loads migrating one dataset: every table and
    /// column is created with `IF NOT EXISTS`, so the second migration finds its work done.
    fn idempotent_migrations(&self) -> bool {
        true
    }

    fn timestamp_literal(&self, ts: DateTime<Utc>, _timezone: bool) -> String {
        format!("TIMESTAMP '{}'", ts.format("%Y-%m-%d %H:%M:%S%.6f+00:00"))
    }

    fn create_temp_table_as(&self, name: &str, select: &str) -> String {
        format!("CREATE TEMP TABLE {name} AS {select}")
    }

    /// `DELETE ... WHERE true` instead of `TRUNCATE TABLE`: a DML statement that commits or
    /// rolls back with the rest of a transaction (the emulator does not roll `TRUNCATE` back).
    fn truncate_table(&self, qualified: &str) -> String {
        format!("DELETE FROM {qualified} WHERE true")
    }

    /// BigQuery rejects `OR` of correlated subqueries in `DELETE`.
    fn split_key_clauses(&self) -> bool {
        true
    }

    fn concat(&self, exprs: &[String]) -> String {
        let cast: Vec<String> = exprs.iter().map(|e| format!("CAST({e} AS STRING)")).collect();
        format!("CONCAT({})", cast.join(", "))
    }

    fn create_table_clauses(&self, cols: &[&Column]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let partition: Vec<&&Column> = cols.iter().filter(|c| c.hints.partition).collect();
        if partition.len() > 1 {
            let names: Vec<&str> = partition.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::new(
                ErrorKind::Schema,
                format!("BigQuery partitions a table by one column; {} have the partition hint", names.join(", ")),
            )
            .with_hint("keep the partition hint on one column"));
        }
        if let Some(c) = partition.first() {
            let q = self.quote_identifier(&c.name);
            out.push(match c.data_type {
                Some(DataType::Date) => format!("PARTITION BY {q}"),
                Some(DataType::Timestamp) => format!("PARTITION BY DATE({q})"),
                Some(DataType::Bigint) => format!("PARTITION BY RANGE_BUCKET({q}, GENERATE_ARRAY(-172800000, 691200000, 86400))"),
                other => {
                    return Err(bad(c, format!("BigQuery cannot partition by column `{}` of type {other:?}", c.name))
                        .with_hint("partition by a date, timestamp or bigint column"));
                }
            });
        }
        let cluster: Vec<String> = cols.iter().filter(|c| c.hints.cluster).map(|c| self.quote_identifier(&c.name)).collect();
        if !cluster.is_empty() {
            out.push(format!("CLUSTER BY {}", cluster.join(", ")));
        }
        Ok(out)
    }

    fn staging_optimized_replace(&self, final_q: &str, staging_q: &str, _final_schema: &str, _table: &str) -> Option<Vec<String>> {
        // dlt's statements (the emulator refuses CREATE OR REPLACE ... CLONE of an existing table)
        Some(vec![format!("DROP TABLE IF EXISTS {final_q}"), format!("CREATE TABLE {final_q} CLONE {staging_q}")])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migrations can run twice at once: tables and columns are created if not there.
    #[test]
    fn migrations_are_idempotent() {
        let d = BigQueryDialect;
        let mut t = stevedore_core::schema::Table::new("items");
        t.add_column(Column::new("id", DataType::Bigint));
        let existing = stevedore_sql::ddl::StorageTables::default();
        let sql = stevedore_sql::ddl::migration_sql(&d, &[&t], &existing, &|n| format!("`ds`.`{n}`"), true).unwrap();
        assert!(sql[0].starts_with("CREATE TABLE IF NOT EXISTS `ds`.`items`"), "{sql:?}");
        let mut stored = stevedore_sql::ddl::StorageTables::default();
        let id =
            stevedore_sql::ddl::StorageColumn { name: "id".into(), db_type: "INT64".into(), nullable: true, precision: None, scale: None };
        stored.insert("items".into(), [("id".to_string(), id)].into());
        t.add_column(Column::new("name", DataType::Text));
        let sql = stevedore_sql::ddl::migration_sql(&d, &[&t], &stored, &|n| format!("`ds`.`{n}`"), true).unwrap();
        assert_eq!(sql, ["ALTER TABLE `ds`.`items`\nADD COLUMN IF NOT EXISTS `name` STRING"]);
    }

    #[test]
    fn dlt_bigquery_types() {
        let d = BigQueryDialect;
        let t = |c: Column| d.db_type(&c).unwrap();
        assert_eq!(t(Column::new("a", DataType::Text)), "STRING");
        assert_eq!(t(Column::new("a", DataType::Text).with_precision(10)), "STRING(10)");
        assert_eq!(t(Column::new("a", DataType::Double)), "FLOAT64");
        assert_eq!(t(Column::new("a", DataType::Bool)), "BOOL");
        assert_eq!(t(Column::new("a", DataType::Bigint).with_precision(16)), "INT64");
        assert!(d.db_type(&Column::new("a", DataType::Bigint).with_precision(65)).is_err());
        assert_eq!(t(Column::new("a", DataType::Decimal)), "NUMERIC(38,9)");
        let mut c = Column::new("a", DataType::Decimal);
        c.precision = Some(40);
        c.scale = Some(2);
        assert_eq!(t(c.clone()), "BIGNUMERIC(40,2)");
        c.precision = Some(30);
        c.scale = Some(0);
        assert_eq!(t(c), "BIGNUMERIC(30,0)");
        assert_eq!(t(Column::new("a", DataType::Wei)), "BIGNUMERIC");
        assert_eq!(t(Column::new("a", DataType::Timestamp)), "TIMESTAMP");
        assert_eq!(t(Column::new("a", DataType::Time)), "TIME");
        assert_eq!(t(Column::new("a", DataType::Date)), "DATE");
        assert_eq!(t(Column::new("a", DataType::Binary)), "BYTES");
        assert_eq!(t(Column::new("a", DataType::Json)), "JSON");
        assert_eq!(d.dlt_type_of("INT64", None, None), DataType::Bigint);
        assert_eq!(d.dlt_type_of("NUMERIC(38, 9)", None, None), DataType::Decimal);
        assert_eq!(d.dlt_type_of("BIGNUMERIC", None, None), DataType::Wei);
        assert_eq!(d.dlt_type_of("GEOGRAPHY", None, None), DataType::Text);
    }

    #[test]
    fn backticks_escape() {
        let d = BigQueryDialect;
        assert_eq!(d.quote_identifier("a"), "`a`");
        assert_eq!(d.quote_identifier("a`; DROP TABLE x; --"), "`a\\`; DROP TABLE x; --`");
        assert_eq!(d.quote_identifier("a\\b"), "`a\\\\b`");
    }

    #[test]
    fn partition_and_cluster_clauses() {
        let d = BigQueryDialect;
        let ts = Column::new("ts", DataType::Timestamp).hint("partition");
        let day = Column::new("day", DataType::Date).hint("partition");
        let n = Column::new("n", DataType::Bigint).hint("partition");
        let a = Column::new("a", DataType::Text).hint("cluster");
        let b = Column::new("b", DataType::Bigint).hint("cluster");
        assert_eq!(d.create_table_clauses(&[&ts, &a, &b]).unwrap(), vec!["PARTITION BY DATE(`ts`)", "CLUSTER BY `a`, `b`"]);
        assert_eq!(d.create_table_clauses(&[&day]).unwrap(), vec!["PARTITION BY `day`"]);
        assert_eq!(
            d.create_table_clauses(&[&n]).unwrap(),
            vec!["PARTITION BY RANGE_BUCKET(`n`, GENERATE_ARRAY(-172800000, 691200000, 86400))"]
        );
        assert!(d.create_table_clauses(&[&ts, &day]).is_err());
        assert!(d.create_table_clauses(&[&Column::new("t", DataType::Text).hint("partition")]).is_err());
        assert!(d.create_table_clauses(&[&Column::new("t", DataType::Text)]).unwrap().is_empty());
    }
}
