//! Typed sections: a struct declared once with [`config_section!`](crate::config_section) is
//! its own [`SectionSpec`] (keys, kinds, secrets, the reference's defaults and meanings), its
//! defaults and its reader, so a key cannot be documented under one name and read under another.

use super::*;

/// A Rust type a configuration key can hold: its [`ValueKind`] for the reference and the
/// validator, whether it is a secret, and how it is read.
pub trait KeyValue: Sized {
    /// The kind the spec declares.
    const KIND: ValueKind;
    /// Whether the key is a secret (refused from `config.toml`, printed as `***`).
    const SECRET: bool = false;
    /// Reads `key` under `paths` with the usual lookup and fallbacks; `None` when it is absent.
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> crate::Result<Option<Self>>;
}

/// `KeyValue` for types read by one getter of [`Config`].
macro_rules! key_value_by_getter {
    ($($ty:ty: $kind:ident, $getter:ident);+ $(;)?) => {$(
        impl KeyValue for $ty {
            const KIND: ValueKind = ValueKind::$kind;
            fn read(config: &Config, paths: &[&[&str]], key: &str) -> crate::Result<Option<Self>> {
                Ok(config.$getter(paths, key)?)
            }
        }
    )+};
}

key_value_by_getter! {
    String: String, get_str;
    bool: Bool, get_bool;
    u64: Integer, get_u64;
    i64: Integer, get_i64;
    f64: Float, get_f64;
    toml::Table: Table, get_table;
}

impl KeyValue for usize {
    const KIND: ValueKind = ValueKind::Integer;
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> crate::Result<Option<Self>> {
        Ok(config.get_u64(paths, key)?.map(|v| usize::try_from(v).unwrap_or(usize::MAX)))
    }
}

impl KeyValue for Secret<String> {
    const KIND: ValueKind = ValueKind::String;
    const SECRET: bool = true;
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> crate::Result<Option<Self>> {
        Ok(config.get_secret_str(paths, key)?)
    }
}

/// A duration given in seconds (integers and fractions; must be positive).
impl KeyValue for std::time::Duration {
    const KIND: ValueKind = ValueKind::Float;
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> crate::Result<Option<Self>> {
        let Some(v) = config.get_f64(paths, key)? else { return Ok(None) };
        if !(v.is_finite() && v > 0.0) {
            let section = paths.first().map(|p| p.join(".")).unwrap_or_default();
            return Err(crate::Error::config(format!("[{section}] {key} = {v} is not a positive number of seconds")));
        }
        Ok(Some(std::time::Duration::from_secs_f64(v)))
    }
}

/// Any value, checked by the consumer ([`ValueKind::Any`]).
impl KeyValue for toml::Value {
    const KIND: ValueKind = ValueKind::Any;
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> crate::Result<Option<Self>> {
        Ok(config.get(paths, key).map(|cv| cv.value))
    }
}

/// An optional key: absent stays `None`.
impl<T: KeyValue> KeyValue for Option<T> {
    const KIND: ValueKind = T::KIND;
    const SECRET: bool = T::SECRET;
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> crate::Result<Option<Self>> {
        Ok(T::read(config, paths, key)?.map(Some))
    }
}

/// A key's meaning from its doc comment: `/// text` arrives as `" text"`.
#[doc(hidden)]
pub const fn doc_text(doc: &'static str) -> &'static str {
    doc.trim_ascii()
}

/// Declares a configuration section once: the [`SectionSpec`] static (what validation, the
/// environment names and `docs/config.md` are derived from), the struct with one field per key
/// (named as the key, dlt's names), its `Default`, and `read(&Config)` which fills the fields
/// from the layered configuration.
///
/// Each key field has one doc line (its meaning in the reference), a type implementing
/// [`KeyValue`], a default expression and, after `=>`, the default as the reference shows it.
/// A field whose type is not read directly names, after `; read`, the [`KeyValue`] type the
/// key holds and a function turning it into the field (`fn(Raw) -> Result<Field>`).
/// Fields marked `#[filled]` come first: they are not keys but what the consumer builds from
/// child sections (such as `credentials`) or from several keys; they start from `Default`.
///
/// ```
/// use stevedore_core::config::Config;
/// stevedore_core::config_section! {
///     /// `[destination.example]` keys.
///     pub static EXAMPLE_SPEC = ["destination", "example"];
///     /// Resolved `[destination.example]` settings.
///     #[derive(Debug, Clone)]
///     pub struct ExampleConfig {
///         /// connections for parallel jobs
///         pub pool_size: usize = 4 => "4",
///         /// a named stage
///         pub stage_name: Option<String> = None,
///     }
/// }
/// let env = [("DESTINATION__EXAMPLE__POOL_SIZE".to_string(), "8".to_string())].into();
/// let config = Config::load(std::path::Path::new("/nonexistent"), &env).unwrap();
/// let c = ExampleConfig::read(&config).unwrap();
/// assert_eq!((c.pool_size, c.stage_name), (8, None));
/// assert_eq!(EXAMPLE_SPEC.keys[0].name, "pool_size");
/// ```
#[macro_export]
macro_rules! config_section {
    (@kind $ty:ty) => { <$ty as $crate::config::KeyValue>::KIND };
    (@kind $ty:ty; $raw:ty) => { <$raw as $crate::config::KeyValue>::KIND };
    (@secret $ty:ty) => { <$ty as $crate::config::KeyValue>::SECRET };
    (@secret $ty:ty; $raw:ty) => { <$raw as $crate::config::KeyValue>::SECRET };
    (@read $config:ident, $paths:ident, $out:ident . $field:ident : $ty:ty) => {
        if let Some(v) = <$ty as $crate::config::KeyValue>::read($config, &$paths, stringify!($field))? {
            $out.$field = v;
        }
    };
    (@read $config:ident, $paths:ident, $out:ident . $field:ident : $ty:ty; $raw:ty => $conv:expr) => {
        if let Some(v) = <$raw as $crate::config::KeyValue>::read($config, &$paths, stringify!($field))? {
            $out.$field = ($conv)(v)?;
        }
    };
    (
        $(#[doc = $sdoc:literal])*
        $svis:vis static $spec:ident = [$($p:literal),+ $(,)?]
            $(, alt [$([$($a:literal),+ $(,)?]),* $(,)?])?
            $(, children [$($child:expr),* $(,)?])? ;
        $(#[$smeta:meta])*
        $vis:vis struct $name:ident {
            $(
                #[filled]
                #[doc = $cdoc:literal]
                $cvis:vis $cfield:ident : $cty:ty,
            )*
            $(
                #[doc = $doc:literal]
                $fvis:vis $field:ident : $ty:ty = $default:expr $(=> $shown:literal)? $(; read $raw:ty => $conv:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[doc = $sdoc])*
        $svis static $spec: $crate::config::SectionSpec = $crate::config::SectionSpec {
            path: &[$($p),+],
            alt_paths: &[$($(&[$($a),+]),*)?],
            keys: &[$(
                $crate::config::KeySpec {
                    name: stringify!($field),
                    kind: $crate::config_section!(@kind $ty $(; $raw)?),
                    secret: $crate::config_section!(@secret $ty $(; $raw)?),
                    doc: $crate::config::doc_text($doc),
                    default: concat!("" $(, $shown)?),
                }
            ),*],
            children: &[$($($child),*)?],
        };

        $(#[$smeta])*
        $vis struct $name {
            $(#[doc = $cdoc] $cvis $cfield: $cty,)*
            $(#[doc = $doc] $fvis $field: $ty,)*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                $name {
                    $($cfield: ::core::default::Default::default(),)*
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            /// Reads the section's keys from `config` (with the usual lookup, fallbacks and
            /// type checks); absent keys keep their defaults, filled fields their `Default`.
            pub fn read(config: &$crate::config::Config) -> $crate::Result<Self> {
                let paths = $spec.lookup_paths();
                #[allow(unused_mut)]
                let mut out = <Self as ::core::default::Default>::default();
                $($crate::config_section!(@read config, paths, out.$field: $ty $(; $raw => $conv)?);)*
                Ok(out)
            }
        }
    };
}
