//! Just enough STUN parsing to route a datagram: is it STUN, and which local
//! ICE username fragment does it name? Integrity is checked later by str0m;
//! this only picks the session to hand the datagram to.

/// STUN magic cookie (RFC 5389).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;
const HEADER_LEN: usize = 20;

/// True when `buf` looks like a STUN message (RFC 7983 demultiplexing: first
/// byte 0..=3, plus the magic cookie).
pub fn is_stun(buf: &[u8]) -> bool {
    buf.len() >= HEADER_LEN && buf[0] < 4 && buf[4..8] == MAGIC_COOKIE
}

/// The local (server-side) ufrag of a binding request: the part of USERNAME
/// before the colon ("local:remote" as seen from the receiver).
pub fn local_ufrag(buf: &[u8]) -> Option<&str> {
    if !is_stun(buf) {
        return None;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let body = buf.get(HEADER_LEN..HEADER_LEN + len)?;
    let mut i = 0;
    while i + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[i], body[i + 1]]);
        let alen = u16::from_be_bytes([body[i + 2], body[i + 3]]) as usize;
        let value = body.get(i + 4..i + 4 + alen)?;
        if typ == ATTR_USERNAME {
            let s = std::str::from_utf8(value).ok()?;
            return s.split(':').next();
        }
        // Attributes are padded to 4 bytes.
        i += 4 + alen.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut attr = vec![0x00, 0x06];
        attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attr.extend_from_slice(username.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attr.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attr);
        m
    }

    #[test]
    fn username_yields_local_ufrag() {
        let m = binding_request("srvfrag:clientfrag");
        assert!(is_stun(&m));
        assert_eq!(local_ufrag(&m), Some("srvfrag"));
    }

    #[test]
    fn rtp_and_truncated_input_are_not_stun() {
        assert!(!is_stun(&[0x80, 0x60, 0, 1]));
        assert_eq!(local_ufrag(&[]), None);
        let mut m = binding_request("a:b");
        m.truncate(22);
        assert_eq!(local_ufrag(&m), None);
        // Length field larger than the datagram.
        let mut m = binding_request("a:b");
        m[3] = 0xff;
        assert_eq!(local_ufrag(&m), None);
    }
}
