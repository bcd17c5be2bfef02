//! Voting (biểu quyết) over real HTTP on SQLite and PostgreSQL: the open
//! vote flow with results, the secret ballot leaving no voter–choice link in
//! any table, the audit log or the trace output, refusals that change
//! nothing, and rooms voting with their headcount.

use std::io::Write;
use std::sync::{Arc, Mutex};

use diemcau::control::people::{People, Role, UserDetails};
use diemcau::control::voting::{Choice, Voter, Voting};
use serde_json::{Value, json};

use crate::support::api::{ApiWorld, Client, PASSWORD, fingerprint, world};
use crate::support::db::{both_backends, operator};
use crate::support::rtc_client::WsClient;

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// A meeting for the hub, the communes A and B and ward W, opened.
async fn open_meeting(w: &ApiWorld) -> String {
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 6",
                "kind": "bch",
                "starts_at_ms": hour_from_now(),
                "ends_at_ms": hour_from_now() + 3 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("w")],
                "unit_queries": [{"unit_id": w.unit("P"), "kinds": ["commune"]}],
                "chair_user_id": w.users["chair"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
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
    id
}

/// Name more voting members in meeting `id` (besides the fixture delegate).
async fn add_voters(w: &ApiWorld, id: &str, users: &[String]) {
    let mut members = vec![json!({"user_id": w.users["delegate"], "role": "voting"})];
    members.extend(
        users
            .iter()
            .map(|u| json!({"user_id": u, "role": "voting"})),
    );
    let r = w
        .as_role("operator")
        .patch(
            &format!("/api/v1/meetings/{id}"),
            json!({"members": members}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// More delegates, each with their own API token: (user id, client).
async fn extra_delegates(w: &ApiWorld, n: usize) -> Vec<(String, Client)> {
    let people = People::new(w.db.store.clone());
    let mut out = Vec::new();
    for i in 0..n {
        let user = people
            .create(
                &operator(),
                &format!("dai_bieu_{i}"),
                UserDetails {
                    display_name: format!("Đại biểu {i}"),
                    roles: [Role::Delegate].into(),
                    scope_unit_id: None,
                },
                PASSWORD,
            )
            .await
            .unwrap();
        let (_, secret) = people
            .create_api_token(&operator(), &user.id, "tests")
            .await
            .unwrap();
        let client = Client {
            bearer: Some(secret.expose().to_string()),
            ..w.clients["anonymous"].clone()
        };
        out.push((user.id, client));
    }
    out
}

async fn tallies(w: &ApiWorld, motion: &str) -> Vec<(i64, i64, i64)> {
    use sqlx::Row;
    sqlx::query(
        "SELECT option_index, votes, ballots FROM motion_tallies WHERE motion_id = $1 ORDER BY option_index",
    )
    .bind(motion)
    .fetch_all(w.db.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn votes_of(m: &Value) -> Vec<u64> {
    m["results"]["options"]
        .as_array()
        .unwrap_or_else(|| panic!("results in {m}"))
        .iter()
        .map(|o| o["votes"].as_u64().unwrap())
        .collect()
}

both_backends! {
    async fn voting_open_vote_flow_with_results(db) {
        let w = world(db).await;
        let id = open_meeting(&w).await;
        let base = format!("/api/v1/meetings/{id}/motions");
        let chair = w.as_role("chair");
        let delegate = w.as_role("delegate");

        // Only managers create motions; bad drafts name the field.
        let r = delegate.post(&base, json!({"title": "X", "mode": "open", "electorate": "delegates"})).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{}", r.text);
        let r = chair.post(&base, json!({"title": "X", "mode": "open", "electorate": "delegates", "options": ["Có", "có"]})).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "options[1]"), "{}", r.text);

        // A sub-operator manages only meetings inside their subtree (commune
        // A): this one is not theirs, so for them it does not exist.
        let r = w.as_role("sub_operator").post(&base, json!({"title": "X", "mode": "open", "electorate": "delegates"})).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "unknown_meeting"), "{}", r.text);

        let r = chair
            .post(&base, json!({"title": "Thông qua Nghị quyết về phát triển kinh tế - xã hội", "mode": "open", "electorate": "delegates"}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["state"], "draft");
        assert_eq!(r.body["options"], json!(["Tán thành", "Không tán thành", "Không biểu quyết"]));
        let mid = r.body["id"].as_str().unwrap().to_string();
        let m = format!("{base}/{mid}");

        // A draft cannot be voted on.
        let before = fingerprint(&w.db.store).await;
        let r = delegate.post(&format!("{m}/vote"), json!({"option": 0})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "vote_not_open"), "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);

        let r = chair.post(&format!("{m}/open"), json!({})).await;
        assert_eq!(r.body["state"], "open", "{}", r.text);
        let r = chair.post(&format!("{m}/open"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "illegal_transition"));

        let r = delegate.post(&format!("{m}/vote"), json!({"option": 0})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["ballots_cast"], 1);
        let r = chair.post(&format!("{m}/vote"), json!({"option": "Không tán thành"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = chair.post(&format!("{m}/vote"), json!({"option": 9})).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "option"), "{}", r.text);

        // A second vote is refused and counts nothing.
        let before = fingerprint(&w.db.store).await;
        let counts = tallies(&w, &mid).await;
        let r = delegate.post(&format!("{m}/vote"), json!({"option": 1})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "already_voted"), "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);
        assert_eq!(tallies(&w, &mid).await, counts);

        // Not eligible: roles without a vote, and admin (no member role).
        for role in ["auditor", "operator", "secretary", "sub_operator", "admin"] {
            let r = w.as_role(role).post(&format!("{m}/vote"), json!({"option": 0})).await;
            assert_eq!(r.status, 403, "{role}: {}", r.text);
        }
        assert_eq!(fingerprint(&w.db.store).await, before);

        // Voters see no counts until published; managers see the live counts.
        let r = delegate.get(&m).await;
        assert_eq!(r.body["results"], Value::Null, "{}", r.text);
        assert_eq!(r.body["ballots_cast"], 2);
        assert_eq!(r.body["you_voted"], true);
        assert_eq!(w.as_role("operator").get(&m).await.body["you_voted"], Value::Null);
        let live = chair.get(&m).await;
        assert_eq!(votes_of(&live.body), vec![1, 1, 0]);
        let named = live.body["results"]["votes"].as_array().unwrap();
        assert_eq!(named.len(), 2);
        assert!(named.iter().any(|v| v["voter_id"] == w.users["delegate"].as_str() && v["option_index"] == 0));

        let r = chair.post(&format!("{m}/publish"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "illegal_transition"));
        assert_eq!(chair.post(&format!("{m}/close"), json!({})).await.body["state"], "closed");

        // A vote after close.
        let late = extra_delegates(&w, 1).await;
        add_voters(&w, &id, &[late[0].0.clone()]).await;
        let before = fingerprint(&w.db.store).await;
        let r = late[0].1.post(&format!("{m}/vote"), json!({"option": 0})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "vote_closed"), "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);
        assert_eq!(delegate.get(&m).await.body["results"], Value::Null);

        // Publishing is the chair's: the meeting's secretary may not.
        let r = w.as_role("secretary").post(&format!("{m}/publish"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "not_the_chair"), "{}", r.text);
        assert_eq!(chair.post(&format!("{m}/publish"), json!({})).await.body["state"], "published");
        let list = delegate.get(&base).await;
        assert_eq!(list.status, 200, "{}", list.text);
        let published = &list.body["motions"][0];
        assert_eq!(votes_of(published), vec![1, 1, 0]);
        assert_eq!(published["results"]["total_votes"], 2);

        // Open votes are audited with the choice.
        let audit = w.admin().get("/api/v1/audit?limit=500").await;
        assert!(audit.text.contains("motion.vote") && audit.text.contains("Không tán thành"), "{}", audit.text);

        // Unknown motion; a room not in the meeting does not see it.
        assert_eq!(delegate.get(&format!("{base}/mot_nope")).await.code(), "unknown_motion");
        assert_eq!(w.as_endpoint("s").get(&base).await.status, 404);
    }
}

/// A `Write` into a shared buffer, for capturing trace output.
#[derive(Clone)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every row of every table of the database, each as one line of text.
pub(crate) async fn dump_everything(store: &diemcau::store::Store) -> Vec<String> {
    use sqlx::{Column, Row};
    let tables: Vec<String> = fingerprint(store)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| t != "audit_head.seq")
        .collect();
    assert!(
        tables.iter().any(|t| t == "audit_log") && tables.iter().any(|t| t == "motion_tallies")
    );
    let mut out = Vec::new();
    for t in tables {
        let rows = sqlx::query(&format!("SELECT * FROM {t}"))
            .fetch_all(store.pool())
            .await
            .unwrap();
        for row in rows {
            let mut line = format!("{t}:");
            for (i, c) in row.columns().iter().enumerate() {
                let v = if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    format!("{:?}", v.as_deref().map(String::from_utf8_lossy))
                } else {
                    panic!("column {t}.{} could not be read as text", c.name());
                };
                line.push_str(&format!(" {}={v}", c.name()));
            }
            out.push(line);
        }
    }
    out
}

both_backends! {
    async fn voting_secret_ballot_links_no_voter_to_a_choice(db) {
        // Everything the server traces on this thread (the in-process
        // server's tasks run on the test's current-thread runtime).
        let buf = Buf(Arc::new(Mutex::new(Vec::new())));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let w = world(db).await;
        let id = open_meeting(&w).await;
        // An operator's console follows the vote live.
        let ws = format!("{}/api/v1/meetings/{id}/live/events", w.srv.base_url().replacen("http", "ws", 1));
        let console = WsClient::connect_url(&ws, w.as_role("operator").bearer.as_deref()).await.expect("console connects");
        let base = format!("/api/v1/meetings/{id}/motions");
        let chair = w.as_role("chair");
        let labels = ["Phương án Sen Hồng", "Phương án Trúc Xanh", "Phương án Mai Vàng"];
        let r = chair
            .post(&base, json!({"title": "Bầu chọn phương án nhân sự", "mode": "secret", "electorate": "delegates", "options": labels}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let mid = r.body["id"].as_str().unwrap().to_string();
        let m = format!("{base}/{mid}");
        assert_eq!(chair.post(&format!("{m}/open"), json!({})).await.body["state"], "open");

        let extra = extra_delegates(&w, 3).await;
        add_voters(&w, &id, &extra.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>()).await;
        let mut voters: Vec<(String, Client)> = vec![
            (w.users["chair"].clone(), chair.clone()),
            (w.users["delegate"].clone(), w.as_role("delegate").clone()),
        ];
        voters.extend(extra);
        let choices = [json!(labels[0]), json!(labels[1]), json!(0), json!(2), json!(labels[0])];
        for ((_, c), choice) in voters.iter().zip(&choices) {
            let r = c.post(&format!("{m}/vote"), json!({"option": choice})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(!labels.iter().any(|l| r.text.contains(l)), "the receipt names no choice: {}", r.text);
        }
        // A second secret vote: refused, nothing counted.
        let before = fingerprint(&w.db.store).await;
        let counts = tallies(&w, &mid).await;
        let r = voters[1].1.post(&format!("{m}/vote"), json!({"option": 1})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "already_voted"), "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);
        assert_eq!(tallies(&w, &mid).await, counts);

        // While open, a manager sees only how many ballots were cast.
        let live = chair.get(&m).await;
        assert_eq!(live.body["ballots_cast"], 5, "{}", live.text);
        assert_eq!(live.body["results"], Value::Null, "{}", live.text);
        assert_eq!(chair.post(&format!("{m}/close"), json!({})).await.body["state"], "closed");
        // Closing dropped the per-vote history of the tallies: SQLite's WAL,
        // which held every earlier version of those pages, is emptied.
        if w.db.backend == diemcau::store::Backend::Sqlite {
            let path = w.db.url.trim_start_matches("sqlite://").split('?').next().unwrap().to_string();
            let wal = std::fs::metadata(format!("{path}-wal")).map(|m| m.len()).unwrap_or(0);
            assert_eq!(wal, 0, "WAL of {path} after a secret vote closed");
        }
        let closed = chair.get(&m).await;
        assert_eq!(votes_of(&closed.body), vec![3, 1, 1], "{}", closed.text);
        assert_eq!(closed.body["results"]["votes"], json!([]));
        assert_eq!(w.as_role("delegate").get(&m).await.body["results"], Value::Null);
        assert_eq!(chair.post(&format!("{m}/publish"), json!({})).await.body["state"], "published");
        assert_eq!(votes_of(&w.as_role("delegate").get(&m).await.body), vec![3, 1, 1]);
        assert_eq!(tallies(&w, &mid).await, vec![(0, 3, 3), (1, 1, 1), (2, 1, 1)]);

        // The console saw the motion open, each ballot counted (how many,
        // never what), close, and the published result.
        let second = std::time::Duration::from_secs(1);
        let mut seen: Vec<Value> = Vec::new();
        let mut from = 0;
        while seen.last().is_none_or(|e: &Value| e["motion"]["state"] != "published") {
            let e = console.wait_type(from, "motion", second).await.unwrap_or_else(|| panic!("motion events: {:?}", console.received()));
            from = console.received().iter().position(|x| x == &e).map_or(from, |i| i + 1);
            seen.push(e);
        }
        let steps: Vec<(String, u64, bool)> = seen
            .iter()
            .map(|e| (e["motion"]["state"].as_str().unwrap().to_string(), e["motion"]["ballots_cast"].as_u64().unwrap(), e["motion"]["results"].is_null()))
            .collect();
        let open_counts: Vec<u64> = steps.iter().filter(|s| s.0 == "open").map(|s| s.1).collect();
        assert_eq!(open_counts, vec![0, 1, 2, 3, 4, 5], "{steps:?}");
        assert!(steps.iter().filter(|s| s.0 != "published").all(|s| s.2), "no counts before publishing: {steps:?}");
        assert_eq!(votes_of(&seen.last().unwrap()["motion"]), vec![3, 1, 1]);
        for e in console.received() {
            let text = e.to_string();
            assert!(!voters.iter().any(|(v, _)| text.contains(v.as_str())), "an event names a voter: {text}");
        }

        // Every row of every table, the audit log included.
        let ids: Vec<&str> = voters.iter().map(|(id, _)| id.as_str()).collect();
        let rows = dump_everything(&w.db.store).await;
        // The check can see both halves: labels are stored (the motion) and
        // so are voters (who has voted).
        assert!(rows.iter().any(|r| r.contains(labels[0])));
        assert!(rows.iter().any(|r| r.starts_with("motion_ballots_cast:") && r.contains(ids[2])));
        let ballots_audited = rows.iter().filter(|r| r.starts_with("audit_log:") && r.contains("motion.ballot_cast")).count();
        assert_eq!(ballots_audited, 5);
        for row in &rows {
            let voter = ids.iter().find(|v| row.contains(**v));
            let label = labels.iter().find(|l| row.contains(**l));
            assert!(voter.is_none() || label.is_none(), "a row links voter {voter:?} to {label:?}: {row}");
        }

        // The trace output: no line names a voter and a choice together.
        drop(_guard);
        let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).to_string();
        assert!(!text.is_empty(), "trace output was captured");
        // The capture really sees the server's work: on PostgreSQL sqlx
        // traces each statement on this thread (SQLite runs statements on
        // its own worker thread, outside this thread's subscriber).
        if w.db.backend == diemcau::store::Backend::Postgres {
            assert!(text.lines().any(|l| l.contains("INSERT INTO motion_ballots_cast")), "server statements are traced");
        }
        for line in text.lines() {
            let voter = ids.iter().find(|v| line.contains(**v));
            let label = labels.iter().find(|l| line.contains(**l));
            assert!(voter.is_none() || label.is_none(), "a trace line links {voter:?} to {label:?}: {line}");
        }
    }
}

both_backends! {
    async fn voting_rooms_vote_once_weighted_by_headcount(db) {
        let w = world(db).await;
        let id = open_meeting(&w).await;
        let base = format!("/api/v1/meetings/{id}/motions");
        let chair = w.as_role("chair");
        let r = chair.post(&base, json!({"title": "Thông qua chương trình công tác năm", "mode": "open", "electorate": "rooms"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let mid = r.body["id"].as_str().unwrap().to_string();
        let m = format!("{base}/{mid}");
        assert_eq!(chair.post(&format!("{m}/open"), json!({})).await.body["state"], "open");

        // A person does not vote on a rooms motion.
        let r = w.as_role("delegate").post(&format!("{m}/vote"), json!({"option": 0})).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "not_eligible"), "{}", r.text);

        // Over HTTP a room needs VoteCast in `access::endpoint_permits`
        // (not ours to edit); the weighting itself is the domain's, so the
        // votes are cast through it with each room's stated headcount.
        let v = Voting::new(w.db.store.clone());
        let actor = operator();
        let cast = |ep: &str, headcount: u32, choice: Choice| {
            let (v, actor, id, mid) = (v.clone(), actor.clone(), id.clone(), mid.clone());
            let voter = Voter::Room { endpoint_id: ep.to_string(), headcount };
            async move { v.cast(&actor, &id, &mid, &voter, &choice).await }
        };
        cast(w.endpoint("a"), 40, Choice::Index(0)).await.unwrap();
        cast(w.endpoint("b"), 25, Choice::Label("Không tán thành".into())).await.unwrap();
        cast(w.endpoint("w"), 7, Choice::Index(0)).await.unwrap();
        let again = cast(w.endpoint("a"), 40, Choice::Index(1)).await;
        assert!(again.unwrap_err().to_string().contains("already voted"));
        let zero = cast(w.endpoint("hub"), 0, Choice::Index(0)).await;
        assert!(zero.unwrap_err().to_string().contains("headcount"));
        let huge = cast(w.endpoint("hub"), 10_001, Choice::Index(0)).await;
        assert!(huge.unwrap_err().to_string().contains("headcount"));
        assert_eq!(tallies(&w, &mid).await, vec![(0, 47, 2), (1, 25, 1), (2, 0, 0)]);

        // Over HTTP a room weighs what the roll call confirmed for it, never
        // a number it sends: none confirmed yet, no vote; a number in the
        // body is refused; both change nothing.
        let before = fingerprint(&w.db.store).await;
        let hub = w.as_endpoint("hub");
        let r = hub.post(&format!("{m}/vote"), json!({"option": 2})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "headcount_unconfirmed"), "{}", r.text);
        let r = hub.post(&format!("{m}/vote"), json!({"option": 2, "headcount": 10_000})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);
        let r = w
            .as_role("secretary")
            .post(&format!("/api/v1/meetings/{id}/live/headcount"), json!({"endpoint_id": w.endpoint("hub"), "headcount": 120}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = hub.post(&format!("{m}/vote"), json!({"option": 2})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(tallies(&w, &mid).await, vec![(0, 47, 2), (1, 25, 1), (2, 120, 1)]);
        let r = hub.post(&format!("{m}/vote"), json!({"option": 2})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "already_voted"));

        assert_eq!(chair.post(&format!("{m}/close"), json!({})).await.body["state"], "closed");
        let closed = chair.get(&m).await;
        assert_eq!(votes_of(&closed.body)[..2], [47, 25]);
        let named = closed.body["results"]["votes"].as_array().unwrap();
        assert!(named.iter().any(|v| v["voter_id"] == w.endpoint("a") && v["weight"] == 40));
    }
}

both_backends! {
    async fn voting_needs_an_open_meeting(db) {
        let w = world(db).await;
        // Planned but not opened.
        let made = w.as_role("secretary").post("/api/v1/meetings", json!({
            "title": "Giao ban tháng", "kind": "giao_ban",
            "starts_at_ms": hour_from_now(), "ends_at_ms": hour_from_now() + 3_600_000,
            "endpoint_ids": [w.endpoint("a")],
            "chair_user_id": w.users["chair"],
            "members": [{"user_id": w.users["delegate"], "role": "voting"}],
        })).await;
        let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
        let base = format!("/api/v1/meetings/{id}/motions");
        let r = w.as_role("secretary").post(&base, json!({"title": "Chuẩn bị trước", "mode": "secret", "electorate": "delegates"})).await;
        assert_eq!(r.status, 201, "a motion is prepared before the meeting opens: {}", r.text);
        let m = format!("{base}/{}", r.body["id"].as_str().unwrap());
        let before = fingerprint(&w.db.store).await;
        let r = w.as_role("chair").post(&format!("{m}/open"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "meeting_not_open"), "{}", r.text);
        let r = w.as_role("delegate").post(&format!("{m}/vote"), json!({"option": 0})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "meeting_not_open"), "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);
        // The room of the meeting sees the motion, without counts.
        let r = w.as_endpoint("a").get(&base).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["motions"][0]["results"], Value::Null);
    }
}
