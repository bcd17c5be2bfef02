//! Run one test body against a fresh SQLite file and a fresh PostgreSQL
//! database. `both_backends!` turns `async fn name(db) { … }` into a module
//! `name` with two tests, `name::sqlite` and `name::postgres`.
//!
//! PostgreSQL comes from `DIEMCAU_TEST_PG_URL` (default: the role and
//! database `.ci/setup` creates). Each test makes its own database and drops
//! it afterwards, even when the body panics. An unreachable server fails the
//! test: a skipped backend would hide exactly the bugs this suite is for.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use diemcau::store::{Backend, Store};
use futures_util::FutureExt;
use rand::RngCore;
use sqlx::{Connection, Executor};

pub const DEFAULT_PG_URL: &str = "postgres://diemcau:diemcau@127.0.0.1:5432/diemcau_test";

/// A fresh, migrated store and how to reach it again.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
}

pub fn pg_admin_url() -> String {
    std::env::var("DIEMCAU_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("diemcau.db").display()
    );
    let store = Store::open(&url).await.expect("open a SQLite store");
    body(TestDb {
        store,
        url,
        backend: Backend::Sqlite,
    })
    .await;
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    sqlx::any::install_default_drivers();
    let admin_url = pg_admin_url();
    let mut admin = sqlx::AnyConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is unreachable ({e}); run .ci/setup (it installs and starts it)",
                diemcau::store::redact_url(&admin_url)
            )
        });
    let mut suffix = [0u8; 8];
    rand::rng().fill_bytes(&mut suffix);
    let name = format!("diemcau_t_{}", hex::encode(suffix));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a test database (the role needs CREATEDB; see .ci/setup)");
    let url = with_database(&admin_url, &name);
    let outcome = AssertUnwindSafe(async {
        let store = Store::open(&url).await.expect("open a PostgreSQL store");
        body(TestDb {
            store: store.clone(),
            url: url.clone(),
            backend: Backend::Postgres,
        })
        .await;
        store.close().await;
    })
    .catch_unwind()
    .await;
    // FORCE: a failed body may leave pooled connections behind. It cannot
    // end an autovacuum worker that PostgreSQL started on the new database
    // (that process belongs to the superuser), so retry while one finishes.
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let mut tries = 0;
    while let Err(e) = admin.execute(drop.as_str()).await {
        tries += 1;
        assert!(tries < 50, "drop the test database {name}: {e}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// `both_backends! { async fn name(db) { … } }`: the body runs once on
/// SQLite (`name::sqlite`) and once on PostgreSQL (`name::postgres`).
macro_rules! both_backends {
    ($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: $crate::support::db::TestDb) $body

            #[tokio::test]
            async fn sqlite() {
                $crate::support::db::run_sqlite(body).await;
            }

            #[tokio::test]
            async fn postgres() {
                $crate::support::db::run_postgres(body).await;
            }
        }
    };
}
pub(crate) use both_backends;

/// `YYYY-MM-DD` → Date, for readable tests.
pub fn d(s: &str) -> time::Date {
    diemcau::store::date::parse(s).expect("test date")
}

/// The operator every test acts as.
pub fn operator() -> diemcau::store::Actor {
    diemcau::store::Actor {
        id: "user_op1".into(),
        name: "Nguyễn Văn An".into(),
        address: Some("10.20.0.7".parse().unwrap()),
    }
}

/// How many audit records the store holds.
pub async fn audit_count(store: &Store) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM audit_log")
        .fetch_one(store.pool())
        .await
        .expect("count audit records")
        .get(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced_keeping_the_query() {
        assert_eq!(
            super::with_database("postgres://u:p@h:5432/base?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
    }
}
