//! Cascading, control-plane side, over real HTTP: child nodes registered
//! at a parent with a credential shown once (wrong, revoked and rotated
//! credentials), real servers in a tree (top ← middle ← bottom) each
//! seeing its parent link up, a node closing a loop refused at start (the
//! built binary exits non-zero naming the loop), and a child whose parent
//! is down at start linking up once the parent comes.

use std::time::{Duration, Instant};

use diemcau::control::cascade::{Cascade, NewNode};
use diemcau::control::people::{People, Role, UserDetails};
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::api::{Client, PASSWORD, fingerprint, world_with};
use crate::support::db::{TestDb, both_backends, operator};
use crate::support::server::{TestServer, start_with};

/// An admin client for a server started without the API fixture.
async fn admin_of(srv: &TestServer) -> Client {
    let people = People::new(srv.server.state().store.clone());
    let user = people
        .create(
            &operator(),
            "root",
            UserDetails {
                display_name: "Quản trị".into(),
                roles: [Role::Admin].into(),
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
    Client {
        http: reqwest::Client::new(),
        base: srv.base_url(),
        bearer: Some(secret.expose().to_string()),
    }
}

/// A child's hello, as a child node sends it.
async fn hello(base: &str, node_id: &str, credential: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/cascade/hello"))
        .bearer_auth(credential)
        .json(&json!({"node_id": node_id, "name": "Nút thử", "path": []}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn last_audit(db: &diemcau::store::Store) -> (String, String, String) {
    let r = sqlx::query("SELECT action, target, details FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_one(db.pool())
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// Register `id` at the server whose store is `store`; its credential.
async fn register(store: &diemcau::store::Store, id: &str, name: &str) -> String {
    let (_, credential) = Cascade::new(store.clone())
        .register(
            &operator(),
            NewNode {
                id: id.into(),
                name: name.into(),
                unit_id: None,
                uplink_kbps: None,
            },
        )
        .await
        .unwrap();
    credential.expose().to_string()
}

/// A node below `parent` (base URL) on its own SQLite data directory.
async fn child_node(id: &str, parent: &str, credential: &str) -> TestServer {
    let (id, parent, credential) = (id.to_string(), parent.to_string(), credential.to_string());
    start_with(move |c| {
        c.demo.token = None;
        c.cascade.node_id = Some(id);
        c.cascade.parent = Some(parent);
        c.cascade.credential = Some(credential);
    })
    .await
}

/// Poll `GET /api/v1/cascade` until `check` holds (or 20 s pass: a link
/// that is up is checked by a heartbeat every 10 s).
async fn wait_cascade(client: &Client, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view = client.get("/api/v1/cascade").await;
        assert_eq!(view.status, 200, "{}", view.text);
        if check(&view.body) {
            return view.body;
        }
        assert!(Instant::now() < deadline, "{what}: {}", view.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

both_backends! {
    async fn a_node_credential_is_shown_once_and_only_it_authenticates_while_not_revoked(db) {
        let w = world_with(db, |c| {
            c.cascade.node_id = Some("tinh".into());
            c.cascade.name = Some("Tỉnh ủy Thử Nghiệm".into());
        })
        .await;
        let admin = w.admin();
        let base = w.srv.base_url();
        let made = admin
            .post(
                "/api/v1/cascade/nodes",
                json!({"id": "xa-an-phu", "name": "Nút xã An Phú", "unit_id": w.unit("A")}),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.text);
        let credential = made.body["credential"].as_str().unwrap().to_string();
        assert!(credential.starts_with("dcn_"), "{credential}");
        assert_eq!(made.body["node"]["uplink_kbps"], 20000);
        // Shown once: no listing, no single read and no audit record holds it.
        for path in ["/api/v1/cascade/nodes", "/api/v1/cascade/nodes/xa-an-phu", "/api/v1/cascade"] {
            let r = admin.get(path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            assert!(!r.text.contains(&credential[4..]), "{path} shows the credential");
        }
        let audit: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE details LIKE $1")
            .bind(format!("%{}%", &credential[4..]))
            .fetch_one(w.db.store.pool()).await.unwrap().get(0);
        assert_eq!(audit, 0);

        // The right credential: the answer names this node and its path.
        let (status, answer) = hello(&base, "xa-an-phu", &credential).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, json!({"parent_id": "tinh", "parent_name": "Tỉnh ủy Thử Nghiệm", "path": ["tinh"]}));
        let view = admin.get("/api/v1/cascade").await.body;
        assert_eq!(view["node_id"], "tinh");
        assert_eq!(view["parent"], Value::Null);
        let child = &view["children"][0];
        assert_eq!(child["id"], "xa-an-phu");
        assert_eq!(child["link"]["state"], "up");
        assert_eq!(child["last_address"], "127.0.0.1");
        assert!(child["last_seen_at_ms"].as_i64().unwrap() > 0);
        let metrics = reqwest::get(format!("{}/metrics", w.srv.metrics_url())).await.unwrap().text().await.unwrap();
        assert!(metrics.contains("diemcau_cascade_link_up{node=\"xa-an-phu\"} 1"), "{metrics}");

        // A wrong credential (well-formed), a right one for another node id,
        // and an unknown node: 401, audited with the reason, nothing else changed.
        admin.post("/api/v1/cascade/nodes", json!({"id": "xa-binh-minh", "name": "Nút xã Bình Minh"})).await;
        let other = "dcn_".to_string() + &"A".repeat(43);
        for (node, secret, reason) in [
            ("xa-an-phu", other.as_str(), "wrong_credential"),
            ("xa-binh-minh", credential.as_str(), "wrong_credential"),
            ("xa-khong-co", credential.as_str(), "unknown_node"),
        ] {
            let before = fingerprint(&w.db.store).await;
            let (status, body) = hello(&base, node, secret).await;
            assert_eq!(status, 401, "{node}: {body}");
            assert_eq!(body["error"]["code"], "node_unauthorized");
            let (action, target, details) = last_audit(&w.db.store).await;
            assert_eq!(action, "cascade.auth_failed");
            assert_eq!(target, format!("cascade_node:{node}"));
            assert!(details.contains(reason), "{details}");
            assert!(!details.contains(&secret[4..]));
            let after = fingerprint(&w.db.store).await;
            let changed: Vec<_> = after.iter().filter(|x| !before.contains(x)).map(|(t, _)| t.as_str()).collect();
            assert_eq!(changed, ["audit_log", "audit_head.seq"], "only the audit record is new");
        }
        // Not a node credential at all (a person's token): 401 before anything.
        let person = w.admin().bearer.clone().unwrap();
        assert_eq!(hello(&base, "xa-an-phu", &person).await.0, 401);

        // Validation: ids, duplicates, unknown units and nodes.
        let r = admin.post("/api/v1/cascade/nodes", json!({"id": "Xã An Phú", "name": "x"})).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "id"), "{}", r.text);
        let r = admin.post("/api/v1/cascade/nodes", json!({"id": "xa-an-phu", "name": "lần hai"})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "duplicate_node"), "{}", r.text);
        let r = admin.post("/api/v1/cascade/nodes", json!({"id": "n1", "name": "x", "unit_id": "ou_none"})).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "unknown_unit"), "{}", r.text);
        let r = admin.post("/api/v1/cascade/nodes", json!({"id": "n1", "name": "x", "uplink_kbps": 50})).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "uplink_kbps"), "{}", r.text);
        let r = admin.post("/api/v1/cascade/nodes/khong-co/credential", json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "unknown_node"), "{}", r.text);
        assert_eq!(admin.delete("/api/v1/cascade/nodes/khong-co").await.status, 404);

        // Rotate: the old credential stops working, the new one works.
        let rotated = admin.post("/api/v1/cascade/nodes/xa-an-phu/credential", json!({})).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        let fresh = rotated.body["credential"].as_str().unwrap().to_string();
        assert_ne!(fresh, credential);
        assert_eq!(hello(&base, "xa-an-phu", &credential).await.0, 401);
        assert_eq!(hello(&base, "xa-an-phu", &fresh).await.0, 200);

        // Revoke: 401 from then on, the link is down, audited.
        assert_eq!(admin.delete("/api/v1/cascade/nodes/xa-an-phu").await.status, 204);
        assert_eq!(last_audit(&w.db.store).await.0, "cascade.node_revoke");
        let (status, _) = hello(&base, "xa-an-phu", &fresh).await;
        assert_eq!(status, 401);
        assert!(last_audit(&w.db.store).await.2.contains("revoked"));
        let node = admin.get("/api/v1/cascade/nodes/xa-an-phu").await.body;
        assert_eq!(node["link"]["state"], "down");
        assert!(node["revoked_at_ms"].is_i64());
        // A rotation re-admits it.
        let again = admin.post("/api/v1/cascade/nodes/xa-an-phu/credential", json!({})).await;
        let again = again.body["credential"].as_str().unwrap().to_string();
        assert_eq!(hello(&base, "xa-an-phu", &again).await.0, 200);
        w.srv.server.shutdown().await;
    }
}

both_backends! {
    async fn a_meeting_is_placed_on_registered_child_nodes_once_and_audited(db) {
        let store = db.store.clone();
        let _ = register(&store, "xa-a", "Nút A").await;
        let cascade = Cascade::new(store.clone());
        let meeting = diemcau::store::new_id("mt_");
        // A bare meeting row: placement only needs the meeting to exist.
        sqlx::query(
            "INSERT INTO meetings (id, occurrence, state, title, kind, description, starts_at, ends_at, local_date, quorum_percent, sequence, created_by, created_at, updated_at)
             VALUES ($1, 1, 'scheduled', 'Hội nghị', 'giao_ban', '', 0, 1, '2025-07-01', 50, 0, 'cli', 0, 0)",
        )
        .bind(&meeting)
        .execute(store.pool())
        .await
        .unwrap();
        let before = fingerprint(&store).await;
        let e = cascade.place(&operator(), "mt_none", &["xa-a".into()]).await.unwrap_err();
        assert!(e.to_string().contains("no meeting"), "{e}");
        let e = cascade.place(&operator(), &meeting, &["xa-a".into(), "khong-co".into()]).await.unwrap_err();
        assert!(e.to_string().contains("khong-co"), "{e}");
        assert_eq!(fingerprint(&store).await, before, "a refused placement changes nothing");
        let placed = cascade.place(&operator(), &meeting, &["xa-a".into(), "xa-a".into()]).await.unwrap();
        assert_eq!(placed, ["xa-a"]);
        assert_eq!(last_audit(&store).await.0, "cascade.meeting_place");
        assert!(cascade.place(&operator(), &meeting, &["xa-a".into()]).await.unwrap().is_empty());
        assert_eq!(cascade.placements(&meeting).await.unwrap(), ["xa-a"]);
    }
}

/// top (on `db`) ← middle ← bottom, each registered at its parent, each up.
struct Tree {
    top: TestServer,
    middle: TestServer,
    bottom: TestServer,
    top_admin: Client,
    middle_admin: Client,
    bottom_admin: Client,
}

async fn tree(db: &TestDb) -> Tree {
    let url = db.url.clone();
    let top = start_with(move |c| {
        c.demo.token = None;
        c.database.url = url;
        c.cascade.node_id = Some("top".into());
        c.cascade.name = Some("Trung ương".into());
    })
    .await;
    let top_admin = admin_of(&top).await;
    let made = top_admin
        .post(
            "/api/v1/cascade/nodes",
            json!({"id": "middle", "name": "Tỉnh ủy"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let middle = child_node(
        "middle",
        &top.base_url(),
        made.body["credential"].as_str().unwrap(),
    )
    .await;
    let middle_admin = admin_of(&middle).await;
    let made = middle_admin
        .post(
            "/api/v1/cascade/nodes",
            json!({"id": "bottom", "name": "Đảng ủy xã"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let bottom = child_node(
        "bottom",
        &middle.base_url(),
        made.body["credential"].as_str().unwrap(),
    )
    .await;
    let bottom_admin = admin_of(&bottom).await;
    Tree {
        top,
        middle,
        bottom,
        top_admin,
        middle_admin,
        bottom_admin,
    }
}

both_backends! {
    async fn three_nodes_in_a_tree_each_see_their_parent_link_up_and_their_ancestors(db) {
        let t = tree(&db).await;
        // Up as soon as start returned: the first hello runs before it.
        let bottom = t.bottom_admin.get("/api/v1/cascade").await.body;
        assert_eq!(bottom["parent"]["state"], "up", "{bottom}");
        assert_eq!(bottom["parent"]["parent_id"], "middle");
        assert_eq!(bottom["ancestors"], json!(["middle", "top"]));
        let middle = t.middle_admin.get("/api/v1/cascade").await.body;
        assert_eq!(middle["parent"]["state"], "up", "{middle}");
        assert_eq!(middle["parent"]["parent_name"], "Trung ương");
        assert_eq!(middle["ancestors"], json!(["top"]));
        assert_eq!(middle["children"][0]["id"], "bottom");
        assert_eq!(middle["children"][0]["link"]["state"], "up");
        let top = t.top_admin.get("/api/v1/cascade").await.body;
        assert_eq!(top["parent"], Value::Null);
        assert_eq!(top["ancestors"], json!([]));
        assert_eq!(top["children"][0]["id"], "middle");
        assert_eq!(top["children"][0]["link"]["state"], "up");
        let metrics = reqwest::get(format!("{}/metrics", t.middle.metrics_url()))
            .await.unwrap().text().await.unwrap();
        assert!(metrics.contains("diemcau_cascade_link_up{node=\"top\"} 1"), "{metrics}");
        assert!(metrics.contains("diemcau_cascade_link_up{node=\"bottom\"} 1"), "{metrics}");
        // The link goes down when the parent stops, and the state says so.
        t.top.server.shutdown().await;
        wait_cascade(&t.middle_admin, "middle sees its parent gone", |v| v["parent"]["state"] == "down").await;
        t.bottom.server.shutdown().await;
        t.middle.server.shutdown().await;
    }
}

both_backends! {
    async fn a_node_whose_parent_chain_leads_back_to_itself_refuses_to_start_naming_the_loop(db) {
        let t = tree(&db).await;
        // "top" is registered at bottom, and a node "top" is configured
        // with bottom as its parent: top → bottom → middle → top.
        let made = t.bottom_admin
            .post("/api/v1/cascade/nodes", json!({"id": "top", "name": "Vòng lặp"}))
            .await;
        assert_eq!(made.status, 201, "{}", made.text);
        let credential = made.body["credential"].as_str().unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
            .arg("serve")
            // No configs/diemcau.toml there: defaults plus the variables below.
            .current_dir(dir.path())
            .env_clear()
            .env("DIEMCAU_DATA_DIR", dir.path().join("data"))
            .env("DIEMCAU_HTTP__HTTP_LISTEN", "127.0.0.1:0")
            .env("DIEMCAU_HTTP__HTTPS_LISTEN", "off")
            .env("DIEMCAU_HTTP__METRICS_LISTEN", "off")
            .env("DIEMCAU_MEDIA__BIND", "127.0.0.1")
            .env("DIEMCAU_MEDIA__UDP_PORT", "0")
            .env("DIEMCAU_MEDIA__TCP_PORT", "0")
            .env("DIEMCAU_MEDIA__ADVERTISE", r#"["127.0.0.1"]"#)
            .env("DIEMCAU_MEDIA__WORKERS", "1")
            .env("DIEMCAU_CASCADE__NODE_ID", "top")
            .env("DIEMCAU_CASCADE__PARENT", t.bottom.base_url())
            .env("DIEMCAU_CASCADE__CREDENTIAL", &credential)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run diemcau");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                // Our own child, by its handle.
                let _ = child.kill();
                let _ = child.wait();
                panic!("the looping node did not exit");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!status.success(), "{stderr}");
        assert!(
            stderr.contains("cascade loop: top → bottom → middle → top"),
            "{stderr}"
        );
        // Bottom refused it without taking it as a child link.
        let node = t.bottom_admin.get("/api/v1/cascade/nodes/top").await.body;
        assert_eq!(node["link"], Value::Null, "{node}");
        assert_eq!(node["last_seen_at_ms"], Value::Null);
        for s in [t.bottom, t.middle, t.top] {
            s.server.shutdown().await;
        }
    }
}

#[tokio::test]
async fn a_node_whose_parent_is_its_own_address_refuses_to_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let mut config = crate::support::server::test_config(data.path());
    config.http.http_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    config.cascade.node_id = Some("mot-minh".into());
    config.cascade.parent = Some(format!("http://127.0.0.1:{port}"));
    config.cascade.credential = Some(format!("dcn_{}", "x".repeat(43)));
    let err = match diemcau::Server::start(config).await {
        Ok(_) => panic!("a node that is its own parent started"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("cascade loop: mot-minh → mot-minh"), "{err}");
}

both_backends! {
    async fn a_child_whose_parent_is_down_starts_standalone_and_links_up_once_the_parent_starts(db) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let credential = register(&db.store, "con", "Nút con").await;
        let parent_url = format!("http://127.0.0.1:{port}");
        let child = child_node("con", &parent_url, &credential).await;
        let child_admin = admin_of(&child).await;
        let view = child_admin.get("/api/v1/cascade").await.body;
        assert_eq!(view["parent"]["state"], "down", "{view}");
        assert!(view["parent"]["last_error"].as_str().unwrap().contains("unreachable"), "{view}");
        let url = db.url.clone();
        let parent = start_with(move |c| {
            c.demo.token = None;
            c.database.url = url;
            c.http.http_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
            c.cascade.node_id = Some("cha".into());
        })
        .await;
        let started = Instant::now();
        let view = wait_cascade(&child_admin, "the child links up", |v| v["parent"]["state"] == "up").await;
        // A child retries every 2 s: a few retries on a loaded machine, not
        // the 30 s after-loop pause or no retry at all.
        assert!(started.elapsed() < Duration::from_secs(12), "{:?}", started.elapsed());
        assert_eq!(view["parent"]["parent_id"], "cha");
        assert_eq!(view["ancestors"], json!(["cha"]));
        child.server.shutdown().await;
        parent.server.shutdown().await;
    }
}

both_backends! {
    async fn refused_hellos_from_one_address_are_cut_off_with_429_before_they_flood_the_audit_log(db) {
        let w = world_with(db, |c| c.cascade.node_id = Some("tinh".into())).await;
        let base = w.srv.base_url();
        let good = register(&w.db.store, "xa-b", "Nút B").await;
        let _ = register(&w.db.store, "xa-a", "Nút A").await;
        let wrong = "dcn_".to_string() + &"B".repeat(43);
        let before = crate::support::db::audit_count(&w.db.store).await;
        for _ in 0..5 {
            assert_eq!(hello(&base, "xa-a", &wrong).await.0, 401);
        }
        assert_eq!(crate::support::db::audit_count(&w.db.store).await, before + 5);
        let (status, body) = hello(&base, "xa-a", &wrong).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "rate_limited");
        assert_eq!(
            crate::support::db::audit_count(&w.db.store).await,
            before + 5,
            "a refusal past the limit is not audited"
        );
        // Another node from the same address still gets through.
        assert_eq!(hello(&base, "xa-b", &good).await.0, 200);
        w.srv.server.shutdown().await;
    }
}

both_backends! {
    async fn a_child_link_without_a_hello_for_too_long_goes_down_audited_once(db) {
        let store = db.store.clone();
        let _ = register(&store, "xa-im-lang", "Nút im lặng").await;
        let cascade = Cascade::new(store.clone());
        let node = cascade.hello("xa-im-lang", Some("127.0.0.1".parse().unwrap()), Some(12)).await.unwrap();
        let link = node.link.unwrap();
        assert_eq!(link.state, diemcau::control::cascade::LinkState::Up);
        assert_eq!(link.rtt_ms, Some(12));
        assert_eq!(last_audit(&store).await.0, "cascade.link_up");
        // A heartbeat while up changes nothing worth a record.
        let n = crate::support::db::audit_count(&store).await;
        cascade.hello("xa-im-lang", None, None).await.unwrap();
        assert_eq!(crate::support::db::audit_count(&store).await, n);
        let later = diemcau::store::now_ms() + 1_000;
        assert_eq!(cascade.mark_stale(&operator(), later).await.unwrap(), ["xa-im-lang"]);
        assert_eq!(last_audit(&store).await.0, "cascade.link_down");
        assert_eq!(
            cascade.get("xa-im-lang").await.unwrap().link.unwrap().state,
            diemcau::control::cascade::LinkState::Down
        );
        assert!(cascade.mark_stale(&operator(), later).await.unwrap().is_empty());
        assert_eq!(crate::support::db::audit_count(&store).await, n + 1);
    }
}
