//! HTTP hardening: security headers on every answer, the WebSocket Origin
//! check, /metrics on its own listener only, a /healthz that tells nothing.

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::support::rtc_client::{metric_sums, scrape_metrics};
use crate::support::server;

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing on {}", r.url()))
        .to_str()
        .unwrap()
}

/// The headers every answer carries, whatever it is.
fn assert_hardened(r: &reqwest::Response) {
    let csp = header(r, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
    ] {
        assert!(
            csp.contains(directive),
            "{directive} not in {csp} ({})",
            r.url()
        );
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let host = r.url().host_str().unwrap().to_string() + ":" + &r.url().port().unwrap().to_string();
    assert!(
        csp.contains(&format!("connect-src 'self' ws://{host} wss://{host}")),
        "{csp}"
    );
    assert_eq!(header(r, "x-frame-options"), "DENY");
    assert_eq!(header(r, "referrer-policy"), "no-referrer");
    assert_eq!(header(r, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn security_headers_are_on_every_page_asset_and_api_answer() {
    let srv = server::start().await;
    let base = srv.base_url();
    for (path, status) in [
        ("/", 200),
        ("/room/demo", 200),
        ("/room/x", 404),
        ("/console", 200),
        ("/console/meetings", 200),
        ("/portal", 200),
        ("/delegate", 200),
        ("/assets/room/main.js", 200),
        ("/assets/common.css", 200),
        ("/assets/console/trust.js", 200),
        ("/assets/signatures.css", 200),
        ("/console/signatures", 200),
        ("/api/v1/openapi.json", 200),
        ("/api/v1/auth/me", 401),
        ("/healthz", 200),
        ("/no/such/route", 404),
    ] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert_hardened(&r);
        assert!(
            !r.headers().contains_key("strict-transport-security"),
            "no HSTS on plain HTTP ({path})"
        );
    }
    srv.server.shutdown().await;
}

#[tokio::test]
async fn every_file_of_the_asset_table_is_served_with_its_content_type_and_the_headers() {
    let srv = server::start().await;
    let base = srv.base_url();
    let table = diemcau::api::assets::ASSETS;
    assert!(table.len() > 40, "{} assets", table.len());
    for (path, ty, body) in table {
        let r = reqwest::get(format!("{base}/assets/{path}")).await.unwrap();
        if path.ends_with(".html") {
            // A page has its own URL; under /assets it is not served.
            assert_eq!(r.status(), 404, "/assets/{path}");
            continue;
        }
        assert_eq!(r.status(), 200, "/assets/{path}");
        assert_eq!(header(&r, "content-type"), *ty, "/assets/{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "/assets/{path}");
        assert_hardened(&r);
        assert_eq!(&r.bytes().await.unwrap()[..], *body, "/assets/{path}");
    }
    for missing in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/console",
    ] {
        let r = reqwest::get(format!("{base}{missing}")).await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
    srv.server.shutdown().await;
}

#[tokio::test]
async fn the_pages_have_no_inline_script_style_or_handler() {
    // What the policy would block in a browser, found in the pages as served.
    let srv = server::start().await;
    let base = srv.base_url();
    for path in ["/", "/room/demo", "/console", "/portal", "/delegate"] {
        let page = reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lower = page.to_ascii_lowercase();
        for (at, _) in lower.match_indices("<script") {
            let tag_end = lower[at..].find('>').unwrap() + at;
            assert!(
                lower[at..tag_end].contains(" src="),
                "inline script in {path}"
            );
        }
        assert!(!lower.contains("<style"), "a <style> block in {path}");
        assert!(!lower.contains(" style="), "a style attribute in {path}");
        assert!(
            !lower.contains("javascript:"),
            "a javascript: URL in {path}"
        );
        let handler = regex_free_handler(&lower);
        assert!(handler.is_none(), "an inline handler {handler:?} in {path}");
    }
    srv.server.shutdown().await;
}

/// ` onclick=` and the like, without a regex crate.
fn regex_free_handler(html: &str) -> Option<String> {
    html.match_indices(" on").find_map(|(i, _)| {
        let rest = &html[i + 3..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        (!name.is_empty() && rest[name.len()..].starts_with('=')).then(|| format!("on{name}"))
    })
}

#[tokio::test]
async fn hsts_is_sent_on_the_https_listener() {
    let srv = server::start_with(|c| {
        c.http.https_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let https = srv.server.https_addr().expect("https listener");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://{https}/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_hardened(&r);
    assert_eq!(header(&r, "strict-transport-security"), "max-age=31536000");
    srv.server.shutdown().await;
}

async fn ws_status(url: &str, origin: Option<&str>) -> (u16, String) {
    let mut req = url.into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => (resp.status().as_u16(), String::new()),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => (
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned(),
        ),
        Err(e) => panic!("{url}: {e}"),
    }
}

#[tokio::test]
async fn websocket_upgrade_from_a_foreign_origin_is_refused_same_origin_accepted() {
    let srv = server::start().await;
    let ws = format!("ws://{}", srv.http);
    let own = srv.base_url();
    for path in ["/ws", "/api/v1/meetings/demo/live/events"] {
        let url = format!("{ws}{path}");
        for foreign in ["http://evil.example", "null", "http://127.0.0.1:1"] {
            let (status, body) = ws_status(&url, Some(foreign)).await;
            assert_eq!(status, 403, "{path} from {foreign}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], "cross_origin", "{body}");
        }
    }
    // /ws upgrades for its own pages and for clients that send no Origin.
    assert_eq!(ws_status(&format!("{ws}/ws"), Some(&own)).await.0, 101);
    assert_eq!(ws_status(&format!("{ws}/ws"), None).await.0, 101);
    // The event stream from its own page gets past the Origin check to its
    // own credential check.
    let (status, body) = ws_status(
        &format!("{ws}/api/v1/meetings/demo/live/events"),
        Some(&own),
    )
    .await;
    assert_ne!(status, 403, "{body}");
    srv.server.shutdown().await;
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only() {
    let srv = server::start().await;
    let public = reqwest::get(format!("{}/metrics", srv.base_url()))
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let own = reqwest::get(format!("{}/metrics", srv.metrics_url()))
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let text = own.text().await.unwrap();
    assert!(text.contains("diemcau_datagrams_received_total"), "{text}");
    assert!(
        text.contains("diemcau_password_verifications_total"),
        "{text}"
    );
    // Nothing else is served there.
    for path in ["/", "/healthz", "/api/v1/openapi.json", "/console"] {
        let r = reqwest::get(format!("{}{path}", srv.metrics_url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    srv.server.shutdown().await;

    // Switched off, there is no listener at all.
    let off = server::start_with(|c| c.http.metrics_listen = None).await;
    assert_eq!(off.server.metrics_addr(), None);
    off.server.shutdown().await;
}

/// The heap gauges are the allocator's own totals: a 64 MiB buffer held
/// across two scrapes shows in the bytes in use, and the allocator never
/// reports holding less than it hands out.
#[tokio::test]
async fn metrics_report_the_heap_in_use_and_held() {
    let srv = server::start().await;
    let url = srv.metrics_url();
    // Both gauges from one page: "held ≥ in use" holds at one instant.
    let scrape = || async {
        let m = metric_sums(&scrape_metrics(&url).await.unwrap());
        let gauge = |name: &str| {
            m.get(name)
                .copied()
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        (
            gauge("diemcau_heap_in_use_bytes") as u64,
            gauge("diemcau_heap_held_bytes") as u64,
        )
    };
    let (before, held) = scrape().await;
    assert!(before > 0 && held >= before, "in use {before}, held {held}");
    // The server shares this test's process and allocator.
    // (Large enough that what the server's own threads free meanwhile
    // cannot hide it.)
    let block = vec![1u8; 64 << 20];
    let (during, held) = scrape().await;
    assert!(held >= during, "in use {during}, held {held}");
    assert!(
        during >= before + (48 << 20),
        "64 MiB more allocated, yet in use went {before} → {during}"
    );
    drop(std::hint::black_box(block));
    srv.server.shutdown().await;
}

#[tokio::test]
async fn healthz_says_ok_and_nothing_more() {
    let srv = server::start().await;
    let r = reqwest::get(format!("{}/healthz", srv.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    srv.server.shutdown().await;
}
