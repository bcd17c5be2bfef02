use super::*;

pub(crate) const INVITE: &str = "INVITE sip:7001@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:7001@127.0.0.1>\r\n\
From: \"Phong hop xa A\" <sip:room-a@127.0.0.1>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:room-a@127.0.0.1:5070>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

#[test]
fn an_invite_parses_with_its_routing_headers() {
    let m = Message::parse(INVITE.as_bytes()).unwrap();
    assert_eq!(
        m.start,
        StartLine::Request {
            method: Method::Invite,
            uri: "sip:7001@127.0.0.1:5060".into()
        }
    );
    assert_eq!(m.call_id(), "a84b4c76e66710@pc33");
    assert_eq!(m.cseq(), Some((314159, Method::Invite)));
    assert_eq!(m.branch(), Some("z9hG4bK776asdhds"));
    assert_eq!(m.from_tag(), Some("1928301774"));
    assert_eq!(m.to_tag(), None);
    assert_eq!(m.body, b"v=0\n");
    let uri = SipUri::parse(addr_uri(m.header("from").unwrap())).unwrap();
    assert_eq!(uri.user.as_deref(), Some("room-a"));
}

#[test]
fn compact_header_names_are_expanded_and_folded_lines_joined() {
    let raw = "OPTIONS sip:127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\
               f: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\ni: c1\r\nCSeq: 1\r\n OPTIONS\r\nl: 0\r\n\r\n";
    let m = Message::parse(raw.as_bytes()).unwrap();
    assert_eq!(m.header("via"), Some("SIP/2.0/UDP h;branch=z9hG4bKx"));
    assert_eq!(m.cseq(), Some((1, Method::Options)));
}

#[test]
fn a_response_serializes_and_parses_back() {
    let req = Message::parse(INVITE.as_bytes()).unwrap();
    let mut resp = Message::response_to(&req, 486, "Busy Here", Some("srv1"));
    resp.push_header("Server", "diemcau");
    let again = Message::parse(&resp.to_bytes()).unwrap();
    assert_eq!(
        again.start,
        StartLine::Response {
            code: 486,
            reason: "Busy Here".into()
        }
    );
    assert_eq!(again.to_tag(), Some("srv1"));
    assert_eq!(again.branch(), req.branch());
    assert_eq!(again.cseq(), Some((314159, Method::Invite)));
    assert_eq!(again.header("server"), Some("diemcau"));
}

#[test]
fn an_oversized_message_is_refused_before_parsing() {
    let mut big = INVITE.as_bytes().to_vec();
    big.resize(MAX_MESSAGE_BYTES + 1, b'a');
    assert_eq!(
        Message::parse(&big),
        Err(ParseError::TooLarge(MAX_MESSAGE_BYTES + 1))
    );
}

#[test]
fn more_headers_than_the_cap_are_refused() {
    let mut raw = String::from("OPTIONS sip:h SIP/2.0\r\n");
    for i in 0..=MAX_HEADERS {
        raw.push_str(&format!("X-H{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    assert_eq!(
        Message::parse(raw.as_bytes()),
        Err(ParseError::TooManyHeaders)
    );
}

#[test]
fn a_request_without_call_id_or_with_a_cseq_of_another_method_is_refused() {
    let no_call_id = INVITE.replace("Call-ID: a84b4c76e66710@pc33\r\n", "");
    assert_eq!(
        Message::parse(no_call_id.as_bytes()),
        Err(ParseError::Missing("call-id"))
    );
    let wrong = INVITE.replace("314159 INVITE", "314159 BYE");
    assert_eq!(
        Message::parse(wrong.as_bytes()),
        Err(ParseError::Missing("cseq"))
    );
}

#[test]
fn a_body_shorter_than_content_length_is_refused() {
    let short = INVITE.replace("Content-Length: 4", "Content-Length: 400");
    assert_eq!(
        Message::parse(short.as_bytes()),
        Err(ParseError::ContentLength)
    );
}

#[test]
fn malformed_start_lines_are_refused_by_name() {
    for bad in [
        "INVITE sip:a SIP/3.0",
        "INV@TE sip:a SIP/2.0",
        "INVITE nouri SIP/2.0",
        "SIP/2.0 99 x",
    ] {
        let raw = INVITE.replacen("INVITE sip:7001@127.0.0.1:5060 SIP/2.0", bad, 1);
        assert!(
            matches!(
                Message::parse(raw.as_bytes()),
                Err(ParseError::StartLine(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn stream_framing_waits_for_the_whole_body_then_cuts_one_message() {
    let raw = INVITE.as_bytes();
    assert_eq!(frame_len(&raw[..raw.len() - 1]), Ok(None));
    let mut two = raw.to_vec();
    two.extend_from_slice(raw);
    assert_eq!(frame_len(&two), Ok(Some(raw.len())));
    let no_len = INVITE.replace("Content-Length: 4\r\n", "");
    assert_eq!(
        frame_len(no_len.as_bytes()),
        Err(ParseError::Missing("content-length"))
    );
}

#[test]
fn sip_uris_name_user_host_and_port() {
    let u = SipUri::parse("sip:7001@[::1]:5062;transport=tcp").unwrap();
    assert_eq!(
        (u.user.as_deref(), u.host.as_str(), u.port),
        (Some("7001"), "::1", Some(5062))
    );
    assert_eq!(SipUri::parse("sip:@"), None);
    assert_eq!(SipUri::parse("tel:+84"), None);
    assert_eq!(SipUri::parse("sip:a@h:99999"), None);
}
