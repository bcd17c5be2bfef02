//! WHIP / WHEP signalling: an SDP offer POSTed, the answer and the
//! session's resource back.

use std::time::Duration;

use serde_json::Value;

use super::RtcClient;

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// An established WHIP or WHEP session.
#[derive(Clone, Debug)]
pub struct HttpSession {
    /// Absolute URL of the session resource (from `Location`).
    pub location: String,
    /// The engine's participant id (`X-Diemcau-Participant`): what the
    /// roll call and the room controls name it by.
    pub participant: Option<String>,
    pub answer: String,
}

/// A raw signalling response, for error tests.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub location: Option<String>,
    pub participant: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl HttpReply {
    /// `{"error":{"code","message"}}` -> (code, message).
    pub fn error(&self) -> Option<(String, String)> {
        let v: Value = serde_json::from_str(&self.body).ok()?;
        let e = v.get("error")?;
        Some((
            e.get("code")?.as_str()?.to_string(),
            e.get("message")?.as_str()?.to_string(),
        ))
    }
}

/// POST an SDP offer to `{base}/{path}`; `token` None sends no Authorization.
pub async fn post_sdp(base: &str, path: &str, token: Option<&str>, offer: &str) -> HttpReply {
    let mut req = http_client()
        .post(format!("{base}/{path}"))
        .header("Content-Type", "application/sdp")
        .body(offer.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {base}/{path} failed: {e}"));
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| absolute(base, l));
    let participant = resp
        .headers()
        .get("x-diemcau-participant")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.text().await.unwrap_or_default();
    HttpReply {
        status,
        location,
        participant,
        content_type,
        body,
    }
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else {
        let base = reqwest::Url::parse(base).expect("base url");
        base.join(location)
            .expect("location joins base")
            .to_string()
    }
}

/// DELETE a session resource; returns the status code.
pub async fn delete(url: &str, token: Option<&str>) -> u16 {
    let mut req = http_client().delete(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("DELETE {url} failed: {e}"))
        .status()
        .as_u16()
}

impl RtcClient {
    /// Offer to `{base}/{whip|whep}/{meeting}`, expect 201 + Location, apply
    /// the answer.
    async fn http_negotiate(
        &mut self,
        base: &str,
        kind: &str,
        meeting: &str,
        token: &str,
    ) -> Result<HttpSession, String> {
        let offer = self
            .create_offer()
            .await
            .map_err(|e| format!("create offer: {e}"))?;
        let reply = post_sdp(base, &format!("{kind}/{meeting}"), Some(token), &offer).await;
        if reply.status != 201 {
            return Err(format!(
                "{kind} POST answered {} (expected 201): {}",
                reply.status, reply.body
            ));
        }
        let location = reply
            .location
            .clone()
            .ok_or_else(|| format!("{kind} 201 without a Location header"))?;
        self.set_answer(&reply.body)
            .await
            .map_err(|e| format!("{kind} answer rejected by webrtc-rs: {e}\n{}", reply.body))?;
        Ok(HttpSession {
            location,
            participant: reply.participant.clone(),
            answer: reply.body,
        })
    }

    pub async fn whip_publish(
        &mut self,
        base: &str,
        meeting: &str,
        token: &str,
    ) -> Result<HttpSession, String> {
        self.http_negotiate(base, "whip", meeting, token).await
    }

    pub async fn whep_play(
        &mut self,
        base: &str,
        meeting: &str,
        token: &str,
    ) -> Result<HttpSession, String> {
        self.http_negotiate(base, "whep", meeting, token).await
    }
}
