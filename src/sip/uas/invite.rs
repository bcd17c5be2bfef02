//! A new INVITE (dial-in): the digest check, the dial-in number → meeting
//! (404), `admit` (403, audited there), the offer (400 when it does not
//! parse; 488 for no common codec, for SDES keys over signalling that is
//! not TLS unless `allow_sdes_without_tls`, for a key that does not parse
//! — the last two audited here as `sip.call_refused`), the call started,
//! and our 200 with the answer.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use super::{ALLOW, CallHandle, Uas, new_tag};
use crate::conference::{ConferenceError, Credential};
use crate::control::endpoints::sip::SipAccount;
use crate::media::Role;
use crate::sip::call::{self, CallError, CallSetup};
use crate::sip::dialog::{DialogId, session_interval};
use crate::sip::message::{Message, SipUri, StartLine};
use crate::sip::sdp::{self, Offer, SdpError};
use crate::sip::transport::Transport;

impl Uas {
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
}

/// Text safe inside a Warning's quoted string.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .take(200)
        .collect()
}
