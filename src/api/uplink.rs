//! The child side of `POST /api/v1/cascade/hello`: say hello to the parent
//! node with this node's credential, learn the parent's id and ancestors,
//! and keep saying it (every 2 s while the link is down, every 10 s as a
//! heartbeat while it is up).
//!
//! [`Parent`] is this node's one HTTP client towards its parent (the relay
//! links use it too): `reqwest` on rustls (aws-lc-rs). An `https://` parent
//! is trusted only through the CA in `[cascade] parent_ca` — no system
//! roots: on an isolated network nothing else should vouch for a parent —
//! and an `http://` parent is allowed for labs and tests, with a warning.
//! No proxy from the environment, no redirects (the credential goes to the
//! configured parent and nowhere else), a timeout per request and a bounded
//! answer.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::CascadeConfig;
use crate::control::cascade::{CascadeState, HelloAnswer, Loop};

/// How often a node whose parent link is down tries again.
pub const RETRY: Duration = Duration::from_secs(2);
/// How often a node whose parent link is up says hello again.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// After a parent refused a loop, wait this long before asking again (the
/// tree may be reconfigured meanwhile; asking every 2 s would only fill logs).
const AFTER_LOOP: Duration = Duration::from_secs(30);
/// One request, connect to the end of the answer: a parent slower than
/// this is treated as unreachable (a sync runs every 250 ms; a hello every
/// 2 s while down).
const TIMEOUT: Duration = Duration::from_secs(5);
/// Connecting (TCP and TLS handshake), within [`TIMEOUT`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read, bytes: a relay's SDP answer or a sync's view
/// is a few KiB; a parent sending more is refused, not buffered.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

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
}

/// Why the client towards the parent cannot be made (at start).
#[derive(Debug, thiserror::Error)]
pub enum ParentError {
    #[error("cannot read the parent's CA {path}: {source}")]
    ReadCa {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no certificate in the parent's CA {path}: expected PEM blocks `-----BEGIN CERTIFICATE-----` \
         (the parent serves its generated CA at /ca.pem)"
    )]
    NoCertificate { path: std::path::PathBuf },
    #[error("cannot build the client towards the parent {url}: {why}")]
    Client { url: String, why: String },
}

/// The certificates of a PEM file, for pinning.
fn read_ca(path: &Path) -> Result<Vec<http_client::Certificate>, ParentError> {
    let pem = std::fs::read(path).map_err(|source| ParentError::ReadCa {
        path: path.to_owned(),
        source,
    })?;
    let certs = http_client::Certificate::from_pem_bundle(&pem).unwrap_or_default();
    if certs.is_empty() {
        return Err(ParentError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// An error and its causes on one line (a TLS refusal is a cause of a
/// connect error several levels down).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        next = s.source();
    }
    text
}

/// This node's client towards its parent: where it is, how it is trusted,
/// and the credential that says who this node is. Cheap to clone (the
/// connection pool is shared, so the 250 ms syncs reuse a connection).
#[derive(Clone)]
pub struct Parent {
    pub url: String,
    credential: Arc<str>,
    client: http_client::Client,
}

impl std::fmt::Debug for Parent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parent")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Parent {
    /// The client for `[cascade] parent`, or `None` without one. Reads
    /// `parent_ca` and the credential now: a missing file fails the start.
    pub fn from_config(config: &CascadeConfig) -> Result<Option<Parent>, crate::StartError> {
        let Some(url) = &config.parent else {
            return Ok(None);
        };
        let credential = config.parent_credential()?.unwrap_or_default();
        let ca = match &config.parent_ca {
            Some(path) => read_ca(path)?,
            None => Vec::new(),
        };
        if url.starts_with("http://") {
            tracing::warn!(
                parent = %url,
                "cascade: the parent is reached over plain http: this node's credential and the \
                 meetings' presence and control travel in clear; outside a lab use https:// with \
                 [cascade] parent_ca"
            );
        }
        Ok(Some(Parent::new(url, &credential, ca)?))
    }

    /// A client for `url` trusting only `ca` (nothing at all for an
    /// `https://` parent when `ca` is empty).
    pub fn new(
        url: &str,
        credential: &str,
        ca: Vec<http_client::Certificate>,
    ) -> Result<Parent, ParentError> {
        let client = http_client::Client::builder()
            .tls_certs_only(ca)
            .no_proxy()
            .redirect(http_client::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("diemcau/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ParentError::Client {
                url: url.to_string(),
                why: causes(&e),
            })?;
        Ok(Parent {
            url: url.trim_end_matches('/').to_string(),
            credential: Arc::from(credential),
            client,
        })
    }

    /// One `POST {url}{path}` of a JSON body with the node credential:
    /// (status, body). Also what the relay links use to reach the parent.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), HelloError> {
        let unreachable = |why: String| HelloError::Unreachable {
            url: self.url.clone(),
            why,
        };
        let mut answer = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(&*self.credential)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(causes(&e.without_url())))?;
        let status = answer.status().as_u16();
        let too_long = || HelloError::BadAnswer {
            url: self.url.clone(),
            why: format!("the answer is longer than {MAX_ANSWER_BYTES} bytes"),
        };
        if answer
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_long());
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|e| unreachable(causes(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_long());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

/// Say hello to the parent once.
pub async fn hello(
    cascade: &CascadeState,
    parent: &Parent,
    rtt_ms: Option<u32>,
) -> Result<HelloAnswer, HelloError> {
    let url = parent.url.as_str();
    let own = cascade.node_id.clone().unwrap_or_default();
    let body = serde_json::json!({
        "node_id": own,
        "name": cascade.name,
        "path": cascade.ancestors(),
        "rtt_ms": rtt_ms,
    });
    let body = serde_json::to_vec(&body).expect("a JSON value serialises");
    let (status, answer) = parent.post_json("/api/v1/cascade/hello", body).await?;
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
    parent: &Parent,
) -> Result<HelloAnswer, HelloError> {
    let rtt_ms = cascade
        .parent()
        .and_then(|p| p.rtt_ms)
        .and_then(|r| u32::try_from(r).ok());
    let started = Instant::now();
    let outcome = hello(cascade, parent, rtt_ms).await;
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
pub async fn run(cascade: Arc<CascadeState>, parent: Parent) {
    let mut wait = match cascade.parent().map(|p| p.state) {
        Some(crate::control::cascade::LinkState::Up) => HEARTBEAT,
        _ => RETRY,
    };
    loop {
        tokio::time::sleep(wait).await;
        wait = match hello_and_record(&cascade, &parent).await {
            Ok(_) => HEARTBEAT,
            Err(HelloError::Loop { .. }) => AFTER_LOOP,
            Err(_) => RETRY,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on loopback answering `body` (chunked, so no
    /// length announces it); the parent's URL.
    async fn parent_answering(body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            let mut answer =
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    .to_vec();
            for chunk in body.chunks(8192) {
                answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                answer.extend_from_slice(chunk);
                answer.extend_from_slice(b"\r\n");
            }
            answer.extend_from_slice(b"0\r\n\r\n");
            let _ = s.write_all(&answer).await;
        });
        url
    }

    #[tokio::test]
    async fn an_answer_within_the_bound_is_read_whole() {
        let url = parent_answering(b"{\"ok\":true}".to_vec()).await;
        let parent = Parent::new(&url, "dcn_x", Vec::new()).unwrap();
        let (status, body) = parent.post_json("/x", b"{}".to_vec()).await.unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"{\"ok\":true}"[..]));
    }

    #[tokio::test]
    async fn an_answer_longer_than_the_bound_is_refused() {
        let url = parent_answering(vec![b'x'; MAX_ANSWER_BYTES + 1]).await;
        let parent = Parent::new(&url, "dcn_x", Vec::new()).unwrap();
        let e = parent.post_json("/x", b"{}".to_vec()).await.unwrap_err();
        assert!(matches!(e, HelloError::BadAnswer { .. }), "{e}");
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let e = read_ca(&path).unwrap_err().to_string();
        assert!(
            e.contains("ca.pem") && e.contains("BEGIN CERTIFICATE"),
            "{e}"
        );
        let e = read_ca(&dir.join("missing.pem")).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
