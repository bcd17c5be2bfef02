//! Janus's WebSocket API (subprotocol `janus-protocol`), what the VideoRoom
//! load needs: create a session, attach `janus.plugin.videoroom`, join as a
//! publisher and publish an offer (Janus answers), or join as a subscriber
//! to a feed (Janus offers, we answer with `start`); keepalives every 20 s
//! for the session's life.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Janus drops a session after `session_timeout` (120 s in our config).
const KEEPALIVE_PERIOD: Duration = Duration::from_secs(20);

pub struct JanusSession {
    out: mpsc::UnboundedSender<Value>,
    inbox: mpsc::UnboundedReceiver<Value>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub session: u64,
    pub handle: u64,
    next_tx: u64,
}

impl JanusSession {
    /// Connect, create a session, attach the VideoRoom plugin.
    pub async fn open(ws_url: &str) -> anyhow::Result<Self> {
        let mut req = ws_url.into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "janus-protocol".parse()?);
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(req),
        )
        .await
        .map_err(|_| anyhow!("websocket connect to {ws_url} timed out"))?
        .with_context(|| format!("websocket connect to {ws_url}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Value>();
        let (in_tx, inbox) = mpsc::unbounded_channel::<Value>();
        let writer = tokio::spawn(async move {
            while let Some(v) = out_rx.recv().await {
                if sink
                    .send(Message::Text(v.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader = tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m
                    && let Ok(v) = serde_json::from_str::<Value>(t.as_str())
                {
                    let _ = in_tx.send(v);
                }
            }
        });
        let mut s = Self {
            out,
            inbox,
            tasks: vec![writer, reader],
            session: 0,
            handle: 0,
            next_tx: 0,
        };
        let r = s.request(json!({"janus": "create"})).await?;
        s.session = r["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("create: {r}"))?;
        let r = s
            .request(json!({"janus": "attach", "session_id": s.session, "plugin": "janus.plugin.videoroom"}))
            .await?;
        s.handle = r["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("attach: {r}"))?;
        let (out, session) = (s.out.clone(), s.session);
        s.tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE_PERIOD).await;
                let ka = json!({"janus": "keepalive", "session_id": session, "transaction": "ka"});
                if out.send(ka).is_err() {
                    break;
                }
            }
        }));
        Ok(s)
    }

    fn tx(&mut self) -> String {
        self.next_tx += 1;
        format!("t{}", self.next_tx)
    }

    /// Send `msg` with a fresh transaction; wait for its `success`/`error`
    /// (core requests) or its plugin `event` (plugin messages; `ack` skipped).
    async fn request(&mut self, mut msg: Value) -> anyhow::Result<Value> {
        let t = self.tx();
        msg["transaction"] = json!(t);
        self.out
            .send(msg)
            .map_err(|_| anyhow!("janus websocket closed"))?;
        tokio::time::timeout(REPLY_TIMEOUT, async {
            while let Some(v) = self.inbox.recv().await {
                if v["transaction"] != json!(t) {
                    continue;
                }
                match v["janus"].as_str() {
                    Some("ack") => continue,
                    Some("error") => bail!("janus error: {v}"),
                    _ => {}
                }
                if let Some(err) = v["plugindata"]["data"].get("error") {
                    bail!("videoroom error: {err}");
                }
                return Ok(v);
            }
            bail!("janus websocket closed")
        })
        .await
        .map_err(|_| anyhow!("no janus reply within {REPLY_TIMEOUT:?}"))?
    }

    async fn message(&mut self, body: Value, jsep: Option<Value>) -> anyhow::Result<Value> {
        let mut m = json!({"janus": "message", "session_id": self.session,
                           "handle_id": self.handle, "body": body});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.request(m).await
    }

    /// Join `room` as a publisher and publish `offer`; returns (feed id, answer).
    pub async fn publish(
        &mut self,
        room: u64,
        name: &str,
        offer: &str,
    ) -> anyhow::Result<(u64, String)> {
        let r = self
            .message(
                json!({"request": "join", "ptype": "publisher", "room": room, "display": name}),
                None,
            )
            .await?;
        let feed = r["plugindata"]["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("publisher join: {r}"))?;
        let r = self
            .message(
                json!({"request": "publish", "audio": true, "video": true}),
                Some(json!({"type": "offer", "sdp": offer})),
            )
            .await?;
        let answer = r["jsep"]["sdp"]
            .as_str()
            .ok_or_else(|| anyhow!("publish without an answer: {r}"))?;
        Ok((feed, answer.to_string()))
    }

    /// Join `room` as a subscriber of `feed`; returns Janus's offer.
    pub async fn subscribe(&mut self, room: u64, feed: u64) -> anyhow::Result<String> {
        let r = self
            .message(
                json!({"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]}),
                None,
            )
            .await?;
        r["jsep"]["sdp"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("subscriber join without an offer: {r}"))
    }

    /// Join `room` as a subscriber of several feeds' streams (multistream);
    /// returns Janus's offer and the streams it set up (`mid`, `type`,
    /// `feed_id`, ...).
    pub async fn subscribe_streams(
        &mut self,
        room: u64,
        streams: Vec<Value>,
    ) -> anyhow::Result<(String, Vec<Value>)> {
        let r = self
            .message(
                json!({"request": "join", "ptype": "subscriber", "room": room, "streams": streams}),
                None,
            )
            .await?;
        let offer = r["jsep"]["sdp"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("subscriber join without an offer: {r}"))?;
        let listed = r["plugindata"]["data"]["streams"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok((offer, listed))
    }

    /// `configure` a subscription's streams (e.g. `{"mid", "substream"}`).
    pub async fn configure_streams(&mut self, streams: Vec<Value>) -> anyhow::Result<()> {
        self.message(json!({"request": "configure", "streams": streams}), None)
            .await?;
        Ok(())
    }

    /// Answer Janus's subscriber offer.
    pub async fn start(&mut self, room: u64, answer: &str) -> anyhow::Result<()> {
        self.message(
            json!({"request": "start", "room": room}),
            Some(json!({"type": "answer", "sdp": answer})),
        )
        .await?;
        Ok(())
    }

    pub async fn close(self) {
        let _ = self
            .out
            .send(json!({"janus": "destroy", "session_id": self.session, "transaction": "bye"}));
        tokio::time::sleep(Duration::from_millis(50)).await;
        for t in &self.tasks {
            t.abort();
        }
    }
}
