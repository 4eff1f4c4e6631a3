//! Text encoders: Arrow columns to jsonl, csv and insert_values rows, and the scalar
//! formatting they share (numbers, strings, base64, dates, times, timestamps, decimals).

use super::*;

// ---------------------------------------------------------------------------------------------
// Value encoders (shared by jsonl and csv)
// ---------------------------------------------------------------------------------------------

/// Offset of a timestamp's time zone, decided once per column.
#[derive(Clone, Copy)]
pub(super) enum TzMode {
    /// No time zone: naive ISO string without an offset.
    Naive,
    /// A fixed offset in seconds (UTC = 0), written as `+HH:MM`.
    Fixed(i32),
}

pub(super) fn parse_tz(tz: Option<&str>) -> TzMode {
    let Some(tz) = tz else { return TzMode::Naive };
    let t = tz.trim();
    if let Some(rest) = t.strip_prefix(['+', '-']) {
        let sign = if t.starts_with('-') { -1 } else { 1 };
        let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
        let (h, m) = match digits.len() {
            1 | 2 => (digits.parse::<i32>().ok(), Some(0)),
            4 => (digits[..2].parse::<i32>().ok(), digits[2..].parse::<i32>().ok()),
            _ => (None, None),
        };
        if let (Some(h), Some(m)) = (h, m)
            && h < 24
            && m < 60
        {
            return TzMode::Fixed(sign * (h * 3600 + m * 60));
        }
    }
    // UTC, Z, Etc/UTC, GMT and named zones: named zones would need a tz database, so their
    // instants are written in UTC (the instant stays right).
    TzMode::Fixed(0)
}

pub(super) enum StrArr<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl StrArr<'_> {
    #[inline]
    fn value(&self, i: usize) -> &str {
        match self {
            StrArr::Utf8(a) => a.value(i),
            StrArr::Large(a) => a.value(i),
            StrArr::View(a) => a.value(i),
        }
    }
}

pub(super) enum BinArr<'a> {
    Bin(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
    Fixed(&'a FixedSizeBinaryArray),
}

impl BinArr<'_> {
    #[inline]
    fn value(&self, i: usize) -> &[u8] {
        match self {
            BinArr::Bin(a) => a.value(i),
            BinArr::Large(a) => a.value(i),
            BinArr::View(a) => a.value(i),
            BinArr::Fixed(a) => a.value(i),
        }
    }
}

pub(super) enum ListOffsets<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
    Fixed(usize),
}

impl ListOffsets<'_> {
    #[inline]
    fn range(&self, i: usize) -> (usize, usize) {
        match self {
            ListOffsets::I32(o) => (o[i] as usize, o[i + 1] as usize),
            ListOffsets::I64(o) => (o[i] as usize, o[i + 1] as usize),
            ListOffsets::Fixed(n) => (i * n, (i + 1) * n),
        }
    }
}

pub(super) enum Enc<'a> {
    Null,
    Bool(&'a BooleanArray),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F16(&'a Float16Array),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Str(StrArr<'a>),
    Json(StrArr<'a>),
    Bin(BinArr<'a>),
    Date32(&'a [i32]),
    Date64(&'a [i64]),
    Time32(&'a [i32], TimeUnit),
    Time64(&'a [i64], TimeUnit),
    Timestamp(&'a [i64], TimeUnit, TzMode),
    Decimal128(&'a [i128], i8),
    Decimal256(&'a Decimal256Array, i8),
    List(ListOffsets<'a>, Box<Node<'a>>),
    Struct(Vec<(Vec<u8>, Node<'a>)>),
    Map(&'a [i32], Box<Node<'a>>, Box<Node<'a>>),
    Dict(Vec<usize>, Box<Node<'a>>),
    Display(ArrayFormatter<'a>),
}

/// One array (a column or a nested child) ready to be encoded value by value.
pub(super) struct Node<'a> {
    nulls: Option<NullBuffer>,
    enc: Enc<'a>,
}

/// A top-level column: its pre-escaped JSON key `"name":` and its encoder.
pub(super) struct Column<'a> {
    key: Vec<u8>,
    node: Node<'a>,
}

pub(super) fn build_nodes<'a>(
    batch: &'a RecordBatch,
    table: &str,
    path: &Path,
    format: FileFormat,
) -> Result<Vec<Column<'a>>, WriterError> {
    batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, array)| {
            let node = Node::new(array.as_ref(), is_json_field(field)).map_err(|_| WriterError::UnsupportedType {
                table: table.to_string(),
                path: path.to_path_buf(),
                column: field.name().clone(),
                data_type: field.data_type().clone(),
                format,
            })?;
            let mut key = Vec::with_capacity(field.name().len() + 3);
            write_json_str(&mut key, field.name());
            key.push(b':');
            Ok(Column { key, node })
        })
        .collect()
}

impl<'a> Node<'a> {
    fn new(array: &'a dyn Array, json: bool) -> Result<Self, ArrowError> {
        let nulls = array.logical_nulls().filter(|n| n.null_count() > 0);
        let enc = match array.data_type() {
            DataType::Null => Enc::Null,
            DataType::Boolean => Enc::Bool(array.as_boolean()),
            DataType::Int8 => Enc::I8(array.as_primitive::<Int8Type>().values()),
            DataType::Int16 => Enc::I16(array.as_primitive::<Int16Type>().values()),
            DataType::Int32 => Enc::I32(array.as_primitive::<Int32Type>().values()),
            DataType::Int64 => Enc::I64(array.as_primitive::<Int64Type>().values()),
            DataType::UInt8 => Enc::U8(array.as_primitive::<UInt8Type>().values()),
            DataType::UInt16 => Enc::U16(array.as_primitive::<UInt16Type>().values()),
            DataType::UInt32 => Enc::U32(array.as_primitive::<UInt32Type>().values()),
            DataType::UInt64 => Enc::U64(array.as_primitive::<UInt64Type>().values()),
            DataType::Float16 => Enc::F16(array.as_primitive::<Float16Type>()),
            DataType::Float32 => Enc::F32(array.as_primitive::<Float32Type>().values()),
            DataType::Float64 => Enc::F64(array.as_primitive::<Float64Type>().values()),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let s = match array.data_type() {
                    DataType::Utf8 => StrArr::Utf8(array.as_string::<i32>()),
                    DataType::LargeUtf8 => StrArr::Large(array.as_string::<i64>()),
                    _ => StrArr::View(array.as_string_view()),
                };
                if json { Enc::Json(s) } else { Enc::Str(s) }
            }
            DataType::Binary => Enc::Bin(BinArr::Bin(array.as_binary::<i32>())),
            DataType::LargeBinary => Enc::Bin(BinArr::Large(array.as_binary::<i64>())),
            DataType::BinaryView => Enc::Bin(BinArr::View(array.as_binary_view())),
            DataType::FixedSizeBinary(_) => Enc::Bin(BinArr::Fixed(array.as_fixed_size_binary())),
            DataType::Date32 => Enc::Date32(array.as_primitive::<arrow_array::types::Date32Type>().values()),
            DataType::Date64 => Enc::Date64(array.as_primitive::<arrow_array::types::Date64Type>().values()),
            DataType::Time32(unit) => {
                let values: &[i32] = match unit {
                    TimeUnit::Second => array.as_primitive::<arrow_array::types::Time32SecondType>().values(),
                    _ => array.as_primitive::<arrow_array::types::Time32MillisecondType>().values(),
                };
                Enc::Time32(values, *unit)
            }
            DataType::Time64(unit) => {
                let values: &[i64] = match unit {
                    TimeUnit::Nanosecond => array.as_primitive::<arrow_array::types::Time64NanosecondType>().values(),
                    _ => array.as_primitive::<arrow_array::types::Time64MicrosecondType>().values(),
                };
                Enc::Time64(values, *unit)
            }
            DataType::Timestamp(unit, tz) => {
                use arrow_array::types::*;
                let values: &[i64] = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                    TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().values(),
                    TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().values(),
                    TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().values(),
                };
                Enc::Timestamp(values, *unit, parse_tz(tz.as_deref()))
            }
            DataType::Decimal128(_, scale) => Enc::Decimal128(array.as_primitive::<arrow_array::types::Decimal128Type>().values(), *scale),
            DataType::Decimal256(_, scale) => Enc::Decimal256(array.as_primitive::<arrow_array::types::Decimal256Type>(), *scale),
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                Enc::List(ListOffsets::I32(l.value_offsets()), Box::new(Node::new(l.values().as_ref(), false)?))
            }
            DataType::LargeList(_) => {
                let l = array.as_list::<i64>();
                Enc::List(ListOffsets::I64(l.value_offsets()), Box::new(Node::new(l.values().as_ref(), false)?))
            }
            DataType::FixedSizeList(_, n) => {
                // A sliced FixedSizeList slices its values too: element `i` starts at `i * n`.
                let l = array.as_fixed_size_list();
                Enc::List(ListOffsets::Fixed(*n as usize), Box::new(Node::new(l.values().as_ref(), false)?))
            }
            DataType::Struct(fields) => {
                let s = array.as_struct();
                let children = fields
                    .iter()
                    .zip(s.columns())
                    .map(|(f, c)| {
                        let mut key = Vec::new();
                        write_json_str(&mut key, f.name());
                        key.push(b':');
                        Ok((key, Node::new(c.as_ref(), is_json_field(f))?))
                    })
                    .collect::<Result<Vec<_>, ArrowError>>()?;
                Enc::Struct(children)
            }
            DataType::Map(_, _) => {
                let m = array.as_map();
                Enc::Map(
                    m.value_offsets(),
                    Box::new(Node::new(m.keys().as_ref(), false)?),
                    Box::new(Node::new(m.values().as_ref(), false)?),
                )
            }
            DataType::Dictionary(_, _) => {
                let d = array.as_any_dictionary();
                Enc::Dict(d.normalized_keys(), Box::new(Node::new(d.values().as_ref(), json)?))
            }
            _ => {
                const OPTIONS: FormatOptions<'static> = FormatOptions::new();
                Enc::Display(ArrayFormatter::try_new(array, &OPTIONS)?)
            }
        };
        Ok(Node { nulls, enc })
    }

    /// Null, or a float that is NaN or infinite (written as null / left out).
    #[inline]
    fn is_absent(&self, i: usize) -> bool {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return true;
        }
        match &self.enc {
            Enc::Null => true,
            Enc::F32(v) => !v[i].is_finite(),
            Enc::F64(v) => !v[i].is_finite(),
            Enc::F16(a) => !a.value(i).to_f64().is_finite(),
            Enc::Dict(keys, values) => values.is_absent(keys[i]),
            _ => false,
        }
    }

    /// Whether the value is written as text (quoted in csv with [`CsvQuoting::Needed`]).
    fn is_textual(&self) -> bool {
        match &self.enc {
            Enc::Str(_) | Enc::Json(_) | Enc::Bin(_) | Enc::List(..) | Enc::Struct(_) | Enc::Map(..) => true,
            Enc::Dict(_, values) => values.is_textual(),
            Enc::Display(_) => true,
            _ => false,
        }
    }

    /// Writes value `i` (not absent) as JSON.
    fn write_json(&self, i: usize, out: &mut Vec<u8>) {
        match &self.enc {
            Enc::Null => out.extend_from_slice(b"null"),
            Enc::Bool(a) => out.extend_from_slice(if a.value(i) { b"true" } else { b"false" }),
            Enc::I8(v) => write_int(out, v[i] as i64),
            Enc::I16(v) => write_int(out, v[i] as i64),
            Enc::I32(v) => write_int(out, v[i] as i64),
            Enc::I64(v) => write_int(out, v[i]),
            Enc::U8(v) => write_int(out, v[i] as i64),
            Enc::U16(v) => write_int(out, v[i] as i64),
            Enc::U32(v) => write_int(out, v[i] as i64),
            Enc::U64(v) => write_uint(out, v[i]),
            Enc::F16(a) => write_json_float(out, a.value(i).to_f64()),
            Enc::F32(v) => write_json_float(out, v[i] as f64),
            Enc::F64(v) => write_json_float(out, v[i]),
            Enc::Str(s) => write_json_str(out, s.value(i)),
            Enc::Json(s) => write_raw_json(out, s.value(i)),
            Enc::Dict(keys, values) => {
                if values.is_absent(keys[i]) {
                    out.extend_from_slice(b"null")
                } else {
                    values.write_json(keys[i], out)
                }
            }
            Enc::List(offsets, child) => {
                let (start, end) = offsets.range(i);
                out.push(b'[');
                for j in start..end {
                    if j > start {
                        out.push(b',');
                    }
                    child.write_json_or_null(j, out);
                }
                out.push(b']');
            }
            Enc::Struct(children) => {
                out.push(b'{');
                for (n, (key, child)) in children.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(key);
                    child.write_json_or_null(i, out);
                }
                out.push(b'}');
            }
            Enc::Map(offsets, keys, values) => {
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                out.push(b'{');
                let mut key_buf = Vec::new();
                for j in start..end {
                    if j > start {
                        out.push(b',');
                    }
                    key_buf.clear();
                    if keys.is_absent(j) {
                        key_buf.extend_from_slice(b"null");
                    } else {
                        keys.write_text(j, &mut key_buf);
                    }
                    write_json_str(out, &String::from_utf8_lossy(&key_buf));
                    out.push(b':');
                    values.write_json_or_null(j, out);
                }
                out.push(b'}');
            }
            Enc::Display(f) => {
                let text = f.value(i).to_string();
                write_json_str(out, &text);
            }
            // Temporal, decimal and binary values: their text form, as a JSON string. The text
            // forms are plain ASCII without quotes or backslashes.
            _ => {
                out.push(b'"');
                self.write_text(i, out);
                out.push(b'"');
            }
        }
    }

    #[inline]
    fn write_json_or_null(&self, i: usize, out: &mut Vec<u8>) {
        if self.is_absent(i) {
            out.extend_from_slice(b"null");
        } else {
            self.write_json(i, out);
        }
    }

    /// Writes value `i` as unquoted text (csv value, map key); nested values become JSON text.
    fn write_text(&self, i: usize, out: &mut Vec<u8>) {
        match &self.enc {
            Enc::Str(s) | Enc::Json(s) => out.extend_from_slice(s.value(i).as_bytes()),
            Enc::Bin(b) => write_base64(out, b.value(i)),
            Enc::Date32(v) => write_date(out, v[i] as i64),
            Enc::Date64(v) => write_date(out, v[i].div_euclid(86_400_000)),
            Enc::Time32(v, unit) => {
                let (secs, nanos) = split_time(v[i] as i64, *unit);
                write_time(out, secs, nanos, *unit == TimeUnit::Nanosecond);
            }
            Enc::Time64(v, unit) => {
                let (secs, nanos) = split_time(v[i], *unit);
                write_time(out, secs, nanos, *unit == TimeUnit::Nanosecond);
            }
            Enc::Timestamp(v, unit, tz) => write_timestamp(out, v[i], *unit, *tz),
            Enc::Decimal128(v, scale) => write_decimal_i128(out, v[i], *scale),
            Enc::Decimal256(a, scale) => write_decimal_str(out, &a.value(i).to_string(), *scale),
            Enc::Dict(keys, values) => values.write_text(keys[i], out),
            Enc::Display(f) => {
                use std::io::Write as _;
                let _ = write!(out, "{}", f.value(i));
            }
            Enc::F16(a) => write_csv_float(out, a.value(i).to_f64()),
            Enc::F32(v) => write_csv_float(out, v[i] as f64),
            Enc::F64(v) => write_csv_float(out, v[i]),
            // Numbers, booleans, nested values: same as JSON.
            _ => self.write_json(i, out),
        }
    }
}

impl Node<'_> {
    /// Null (csv keeps NaN and infinities as `nan`, `inf`, `-inf`).
    #[inline]
    fn is_null(&self, i: usize) -> bool {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return true;
        }
        match &self.enc {
            Enc::Null => true,
            Enc::Dict(keys, values) => values.is_null(keys[i]),
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Row writers
// ---------------------------------------------------------------------------------------------

pub(super) fn write_jsonl_rows(cols: &[Column<'_>], rows: usize, buf: &mut Vec<u8>, sink: &mut TextSink) -> io::Result<()> {
    for i in 0..rows {
        buf.push(b'{');
        let mut first = true;
        for c in cols {
            if c.node.is_absent(i) {
                continue;
            }
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(&c.key);
            c.node.write_json(i, buf);
        }
        buf.extend_from_slice(b"}\n");
        if buf.len() >= IO_BUFFER_BYTES {
            sink.write_all(buf)?;
            buf.clear();
        }
    }
    Ok(())
}

/// `E'..'` SQL string literal: `\\`, `'`, line breaks and tabs escaped (one row per line).
/// A string literal: `E'..'` (PostgreSQL) or `'..'` (Redshift, which keeps backslash escapes in
/// plain strings), quotes doubled, backslash and control characters escaped, as dlt's
/// `escape_postgres_literal` and `escape_redshift_literal` do.
pub(super) fn write_sql_str(buf: &mut Vec<u8>, text: &[u8], literals: SqlLiterals) {
    buf.extend_from_slice(match literals {
        SqlLiterals::Postgres => b"E'".as_slice(),
        SqlLiterals::Redshift => b"'".as_slice(),
    });
    for &b in text {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\'' => buf.extend_from_slice(b"''"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => buf.push(b),
        }
    }
    buf.push(b'\'');
}

pub(super) fn write_sql_value(node: &Node<'_>, i: usize, buf: &mut Vec<u8>, scratch: &mut Vec<u8>, literals: SqlLiterals) {
    if node.is_null(i) {
        buf.extend_from_slice(b"NULL");
        return;
    }
    match &node.enc {
        Enc::Bool(a) => buf.extend_from_slice(if a.value(i) { b"TRUE" } else { b"FALSE" }),
        Enc::I8(_) | Enc::I16(_) | Enc::I32(_) | Enc::I64(_) | Enc::U8(_) | Enc::U16(_) | Enc::U32(_) | Enc::U64(_) => {
            node.write_text(i, buf)
        }
        Enc::Decimal128(..) | Enc::Decimal256(..) => node.write_text(i, buf),
        Enc::F16(_) | Enc::F32(_) | Enc::F64(_) => {
            scratch.clear();
            node.write_text(i, scratch);
            match scratch.as_slice() {
                b"nan" | b"NaN" => buf.extend_from_slice(b"'NaN'"),
                b"inf" | b"Infinity" => buf.extend_from_slice(b"'Infinity'"),
                b"-inf" | b"-Infinity" => buf.extend_from_slice(b"'-Infinity'"),
                s => buf.extend_from_slice(s),
            }
        }
        Enc::Bin(b) => {
            buf.extend_from_slice(match literals {
                SqlLiterals::Postgres => b"E'\\\\x".as_slice(),
                SqlLiterals::Redshift => b"from_hex('".as_slice(),
            });
            for byte in b.value(i) {
                buf.extend_from_slice(format!("{byte:02x}").as_bytes());
            }
            buf.extend_from_slice(match literals {
                SqlLiterals::Postgres => b"'".as_slice(),
                SqlLiterals::Redshift => b"')".as_slice(),
            });
        }
        Enc::Json(_) if literals == SqlLiterals::Redshift => {
            scratch.clear();
            node.write_text(i, scratch);
            buf.extend_from_slice(b"json_parse(");
            write_sql_str(buf, scratch, literals);
            buf.push(b')');
        }
        _ => {
            scratch.clear();
            node.write_text(i, scratch);
            write_sql_str(buf, scratch, literals);
        }
    }
}

pub(super) fn write_insert_values_rows(
    cols: &[Column<'_>],
    rows: usize,
    rows_before: u64,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    sink: &mut TextSink,
    literals: SqlLiterals,
) -> io::Result<()> {
    for i in 0..rows {
        if rows_before > 0 || i > 0 {
            buf.extend_from_slice(b",\n");
        }
        buf.push(b'(');
        for (n, c) in cols.iter().enumerate() {
            if n > 0 {
                buf.push(b',');
            }
            write_sql_value(&c.node, i, buf, scratch, literals);
        }
        buf.push(b')');
        if buf.len() >= IO_BUFFER_BYTES {
            sink.write_all(buf)?;
            buf.clear();
        }
    }
    Ok(())
}

pub(super) fn write_csv_rows(
    cols: &[Column<'_>],
    rows: usize,
    config: &WriterConfig,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    sink: &mut TextSink,
) -> io::Result<()> {
    let delim = config.csv_delimiter;
    let quoting = config.csv_quoting;
    let textual: Vec<bool> = cols.iter().map(|c| c.node.is_textual()).collect();
    for i in 0..rows {
        for (n, c) in cols.iter().enumerate() {
            if n > 0 {
                buf.push(delim);
            }
            if c.node.is_null(i) {
                continue;
            }
            if let Enc::Str(s) = &c.node.enc {
                write_csv_text(buf, s.value(i).as_bytes(), quoting, delim);
            } else if textual[n] {
                scratch.clear();
                c.node.write_text(i, scratch);
                write_csv_text(buf, scratch, quoting, delim);
            } else if quoting == CsvQuoting::All {
                buf.push(b'"');
                c.node.write_text(i, buf);
                buf.push(b'"');
            } else {
                c.node.write_text(i, buf);
            }
        }
        buf.push(b'\n');
        if buf.len() >= IO_BUFFER_BYTES {
            sink.write_all(buf)?;
            buf.clear();
        }
    }
    Ok(())
}

pub(super) fn write_csv_header(schema: &Schema, config: &WriterConfig, out: &mut Vec<u8>) {
    for (n, f) in schema.fields().iter().enumerate() {
        if n > 0 {
            out.push(config.csv_delimiter);
        }
        write_csv_text(out, f.name().as_bytes(), config.csv_quoting, config.csv_delimiter);
    }
    out.push(b'\n');
}

/// Writes a text value, quoted per `quoting` with `"` doubled inside quotes.
#[inline]
pub(super) fn write_csv_text(out: &mut Vec<u8>, text: &[u8], quoting: CsvQuoting, delim: u8) {
    let quote = match quoting {
        CsvQuoting::Needed | CsvQuoting::All => true,
        CsvQuoting::Minimal => text.is_empty() || text.iter().any(|&b| b == delim || b == b'"' || b == b'\n' || b == b'\r'),
    };
    if !quote {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'"' {
            out.extend_from_slice(&text[start..=i]);
            out.push(b'"');
            start = i + 1;
        }
    }
    out.extend_from_slice(&text[start..]);
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// Scalar formatting
// ---------------------------------------------------------------------------------------------

#[inline]
pub(super) fn write_int(out: &mut Vec<u8>, v: i64) {
    let _ = serde_json::ser::CompactFormatter.write_i64(out, v);
}

#[inline]
pub(super) fn write_uint(out: &mut Vec<u8>, v: u64) {
    let _ = serde_json::ser::CompactFormatter.write_u64(out, v);
}

/// Shortest round-trip float text in orjson's (dlt's JSON library) style: decimal notation
/// for exponents -5..=15 (`1.0`, `0.00001`, `1000000000000000.0`), otherwise `1e+16`, `1e-6`.
#[inline]
pub(super) fn write_float(out: &mut Vec<u8>, v: f64) {
    let start = out.len();
    // serde_json's shortest round-trip formatter uses orjson's notation thresholds; depending
    // on its version the exponent is written `e16` or `e+16`: normalise to `e+16`.
    let _ = serde_json::ser::CompactFormatter.write_f64(out, v);
    if let Some(e) = out[start..].iter().position(|&b| b == b'e') {
        let at = start + e + 1;
        if out.get(at).is_some_and(u8::is_ascii_digit) {
            out.insert(at, b'+');
        }
    }
}

#[inline]
pub(super) fn write_json_float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_float(out, v);
    } else {
        out.extend_from_slice(b"null");
    }
}

#[inline]
pub(super) fn write_csv_float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_float(out, v);
    } else if v.is_nan() {
        out.extend_from_slice(b"nan");
    } else if v > 0.0 {
        out.extend_from_slice(b"inf");
    } else {
        out.extend_from_slice(b"-inf");
    }
}

/// JSON escape class per byte: 0 = copy, b'u' = `\u00XX`, other = two-char escape.
pub(super) static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Writes `s` as a JSON string literal (UTF-8 kept as is, control chars, `"` and `\` escaped).
#[inline]
pub(super) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Embeds serialized JSON as is. Raw line breaks can only be insignificant whitespace in valid
/// JSON (inside strings they are escaped), so they become spaces to keep one object per line.
/// An empty value is written as `null`.
#[inline]
pub(super) fn write_raw_json(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        out.extend_from_slice(b"null");
        return;
    }
    let start = out.len();
    out.extend_from_slice(bytes);
    if bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        for b in &mut out[start..] {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
}

#[inline]
pub(super) fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).expect("base64 length overflows usize");
    out.resize(start + len, 0);
    let written = base64::engine::general_purpose::STANDARD.encode_slice(bytes, &mut out[start..]).expect("buffer sized by encoded_len");
    out.truncate(start + written);
}

#[inline]
pub(super) fn push2(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
#[inline]
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` (years outside 0..=9999 with as many digits as needed and a sign if negative).
pub(super) fn write_date(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        push2(out, (y / 100) as u32);
        push2(out, (y % 100) as u32);
    } else {
        if y < 0 {
            out.push(b'-');
        }
        let digits = y.unsigned_abs().to_string();
        for _ in digits.len()..4 {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
    }
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
}

/// `HH:MM:SS`, then `.ffffff` when the fraction is non-zero (Python `isoformat`), or
/// `.fffffffff` when `ns_precision` and the fraction has sub-microsecond digits.
pub(super) fn write_time(out: &mut Vec<u8>, secs_of_day: i64, nanos: u32, ns_precision: bool) {
    let s = secs_of_day.rem_euclid(86_400) as u32;
    push2(out, s / 3600);
    out.push(b':');
    push2(out, (s / 60) % 60);
    out.push(b':');
    push2(out, s % 60);
    if nanos == 0 {
        return;
    }
    let (mut frac, digits) = if ns_precision && !nanos.is_multiple_of(1000) { (nanos, 9) } else { (nanos / 1000, 6) };
    if frac == 0 {
        return;
    }
    out.push(b'.');
    let start = out.len();
    out.resize(start + digits, b'0');
    for k in (0..digits).rev() {
        out[start + k] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
}

/// Splits a time-of-day or timestamp value into (whole seconds, nanoseconds), flooring.
#[inline]
pub(super) fn split_time(v: i64, unit: TimeUnit) -> (i64, u32) {
    let per_sec: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let secs = v.div_euclid(per_sec);
    let frac = v.rem_euclid(per_sec);
    (secs, (frac * (1_000_000_000 / per_sec)) as u32)
}

/// ISO-8601 like Python's `datetime.isoformat()`: `2024-01-01T00:00:00[.ffffff]+00:00`.
pub(super) fn write_timestamp(out: &mut Vec<u8>, v: i64, unit: TimeUnit, tz: TzMode) {
    let (mut secs, nanos) = split_time(v, unit);
    let offset = match tz {
        TzMode::Naive => None,
        TzMode::Fixed(off) => Some(off),
    };
    secs += offset.unwrap_or(0) as i64;
    write_date(out, secs.div_euclid(86_400));
    out.push(b'T');
    write_time(out, secs.rem_euclid(86_400), nanos, unit == TimeUnit::Nanosecond);
    if let Some(off) = offset {
        out.push(if off < 0 { b'-' } else { b'+' });
        let a = off.unsigned_abs();
        push2(out, a / 3600);
        out.push(b':');
        push2(out, (a / 60) % 60);
    }
}

/// The decimal `v * 10^-scale` with exactly `scale` fractional digits (`1.500000000`), like
/// Python's `str(Decimal)` of a pyarrow decimal value.
pub(super) fn write_decimal_i128(out: &mut Vec<u8>, v: i128, scale: i8) {
    let mut digits = [0u8; 40];
    let mut n = v.unsigned_abs();
    let mut pos = digits.len();
    loop {
        pos -= 1;
        digits[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    write_decimal_digits(out, v < 0, &digits[pos..], scale);
}

pub(super) fn write_decimal_str(out: &mut Vec<u8>, s: &str, scale: i8) {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    write_decimal_digits(out, neg, digits.as_bytes(), scale);
}

pub(super) fn write_decimal_digits(out: &mut Vec<u8>, negative: bool, digits: &[u8], scale: i8) {
    if negative {
        out.push(b'-');
    }
    if scale <= 0 {
        out.extend_from_slice(digits);
        if digits != b"0" {
            out.extend(std::iter::repeat_n(b'0', scale.unsigned_abs() as usize));
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}
