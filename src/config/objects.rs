//! `[objects]`: where documents and recordings are kept (`crate::objects`
//! opens the store this describes).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[objects]`: which store keeps documents and recordings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectsConfig {
    /// `local` (directories under `data_dir`) or `s3`.
    pub kind: ObjectsKind,
    /// With `s3`: the service's base URL, `https://…` (or `http://…`, then
    /// plain HTTP is allowed for it and only for it).
    pub endpoint: Option<String>,
    /// With `s3`: the bucket (must exist).
    pub bucket: Option<String>,
    /// With `s3`: the signing region.
    pub region: String,
    pub access_key_id: Option<String>,
    /// Exactly one of `secret_access_key` and `secret_access_key_file`.
    pub secret_access_key: Option<String>,
    /// A file holding the secret key (read at start, trimmed).
    pub secret_access_key_file: Option<PathBuf>,
    /// Key prefix inside the bucket, e.g. `tinh-lao-cai/` (a `/` is added
    /// when missing); empty: the bucket's root.
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ObjectsKind {
    #[default]
    Local,
    S3,
}

impl Default for ObjectsConfig {
    fn default() -> Self {
        ObjectsConfig {
            kind: ObjectsKind::Local,
            endpoint: None,
            bucket: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
            prefix: String::new(),
        }
    }
}

/// An S3 bucket name as the service accepts it (3 to 63 lowercase letters,
/// digits, `.` and `-`, starting and ending with a letter or digit).
fn valid_bucket(b: &str) -> bool {
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.bytes().all(|c| edge(c) || c == b'.' || c == b'-')
        && b.bytes().next().is_some_and(edge)
        && b.bytes().last().is_some_and(edge)
}

/// `http(s)://host[:port][/path]` with a non-empty host and nothing a URL
/// parser could read two ways (spaces, user info, query, fragment).
pub(crate) fn valid_endpoint(e: &str) -> bool {
    let Some(rest) = e
        .strip_prefix("https://")
        .or_else(|| e.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    // `[v6]:port`, `name:port` or either without a port.
    let (name, port) = match host.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, tail)) => match tail.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return false,
            },
            None => return false,
        },
        None => match host.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        },
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    !name.is_empty()
        && !e
            .bytes()
            .any(|b| b.is_ascii_whitespace() || matches!(b, b'@' | b'?' | b'#'))
}

impl ObjectsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.kind == ObjectsKind::Local {
            // A half-configured S3 store is a mistake, not a choice.
            for (key, set) in [
                ("objects.endpoint", self.endpoint.is_some()),
                ("objects.bucket", self.bucket.is_some()),
                ("objects.access_key_id", self.access_key_id.is_some()),
                (
                    "objects.secret_access_key",
                    self.secret_access_key.is_some(),
                ),
                (
                    "objects.secret_access_key_file",
                    self.secret_access_key_file.is_some(),
                ),
                ("objects.prefix", !self.prefix.is_empty()),
            ] {
                if set {
                    return invalid(key, "is only used with kind = \"s3\"".into());
                }
            }
            return Ok(());
        }
        match &self.endpoint {
            None => return invalid("objects.endpoint", "is required with kind = \"s3\"".into()),
            Some(e) if !valid_endpoint(e) => {
                return invalid(
                    "objects.endpoint",
                    format!("{e:?} is not an http:// or https:// URL with a host"),
                );
            }
            Some(_) => {}
        }
        match &self.bucket {
            None => return invalid("objects.bucket", "is required with kind = \"s3\"".into()),
            Some(b) if !valid_bucket(b) => {
                return invalid(
                    "objects.bucket",
                    format!("{b:?} must be 3 to 63 lowercase letters, digits, '.' or '-'"),
                );
            }
            Some(_) => {}
        }
        if self.region.trim().is_empty() {
            return invalid("objects.region", "must not be empty".into());
        }
        if self
            .access_key_id
            .as_deref()
            .is_none_or(|k| k.trim().is_empty())
        {
            return invalid(
                "objects.access_key_id",
                "is required with kind = \"s3\"".into(),
            );
        }
        match (&self.secret_access_key, &self.secret_access_key_file) {
            (Some(_), Some(_)) => {
                return invalid(
                    "objects.secret_access_key_file",
                    "set either secret_access_key or secret_access_key_file, not both".into(),
                );
            }
            (None, None) => {
                return invalid(
                    "objects.secret_access_key",
                    "is required with kind = \"s3\" (or secret_access_key_file)".into(),
                );
            }
            (Some(k), None) if k.trim().is_empty() => {
                return invalid("objects.secret_access_key", "must not be empty".into());
            }
            _ => {}
        }
        let p = self.prefix.trim_end_matches('/');
        if !p.is_empty()
            && (p.starts_with('/')
                || p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/')))
        {
            return invalid(
                "objects.prefix",
                format!(
                    "{:?} must be segments of letters, digits, '-', '_' or '.' joined by '/'",
                    self.prefix
                ),
            );
        }
        Ok(())
    }

    /// The secret key: `secret_access_key`, or the trimmed contents of
    /// `secret_access_key_file`.
    pub fn secret(&self) -> Result<String, ConfigError> {
        if let Some(k) = &self.secret_access_key {
            return Ok(k.trim().to_string());
        }
        let Some(path) = &self.secret_access_key_file else {
            return Ok(String::new());
        };
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
            key: "objects.secret_access_key_file",
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let text = text.trim();
        if text.is_empty() {
            return Err(ConfigError::Invalid {
                key: "objects.secret_access_key_file",
                message: format!("{} is empty", path.display()),
            });
        }
        Ok(text.to_string())
    }

    /// The prefix as a directory (`a/b/`), or empty.
    pub fn dir_prefix(&self) -> String {
        let p = self.prefix.trim_end_matches('/');
        if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        }
    }
}
