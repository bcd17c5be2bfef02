//! Relay links between diemcau nodes (cascading along the org tree).
//!
//! A child node keeps one relay link per open meeting placed on it to its
//! parent node: `bridge` (sans-IO) joins two WebRTC sessions — one as a
//! `relay` participant of the parent's room, one of this node's own room —
//! and passes the selected streams across; `link` drives it (two UDP
//! sockets, the offers, the presence/control sync with the parent,
//! re-linking after a loss); `book` keeps who owns which relay and, on the
//! parent side, which rooms each child may speak for. The control side of
//! one logical meeting is `control::live::relay`; which meetings a child
//! carries, `control::cascade::placement`.

pub mod book;
// The bridge is sans-IO and lives with the media engine (diemcau-media).
pub use diemcau_media::bridge;
pub mod link;

pub use book::Relays;
pub use link::Uplink;
