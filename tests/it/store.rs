//! The store on both backends: migrations, placeholders, error mapping.

use diemcau::store::{Backend, Store, StoreError, migrate};
use sqlx::Row;

use crate::support::db::{TestDb, both_backends};

both_backends! {
    async fn migrations_apply_once_and_reopening_is_idempotent(db) {
        let all: Vec<i64> = migrate::MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(migrate::applied(db.store.pool()).await.unwrap(), all);
        sqlx::query("INSERT INTO org_units (id, code, kind, created_on) VALUES ($1, $2, $3, $4)")
            .bind("ou_x").bind("01").bind("province").bind("2025-07-01")
            .execute(db.store.pool()).await.unwrap();
        db.store.close().await;

        let again = Store::open(&db.url).await.expect("reopen");
        assert_eq!(migrate::applied(again.pool()).await.unwrap(), all);
        let rows: i64 = sqlx::query("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(again.pool()).await.unwrap().get(0);
        assert_eq!(rows, all.len() as i64, "reopening must not re-record a migration");
        let code: String = sqlx::query("SELECT code FROM org_units WHERE id = $1")
            .bind("ou_x").fetch_one(again.pool()).await.unwrap().get(0);
        assert_eq!(code, "01", "data survives a reopen");
        again.close().await;
    }
}

both_backends! {
    async fn dollar_placeholders_bind_by_number_not_by_position(db) {
        // Out of order and repeated: SQLite must map $n by number, as PostgreSQL does.
        sqlx::query("INSERT INTO org_units (id, code, kind, created_on) VALUES ($4, $3, $2, $1)")
            .bind("2025-07-01").bind("commune").bind("26734").bind("ou_a")
            .execute(db.store.pool()).await.unwrap();
        let row = sqlx::query(
            "SELECT id, code, kind FROM org_units WHERE created_on = $1 AND (code = $2 OR id = $2)",
        )
        .bind("2025-07-01").bind("26734")
        .fetch_one(db.store.pool()).await.unwrap();
        let got: (String, String, String) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(got, ("ou_a".into(), "26734".into(), "commune".into()));
    }
}

both_backends! {
    async fn unique_violation_is_a_conflict_that_shows_no_sql(db) {
        let insert = || {
            sqlx::query("INSERT INTO org_units (id, code, kind, created_on) VALUES ($1, $2, $3, $4)")
                .bind(diemcau::store::new_id("ou_")).bind("01").bind("province").bind("2025-07-01")
        };
        insert().execute(db.store.pool()).await.unwrap();
        let err = StoreError::from_sqlx("saving an org unit", insert().execute(db.store.pool()).await.unwrap_err());
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("saving an org unit"), "{msg}");
        for leak in ["INSERT", "org_units", "UNIQUE", "duplicate key"] {
            assert!(!msg.contains(leak), "message leaks {leak:?}: {msg}");
        }
    }
}

both_backends! {
    async fn backend_is_detected_from_the_url(db) {
        assert_eq!(db.store.backend(), Backend::of_url(&db.url).unwrap());
    }
}

#[tokio::test]
async fn sqlite_file_runs_in_wal_mode_with_foreign_keys_on() {
    crate::support::db::run_sqlite(|db: TestDb| async move {
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode.to_lowercase(), "wal");
        let fk: i64 = sqlx::query("PRAGMA foreign_keys")
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(fk, 1);
        let bad = sqlx::query(
            "INSERT INTO org_unit_versions (unit_id, valid_from, name) VALUES ($1, $2, $3)",
        )
        .bind("ou_missing")
        .bind("2025-07-01")
        .bind("x")
        .execute(db.store.pool())
        .await;
        assert!(bad.is_err(), "a version of a missing unit must be refused");
    })
    .await;
}

#[tokio::test]
async fn unknown_url_scheme_is_refused_without_the_password() {
    let err = Store::open("mysql://u:hunter2@db/x")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("neither sqlite:// nor postgres://"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
