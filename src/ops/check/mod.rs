//! `diemcau check`: is this machine ready to run the configured server?
//! For the installer, before the first start or after a change: the config
//! (every problem, not only the first), the files it names (certificates
//! and their expiry, trust anchors, the audit key), the listen ports, the
//! data directory and its free disk, the database and its schema, the
//! clock. Each check is printed in Vietnamese and English; any failure
//! makes the exit status non-zero and is named again at the end.
//!
//! It changes nothing: no migration, no file but a probe it removes, no
//! socket kept.

mod config;
mod database;
mod files;
mod host;

use std::io::Write;
use std::path::Path;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Worth knowing; the server runs.
    Warn,
    /// The server will not start, or will not work as configured.
    Fail,
}

/// One check's outcome, said in both languages.
#[derive(Debug, Clone)]
pub struct Item {
    pub status: Status,
    pub vi: String,
    pub en: String,
}

/// Every check's outcome, in order.
#[derive(Debug, Default)]
pub struct Report {
    pub items: Vec<Item>,
}

impl Report {
    fn push(&mut self, status: Status, vi: impl Into<String>, en: impl Into<String>) {
        self.items.push(Item {
            status,
            vi: vi.into(),
            en: en.into(),
        });
    }
    fn ok(&mut self, vi: impl Into<String>, en: impl Into<String>) {
        self.push(Status::Ok, vi, en);
    }
    fn warn(&mut self, vi: impl Into<String>, en: impl Into<String>) {
        self.push(Status::Warn, vi, en);
    }
    fn fail(&mut self, vi: impl Into<String>, en: impl Into<String>) {
        self.push(Status::Fail, vi, en);
    }

    /// The failed checks.
    pub fn problems(&self) -> Vec<&Item> {
        self.items
            .iter()
            .filter(|i| i.status == Status::Fail)
            .collect()
    }

    /// Every check, then the problems again as a list to work through.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        for i in &self.items {
            let tag = match i.status {
                Status::Ok => "[ĐẠT / OK]",
                Status::Warn => "[LƯU Ý / WARN]",
                Status::Fail => "[LỖI / FAIL]",
            };
            writeln!(out, "{tag:<14} {}", capitalised(&i.vi))?;
            writeln!(out, "{:14} {}", "", capitalised(&i.en))?;
        }
        let problems = self.problems();
        writeln!(out)?;
        if problems.is_empty() {
            let warns = self
                .items
                .iter()
                .filter(|i| i.status == Status::Warn)
                .count();
            writeln!(
                out,
                "Sẵn sàng: không có lỗi ({warns} lưu ý). / Ready: no problems ({}).",
                counted(warns, "warning")
            )?;
        } else {
            writeln!(
                out,
                "Có {} lỗi cần sửa trước khi chạy / {} to fix before running:",
                problems.len(),
                counted(problems.len(), "problem")
            )?;
            for (k, p) in problems.iter().enumerate() {
                writeln!(out, "  {}. {}", k + 1, capitalised(&p.vi))?;
                writeln!(out, "     {}", capitalised(&p.en))?;
            }
        }
        Ok(())
    }
}

/// `1 problem`, `2 problems`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A sentence starts with a capital, whatever noun the check put first.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Run every check on the config at `path` (none: defaults) with the
/// `DIEMCAU_*` overrides in `env`.
pub async fn run(path: Option<&Path>, env: Vec<(String, String)>) -> Report {
    let mut report = Report::default();
    let Some(config) = config::check(&mut report, path, env) else {
        // Without a config there is no data directory or database to look at.
        host::clock(&mut report);
        return report;
    };
    files::check(&mut report, &config);
    host::ports(&mut report, &config);
    host::data_dir(&mut report, &config);
    database::check(&mut report, &config).await;
    files::objects(&mut report, &config).await;
    host::clock(&mut report);
    report
}
