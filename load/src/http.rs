//! A minimal HTTP/1.1 client for the control API of the servers under test
//! (`http://127.0.0.1:<port>` only): one request per connection
//! (`Connection: close`), a JSON body, the status, headers and body back
//! (chunked bodies decoded). Enough for setting a scenario up and reading
//! `/metrics`; it keeps an HTTP stack out of the harness's dependencies.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The servers answer within this (an audited write on a loaded machine).
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("not JSON (status {}): {}", self.status, self.body))
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A signed-in browser session: its cookie and CSRF token, as headers.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    pub fn headers(&self) -> [(&str, &str); 2] {
        [("Cookie", &self.cookie), ("X-CSRF-Token", &self.csrf)]
    }
}

/// `POST /api/v1/auth/login` as a user signs in from the console.
pub async fn login(base: &str, name: &str, password: &str) -> anyhow::Result<Session> {
    let login = request(
        base,
        "POST",
        "/api/v1/auth/login",
        &[],
        Some(&serde_json::json!({"name": name, "password": password})),
    )
    .await?;
    if login.status != 200 {
        bail!("login: {} {}", login.status, login.body);
    }
    let cookie = login
        .header_values("set-cookie")
        .filter_map(|c| c.split(';').next())
        .find(|c| c.starts_with("diemcau_session="))
        .ok_or_else(|| anyhow!("login set no session cookie"))?
        .to_string();
    let csrf = login
        .json()?
        .pointer("/csrf")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("login gave no CSRF token"))?
        .to_string();
    Ok(Session { cookie, csrf })
}

/// `method base+path` with `headers` and an optional JSON body.
pub async fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> anyhow::Result<Response> {
    let host = base
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{base}: only http:// is supported"))?
        .trim_end_matches('/');
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    if body.is_some() || !matches!(method, "GET" | "HEAD") {
        req.push_str(&format!("Content-Length: {}\r\n", payload.len()));
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    let raw = tokio::time::timeout(TIMEOUT, async {
        let mut s = TcpStream::connect(host).await?;
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    })
    .await
    .map_err(|_| anyhow!("{method} {base}{path}: no answer within {TIMEOUT:?}"))?
    .with_context(|| format!("{method} {base}{path}"))?;
    parse(&raw).with_context(|| format!("{method} {base}{path}: bad response"))
}

fn parse(raw: &[u8]) -> anyhow::Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end])?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow!("status line {status_line:?}"))?
        .parse()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut b: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("chunk size line"))?;
        let size_text = std::str::from_utf8(&b[..eol])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            bail!("short chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
}

/// A bearer-token client of one server's `/api/v1`.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub bearer: String,
}

impl Api {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let auth = format!("Bearer {}", self.bearer);
        let r = request(&self.base, method, path, &[("Authorization", &auth)], body).await?;
        if !(200..300).contains(&r.status) {
            bail!("{method} {path}: {} {}", r.status, r.body);
        }
        if r.body.trim().is_empty() {
            return Ok(Value::Null);
        }
        r.json()
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call("POST", path, Some(&body)).await
    }
}

/// Prometheus text: the value of the first sample whose line starts with
/// `prefix` (name and labels as written by the server).
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_and_metrics_parse() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n\r\n4\r\nab c\r\n3\r\n\n x\r\n0\r\n\r\n";
        let r = parse(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "ab c\n x");
        assert_eq!(r.header_values("set-cookie").collect::<Vec<_>>(), ["a=1"]);
        let m = "# HELP x\nx_total{m=\"a\",d=\"up\"} 12\nx_total{m=\"a\",d=\"down\"} 7.5\n";
        assert_eq!(metric(m, "x_total{m=\"a\",d=\"down\"}"), Some(7.5));
        assert_eq!(metric(m, "y"), None);
    }
}
