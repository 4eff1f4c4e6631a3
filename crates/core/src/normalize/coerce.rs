//! Value → column coercion, following dlt's coercion matrix
//! (`dlt/common/data_types/type_helpers.py`). A value that cannot be coerced goes to a variant
//! column (`col__v_<type>`), decided by the caller.

use base64::Engine as _;

use super::buffer::ColBuf;
use super::jval::{JVal, float_json};
use crate::schema::DataType;

/// dlt's type of a JSON value (its Python type mapped to a dlt type).
pub fn py_type(v: &JVal<'_>) -> DataType {
    match v {
        JVal::Null | JVal::Str(_) => DataType::Text,
        JVal::Bool(_) => DataType::Bool,
        JVal::Int(_) => DataType::Bigint,
        JVal::UInt(_) => DataType::Wei,
        JVal::Float(_) => DataType::Double,
        JVal::Arr(_) | JVal::Obj(_) => DataType::Json,
    }
}

fn str2bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "on" => Some(true),
        "false" | "f" | "no" | "n" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok();
    }
    t.parse().ok()
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok().map(|i| i as f64);
    }
    t.parse().ok()
}

/// Parses a decimal string into an unscaled i128 at `scale`.
fn parse_decimal(s: &str, scale: i8) -> Option<i128> {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        // scientific notation and the rest go through f64
        let f: f64 = t.parse().ok()?;
        let v = f * 10f64.powi(scale as i32);
        return v.is_finite().then(|| if neg { -(v.round() as i128) } else { v.round() as i128 });
    }
    let mut v: i128 = 0;
    for b in int_part.bytes() {
        v = v.checked_mul(10)?.checked_add((b - b'0') as i128)?;
    }
    let scale = scale.max(0) as usize;
    let mut fr = frac_part.bytes();
    for _ in 0..scale {
        let d = fr.next().map(|b| (b - b'0') as i128).unwrap_or(0);
        v = v.checked_mul(10)?.checked_add(d)?;
    }
    Some(if neg { -v } else { v })
}

fn fits_precision(v: i128, precision: u8) -> bool {
    precision >= 38 || v.unsigned_abs() < 10u128.pow(precision as u32)
}

/// Appends `v` coerced to column type `dt` into `cell`. Returns false (and appends nothing)
/// when the value cannot be coerced.
pub fn append(cell: &mut ColBuf, dt: DataType, v: &JVal<'_>) -> bool {
    match cell {
        ColBuf::Str(b) => {
            if dt == DataType::Json {
                match v {
                    JVal::Str(s) => {
                        // dlt coerces text to json with json.loads
                        if serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok() {
                            b.append_value(*s);
                            return true;
                        }
                        return false;
                    }
                    other => {
                        b.append_value(other.to_json());
                        return true;
                    }
                }
            }
            match v {
                JVal::Str(s) => b.append_value(*s),
                JVal::Int(i) => b.append_value(i.to_string()),
                JVal::UInt(u) => b.append_value(u.to_string()),
                JVal::Float(f) => b.append_value(float_json(*f)),
                JVal::Bool(x) => b.append_value(if *x { "True" } else { "False" }),
                JVal::Arr(_) | JVal::Obj(_) => b.append_value(v.to_json()),
                JVal::Null => b.append_null(),
            }
            true
        }
        ColBuf::I64(b) => {
            let x = match v {
                JVal::Int(i) => Some(*i),
                JVal::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
                JVal::Str(s) => parse_int(s),
                _ => None,
            };
            x.map(|x| b.append_value(x)).is_some()
        }
        ColBuf::F64(b) => {
            let x = match v {
                JVal::Float(f) => Some(*f),
                JVal::Int(i) => Some(*i as f64),
                JVal::UInt(u) => Some(*u as f64),
                JVal::Str(s) => parse_float(s),
                _ => None,
            };
            x.map(|x| b.append_value(x)).is_some()
        }
        ColBuf::Bool(b) => {
            let x = match v {
                JVal::Bool(x) => Some(*x),
                JVal::Str(s) => str2bool(s),
                JVal::Int(i) => Some(*i != 0),
                JVal::Float(f) => Some(*f != 0.0),
                _ => None,
            };
            x.map(|x| b.append_value(x)).is_some()
        }
        ColBuf::Ts(b) => {
            let x = match v {
                JVal::Str(s) => {
                    crate::time::parse_iso_datetime(s).or_else(|| crate::time::parse_iso_date(s).map(|d| d as i64 * 86_400_000_000))
                }
                JVal::Int(i) => i.checked_mul(1_000_000),
                JVal::Float(f) if f.is_finite() => Some((f * 1_000_000.0).round() as i64),
                _ => None,
            };
            x.map(|x| b.append_value(x)).is_some()
        }
        ColBuf::Date(b) => {
            let x = match v {
                JVal::Str(s) => crate::time::parse_iso_date(s)
                    .or_else(|| crate::time::parse_iso_datetime(s).map(|us| us.div_euclid(86_400_000_000) as i32)),
                JVal::Int(i) => Some(i.div_euclid(86_400) as i32),
                JVal::Float(f) if f.is_finite() => Some((f / 86_400.0).floor() as i32),
                _ => None,
            };
            x.map(|x| b.append_value(x)).is_some()
        }
        ColBuf::Time(b) => {
            let x = match v {
                JVal::Str(s) => crate::time::parse_iso_time(s),
                _ => None,
            };
            x.map(|x| b.append_value(x)).is_some()
        }
        ColBuf::Dec(b, p, s) => {
            let (p, s) = (*p, *s);
            let x = match v {
                JVal::Int(i) => (*i as i128).checked_mul(10i128.pow(s.max(0) as u32)),
                JVal::UInt(u) => (*u as i128).checked_mul(10i128.pow(s.max(0) as u32)),
                JVal::Float(f) if f.is_finite() => parse_decimal(&format!("{f}"), s),
                JVal::Str(t) => parse_decimal(t, s),
                _ => None,
            };
            match x {
                Some(x) if fits_precision(x, p) => {
                    b.append_value(x);
                    true
                }
                _ => false,
            }
        }
        ColBuf::Bin(b) => {
            let x = match v {
                JVal::Str(s) => {
                    if let Some(h) = s.strip_prefix("0x") {
                        decode_hex(h)
                    } else {
                        base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).ok()
                    }
                }
                _ => None,
            };
            x.map(|x| b.append_value(x)).is_some()
        }
    }
}

fn decode_hex(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("1.5", 2), Some(150));
        assert_eq!(parse_decimal("-0.125", 3), Some(-125));
        assert_eq!(parse_decimal("12", 0), Some(12));
        assert_eq!(parse_decimal("1e2", 1), Some(1000));
        assert_eq!(parse_decimal("abc", 1), None);
        assert!(fits_precision(999, 3));
        assert!(!fits_precision(1000, 3));
    }

    #[test]
    fn bools_and_ints() {
        assert_eq!(str2bool("Yes"), Some(true));
        assert_eq!(str2bool("0"), Some(false));
        assert_eq!(str2bool("maybe"), None);
        assert_eq!(parse_int(" 0xFF "), Some(255));
        assert_eq!(parse_float("2.5"), Some(2.5));
    }
}
