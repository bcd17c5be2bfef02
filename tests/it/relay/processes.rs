//! Three node processes on PostgreSQL carry stage, floor and mute, and
//! re-merge after a SIGKILL within 5 s.

use super::*;

/// A diemcau node run as its own process (the built binary), killed with
/// SIGKILL by its handle when dropped.
struct NodeProcess {
    child: std::process::Child,
    base: String,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `diemcau serve` as node `id` (under `parent`, if any) on the shared
/// store, listening on `port`; wait until it answers.
async fn node_process(
    dir: &std::path::Path,
    db_url: &str,
    id: &str,
    parent: Option<(&str, &str)>,
    port: u16,
) -> NodeProcess {
    let data = dir.join(id);
    std::fs::create_dir_all(&data).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{id}.log")))
        .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"));
    cmd.arg("serve")
        .current_dir(&data)
        .env_clear()
        .env("DIEMCAU_DATA_DIR", &data)
        .env("DIEMCAU_DATABASE__URL", db_url)
        // Nodes sharing a database share its audit key (the seeding
        // server's, which sealed it).
        .env(
            "DIEMCAU_AUDIT__KEY_FILE",
            crate::support::server::test_audit_key(),
        )
        .env("DIEMCAU_HTTP__HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("DIEMCAU_HTTP__HTTPS_LISTEN", "off")
        .env("DIEMCAU_HTTP__METRICS_LISTEN", "off")
        .env("DIEMCAU_MEDIA__BIND", "127.0.0.1")
        .env("DIEMCAU_MEDIA__UDP_PORT", "0")
        .env("DIEMCAU_MEDIA__TCP_PORT", "0")
        .env("DIEMCAU_MEDIA__ADVERTISE", r#"["127.0.0.1"]"#)
        .env("DIEMCAU_MEDIA__WORKERS", "1")
        .env("DIEMCAU_CASCADE__NODE_ID", id)
        .env("DIEMCAU_CASCADE__UPLINK_KBPS", "4000");
    if let Some((parent, credential)) = parent {
        cmd.env("DIEMCAU_CASCADE__PARENT", parent)
            .env("DIEMCAU_CASCADE__CREDENTIAL", credential);
    }
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("run diemcau");
    let node = NodeProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + LINK;
    loop {
        if let Ok(r) = reqwest::get(format!("{}/healthz", node.base)).await
            && r.status().is_success()
        {
            return node;
        }
        let log = std::fs::read_to_string(dir.join(format!("{id}.log"))).unwrap_or_default();
        assert!(Instant::now() < deadline, "node {id} did not start:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The issue's own test: three `diemcau serve` processes (top ← middle ←
/// bottom) sharing the real PostgreSQL as their registry and store, with
/// webrtc-rs rooms on each. The top's stage reaches every node; a
/// publisher two levels down reaches the top when given the floor; the
/// top's mute silences it; the middle killed with SIGKILL and started
/// again re-merges the meeting within 5 s of its return, with no operator
/// action.
#[test]
fn relay_three_node_processes_on_postgresql_carry_stage_floor_and_mute_and_remerge_after_sigkill_within_5_s()
 {
    let pg = PgBridge::start();
    run_in_loopback_netns(async move {
        let admin_url = pg.admin_url();
        run_postgres_at(&admin_url, |db| async move {
            let url = db.url.clone();
            // The province is seeded through an in-process server on the
            // same database, which then stops: every node below is a
            // process of its own.
            let w = world_with(db, |c| {
                c.cascade.node_id = Some("top".into());
                c.cascade.name = Some("Tỉnh ủy".into());
            })
            .await;
            let p = w.unit("P").to_string();
            let middle_credential =
                register(w.admin(), "middle", "Đảng ủy phường trung tâm", &p).await;
            let ApiWorld {
                srv,
                province,
                clients,
                ..
            } = w;
            srv.server.shutdown().await;
            let dir = tempfile::tempdir().unwrap();
            let top = node_process(dir.path(), &url, "top", None, free_tcp_port()).await;
            let on = |c: &Client, node: &NodeProcess| Client {
                base: node.base.clone(),
                ..c.clone()
            };
            let admin = on(&clients["admin"], &top);
            let op = on(&clients["operator"], &top);
            let op_token = op.bearer.clone().unwrap();
            let middle_port = free_tcp_port();
            let middle = node_process(
                dir.path(),
                &url,
                "middle",
                Some((&top.base, &middle_credential)),
                middle_port,
            )
            .await;
            let bottom_credential =
                register(&on(&admin, &middle), "bottom", "Đảng ủy xã Bình Minh", &p).await;
            let bottom = node_process(
                dir.path(),
                &url,
                "bottom",
                Some((&middle.base, &bottom_credential)),
                free_tcp_port(),
            )
            .await;
            let key = |k: &str| province.endpoints[k].clone();
            let token = |k: &str| province.endpoint_tokens[k].clone();
            let (hub_key, b_key) = (key("hub"), key("b"));
            let id = start_meeting(&op, &hub_key, &[&key("a"), &b_key]).await;

            let hub = room(&top.base, &id, &token("hub"), "hub").await;
            let b = room(&bottom.base, &id, &token("b"), "b").await;
            let (hub_tag, b_tag) = (hub.publisher().source_tag, b.publisher().source_tag);
            let (top_view, _) =
                whep_subscriber(&top.base, &id, &op_token, "top viewer", 1, 3, None).await;
            let (middle_view, _) =
                whep_subscriber(&middle.base, &id, &op_token, "middle viewer", 1, 1, None).await;
            let (bottom_view, _) =
                whep_subscriber(&bottom.base, &id, &op_token, "bottom viewer", 1, 1, None).await;
            b_present_at_the_top(&op, &id, &b_key).await;

            // The top's stage reaches every node.
            stage(&op, &id, &hub_key).await;
            until(
                "the hub's video at the middle and the bottom",
                &[&middle_view, &bottom_view],
                || from(&middle_view, true, hub_tag) > 60 && from(&bottom_view, true, hub_tag) > 60,
            )
            .await;

            // B, two levels down, reaches the top when given the floor.
            top_gives_b_the_floor(&op, &id, &b_key, b_tag, &top_view).await;

            // The top mutes B's microphone: silenced two levels down.
            top_mutes_b_and_the_bottom_silences_it(
                &op,
                &on(&op, &bottom),
                &id,
                &b_key,
                b_tag,
                &top_view,
            )
            .await;
            act(
                &op,
                &format!("/api/v1/meetings/{id}/live/mute"),
                json!({"endpoint_id": b_key, "audio": false}),
            )
            .await;

            // kill -9 the middle node: no goodbye, no leave.
            drop(middle);
            wait_row(
                &op,
                &id,
                &b_key,
                "B gone from the top with the middle node",
                |r| r["connected"] == false,
            )
            .await;
            // Back on the same address: the tree re-merges by itself (the
            // bottom node tries again at least every second).
            let middle = node_process(
                dir.path(),
                &url,
                "middle",
                Some((&top.base, &middle_credential)),
                middle_port,
            )
            .await;
            b_back_at_the_top_within_5_s(&op, &id, &b_key, b_tag, &top_view).await;
            // And the top's stage reaches the bottom through the new links.
            stage(&op, &id, &hub_key).await;
            let seen = from(&bottom_view, true, hub_tag);
            until(
                "the hub's video at the bottom again",
                &[&bottom_view],
                || from(&bottom_view, true, hub_tag) > seen + 30,
            )
            .await;
            for c in [&hub, &b, &top_view, &middle_view, &bottom_view] {
                c.close().await;
            }
            drop(bottom);
            drop(middle);
            drop(top);
        })
        .await;
    });
}
