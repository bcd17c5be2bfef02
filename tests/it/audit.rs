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

/// A store sealed with a fresh key whose anchors go to `dir`; then three
/// changes and an anchor on the last (records: 1 `audit.key_created`, 2–4
/// the changes; anchors at 1 and 4).
async fn sealed_with_anchor(store: &Store, dir: &std::path::Path) -> audit::AuditKey {
    let key_path = dir.join("audit.key");
    let (key, new) = audit::AuditKey::load_or_create(&key_path).unwrap();
    assert!(new);
    let sealed = audit::seal(store, key, dir.join("audit-anchors.log"))
        .await
        .unwrap();
    assert_eq!((sealed.keyed_from, sealed.newly), (1, true));
    three_changes(store).await;
    let anchor = audit::anchor::write_anchor(store, "meeting.end test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anchor.seq, 4);
    audit::AuditKey::load(&key_path).unwrap().unwrap()
}

fn anchors_in(dir: &std::path::Path) -> Vec<audit::Anchor> {
    audit::read_anchors(&dir.join("audit-anchors.log")).unwrap()
}

both_backends! {
    async fn a_sealed_log_links_with_the_key_and_its_anchors_verify(db) {
        let dir = tempfile::tempdir().unwrap();
        let key = sealed_with_anchor(&db.store, dir.path()).await;
        let records = audit::list(&db.store, 0, 100).await.unwrap();
        assert_eq!(records[0].action, "audit.key_created");
        // Keyed links: nobody without the key computes them.
        assert!(records.iter().all(|r| r.plain_link(&r.prev_hash) != r.hash));
        let anchors = anchors_in(dir.path());
        assert_eq!(anchors.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(anchors[1].link, records[3].hash);
        assert_eq!(audit::verify_with(&db.store, Some(&key), &anchors).await.unwrap(),
                   Verification::Intact { records: 4 });
        assert_eq!(audit::verify(&db.store).await.unwrap(), Verification::Intact { records: 4 });
        // Without the key a sealed log is not called intact.
        assert_eq!(audit::verify_with(&db.store, None, &anchors).await.unwrap(),
                   Verification::KeyNeeded { keyed_from: 1 });
    }
}

both_backends! {
    async fn records_before_the_key_keep_their_plain_links_and_still_verify(db) {
        three_changes(&db.store).await;
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = audit::AuditKey::load_or_create(&dir.path().join("audit.key")).unwrap();
        let sealed = audit::seal(&db.store, key, dir.path().join("audit-anchors.log")).await.unwrap();
        assert_eq!(sealed.keyed_from, 4);
        let first_keyed = audit::list(&db.store, 3, 1).await.unwrap().remove(0);
        assert_eq!(first_keyed.action, "audit.key_created");
        let details: serde_json::Value = serde_json::from_str(&first_keyed.details).unwrap();
        assert_eq!(details["plain_until"], 3);
        three_changes_again(&db.store).await;
        assert_eq!(audit::verify(&db.store).await.unwrap(), Verification::Intact { records: 6 });
        // Sealing again (the next start) adds nothing.
        let (key, _) = audit::AuditKey::load_or_create(&dir.path().join("audit.key")).unwrap();
        let again = audit::seal(&db.store, key, dir.path().join("audit-anchors.log")).await.unwrap();
        assert_eq!((again.keyed_from, again.newly), (4, false));
        // Another key is refused: nodes sharing the database share its key.
        let other = audit::seal(&db.store, audit::AuditKey::generate(), dir.path().join("x.log")).await;
        assert!(matches!(other, Err(audit::SealError::OtherKey { record: 4, .. })), "{other:?}");
    }
}

/// Two more changes on a tree that already has the province.
async fn three_changes_again(store: &Store) {
    let org = OrgTree::new(store.clone());
    for code in ["19335", "19336"] {
        org.create(
            &operator(),
            NewUnit {
                code: code.into(),
                name: format!("Xã {code}"),
                kind: OrgKind::Commune,
                parent_id: None,
            },
            d("2025-07-01"),
        )
        .await
        .unwrap();
    }
}

both_backends! {
    async fn a_tail_cut_below_an_anchor_is_found_even_with_the_tip_rewritten(db) {
        let dir = tempfile::tempdir().unwrap();
        let key = sealed_with_anchor(&db.store, dir.path()).await;
        // Cut records 3 and 4 and make the tip row agree, as someone who
        // can write the database would.
        let rec2 = audit::list(&db.store, 1, 1).await.unwrap().remove(0);
        sqlx::query("DELETE FROM audit_log WHERE seq > 2").execute(db.store.pool()).await.unwrap();
        sqlx::query("UPDATE audit_head SET seq = 2, hash = $1 WHERE id = 1")
            .bind(&rec2.hash).execute(db.store.pool()).await.unwrap();
        let broken = audit::verify_with(&db.store, Some(&key), &anchors_in(dir.path())).await.unwrap();
        assert_eq!(broken, Verification::Broken(BrokenLink { record: 3, reason: BrokenReason::BelowAnchor { anchor_seq: 4 } }));
        let Verification::Broken(link) = broken else { unreachable!() };
        assert!(link.to_string().contains("cut below an anchor"), "{link}");
    }
}

/// Relink every record from `from` on with plain SHA-256, as someone with
/// the database but not the key would after changing a record; the tip
/// row follows, and the seal marker is erased.
async fn relink_without_the_key(store: &Store, from: i64) {
    let records = audit::list(store, 0, 1000).await.unwrap();
    let mut prev = records
        .iter()
        .find(|r| r.seq == from - 1)
        .map_or(audit::GENESIS_HASH.to_string(), |r| r.hash.clone());
    for mut r in records.into_iter().filter(|r| r.seq >= from) {
        r.prev_hash = prev.clone();
        r.hash = r.plain_link(&prev);
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .bind(r.seq)
            .execute(store.pool())
            .await
            .unwrap();
        prev = r.hash;
    }
    sqlx::query("UPDATE audit_head SET hash = $1, keyed_from = NULL WHERE id = 1")
        .bind(&prev)
        .execute(store.pool())
        .await
        .unwrap();
}

both_backends! {
    async fn a_chain_recomputed_without_the_key_is_found_at_the_first_relinked_record(db) {
        let dir = tempfile::tempdir().unwrap();
        let key = sealed_with_anchor(&db.store, dir.path()).await;
        sqlx::query("UPDATE audit_log SET details = $1 WHERE seq = 3")
            .bind(r#"{"code":"45","to":"Tỉnh khác"}"#)
            .execute(db.store.pool()).await.unwrap();
        relink_without_the_key(&db.store, 3).await;
        // Every link holds as plain SHA-256: only the key tells.
        assert_eq!(audit::verify_with(&db.store, None, &[]).await.unwrap(),
                   Verification::Broken(BrokenLink { record: 1, reason: BrokenReason::Altered }));
        assert_eq!(audit::verify_with(&db.store, Some(&key), &anchors_in(dir.path())).await.unwrap(),
                   Verification::Broken(BrokenLink { record: 3, reason: BrokenReason::Unkeyed }));
        // The whole chain relinked, the seal record included: the anchors
        // (taken with the key) still find it, at the first record.
        relink_without_the_key(&db.store, 1).await;
        assert_eq!(audit::verify_with(&db.store, None, &[]).await.unwrap(),
                   Verification::Intact { records: 4 });
        let broken = audit::verify_with(&db.store, Some(&key), &anchors_in(dir.path())).await.unwrap();
        assert_eq!(broken, Verification::Broken(BrokenLink { record: 1, reason: BrokenReason::Unkeyed }));
        let Verification::Broken(link) = broken else { unreachable!() };
        assert!(link.to_string().contains("recomputed without the key"), "{link}");
    }
}

#[tokio::test]
async fn audit_verify_command_checks_the_key_and_the_anchor_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("diemcau.db").display()
    );
    let store = Store::open(&url).await.unwrap();
    sealed_with_anchor(&store, dir.path()).await;
    store.close().await;

    let ok = run_verify(dir.path());
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.starts_with("OK: audit log intact, 4 records; links checked with the key"),
        "{stdout}"
    );
    assert!(stdout.contains("2 anchors in"), "{stdout}");

    let store = Store::open(&url).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let rec3 = audit::list(&store, 2, 1).await.unwrap().remove(0);
    sqlx::query("UPDATE audit_head SET seq = 3, hash = $1 WHERE id = 1")
        .bind(&rec3.hash)
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
        stdout.starts_with("BROKEN: audit record 4: missing, but an anchor names record 4"),
        "{stdout}"
    );

    // Without the key file the sealed log cannot be vouched for.
    std::fs::remove_file(dir.path().join("audit.key")).unwrap();
    let no_key = run_verify(dir.path());
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("sealed from record 1"));
}

both_backends! {
    async fn a_meeting_end_anchors_the_chain_head_outside_the_database(db) {
        use serde_json::json;
        let w = crate::support::api::world(db).await;
        let m = crate::documents::plan(&w).await;
        let op = w.as_role("operator");
        for step in ["open", "start"] {
            let r = op.post(&format!("/api/v1/meetings/{m}/{step}"), json!({})).await;
            assert_eq!(r.status, 200, "{step}: {}", r.text);
        }
        let ended = op.post(&format!("/api/v1/meetings/{m}/end"), json!({})).await;
        assert_eq!(ended.status, 200, "{}", ended.text);
        let state = w.srv.server.state();
        let anchors = audit::read_anchors(&state.data_dir.join("audit-anchors.log")).unwrap();
        let last = anchors.last().expect("an anchor");
        assert_eq!(last.reason, format!("meeting.end {m}"));
        let records = audit::list(&state.store, last.seq - 1, 1).await.unwrap();
        assert_eq!(records[0].hash, last.link);
        assert!(anchors.iter().any(|a| a.reason == "audit.key_created"));
        let verify = w.as_role("auditor").get("/api/v1/audit/verify").await;
        assert_eq!(verify.body["intact"], true, "{}", verify.text);
    }
}
