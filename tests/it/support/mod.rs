//! Shared test support: namespaces, a booted server, clients.

#![allow(dead_code)]

pub mod netns;
pub mod server;
pub mod browser;
pub mod rtc_client;
pub mod vt;
