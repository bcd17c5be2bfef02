//! SIP room systems (issue 17): a hardware room codec (Poly, Cisco,
//! Yealink) that dials a meeting's number is a participant of the meeting's
//! room, exactly as a relay link is. This tree is sans-IO: message and SDP
//! parsing (bounded, fuzzed), UAS transactions and dialogs on virtual time,
//! digest authentication. Off unless `[sip]` is configured; the media
//! engine has no SIP code.

pub mod dialog;
pub mod digest;
pub mod message;
pub mod sdp;
pub mod transaction;
