//! The config, every problem named: serde and `Config::validate` stop at
//! the first, so each bad key is reported, put back to its default, and
//! the config read again until it passes.

use std::path::Path;

use super::Report;
use crate::config::{Config, ConfigError};

/// More problems than this in one file is a wrong file, not a config to
/// fix key by key (and bounds the loop below).
const MAX_CONFIG_PROBLEMS: usize = 50;

/// Check the config; the one to go on with (bad keys at their defaults),
/// or `None` when the file cannot be read or is not TOML.
pub fn check(r: &mut Report, path: Option<&Path>, env: Vec<(String, String)>) -> Option<Config> {
    let shown = path.map_or_else(
        || "(không có tệp, giá trị mặc định / no file, defaults)".to_string(),
        |p| p.display().to_string(),
    );
    let mut table = match Config::load_table(path, env) {
        Ok(t) => t,
        Err(e) => {
            r.fail(
                format!("Không đọc được cấu hình {shown}"),
                format!("cannot read the config: {e}"),
            );
            return None;
        }
    };
    let mut bad = 0;
    let mut config = None;
    while bad < MAX_CONFIG_PROBLEMS {
        let value = toml::Value::Table(table.clone());
        let (key, message) = match serde_path_to_error::deserialize::<_, Config>(value) {
            Err(e) => {
                let message = e.inner().message().to_string();
                (typed_key(&e.path().to_string(), &message), message)
            }
            Ok(c) => match c.validate() {
                Ok(()) => {
                    config = Some(c);
                    break;
                }
                Err(ConfigError::Invalid { key, message }) => {
                    config = Some(c);
                    (key.to_string(), message)
                }
                Err(other) => {
                    config = Some(c);
                    (String::new(), other.to_string())
                }
            },
        };
        bad += 1;
        r.fail(
            format!("Cấu hình {shown}: khóa `{key}` sai"),
            format!("config {shown}: key `{key}`: {message}"),
        );
        if !reset(&mut table, &key) {
            break;
        }
        config = None;
    }
    if bad == 0 {
        r.ok(
            format!("Cấu hình {shown} đọc được và hợp lệ"),
            format!("config {shown} parses and validates"),
        );
        return config;
    }
    if config.is_none() {
        // Still failing after every reset: go on with the defaults but for
        // the data directory and database, which the other checks need.
        let mut c = Config::default();
        if let Some(Ok(d)) = table.get("data_dir").map(|v| v.clone().try_into()) {
            c.data_dir = d;
        }
        config = Some(c);
    }
    r.warn(
        "Các kiểm tra dưới đây dùng giá trị mặc định cho những khóa sai ở trên",
        "the checks below use the defaults for the keys named above",
    );
    config
}

/// The key a deserialisation error is about: its path, plus the field's
/// own name for an unknown field (serde names it only in the message).
fn typed_key(path: &str, message: &str) -> String {
    let path = if path == "." { "" } else { path };
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(field) if !path.ends_with(field) => {
            if path.is_empty() {
                field.to_string()
            } else {
                format!("{path}.{field}")
            }
        }
        _ => path.to_string(),
    }
}

/// Put `key` (`section.key`, maybe with `[n]`) back to its default by
/// removing it; when it is not in the table (a rule about a missing key),
/// its section. `false` when nothing could be removed.
fn reset(table: &mut toml::Table, key: &str) -> bool {
    let parts: Vec<&str> = key
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .filter(|p| !p.is_empty())
        .collect();
    for len in (1..=parts.len()).rev() {
        if remove_path(table, &parts[..len]) {
            return true;
        }
    }
    false
}

fn remove_path(table: &mut toml::Table, parts: &[&str]) -> bool {
    match parts {
        [] => false,
        [last] => table.remove(*last).is_some(),
        [first, rest @ ..] => match table.get_mut(*first).and_then(|v| v.as_table_mut()) {
            Some(t) => remove_path(t, rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_key_is_named_and_the_rest_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[media]\nudp_port = \"x\"\nudp_prot = 1\n[http]\nhttp_listen = \"0.0.0.0:8080\"\n\
             [documents]\nmax_upload_mib = 0\n",
        )
        .unwrap();
        let mut r = Report::default();
        let c = check(&mut r, Some(&path), Vec::new());
        let text: Vec<&str> = r.items.iter().map(|i| i.en.as_str()).collect();
        for key in [
            "`media.udp_port`",
            "`media.udp_prot`",
            "`http.http_listen`",
            "`documents.max_upload_mib`",
        ] {
            assert!(text.iter().any(|t| t.contains(key)), "{key} in {text:#?}");
        }
        assert_eq!(r.problems().len(), 4, "{text:#?}");
        assert!(c.is_some());
    }
}
