//! `diemcau backup` and `diemcau restore`, run as the commands an
//! installer types, against a running server on a real SQLite file and a
//! real PostgreSQL: a restore onto a fresh data directory (and an empty
//! database) gives back every row — meetings, documents, votes, the audit
//! log — and every file, `diemcau audit verify` passes on it and a server
//! starts on it; a tampered backup, one from a newer schema or a non-empty
//! destination is refused and nothing is written.

use std::path::{Path, PathBuf};
use std::process::Output;

use diemcau::config::Config;
use diemcau::ops::manifest::{MANIFEST_FILE, Manifest};
use diemcau::store::{Backend, Store};
use serde_json::json;

use crate::documents::{docx, upload};
use crate::support::api::{ApiWorld, Client, world};
use crate::support::db::{both_backends, run_sqlite, with_empty_postgres};
use crate::support::server::test_config;
use crate::voting::dump_everything;

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// A BCH meeting, opened, with a Word document and a published open vote.
/// Returns (meeting, document, motion).
async fn meeting_with_a_document_and_a_vote(w: &ApiWorld) -> (String, String, String) {
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Chấp hành lần thứ 7",
                "kind": "bch",
                "starts_at_ms": hour_from_now(),
                "ends_at_ms": hour_from_now() + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a")],
                "chair_user_id": w.users["chair"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let m = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let r = w
        .as_role("operator")
        .post(&format!("/api/v1/meetings/{m}/open"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (s, d) = upload(
        w.as_role("secretary"),
        &m,
        &[("title", "Báo cáo chính trị"), ("classification", "thuong")],
        docx(),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    let doc = d["id"].as_str().unwrap().to_string();
    let chair = w.as_role("chair");
    let base = format!("/api/v1/meetings/{m}/motions");
    let r = chair
        .post(
            &base,
            json!({"title": "Thông qua Nghị quyết", "mode": "open", "electorate": "delegates"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let motion = r.body["id"].as_str().unwrap().to_string();
    let one = format!("{base}/{motion}");
    assert_eq!(
        chair.post(&format!("{one}/open"), json!({})).await.status,
        200
    );
    let r = w
        .as_role("delegate")
        .post(&format!("{one}/vote"), json!({"option": 0}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for step in ["close", "publish"] {
        let r = chair.post(&format!("{one}/{step}"), json!({})).await;
        assert_eq!(r.status, 200, "{step}: {}", r.text);
    }
    (m, doc, motion)
}

/// The running test server's own config (its data directory, database and
/// the tests' shared audit key).
fn server_config(w: &ApiWorld) -> Config {
    let mut c = test_config(&w.srv.server.state().data_dir);
    c.database.url = w.db.url.clone();
    c
}

/// A fresh installation's config: `data` (not made yet) and `url` (empty:
/// the SQLite file in `data`); the audit key in `data`, as by default.
fn fresh_config(data: &Path, url: &str) -> Config {
    let mut c = test_config(data);
    c.database.url = url.to_string();
    c.audit.key_file = None;
    c
}

/// Run `diemcau <args>` with `config` written to a file beside `data`.
fn diemcau(config: &Config, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diemcau.toml");
    std::fs::write(&file, toml::to_string(config).unwrap()).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .arg("--config")
        .arg(&file)
        .args(args)
        .env_remove("DIEMCAU_DATABASE__URL")
        .env_remove("DIEMCAU_DATA_DIR")
        .output()
        .expect("run diemcau")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Path → bytes of every file under `dir`.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

async fn sorted_rows(store: &Store) -> Vec<String> {
    let mut rows = dump_everything(store).await;
    rows.sort();
    rows
}

/// Back up the running server `w` into a new folder; the backup must not
/// change a row.
async fn take_backup(w: &ApiWorld, into: &Path) -> (PathBuf, Vec<String>) {
    let before = sorted_rows(&w.db.store).await;
    let dest = into.join("sao-luu");
    let out = diemcau(&server_config(w), &["backup", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        sorted_rows(&w.db.store).await,
        before,
        "the backup changed a row"
    );
    (dest, before)
}

both_backends! {
    async fn a_restored_backup_gives_back_every_meeting_document_vote_and_audit_record(db) {
        let backend = db.backend;
        let w = world(db).await;
        let (m, doc, motion) = meeting_with_a_document_and_a_vote(&w).await;
        let work = tempfile::tempdir().unwrap();
        let (bk, rows) = take_backup(&w, work.path()).await;
        let manifest = Manifest::read(&bk).unwrap();
        assert_eq!(manifest.schema_version, diemcau::ops::binary_schema_version());
        assert!(manifest.files.iter().any(|f| f.path == "keys/audit.key"), "{manifest:#?}");
        assert!(
            manifest.files.iter().any(|f| f.path.starts_with("data/documents/") && f.path.ends_with(&doc)),
            "{manifest:#?}"
        );
        let data = work.path().join("restored");
        let check = async |url: String| {
            let config = fresh_config(&data, &url);
            let out = diemcau(&config, &["restore", bk.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            let verify = diemcau(&config, &["audit", "verify"]);
            assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
            assert!(String::from_utf8_lossy(&verify.stdout).starts_with("OK: audit log intact"), "{}", text(&verify));
            let store = Store::open(&config.database_url()).await.unwrap();
            assert_eq!(sorted_rows(&store).await, rows, "a row differs after the restore");
            store.close().await;
            let docs = |d: &Path| tree(&diemcau::control::documents::documents_dir(d));
            assert_eq!(docs(&data), docs(&w.srv.server.state().data_dir));
            assert!(!docs(&data).is_empty());

            // A server on the restored copy serves the meeting, its vote
            // and its document to the same people, with the same tokens.
            let srv = diemcau::Server::start(config).await.expect("a server starts on the restore");
            let base = format!("http://{}", srv.http_addr().unwrap());
            let as_ = |role: &str| Client { base: base.clone(), ..w.as_role(role).clone() };
            let r = as_("delegate").get(&format!("/api/v1/meetings/{m}")).await;
            assert_eq!((r.status.as_u16(), r.body["title"].as_str()), (200, Some("Hội nghị Ban Chấp hành lần thứ 7")), "{}", r.text);
            let r = as_("delegate").get(&format!("/api/v1/meetings/{m}/motions/{motion}")).await;
            assert_eq!(r.body["state"], "published", "{}", r.text);
            assert_eq!(r.body["results"]["options"][0]["votes"], 1, "{}", r.text);
            let r = as_("secretary").http.get(format!("{base}/api/v1/meetings/{m}/documents/{doc}/content"))
                .bearer_auth(as_("secretary").bearer.unwrap()).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.bytes().await.unwrap().to_vec(), docx());
            srv.shutdown().await;
        };
        match backend {
            Backend::Sqlite => check(String::new()).await,
            Backend::Postgres => with_empty_postgres(check).await,
        }
    }
}

/// Run a refused restore of `bk` onto `config`: exit 1, `reason` said,
/// nothing made.
async fn refused(config: &Config, bk: &Path, extra: &[&str], reason: &str) {
    let mut args = vec!["restore", bk.to_str().unwrap()];
    args.extend(extra);
    let data_before = tree_or_none(&config.data_dir);
    let out = diemcau(config, &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("nothing was changed") && said.contains(reason),
        "{reason}: {}",
        text(&out)
    );
    assert_eq!(
        tree_or_none(&config.data_dir),
        data_before,
        "the refused restore wrote in the data directory"
    );
    if Backend::of_url(&config.database_url()) == Some(Backend::Postgres) {
        let mut conn: sqlx::AnyConnection = sqlx::Connection::connect(&config.database.url)
            .await
            .unwrap();
        let n: i64 = sqlx::Row::get(
            &sqlx::query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
                .fetch_one(&mut conn)
                .await
                .unwrap(),
            0,
        );
        assert_eq!(n, 0, "the refused restore wrote in the database");
    }
}

fn tree_or_none(dir: &Path) -> Option<Vec<(PathBuf, Vec<u8>)>> {
    dir.exists().then(|| tree(dir))
}

both_backends! {
    async fn a_tampered_or_newer_backup_is_refused_and_nothing_is_written(db) {
        let backend = db.backend;
        let w = world(db).await;
        let (_, doc, _) = meeting_with_a_document_and_a_vote(&w).await;
        let work = tempfile::tempdir().unwrap();
        let (bk, _) = take_backup(&w, work.path()).await;
        let manifest = Manifest::read(&bk).unwrap();
        let stored = manifest.files.iter().find(|f| f.path.ends_with(&doc)).unwrap().path.clone();
        let data = work.path().join("fresh");
        let check = async |url: String| {
            let config = fresh_config(&data, &url);
            // One byte of a document changed.
            let file = bk.join(&stored);
            let original = std::fs::read(&file).unwrap();
            let mut changed = original.clone();
            changed[10] ^= 1;
            std::fs::write(&file, &changed).unwrap();
            refused(&config, &bk, &[], &format!("{stored} does not match its SHA-256")).await;
            std::fs::write(&file, &original).unwrap();
            // A file the manifest does not list.
            let extra = bk.join("data/run-me.sh");
            std::fs::write(&extra, "#!/bin/sh\n").unwrap();
            refused(&config, &bk, &[], "data/run-me.sh is in the backup but not in the manifest").await;
            std::fs::remove_file(&extra).unwrap();
            // A newer schema, the manifest otherwise true.
            let text_before = std::fs::read_to_string(bk.join(MANIFEST_FILE)).unwrap();
            let mut newer = manifest.clone();
            newer.schema_version = diemcau::ops::binary_schema_version() + 1;
            newer.write(&bk).unwrap();
            refused(&config, &bk, &["--force"], "newer than this diemcau's").await;
            std::fs::write(bk.join(MANIFEST_FILE), text_before).unwrap();
            // A data directory in use.
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(data.join("diemcau.db"), "not yours").unwrap();
            refused(&config, &bk, &[], "is not empty").await;
            std::fs::remove_dir_all(&data).unwrap();
            // Put right, the same backup restores.
            let out = diemcau(&config, &["restore", bk.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        };
        match backend {
            Backend::Sqlite => check(String::new()).await,
            Backend::Postgres => with_empty_postgres(check).await,
        }
    }
}

#[tokio::test]
async fn backups_kept_in_the_data_directory_are_not_backed_up_again() {
    run_sqlite(|db| async move {
        let w = world(db).await;
        // The service's user may write only the data directory.
        let inside = w.srv.server.state().data_dir.join("backups");
        for name in ["one", "two"] {
            let dest = inside.join(name);
            let out = diemcau(&server_config(&w), &["backup", dest.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        }
        let second = Manifest::read(&inside.join("two")).unwrap();
        assert!(
            !second
                .files
                .iter()
                .any(|f| f.path.starts_with("data/backups/")),
            "the second backup holds the first: {second:#?}"
        );
        assert!(second.files.iter().any(|f| f.path == "database/diemcau.db"));
    })
    .await;
}

#[tokio::test]
async fn with_an_s3_store_the_manifest_says_the_bucket_is_backed_up_by_its_own_means() {
    run_sqlite(|db| async move {
        let w = world(db).await;
        let mut config = server_config(&w);
        config.objects.kind = diemcau::objects::ObjectsKind::S3;
        config.objects.endpoint = Some("http://127.0.0.1:9".into());
        config.objects.bucket = Some("tinh-uy".into());
        config.objects.access_key_id = Some("test".into());
        config.objects.secret_access_key = Some("test-secret".into());
        // The backup never reaches the bucket (nothing listens on port 9).
        let dest = tempfile::tempdir().unwrap();
        let out = diemcau(&config, &["backup", dest.path().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("backed up by its own means"),
            "{}",
            text(&out)
        );
        let m = Manifest::read(dest.path()).unwrap();
        assert_eq!(
            (m.objects.kind.as_str(), m.objects.bucket.as_deref()),
            ("s3", Some("tinh-uy"))
        );
        assert!(
            m.objects
                .note
                .as_deref()
                .is_some_and(|n| n.contains("backed up by its own means")),
            "{m:#?}"
        );
    })
    .await;
}
