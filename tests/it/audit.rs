//! The audit chain on both backends: one record per change, tamper found,
//! and the `diemcau audit verify` command on a tampered SQLite file.

use diemcau::control::org::{NewUnit, OrgKind, OrgTree};
use diemcau::store::Store;
use diemcau::store::audit::{self, BrokenLink, BrokenReason, Verification};

use crate::support::db::{both_backends, d, operator};

/// Three changes: create, rename, create.
async fn three_changes(store: &Store) {
    let org = OrgTree::new(store.clone());
    let p = org
        .create(
            &operator(),
            NewUnit {
                code: "45".into(),
                name: "Tỉnh Quảng Trị".into(),
                kind: OrgKind::Province,
                parent_id: None,
            },
            d("2025-07-01"),
        )
        .await
        .unwrap();
    org.rename(&operator(), &p.id, "Tỉnh Quảng Trị (mới)", d("2025-08-01"))
        .await
        .unwrap();
    org.create(
        &operator(),
        NewUnit {
            code: "19334".into(),
            name: "Xã Ái Tử".into(),
            kind: OrgKind::Commune,
            parent_id: Some(p.id),
        },
        d("2025-07-01"),
    )
    .await
    .unwrap();
}

both_backends! {
    async fn every_change_appends_one_record_chained_to_the_last(db) {
        three_changes(&db.store).await;
        let records = audit::list(&db.store, 0, 100).await.unwrap();
        let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["org.create", "org.rename", "org.create"]);
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(records[0].prev_hash, audit::GENESIS_HASH);
        assert_eq!(records[1].prev_hash, records[0].hash);
        assert_eq!(records[2].prev_hash, records[1].hash);
        assert_eq!((records[1].actor_id.as_str(), records[1].actor_name.as_str(), records[1].address.as_str()),
                   ("user_op1", "Nguyễn Văn An", "10.20.0.7"));
        let details: serde_json::Value = serde_json::from_str(&records[1].details).unwrap();
        assert_eq!(details["to"], "Tỉnh Quảng Trị (mới)");
        assert_eq!(audit::verify(&db.store).await.unwrap(), Verification::Intact { records: 3 });
    }
}

both_backends! {
    async fn an_altered_record_is_the_first_broken_link(db) {
        three_changes(&db.store).await;
        sqlx::query("UPDATE audit_log SET details = $1 WHERE seq = 2")
            .bind(r#"{"code":"45","to":"Tỉnh khác"}"#)
            .execute(db.store.pool()).await.unwrap();
        let broken = audit::verify(&db.store).await.unwrap();
        assert_eq!(broken, Verification::Broken(BrokenLink { record: 2, reason: BrokenReason::Altered }));
        let Verification::Broken(link) = broken else { unreachable!() };
        assert!(link.to_string().starts_with("audit record 2: its contents do not match its hash"), "{link}");
    }
}

both_backends! {
    async fn removed_or_rehashed_records_are_found(db) {
        three_changes(&db.store).await;
        // Re-hashing a changed record is not enough: the next one links to the old hash.
        let rec = audit::list(&db.store, 0, 1).await.unwrap().remove(0);
        sqlx::query("UPDATE audit_log SET actor_name = $1, hash = $2 WHERE seq = 1")
            .bind("someone else").bind("ab".repeat(32))
            .execute(db.store.pool()).await.unwrap();
        assert_eq!(audit::verify(&db.store).await.unwrap(),
                   Verification::Broken(BrokenLink { record: 1, reason: BrokenReason::Altered }));
        sqlx::query("UPDATE audit_log SET actor_name = $1, hash = $2 WHERE seq = 1")
            .bind(&rec.actor_name).bind(&rec.hash)
            .execute(db.store.pool()).await.unwrap();
        assert_eq!(audit::verify(&db.store).await.unwrap(), Verification::Intact { records: 3 });

        sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(db.store.pool()).await.unwrap();
        assert_eq!(audit::verify(&db.store).await.unwrap(),
                   Verification::Broken(BrokenLink { record: 2, reason: BrokenReason::Truncated { tip_seq: 3 } }));
        sqlx::query("DELETE FROM audit_log WHERE seq = 1").execute(db.store.pool()).await.unwrap();
        assert_eq!(audit::verify(&db.store).await.unwrap(),
                   Verification::Broken(BrokenLink { record: 2, reason: BrokenReason::Missing { expected: 1 } }));
    }
}

/// Run `diemcau audit verify` against the SQLite file in `data_dir`.
fn run_verify(data_dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .args(["audit", "verify"])
        // No configs/diemcau.toml there: defaults plus the data dir below.
        .current_dir(data_dir)
        .env("DIEMCAU_DATA_DIR", data_dir)
        .env_remove("DIEMCAU_DATABASE__URL")
        .output()
        .expect("run diemcau")
}

#[tokio::test]
async fn audit_verify_command_exits_1_on_a_tampered_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("diemcau.db").display()
    );
    let store = Store::open(&url).await.unwrap();
    three_changes(&store).await;
    store.close().await;

    let ok = run_verify(dir.path());
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(stdout.trim(), "OK: audit log intact, 3 records");

    let store = Store::open(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET target = 'org_unit:forged' WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;

    let bad = run_verify(dir.path());
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(
        stdout.starts_with("BROKEN: audit record 2: its contents do not match its hash"),
        "{stdout}"
    );
}

both_backends! {
    async fn concurrent_changes_keep_one_unbroken_chain(db) {
        let org = OrgTree::new(db.store.clone());
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let org = org.clone();
                tokio::spawn(async move {
                    let unit = NewUnit { code: format!("C{i:02}"), name: format!("Xã số {i}"), kind: OrgKind::Commune, parent_id: None };
                    org.create(&operator(), unit, d("2025-07-01")).await.map(|_| ())
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(audit::verify(&db.store).await.unwrap(), Verification::Intact { records: 16 });
    }
}
