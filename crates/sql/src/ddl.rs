//! Schema migration: the diff between a schema's tables and what `information_schema`
//! reports, and the `CREATE TABLE` / `ALTER TABLE ... ADD COLUMN` statements for it.
//!
//! Like dlt, only new tables and new columns are applied; type and hint changes of existing
//! columns are ignored. Unlike dlt, columns added to an existing table never get `NOT NULL`
//! (adding a `NOT NULL` column without default fails on a table with rows).

use std::collections::HashMap;

use stevedore_core::Result;
use stevedore_core::schema::{Column, Table};

use crate::dialect::Dialect;

/// The query listing the columns of some tables of one schema. Parameters: `$1` schema name
/// (text), `$2` table names (text[]). Returns `table_name, column_name, data_type,
/// is_nullable, numeric_precision, numeric_scale`.
pub const INFORMATION_SCHEMA_COLUMNS: &str = "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
numeric_precision::bigint, numeric_scale::bigint FROM information_schema.columns \
WHERE table_schema = $1 AND table_name = ANY($2) ORDER BY table_name, ordinal_position";

/// One column as the destination stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageColumn {
    /// Column name.
    pub name: String,
    /// `information_schema.columns.data_type`.
    pub db_type: String,
    /// Nullable.
    pub nullable: bool,
    /// Numeric precision.
    pub precision: Option<i64>,
    /// Numeric scale.
    pub scale: Option<i64>,
}

/// Existing tables of one dataset: table name → column name → column.
pub type StorageTables = HashMap<String, HashMap<String, StorageColumn>>;

/// Complete columns of a table, in schema order.
pub fn complete_columns(t: &Table) -> Vec<&Column> {
    t.columns.values().filter(|c| c.is_complete()).collect()
}

/// The complete columns of `table` missing in the stored table (all of them for a new table).
pub fn table_diff<'t>(table: &'t Table, existing: Option<&HashMap<String, StorageColumn>>) -> Vec<&'t Column> {
    complete_columns(table).into_iter().filter(|c| existing.is_none_or(|e| !e.contains_key(&c.name))).collect()
}

/// `"name" type [hints] [NOT NULL]`.
pub fn column_def(d: &dyn Dialect, col: &Column, not_null: bool, hints: bool) -> Result<String> {
    let mut s = format!("{} {}", d.quote_identifier(&d.casefold(&col.name)), d.db_type(col)?);
    if hints {
        for h in d.column_hints(col) {
            s.push(' ');
            s.push_str(h);
        }
    }
    if not_null && !col.nullable {
        s.push_str(" NOT NULL");
    }
    Ok(s)
}

/// `CREATE TABLE [IF NOT EXISTS] q (\n<defs>)`.
pub fn create_table_sql(d: &dyn Dialect, qualified: &str, cols: &[&Column], if_not_exists: bool, hints: bool) -> Result<String> {
    let defs = cols.iter().map(|c| column_def(d, c, true, hints)).collect::<Result<Vec<_>>>()?;
    let ine = if if_not_exists && d.supports_create_if_not_exists() { "IF NOT EXISTS " } else { "" };
    Ok(format!("CREATE TABLE {ine}{qualified} (\n{}\n)", defs.join(",\n")))
}

/// `ALTER TABLE q\nADD COLUMN <def>,\nADD COLUMN ...` (one statement per column when the
/// dialect cannot add several at once).
pub fn alter_table_sql(d: &dyn Dialect, qualified: &str, cols: &[&Column], hints: bool) -> Result<Vec<String>> {
    let ine = if d.idempotent_migrations() { "IF NOT EXISTS " } else { "" };
    let defs = cols.iter().map(|c| Ok(format!("ADD COLUMN {ine}{}", column_def(d, c, false, hints)?))).collect::<Result<Vec<_>>>()?;
    if defs.is_empty() {
        return Ok(Vec::new());
    }
    if d.alter_add_multi_column() {
        Ok(vec![format!("ALTER TABLE {qualified}\n{}", defs.join(",\n"))])
    } else {
        Ok(defs.into_iter().map(|def| format!("ALTER TABLE {qualified}\n{def}")).collect())
    }
}

/// The statements bringing `tables` of one dataset up to date, given what exists.
/// `qualify` renders a table's qualified name; dlt tables (`_dlt*`) are created with
/// `IF NOT EXISTS` (every table and column, with [`Dialect::idempotent_migrations`]); `hints` renders inline column hints (off for staging tables).
pub fn migration_sql(
    d: &dyn Dialect,
    tables: &[&Table],
    existing: &StorageTables,
    qualify: &dyn Fn(&str) -> String,
    hints: bool,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in tables {
        let stored = existing.get(&t.name);
        let new_cols = table_diff(t, stored);
        if new_cols.is_empty() {
            continue;
        }
        let q = qualify(&t.name);
        match stored {
            None => {
                let mut sql = create_table_sql(d, &q, &new_cols, t.is_dlt_table() || d.idempotent_migrations(), hints)?;
                let constraints = if hints { d.table_constraints(&t.name, &new_cols) } else { Vec::new() };
                if !constraints.is_empty()
                    && let Some(body) = sql.strip_suffix("\n)")
                {
                    sql = format!("{body},\n{}\n)", constraints.join(",\n"));
                }
                for clause in d.create_table_clauses(&new_cols)? {
                    sql.push('\n');
                    sql.push_str(&clause);
                }
                out.push(sql)
            }
            Some(_) => out.extend(alter_table_sql(d, &q, &new_cols, hints)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::PostgresDialect;
    use stevedore_core::schema::{DataType, loads_table};

    fn q(t: &str) -> String {
        format!("\"ds\".\"{t}\"")
    }

    #[test]
    fn create_and_alter() {
        let d = PostgresDialect::default();
        let mut t = Table::new("items");
        t.add_column(Column::new("id", DataType::Bigint).not_null());
        t.add_column(Column::new("name", DataType::Text));
        t.add_column(Column::new("_dlt_id", DataType::Text).not_null().hint("unique"));
        t.add_column(Column::incomplete("later"));
        let sql = migration_sql(&d, &[&t], &StorageTables::new(), &q, true).unwrap();
        assert_eq!(
            sql,
            vec!["CREATE TABLE \"ds\".\"items\" (\n\"id\" bigint NOT NULL,\n\"name\" varchar,\n\"_dlt_id\" varchar UNIQUE NOT NULL\n)"]
        );
        let sql = migration_sql(&d, &[&t], &StorageTables::new(), &q, false).unwrap();
        assert!(sql[0].contains("\"_dlt_id\" varchar NOT NULL"));

        let mut existing = StorageTables::new();
        let cols = ["id", "_dlt_id"]
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    StorageColumn { name: n.to_string(), db_type: "bigint".into(), nullable: false, precision: None, scale: None },
                )
            })
            .collect();
        existing.insert("items".into(), cols);
        t.add_column(Column::new("flag", DataType::Bool).not_null());
        let sql = migration_sql(&d, &[&t], &existing, &q, true).unwrap();
        assert_eq!(sql, vec!["ALTER TABLE \"ds\".\"items\"\nADD COLUMN \"name\" varchar,\nADD COLUMN \"flag\" boolean"]);
    }

    #[test]
    fn dlt_tables_if_not_exists() {
        let d = PostgresDialect::default();
        let t = loads_table();
        let sql = migration_sql(&d, &[&t], &StorageTables::new(), &q, true).unwrap();
        assert_eq!(
            sql[0],
            "CREATE TABLE IF NOT EXISTS \"ds\".\"_dlt_loads\" (\n\"load_id\" varchar(64) NOT NULL,\n\"schema_name\" varchar,\n\"status\" bigint NOT NULL,\n\"inserted_at\" timestamp with time zone NOT NULL,\n\"schema_version_hash\" varchar\n)"
        );
    }

    #[test]
    fn hostile_names_are_quoted() {
        let d = PostgresDialect::default();
        let mut t = Table::new("x\"; DROP SCHEMA public; --");
        t.add_column(Column::new("sel\"ect", DataType::Text));
        let qq = |n: &str| format!("{}.{}", d.quote_identifier("d s"), d.quote_identifier(n));
        let sql = migration_sql(&d, &[&t], &StorageTables::new(), &qq, true).unwrap();
        assert_eq!(sql[0], "CREATE TABLE \"d s\".\"x\"\"; DROP SCHEMA public; --\" (\n\"sel\"\"ect\" varchar\n)");
    }
}
