//! Job files → Arrow batches → PostgreSQL binary COPY rows.
//!
//! Parquet files are read as Arrow batches; JSON-lines files (dlt's typed jsonl: ISO
//! timestamps, base64 binary, decimals as strings, raw JSON for `json` columns) are decoded
//! into Arrow batches by the table's column types. Every batch is then encoded in the binary
//! COPY format (`PGCOPY\n\xff\r\n\0`, per row a field count and length-prefixed values)
//! without a per-value `ToSql` dispatch. A value that does not fit its column fails the job
//! naming the table, the column and the value.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, Time64MicrosecondType, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema, TimeUnit};
use base64::Engine as _;
use bytes::{BufMut, BytesMut};
use stevedore_core::schema::{Column, DataType};
use stevedore_core::{Error, ErrorKind, Result};

/// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_US: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Rows per Arrow batch decoded from jsonl.
pub const JSONL_BATCH_ROWS: usize = 8_192;

/// How a column is written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgKind {
    Int2,
    Int4,
    Int8,
    Float8,
    Bool,
    Text,
    Numeric,
    Timestamp,
    Date,
    Time,
    Bytea,
    Jsonb,
}

/// The wire kind of a schema column (must match `PostgresDialect::db_type`).
pub fn pg_kind(col: &Column) -> PgKind {
    match col.data_type.unwrap_or(DataType::Text) {
        DataType::Text => PgKind::Text,
        DataType::Double => PgKind::Float8,
        DataType::Bool => PgKind::Bool,
        DataType::Bigint => match col.precision {
            Some(p) if p <= 16 => PgKind::Int2,
            Some(p) if p <= 32 => PgKind::Int4,
            _ => PgKind::Int8,
        },
        DataType::Decimal | DataType::Wei => PgKind::Numeric,
        DataType::Timestamp => PgKind::Timestamp,
        DataType::Date => PgKind::Date,
        DataType::Time => PgKind::Time,
        DataType::Binary => PgKind::Bytea,
        DataType::Json => PgKind::Jsonb,
    }
}

/// One target column of a COPY.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub kind: PgKind,
}

fn value_err(table: &str, col: &str, value: impl std::fmt::Display, why: &str) -> Error {
    let mut v = value.to_string();
    if v.chars().count() > 200 {
        v = v.chars().take(200).collect::<String>() + "…";
    }
    Error::invalid_data(format!("value `{v}` of column `{col}` in table `{table}` {why}"))
        .with("table", table.to_string())
        .with("column", col.to_string())
        .with("value", v)
}

/// Writes the binary COPY header.
pub fn write_header(out: &mut BytesMut) {
    out.put_slice(b"PGCOPY\n\xff\r\n\0");
    out.put_i32(0);
    out.put_i32(0);
}

/// Writes the binary COPY trailer.
pub fn write_trailer(out: &mut BytesMut) {
    out.put_i16(-1);
}

/// A column of a batch, cast to the canonical Arrow type of its wire kind.
enum Src {
    Null,
    I64(ArrayRef),
    F64(ArrayRef),
    Bool(ArrayRef),
    Str(ArrayRef),
    Dec(ArrayRef),
    Ts(ArrayRef),
    Date(ArrayRef),
    Time(ArrayRef),
    Bin(ArrayRef),
}

fn cast(a: &ArrayRef, to: &ArrowType, table: &str, col: &str) -> Result<ArrayRef> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    let opts = arrow_cast::CastOptions { safe: false, ..Default::default() };
    arrow_cast::cast_with_options(a, to, &opts).map_err(|e| {
        Error::invalid_data(format!("column `{col}` of table `{table}` cannot be converted to {to}: {e}"))
            .with("table", table.to_string())
            .with("column", col.to_string())
    })
}

fn prepare(a: Option<&ArrayRef>, t: &Target, table: &str) -> Result<Src> {
    let Some(a) = a else { return Ok(Src::Null) };
    if a.data_type() == &ArrowType::Null {
        return Ok(Src::Null);
    }
    let c = &t.name;
    Ok(match t.kind {
        PgKind::Int2 | PgKind::Int4 | PgKind::Int8 => Src::I64(cast(a, &ArrowType::Int64, table, c)?),
        PgKind::Float8 => Src::F64(cast(a, &ArrowType::Float64, table, c)?),
        PgKind::Bool => Src::Bool(cast(a, &ArrowType::Boolean, table, c)?),
        PgKind::Text | PgKind::Jsonb => Src::Str(cast(a, &ArrowType::Utf8, table, c)?),
        PgKind::Numeric => match a.data_type() {
            ArrowType::Decimal128(_, _) | ArrowType::Decimal256(_, _) => Src::Dec(a.clone()),
            _ => Src::Str(cast(a, &ArrowType::Utf8, table, c)?),
        },
        PgKind::Timestamp => match a.data_type() {
            ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => {
                let s = cast(a, &ArrowType::Utf8, table, c)?;
                let s = s.as_string::<i32>();
                let mut b = TimestampMicrosecondBuilder::with_capacity(s.len());
                for v in s.iter() {
                    match v {
                        None => b.append_null(),
                        Some(v) => b.append_value(
                            stevedore_core::time::parse_iso_datetime(v).ok_or_else(|| value_err(table, c, v, "is not an ISO timestamp"))?,
                        ),
                    }
                }
                Src::Ts(Arc::new(b.finish()))
            }
            ArrowType::Timestamp(_, tz) => Src::Ts(cast(a, &ArrowType::Timestamp(TimeUnit::Microsecond, tz.clone()), table, c)?),
            _ => Src::Ts(cast(a, &ArrowType::Timestamp(TimeUnit::Microsecond, None), table, c)?),
        },
        PgKind::Date => Src::Date(cast(a, &ArrowType::Date32, table, c)?),
        PgKind::Time => Src::Time(cast(a, &ArrowType::Time64(TimeUnit::Microsecond), table, c)?),
        PgKind::Bytea => match a.data_type() {
            ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => {
                let s = cast(a, &ArrowType::Utf8, table, c)?;
                let s = s.as_string::<i32>();
                let mut b = BinaryBuilder::new();
                for v in s.iter() {
                    match v {
                        None => b.append_null(),
                        Some(v) => b.append_value(
                            base64::engine::general_purpose::STANDARD
                                .decode(v)
                                .map_err(|_| value_err(table, c, v, "is not base64-encoded binary"))?,
                        ),
                    }
                }
                Src::Bin(Arc::new(b.finish()))
            }
            _ => Src::Bin(cast(a, &ArrowType::Binary, table, c)?),
        },
    })
}

/// Encodes a PostgreSQL `numeric` from a decimal string (`-12.3400`, `1e+20`, `NaN`).
pub fn encode_numeric(s: &str, out: &mut BytesMut) -> std::result::Result<(), &'static str> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("nan") {
        out.put_i32(8);
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(0xC000);
        out.put_i16(0);
        return Ok(());
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| "is not a number")?),
        None => (body, 0),
    };
    let (ip, fp) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if (ip.is_empty() && fp.is_empty()) || !ip.bytes().all(|b| b.is_ascii_digit()) || !fp.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not a number");
    }
    // all digits, and the position of the decimal point after applying the exponent
    let mut digits: Vec<u8> = ip.bytes().chain(fp.bytes()).map(|b| b - b'0').collect();
    let mut point = ip.len() as i64 + exp as i64;
    let dscale = (fp.len() as i64 - exp as i64).max(0);
    if dscale > 16383 || point.abs() > 131072 {
        return Err("is out of the numeric range");
    }
    // pad so that the integer part and the fraction are multiples of 4 digits
    while point < 0 {
        digits.insert(0, 0);
        point += 1;
    }
    while (digits.len() as i64) < point {
        digits.push(0);
    }
    let lead = (4 - point % 4) % 4;
    for _ in 0..lead {
        digits.insert(0, 0);
    }
    let point = point + lead;
    while !digits.len().is_multiple_of(4) {
        digits.push(0);
    }
    let mut groups: Vec<i16> = digits.chunks(4).map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + *d as i16)).collect();
    let mut weight = (point / 4) as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i32(8 + 2 * groups.len() as i32);
    out.put_i16(groups.len() as i16);
    out.put_i16(weight as i16);
    out.put_u16(if neg && !groups.is_empty() { 0x4000 } else { 0 });
    out.put_i16(dscale as i16);
    for g in groups {
        out.put_i16(g);
    }
    Ok(())
}

/// Encodes the rows of `batch` (columns matched to `targets` by position in `cols`).
pub fn encode_batch(batch: &RecordBatch, cols: &[Option<usize>], targets: &[Target], table: &str, out: &mut BytesMut) -> Result<()> {
    let srcs: Vec<Src> = targets.iter().zip(cols).map(|(t, c)| prepare(c.map(|i| batch.column(i)), t, table)).collect::<Result<_>>()?;
    let n = targets.len() as i16;
    out.reserve(batch.num_rows() * (2 + 12 * targets.len()));
    for row in 0..batch.num_rows() {
        out.put_i16(n);
        for (src, t) in srcs.iter().zip(targets) {
            encode_cell(src, t, row, table, out)?;
        }
    }
    Ok(())
}

#[inline]
fn encode_cell(src: &Src, t: &Target, row: usize, table: &str, out: &mut BytesMut) -> Result<()> {
    let arr: &ArrayRef = match src {
        Src::Null => {
            out.put_i32(-1);
            return Ok(());
        }
        Src::I64(a) | Src::F64(a) | Src::Bool(a) | Src::Str(a) | Src::Dec(a) | Src::Ts(a) | Src::Date(a) | Src::Time(a) | Src::Bin(a) => a,
    };
    if arr.is_null(row) {
        out.put_i32(-1);
        return Ok(());
    }
    match src {
        Src::Null => unreachable!(),
        Src::I64(a) => {
            let v = a.as_primitive::<Int64Type>().value(row);
            match t.kind {
                PgKind::Int2 => {
                    let v = i16::try_from(v).map_err(|_| value_err(table, &t.name, v, "does not fit smallint"))?;
                    out.put_i32(2);
                    out.put_i16(v);
                }
                PgKind::Int4 => {
                    let v = i32::try_from(v).map_err(|_| value_err(table, &t.name, v, "does not fit integer"))?;
                    out.put_i32(4);
                    out.put_i32(v);
                }
                _ => {
                    out.put_i32(8);
                    out.put_i64(v);
                }
            }
        }
        Src::F64(a) => {
            out.put_i32(8);
            out.put_f64(a.as_primitive::<Float64Type>().value(row));
        }
        Src::Bool(a) => {
            out.put_i32(1);
            out.put_u8(a.as_boolean().value(row) as u8);
        }
        Src::Str(a) => {
            let s = a.as_string::<i32>().value(row);
            match t.kind {
                PgKind::Numeric => encode_numeric(s, out).map_err(|why| value_err(table, &t.name, s, why))?,
                PgKind::Jsonb => {
                    if s.contains('\0') {
                        return Err(value_err(table, &t.name, s.escape_debug(), "contains a NUL character, which PostgreSQL cannot store"));
                    }
                    out.put_i32(s.len() as i32 + 1);
                    out.put_u8(1);
                    out.put_slice(s.as_bytes());
                }
                _ => {
                    if s.contains('\0') {
                        return Err(value_err(table, &t.name, s.escape_debug(), "contains a NUL character, which PostgreSQL cannot store"));
                    }
                    out.put_i32(s.len() as i32);
                    out.put_slice(s.as_bytes());
                }
            }
        }
        Src::Dec(a) => {
            let s = match a.data_type() {
                ArrowType::Decimal128(_, _) => a.as_primitive::<arrow_array::types::Decimal128Type>().value_as_string(row),
                _ => a.as_primitive::<arrow_array::types::Decimal256Type>().value_as_string(row),
            };
            encode_numeric(&s, out).map_err(|why| value_err(table, &t.name, &s, why))?;
        }
        Src::Ts(a) => {
            let v = a.as_primitive::<TimestampMicrosecondType>().value(row);
            out.put_i32(8);
            out.put_i64(v - PG_EPOCH_US);
        }
        Src::Date(a) => {
            out.put_i32(4);
            out.put_i32(a.as_primitive::<Date32Type>().value(row) - PG_EPOCH_DAYS);
        }
        Src::Time(a) => {
            out.put_i32(8);
            out.put_i64(a.as_primitive::<Time64MicrosecondType>().value(row));
        }
        Src::Bin(a) => {
            let b = a.as_binary::<i32>().value(row);
            out.put_i32(b.len() as i32);
            out.put_slice(b);
        }
    }
    Ok(())
}

/// Reads a parquet job file as Arrow batches.
pub fn read_parquet(path: &Path) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("open job file", path, e))?;
    let r =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).and_then(|b| b.with_batch_size(2_048).build()).map_err(
            |e| Error::new(ErrorKind::InvalidData, format!("cannot read parquet job file: {e}")).with("file", path.display().to_string()),
        )?;
    let p = path.display().to_string();
    Ok(Box::new(r.map(move |b| b.map_err(|e| Error::invalid_data(format!("cannot read parquet job file: {e}")).with("file", p.clone())))))
}

/// Opens a job file, decompressing gzip.
pub fn open_text(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    stevedore_core::source::open_maybe_gzip(path)
}

/// Decodes dlt-typed JSON lines into Arrow batches with one column per schema column.
pub struct JsonlBatches {
    reader: Box<dyn BufRead + Send>,
    columns: Vec<Column>,
    schema: Arc<ArrowSchema>,
    table: String,
    line: String,
    done: bool,
}

impl JsonlBatches {
    pub fn new(reader: Box<dyn BufRead + Send>, columns: Vec<Column>, table: &str) -> Self {
        let fields: Vec<Field> = columns.iter().map(|c| Field::new(&c.name, jsonl_arrow_type(c), true)).collect();
        JsonlBatches { reader, columns, schema: Arc::new(ArrowSchema::new(fields)), table: table.into(), line: String::new(), done: false }
    }
}

fn jsonl_arrow_type(c: &Column) -> ArrowType {
    match c.data_type.unwrap_or(DataType::Text) {
        DataType::Bigint => ArrowType::Int64,
        DataType::Double => ArrowType::Float64,
        DataType::Bool => ArrowType::Boolean,
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Date => ArrowType::Date32,
        DataType::Time => ArrowType::Time64(TimeUnit::Microsecond),
        DataType::Binary => ArrowType::Binary,
        _ => ArrowType::Utf8,
    }
}

enum Bld {
    I(Int64Builder),
    F(Float64Builder),
    B(BooleanBuilder),
    S(StringBuilder),
    T(TimestampMicrosecondBuilder),
    D(Date32Builder),
    Tm(Time64MicrosecondBuilder),
    Bin(BinaryBuilder),
}

impl Bld {
    fn new(c: &Column) -> Self {
        match c.data_type.unwrap_or(DataType::Text) {
            DataType::Bigint => Bld::I(Int64Builder::new()),
            DataType::Double => Bld::F(Float64Builder::new()),
            DataType::Bool => Bld::B(BooleanBuilder::new()),
            DataType::Timestamp => Bld::T(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            DataType::Date => Bld::D(Date32Builder::new()),
            DataType::Time => Bld::Tm(Time64MicrosecondBuilder::new()),
            DataType::Binary => Bld::Bin(BinaryBuilder::new()),
            _ => Bld::S(StringBuilder::new()),
        }
    }
    fn null(&mut self) {
        match self {
            Bld::I(b) => b.append_null(),
            Bld::F(b) => b.append_null(),
            Bld::B(b) => b.append_null(),
            Bld::S(b) => b.append_null(),
            Bld::T(b) => b.append_null(),
            Bld::D(b) => b.append_null(),
            Bld::Tm(b) => b.append_null(),
            Bld::Bin(b) => b.append_null(),
        }
    }
    fn push(&mut self, v: &serde_json::Value, table: &str, col: &str) -> Result<()> {
        use serde_json::Value as V;
        let bad = |why: &str| value_err(table, col, v, why);
        match (self, v) {
            (b, V::Null) => b.null(),
            (Bld::I(b), V::Number(n)) => b.append_value(n.as_i64().ok_or_else(|| bad("does not fit bigint"))?),
            (Bld::I(b), V::Bool(x)) => b.append_value(*x as i64),
            (Bld::I(_), _) => return Err(bad("is not an integer")),
            (Bld::F(b), V::Number(n)) => b.append_value(n.as_f64().ok_or_else(|| bad("is not a number"))?),
            (Bld::F(_), _) => return Err(bad("is not a number")),
            (Bld::B(b), V::Bool(x)) => b.append_value(*x),
            (Bld::B(_), _) => return Err(bad("is not a boolean")),
            (Bld::S(b), V::String(s)) => b.append_value(s),
            (Bld::S(b), other) => b.append_value(other.to_string()),
            (Bld::T(b), V::String(s)) => {
                b.append_value(stevedore_core::time::parse_iso_datetime(s).ok_or_else(|| bad("is not an ISO timestamp"))?)
            }
            (Bld::T(b), V::Number(n)) => {
                let secs = n.as_f64().ok_or_else(|| bad("is not a timestamp"))?;
                b.append_value((secs * 1e6).round() as i64)
            }
            (Bld::T(_), _) => return Err(bad("is not a timestamp")),
            (Bld::D(b), V::String(s)) => {
                let d = stevedore_core::time::parse_iso_date(s)
                    .or_else(|| stevedore_core::time::parse_iso_datetime(s).map(|us| us.div_euclid(86_400_000_000) as i32))
                    .ok_or_else(|| bad("is not an ISO date"))?;
                b.append_value(d)
            }
            (Bld::D(_), _) => return Err(bad("is not a date")),
            (Bld::Tm(b), V::String(s)) => b.append_value(stevedore_core::time::parse_iso_time(s).ok_or_else(|| bad("is not an ISO time"))?),
            (Bld::Tm(_), _) => return Err(bad("is not a time")),
            (Bld::Bin(b), V::String(s)) => {
                b.append_value(base64::engine::general_purpose::STANDARD.decode(s).map_err(|_| bad("is not base64-encoded binary"))?)
            }
            (Bld::Bin(_), _) => return Err(bad("is not binary")),
        }
        Ok(())
    }
    fn finish(&mut self) -> ArrayRef {
        match self {
            Bld::I(b) => Arc::new(b.finish()),
            Bld::F(b) => Arc::new(b.finish()),
            Bld::B(b) => Arc::new(b.finish()),
            Bld::S(b) => Arc::new(b.finish()),
            Bld::T(b) => Arc::new(b.finish()),
            Bld::D(b) => Arc::new(b.finish()),
            Bld::Tm(b) => Arc::new(b.finish()),
            Bld::Bin(b) => Arc::new(b.finish()),
        }
    }
}

impl Iterator for JsonlBatches {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let mut blds: Vec<Bld> = self.columns.iter().map(Bld::new).collect();
        let index: std::collections::HashMap<&str, usize> = self.columns.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
        let mut rows = 0usize;
        let mut seen = vec![false; self.columns.len()];
        while rows < JSONL_BATCH_ROWS {
            self.line.clear();
            match self.reader.read_line(&mut self.line) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(
                        Error::new(ErrorKind::Io, format!("cannot read jsonl job file: {e}")).with("table", self.table.clone())
                    ));
                }
            }
            let text = self.line.trim();
            if text.is_empty() {
                continue;
            }
            let v: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Err(Error::invalid_data(format!("malformed jsonl job file: {e}")).with("table", self.table.clone())));
                }
            };
            seen.iter_mut().for_each(|s| *s = false);
            for (k, val) in &v {
                if let Some(&i) = index.get(k.as_str()) {
                    if let Err(e) = blds[i].push(val, &self.table, k) {
                        return Some(Err(e));
                    }
                    seen[i] = true;
                }
            }
            for (i, s) in seen.iter().enumerate() {
                if !s {
                    blds[i].null();
                }
            }
            rows += 1;
        }
        if rows == 0 {
            return None;
        }
        let cols: Vec<ArrayRef> = blds.iter_mut().map(Bld::finish).collect();
        Some(RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| Error::internal(e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_numeric(s, &mut b).unwrap();
        b.to_vec()
    }

    fn be(vals: &[i16]) -> Vec<u8> {
        vals.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    #[test]
    fn numeric_encoding() {
        // len, ndigits, weight, sign, dscale, digits
        let mut exp = 12i32.to_be_bytes().to_vec();
        exp.extend(be(&[2, 0, 0, 2, 12, 3400]));
        assert_eq!(num("12.34"), exp);
        let mut exp = 12i32.to_be_bytes().to_vec();
        exp.extend(be(&[2, 1, 0x4000u16 as i16, 0, 1, 2345]));
        assert_eq!(num("-12345"), exp);
        let mut exp = 8i32.to_be_bytes().to_vec();
        exp.extend(be(&[0, 0, 0, 3]));
        assert_eq!(num("0.000"), exp);
        let mut exp = 10i32.to_be_bytes().to_vec();
        exp.extend(be(&[1, -1, 0, 5, 10]));
        assert_eq!(num("0.00100"), exp);
        let mut exp = 10i32.to_be_bytes().to_vec();
        exp.extend(be(&[1, 5, 0, 0, 1]));
        assert_eq!(num("1e20"), exp);
        assert!(encode_numeric("abc", &mut BytesMut::new()).is_err());
        assert!(encode_numeric("1.2.3", &mut BytesMut::new()).is_err());
    }

    #[test]
    fn jsonl_decoding_names_bad_values() {
        let cols = vec![Column::new("id", DataType::Bigint), Column::new("ts", DataType::Timestamp), Column::new("j", DataType::Json)];
        let data = "{\"id\":1,\"ts\":\"2024-01-01T00:00:00+00:00\",\"j\":{\"a\":[1]}}\n{\"id\":2}\n";
        let mut it = JsonlBatches::new(Box::new(std::io::Cursor::new(data.as_bytes().to_vec())), cols.clone(), "t");
        let b = it.next().unwrap().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(2).as_string::<i32>().value(0), "{\"a\":[1]}");
        assert!(b.column(1).is_null(1));
        let data = "{\"id\":\"x\"}\n";
        let mut it = JsonlBatches::new(Box::new(std::io::Cursor::new(data.as_bytes().to_vec())), cols, "t");
        let e = it.next().unwrap().unwrap_err().to_string();
        assert!(e.contains("`id`") && e.contains("\"x\"") && e.contains("`t`"), "{e}");
    }
}
