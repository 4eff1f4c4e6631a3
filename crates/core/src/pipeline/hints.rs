//! Resource hints applied to the schema before normalizing (write disposition, keys, columns, table format).

use super::*;

pub(super) fn apply_hints(
    schema: &mut Schema,
    table: &str,
    resource: &str,
    h: &crate::source::TableHints,
    naming: &dyn NamingConvention,
) -> Result<()> {
    let mut t = Table::new(table);
    t.resource = Some(resource.to_string());
    t.write_disposition =
        h.write_disposition.or_else(|| schema.table(table).and_then(|t| t.write_disposition)).or(Some(WriteDisposition::Append));
    t.table_format = h.table_format;
    t.file_format = h.file_format.map(|f| f.extension().to_string());
    if let Some(s) = h.merge_strategy {
        t.extra.insert("x-merge-strategy".into(), json!(s.as_str()));
    }
    if let Some(m) = h.max_nesting {
        t.extra.insert("x-normalizer".into(), json!({"max_nesting": m}));
    }
    for c in &h.columns {
        let mut c = c.clone();
        c.name = naming.normalize_path(&c.name);
        t.add_column(c);
    }
    if h.merge_strategy == Some(crate::schema::MergeStrategy::Scd2) {
        let o = h.scd2.clone().unwrap_or_default();
        let (from, to) = o.validity_column_names.clone().unwrap_or_else(|| ("_dlt_valid_from".into(), "_dlt_valid_to".into()));
        for (name, key) in [(from, "x-valid-from"), (to, "x-valid-to")] {
            let mut c = Column::new(naming.normalize_path(&name), crate::schema::DataType::Timestamp);
            c.extra.insert(key.into(), json!(true));
            t.add_column(c);
        }
        let rv =
            o.row_version_column_name.as_deref().map(|n| naming.normalize_path(n)).unwrap_or_else(|| crate::schema::C_DLT_ID.to_string());
        let mut c = Column::incomplete(rv);
        c.extra.insert("x-row-version".into(), json!(true));
        t.add_column(c);
        if let Some(a) = &o.active_record_timestamp {
            t.extra.insert("x-active-record-timestamp".into(), json!(a));
        }
        if let Some(b) = &o.boundary_timestamp {
            t.extra.insert("x-boundary-timestamp".into(), json!(b));
        }
    }
    for k in &h.primary_key {
        t.add_column(Column::incomplete(naming.normalize_path(k)).hint("primary_key").not_null());
    }
    for k in &h.merge_key {
        t.add_column(Column::incomplete(naming.normalize_path(k)).hint("merge_key"));
    }
    if let Some(existing) = schema.table(table) {
        if existing.is_nested() {
            return Err(Error::new(ErrorKind::Schema, format!("table `{table}` is a nested table and cannot take resource rows"))
                .with_hint("choose another table name"));
        }
        // re-declared keys replace the old ones
        let mut ex = existing.clone();
        for hint in ["primary_key", "merge_key"] {
            if t.columns.values().any(|c| c.hints.get(hint) == Some(true)) {
                for c in ex.columns.values_mut() {
                    c.hints.set(hint, false);
                }
            }
        }
        schema.tables.insert(table.to_string(), ex);
    }
    schema.update_table(t)
}
