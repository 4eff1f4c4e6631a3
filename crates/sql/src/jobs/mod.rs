//! SQL of the followup jobs: replace from the staging dataset and every merge strategy.
//!
//! All generators take a [`TableChain`] (the root table and its nested tables, root first)
//! and return statements meant to run **in one transaction** (the destination does that), so
//! the final tables go from their old content to the new one at once.

use chrono::{DateTime, Utc};
use stevedore_core::naming::shorten_identifier;
use stevedore_core::schema::{C_DLT_ID, Column, DataType, MergeStrategy, ReplaceStrategy, Schema, SortOrder, Table};
use stevedore_core::{Error, ErrorKind, Result};

use crate::ddl::complete_columns;
use crate::dialect::Dialect;

/// Qualified names of one dataset and its staging dataset.
#[derive(Debug, Clone)]
pub struct Names<'a> {
    /// The dialect quoting the names.
    pub dialect: &'a dyn Dialect,
    /// Final dataset (schema) name, unquoted.
    pub dataset: String,
    /// Staging dataset name, unquoted.
    pub staging_dataset: String,
}

impl<'a> Names<'a> {
    /// Names for `dataset` and `staging_dataset`.
    pub fn new(dialect: &'a dyn Dialect, dataset: &str, staging_dataset: &str) -> Self {
        Names { dialect, dataset: dataset.into(), staging_dataset: staging_dataset.into() }
    }
    /// A quoted identifier.
    pub fn ident(&self, s: &str) -> String {
        self.dialect.quote_identifier(&self.dialect.casefold(s))
    }
    /// The quoted final dataset.
    pub fn final_schema(&self) -> String {
        self.ident(&self.dataset)
    }
    /// The quoted staging dataset.
    pub fn staging_schema(&self) -> String {
        self.ident(&self.staging_dataset)
    }
    /// `"dataset"."table"`.
    pub fn final_table(&self, t: &str) -> String {
        format!("{}.{}", self.final_schema(), self.ident(t))
    }
    /// `"staging"."table"`.
    pub fn staging_table(&self, t: &str) -> String {
        format!("{}.{}", self.staging_schema(), self.ident(t))
    }
    fn cols(&self, cols: &[&Column], prefix: &str) -> String {
        cols.iter().map(|c| format!("{prefix}{}", self.ident(&c.name))).collect::<Vec<_>>().join(", ")
    }
}

/// A root table followed by its nested tables (parents before children). Only tables with
/// complete columns take part (a table never created has none).
#[derive(Debug, Clone)]
pub struct TableChain<'a> {
    /// Root first.
    pub tables: Vec<&'a Table>,
}

impl<'a> TableChain<'a> {
    /// The chain of `root` in `schema`; `None` when the root has no complete columns.
    pub fn from_schema(schema: &'a Schema, root: &str) -> Option<Self> {
        let r = schema.table(root)?;
        if !r.has_complete_columns() {
            return None;
        }
        let mut tables = vec![r];
        tables.extend(schema.nested_tables(root).into_iter().filter(|t| t.has_complete_columns()));
        Some(TableChain { tables })
    }
    /// The root table.
    pub fn root(&self) -> &'a Table {
        self.tables[0]
    }
    /// Nested tables.
    pub fn nested(&self) -> &[&'a Table] {
        &self.tables[1..]
    }
}

/// Per-job values of the merge SQL.
#[derive(Debug, Clone)]
pub struct MergeContext {
    /// Unique suffix of temporary tables (dlt: 32 hex chars).
    pub uniq: String,
    /// scd2 boundary timestamp when the table has no `x-boundary-timestamp` (the load
    /// package's creation time).
    pub boundary: DateTime<Utc>,
}

impl MergeContext {
    /// A context with a random suffix.
    pub fn new(boundary: DateTime<Utc>) -> Self {
        MergeContext { uniq: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)), boundary }
    }
}

fn schema_err(msg: String, table: &str) -> Error {
    Error::new(ErrorKind::Schema, msg).with("table", table.to_string())
}

/// How many parents `t` has up to its root.
pub fn nesting_depth(schema: &Schema, t: &Table) -> usize {
    let mut depth = 0;
    let mut cur = t.parent.as_deref();
    while let Some(p) = cur {
        depth += 1;
        cur = schema.table(p).and_then(|t| t.parent.as_deref());
    }
    depth
}

/// Followup SQL of a replace with `insert-from-staging` or `staging-optimized` (or
/// `truncate-and-insert`, which stevedore runs through the staging dataset too so that the
/// final tables change in one transaction).
pub fn replace_sql(names: &Names<'_>, chain: &TableChain<'_>, strategy: ReplaceStrategy) -> Result<Vec<String>> {
    let d = names.dialect;
    let mut out = Vec::new();
    for t in &chain.tables {
        let f = names.final_table(&t.name);
        let s = names.staging_table(&t.name);
        if strategy == ReplaceStrategy::StagingOptimized
            && let Some(stmts) = d.staging_optimized_replace(&f, &s, &names.final_schema(), &names.ident(&t.name))
        {
            out.extend(stmts);
            continue;
        }
        let cols = complete_columns(t);
        let list = names.cols(&cols, "");
        out.push(d.truncate_table(&f));
        out.push(format!("INSERT INTO {f}({list}) SELECT {list} FROM {s}"));
    }
    Ok(out)
}

/// Followup SQL of a merge with `strategy`.
pub fn merge_sql(names: &Names<'_>, chain: &TableChain<'_>, strategy: MergeStrategy, ctx: &MergeContext) -> Result<Vec<String>> {
    match strategy {
        MergeStrategy::DeleteInsert => delete_insert_sql(names, chain, ctx),
        MergeStrategy::Upsert => upsert_sql(names, chain, false),
        MergeStrategy::InsertOnly => upsert_sql(names, chain, true),
        MergeStrategy::Scd2 => scd2_sql(names, chain, ctx),
    }
}

fn single_hint<'t>(t: &'t Table, hint: &str) -> Result<Option<&'t Column>> {
    let cols: Vec<&Column> = if hint == "dedup_sort" {
        t.columns.values().filter(|c| c.dedup_sort.is_some() && c.is_complete()).collect()
    } else {
        t.columns_with_hint(hint).into_iter().filter(|c| c.is_complete()).collect()
    };
    if cols.len() > 1 {
        return Err(schema_err(
            format!("table `{}` has {} columns with the `{hint}` hint; at most one is allowed", t.name, cols.len()),
            &t.name,
        ));
    }
    Ok(cols.into_iter().next())
}

fn row_key(t: &Table) -> Result<&Column> {
    let pick = t
        .columns_with_hint("row_key")
        .into_iter()
        .next()
        .or_else(|| t.columns_with_hint("unique").into_iter().next())
        .or_else(|| {
            let pk = t.columns_with_hint("primary_key");
            if pk.len() == 1 { Some(pk[0]) } else { None }
        })
        .or_else(|| t.columns.get(C_DLT_ID));
    pick.ok_or_else(|| schema_err(format!("table `{}` has no row key column (`_dlt_id`)", t.name), &t.name))
}

fn root_key<'t>(root: &Table, nested: &'t Table) -> Result<&'t Column> {
    if let Some(c) = nested.columns_with_hint("root_key").into_iter().next() {
        return Ok(c);
    }
    if nested.parent.as_deref() == Some(root.name.as_str())
        && let Some(c) = nested.columns_with_hint("parent_key").into_iter().next()
    {
        return Ok(c);
    }
    Err(schema_err(
        format!("nested table `{}` has no root key (`_dlt_root_id`), so merge cannot find its rows of a root row", nested.name),
        &nested.name,
    )
    .with_hint("nested tables get `_dlt_root_id` when the root table is merged from its first load; reload the table with replace once"))
}

fn not_deleted_cond(names: &Names<'_>, hd: Option<&Column>, alias: &str) -> String {
    match hd {
        None => "1 = 1".into(),
        Some(c) => {
            let n = format!("{alias}{}", names.ident(&c.name));
            if c.data_type == Some(DataType::Bool) { format!("{n} IS NULL OR {n} = FALSE") } else { format!("{n} IS NULL") }
        }
    }
}

fn deleted_cond(names: &Names<'_>, c: &Column, alias: &str) -> String {
    let n = format!("{alias}{}", names.ident(&c.name));
    if c.data_type == Some(DataType::Bool) { format!("{n} = TRUE") } else { format!("{n} IS NOT NULL") }
}

fn key_clause(names: &Names<'_>, keys: &[&Column], left: &str, right: &str) -> String {
    keys.iter()
        .map(|k| {
            let n = names.ident(&k.name);
            format!("{left}.{n} = {right}.{n}")
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn stage_deduplicated(t: &Table) -> bool {
    t.extra.get("x-stage-data-deduplicated").and_then(serde_json::Value::as_bool).unwrap_or(false)
}

/// `SELECT <select_cols> FROM (SELECT ROW_NUMBER() OVER (partition BY pk ORDER BY sort) AS
/// _dlt_dedup_rn, <cols> FROM staging) AS _dlt_dedup_numbered WHERE _dlt_dedup_rn = 1 AND (cond)`.
fn dedup_select(
    names: &Names<'_>,
    staging: &str,
    pk: &[&Column],
    sort: Option<&Column>,
    cols: &[&Column],
    select_cols: &str,
    cond: &str,
) -> String {
    let order = match sort {
        Some(c) => {
            let dir = if c.dedup_sort == Some(SortOrder::Asc) { "ASC" } else { "DESC" };
            format!("{} {dir}", names.ident(&c.name))
        }
        None => "(SELECT NULL)".into(),
    };
    format!(
        "SELECT {select_cols} FROM (SELECT ROW_NUMBER() OVER (partition BY {} ORDER BY {order}) AS _dlt_dedup_rn, {} FROM {staging}) AS _dlt_dedup_numbered WHERE _dlt_dedup_rn = 1 AND ({cond})",
        names.cols(pk, ""),
        names.cols(cols, ""),
    )
}

fn temp_name(names: &Names<'_>, table: &str, op: &str, uniq: &str) -> String {
    let raw = format!("{table}_{op}_{uniq}");
    names.ident(&shorten_identifier(&raw, &raw, names.dialect.max_identifier_length()))
}

fn delete_insert_sql(names: &Names<'_>, chain: &TableChain<'_>, ctx: &MergeContext) -> Result<Vec<String>> {
    let d = names.dialect;
    let root = chain.root();
    let rf = names.final_table(&root.name);
    let rs = names.staging_table(&root.name);
    let pk: Vec<&Column> = root.columns_with_hint("primary_key").into_iter().filter(|c| c.is_complete()).collect();
    let mk: Vec<&Column> = root.columns_with_hint("merge_key").into_iter().filter(|c| c.is_complete()).collect();
    let hd = single_hint(root, "hard_delete")?;
    let sort = single_hint(root, "dedup_sort")?;
    let dedup = !pk.is_empty() && !stage_deduplicated(root);
    let cond = not_deleted_cond(names, hd, "");
    let rk = row_key(root)?;
    let rk_q = names.ident(&rk.name);
    let mut out = Vec::new();

    // deletes
    if !pk.is_empty() || !mk.is_empty() {
        let clauses_with = |left: &str| -> Vec<String> {
            let mut c = Vec::new();
            if !pk.is_empty() {
                c.push(key_clause(names, &pk, left, "s"));
            }
            if !mk.is_empty() {
                c.push(key_clause(names, &mk, left, "s"));
            }
            c
        };
        let groups = |left: &str| -> Vec<String> {
            let c = clauses_with(left);
            if d.split_key_clauses() { c } else { vec![c.join(" OR ")] }
        };
        if chain.nested().is_empty() {
            let (target, left) = if d.delete_alias_allowed() { (format!("{rf} AS d"), "d".to_string()) } else { (rf.clone(), rf.clone()) };
            for g in groups(&left) {
                out.push(format!("DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {rs} AS s WHERE {g})"));
            }
        } else {
            let temp = temp_name(names, &root.name, "delete", &ctx.uniq);
            for (i, g) in groups("d").into_iter().enumerate() {
                let select = format!("SELECT d.{rk_q} FROM {rf} AS d WHERE EXISTS (SELECT 1 FROM {rs} AS s WHERE {g})");
                if i == 0 {
                    out.push(d.create_temp_table_as(&temp, &select));
                } else {
                    out.push(format!("INSERT INTO {temp} {select}"));
                }
            }
            for n in chain.nested() {
                let rkey = root_key(root, n)?;
                out.push(format!("DELETE FROM {} WHERE {} IN (SELECT * FROM {temp})", names.final_table(&n.name), names.ident(&rkey.name)));
            }
            out.push(format!("DELETE FROM {rf} WHERE {rk_q} IN (SELECT * FROM {temp})"));
        }
    }

    // inserts
    let rcols = complete_columns(root);
    let rlist = names.cols(&rcols, "");
    if chain.nested().is_empty() {
        if dedup {
            out.push(format!("INSERT INTO {rf}({rlist}) {}", dedup_select(names, &rs, &pk, sort, &rcols, &rlist, &cond)));
        } else {
            out.push(format!("INSERT INTO {rf}({rlist}) SELECT {rlist} FROM {rs} WHERE {cond}"));
        }
        return Ok(out);
    }
    if dedup || hd.is_some() {
        let temp = temp_name(names, &root.name, "insert", &ctx.uniq);
        let select =
            if dedup { dedup_select(names, &rs, &pk, sort, &rcols, &rk_q, &cond) } else { format!("SELECT {rk_q} FROM {rs} WHERE {cond}") };
        out.push(d.create_temp_table_as(&temp, &select));
        out.push(format!("INSERT INTO {rf}({rlist}) SELECT {rlist} FROM {rs} WHERE {rk_q} IN (SELECT * FROM {temp})"));
        for n in chain.nested() {
            let rkey = root_key(root, n)?;
            let ncols = complete_columns(n);
            let nlist = names.cols(&ncols, "");
            out.push(format!(
                "INSERT INTO {}({nlist}) SELECT {nlist} FROM {} WHERE {} IN (SELECT * FROM {temp})",
                names.final_table(&n.name),
                names.staging_table(&n.name),
                names.ident(&rkey.name)
            ));
        }
    } else {
        out.push(format!("INSERT INTO {rf}({rlist}) SELECT {rlist} FROM {rs} WHERE {cond}"));
        for n in chain.nested() {
            let ncols = complete_columns(n);
            let nlist = names.cols(&ncols, "");
            out.push(format!("INSERT INTO {}({nlist}) SELECT {nlist} FROM {}", names.final_table(&n.name), names.staging_table(&n.name)));
        }
    }
    Ok(out)
}

fn upsert_sql(names: &Names<'_>, chain: &TableChain<'_>, insert_only: bool) -> Result<Vec<String>> {
    let d = names.dialect;
    let root = chain.root();
    let strategy = if insert_only { "insert-only" } else { "upsert" };
    if !d.supports_merge() {
        return Err(Error::new(ErrorKind::Unsupported, format!("{} has no MERGE statement for `{strategy}`", d.name()))
            .with("table", root.name.clone()));
    }
    let pk: Vec<&Column> = root.columns_with_hint("primary_key").into_iter().filter(|c| c.is_complete()).collect();
    if pk.is_empty() {
        return Err(schema_err(format!("merge strategy `{strategy}` of table `{}` needs a primary key", root.name), &root.name)
            .with_hint("declare primary_key on the resource (CLI: --primary-key COL)"));
    }
    let hd = single_hint(root, "hard_delete")?;
    let sort = single_hint(root, "dedup_sort")?;
    let rf = names.final_table(&root.name);
    let rs = names.staging_table(&root.name);
    let rcols = complete_columns(root);
    let rlist = names.cols(&rcols, "");
    let on = key_clause(names, &pk, "d", "s");
    let sets = rcols.iter().map(|c| format!("{0} = s.{0}", names.ident(&c.name))).collect::<Vec<_>>().join(", ");
    let values = names.cols(&rcols, "s.");
    let mut out = Vec::new();
    // duplicates of a key in one load would make MERGE fail: keep one row per key
    let source =
        if stage_deduplicated(root) { rs.clone() } else { format!("({})", dedup_select(names, &rs, &pk, sort, &rcols, &rlist, "1 = 1")) };
    if insert_only {
        let cond = not_deleted_cond(names, hd, "s.");
        out.push(format!(
            "MERGE INTO {rf} AS d USING {source} AS s ON {on} WHEN NOT MATCHED AND ({cond}) THEN INSERT ({rlist}) VALUES ({values})"
        ));
    } else {
        let mut m = format!("MERGE INTO {rf} AS d USING {source} AS s ON {on}");
        if let Some(h) = hd {
            m.push_str(&format!(" WHEN MATCHED AND ({}) THEN DELETE", deleted_cond(names, h, "s.")));
        }
        m.push_str(&format!(" WHEN MATCHED THEN UPDATE SET {sets}"));
        m.push_str(&format!(" WHEN NOT MATCHED AND ({}) THEN INSERT ({rlist}) VALUES ({values})", not_deleted_cond(names, hd, "s.")));
        out.push(m);
    }
    let rk = row_key(root)?;
    for n in chain.nested() {
        let nf = names.final_table(&n.name);
        let ns = names.staging_table(&n.name);
        let ncols = complete_columns(n);
        let nlist = names.cols(&ncols, "");
        let nvalues = names.cols(&ncols, "s.");
        let nrk = row_key(n)?;
        let nrk_q = names.ident(&nrk.name);
        let on = format!("d.{nrk_q} = s.{nrk_q}");
        if insert_only {
            out.push(format!("MERGE INTO {nf} AS d USING {ns} AS s ON {on} WHEN NOT MATCHED THEN INSERT ({nlist}) VALUES ({nvalues})"));
            continue;
        }
        let nsets = ncols.iter().map(|c| format!("{0} = s.{0}", names.ident(&c.name))).collect::<Vec<_>>().join(", ");
        out.push(format!(
            "MERGE INTO {nf} AS d USING {ns} AS s ON {on} WHEN MATCHED THEN UPDATE SET {nsets} WHEN NOT MATCHED THEN INSERT ({nlist}) VALUES ({nvalues})"
        ));
        let rkey = names.ident(&root_key(root, n)?.name);
        let rk_q = names.ident(&rk.name);
        out.push(format!("DELETE FROM {nf} WHERE {rkey} IN (SELECT {rk_q} FROM {rs}) AND {nrk_q} NOT IN (SELECT {nrk_q} FROM {ns})"));
        if let Some(h) = hd {
            out.push(format!("DELETE FROM {nf} WHERE {rkey} IN (SELECT {rk_q} FROM {rs} WHERE {})", deleted_cond(names, h, "")));
        }
    }
    Ok(out)
}

fn flag(c: &Column, key: &str) -> bool {
    c.extra.get(key).and_then(serde_json::Value::as_bool).unwrap_or(false)
}

fn parse_ts(v: &serde_json::Value, what: &str, table: &str) -> Result<Option<DateTime<Utc>>> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => {
            let us = stevedore_core::time::parse_iso_datetime(s)
                .ok_or_else(|| schema_err(format!("{what} `{s}` of table `{table}` is not an ISO timestamp"), table))?;
            Ok(DateTime::from_timestamp_micros(us))
        }
        other => Err(schema_err(format!("{what} of table `{table}` must be an ISO timestamp string, not {other}"), table)),
    }
}

fn scd2_sql(names: &Names<'_>, chain: &TableChain<'_>, ctx: &MergeContext) -> Result<Vec<String>> {
    let d = names.dialect;
    let root = chain.root();
    let from = root.columns.values().find(|c| flag(c, "x-valid-from"));
    let to = root.columns.values().find(|c| flag(c, "x-valid-to"));
    let (Some(from), Some(to)) = (from, to) else {
        return Err(schema_err(format!("scd2 table `{}` has no validity columns", root.name), &root.name)
            .with_hint("declare the merge strategy scd2 on the resource so the validity columns are added"));
    };
    let hash = root.columns.values().find(|c| flag(c, "x-row-version")).or_else(|| root.columns.get(C_DLT_ID));
    let Some(hash) = hash else {
        return Err(schema_err(format!("scd2 table `{}` has no row version column", root.name), &root.name));
    };
    let boundary = match root.extra.get("x-boundary-timestamp") {
        Some(v) => parse_ts(v, "x-boundary-timestamp", &root.name)?.unwrap_or(ctx.boundary),
        None => ctx.boundary,
    };
    let active = match root.extra.get("x-active-record-timestamp") {
        Some(v) => parse_ts(v, "x-active-record-timestamp", &root.name)?,
        None => None,
    };
    let to_tz = to.timezone != Some(false);
    let from_tz = from.timezone != Some(false);
    let to_q = names.ident(&to.name);
    let from_q = names.ident(&from.name);
    let hash_q = names.ident(&hash.name);
    let active_lit = match active {
        Some(ts) => d.timestamp_literal(ts, to_tz),
        None => "NULL".into(),
    };
    let is_active = match active {
        Some(_) => format!("{to_q} = {active_lit}"),
        None => format!("{to_q} IS NULL"),
    };
    let rf = names.final_table(&root.name);
    let rs = names.staging_table(&root.name);
    let mut out = Vec::new();
    // retire
    let mut retire = format!(
        "UPDATE {rf} SET {to_q} = {} WHERE {is_active} AND {hash_q} NOT IN (SELECT {hash_q} FROM {rs})",
        d.timestamp_literal(boundary, to_tz)
    );
    let mk: Vec<&Column> = root.columns_with_hint("merge_key").into_iter().filter(|c| c.is_complete()).collect();
    if !mk.is_empty() {
        let key =
            if mk.len() == 1 { names.ident(&mk[0].name) } else { d.concat(&mk.iter().map(|c| names.ident(&c.name)).collect::<Vec<_>>()) };
        retire.push_str(&format!(" AND {key} IN (SELECT {key} FROM {rs})"));
    }
    out.push(retire);
    // insert new versions
    let cols: Vec<&Column> = complete_columns(root).into_iter().filter(|c| c.name != from.name && c.name != to.name).collect();
    let list = names.cols(&cols, "");
    out.push(format!(
        "INSERT INTO {rf}({list}, {from_q}, {to_q}) SELECT {list}, {} AS {from_q}, {active_lit} AS {to_q} FROM {rs} AS s WHERE {hash_q} NOT IN (SELECT {hash_q} FROM {rf} WHERE {is_active})",
        d.timestamp_literal(boundary, from_tz)
    ));
    // nested: insert-only
    for n in chain.nested() {
        let ncols = complete_columns(n);
        let nlist = names.cols(&ncols, "");
        let nrk = names.ident(&row_key(n)?.name);
        let nf = names.final_table(&n.name);
        out.push(format!(
            "INSERT INTO {nf}({nlist}) SELECT {nlist} FROM {} WHERE {nrk} NOT IN (SELECT {nrk} FROM {nf})",
            names.staging_table(&n.name)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
