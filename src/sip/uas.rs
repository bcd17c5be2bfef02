//! What the listener answers (RFC 3261 UAS core): digest challenges, the
//! dial-in number → meeting, admission through `conference::admit` as the
//! room (so roll call, mute, stage, floor, remove and lock work unchanged),
//! the SDP answer, REGISTER and OPTIONS. Refusals: unknown number 404, not
//! admitted 403 (audited by `admit`), wrong credentials 401 then 403 once
//! throttled, no common codec 488, SDES keys (RTP/SAVP) over signalling
//! that is not TLS 488 unless `allow_sdes_without_tls`, a key that does
//! not parse 488 (both counted and audited as `sip.call_refused`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::call::{self, Call, CallError, CallSetup};
use super::config::SipConfig;
use super::dialog::{DialogId, session_interval};
use super::dialout::{Dialer, Registration};
use super::digest::{Credentials, Digest, Verdict};
use super::message::{Message, SipUri, StartLine, addr_uri};
use super::metrics::SipMetrics;
use super::sdp::{self, Offer, SdpError};
use super::transport::Transport;
use crate::conference::{Conference, ConferenceError, Credential};
use crate::control::endpoints::Endpoints;
use crate::control::endpoints::sip::SipAccount;
use crate::media::Role;

pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, REGISTER";
/// Longest registration we grant: a codec re-registers within the hour,
/// so a room that vanished is forgotten within the hour too.
const MAX_REGISTER_SECS: u64 = 3600;
/// Registrations kept at once (one per SIP room).
const MAX_REGISTRATIONS: usize = 4096;

pub fn new_tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub fn new_branch() -> String {
    format!("z9hG4bK{:016x}", rand::random::<u64>())
}

struct ActiveCall {
    call: Call,
    answer: String,
    peer: SocketAddr,
}

pub struct Uas {
    conference: Conference,
    cfg: SipConfig,
    local: SocketAddr,
    /// Bound TCP and TLS ports, when listening.
    stream_ports: (Option<u16>, Option<u16>),
    digest: Digest,
    /// Where each codec registered from, shared with dial-out.
    dialer: Dialer,
    calls: HashMap<DialogId, ActiveCall>,
    ended_peers: HashMap<DialogId, SocketAddr>,
    ended_tx: mpsc::Sender<DialogId>,
    pub metrics: Arc<SipMetrics>,
}

impl Uas {
    pub fn new(
        conference: Conference,
        cfg: SipConfig,
        local: SocketAddr,
        ended_tx: mpsc::Sender<DialogId>,
        metrics: Arc<SipMetrics>,
        dialer: Dialer,
    ) -> Uas {
        let key: [u8; 32] = rand::random();
        let digest = Digest::new(&cfg.realm, key, Instant::now());
        Uas {
            conference,
            cfg,
            local,
            stream_ports: (None, None),
            digest,
            dialer,
            calls: HashMap::new(),
            ended_peers: HashMap::new(),
            ended_tx,
            metrics,
        }
    }

    pub fn via_host(&self) -> String {
        SocketAddr::new(self.cfg.public_ip(), self.local.port()).to_string()
    }

    /// Our Contact for a dialog over `transport`: the port we listen on
    /// for it (as bound: a configured port 0 is the kernel's pick).
    pub fn contact(&self, transport: Transport) -> String {
        let port = match transport {
            Transport::Udp => Some(self.local.port()),
            Transport::Tcp => self.stream_ports.0,
            Transport::Tls => self.stream_ports.1,
        }
        .unwrap_or(self.local.port());
        format!(
            "<sip:diemcau@{}{}>",
            SocketAddr::new(self.cfg.public_ip(), port),
            transport.uri_param()
        )
    }

    /// Our Contact for each transport (dial-out picks by the codec's).
    pub fn contacts(&self) -> Contacts {
        Contacts {
            udp: self.contact(Transport::Udp),
            tcp: self.contact(Transport::Tcp),
            tls: self.contact(Transport::Tls),
        }
    }

    /// The TCP and TLS listeners' bound ports, for our Contact.
    pub fn set_stream_ports(&mut self, tcp: Option<u16>, tls: Option<u16>) {
        self.stream_ports = (tcp, tls);
    }

    /// Digest check: the account, or the response to send (401 / 403).
    async fn authenticate(
        &mut self,
        req: &Message,
        from: SocketAddr,
    ) -> Result<SipAccount, Message> {
        let method = req
            .method()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let creds = req
            .header("authorization")
            .or_else(|| req.header("proxy-authorization"))
            .and_then(Credentials::parse);
        let challenge = |this: &Self, stale: bool| {
            let mut r = Message::response_to(req, 401, "Unauthorized", Some(&new_tag()));
            for c in this
                .digest
                .challenges(Instant::now(), stale, this.cfg.challenge_sha256)
            {
                r.push_header("WWW-Authenticate", c);
            }
            r
        };
        let Some(creds) = creds else {
            return Err(challenge(self, false));
        };
        let account = Endpoints::new(self.conference.store().clone())
            .sip_account(&creds.username)
            .await
            .ok()
            .flatten()
            .filter(|a| a.realm == self.digest.realm());
        let verdict = self
            .digest
            .verify(Instant::now(), from.ip(), &method, &creds, |alg| {
                account.as_ref().map(|a| a.ha1(alg).to_owned())
            });
        match (verdict, account) {
            (Verdict::Ok, Some(a)) => Ok(a),
            (Verdict::Stale, _) => Err(challenge(self, true)),
            (Verdict::Replayed, _) => {
                self.metrics.auth_replayed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(user = %creds.username, %from, "sip: digest nonce count replayed");
                Err(challenge(self, false))
            }
            (Verdict::Throttled, _) => {
                self.metrics.auth_throttled.fetch_add(1, Ordering::Relaxed);
                Err(Message::response_to(
                    req,
                    403,
                    "Forbidden",
                    Some(&new_tag()),
                ))
            }
            _ => {
                self.metrics.auth_failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(user = %creds.username, %from, "sip: digest failed");
                Err(challenge(self, false))
            }
        }
    }

    /// A new INVITE: the 200 with our SDP and the running call, or the refusal.
    pub async fn invite(
        &mut self,
        req: &Message,
        from: SocketAddr,
        transport: Transport,
    ) -> Result<(Message, CallHandle), Message> {
        let account = self.authenticate(req, from).await?;
        let tag = new_tag();
        let refuse = |code: u16, reason: &str| Message::response_to(req, code, reason, Some(&tag));
        let StartLine::Request { uri, .. } = &req.start else {
            return Err(refuse(400, "Bad Request"));
        };
        let number = SipUri::parse(uri).and_then(|u| u.user).unwrap_or_default();
        let meetings = crate::control::meetings::Meetings::new(self.conference.store().clone());
        let Some(meeting) = meetings.by_dial_in(&number).await.ok().flatten() else {
            self.metrics
                .refused_unknown_number
                .fetch_add(1, Ordering::Relaxed);
            return Err(refuse(404, "Not Found"));
        };
        let cred = Credential::SipEndpoint(&account.endpoint_id);
        let admission = match self
            .conference
            .admit(&meeting.id, cred, Role::Room, Some(from.ip()))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                self.metrics
                    .refused_not_admitted
                    .fetch_add(1, Ordering::Relaxed);
                return Err(match e {
                    ConferenceError::Hidden(_) => refuse(404, "Not Found"),
                    ConferenceError::Store(_) | ConferenceError::NotAudited(_) => {
                        refuse(500, "Server Internal Error")
                    }
                    _ => refuse(403, "Forbidden"),
                });
            }
        };
        let offer = match Offer::parse(&req.body) {
            Ok(o) => o,
            Err(e @ SdpError::Crypto { .. }) => {
                // RFC 4568 §7.1.2: a key we cannot use is not acceptable.
                self.metrics.refused_bad_key.fetch_add(1, Ordering::Relaxed);
                let mut r = refuse(488, "Not Acceptable Here");
                r.push_header(
                    "Warning",
                    format!("399 diemcau \"{}\"", quoted(&e.to_string())),
                );
                self.audit_refusal(&meeting.id, &account, from, "srtp_key_invalid")
                    .await;
                return Err(r);
            }
            Err(_) => return Err(refuse(400, "Bad Request")),
        };
        let neg = match offer.negotiate() {
            Ok(n) => n,
            Err(SdpError::NoCommonCodec | SdpError::NoAddress) => {
                self.metrics
                    .refused_no_codec
                    .fetch_add(1, Ordering::Relaxed);
                let mut r = refuse(488, "Not Acceptable Here");
                r.push_header(
                    "Warning",
                    "305 diemcau \"offer Opus, G722, PCMU, PCMA or H.264 over RTP/AVP, or RTP/SAVP \
                     with AES_CM_128_HMAC_SHA1_80 or _32\"",
                );
                return Err(r);
            }
            Err(_) => return Err(refuse(400, "Bad Request")),
        };
        if neg.uses_sdes() && !transport.is_secure() && !self.cfg.allow_sdes_without_tls {
            // Keys sent over UDP or TCP are anyone's on the path: the
            // encryption would be for show.
            self.metrics
                .refused_sdes_insecure
                .fetch_add(1, Ordering::Relaxed);
            let mut r = refuse(488, "Not Acceptable Here");
            r.push_header(
                "Warning",
                "399 diemcau \"SDES keys (RTP/SAVP) only over TLS: call sips: or ;transport=tls, \
                 or offer RTP/AVP\"",
            );
            self.audit_refusal(&meeting.id, &account, from, "sdes_without_tls")
                .await;
            return Err(r);
        }
        let dialog = DialogId {
            call_id: req.call_id().to_owned(),
            local_tag: tag.clone(),
            remote_tag: req.from_tag().unwrap_or_default().to_owned(),
        };
        let name = admission
            .name
            .clone()
            .unwrap_or_else(|| account.user.clone());
        let bind_ip = self.cfg.udp_listen.map_or(self.cfg.public_ip(), |a| a.ip());
        let setup = CallSetup {
            conference: self.conference.clone(),
            meeting: meeting.id.clone(),
            name,
            admission,
            neg,
            bind_ip,
            ports: (self.cfg.rtp_port_min, self.cfg.rtp_port_max),
            dialog,
            ended: self.ended_tx.clone(),
            socks: None,
            metrics: self.metrics.clone(),
        };
        let call = match call::start(setup).await {
            Ok(c) => c,
            Err(CallError::NoPorts(..)) => return Err(refuse(503, "Service Unavailable")),
            Err(CallError::Refused(why)) => {
                tracing::info!(%why, "sip: live control refused the room");
                return Err(refuse(403, "Forbidden"));
            }
            Err(e) => {
                tracing::warn!(error = %e, "sip: call setup failed");
                return Err(refuse(500, "Server Internal Error"));
            }
        };
        let answer = sdp::answer(
            &offer,
            &neg,
            self.cfg.public_ip(),
            call.audio_port,
            call.video_port,
            rand::random::<u32>().into(),
        );
        let mut ok = refuse(200, "OK");
        ok.push_header("Contact", self.contact(transport));
        ok.push_header("Allow", ALLOW);
        ok.push_header("Supported", "timer");
        if req.header("session-expires").is_some() {
            ok.push_header(
                "Session-Expires",
                format!("{};refresher=uac", session_interval(req).as_secs()),
            );
        }
        ok.push_header("Content-Type", "application/sdp");
        ok.body = answer.clone().into_bytes();
        self.metrics.calls_started.fetch_add(1, Ordering::Relaxed);
        tracing::info!(meeting = %meeting.id, endpoint = %account.endpoint_id, participant = call.participant, "sip: room joined");
        Ok((ok, CallHandle { call, answer }))
    }

    /// A call refused for its media (not its admission, which `admit`
    /// audits): one record, the per-source limiter bounding a flood.
    async fn audit_refusal(
        &self,
        meeting: &str,
        account: &SipAccount,
        from: SocketAddr,
        code: &str,
    ) {
        let actor = crate::store::Actor {
            id: account.endpoint_id.clone(),
            name: format!("sip:{}", account.user),
            address: Some(from.ip()),
        };
        let details = serde_json::json!({ "code": code });
        if let Err(e) = self
            .conference
            .audit(&actor, "sip.call_refused", meeting, &details)
            .await
        {
            tracing::warn!(meeting, error = %e, "sip: refusal not written to the audit log");
        }
    }

    pub fn keep_call(&mut self, id: DialogId, handle: CallHandle, peer: SocketAddr) {
        self.metrics.calls_active.fetch_add(1, Ordering::Relaxed);
        self.calls.insert(
            id,
            ActiveCall {
                call: handle.call,
                answer: handle.answer,
                peer,
            },
        );
    }

    /// The call of `id` ends (BYE, timers): its task is dropped.
    pub fn end_call(&mut self, id: &DialogId) {
        if let Some(c) = self.calls.remove(id) {
            self.metrics.calls_active.fetch_sub(1, Ordering::Relaxed);
            self.ended_peers.insert(id.clone(), c.peer);
            drop(c.call);
        }
        if self.ended_peers.len() > 1024 {
            self.ended_peers.clear();
        }
    }

    pub fn peer_of_ended(&mut self, id: &DialogId) -> Option<SocketAddr> {
        self.ended_peers.remove(id)
    }

    /// A re-INVITE (session refresh): our answer again.
    pub fn reinvite_answer(
        &self,
        req: &Message,
        id: Option<&DialogId>,
        transport: Transport,
    ) -> Message {
        let Some(c) = id.and_then(|id| self.calls.get(id)) else {
            return Message::response_to(req, 481, "Call/Transaction Does Not Exist", None);
        };
        let mut ok = Message::response_to(req, 200, "OK", None);
        ok.push_header("Contact", self.contact(transport));
        ok.push_header("Content-Type", "application/sdp");
        ok.body = c.answer.clone().into_bytes();
        ok
    }

    pub async fn register(
        &mut self,
        req: &Message,
        from: SocketAddr,
        transport: Transport,
    ) -> Message {
        let account = match self.authenticate(req, from).await {
            Ok(a) => a,
            Err(resp) => return resp,
        };
        let asked = req
            .header("contact")
            .and_then(|c| super::message::param(c, "expires").and_then(|e| e.parse().ok()))
            .or_else(|| req.header("expires").and_then(|e| e.trim().parse().ok()))
            .unwrap_or(MAX_REGISTER_SECS);
        let secs = asked.min(MAX_REGISTER_SECS);
        let mut ok = Message::response_to(req, 200, "OK", Some(&new_tag()));
        if secs == 0 {
            self.dialer
                .register(&account.endpoint_id, None, MAX_REGISTRATIONS);
        } else {
            let contact = req.header("contact").map(addr_uri).unwrap_or_default();
            let reg = Registration {
                addr: from,
                contact: if contact.starts_with("sip:") {
                    contact.to_owned()
                } else {
                    format!("sip:{}@{from}", account.user)
                },
                transport,
                expires: Instant::now() + Duration::from_secs(secs),
            };
            self.dialer
                .register(&account.endpoint_id, Some(reg), MAX_REGISTRATIONS);
            if let Some(c) = req.header("contact") {
                ok.push_header("Contact", format!("<{}>;expires={secs}", addr_uri(c)));
            }
        }
        ok.push_header("Expires", secs.to_string());
        ok
    }

    pub fn options(&self, req: &Message) -> Message {
        let mut ok = Message::response_to(req, 200, "OK", Some(&new_tag()));
        ok.push_header("Allow", ALLOW);
        ok.push_header("Accept", "application/sdp");
        ok.push_header("Supported", "timer");
        ok
    }
}

/// Text safe inside a Warning's quoted string.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .take(200)
        .collect()
}

/// Our Contact over each transport.
pub struct Contacts {
    udp: String,
    tcp: String,
    tls: String,
}

impl Contacts {
    pub fn of(&self, t: Transport) -> &str {
        match t {
            Transport::Udp => &self.udp,
            Transport::Tcp => &self.tcp,
            Transport::Tls => &self.tls,
        }
    }
}

/// A call answered but not yet kept by the listener.
pub struct CallHandle {
    call: Call,
    answer: String,
}

impl CallHandle {
    /// `sdp`: what a re-INVITE is answered with (our answer, or for a
    /// dialled call our offer).
    pub fn new(call: Call, sdp: String) -> CallHandle {
        CallHandle { call, answer: sdp }
    }
}
