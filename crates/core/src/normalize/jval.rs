//! A borrowed JSON value: objects keep key order in a `Vec` (no hashing), strings borrow
//! from the input line when they have no escapes. Parsing into it costs a fraction of
//! `serde_json::Value`, and it keeps the whole record available (key hashes need it).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value borrowing from its input.
#[derive(Debug, Clone, PartialEq)]
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
    Str(Cow<'a, str>),
    /// An array.
    Arr(Vec<JVal<'a>>),
    /// An object, keys in input order.
    Obj(Vec<(Cow<'a, str>, JVal<'a>)>),
}

impl<'a> JVal<'a> {
    /// Parses one JSON document.
    pub fn parse(text: &'a str) -> serde_json::Result<JVal<'a>> {
        serde_json::from_str(text)
    }

    /// Borrows a `serde_json::Value`.
    pub fn from_value(v: &'a serde_json::Value) -> JVal<'a> {
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
            serde_json::Value::String(s) => JVal::Str(Cow::Borrowed(s.as_str())),
            serde_json::Value::Array(a) => JVal::Arr(a.iter().map(JVal::from_value).collect()),
            serde_json::Value::Object(m) => {
                JVal::Obj(m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), JVal::from_value(v))).collect())
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
                    idx.sort_by(|a, b| m[*a].0.cmp(&m[*b].0));
                    for (i, j) in idx.into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_json_str(out, &m[j].0);
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

impl<'de> Deserialize<'de> for JVal<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JValVisitor)
    }
}

struct JValVisitor;

impl<'de> Visitor<'de> for JValVisitor {
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
        Ok(JVal::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(JVal::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut v: Vec<(Cow<'de, str>, JVal<'de>)> = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(k) = map.next_key::<KeyCow<'de>>()? {
            let val: JVal<'de> = map.next_value()?;
            v.push((k.0, val));
        }
        Ok(JVal::Obj(v))
    }
}

struct KeyCow<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for KeyCow<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KV;
        impl<'de> Visitor<'de> for KV {
            type Value = KeyCow<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyCow(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyCow(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(KeyCow(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KV)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_keeps_order_and_borrows() {
        let text = r#"{"b":1,"a":"x","c":{"z":null,"y":[1,2.5,"q\n"]},"big":18446744073709551615}"#;
        let v = JVal::parse(text).unwrap();
        let JVal::Obj(m) = &v else { panic!() };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, vec!["b", "a", "c", "big"]);
        assert!(matches!(&m[1].1, JVal::Str(Cow::Borrowed("x"))));
        assert_eq!(m[3].1, JVal::UInt(u64::MAX));
        assert_eq!(v.to_json(), text);
    }

    #[test]
    fn sorted_json_and_floats() {
        let v = JVal::parse(r#"{"b":1.0,"a":{"d":1e20,"c":true}}"#).unwrap();
        let mut s = String::new();
        v.write_json(&mut s, true);
        assert_eq!(s, r#"{"a":{"c":true,"d":1e+20},"b":1.0}"#);
    }

    #[test]
    fn escapes_control_chars() {
        let mut s = String::new();
        write_json_str(&mut s, "a\u{1}\"\\");
        assert_eq!(s, r#""a\u0001\"\\""#);
    }
}
