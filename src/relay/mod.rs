//! Relay links between diemcau nodes (cascading along the org tree).
//!
//! A child node keeps one relay link per open meeting to its parent node:
//! `bridge` (sans-IO) joins two WebRTC sessions — one as a `relay`
//! participant of the parent's room, one of this node's own room — and
//! passes the selected streams across; `link` drives it (two UDP sockets,
//! the offers, the presence/control sync with the parent, re-linking after
//! a loss). The control side of one logical meeting is
//! `control::live::relay`.

pub mod bridge;
pub mod link;

pub use link::{Relays, Uplink};
