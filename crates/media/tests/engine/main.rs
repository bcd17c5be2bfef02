//! The engine on virtual time (`diemcau_testkit::vt`): str0m peers and the
//! engine exchange datagrams in memory — no sockets, no clock, no root —
//! so `cargo test -p diemcau-media` runs in seconds.

mod engine;
mod engine_burst;
mod engine_ice;
mod engine_keyframe;
mod engine_quality;
mod engine_red;
mod engine_rendition;
mod engine_span;
mod estimate_cadence;
mod stage_voice;
mod str0m_dtls;
