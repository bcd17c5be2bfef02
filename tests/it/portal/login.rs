//! The portal's login page.

use super::*;

#[test]
fn the_portal_login_is_in_vietnamese_and_links_to_the_operator_console() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "portal", POLL_INTERVAL);
        page.navigate(&format!("{base}/portal")).await;
        steps
            .until(
                "01-login",
                "const f = document.getElementById('view-login'); return !!f && !f.hidden;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            steps
                .run("return document.querySelector('label[for=login-name]').textContent;")
                .await,
            "Tên đăng nhập"
        );
        assert_eq!(
            steps
                .run("return document.getElementById('link-console').getAttribute('href');")
                .await,
            "/console"
        );
        steps.shot("01-login").await;
        page.close().await;
    }));
}
