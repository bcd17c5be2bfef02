//! The database: reachable, its schema not newer than this binary, and its
//! clock (PostgreSQL's, and the newest audit record's time) agreeing with
//! this machine's.

use sqlx::{AnyConnection, Row};

use super::Report;
use crate::config::Config;
use crate::ops::database::{Target, binary_schema_version, schema_version};
use crate::store::{Backend, redact_url};

/// Nodes sharing a database stamp audit records and meeting times with
/// their own clocks; more apart than this and the audit log reads out of
/// order.
const MAX_CLOCK_SKEW_MS: i64 = 5_000;

pub async fn check(r: &mut Report, c: &Config) {
    let target = match Target::of(c) {
        Ok(t) => t,
        Err(e) => {
            r.fail("Địa chỉ cơ sở dữ liệu sai", e.to_string());
            return;
        }
    };
    let shown = match &target.sqlite_file {
        Some(file) => format!("SQLite {}", file.display()),
        None => redact_url(&target.url),
    };
    if let Some(file) = &target.sqlite_file
        && !file.exists()
    {
        r.ok(
            format!(
                "Cơ sở dữ liệu SQLite {} sẽ được tạo khi khởi động lần đầu",
                file.display()
            ),
            format!(
                "the SQLite database {} will be made at first start",
                file.display()
            ),
        );
        return;
    }
    let mut conn = match target.connect().await {
        Ok(conn) => conn,
        Err(e) => {
            r.fail(
                format!("Không kết nối được cơ sở dữ liệu {shown}"),
                e.to_string(),
            );
            return;
        }
    };
    let known = binary_schema_version();
    match schema_version(&mut conn, target.backend).await {
        Ok(None) => r.ok(
            format!("Kết nối được cơ sở dữ liệu {shown} (trống: lược đồ tạo khi khởi động)"),
            format!("the database {shown} answers (empty: the schema is made at start)"),
        ),
        Ok(Some(v)) if v > known => r.fail(
            format!(
                "Lược đồ cơ sở dữ liệu {shown} (phiên bản {v}) mới hơn chương trình này ({known})"
            ),
            format!(
                "the database {shown} has schema {v}, newer than this diemcau's ({known}): \
                 a newer diemcau wrote it; install that version"
            ),
        ),
        Ok(Some(v)) if v < known => r.ok(
            format!(
                "Kết nối được cơ sở dữ liệu {shown}; lược đồ {v} sẽ nâng lên {known} khi khởi động"
            ),
            format!("the database {shown} answers; its schema {v} is upgraded to {known} at start"),
        ),
        Ok(Some(v)) => r.ok(
            format!("Kết nối được cơ sở dữ liệu {shown}, lược đồ {v}"),
            format!("the database {shown} answers, schema {v}"),
        ),
        Err(e) => {
            r.fail(
                format!("Không đọc được lược đồ cơ sở dữ liệu {shown}"),
                e.to_string(),
            );
            return;
        }
    }
    clocks(r, &mut conn, target.backend).await;
    if target.backend == Backend::Postgres {
        pg_dump(r);
    }
}

/// This machine's clock against PostgreSQL's and the newest audit record.
async fn clocks(r: &mut Report, conn: &mut AnyConnection, backend: Backend) {
    let now = crate::store::now_ms();
    if backend == Backend::Postgres {
        let db_now =
            sqlx::query("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)")
                .fetch_one(&mut *conn)
                .await
                .and_then(|row| row.try_get::<i64, _>(0));
        if let Ok(db_now) = db_now {
            let skew = now - db_now;
            if skew.abs() > MAX_CLOCK_SKEW_MS {
                r.fail(
                    format!(
                        "Đồng hồ máy này lệch {:.1} giây so với máy chủ PostgreSQL",
                        skew as f64 / 1000.0
                    ),
                    format!(
                        "this machine's clock is {:.1} s off the PostgreSQL server's: synchronise both (NTP)",
                        skew as f64 / 1000.0
                    ),
                );
            }
        }
    }
    let newest = sqlx::query("SELECT MAX(at_ms) FROM audit_log")
        .fetch_one(&mut *conn)
        .await
        .and_then(|row| row.try_get::<Option<i64>, _>(0));
    if let Ok(Some(at)) = newest
        && at > now + MAX_CLOCK_SKEW_MS
    {
        let when = time::OffsetDateTime::from_unix_timestamp(at / 1000)
            .map(|t| t.to_string())
            .unwrap_or_default();
        r.fail(
            format!("Đồng hồ đã lùi: bản ghi kiểm toán mới nhất ghi lúc {when}, sau giờ hiện tại"),
            format!(
                "the clock went backwards: the newest audit record is from {when}, later than now"
            ),
        );
    }
}

/// Backups of a PostgreSQL store need its client tools.
fn pg_dump(r: &mut Report) {
    match std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => r.ok(
            format!(
                "Có công cụ sao lưu: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ),
            "pg_dump is installed (diemcau backup needs it)",
        ),
        _ => r.warn(
            "Chưa có pg_dump: `diemcau backup` cần gói postgresql-client",
            "pg_dump is not installed: `diemcau backup` needs postgresql-client",
        ),
    }
}
