//! A borrowed JSON value: objects keep key order in a slice (no hashing), strings borrow
//! from the input line when they have no escapes. Containers and unescaped strings live in a
//! bump arena the caller resets between records, so a record's tree costs no `malloc`/`free`
//! per container and nothing to drop. It keeps the whole record available (key hashes need it).
//!
//! The parser is written for this tree: one loop with an explicit stack of open containers
//! (no recursion, no visitor calls, no `Result` per value); strings are checked 8 bytes at a
//! time for a quote, backslash or control character, and past 32 bytes searched with
//! `memchr`'s vector code. It accepts and rejects the same documents as serde_json (the
//! tests compare both on edge cases and thousands of random and corrupted documents);
//! floats are rounded correctly (Rust's `f64` parser, like Python's), where serde_json's
//! default can be a few ulps off.

use std::fmt;

use bumpalo::Bump;

/// A JSON value borrowing from its input and from a [`Bump`] arena.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JVal<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits i64.
    Int(i64),
    /// An integer above i64::MAX.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'a str),
    /// An array.
    Arr(&'a [JVal<'a>]),
    /// An object, keys in input order.
    Obj(&'a [(&'a str, JVal<'a>)]),
}

/// Reusable stacks for [`JVal::parse_with`]: containers are collected here while they are
/// parsed and copied into the arena once, at their exact length. Empty between parses, so it
/// carries no lifetime and one instance serves every record of a stream.
#[derive(Default)]
pub struct JScratch(Stacks<'static>);

/// The stacks of one parse, borrowing the input's lifetime.
#[derive(Default)]
struct Stacks<'a> {
    /// Elements of the open arrays.
    vals: Vec<JVal<'a>>,
    /// Entries of the open objects.
    entries: Vec<(&'a str, JVal<'a>)>,
    /// The open containers, outermost first.
    frames: Vec<Frame<'a>>,
    /// A string with escapes, being unescaped.
    text: String,
}

impl Stacks<'_> {
    /// The same (emptied) allocations, for another lifetime.
    fn recycle<'b>(self) -> Stacks<'b> {
        Stacks { vals: recycle(self.vals), entries: recycle(self.entries), frames: recycle(self.frames), text: self.text }
    }
}

/// An open container: where its elements start on their stack and, for an object, the key
/// of the value being parsed.
#[derive(Clone, Copy)]
struct Frame<'a> {
    object: bool,
    start: usize,
    key: &'a str,
}

/// Containers nested deeper than this are rejected (serde_json's limit; the tree is walked
/// recursively afterwards).
const MAX_DEPTH: usize = 127;

const ONES: u64 = u64::MAX / 255;
const HIGH_BITS: u64 = ONES << 7;
const CONTROL_IN_STRING: &str = "control character (\\u0000-\\u001F) found while parsing a string";

/// Set high bits (under [`HIGH_BITS`]) for the bytes of `w` below 0x20 (control
/// characters), plus possibly bytes after the first such one (borrows); none when there is
/// none. The other bits are noise: mask with [`HIGH_BITS`].
#[inline]
fn control_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES * 0x20) & !w
}

/// The high bit of each byte of `w` (little-endian) that is a quote, a backslash or a
/// control character; bytes after the first such byte may be marked falsely (borrows), the
/// first one never is.
#[inline]
fn stop_bytes(w: u64) -> u64 {
    let control = control_bytes(w);
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGH_BITS
}

/// Malformed JSON: what was expected and the 1-based column (in bytes) where.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    what: &'static str,
    column: usize,
}

impl JsonError {
    /// What was expected or found (the message without the column).
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The 1-based column (in bytes) of the error in the parsed text.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.what, self.column)
    }
}

impl std::error::Error for JsonError {}

/// Reuses an emptied vector's allocation for a type of the same layout (std collects a
/// `vec::IntoIter` of same-sized elements in place).
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector was cleared")).collect()
}

impl<'a> JVal<'a> {
    /// Parses one JSON document into `arena` (a one-off; loops reuse a [`JScratch`] with
    /// [`JVal::parse_with`]).
    pub fn parse_in(text: &'a str, arena: &'a Bump) -> Result<JVal<'a>, JsonError> {
        JVal::parse_with(text, arena, &mut JScratch::default())
    }

    /// Parses one JSON document into `arena`, using `scratch` for containers in progress.
    pub fn parse_with(text: &'a str, arena: &'a Bump, scratch: &mut JScratch) -> Result<JVal<'a>, JsonError> {
        let mut stacks = std::mem::take(&mut scratch.0).recycle();
        let v = Parser { text, b: text.as_bytes(), pos: 0, arena, st: &mut stacks }.document();
        // `recycle` empties the stacks a failed parse left behind
        scratch.0 = stacks.recycle();
        v
    }

    /// Borrows a `serde_json::Value`; containers are copied into `arena`.
    pub fn from_value(v: &'a serde_json::Value, arena: &'a Bump) -> JVal<'a> {
        match v {
            serde_json::Value::Null => JVal::Null,
            serde_json::Value::Bool(b) => JVal::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    JVal::Int(i)
                } else if let Some(u) = n.as_u64() {
                    JVal::UInt(u)
                } else {
                    JVal::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => JVal::Str(s.as_str()),
            serde_json::Value::Array(a) => JVal::Arr(arena.alloc_slice_fill_iter(a.iter().map(|x| JVal::from_value(x, arena)))),
            serde_json::Value::Object(m) => {
                JVal::Obj(arena.alloc_slice_fill_iter(m.iter().map(|(k, v)| (k.as_str(), JVal::from_value(v, arena)))))
            }
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, JVal::Null)
    }

    /// Writes compact JSON; with `sort_keys` object keys are sorted at every level.
    pub fn write_json(&self, out: &mut String, sort_keys: bool) {
        match self {
            JVal::Null => out.push_str("null"),
            JVal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            JVal::Int(i) => out.push_str(itoa_i64(*i).as_str()),
            JVal::UInt(u) => out.push_str(&u.to_string()),
            JVal::Float(f) => out.push_str(&float_json(*f)),
            JVal::Str(s) => write_json_str(out, s),
            JVal::Arr(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write_json(out, sort_keys);
                }
                out.push(']');
            }
            JVal::Obj(m) => {
                out.push('{');
                if sort_keys {
                    let mut idx: Vec<usize> = (0..m.len()).collect();
                    idx.sort_by(|a, b| m[*a].0.cmp(m[*b].0));
                    for (i, j) in idx.into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_json_str(out, m[j].0);
                        out.push(':');
                        m[j].1.write_json(out, sort_keys);
                    }
                } else {
                    for (i, (k, v)) in m.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_json_str(out, k);
                        out.push(':');
                        v.write_json(out, sort_keys);
                    }
                }
                out.push('}');
            }
        }
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s, false);
        s
    }
}

fn itoa_i64(i: i64) -> String {
    i.to_string()
}

/// JSON text of a float the way Python's json/orjson writes it (`1.0`, `0.5`, `1e+20`).
pub fn float_json(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    // serde_json (ryu) writes `1.0`, `1e20`; Python writes `1e+20`
    let s = serde_json::to_string(&f).unwrap_or_else(|_| "null".into());
    if let Some(pos) = s.find('e')
        && !s[pos + 1..].starts_with('-')
        && !s[pos + 1..].starts_with('+')
    {
        return format!("{}e+{}", &s[..pos], &s[pos + 1..]);
    }
    s
}

/// Appends a JSON string literal.
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => out.push_str(&format!("\\u{:04x}", b)),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The parser's position in one document.
struct Parser<'p, 'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    arena: &'a Bump,
    st: &'p mut Stacks<'a>,
}

impl<'a> Parser<'_, 'a> {
    fn err<T>(&self, what: &'static str) -> Result<T, JsonError> {
        Err(JsonError { what, column: self.pos + 1 })
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    /// The next byte after whitespace (not consumed); 0 at the end.
    #[inline]
    fn peek(&mut self) -> u8 {
        self.skip_ws();
        self.b.get(self.pos).copied().unwrap_or(0)
    }

    /// The whole document: one value and nothing after it but whitespace.
    fn document(mut self) -> Result<JVal<'a>, JsonError> {
        'value: loop {
            let mut v = match self.peek() {
                b'{' | b'[' if self.st.frames.len() >= MAX_DEPTH => return self.err("recursion limit exceeded"),
                open @ (b'{' | b'[') => {
                    let object = open == b'{';
                    self.pos += 1;
                    match self.peek() {
                        b'}' if object => {
                            self.pos += 1;
                            JVal::Obj(&[])
                        }
                        b']' if !object => {
                            self.pos += 1;
                            JVal::Arr(&[])
                        }
                        _ => {
                            self.open(object)?;
                            continue 'value;
                        }
                    }
                }
                b'"' => JVal::Str(self.string()?),
                b't' => self.literal(b"true", JVal::Bool(true))?,
                b'f' => self.literal(b"false", JVal::Bool(false))?,
                b'n' => self.literal(b"null", JVal::Null)?,
                b'-' | b'0'..=b'9' => self.number()?,
                0 if self.pos >= self.b.len() => return self.err("EOF while parsing a value"),
                _ => return self.err("expected value"),
            };
            // `v` is complete: add it to its container, closing every container it completes
            loop {
                let Some(top) = self.st.frames.last().copied() else {
                    return if self.peek() == 0 && self.pos >= self.b.len() { Ok(v) } else { self.err("trailing characters") };
                };
                if top.object {
                    self.st.entries.push((top.key, v));
                } else {
                    self.st.vals.push(v);
                }
                let close = if top.object { b'}' } else { b']' };
                match self.peek() {
                    b',' => {
                        self.pos += 1;
                        if top.object {
                            let key = self.key()?;
                            if let Some(f) = self.st.frames.last_mut() {
                                f.key = key;
                            }
                        }
                        continue 'value;
                    }
                    c if c == close => {
                        self.pos += 1;
                        self.st.frames.pop();
                        v = if top.object {
                            let out = self.arena.alloc_slice_copy(&self.st.entries[top.start..]);
                            self.st.entries.truncate(top.start);
                            JVal::Obj(out)
                        } else {
                            let out = self.arena.alloc_slice_copy(&self.st.vals[top.start..]);
                            self.st.vals.truncate(top.start);
                            JVal::Arr(out)
                        };
                    }
                    0 if self.pos >= self.b.len() => {
                        return self.err(if top.object { "EOF while parsing an object" } else { "EOF while parsing a list" });
                    }
                    _ => return self.err(if top.object { "expected `,` or `}`" } else { "expected `,` or `]`" }),
                }
            }
        }
    }

    /// Opens a non-empty container (its opening bracket consumed); an object's first key is
    /// read here.
    fn open(&mut self, object: bool) -> Result<(), JsonError> {
        let (start, key) = if object { (self.st.entries.len(), self.key()?) } else { (self.st.vals.len(), "") };
        self.st.frames.push(Frame { object, start, key });
        Ok(())
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<&'a str, JsonError> {
        match self.peek() {
            b'"' => {}
            0 if self.pos >= self.b.len() => return self.err("EOF while parsing an object"),
            _ => return self.err("key must be a string"),
        }
        let k = self.string()?;
        if self.peek() != b':' {
            return if self.pos >= self.b.len() { self.err("EOF while parsing an object") } else { self.err("expected `:`") };
        }
        self.pos += 1;
        Ok(k)
    }

    fn literal(&mut self, word: &'static [u8], v: JVal<'a>) -> Result<JVal<'a>, JsonError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else if word.starts_with(&self.b[self.pos..]) {
            self.pos = self.b.len();
            self.err("EOF while parsing a value")
        } else {
            self.err("expected ident")
        }
    }

    /// A string (at its opening quote): borrowed from the input without escapes, unescaped
    /// into the arena with them.
    fn string(&mut self) -> Result<&'a str, JsonError> {
        let start = self.pos + 1;
        // Most strings are short: the first 32 bytes are checked 8 at a time for a quote, a
        // backslash or a control character at once; longer strings go to memchr's vector
        // search, then a control-character check of their bytes.
        let mut i = start;
        for _ in 0..4 {
            let Some(word) = self.b.get(i..i + 8) else { break };
            let stops = stop_bytes(u64::from_le_bytes(word.try_into().expect("8 bytes")));
            if stops != 0 {
                let end = i + (stops.trailing_zeros() / 8) as usize;
                return match self.b[end] {
                    b'"' => {
                        self.pos = end + 1;
                        // both ends are ASCII quotes, so char boundaries
                        Ok(&self.text[start..end])
                    }
                    b'\\' => self.escaped(start, end),
                    _ => {
                        self.pos = end;
                        self.err(CONTROL_IN_STRING)
                    }
                };
            }
            i += 8;
        }
        let Some(n) = memchr::memchr2(b'"', b'\\', &self.b[i..]) else {
            self.pos = self.b.len();
            return self.err("EOF while parsing a string");
        };
        let end = i + n;
        self.check_control(i, end)?;
        if self.b[end] == b'"' {
            self.pos = end + 1;
            return Ok(&self.text[start..end]);
        }
        self.escaped(start, end)
    }

    /// Rejects raw control characters (JSON requires them escaped) in `start..end`.
    #[inline]
    fn check_control(&mut self, start: usize, end: usize) -> Result<(), JsonError> {
        let bytes = &self.b[start..end];
        let mut words = bytes.chunks_exact(8);
        let mut any = 0u64;
        for w in &mut words {
            any |= control_bytes(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        if any & HIGH_BITS != 0 || words.remainder().iter().any(|&c| c < 0x20) {
            self.pos = start + bytes.iter().position(|&c| c < 0x20).unwrap_or(0);
            return self.err(CONTROL_IN_STRING);
        }
        Ok(())
    }

    /// The rest of a string with escapes: `start` is its first byte, `esc` its first backslash.
    fn escaped(&mut self, start: usize, mut esc: usize) -> Result<&'a str, JsonError> {
        let mut out = std::mem::take(&mut self.st.text);
        out.clear();
        let mut from = start;
        let r = loop {
            out.push_str(&self.text[from..esc]);
            self.pos = esc + 1;
            let Some(&c) = self.b.get(self.pos) else {
                break self.err("EOF while parsing a string");
            };
            self.pos += 1;
            match c {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => match self.unicode_escape() {
                    Ok(ch) => out.push(ch),
                    Err(e) => break Err(e),
                },
                _ => {
                    self.pos -= 1;
                    break self.err("invalid escape");
                }
            }
            from = self.pos;
            let Some(i) = memchr::memchr2(b'"', b'\\', &self.b[from..]) else {
                self.pos = self.b.len();
                break self.err("EOF while parsing a string");
            };
            esc = from + i;
            if let Err(e) = self.check_control(from, esc) {
                break Err(e);
            }
            if self.b[esc] == b'"' {
                out.push_str(&self.text[from..esc]);
                self.pos = esc + 1;
                break Ok(());
            }
        };
        let s = r.map(|()| &*self.arena.alloc_str(&out));
        self.st.text = out;
        s
    }

    /// The character of a `\u` escape (after the `u`), with a following low surrogate when
    /// it is a high one.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        let code = match hi {
            0xD800..=0xDBFF => {
                if !self.b[self.pos..].starts_with(b"\\u") {
                    return if self.pos + 2 > self.b.len() {
                        self.err("EOF while parsing a string")
                    } else {
                        self.err("lone leading surrogate in hex escape")
                    };
                }
                self.pos += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return self.err("lone leading surrogate in hex escape");
                }
                0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.err("lone trailing surrogate in hex escape"),
            c => u32::from(c),
        };
        char::from_u32(code).map_or_else(|| self.err("invalid unicode code point"), Ok)
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let Some(digits) = self.b.get(self.pos..self.pos + 4) else {
            self.pos = self.b.len();
            return self.err("EOF while parsing a string");
        };
        let mut v = 0u16;
        for (i, &d) in digits.iter().enumerate() {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => {
                    self.pos += i;
                    return self.err("invalid escape");
                }
            };
            v = v << 4 | u16::from(n);
        }
        self.pos += 4;
        Ok(v)
    }

    /// One or more digits (of a fraction or an exponent).
    fn digits(&mut self) -> Result<(), JsonError> {
        let from = self.pos;
        while matches!(self.b.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        match self.pos {
            p if p > from => Ok(()),
            p if p >= self.b.len() => self.err("EOF while parsing a value"),
            _ => self.err("invalid number"),
        }
    }

    /// A number: an integer that fits i64 (or u64 above it), else a float.
    fn number(&mut self) -> Result<JVal<'a>, JsonError> {
        let start = self.pos;
        let negative = self.b[start] == b'-';
        if negative {
            self.pos += 1;
        }
        let mut mag: u64 = 0;
        let mut overflow = false;
        match self.b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(&d @ b'0'..=b'9') = self.b.get(self.pos) {
                    match mag.checked_mul(10).and_then(|m| m.checked_add(u64::from(d - b'0'))) {
                        Some(m) => mag = m,
                        None => overflow = true,
                    }
                    self.pos += 1;
                }
            }
            None => return self.err("EOF while parsing a value"),
            _ => return self.err("invalid number"),
        }
        let mut float = false;
        if self.b.get(self.pos) == Some(&b'.') {
            float = true;
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        if !float && !overflow {
            if !negative {
                return Ok(if mag <= i64::MAX as u64 { JVal::Int(mag as i64) } else { JVal::UInt(mag) });
            }
            // `-0` is the float -0.0 (as serde_json and Python read it)
            if mag != 0 && mag <= i64::MAX as u64 + 1 {
                return Ok(JVal::Int((mag as i64).wrapping_neg()));
            }
        }
        match self.text[start..self.pos].parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(JVal::Float(f)),
            _ => {
                self.pos = start;
                self.err("number out of range")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    /// serde_json's verdict on `text`, as a tree in `arena`.
    fn serde_parse<'a>(text: &'a str, arena: &'a Bump) -> serde_json::Result<JVal<'a>> {
        let mut stacks = Stacks::default();
        let mut de = serde_json::Deserializer::from_str(text);
        Seed { arena, stacks: &mut stacks }.deserialize(&mut de).and_then(|v| de.end().map(|()| v))
    }

    /// The previous parser, on serde_json: the reference the hand parser is checked against.
    struct Seed<'s, 'a> {
        arena: &'a Bump,
        stacks: &'s mut Stacks<'a>,
    }

    impl<'de> DeserializeSeed<'de> for Seed<'_, 'de> {
        type Value = JVal<'de>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed<'_, 'de> {
        type Value = JVal<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(JVal::Null)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(JVal::Null)
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(JVal::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(JVal::Int(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(if v <= i64::MAX as u64 { JVal::Int(v as i64) } else { JVal::UInt(v) })
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(JVal::Float(v))
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(JVal::Str(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(JVal::Str(self.arena.alloc_str(v)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let start = self.stacks.vals.len();
            loop {
                let next = seq.next_element_seed(Seed { arena: self.arena, stacks: &mut *self.stacks })?;
                match next {
                    Some(x) => self.stacks.vals.push(x),
                    None => break,
                }
            }
            let out = self.arena.alloc_slice_copy(&self.stacks.vals[start..]);
            self.stacks.vals.truncate(start);
            Ok(JVal::Arr(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let start = self.stacks.entries.len();
            while let Some(k) = map.next_key_seed(KeySeed(self.arena))? {
                let v = map.next_value_seed(Seed { arena: self.arena, stacks: &mut *self.stacks })?;
                self.stacks.entries.push((k, v));
            }
            let out = self.arena.alloc_slice_copy(&self.stacks.entries[start..]);
            self.stacks.entries.truncate(start);
            Ok(JVal::Obj(out))
        }
    }

    /// Deserializes an object key: borrowed from the input, or copied into the arena when it
    /// had escapes.
    struct KeySeed<'a>(&'a Bump);

    impl<'de> DeserializeSeed<'de> for KeySeed<'de> {
        type Value = &'de str;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeySeed<'de> {
        type Value = &'de str;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string key")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.0.alloc_str(v))
        }
    }

    #[test]
    fn parses_and_keeps_order_and_borrows() {
        let text = r#"{"b":1,"a":"x","c":{"z":null,"y":[1,2.5,"q\n"]},"big":18446744073709551615}"#;
        let arena = Bump::new();
        let v = JVal::parse_in(text, &arena).unwrap();
        let JVal::Obj(m) = &v else { panic!() };
        let keys: Vec<&str> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["b", "a", "c", "big"]);
        let JVal::Str(x) = m[1].1 else { panic!() };
        assert!(text.as_bytes().as_ptr_range().contains(&x.as_ptr()), "unescaped strings borrow the input");
        assert_eq!(m[3].1, JVal::UInt(u64::MAX));
        assert_eq!(v.to_json(), text);
    }

    #[test]
    fn sorted_json_and_floats() {
        let arena = Bump::new();
        let v = JVal::parse_in(r#"{"b":1.0,"a":{"d":1e20,"c":true}}"#, &arena).unwrap();
        let mut s = String::new();
        v.write_json(&mut s, true);
        assert_eq!(s, r#"{"a":{"c":true,"d":1e+20},"b":1.0}"#);
    }

    #[test]
    fn escaped_keys_and_strings_and_one_scratch_for_many_records() {
        let mut scratch = JScratch::default();
        let mut arena = Bump::new();
        for _ in 0..3 {
            let text = r#"{"a\"b":["x\té",[[],{}],{"k\n":"v"}],"n":-1}"#;
            let v = JVal::parse_with(text, &arena, &mut scratch).unwrap();
            let JVal::Obj(m) = v else { panic!() };
            assert_eq!(m[0].0, "a\"b");
            let JVal::Arr(a) = m[0].1 else { panic!() };
            assert_eq!(a[0], JVal::Str("x\té"));
            assert_eq!(a[1], JVal::Arr(&[JVal::Arr(&[]), JVal::Obj(&[])]));
            assert_eq!(a[2], JVal::Obj(&[("k\n", JVal::Str("v"))]));
            assert_eq!(m[1], (("n"), JVal::Int(-1)));
            assert_eq!(v.to_json(), text);
            arena.reset();
        }
        assert!(scratch.0.vals.capacity() > 0 && scratch.0.entries.capacity() > 0, "stacks are kept");
        for bad in ["{\"a\":1", "[1,2", "{\"a\":1} x", "{\"a\" 1}"] {
            assert!(JVal::parse_with(bad, &arena, &mut scratch).is_err(), "{bad}");
            assert!(scratch.0.vals.is_empty() && scratch.0.entries.is_empty());
        }
    }

    #[test]
    fn escapes_control_chars() {
        let mut s = String::new();
        write_json_str(&mut s, "a\u{1}\"\\");
        assert_eq!(s, r#""a\u0001\"\\""#);
    }

    /// Trees equal, floats within a few ulps (serde_json's default float parsing may be a
    /// few off, e.g. 2 ulps on `2.0555887547749854e-7`; the hand parser rounds correctly, as
    /// Python does).
    fn same(a: &JVal<'_>, b: &JVal<'_>) -> bool {
        match (a, b) {
            (JVal::Float(x), JVal::Float(y)) => x == y || x.to_bits().abs_diff(y.to_bits()) <= 4,
            (JVal::Arr(x), JVal::Arr(y)) => x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q)),
            (JVal::Obj(x), JVal::Obj(y)) => x.len() == y.len() && x.iter().zip(y.iter()).all(|((k, p), (l, q))| k == l && same(p, q)),
            _ => a == b,
        }
    }

    /// Both parsers accept the same documents, to the same tree, and reject the same ones.
    fn agree(text: &str, scratch: &mut JScratch) {
        let (a1, a2) = (Bump::new(), Bump::new());
        let ours = JVal::parse_with(text, &a1, scratch);
        let theirs = serde_parse(text, &a2);
        match (&ours, &theirs) {
            (Ok(x), Ok(y)) => assert!(same(x, y), "{text:?}: {x:?} vs serde_json {y:?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{text:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
        assert!(scratch.0.vals.is_empty() && scratch.0.entries.is_empty() && scratch.0.frames.is_empty());
    }

    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        let mut scratch = JScratch::default();
        let cases = [
            "0",
            "-0",
            "-0.0",
            "1",
            "-1",
            "01",
            "-01",
            "1.",
            ".5",
            "1.5",
            "1e5",
            "1E+5",
            "1e-5",
            "1e",
            "1e+",
            "-",
            "--1",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234567890",
            "1e308",
            "1e309",
            "-1e309",
            "1e-400",
            "0.1e1",
            "2.2250738585072014e-308",
            "0.30000000000000004",
            "1.7976931348623157e308",
            "true",
            "false",
            "null",
            "tru",
            "nul",
            "nulll",
            "True",
            "\"\"",
            "\"a\"",
            "\"a",
            "\"\\\"\"",
            "\"\\\\\"",
            "\"\\/\"",
            "\"\\b\\f\\n\\r\\t\"",
            "\"\\x\"",
            "\"\\u0041\"",
            "\"\\u00e9\"",
            "\"\\uD83D\\uDE00\"",
            "\"\\uD83D\"",
            "\"\\uD83Dx\"",
            "\"\\uDE00\"",
            "\"\\uD83D\\u0041\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "\"\\",
            "\"\u{1}\"",
            "\"a\tb\"",
            "\"\u{7f}\"",
            "\"é€😀\"",
            "[]",
            "{}",
            "[ ]",
            "{ }",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":1}}",
            "[[[]]]",
            "[[[]]",
            "{\"a\":{\"b\":[1,{\"c\":null}]}}",
            " \t\r\n[ 1 , { \"k\" : \"v\" } ] \n",
            "[1] x",
            "",
            " ",
            "\u{0}",
            "[\u{0}]",
            "{\"\":\"\"}",
            "{\"a\":1,\"a\":2}",
            "[1e1.5]",
            "[-]",
            "[1-2]",
            "[0x10]",
            "[Infinity]",
            "[NaN]",
            "[+1]",
            "\"\\u0000\"",
        ];
        for c in cases {
            agree(c, &mut scratch);
        }
        // floats round correctly (serde_json's default reads this one 2 ulps off)
        let arena = Bump::new();
        assert_eq!(JVal::parse_in("2.0555887547749854e-7", &arena).unwrap(), JVal::Float(2.0555887547749854e-7));
        // errors say where
        assert_eq!(JVal::parse_in("{\"a\":1,}", &arena).unwrap_err().to_string(), "key must be a string at column 8");
        assert_eq!(JVal::parse_in("[1,2", &arena).unwrap_err().to_string(), "EOF while parsing a list at column 5");
        assert_eq!(
            JVal::parse_in("\"a\u{1}\"", &arena).unwrap_err().to_string(),
            "control character (\\u0000-\\u001F) found while parsing a string at column 3"
        );
        // nesting up to the limit and past it
        for depth in [1, 100, 126, 127, 128, 129, 200] {
            agree(&format!("{}{}", "[".repeat(depth), "]".repeat(depth)), &mut scratch);
            agree(&format!("{}1{}", "[".repeat(depth), "]".repeat(depth)), &mut scratch);
        }
    }

    /// A random document: nested containers, escapes, surrogate pairs, numbers of every form,
    /// random whitespace.
    fn random_doc(rng: &mut fastrand::Rng, depth: u32, out: &mut String) {
        let ws = |rng: &mut fastrand::Rng, out: &mut String| {
            for _ in 0..rng.usize(..3).saturating_sub(1) {
                out.push([' ', '\n', '\t', '\r'][rng.usize(..4)]);
            }
        };
        ws(rng, out);
        match rng.u32(..if depth > 4 { 6 } else { 8 }) {
            0 => out.push_str(["null", "true", "false"][rng.usize(..3)]),
            1 | 2 => {
                let n = match rng.u32(..6) {
                    0 => rng.i64(..).to_string(),
                    1 => rng.u64(..).to_string(),
                    2 => format!("{}{}", rng.u64(..), rng.u64(..)),
                    3 => format!("{}.{}", rng.i32(..), rng.u32(..)),
                    4 => format!("{}e{}{}", rng.i16(..), ["", "+", "-"][rng.usize(..3)], rng.u32(..330)),
                    _ => format!("{:e}", f64::from_bits(rng.u64(..)).abs().min(1e300)),
                };
                out.push_str(&n);
            }
            3..=5 => {
                out.push('"');
                for _ in 0..rng.usize(..12) {
                    match rng.u32(..12) {
                        0 => out.push_str(["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"][rng.usize(..8)]),
                        1 => out.push_str(&format!("\\u{:04x}", rng.u32(0x20..0xd800))),
                        2 => out.push_str("\\ud83d\\ude00"),
                        3 => out.push(['é', '€', '😀', 'ß'][rng.usize(..4)]),
                        _ => out.push(char::from(rng.u8(b'a'..=b'z'))),
                    }
                }
                out.push('"');
            }
            6 => {
                out.push('[');
                for i in 0..rng.usize(..5) {
                    if i > 0 {
                        out.push(',');
                    }
                    random_doc(rng, depth + 1, out);
                }
                ws(rng, out);
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..rng.usize(..5) {
                    if i > 0 {
                        out.push(',');
                    }
                    ws(rng, out);
                    out.push_str(&format!("\"k{}\"", rng.u8(..20)));
                    ws(rng, out);
                    out.push(':');
                    random_doc(rng, depth + 1, out);
                }
                ws(rng, out);
                out.push('}');
            }
        }
        ws(rng, out);
    }

    /// Thousands of random documents, and each with a random edit (a byte removed, doubled or
    /// replaced by a JSON punctuation or a control character): both parsers agree on all.
    #[test]
    fn agrees_with_serde_json_on_random_and_broken_documents() {
        let mut rng = fastrand::Rng::with_seed(20261121);
        let mut scratch = JScratch::default();
        let mut accepted_broken = 0;
        for _ in 0..6000 {
            let mut doc = String::new();
            random_doc(&mut rng, 0, &mut doc);
            agree(&doc, &mut scratch);
            let mut bytes = doc.into_bytes();
            let at = rng.usize(..bytes.len());
            match rng.u32(..3) {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, bytes[at]),
                _ => {
                    let edits = b"{}[]:,\"\\-.e0\x01 ";
                    bytes[at] = edits[rng.usize(..edits.len())];
                }
            }
            // edits inside a multi-byte character make invalid UTF-8: not a JSON question
            if let Ok(broken) = String::from_utf8(bytes) {
                let arena = Bump::new();
                accepted_broken += usize::from(serde_parse(&broken, &arena).is_ok());
                agree(&broken, &mut scratch);
            }
        }
        // the edits must also produce documents that stay valid, or the test checks only errors
        assert!(accepted_broken > 300, "{accepted_broken}");
    }
}
