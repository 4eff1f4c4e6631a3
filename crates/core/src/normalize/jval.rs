//! A borrowed JSON value: objects keep key order in a slice (no hashing), strings borrow
//! from the input line when they have no escapes. Containers and unescaped strings live in a
//! bump arena the caller resets between records, so a record's tree costs no `malloc`/`free`
//! per container and nothing to drop. It keeps the whole record available (key hashes need it).

use std::fmt;

use bumpalo::Bump;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

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
    vals: Vec<JVal<'a>>,
    entries: Vec<(&'a str, JVal<'a>)>,
}

impl Stacks<'_> {
    /// The same (emptied) allocations, for another lifetime.
    fn recycle<'b>(self) -> Stacks<'b> {
        Stacks { vals: recycle(self.vals), entries: recycle(self.entries) }
    }
}

/// Reuses an emptied vector's allocation for a type of the same layout (std collects a
/// `vec::IntoIter` of same-sized elements in place).
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector was cleared")).collect()
}

impl<'a> JVal<'a> {
    /// Parses one JSON document into `arena` (a one-off; loops reuse a [`JScratch`] with
    /// [`JVal::parse_with`]).
    pub fn parse_in(text: &'a str, arena: &'a Bump) -> serde_json::Result<JVal<'a>> {
        JVal::parse_with(text, arena, &mut JScratch::default())
    }

    /// Parses one JSON document into `arena`, using `scratch` for containers in progress.
    pub fn parse_with(text: &'a str, arena: &'a Bump, scratch: &mut JScratch) -> serde_json::Result<JVal<'a>> {
        let mut stacks = std::mem::take(&mut scratch.0).recycle();
        let mut de = serde_json::Deserializer::from_str(text);
        let v = Seed { arena, stacks: &mut stacks }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
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
            serde_json::Value::Array(a) => {
                JVal::Arr(arena.alloc_slice_fill_iter(a.iter().map(|x| JVal::from_value(x, arena))))
            }
            serde_json::Value::Object(m) => JVal::Obj(
                arena.alloc_slice_fill_iter(m.iter().map(|(k, v)| (k.as_str(), JVal::from_value(v, arena)))),
            ),
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
    if let Some(pos) = s.find('e') {
        if !s[pos + 1..].starts_with('-') && !s[pos + 1..].starts_with('+') {
            return format!("{}e+{}", &s[..pos], &s[pos + 1..]);
        }
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

/// Deserializes one value into the arena.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
