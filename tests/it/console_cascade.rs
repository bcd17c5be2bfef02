//! The console's cascade links view (`/console/cascade`) in real Chromium
//! against two real nodes on one store: a top node and a child node linked
//! to it, with a live meeting relayed between them.
//!
//! On the child the operator sees its place in the tree, the parent link up
//! and the meeting's relay link with its rates drawn as bars against the
//! budget; on the top the admin registers another node, reads its
//! credential once and sees it listed as not linked until it says hello.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/console-cascade-*.png`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::console::log_in;
use crate::relay::{live_meeting, register};
use crate::support::api::world_with;
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{PublishConfig, run_in_loopback_netns, whip_publisher};
use crate::support::server::{TestServer, start_with};

/// Page steps are one or two HTTP round trips; a loaded 2-core machine
/// still answers within seconds, so 20 s only trips on a real failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// A relay link forms within a few seconds (two ICE/DTLS handshakes and a
/// supervisor pass); the console polls every 2 s.
const LINK_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A child node named `name` below `parent` on the same store.
async fn child_node(
    db_url: &str,
    id: &str,
    name: &str,
    parent: &str,
    credential: &str,
) -> TestServer {
    let (db_url, id, name, parent, credential) = (
        db_url.to_string(),
        id.to_string(),
        name.to_string(),
        parent.to_string(),
        credential.to_string(),
    );
    start_with(move |c| {
        c.demo.token = None;
        c.database.url = db_url;
        c.cascade.node_id = Some(id);
        c.cascade.name = Some(name);
        c.cascade.parent = Some(parent);
        c.cascade.credential = Some(credential);
        c.cascade.uplink_kbps = 4000;
    })
    .await
}

/// Uncaught script errors the page logged since the last look.
async fn script_errors(page: &crate::support::browser::Session) -> Vec<String> {
    page.console_log()
        .await
        .into_iter()
        .filter(|l| {
            l.contains("Uncaught") || l.contains("TypeError") || l.contains("ReferenceError")
        })
        .collect()
}

/// The child's hello, as a child node sends it.
async fn hello(base: &str, node_id: &str, credential: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/cascade/hello"))
        .bearer_auth(credential)
        .json(&json!({"node_id": node_id, "name": "Đảng ủy xã An Phú", "path": []}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[test]
fn cascade_view_shows_the_child_nodes_parent_link_up_and_its_relay_bars_and_the_top_admin_registers_a_node_whose_credential_shows_once_and_is_listed_unlinked()
 {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let url = db.url.clone();
        let w = world_with(db, |c| {
            c.cascade.node_id = Some("top".into());
            c.cascade.name = Some("Tỉnh ủy".into());
        })
        .await;
        let top = w.srv.base_url();
        let admin = w.admin().clone();
        let credential =
            register(&admin, "xa-binh-minh", "Đảng ủy xã Bình Minh", w.unit("B")).await;
        let child = child_node(
            &url,
            "xa-binh-minh",
            "Đảng ủy xã Bình Minh",
            &top,
            &credential,
        )
        .await;
        let id = live_meeting(&w).await;
        // The hub publishes at the top: the link carries its media down.
        let (_hub, _hub_session) = whip_publisher(
            &top,
            &id,
            &w.province.endpoint_tokens["hub"],
            "hub",
            PublishConfig::default(),
        )
        .await;

        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-cascade", POLL_INTERVAL);

        // 1. The child node's operator opens "Liên kết tầng".
        log_in(&steps, &child.base_url(), "test_operator").await;
        steps
            .run("document.getElementById('nav-cascade').click(); return true;")
            .await;
        let relay =
            format!("document.querySelector('#cas-relays .cas-relay[data-meeting=\"{id}\"]')");
        let seen = steps
            .until(
                "01-child",
                &format!(
                    "const p = document.querySelector('#cas-parent [data-parent]');\
                     const r = {relay};\
                     if (location.pathname !== '/console/cascade' || !p || p.dataset.parent !== 'up' || !r || r.dataset.up !== 'true') return null;\
                     const down = r.querySelector('.cas-bar[data-dir=down]');\
                     const up = r.querySelector('.cas-bar[data-dir=up]');\
                     const width = (b) => parseFloat(b.querySelector('.cas-bar-fill').style.width);\
                     if (!(Number(down.dataset.bps) > 0 && width(down) > 0)) return null;\
                     return {{\
                       nav: document.getElementById('nav-cascade').getAttribute('aria-current'),\
                       crumbs: document.getElementById('cas-crumbs').textContent,\
                       badge: p.querySelector('.badge').textContent,\
                       facts: p.textContent,\
                       title: r.querySelector('.cas-relay-title').textContent,\
                       state: r.querySelector('.cas-relay-head .badge').textContent,\
                       relinks: r.querySelector('.cas-relinks').textContent,\
                       bars: [up, down].map(b => b.querySelector('.cas-bar-label').textContent),\
                       meters: [up, down].map(b => b.querySelector('[role=meter]').getAttribute('aria-valuemax')),\
                       value: down.querySelector('.cas-bar-value').textContent,\
                       polls: window.diemcau.state().cascade.polls,\
                       children: [...document.querySelectorAll('#cas-children-body tr')].map(r => r.dataset.node),\
                       no_children: document.getElementById('cas-children-empty').textContent,\
                       parent_error: !!document.querySelector('#cas-parent .cas-error'),\
                       standalone: !document.getElementById('cas-standalone').hidden,\
                     }};"
                ),
                LINK_TIMEOUT,
            )
            .await;
        assert_eq!(seen["nav"], "page", "{seen}");
        assert_eq!(
            seen["crumbs"], "Tỉnh ủy › Đảng ủy xã Bình Minh (xa-binh-minh)",
            "{seen}"
        );
        assert_eq!(seen["badge"], "Đã liên kết", "{seen}");
        let facts = seen["facts"].as_str().unwrap_or_default();
        assert!(facts.contains("Cấp trên: Tỉnh ủy"), "{seen}");
        assert!(facts.contains(&format!("Địa chỉ: {top}")), "{seen}");
        assert!(facts.contains("Độ trễ khứ hồi: "), "{seen}");
        assert_eq!(
            seen["title"], "Hội nghị trực tuyến toàn tỉnh (liên kết tầng)",
            "{seen}"
        );
        assert_eq!(seen["state"], "Đang chuyển tiếp", "{seen}");
        assert_eq!(seen["relinks"], "Đã nối lại 0 lần", "{seen}");
        assert_eq!(seen["bars"], json!(["Lên (gửi)", "Xuống (nhận)"]), "{seen}");
        // Both bars are drawn against the link's 4000 kbit/s budget.
        assert_eq!(seen["meters"], json!(["4000000", "4000000"]), "{seen}");
        assert!(
            seen["value"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/ 4.0 Mbit/s"),
            "{seen}"
        );
        assert_eq!(seen["standalone"], false, "{seen}");
        // The registry is in the shared store: the child does not list
        // itself among its own children.
        assert_eq!(seen["children"], json!([]), "{seen}");
        assert_eq!(
            seen["no_children"], "Chưa đăng ký nút cấp dưới nào.",
            "{seen}"
        );
        assert_eq!(seen["parent_error"], false, "{seen}");
        // The view refreshes by itself (every 2 s) while it is open.
        let polls = seen["polls"].as_u64().unwrap_or(0);
        steps
            .until(
                "01-child-refreshes",
                &format!(
                    "return window.diemcau.state().cascade.polls >= {};",
                    polls + 2
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("01-child").await;
        // The operator registers nothing: no register button.
        assert_eq!(
            steps
                .run("return document.getElementById('btn-cas-new').hidden;")
                .await,
            true
        );
        // In English, the same view.
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        let english = steps
            .until(
                "02-child-en",
                "const p = document.querySelector('#cas-parent [data-parent] .badge');\
                 const h = document.querySelector('#view-cascade h1').textContent;\
                 return p && h === 'Cascade links' ? p.textContent : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(english, "Linked");
        steps.shot("02-child-en").await;
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "02-child-vi",
                "return document.querySelector('#view-cascade h1').textContent === 'Liên kết tầng';",
                STEP_TIMEOUT,
            )
            .await;

        // 2. The top node's admin, in a browser of their own (cookies do not
        // tell ports apart, and the store is shared): the child is listed,
        // linked, relaying into the meeting.
        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:?}");
        page.close().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-cascade", POLL_INTERVAL);
        log_in(&steps, &top, "test_admin").await;
        steps
            .run("document.getElementById('nav-cascade').click(); return true;")
            .await;
        let row = |node: &str| {
            format!("document.querySelector('#cas-children-body tr[data-node=\"{node}\"]')")
        };
        let top_seen = steps
            .until(
                "03-top",
                &format!(
                    "const r = {}; const c = document.querySelector('#cas-child-relays li[data-meeting=\"{id}\"]');\
                     if (!r || r.dataset.link !== 'up' || !c) return null;\
                     return {{ crumbs: document.getElementById('cas-crumbs').textContent,\
                               parent: document.getElementById('cas-parent').textContent,\
                               relays: document.getElementById('cas-relays').textContent,\
                               badge: r.querySelector('.badge').textContent,\
                               child: c.textContent }};",
                    row("xa-binh-minh")
                ),
                LINK_TIMEOUT,
            )
            .await;
        assert_eq!(top_seen["crumbs"], "Tỉnh ủy (top)", "{top_seen}");
        assert_eq!(
            top_seen["parent"], "Máy chủ cao nhất: không có cấp trên.",
            "{top_seen}"
        );
        assert_eq!(
            top_seen["relays"],
            "Máy chủ này không có cấp trên nên không chuyển tiếp hội nghị lên đâu cả.",
            "{top_seen}"
        );
        assert_eq!(top_seen["badge"], "Đã liên kết", "{top_seen}");
        let child_relay = top_seen["child"].as_str().unwrap_or_default();
        assert!(
            child_relay.starts_with("Hội nghị trực tuyến toàn tỉnh (liên kết tầng): Đảng ủy xã Bình Minh (người tham dự #"),
            "{top_seen}"
        );
        steps.shot("03-top").await;

        // 3. Register another node: an empty form is refused beside its
        // fields, a taken id and a name the server refuses (422, `field`)
        // beside theirs.
        steps
            .run("document.getElementById('btn-cas-new').click(); return true;")
            .await;
        steps
            .until(
                "04-dialog",
                "return document.getElementById('cas-dialog').open;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('cas-submit').click(); return true;")
            .await;
        let empty = steps
            .until(
                "04-empty",
                "const i = document.getElementById('cas-id-error'), n = document.getElementById('cas-name-error');\
                 return !i.hidden && !n.hidden ? [i.textContent, n.textContent] : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            empty,
            json!(["Vui lòng nhập mã nút.", "Vui lòng nhập tên nút."])
        );
        steps
            .run(
                "document.getElementById('cas-id').value = 'xa-binh-minh';\
                 document.getElementById('cas-name').value = 'Trùng mã';\
                 document.getElementById('cas-submit').click(); return true;",
            )
            .await;
        let taken = steps
            .until(
                "04-taken",
                "const i = document.getElementById('cas-id-error');\
                 return !i.hidden && document.getElementById('cas-id').getAttribute('aria-invalid') === 'true' ? i.textContent : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert!(
            taken
                .as_str()
                .unwrap_or_default()
                .starts_with("Mã nút này đã được đăng ký."),
            "{taken}"
        );
        steps
            .run(&format!(
                "document.getElementById('cas-id').value = 'xa-an-phu';\
                 document.getElementById('cas-name').value = {};\
                 document.getElementById('cas-submit').click(); return true;",
                json!("N".repeat(201))
            ))
            .await;
        let long = steps
            .until(
                "04-long-name",
                "const n = document.getElementById('cas-name-error');\
                 return !n.hidden && document.getElementById('cas-id-error').hidden ? n.textContent : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(long, "Tên nút không hợp lệ (trống hoặc quá dài).");
        steps.shot("04-long-name").await;
        let nodes = admin.get("/api/v1/cascade/nodes").await;
        assert_eq!(
            nodes.body["nodes"].as_array().map(|n| n.len()),
            Some(1),
            "nothing registered by the refusals: {}",
            nodes.text
        );

        // 4. Registered, serving commune A (picked from the org tree: the
        // meetings it carries): the credential is shown once, with its warning.
        let name = "Đảng ủy xã An Phú";
        let unit_a = json!(w.unit("A"));
        steps
            .until(
                "05-unit-options",
                &format!("return document.querySelector('#cas-unit option[value=' + JSON.stringify({unit_a}) + ']') !== null;"),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(&format!(
                "document.getElementById('cas-name').value = {};\
                 document.getElementById('cas-uplink').value = '8000';\
                 document.getElementById('cas-unit').value = {unit_a};\
                 document.getElementById('cas-submit').click(); return true;",
                json!(name)
            ))
            .await;
        let shown = steps
            .until(
                "05-credential",
                "const d = document.getElementById('token-dialog');\
                 const v = document.getElementById('token-value').value;\
                 return d.open && !document.getElementById('cas-dialog').open && v.startsWith('dcn_') ? {\
                   value: v,\
                   heading: document.getElementById('token-heading').textContent,\
                   warning: document.querySelector('#token-dialog .token-warning').textContent,\
                 } : null;",
                STEP_TIMEOUT,
            )
            .await;
        let issued = shown["value"].as_str().expect("credential").to_string();
        assert_eq!(
            shown["heading"], "Mã xác thực của nút “Đảng ủy xã An Phú”",
            "{shown}"
        );
        let warning = shown["warning"].as_str().unwrap_or_default();
        assert!(
            warning.contains("chỉ hiển thị MỘT LẦN") && warning.contains("[cascade] credential"),
            "{shown}"
        );
        steps.shot("05-credential").await;
        steps
            .run("document.getElementById('token-copy').click(); return true;")
            .await;
        steps
            .until(
                "05-copied",
                "return !document.getElementById('token-copied').hidden;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('token-close').click(); return true;")
            .await;

        // 5. Listed, not linked (it never said hello); the credential is
        // gone from the page, the endpoint wording is back in the dialog.
        let listed = steps
            .until(
                "06-listed",
                &format!(
                    "const r = {};\
                     return r && !document.getElementById('token-dialog').open\
                       && document.getElementById('token-value').value === ''\
                       && !document.body.innerHTML.includes({}) ? {{\
                         link: r.dataset.link, badge: r.querySelector('.badge').textContent,\
                         cells: [...r.cells].slice(0, 5).map(c => c.textContent),\
                         warning: document.querySelector('#token-dialog .token-warning').textContent }} : null;",
                    row("xa-an-phu"),
                    json!(issued)
                ),
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(listed["link"], "down", "{listed}");
        assert_eq!(listed["badge"], "Chưa liên kết", "{listed}");
        assert_eq!(
            listed["cells"],
            json!([
                "Đảng ủy xã An Phúxa-an-phu",
                "Chưa liên kết",
                "—",
                "—",
                "8000 kbit/s"
            ]),
            "{listed}"
        );
        assert!(
            listed["warning"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Mã truy cập này chỉ hiển thị MỘT LẦN"),
            "{listed}"
        );
        steps.shot("06-listed").await;

        // 6. The credential read off the dialog is the node's: its hello is
        // accepted, and the open view shows the link up by itself.
        let (status, answer) = hello(&top, "xa-an-phu", &issued).await;
        assert_eq!(status, 200, "{answer}");
        let node = admin.get("/api/v1/cascade/nodes/xa-an-phu").await;
        assert_eq!(
            node.body["unit_id"].as_str(),
            Some(w.unit("A")),
            "{}",
            node.text
        );
        assert_eq!(answer["parent_id"], "top", "{answer}");
        steps
            .until(
                "07-linked",
                &format!(
                    "const r = {}; return r && r.dataset.link === 'up' && r.querySelector('.badge').textContent === 'Đã liên kết';",
                    row("xa-an-phu")
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("07-linked").await;

        // 7. A standalone node (no `[cascade] node_id`) on the same store:
        // instead of empty tables, how to configure `[cascade]`. The
        // admin's session cookie holds there too (same host, same store).
        let standalone_url = url.clone();
        let standalone = start_with(move |c| {
            c.demo.token = None;
            c.database.url = standalone_url;
        })
        .await;
        page.navigate(&format!("{}/console/cascade", standalone.base_url()))
            .await;
        let alone = steps
            .until(
                "08-standalone",
                "const s = document.getElementById('cas-standalone');\
                 return window.diemcau.state().cascade && !s.hidden ? {\
                   body: document.getElementById('cas-body').hidden,\
                   register: document.getElementById('btn-cas-new').hidden,\
                   text: s.textContent } : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(alone["body"], true, "{alone}");
        assert_eq!(alone["register"], true, "{alone}");
        let text = alone["text"].as_str().unwrap_or_default();
        for needed in [
            "chạy độc lập",
            "[cascade]",
            "node_id",
            "parent",
            "credential",
            "uplink_kbps",
            "khởi động lại",
        ] {
            assert!(text.contains(needed), "{needed:?} in {text}");
        }
        steps.shot("08-standalone").await;

        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:?}");
        page.close().await;
        drop(driver);
        drop((child, standalone));
    }));
}
