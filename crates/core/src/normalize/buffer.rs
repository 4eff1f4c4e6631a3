//! Typed, columnar row buffers: one Arrow builder per column, values appended straight from
//! the parsed input (no per-row maps). Columns that a row does not set are padded with nulls.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema, TimeUnit};

use crate::error::{Error, Result};
use crate::schema::{Column, DataType};

/// Arrow field metadata key that marks a Utf8 column holding serialized JSON.
pub const DATA_TYPE_META: &str = "stevedore.data_type";

/// Default decimal precision and scale (dlt's `decimal(38,9)`).
pub const DEFAULT_DECIMAL: (u8, i8) = (38, 9);

/// The Arrow type dlt writes for a column.
pub fn arrow_type(col: &Column) -> ArrowType {
    match col.data_type.unwrap_or(DataType::Text) {
        DataType::Text | DataType::Json => ArrowType::Utf8,
        DataType::Double => ArrowType::Float64,
        DataType::Bool => ArrowType::Boolean,
        DataType::Timestamp => {
            let tz = if col.timezone == Some(false) { None } else { Some(Arc::from("UTC")) };
            ArrowType::Timestamp(TimeUnit::Microsecond, tz)
        }
        DataType::Bigint => ArrowType::Int64,
        DataType::Binary => ArrowType::Binary,
        DataType::Decimal => {
            let (p, s) = decimal_ps(col);
            ArrowType::Decimal128(p, s)
        }
        DataType::Wei => ArrowType::Decimal128(38, 0),
        DataType::Date => ArrowType::Date32,
        DataType::Time => ArrowType::Time64(TimeUnit::Microsecond),
    }
}

/// Precision and scale of a decimal column.
pub fn decimal_ps(col: &Column) -> (u8, i8) {
    match (col.precision, col.scale) {
        (Some(p), Some(s)) => (p.min(38) as u8, s.min(38) as i8),
        (Some(p), None) => (p.min(38) as u8, 0),
        _ => DEFAULT_DECIMAL,
    }
}

/// The Arrow field for a column.
pub fn arrow_field(col: &Column) -> Field {
    let f = Field::new(&col.name, arrow_type(col), col.nullable);
    if col.data_type == Some(DataType::Json) {
        f.with_metadata(HashMap::from([(DATA_TYPE_META.to_string(), "json".to_string())]))
    } else {
        f
    }
}

/// One column's builder.
pub enum ColBuf {
    /// text and json
    Str(StringBuilder),
    /// bigint
    I64(Int64Builder),
    /// double
    F64(Float64Builder),
    /// bool
    Bool(BooleanBuilder),
    /// timestamp (µs)
    Ts(TimestampMicrosecondBuilder),
    /// date
    Date(Date32Builder),
    /// time (µs)
    Time(Time64MicrosecondBuilder),
    /// decimal / wei, with precision and scale
    Dec(Decimal128Builder, u8, i8),
    /// binary
    Bin(BinaryBuilder),
}

impl ColBuf {
    fn new(col: &Column, cap: usize) -> Result<ColBuf> {
        Ok(match col.data_type.unwrap_or(DataType::Text) {
            DataType::Text | DataType::Json => ColBuf::Str(StringBuilder::with_capacity(cap, cap * 16)),
            DataType::Bigint => ColBuf::I64(Int64Builder::with_capacity(cap)),
            DataType::Double => ColBuf::F64(Float64Builder::with_capacity(cap)),
            DataType::Bool => ColBuf::Bool(BooleanBuilder::with_capacity(cap)),
            DataType::Timestamp => {
                let b = TimestampMicrosecondBuilder::with_capacity(cap);
                ColBuf::Ts(if col.timezone == Some(false) { b } else { b.with_timezone("UTC") })
            }
            DataType::Date => ColBuf::Date(Date32Builder::with_capacity(cap)),
            DataType::Time => ColBuf::Time(Time64MicrosecondBuilder::with_capacity(cap)),
            DataType::Decimal | DataType::Wei => {
                let (p, s) = if col.data_type == Some(DataType::Wei) { (38, 0) } else { decimal_ps(col) };
                ColBuf::Dec(Decimal128Builder::with_capacity(cap).with_precision_and_scale(p, s)?, p, s)
            }
            DataType::Binary => ColBuf::Bin(BinaryBuilder::with_capacity(cap, cap * 16)),
        })
    }

    /// Number of values appended.
    pub fn len(&self) -> usize {
        match self {
            ColBuf::Str(b) => b.len(),
            ColBuf::I64(b) => b.len(),
            ColBuf::F64(b) => b.len(),
            ColBuf::Bool(b) => b.len(),
            ColBuf::Ts(b) => b.len(),
            ColBuf::Date(b) => b.len(),
            ColBuf::Time(b) => b.len(),
            ColBuf::Dec(b, ..) => b.len(),
            ColBuf::Bin(b) => b.len(),
        }
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn append_nulls(&mut self, n: usize) {
        match self {
            ColBuf::Str(b) => b.append_nulls(n),
            ColBuf::I64(b) => b.append_nulls(n),
            ColBuf::F64(b) => b.append_nulls(n),
            ColBuf::Bool(b) => b.append_nulls(n),
            ColBuf::Ts(b) => b.append_nulls(n),
            ColBuf::Date(b) => b.append_nulls(n),
            ColBuf::Time(b) => b.append_nulls(n),
            ColBuf::Dec(b, ..) => b.append_nulls(n),
            ColBuf::Bin(b) => b.append_nulls(n),
        }
    }

    /// The values as an array; the builder starts over with the capacity this batch
    /// needed (Arrow's `finish` hands its buffers to the array and leaves empty ones, which
    /// would grow again by doubling, copying and faulting in pages, batch after batch).
    fn finish(&mut self) -> ArrayRef {
        let n = self.len();
        match self {
            ColBuf::Str(b) => {
                let bytes = b.values_slice().len();
                let a = b.finish();
                *b = StringBuilder::with_capacity(n, bytes);
                Arc::new(a)
            }
            ColBuf::I64(b) => {
                let a = b.finish();
                *b = Int64Builder::with_capacity(n);
                Arc::new(a)
            }
            ColBuf::F64(b) => {
                let a = b.finish();
                *b = Float64Builder::with_capacity(n);
                Arc::new(a)
            }
            ColBuf::Bool(b) => Arc::new(b.finish()),
            ColBuf::Ts(b) => ArrayBuilder::finish(b),
            ColBuf::Date(b) => Arc::new(b.finish()),
            ColBuf::Time(b) => Arc::new(b.finish()),
            ColBuf::Dec(b, ..) => ArrayBuilder::finish(b),
            ColBuf::Bin(b) => {
                let bytes = b.values_slice().len();
                let a = b.finish();
                *b = BinaryBuilder::with_capacity(n, bytes);
                Arc::new(a)
            }
        }
    }

    fn bytes_estimate(&self) -> usize {
        match self {
            ColBuf::Str(b) => b.values_slice().len() + b.len() * 4,
            ColBuf::Bin(b) => b.values_slice().len() + b.len() * 4,
            ColBuf::Dec(..) => self.len() * 16,
            _ => self.len() * 8,
        }
    }
}

/// A column slot of a [`TableBuffer`].
pub struct Slot {
    /// The column definition (name, type, nullability) the builder was made for.
    pub column: Column,
    /// The builder.
    pub buf: ColBuf,
}

/// The rows of one table not yet written, column by column.
pub struct TableBuffer {
    slots: Vec<Slot>,
    rows: usize,
    capacity: usize,
    schema: Option<Arc<ArrowSchema>>,
}

impl TableBuffer {
    /// An empty buffer; `capacity` rows are preallocated per column.
    pub fn new(capacity: usize) -> Self {
        TableBuffer { slots: Vec::new(), rows: 0, capacity, schema: None }
    }
    /// Rows buffered.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }
    /// Adds a column (padded with nulls for the rows already buffered); returns its index.
    pub fn add_column(&mut self, col: &Column) -> Result<usize> {
        let mut buf = ColBuf::new(col, self.capacity)?;
        buf.append_nulls(self.rows);
        self.slots.push(Slot { column: col.clone(), buf });
        self.schema = None;
        Ok(self.slots.len() - 1)
    }
    /// The builder of column `idx`, padded so the next append lands in the current row.
    /// Returns None when the column already has a value in the current row.
    #[inline]
    pub fn cell(&mut self, idx: usize) -> Option<&mut ColBuf> {
        let rows = self.rows;
        let slot = &mut self.slots[idx];
        let len = slot.buf.len();
        if len > rows {
            return None;
        }
        if len < rows {
            slot.buf.append_nulls(rows - len);
        }
        Some(&mut slot.buf)
    }
    /// Closes the current row.
    #[inline]
    pub fn end_row(&mut self) {
        self.rows += 1;
    }
    /// Rough size of buffered data in bytes.
    pub fn bytes_estimate(&self) -> usize {
        self.slots.iter().map(|s| s.buf.bytes_estimate()).sum()
    }
    /// The Arrow schema of the buffered columns.
    pub fn arrow_schema(&mut self) -> Arc<ArrowSchema> {
        if let Some(s) = &self.schema {
            return s.clone();
        }
        let s = Arc::new(ArrowSchema::new(self.slots.iter().map(|s| arrow_field(&s.column)).collect::<Vec<_>>()));
        self.schema = Some(s.clone());
        s
    }
    /// Takes the buffered rows as a record batch and empties the buffer (columns stay).
    pub fn take_batch(&mut self) -> Result<RecordBatch> {
        let rows = self.rows;
        let schema = self.arrow_schema();
        let mut arrays = Vec::with_capacity(self.slots.len());
        for s in &mut self.slots {
            let len = s.buf.len();
            if len < rows {
                s.buf.append_nulls(rows - len);
            }
            arrays.push(s.buf.finish());
        }
        self.rows = 0;
        let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(schema, arrays, &opts).map_err(|e| {
            Error::internal(format!("building a record batch failed: {e}"))
                .with_hint("a non-nullable column received a null; please report this")
        })
    }
}
