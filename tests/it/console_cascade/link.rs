//! A relay link between a child node and the top, seen from both ends.

use super::*;

#[test]
fn a_relay_link_shows_on_the_childs_view_with_its_bars_and_on_the_tops_list_of_children() {
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
        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:?}");
        page.close().await;
        drop(child);
    }));
}
