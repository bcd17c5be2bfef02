//! One dial-out attempt: the meeting still runs and the room is not in
//! it, where the codec is (its registration, with its transport, else its
//! fixed address over UDP), its admission through `conference::admit`,
//! the call's RTP ports, our offer (RTP/SAVP with our keys over TLS) and
//! the INVITE that carries it.

use std::net::SocketAddr;
use std::time::Instant;

use super::{Invite, Key, Outbound, Pending};
use crate::conference::Credential;
use crate::control::endpoints::Endpoints;
use crate::control::meetings::{MeetingState, Meetings};
use crate::media::Role;
use crate::sip::call;
use crate::sip::dialout::{self, CallState, RING_TIMEOUT};
use crate::sip::message::{Message, Method, StartLine};
use crate::sip::offer::OfferKeys;
use crate::sip::transport::Transport;
use crate::sip::uac::ClientInvite;
use crate::sip::uas::{Contacts, new_branch, new_tag};

impl Outbound {
    pub(super) fn bind_ip(&self) -> std::net::IpAddr {
        self.cfg.udp_listen.map_or(self.cfg.public_ip(), |a| a.ip())
    }

    /// One attempt: the INVITE to send, or nothing (done, or failed).
    pub(super) async fn attempt(
        &mut self,
        now: Instant,
        key: &Key,
        via: &str,
        contacts: &Contacts,
    ) -> Option<(SocketAddr, Vec<u8>)> {
        let (meeting, endpoint) = key;
        let attempt = {
            let d = self.dials.get_mut(key)?;
            d.attempt += 1;
            d.retry_at = None;
            d.attempt
        };
        let store = self.conference.store().clone();
        let m = match Meetings::new(store.clone()).get(meeting).await {
            Ok(m) if matches!(m.state, MeetingState::Open | MeetingState::Live) => m,
            _ => {
                self.dials.remove(key); // the meeting ended: stop calling
                return None;
            }
        };
        if let Some(room) = self.conference.live().get(meeting)
            && room.read(|l| l.participant_of(endpoint).is_some()).await
        {
            self.dials.remove(key); // it joined (dialled in, say)
            return None;
        }
        let Ok(Some(account)) = Endpoints::new(store).sip_account_of(endpoint).await else {
            self.dials.remove(key);
            return None;
        };
        let target = self
            .dialer
            .registered(endpoint, now)
            .map(|r| (r.addr, r.contact, r.transport))
            .or_else(|| {
                let fixed = account.fixed_addr.as_deref()?;
                dialout::fixed_target(fixed, &account.user).map(|(a, u)| (a, u, Transport::Udp))
            });
        let Some((peer, uri, transport)) = target else {
            let why = "Thiết bị chưa đăng ký và không có địa chỉ cố định (480)".to_owned();
            self.fail(now, key, 480, why).await;
            return None;
        };
        let cred = Credential::SipEndpoint(endpoint);
        let admission = match self
            .conference
            .admit(meeting, cred, Role::Room, Some(peer.ip()))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::info!(%meeting, %endpoint, error = %e, "sip: dial-out not admitted");
                let why = "Hội nghị không nhận phòng này (403)".to_owned();
                self.fail(now, key, 403, why).await;
                return None;
            }
        };
        let socks = match call::bind_block(
            self.bind_ip(),
            (self.cfg.rtp_port_min, self.cfg.rtp_port_max),
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "sip: no ports to dial out");
                self.fail(now, key, 503, dialout::reason(503)).await;
                return None;
            }
        };
        let audio_port = socks[0].local_addr().ok()?.port();
        // Keys go in SDP only where no one on the path can read them.
        let keys = transport.is_secure().then(OfferKeys::random);
        let offer = crate::sip::offer::offer(
            self.cfg.public_ip(),
            audio_port,
            audio_port + 2,
            rand::random::<u32>().into(),
            keys.as_ref(),
        );
        let number = m.sip_dial_in.clone().unwrap_or_else(|| "diemcau".into());
        let invite = invite(
            &uri,
            via,
            contacts.of(transport),
            &number,
            &self.cfg.public_ip().to_string(),
            transport,
            offer.clone(),
        );
        let branch = invite.branch().unwrap_or_default().to_owned();
        let (txn, bytes) = ClientInvite::new(now, invite, transport, via);
        let name = admission
            .name
            .clone()
            .unwrap_or_else(|| account.user.clone());
        self.invites.insert(
            branch,
            Invite {
                key: key.clone(),
                txn,
                peer,
                transport,
                ring_until: now + RING_TIMEOUT,
                ringing: false,
                abandoned: false,
                pending: Some(Pending {
                    socks,
                    admission,
                    name,
                    offer,
                    keys,
                }),
            },
        );
        tracing::info!(%meeting, %endpoint, %peer, attempt, "sip: dialling");
        self.announce(key, &CallState::Calling { attempt }).await;
        Some((peer, bytes))
    }
}

/// Our INVITE to `uri`: from the meeting's number (what the codec shows
/// as the caller), a new Call-ID, tag and branch, and our offer.
fn invite(
    uri: &str,
    via: &str,
    contact: &str,
    number: &str,
    host: &str,
    transport: Transport,
    sdp: String,
) -> Message {
    let transport = transport.via_name();
    let mut m = Message {
        start: StartLine::Request {
            method: Method::Invite,
            uri: uri.to_owned(),
        },
        headers: Vec::new(),
        body: sdp.into_bytes(),
    };
    m.push_header(
        "via",
        format!("SIP/2.0/{transport} {via};branch={};rport", new_branch()),
    );
    m.push_header("max-forwards", "70");
    m.push_header(
        "from",
        format!(
            "\"diemcau {number}\" <sip:{number}@{host}>;tag={}",
            new_tag()
        ),
    );
    m.push_header("to", format!("<{uri}>"));
    m.push_header("call-id", format!("{:016x}@{host}", rand::random::<u64>()));
    m.push_header("cseq", "1 INVITE");
    m.push_header("contact", contact);
    m.push_header("allow", crate::sip::uas::ALLOW);
    m.push_header("content-type", "application/sdp");
    m
}
