use super::*;

fn hex(s: &str) -> Vec<u8> {
    ::hex::decode(s).unwrap()
}

fn master() -> MasterKey {
    let mut b = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    b.extend(hex("0EC675AD498AFEEBB6960B3AABE6"));
    MasterKey::from_bytes(&b.try_into().unwrap())
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn session_keys_match_the_rfc_3711_test_vectors() {
    // RFC 3711 Appendix B.3.
    let m = master();
    let mut key = [0u8; 16];
    let mut salt = [0u8; 14];
    let mut auth = [0u8; 20];
    kdf(&m, 0, &mut key);
    kdf(&m, 2, &mut salt);
    kdf(&m, 1, &mut auth);
    assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    assert_eq!(
        auth.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

#[test]
fn a_protected_packet_hides_its_payload_and_unprotects_to_the_original() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let (mut tx, mut rx) = (
            Context::new(suite, &master()),
            Context::new(suite, &master()),
        );
        let plain = rtp(7, 0x1234, b"a room codec's voice");
        let sealed = tx.protect_rtp(&plain).unwrap();
        assert_eq!(sealed.len(), plain.len() + suite.rtp_tag_len());
        assert_eq!(sealed[..12], plain[..12], "the header stays clear");
        assert_ne!(sealed[12..plain.len()], plain[12..], "the payload does not");
        assert_eq!(rx.unprotect_rtp(&sealed).unwrap(), plain);
    }
}

#[test]
fn a_tampered_replayed_or_foreign_packet_is_refused() {
    let (mut tx, mut rx) = (
        Context::new(Suite::AesCm128HmacSha1_80, &master()),
        Context::new(Suite::AesCm128HmacSha1_80, &master()),
    );
    let sealed = tx.protect_rtp(&rtp(1, 9, b"hello")).unwrap();
    let mut bad = sealed.clone();
    bad[13] ^= 1;
    assert_eq!(rx.unprotect_rtp(&bad), Err(SrtpError::Auth));
    assert!(rx.unprotect_rtp(&sealed).is_ok());
    assert_eq!(rx.unprotect_rtp(&sealed), Err(SrtpError::Replay));
    let mut other = Context::new(Suite::AesCm128HmacSha1_80, &MasterKey::random());
    let foreign = other.protect_rtp(&rtp(2, 9, b"hello")).unwrap();
    assert_eq!(rx.unprotect_rtp(&foreign), Err(SrtpError::Auth));
    assert_eq!(rx.unprotect_rtp(&[0x80; 8]), Err(SrtpError::Short));
}

#[test]
fn the_rollover_counter_follows_a_sequence_wrap_and_late_packets() {
    let (mut tx, mut rx) = (
        Context::new(Suite::AesCm128HmacSha1_80, &master()),
        Context::new(Suite::AesCm128HmacSha1_80, &master()),
    );
    let mut sealed = Vec::new();
    for seq in (65_530..=65_535).chain(0..6) {
        sealed.push((seq, tx.protect_rtp(&rtp(seq, 5, &[seq as u8; 20])).unwrap()));
    }
    // Delivered with one late packet from before the wrap.
    let late = sealed.remove(4);
    for (seq, p) in &sealed {
        assert_eq!(
            rx.unprotect_rtp(p).unwrap(),
            rtp(*seq, 5, &[*seq as u8; 20]),
            "seq {seq}"
        );
    }
    assert_eq!(
        rx.unprotect_rtp(&late.1).unwrap(),
        rtp(late.0, 5, &[late.0 as u8; 20])
    );
}

#[test]
fn srtcp_round_trips_and_refuses_a_bad_tag() {
    let (mut tx, mut rx) = (
        Context::new(Suite::AesCm128HmacSha1_32, &master()),
        Context::new(Suite::AesCm128HmacSha1_32, &master()),
    );
    // A receiver report with one block.
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&0xabcdu32.to_be_bytes());
    rr.extend_from_slice(&[7u8; 24]);
    let sealed = tx.protect_rtcp(&rr).unwrap();
    assert_eq!(sealed.len(), rr.len() + 4 + 10, "index and an 80-bit tag");
    assert_ne!(sealed[8..rr.len()], rr[8..]);
    assert_eq!(rx.unprotect_rtcp(&sealed).unwrap(), rr);
    let mut bad = sealed;
    bad[9] ^= 0x40;
    assert_eq!(rx.unprotect_rtcp(&bad), Err(SrtpError::Auth));
}

#[test]
fn keys_parse_from_inline_and_streams_are_bounded() {
    let k = MasterKey::random();
    assert_eq!(
        MasterKey::from_inline(&format!("{}|2^31|1:1", k.to_inline())).unwrap(),
        k
    );
    assert_eq!(MasterKey::from_inline("c2hvcnQ="), Err(SrtpError::BadKey));
    assert_eq!(MasterKey::from_inline("%%%"), Err(SrtpError::BadKey));
    let mut tx = Context::new(Suite::AesCm128HmacSha1_80, &k);
    for ssrc in 0..MAX_SSRCS as u32 {
        tx.protect_rtp(&rtp(1, ssrc, b"x")).unwrap();
    }
    assert_eq!(
        tx.protect_rtp(&rtp(1, 999, b"x")),
        Err(SrtpError::TooManyStreams)
    );
}
