//! dlt's system tables in a SQL dataset: the load marker, the schema versions and the stored
//! pipeline state. Statements take bind parameters rendered by `param(n)` (`$1` in postgres).

use stevedore_core::schema::{LOADS_TABLE, STATE_TABLE, VERSION_TABLE};

use crate::jobs::Names;

/// `INSERT INTO _dlt_loads(load_id, schema_name, status, inserted_at, schema_version_hash)`
/// with parameters load id, schema name, inserted_at (timestamptz), version hash; status 0.
pub fn insert_load_sql(names: &Names<'_>, param: &dyn Fn(usize) -> String) -> String {
    let c = |s: &str| names.ident(s);
    format!(
        "INSERT INTO {}({}, {}, {}, {}, {}) VALUES ({}, {}, 0, {}, {})",
        names.final_table(LOADS_TABLE),
        c("load_id"),
        c("schema_name"),
        c("status"),
        c("inserted_at"),
        c("schema_version_hash"),
        param(1),
        param(2),
        param(3),
        param(4)
    )
}

/// `INSERT INTO _dlt_version(version, engine_version, inserted_at, schema_name, version_hash, schema)`
/// with parameters in that order. `staging` selects the staging dataset's `_dlt_version`.
pub fn insert_version_sql(names: &Names<'_>, staging: bool, param: &dyn Fn(usize) -> String) -> String {
    let c = |s: &str| names.ident(s);
    let t = if staging { names.staging_table(VERSION_TABLE) } else { names.final_table(VERSION_TABLE) };
    format!(
        "INSERT INTO {t}({}, {}, {}, {}, {}, {}) VALUES ({}, {}, {}, {}, {}, {})",
        c("version"),
        c("engine_version"),
        c("inserted_at"),
        c("schema_name"),
        c("version_hash"),
        c("schema"),
        param(1),
        param(2),
        param(3),
        param(4),
        param(5),
        param(6)
    )
}

/// Whether a schema version is stored: one parameter, the version hash.
pub fn version_exists_sql(names: &Names<'_>, staging: bool, param: &dyn Fn(usize) -> String) -> String {
    let t = if staging { names.staging_table(VERSION_TABLE) } else { names.final_table(VERSION_TABLE) };
    format!("SELECT 1 FROM {t} WHERE {} = {} LIMIT 1", names.ident("version_hash"), param(1))
}

/// Whether a load marker exists: one parameter, the load id.
pub fn load_exists_sql(names: &Names<'_>, param: &dyn Fn(usize) -> String) -> String {
    format!("SELECT 1 FROM {} WHERE {} = {} LIMIT 1", names.final_table(LOADS_TABLE), names.ident("load_id"), param(1))
}

/// The newest state of a pipeline stored by a completed load (dlt's query): one parameter,
/// the pipeline name. Returns `version, engine_version, pipeline_name, state, created_at, _dlt_load_id`.
pub fn stored_state_sql(names: &Names<'_>, param: &dyn Fn(usize) -> String) -> String {
    let c = |s: &str| names.ident(s);
    format!(
        "SELECT s.{v}, s.{ev}, s.{pn}, s.{st}, s.{ca}, s.{lid} FROM {state} AS s JOIN {loads} AS l ON l.{load_id} = s.{lid} \
WHERE s.{pn} = {p} AND l.{status} = 0 ORDER BY s.{lid} DESC LIMIT 1",
        v = c("version"),
        ev = c("engine_version"),
        pn = c("pipeline_name"),
        st = c("state"),
        ca = c("created_at"),
        lid = c("_dlt_load_id"),
        load_id = c("load_id"),
        status = c("status"),
        state = names.final_table(STATE_TABLE),
        loads = names.final_table(LOADS_TABLE),
        p = param(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::PostgresDialect;

    #[test]
    fn system_statements() {
        let d = PostgresDialect::default();
        let n = Names::new(&d, "ds", "ds_staging");
        let p = |i: usize| format!("${i}");
        assert_eq!(
            insert_load_sql(&n, &p),
            r#"INSERT INTO "ds"."_dlt_loads"("load_id", "schema_name", "status", "inserted_at", "schema_version_hash") VALUES ($1, $2, 0, $3, $4)"#
        );
        assert!(insert_version_sql(&n, true, &p).starts_with(r#"INSERT INTO "ds_staging"."_dlt_version"("version""#));
        assert_eq!(
            stored_state_sql(&n, &p),
            r#"SELECT s."version", s."engine_version", s."pipeline_name", s."state", s."created_at", s."_dlt_load_id" FROM "ds"."_dlt_pipeline_state" AS s JOIN "ds"."_dlt_loads" AS l ON l."load_id" = s."_dlt_load_id" WHERE s."pipeline_name" = $1 AND l."status" = 0 ORDER BY s."_dlt_load_id" DESC LIMIT 1"#
        );
    }
}
