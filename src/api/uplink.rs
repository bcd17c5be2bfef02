//! The child side of `POST /api/v1/cascade/hello`: say hello to the parent
//! node with this node's credential, learn the parent's id and ancestors,
//! and keep saying it (every 2 s while the link is down, every 10 s as a
//! heartbeat while it is up).
//!
//! A minimal HTTP/1.1 client over a tokio `TcpStream` (one request per
//! connection, `Connection: close`, bounded answer, timeout): the main
//! crate has no HTTP client dependency. `http://` parents only for now;
//! an `https://` parent is reported as unsupported and retried like an
//! unreachable one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::control::cascade::{CascadeState, HelloAnswer, Loop};

/// How often a node whose parent link is down tries again.
pub const RETRY: Duration = Duration::from_secs(2);
/// How often a node whose parent link is up says hello again.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// After a parent refused a loop, wait this long before asking again (the
/// tree may be reconfigured meanwhile; asking every 2 s would only fill logs).
const AFTER_LOOP: Duration = Duration::from_secs(30);
/// One hello, connect to answer.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    #[error("parent {url} unreachable: {why}")]
    Unreachable { url: String, why: String },
    #[error("parent {url} refused this node ({status} {code}): {message}")]
    Refused {
        url: String,
        status: u16,
        code: String,
        message: String,
    },
    /// The parent (or this node, reading the answer) found a loop.
    #[error("{message} (parent {url})")]
    Loop { url: String, message: String },
    #[error("parent {url} answered something that is not a hello answer: {why}")]
    BadAnswer { url: String, why: String },
    #[error("parent {url}: {why}")]
    Unsupported { url: String, why: String },
}

/// `http://host[:port][/prefix]` → (authority to connect to, Host header,
/// path prefix without a trailing `/`).
fn split_url(url: &str) -> Result<(String, String, String), String> {
    let rest = if url.starts_with("https://") {
        return Err(
            "https:// parents are not supported yet (no TLS client in this build); \
             reach the parent over http:// (e.g. a local TLS tunnel)"
                .into(),
        );
    } else {
        url.strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("{url:?} names no host"));
    }
    // A port after the host (and after an IPv6 literal's `]`), else 80.
    let has_port = match authority.rfind(']') {
        Some(b) => authority[b..].contains(':'),
        None => authority.contains(':'),
    };
    let connect = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((connect, authority.to_string(), path.to_string()))
}

/// A chunked body, decoded.
fn unchunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("a chunk is cut".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// One `POST {url}{path}` of a JSON body with the node credential:
/// (status, body). Also what the relay links use to reach the parent.
pub(crate) async fn post_json(
    url: &str,
    path: &str,
    credential: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), HelloError> {
    let unreachable = |why: String| HelloError::Unreachable {
        url: url.to_string(),
        why,
    };
    let bad = |why: &str| HelloError::BadAnswer {
        url: url.to_string(),
        why: why.to_string(),
    };
    let (connect, host, prefix) = split_url(url).map_err(|why| HelloError::Unsupported {
        url: url.to_string(),
        why,
    })?;
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&connect)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let head = format!(
            "POST {prefix}{path} HTTP/1.1\r\nHost: {host}\r\n\
             Authorization: Bearer {credential}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\nUser-Agent: diemcau/{}\r\n\r\n",
            body.len(),
            env!("CARGO_PKG_VERSION")
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        stream
            .write_all(body)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.len() > MAX_ANSWER {
                return Err(bad("the answer is too long"));
            }
        }
        Ok(answer)
    };
    let answer = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", TIMEOUT.as_secs())))??;
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no HTTP header end"))?;
    let head = std::str::from_utf8(&answer[..head_end]).map_err(|_| bad("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.get(2..5))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no HTTP status line"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            }
        }
    }
    let raw = &answer[head_end + 4..];
    let body = if chunked {
        unchunk(raw).map_err(|e| bad(&e))?
    } else {
        match length {
            Some(n) if n <= raw.len() => raw[..n].to_vec(),
            Some(_) => return Err(bad("the body is shorter than its Content-Length")),
            None => raw.to_vec(),
        }
    };
    Ok((status, body))
}

/// Say hello to the parent at `url` once.
pub async fn hello(
    cascade: &CascadeState,
    url: &str,
    credential: &str,
    rtt_ms: Option<u32>,
) -> Result<HelloAnswer, HelloError> {
    let own = cascade.node_id.clone().unwrap_or_default();
    let body = serde_json::json!({
        "node_id": own,
        "name": cascade.name,
        "path": cascade.ancestors(),
        "rtt_ms": rtt_ms,
    });
    let body = serde_json::to_vec(&body).expect("a JSON value serialises");
    let (status, answer) = post_json(url, "/api/v1/cascade/hello", credential, &body).await?;
    if status == 200 {
        let answer: HelloAnswer =
            serde_json::from_slice(&answer).map_err(|e| HelloError::BadAnswer {
                url: url.to_string(),
                why: e.to_string(),
            })?;
        // The parent checks; check its answer too (it may be older).
        if answer.parent_id == own || answer.path.contains(&own) {
            let mut chain = vec![own.clone()];
            chain.extend(answer.path.iter().take_while(|a| **a != own).cloned());
            chain.push(own);
            return Err(HelloError::Loop {
                url: url.to_string(),
                message: Loop(chain).to_string(),
            });
        }
        return Ok(answer);
    }
    let error: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
    let code = error["error"]["code"].as_str().unwrap_or("").to_string();
    let message = error["error"]["message"].as_str().unwrap_or("").to_string();
    if status == 409 && code == "cascade_loop" {
        return Err(HelloError::Loop {
            url: url.to_string(),
            message,
        });
    }
    Err(HelloError::Refused {
        url: url.to_string(),
        status,
        code,
        message,
    })
}

/// One hello whose outcome goes into `cascade`; returns it.
pub async fn hello_and_record(
    cascade: &CascadeState,
    url: &str,
    credential: &str,
) -> Result<HelloAnswer, HelloError> {
    let rtt_ms = cascade
        .parent()
        .and_then(|p| p.rtt_ms)
        .and_then(|r| u32::try_from(r).ok());
    let started = Instant::now();
    let outcome = hello(cascade, url, credential, rtt_ms).await;
    match &outcome {
        Ok(answer) => {
            let was_up = cascade
                .parent()
                .is_some_and(|p| p.state == crate::control::cascade::LinkState::Up);
            let rtt = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            cascade.parent_up(answer, rtt);
            if !was_up {
                tracing::info!(parent = %answer.parent_id, path = ?answer.path, "cascade: link to the parent is up");
            }
        }
        Err(e) => {
            let was_up = cascade.parent_down(&e.to_string());
            match e {
                HelloError::Loop { .. } => tracing::error!("cascade: {e}"),
                _ if was_up => tracing::warn!("cascade: link to the parent is down: {e}"),
                _ => tracing::debug!("cascade: {e}"),
            }
        }
    }
    outcome
}

/// Keep the link to the parent: hello every [`HEARTBEAT`] while up, every
/// [`RETRY`] while down. Runs until the server stops (aborted with it).
pub async fn run(cascade: Arc<CascadeState>, url: String, credential: String) {
    let mut wait = match cascade.parent().map(|p| p.state) {
        Some(crate::control::cascade::LinkState::Up) => HEARTBEAT,
        _ => RETRY,
    };
    loop {
        tokio::time::sleep(wait).await;
        wait = match hello_and_record(&cascade, &url, &credential).await {
            Ok(_) => HEARTBEAT,
            Err(HelloError::Loop { .. }) => AFTER_LOOP,
            Err(_) => RETRY,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_host_and_prefix() {
        assert_eq!(
            split_url("http://127.0.0.1:9080").unwrap(),
            ("127.0.0.1:9080".into(), "127.0.0.1:9080".into(), "".into())
        );
        assert_eq!(
            split_url("http://parent.internal/diemcau/").unwrap(),
            (
                "parent.internal:80".into(),
                "parent.internal".into(),
                "/diemcau".into()
            )
        );
        assert_eq!(split_url("http://[::1]:8080").unwrap().0, "[::1]:8080");
        assert_eq!(split_url("http://[::1]").unwrap().0, "[::1]:80");
        assert!(split_url("https://x").unwrap_err().contains("https"));
        assert!(split_url("http:///x").is_err());
    }

    #[test]
    fn chunked_bodies_are_decoded_and_cut_ones_refused() {
        assert_eq!(
            unchunk(b"3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(unchunk(b"5\r\nab").is_err());
        assert!(unchunk(b"zz\r\n").is_err());
    }
}
