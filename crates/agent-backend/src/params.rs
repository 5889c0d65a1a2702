//! Parameters of a backend location: `?key=value` pairs of a URL or the
//! extra keys of a config table, checked against what each scheme accepts.

use std::collections::BTreeMap;

use backend_core::{Error, Result};

/// The parameters given for one scheme, consumed as they are read so that
/// any left over can be reported as unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    scheme: &'static str,
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses a URL query (`a=1&b=2`), percent-decoding keys and values.
    pub(crate) fn from_query(scheme: &'static str, query: &str) -> Result<Self> {
        let mut values = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key)?;
            let value = percent_decode(value)?;
            if values.insert(key.clone(), value).is_some() {
                return Err(Error::invalid_argument(format!(
                    "parameter `{key}` is given twice for {scheme}://"
                )));
            }
        }
        Ok(Params { scheme, values })
    }

    /// Adds a parameter from a config table; one given twice (in the URL
    /// and in the table) is refused.
    pub(crate) fn insert(&mut self, key: String, value: String) -> Result<()> {
        if self.values.contains_key(&key) {
            return Err(Error::invalid_argument(format!(
                "parameter `{key}` of {}:// is given both in the URL and in the table",
                self.scheme
            )));
        }
        self.values.insert(key, value);
        Ok(())
    }

    /// Takes a parameter as text.
    pub(crate) fn take(&mut self, key: &str) -> Option<String> {
        self.values.remove(key)
    }

    /// Takes a parameter parsed by `parse`, whose error explains the
    /// expected form.
    pub(crate) fn take_with<T>(
        &mut self,
        key: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.values.remove(key) {
            None => Ok(None),
            Some(raw) => parse(raw.trim()).map(Some).ok_or_else(|| {
                Error::invalid_argument(format!(
                    "parameter `{key}` of {}:// is {raw:?}; expected {expected}",
                    self.scheme
                ))
            }),
        }
    }

    /// Takes a yes/no parameter (`true`/`false`, `1`/`0`, `yes`/`no`).
    pub(crate) fn take_bool(&mut self, key: &str) -> Result<Option<bool>> {
        self.take_with(key, "true or false", parse_bool)
    }

    /// Takes a byte size such as `512m`, `1g` or `4096`.
    pub(crate) fn take_size(&mut self, key: &str) -> Result<Option<u64>> {
        self.take_with(
            key,
            "a byte size such as 4096, 512k, 512m or 2g",
            parse_size,
        )
    }

    /// Takes a whole number.
    pub(crate) fn take_u64(&mut self, key: &str) -> Result<Option<u64>> {
        self.take_with(key, "a whole number", |s| s.parse().ok())
    }

    /// Takes a positive decimal number.
    pub(crate) fn take_positive_f64(&mut self, key: &str) -> Result<Option<f64>> {
        self.take_with(key, "a positive number such as 1 or 0.5", |s| {
            s.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
        })
    }

    /// Takes the parameters of a remote provider: those in `accepted` and
    /// every `env.NAME` and `label.NAME`, checking that those in `numeric`
    /// are whole numbers.
    pub(crate) fn take_remote(
        &mut self,
        accepted: &[&str],
        numeric: &[&str],
    ) -> Result<BTreeMap<String, String>> {
        let keys: Vec<String> = self
            .values
            .keys()
            .filter(|key| {
                accepted.contains(&key.as_str())
                    || key
                        .strip_prefix("env.")
                        .is_some_and(|name| !name.is_empty())
                    || key
                        .strip_prefix("label.")
                        .is_some_and(|name| !name.is_empty())
            })
            .cloned()
            .collect();
        let mut taken = BTreeMap::new();
        for key in keys {
            let value = if numeric.contains(&key.as_str()) {
                self.take_u64(&key)?.map(|n| n.to_string())
            } else {
                self.take(&key)
            };
            if let Some(value) = value {
                taken.insert(key, value);
            }
        }
        Ok(taken)
    }

    /// Fails on any parameter not taken, naming what the scheme accepts.
    pub(crate) fn finish(self, accepted: &[&str]) -> Result<()> {
        match self.values.keys().next() {
            None => Ok(()),
            Some(key) => Err(Error::invalid_argument(format!(
                "unknown parameter `{key}` for {}://; accepted: {}",
                self.scheme,
                if accepted.is_empty() {
                    "none".to_owned()
                } else {
                    accepted.join(", ")
                }
            ))),
        }
    }
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `4096`, `512k`, `512m`, `2g`, `1t` (powers of 1024; `b`, `ib` and case
/// ignored).
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let trimmed = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (digits, shift) = match trimmed.chars().last()? {
        'k' => (&trimmed[..trimmed.len() - 1], 10),
        'm' => (&trimmed[..trimmed.len() - 1], 20),
        'g' => (&trimmed[..trimmed.len() - 1], 30),
        't' => (&trimmed[..trimmed.len() - 1], 40),
        _ => (trimmed, 0),
    };
    let number: u64 = digits.trim().parse().ok()?;
    number.checked_mul(1u64 << shift)
}

/// Decodes `%XX` escapes (and `+` as a space, as in query strings).
pub(crate) fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Error::invalid_argument(format!(
                            "{s:?} has a `%` not followed by two hex digits"
                        ))
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::invalid_argument(format!("{s:?} does not decode to UTF-8 text")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("512mb"), Some(512 << 20));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let mut p =
            Params::from_query("s3", "endpoint=http%3A%2F%2Flocalhost%3A9000&a=b+c").unwrap();
        assert_eq!(p.take("endpoint").as_deref(), Some("http://localhost:9000"));
        assert_eq!(p.take("a").as_deref(), Some("b c"));
        assert!(Params::from_query("s3", "a=%zz").is_err());
    }

    #[test]
    fn leftover_parameters_are_named() {
        let p = Params::from_query("docker", "memroy=1g").unwrap();
        let err = p.finish(&["memory", "cpus"]).unwrap_err();
        assert!(err.message().contains("`memroy`"), "{}", err.message());
        assert!(err.message().contains("memory, cpus"), "{}", err.message());
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let mut p = Params::from_query("docker", "cpus=lots").unwrap();
        let err = p.take_positive_f64("cpus").unwrap_err();
        assert!(err.message().contains("`cpus`"), "{}", err.message());
    }
}
