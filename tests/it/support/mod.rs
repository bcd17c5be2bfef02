//! Shared test support: namespaces, a booted server, clients.

#![allow(dead_code)]

pub mod api;
pub mod baresip;
pub mod browser;
pub mod db;
pub mod metrics;
pub mod netns;
pub mod pki;
pub mod rtc_client;
pub mod server;
pub mod sip_meeting;
pub mod sip_raw;
pub mod vp8_source;
pub use diemcau_testkit::vt;
