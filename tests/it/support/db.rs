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
    run_postgres_at(&pg_admin_url(), body).await
}

/// [`run_postgres`] through `admin_url` (a test inside a network namespace
/// reaches the server through its [`PgBridge`]).
pub async fn run_postgres_at<F, Fut>(admin_url: &str, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    with_empty_postgres_at(admin_url, |url| async move {
        let store = Store::open(&url).await.expect("open a PostgreSQL store");
        body(TestDb {
            store: store.clone(),
            url: url.clone(),
            backend: Backend::Postgres,
        })
        .await;
        store.close().await;
    })
    .await
}

/// A fresh PostgreSQL database with nothing in it (no schema applied),
/// by its URL, dropped afterwards: what a restore is made onto.
pub async fn with_empty_postgres<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    with_empty_postgres_at(&pg_admin_url(), body).await
}

async fn with_empty_postgres_at<F, Fut>(admin_url: &str, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    sqlx::any::install_default_drivers();
    let admin_url = admin_url.to_string();
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
    let outcome = AssertUnwindSafe(body(url)).catch_unwind().await;
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

/// The PostgreSQL server of the other tests, reached from inside a test's
/// loopback-only network namespace (where the host's 127.0.0.1:5432 is
/// another machine's loopback).
///
/// A socket belongs to the namespace it was made in, whichever thread uses
/// it. So a thread started *before* the test enters its namespace stays in
/// the host's: it accepts on a listener made inside the namespace and
/// connects each connection on to the real server. Only loopback on both
/// sides; the threads end with the test process.
pub struct PgBridge {
    listeners: std::sync::mpsc::Sender<std::net::TcpListener>,
}

impl PgBridge {
    /// Call before entering the namespace.
    pub fn start() -> PgBridge {
        let upstream = pg_host_port(&pg_admin_url());
        let (tx, rx) = std::sync::mpsc::channel::<std::net::TcpListener>();
        std::thread::spawn(move || {
            let Ok(listener) = rx.recv() else { return };
            for conn in listener.incoming() {
                let Ok(inside) = conn else { continue };
                let Ok(outside) = std::net::TcpStream::connect(upstream.as_str()) else {
                    continue;
                };
                let _ = inside.set_nodelay(true);
                let _ = outside.set_nodelay(true);
                pump(inside.try_clone().unwrap(), outside.try_clone().unwrap());
                pump(outside, inside);
            }
        });
        PgBridge { listeners: tx }
    }

    /// Call inside the namespace: the admin URL to use there.
    pub fn admin_url(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the bridge");
        let port = listener.local_addr().unwrap().port();
        self.listeners
            .send(listener)
            .expect("the bridge thread runs");
        let url = pg_admin_url();
        url.replacen(&pg_host_port(&url), &format!("127.0.0.1:{port}"), 1)
    }
}

/// Copy one direction until either side closes, then close both.
fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Both);
        let _ = from.shutdown(std::net::Shutdown::Both);
    });
}

/// `host:port` of a `postgres://[user[:password]@]host[:port]/db` URL.
fn pg_host_port(url: &str) -> String {
    let rest = url.strip_prefix("postgres://").unwrap_or(url);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
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
    fn host_and_port_are_found_with_or_without_credentials_and_port() {
        assert_eq!(
            super::pg_host_port("postgres://u:p@127.0.0.1:5433/db?x=1"),
            "127.0.0.1:5433"
        );
        assert_eq!(
            super::pg_host_port("postgres://localhost/db"),
            "localhost:5432"
        );
    }

    #[test]
    fn database_name_is_replaced_keeping_the_query() {
        assert_eq!(
            super::with_database("postgres://u:p@h:5432/base?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
    }
}
