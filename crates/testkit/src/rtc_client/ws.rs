//! `/ws` signalling (protocol `"v": 1`): `join` with an offer, the answer
//! from `joined`; every message the server pushes afterwards is recorded
//! (tests read them) or, for clients that run for minutes, read and
//! dropped so the server's sends never back up. Closing the socket leaves
//! the room.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

use super::RtcClient;

type WsSink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tokio_tungstenite::tungstenite::Message,
>;

/// A `/ws` connection: sends text, records every JSON message received.
pub struct WsClient {
    sink: tokio::sync::Mutex<WsSink>,
    received: Arc<Mutex<Vec<Value>>>,
    /// Record what arrives (off: read and drop, see [`WsClient::discard`]).
    keep: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for WsClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl WsClient {
    pub async fn connect(base: &str) -> Result<Self, String> {
        let url = format!("{}/ws", base.replacen("http", "ws", 1));
        Self::connect_url(&url, None).await
    }

    /// Any WebSocket URL, optionally with `Authorization: Bearer`.
    pub async fn connect_url(url: &str, bearer: Option<&str>) -> Result<Self, String> {
        let headers: Vec<(&str, String)> = bearer
            .map(|t| ("authorization", format!("Bearer {t}")))
            .into_iter()
            .collect();
        Self::connect_with(url, &headers).await
    }

    /// Any WebSocket URL with these request headers (a session cookie…).
    pub async fn connect_with(url: &str, headers: &[(&str, String)]) -> Result<Self, String> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("websocket url {url}: {e}"))?;
        for (k, v) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                    .expect("header name"),
                v.parse().expect("header value"),
            );
        }
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(request),
        )
        .await
        .map_err(|_| format!("websocket connect to {url} timed out"))?
        .map_err(|e| format!("websocket connect to {url}: {e}"))?;
        let (sink, mut stream) = ws.split();
        let received = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let keep = Arc::new(AtomicBool::new(true));
        let (r, k, c) = (received.clone(), keep.clone(), closed.clone());
        let reader = tokio::spawn(async move {
            use tokio_tungstenite::tungstenite::Message;
            while let Some(msg) = stream.next().await {
                match msg {
                    Ok(Message::Text(_)) if !k.load(Ordering::Relaxed) => {}
                    Ok(Message::Text(t)) => {
                        let v = serde_json::from_str::<Value>(t.as_str()).unwrap_or_else(
                            |_| serde_json::json!({"type": "__unparseable__", "raw": t.as_str()}),
                        );
                        r.lock().unwrap().push(v);
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            c.store(true, Ordering::Relaxed);
        });
        Ok(Self {
            sink: tokio::sync::Mutex::new(sink),
            received,
            keep,
            closed,
            reader,
        })
    }

    pub async fn send_text(&self, text: &str) -> Result<(), String> {
        use tokio_tungstenite::tungstenite::Message;
        self.sink
            .lock()
            .await
            .send(Message::Text(text.to_string().into()))
            .await
            .map_err(|e| format!("websocket send: {e}"))
    }

    pub async fn send_json(&self, v: &Value) -> Result<(), String> {
        self.send_text(&v.to_string()).await
    }

    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Wait for a message (received at index >= `from`) matching `pred`.
    pub async fn wait_message<F: Fn(&Value) -> bool>(
        &self,
        from: usize,
        timeout: Duration,
        pred: F,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self
                .received
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .find(|v| pred(v))
            {
                return Some(v.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Wait for the next message of `type` after index `from`.
    pub async fn wait_type(&self, from: usize, ty: &str, timeout: Duration) -> Option<Value> {
        self.wait_message(from, timeout, |v| v["type"] == ty).await
    }

    /// From now on read what the server pushes and drop it: a client that
    /// stays for minutes keeps no history.
    pub fn discard(&self) {
        self.keep.store(false, Ordering::Relaxed);
        self.received.lock().unwrap().clear();
    }

    /// Say `leave` and close the socket.
    pub async fn leave(self) {
        use tokio_tungstenite::tungstenite::Message;
        let mut sink = self.sink.lock().await;
        let _ = sink
            .send(Message::Text(
                serde_json::json!({"type": "leave"}).to_string().into(),
            ))
            .await;
        let _ = sink.close().await;
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// What a `/ws` join says besides the offer.
#[derive(Clone, Debug)]
pub struct Join<'a> {
    pub meeting: &'a str,
    pub token: &'a str,
    /// `room`, `console` or `viewer`.
    pub role: &'a str,
    /// The link cap the endpoint declares, kbit/s.
    pub max_kbps: Option<u32>,
    /// The server answers within this time or the join failed.
    pub reply_timeout: Duration,
}

impl<'a> Join<'a> {
    /// A room's join, answered within 15 s.
    pub fn room(meeting: &'a str, token: &'a str) -> Self {
        Self {
            meeting,
            token,
            role: "room",
            max_kbps: None,
            reply_timeout: Duration::from_secs(15),
        }
    }
}

/// Join a meeting over `/ws` with the client's offer; applies the answer.
/// Returns the socket and the `joined` message.
pub async fn ws_join(
    client: &mut RtcClient,
    base: &str,
    meeting: &str,
    token: &str,
) -> Result<(WsClient, Value), String> {
    ws_join_with(client, base, &Join::room(meeting, token)).await
}

/// [`ws_join`] as `role` (`room`, `console`, `viewer`).
pub async fn ws_join_as(
    client: &mut RtcClient,
    base: &str,
    meeting: &str,
    token: &str,
    role: &str,
) -> Result<(WsClient, Value), String> {
    let join = Join {
        role,
        ..Join::room(meeting, token)
    };
    ws_join_with(client, base, &join).await
}

/// [`ws_join`] with everything a join can say.
pub async fn ws_join_with(
    client: &mut RtcClient,
    base: &str,
    join: &Join<'_>,
) -> Result<(WsClient, Value), String> {
    let ws = WsClient::connect(base).await?;
    let offer = client
        .create_offer()
        .await
        .map_err(|e| format!("create offer: {e}"))?;
    let mut msg = serde_json::json!({
        "type": "join",
        "v": 1,
        "meeting": join.meeting,
        "token": join.token,
        "name": client.name,
        "role": join.role,
        "offer": offer,
    });
    if let Some(k) = join.max_kbps {
        msg["max_kbps"] = serde_json::json!(k);
    }
    ws.send_json(&msg).await?;
    let reply = ws
        .wait_message(0, join.reply_timeout, |v| {
            v["type"] == "joined" || v["type"] == "error"
        })
        .await
        .ok_or_else(|| {
            format!(
                "{}: no joined/error reply to join within {:?}",
                client.name, join.reply_timeout
            )
        })?;
    if reply["type"] != "joined" {
        return Err(format!("{}: join refused: {reply}", client.name));
    }
    let answer = reply["answer"]
        .as_str()
        .ok_or_else(|| format!("joined without answer: {reply}"))?;
    client
        .set_answer(answer)
        .await
        .map_err(|e| format!("joined answer rejected by webrtc-rs: {e}\n{answer}"))?;
    Ok((ws, reply))
}
