//! A secret vote, read from the database files themselves: after every
//! ballot the files are copied — SQLite's main file and WAL, PostgreSQL's
//! WAL segments — and searched for any write to the tallies. While the vote
//! is open there is none (the choices are sealed, `control::ballot_box`), so
//! no copy, nor any two consecutive copies, can tell who chose what; at
//! close the totals are written once.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use sqlx::Row;

use crate::support::api::{ApiWorld, Client, world};
use crate::support::db::both_backends;
use diemcau::control::people::{People, Role, UserDetails};
use diemcau::store::Backend;

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// A BTV meeting, opened, whose voters are the chair, the delegate and
/// `n` more delegates; their clients.
async fn meeting_with_voters(w: &ApiWorld, n: usize) -> (String, Vec<(String, Client)>) {
    let people = People::new(w.db.store.clone());
    let mut voters = vec![
        (w.users["chair"].clone(), w.as_role("chair").clone()),
        (w.users["delegate"].clone(), w.as_role("delegate").clone()),
    ];
    for i in 0..n {
        let user = people
            .create(
                &crate::support::db::operator(),
                &format!("uy_vien_{i}"),
                UserDetails {
                    display_name: format!("Ủy viên {i}"),
                    roles: [Role::Delegate].into(),
                    scope_unit_id: None,
                },
                crate::support::api::PASSWORD,
            )
            .await
            .unwrap();
        let (_, secret) = people
            .create_api_token(&crate::support::db::operator(), &user.id, "tests")
            .await
            .unwrap();
        let client = Client {
            bearer: Some(secret.expose().to_string()),
            ..w.as_role("anonymous").clone()
        };
        voters.push((user.id, client));
    }
    let members: Vec<_> = voters[1..]
        .iter()
        .map(|(u, _)| json!({"user_id": u, "role": "voting"}))
        .collect();
    let made = w
        .as_role("operator")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ: bỏ phiếu kín",
                "kind": "btv",
                "starts_at_ms": hour_from_now(),
                "ends_at_ms": hour_from_now() + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "chair_user_id": w.users["chair"],
                "members": members,
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let r = w
        .as_role("operator")
        .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (id, voters)
}

/// Where the database's files are, and how to tell a write to the tallies
/// in a copy of them.
enum Files {
    Sqlite {
        db: PathBuf,
        /// The b-tree pages of `motion_tallies` and its index.
        pages: Vec<u32>,
    },
    Postgres {
        wal_dir: PathBuf,
        /// `spc/db/relfilenode` of the tallies and of the sealed ballots.
        tallies: String,
        sealed: String,
        from_lsn: String,
    },
}

fn psql_as_postgres(sql: &str) -> String {
    let out = Command::new("su")
        .args(["postgres", "-c", &format!("psql -qAtc \"{sql}\"")])
        .output()
        .expect("su postgres -c psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn files(w: &ApiWorld) -> Files {
    let pool = w.db.store.pool();
    match w.db.backend {
        Backend::Sqlite => {
            let path = w.db.url.trim_start_matches("sqlite://");
            let db = PathBuf::from(path.split('?').next().unwrap());
            let pages =
                sqlx::query("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'motion_tallies'")
                    .fetch_all(pool)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<i64, _>(0) as u32)
                    .collect();
            Files::Sqlite { db, pages }
        }
        Backend::Postgres => {
            let rel = |t: &str| {
                format!(
                    "SELECT (CASE WHEN c.reltablespace = 0 THEN 1663 ELSE c.reltablespace END)::text || '/' || d.oid::text || '/' || pg_relation_filenode(c.oid)::text \
                 FROM pg_class c, pg_database d WHERE c.relname = '{t}' AND c.relnamespace = current_schema()::regnamespace AND d.datname = current_database()"
                )
            };
            let one = |sql: String| async move {
                sqlx::query(&sql)
                    .fetch_one(pool)
                    .await
                    .unwrap()
                    .get::<String, _>(0)
            };
            let tallies = one(rel("motion_tallies")).await;
            let sealed = one(rel("motion_sealed_ballots")).await;
            let from_lsn = one("SELECT pg_current_wal_lsn()::text".into()).await;
            let data = psql_as_postgres("SHOW data_directory");
            Files::Postgres {
                wal_dir: Path::new(&data).join("pg_wal"),
                tallies,
                sealed,
                from_lsn,
            }
        }
    }
}

/// Copy the files now and answer: did anything write the tallies since
/// the vote opened, and does the copy hold the sealed ballots it should?
async fn copy_and_search(
    w: &ApiWorld,
    f: &Files,
    since_frames: &mut Option<(u32, usize)>,
) -> (bool, bool) {
    let copy = tempfile::tempdir().unwrap();
    match f {
        Files::Sqlite { db, pages } => {
            let wal = db.with_extension("db-wal");
            let copied = copy.path().join("copy.db");
            std::fs::copy(db, &copied).unwrap();
            let wal_bytes = std::fs::read(&wal).unwrap_or_default();
            std::fs::write(copy.path().join("copy.db-wal"), &wal_bytes).unwrap();
            // WAL: 32-byte header (salt at 16..24), then frames of a 24-byte
            // header (page number first) and one page. An empty WAL (just
            // checkpointed) has no frames.
            let (salt, frames) = if wal_bytes.len() < 32 {
                (0, Vec::new())
            } else {
                let page_size = u32::from_be_bytes(wal_bytes[8..12].try_into().unwrap()) as usize;
                let salt = u32::from_be_bytes(wal_bytes[16..20].try_into().unwrap());
                let frames: Vec<u32> = wal_bytes[32..]
                    .chunks(24 + page_size)
                    .filter(|c| c.len() == 24 + page_size)
                    .map(|c| u32::from_be_bytes(c[..4].try_into().unwrap()))
                    .collect();
                (salt, frames)
            };
            let start = match since_frames {
                Some((s, n)) if *s == salt => *n,
                _ => 0,
            };
            if since_frames.is_none() {
                *since_frames = Some((salt, frames.len()));
            }
            let touched = frames[start.min(frames.len())..]
                .iter()
                .any(|p| pages.contains(p));
            // The copy, opened as a database: no count, every ballot sealed.
            let url = format!("sqlite://{}?mode=ro", copied.display());
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let counted: i64 =
                sqlx::query_scalar("SELECT COALESCE(SUM(votes), 0) FROM motion_tallies")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            let sealed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM motion_sealed_ballots")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let cast: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM motion_ballots_cast")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            (touched || counted != 0, sealed == cast)
        }
        Files::Postgres {
            wal_dir,
            tallies,
            sealed,
            from_lsn,
        } => {
            let to: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
                .fetch_one(w.db.store.pool())
                .await
                .unwrap();
            // Root reads the server's WAL; pg_waldump reads the copy.
            let out = Command::new("cp")
                .arg("-r")
                .arg(wal_dir)
                .arg(copy.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dump = Command::new(waldump())
                .arg("-p")
                .arg(copy.path().join("pg_wal"))
                .args(["-s", from_lsn, "-e", &to])
                .output()
                .expect("pg_waldump");
            let text = String::from_utf8_lossy(&dump.stdout);
            let touched = text.contains(&format!("rel {tallies} "))
                || text.contains(&format!("rel {tallies},"));
            let saw_ballots = text.contains(&format!("rel {sealed}"));
            (touched, saw_ballots)
        }
    }
}

fn waldump() -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<_> = std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    versions.sort();
    versions.last().unwrap().join("bin/pg_waldump")
}

both_backends! {
    async fn secret_ballot_files_copied_after_every_ballot_reveal_no_choice(db) {
        let w = world(db).await;
        let (id, voters) = meeting_with_voters(&w, 3).await;
        let base = format!("/api/v1/meetings/{id}/motions");
        let chair = w.as_role("chair");
        let r = chair
            .post(&base, json!({"title": "Bầu Phó Bí thư", "mode": "secret", "electorate": "delegates", "options": ["Đồng chí A", "Đồng chí B", "Đồng chí C"]}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let m = format!("{base}/{}", r.body["id"].as_str().unwrap());
        assert_eq!(chair.post(&format!("{m}/open"), json!({})).await.body["state"], "open");
        let f = files(&w).await;
        let mut since = None;
        copy_and_search(&w, &f, &mut since).await;
        let choices = [0, 2, 2, 1, 0];
        for (i, ((voter, client), choice)) in voters.iter().zip(choices).enumerate() {
            let r = client.post(&format!("{m}/vote"), json!({"option": choice})).await;
            assert_eq!(r.status, 200, "{voter}: {}", r.text);
            let (touched, sealed) = copy_and_search(&w, &f, &mut since).await;
            assert!(!touched, "after ballot {i} a copy of the files shows the tallies written");
            assert!(sealed, "after ballot {i} the copy holds every ballot, sealed");
        }
        // Closed: the totals, once.
        let closed = chair.post(&format!("{m}/close"), json!({})).await;
        assert_eq!(closed.status, 200, "{}", closed.text);
        let votes: Vec<i64> = closed.body["results"]["options"].as_array().unwrap().iter().map(|o| o["votes"].as_i64().unwrap()).collect();
        assert_eq!(votes, vec![2, 1, 2], "{}", closed.text);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM motion_sealed_ballots")
            .fetch_one(w.db.store.pool())
            .await
            .unwrap();
        assert_eq!(left, 0, "the sealed ballots go once counted");
    }
}
