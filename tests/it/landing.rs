//! The root page `/` as a landing page: who are you — operator, secretary,
//! delegate, room — each to its own page, the local CA to download,
//! Vietnamese first with every text in English too.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::browser::{ChromeDriver, Steps};
use crate::support::rtc_client::run_in_loopback_netns;
use crate::support::server::{self, DEMO_TOKEN};

const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// Every `href="…"` target on the page.
fn links(page: &str) -> Vec<String> {
    page.match_indices("href=\"")
        .map(|(i, m)| {
            let rest = &page[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_landing_page_sends_each_role_to_its_page_and_offers_the_local_ca() {
    // With HTTPS on, the server makes a local CA and offers it.
    let srv =
        server::start_with(|c| c.http.https_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let base = srv.base_url();
    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<html lang=\"vi\">") && page.contains("Bạn là ai?"),
        "{page}"
    );
    let targets = links(&page);
    for (role, path) in [
        ("role-operator", "/console"),
        ("role-secretary", "/portal"),
        ("role-delegate", "/delegate"),
    ] {
        assert!(
            page.contains(&format!("id=\"{role}\" href=\"{path}\"")),
            "{role} → {path} in {page}"
        );
    }
    assert!(page.contains("id=\"room-form\""), "the room's form");
    for path in [
        "/console",
        "/portal",
        "/delegate",
        "/ca.pem",
        "/assets/index.js",
        "/assets/index.css",
    ] {
        assert!(
            targets.iter().any(|t| t == path) || page.contains(&format!("src=\"{path}\"")),
            "{path} is not on the page"
        );
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let ca = reqwest::get(format!("{base}/ca.pem"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    srv.server.shutdown().await;
}

#[tokio::test]
async fn every_text_of_the_landing_page_is_in_vietnamese_and_english() {
    let srv = server::start().await;
    let get = |p: &'static str| {
        let url = format!("{}{p}", srv.base_url());
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let page = get("/").await;
    let (vi, en) = (
        get("/assets/i18n/vi/landing.js").await,
        get("/assets/i18n/en/landing.js").await,
    );
    let keys: BTreeSet<&str> = page
        .match_indices("data-i18n=\"")
        .map(|(i, m)| {
            let rest = &page[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert!(keys.len() >= 10, "{keys:?}");
    // The dictionaries: web/i18n/{vi,en}/landing.js.
    for key in keys {
        for (lang, dict) in [("vi", &vi), ("en", &en)] {
            assert!(
                dict.contains(&format!("\n  {key}: ")),
                "{key} has no {lang} text"
            );
        }
    }
    srv.server.shutdown().await;
}

#[test]
fn in_chromium_the_landing_page_switches_to_english_and_its_room_form_joins_the_room() {
    run_in_loopback_netns(async {
        // No HTTPS: no local CA, so its section is hidden.
        let srv = server::start().await;
        let base = srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "landing", POLL_INTERVAL);
        page.navigate(&format!("{base}/")).await;
        // The script ran under the page's Content-Security-Policy.
        steps
            .until(
                "01-vi",
                "const b = document.getElementById('btn-lang'); return !!b && !b.hidden && document.getElementById('ca').hidden;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            steps
                .run("return document.querySelector('h1').textContent;")
                .await,
            "Bạn là ai?"
        );
        steps.shot("01-vi").await;
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        assert_eq!(
            steps
                .run("return document.querySelector('h1').textContent;")
                .await,
            "Who are you?"
        );
        assert_eq!(
            steps.run("return document.documentElement.lang;").await,
            "en"
        );
        steps.shot("02-en").await;
        // An empty form says what is missing and stays.
        steps
            .run("document.querySelector('#room-form button').click(); return true;")
            .await;
        assert_eq!(
            steps.run("const e = document.getElementById('room-error'); return e.hidden ? '' : e.textContent;").await,
            "Enter both the meeting code and the access code."
        );
        steps
            .run(&format!(
                "document.getElementById('room-meeting').value = 'demo';\
                 document.getElementById('room-token').value = '{DEMO_TOKEN}';\
                 document.querySelector('#room-form button').click(); return true;"
            ))
            .await;
        // The room page, its token already gone from the address bar.
        steps
            .until(
                "03-room",
                "return location.pathname === '/room/demo' && !location.search.includes('token') && document.readyState === 'complete';",
                STEP_TIMEOUT,
            )
            .await;
        page.close().await;
        srv.server.shutdown().await;
    });
}

/// What a console line says when a page's module graph did not load or
/// run: an import that failed, a name that is not exported, a script error,
/// a refusal of the Content-Security-Policy, an asset that did not come.
fn module_failure(line: &str) -> bool {
    [
        "Uncaught",
        "SyntaxError",
        "TypeError",
        "ReferenceError",
        "Failed to load module",
        "Failed to fetch dynamically imported module",
        "Content Security Policy",
    ]
    .iter()
    .any(|needle| line.contains(needle))
        || (line.contains("/assets/") && line.contains("Failed to load resource"))
}

#[test]
fn in_chromium_every_pages_module_graph_loads_and_runs_without_a_script_error() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "modules", POLL_INTERVAL);
        // Each page, and a sign that its entry module ran to its end (each
        // module of its graph evaluated first).
        let has_hooks = "return document.readyState === 'complete' && !!window.diemcau;";
        let room = format!("/room/demo?token={DEMO_TOKEN}");
        for (name, path, ran) in [
            (
                "landing",
                "/",
                "return !document.getElementById('btn-lang').hidden;",
            ),
            ("console", "/console", has_hooks),
            ("console-bodies", "/console/bodies", has_hooks),
            ("portal", "/portal", has_hooks),
            ("delegate", "/delegate", has_hooks),
            ("room", room.as_str(), has_hooks),
            (
                "live",
                "/live/demo",
                "return document.getElementById('live-title').textContent.includes('demo');",
            ),
            (
                "screen",
                "/live/demo/screen",
                "return document.title.includes('demo');",
            ),
        ] {
            page.navigate(&format!("{base}{path}")).await;
            steps.until(name, ran, STEP_TIMEOUT).await;
            // Every script the page loaded came from /assets/ as a module.
            let scripts = steps
                .run(
                    "return performance.getEntriesByType('resource')\
                       .filter((e) => e.name.includes('/assets/') && e.name.endsWith('.js')).length;",
                )
                .await;
            assert!(
                scripts.as_u64().unwrap_or(0) >= 2,
                "{path}: its modules ({scripts})"
            );
            let failures: Vec<String> = page
                .console_log()
                .await
                .into_iter()
                .filter(|l| module_failure(l))
                .collect();
            assert!(failures.is_empty(), "{path}: {failures:#?}");
        }
        page.close().await;
        srv.server.shutdown().await;
    });
}
