//! SIP room systems (issue 17): a hardware room codec (Poly, Cisco,
//! Yealink) that dials a meeting's number is a participant of the meeting's
//! room, exactly as a relay link is: per call a sans-IO `gateway` holds the
//! SIP leg (plain RTP) and a local leg (a str0m client joined to this
//! node's engine, admitted through `conference::admit` as the room). The
//! media engine has no SIP code. Off unless `[sip]` is configured.
//!
//! Sans-IO: `message` and `sdp` (bounded parsers, fuzzed), `transaction`
//! and `dialog` (virtual time), `uac` (our INVITE's client transaction),
//! `offer` (our SDP offer), `dialout` (orders, retry schedule, states),
//! `digest`, `limit`, `rtp`, `audio`, `gateway`, `sdes` (keys in SDP) and
//! `secure` (SRTP on the SIP leg, `srtp`), `rendition` (a room's H.264
//! assembled for, and VP8 cut from, `transcode` — the VP8 rendition for
//! subscribers without H.264, on a thread of its own). IO: `server` (the
//! listener: UDP, and TCP and TLS through `tcp`), `uas` (what it answers),
//! `outbound` (dial-out's attempts), `call` (one call's sockets and task).

pub mod audio;
pub mod call;
// `[sip]` is read with the rest of the configuration.
pub use crate::config::sip as config;
pub mod dialog;
pub mod dialout;
pub mod digest;
pub mod g722;
pub mod gateway;
pub mod h264_pack;
pub mod limit;
pub mod message;
pub mod metrics;
pub mod offer;
pub mod outbound;
pub mod rendition;
pub mod rtp;
pub mod sdes;
pub mod sdp;
pub mod secure;
pub mod server;
pub mod srtp;
pub mod tcp;
pub mod transaction;
pub mod transcode;
pub mod transport;
pub mod uac;
pub mod uas;
