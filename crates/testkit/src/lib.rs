//! What diemcau's tests and benchmarks share: the engine's virtual-time
//! world ([`vt`]), str0m peers exchanging datagrams with the engine in
//! memory, used by `diemcau-media`'s engine tests, the server's tests and
//! the forward-path benchmarks; and, behind the `rtc-client` feature, one
//! WebRTC test client (`rtc_client`, webrtc-rs) that the server's
//! integration tests and the load harness (`diemcau-load`) both drive.

pub mod vt;

#[cfg(feature = "rtc-client")]
pub mod rtc_client;
