//! SIP messages arrive from any UDP or TCP peer on the SIP port: parse,
//! frame and re-serialize must never panic; what parses serializes to
//! something that parses back to the same start line and headers.
#![no_main]
use diemcau::sip::digest::Credentials;
use diemcau::sip::message::{self, Message, SipUri};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = message::frame_len(data);
    let _ = Message::parse_head_of_refused(data);
    let Ok(m) = Message::parse(data) else {
        return;
    };
    let again = Message::parse(&m.to_bytes()).expect("a serialized message parses");
    assert_eq!(again.start, m.start);
    assert_eq!(again.call_id(), m.call_id());
    let _ = (m.cseq(), m.branch(), m.from_tag(), m.to_tag());
    for v in m.headers.iter().map(|(_, v)| v.as_str()) {
        let _ = SipUri::parse(message::addr_uri(v));
        let _ = Credentials::parse(v);
    }
});
