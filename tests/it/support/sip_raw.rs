//! Raw SIP over UDP for tests that speak to the listener themselves: an
//! INVITE, a request's final answer, a digest Authorization for a
//! challenge.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use diemcau::sip::digest::{Algorithm, Credentials, expected_response, ha1};
use diemcau::sip::message::{Message, StartLine};

pub const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 0 8\r\n";

pub fn invite(
    number: &str,
    to: SocketAddr,
    from_user: &str,
    call: &str,
    cseq: u32,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "INVITE sip:{number}@{to} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{call}{cseq}\r\n\
         From: <sip:{from_user}@{to}>;tag=t{call}\r\nTo: <sip:{number}@{to}>\r\nCall-ID: {call}\r\n\
         CSeq: {cseq} INVITE\r\nContact: <sip:{from_user}@127.0.0.1:9>\r\nMax-Forwards: 70\r\n{extra}\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Send, and read answers until a final one (or `None` after 3 s).
pub fn ask(sock: &UdpSocket, to: SocketAddr, text: &str) -> Option<Message> {
    sock.send_to(text.as_bytes(), to).unwrap();
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, _) = sock.recv_from(&mut buf).ok()?;
        let m = Message::parse(&buf[..n]).expect("the server's answer parses");
        if let StartLine::Response { code, .. } = m.start
            && code >= 200
        {
            return Some(m);
        }
    }
}

pub fn code(m: &Option<Message>) -> u16 {
    match m.as_ref().map(|m| &m.start) {
        Some(StartLine::Response { code, .. }) => *code,
        _ => 0,
    }
}

/// An Authorization header answering `challenge` for `user`/`password`.
pub fn authorization(challenge: &Message, user: &str, password: &str, uri: &str) -> String {
    authorization_for("INVITE", challenge, user, password, uri)
}

pub fn authorization_for(
    method: &str,
    challenge: &Message,
    user: &str,
    password: &str,
    uri: &str,
) -> String {
    let cnonce = format!("{:08x}", rand::random::<u32>());
    let www = challenge.header("www-authenticate").expect("a challenge");
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let mut c = Credentials {
        username: user.into(),
        realm: "diemcau".into(),
        nonce,
        uri: uri.into(),
        algorithm: "MD5".into(),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        // A client's fresh cnonce per request: each header is a new one.
        cnonce: Some(cnonce.clone()),
        ..Default::default()
    };
    c.response = expected_response(
        Algorithm::Md5,
        &ha1(Algorithm::Md5, user, "diemcau", password),
        method,
        &c,
    )
    .unwrap();
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"diemcau\", nonce=\"{}\", uri=\"{uri}\", \
         response=\"{}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\"\r\n",
        c.nonce, c.response
    )
}

pub fn client(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind(format!("{ip}:0")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}
