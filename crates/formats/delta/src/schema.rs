//! The Arrow schema a table's rows get in Delta, and the checks done before any commit:
//! partition columns present, types compatible with an existing table.

use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use stevedore_core::schema::Table;
use stevedore_core::{Error, ErrorKind, Result};

/// The Arrow schema of the table's job files (dlt's types, complete columns, in order).
pub(crate) fn native_schema(table: &Table) -> SchemaRef {
    crate::source::plain(&stevedore_core::normalize::table_arrow_schema(table))
}

/// The type a column takes in Delta: Delta has no time type (dlt writes times as strings
/// there too), no unsigned integers, no null type.
pub(crate) fn delta_type(t: &DataType) -> DataType {
    match t {
        DataType::Time32(_) | DataType::Time64(_) | DataType::Null | DataType::Decimal256(_, _) => DataType::Utf8,
        DataType::UInt8 | DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Date64 => DataType::Date32,
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => DataType::Binary,
        DataType::Dictionary(_, v) => delta_type(v),
        other => other.clone(),
    }
}

/// `schema` with Delta types.
pub(crate) fn delta_schema(schema: &ArrowSchema) -> SchemaRef {
    Arc::new(ArrowSchema::new(
        schema.fields().iter().map(|f| Field::new(f.name(), delta_type(f.data_type()), f.is_nullable())).collect::<Vec<_>>(),
    ))
}

/// Every `partition` column is in the data (`schema`); else an error naming table and column.
pub(crate) fn check_partition_columns(table: &Table, schema: &ArrowSchema) -> Result<()> {
    for c in table.columns_with_hint("partition") {
        if schema.field_with_name(&c.name).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("partition column `{}` of Delta table `{}` is not in the data", c.name, table.name),
            )
            .with("table", table.name.clone())
            .with("column", c.name.clone())
            .with_hint("a partition column must have values (and a type) in every load; fix the `partition` hint or the data"));
        }
    }
    Ok(())
}

/// Types compared loosely: string and binary encodings and time-zone names do not matter.
fn same_type(a: &DataType, b: &DataType) -> bool {
    let norm = |t: &DataType| match delta_type(t) {
        DataType::Timestamp(u, Some(_)) => DataType::Timestamp(u, Some("UTC".into())),
        other => other,
    };
    match (norm(a), norm(b)) {
        (DataType::List(x), DataType::List(y))
        | (DataType::LargeList(x), DataType::List(y))
        | (DataType::List(x), DataType::LargeList(y)) => same_type(x.data_type(), y.data_type()),
        (DataType::Struct(x), DataType::Struct(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| p.name() == q.name() && same_type(p.data_type(), q.data_type()))
        }
        (x, y) => x == y,
    }
}

/// Whether the rows (`data`, Delta types) can go into the existing Delta table: every column
/// both have is of the same type, the table's required columns are in the data, and the
/// `partition` hints (when given) match the table's partitioning. Errors name table and column.
pub(crate) fn check_compatible(name: &str, delta: &DeltaTable, data: &ArrowSchema, table: &Table) -> Result<()> {
    let state = delta.snapshot().map_err(|e| Error::new(ErrorKind::Destination, format!("cannot read Delta table `{name}`: {e}")))?;
    let existing = state.snapshot().arrow_schema();
    for f in data.fields() {
        let Ok(t) = existing.field_with_name(f.name()) else { continue };
        if !same_type(t.data_type(), f.data_type()) {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "column `{}` of Delta table `{name}` is {} in the table but {} in the data; Delta cannot change a column's type",
                    f.name(),
                    t.data_type(),
                    f.data_type()
                ),
            )
            .with("table", name.to_string())
            .with("column", f.name().clone())
            .with_hint("nothing was committed; load the column under another name, or rewrite the table (write disposition replace) in a new location"));
        }
    }
    for t in existing.fields() {
        if !t.is_nullable() && data.field_with_name(t.name()).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("column `{}` of Delta table `{name}` is NOT NULL in the table but missing from the data", t.name()),
            )
            .with("table", name.to_string())
            .with("column", t.name().clone()));
        }
    }
    let hinted: Vec<String> = table.columns_with_hint("partition").into_iter().map(|c| c.name.clone()).collect();
    let actual: Vec<String> = state.metadata().partition_columns().to_vec();
    if !hinted.is_empty() && hinted != actual {
        let col = hinted.iter().find(|h| !actual.contains(h)).or_else(|| actual.first()).cloned().unwrap_or_default();
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "Delta table `{name}` is partitioned by [{}] but the partition hint asks for [{}]; partitioning cannot change",
                actual.join(", "),
                hinted.join(", ")
            ),
        )
        .with("table", name.to_string())
        .with("column", col)
        .with_hint("keep the table's partition columns, or write the table to a new location"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_types() {
        assert_eq!(delta_type(&DataType::Time64(TimeUnit::Microsecond)), DataType::Utf8);
        assert_eq!(delta_type(&DataType::Int64), DataType::Int64);
        assert!(same_type(&DataType::Utf8View, &DataType::Utf8));
        assert!(same_type(
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
        ));
        assert!(!same_type(
            &DataType::Timestamp(TimeUnit::Microsecond, None),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        ));
        assert!(!same_type(&DataType::Int32, &DataType::Int64));
    }
}
