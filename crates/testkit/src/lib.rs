//! What diemcau's tests and benchmarks share: the engine's virtual-time
//! world ([`vt`]), str0m peers exchanging datagrams with the engine in
//! memory. Used by `diemcau-media`'s engine tests, the server's tests and
//! the forward-path benchmarks.

pub mod vt;
