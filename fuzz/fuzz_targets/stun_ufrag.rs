//! The receive thread's STUN peek runs on every datagram from a new address.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = diemcau::media::stun::is_stun(data);
    let _ = diemcau::media::stun::local_ufrag(data);
});
