//! A node without `[cascade]`: the view says how to configure it.

use super::*;

/// A standalone node (no `[cascade] node_id`) on the same store: instead
/// of empty tables, how to configure `[cascade]`. The admin's session
/// cookie holds there too (same host, same store).
#[test]
fn a_standalone_node_explains_how_to_configure_cascade_instead_of_empty_tables() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let t = TopAdmin::open(db).await;
        let steps = t.steps();
        let standalone_url = t.db_url.clone();
        let standalone = start_with(move |c| {
            c.demo.token = None;
            c.database.url = standalone_url;
        })
        .await;
        t.page
            .navigate(&format!("{}/console/cascade", standalone.base_url()))
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
        drop(standalone);
        t.close().await;
    }));
}
