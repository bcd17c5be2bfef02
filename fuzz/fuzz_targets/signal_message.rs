//! Every WebSocket text frame from a client goes through this parser.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<diemcau::signal::wire::ClientMessage>(data);
});
