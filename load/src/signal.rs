//! diemcau's WebSocket signalling (`/ws`, protocol `"v": 1`), client side:
//! `join` with an offer, wait for `joined` (or `error`), keep the socket open
//! for the session's life (closing it leaves the room), `leave` at the end.
//! Server pushes (`slots`, `speaker`, `participants`, ...) are read and
//! dropped so the server's sends never back up.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// The server answers a join within this time or the join failed.
const JOIN_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct WsSession {
    out: mpsc::UnboundedSender<Message>,
    task: tokio::task::JoinHandle<()>,
}

impl WsSession {
    /// Connect to `{base}/ws`, join, return the session and the SDP answer.
    pub async fn join(
        base: &str,
        meeting: &str,
        token: &str,
        name: &str,
        role: &str,
        max_kbps: Option<u32>,
        offer: &str,
    ) -> anyhow::Result<(Self, String)> {
        let url = format!("{}/ws", base.replacen("http", "ws", 1));
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .map_err(|_| anyhow!("websocket connect to {url} timed out"))?
        .with_context(|| format!("websocket connect to {url}"))?;
        let (mut sink, mut stream) = ws.split();
        let join = json!({
            "type": "join", "v": 1, "meeting": meeting, "token": token,
            "name": name, "role": role, "offer": offer,
        });
        let mut join = join;
        if let Some(k) = max_kbps {
            join["max_kbps"] = json!(k);
        }
        sink.send(Message::Text(join.to_string().into())).await?;
        let reply = tokio::time::timeout(JOIN_REPLY_TIMEOUT, async {
            while let Some(msg) = stream.next().await {
                if let Message::Text(t) = msg? {
                    let v: Value = serde_json::from_str(t.as_str())?;
                    if v["type"] == "joined" || v["type"] == "error" {
                        return Ok(v);
                    }
                }
            }
            bail!("socket closed before the join was answered")
        })
        .await
        .map_err(|_| anyhow!("no joined/error reply within {JOIN_REPLY_TIMEOUT:?}"))??;
        if reply["type"] != "joined" {
            bail!("join refused: {reply}");
        }
        let answer = reply["answer"]
            .as_str()
            .ok_or_else(|| anyhow!("joined without an answer: {reply}"))?
            .to_string();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    m = out_rx.recv() => match m {
                        Some(m) => if sink.send(m).await.is_err() { break },
                        None => { let _ = sink.close().await; break }
                    },
                    inc = stream.next() => match inc {
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                }
            }
        });
        Ok((Self { out, task }, answer))
    }

    /// Say `leave` and close the socket.
    pub async fn leave(self) {
        let _ = self
            .out
            .send(Message::Text(json!({"type": "leave"}).to_string().into()));
        drop(self.out);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}
