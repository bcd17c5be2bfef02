//! HTTP hardening, around every route: the security headers on every
//! answer, and the same-origin check of WebSocket upgrades.
//!
//! The pages are self-hosted and load scripts and styles from `/assets/`
//! only (no inline script, style or event handler anywhere in `web/`), so
//! the policy allows nothing but this origin; `blob:` is for the room and
//! delegate pages' own PDF copies and self-view, `data:` for small images.
//! `object-src` allows `blob:` because Chromium shows a PDF in a frame
//! through a plugin governed by `object-src`, and a blob frame inherits
//! this policy (crbug.com/271452): with `'none'` the document viewer would
//! stay blank. Only this page's own scripts can make a blob URL.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// HSTS max-age: one year, the usual value for a host that will stay on
/// HTTPS (the province's own name, under its CA).
const HSTS: &str = "max-age=31536000";

/// The security headers, and for a WebSocket upgrade the Origin check.
pub async fn harden(req: Request, next: Next) -> Response {
    let host = request_host(req.headers(), req.uri());
    if is_websocket_upgrade(req.headers())
        && let Err(refusal) = check_origin(req.headers(), host.as_deref())
    {
        let mut resp = refusal.into_response();
        add_headers(resp.headers_mut(), host.as_deref());
        return resp;
    }
    let mut resp = next.run(req).await;
    add_headers(resp.headers_mut(), host.as_deref());
    resp
}

/// On the HTTPS listener only: browsers that once reached it over HTTPS
/// never try plain HTTP for this host again (plain HTTP is loopback-only,
/// where HSTS would break local tools).
pub async fn hsts(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    resp
}

/// The Content-Security-Policy for an answer to a request to `host`.
pub fn content_security_policy(host: Option<&str>) -> String {
    // 'self' covers same-origin WebSockets in CSP 3; naming ws:/wss: of
    // this host keeps older engines working too.
    let sockets = host
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:; media-src 'self' blob:; \
         frame-src 'self' blob:; object-src blob:; connect-src 'self'{sockets}; \
         font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

fn add_headers(h: &mut HeaderMap, host: Option<&str>) {
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(host)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// The host (and port) the request was sent to: `Host`, or an HTTP/2
/// request's authority. Only names and addresses pass, so nothing of it can
/// add a directive to the policy it is written into.
fn request_host(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let raw = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()))?;
    let ok = !raw.is_empty()
        && raw.len() <= 255
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
    ok.then(|| raw.to_ascii_lowercase())
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("websocket"));
    // HTTP/2 WebSockets (RFC 8441) have no Upgrade header, but this one.
    upgrade || headers.contains_key(header::SEC_WEBSOCKET_VERSION)
}

/// A browser always sends `Origin` with a WebSocket; it must be the page's
/// own origin, or another site's page could ride on the session cookie
/// (cross-site WebSocket hijacking). No `Origin`: not a browser (tools,
/// tests, encoders), which has to bring its credentials itself.
fn check_origin(headers: &HeaderMap, host: Option<&str>) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim().to_ascii_lowercase();
    let forwarded = headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let allowed = [host.map(str::to_string), forwarded]
        .into_iter()
        .flatten()
        .any(|h| same_origin(&origin, &h));
    if allowed {
        return Ok(());
    }
    tracing::warn!(origin = %origin, host = ?host, "websocket upgrade from another origin refused");
    Err(ApiError::forbidden(
        "cross_origin",
        format!(
            "a WebSocket from a page of {origin:?} is refused: only pages of this server may open one"
        ),
    ))
}

/// Whether `origin` (`scheme://host[:port]`) is served by `host` (`host[:port]`).
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return false,
    };
    let strip = |a: &str| a.strip_suffix(default_port).unwrap_or(a).to_string();
    !authority.is_empty() && strip(authority) == strip(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_compares_host_and_port_with_default_ports() {
        assert!(same_origin("https://hop.tinh.vn", "hop.tinh.vn"));
        assert!(same_origin("https://hop.tinh.vn", "hop.tinh.vn:443"));
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(!same_origin("http://127.0.0.1:8081", "127.0.0.1:8080"));
        assert!(!same_origin("https://evil.example", "hop.tinh.vn"));
        assert!(!same_origin("null", "hop.tinh.vn"));
        assert!(!same_origin("file://", "hop.tinh.vn"));
    }

    #[test]
    fn a_host_that_could_inject_a_directive_is_left_out() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("x; script-src *"));
        assert_eq!(request_host(&h, &"/".parse().unwrap()), None);
        h.insert(header::HOST, HeaderValue::from_static("Hop.Tinh.VN:8443"));
        assert_eq!(
            request_host(&h, &"/".parse().unwrap()).as_deref(),
            Some("hop.tinh.vn:8443")
        );
    }

    #[test]
    fn the_policy_allows_no_inline_script() {
        let csp = content_security_policy(Some("a:1"));
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' ws://a:1 wss://a:1;"),
            "{csp}"
        );
    }
}
