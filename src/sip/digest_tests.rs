use super::*;

const REALM: &str = "diemcau";

fn setup() -> (Digest, Instant) {
    let t0 = Instant::now();
    (Digest::new(REALM, [7; 32], t0), t0)
}

/// What a codec sends: the response computed from the password.
fn creds(alg: Algorithm, nonce: &str, password: &str) -> Credentials {
    let mut c = Credentials {
        username: "room-a".into(),
        realm: REALM.into(),
        nonce: nonce.into(),
        uri: "sip:127.0.0.1".into(),
        algorithm: alg.name().into(),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        cnonce: Some(next_cnonce()),
        ..Default::default()
    };
    let ha1 = ha1(alg, "room-a", REALM, password);
    c.response = expected_response(alg, &ha1, "REGISTER", &c).unwrap();
    c
}

/// A client's fresh cnonce for each request it signs.
fn next_cnonce() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{:08x}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// `c` signed again with nonce count `nc`.
fn with_nc(c: &Credentials, nc: u32, password: &str) -> Credentials {
    let mut c = Credentials {
        nc: Some(format!("{nc:08x}")),
        ..c.clone()
    };
    let ha1 = ha1(Algorithm::Md5, "room-a", REALM, password);
    c.response = expected_response(Algorithm::Md5, &ha1, "REGISTER", &c).unwrap();
    c
}

fn stored(alg: Algorithm) -> Option<String> {
    Some(ha1(alg, "room-a", REALM, "s3cret"))
}

const SRC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[test]
fn rfc_2617_md5_example_response_is_reproduced() {
    // RFC 2617 §3.5 (an HTTP example, same digest computation).
    let c = Credentials {
        username: "Mufasa".into(),
        realm: "testrealm@host.com".into(),
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
        uri: "/dir/index.html".into(),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        cnonce: Some("0a4f113b".into()),
        ..Default::default()
    };
    let ha1 = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert_eq!(
        expected_response(Algorithm::Md5, &ha1, "GET", &c).as_deref(),
        Some("6629fae49393a05397450978507c4ef1")
    );
}

#[test]
fn the_right_password_passes_with_md5_and_sha256() {
    let (mut d, t0) = setup();
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let c = creds(alg, &d.nonce(t0), "s3cret");
        assert_eq!(
            d.verify(t0, SRC, "REGISTER", &c, stored),
            Verdict::Ok,
            "{alg:?}"
        );
    }
}

#[test]
fn a_wrong_password_or_a_forged_nonce_fails() {
    let (mut d, t0) = setup();
    let c = creds(Algorithm::Md5, &d.nonce(t0), "guess");
    assert_eq!(d.verify(t0, SRC, "REGISTER", &c, stored), Verdict::Wrong);
    let forged = creds(
        Algorithm::Md5,
        "1.00112233445566778899aabbccddeeff",
        "s3cret",
    );
    assert_eq!(
        d.verify(t0, SRC, "REGISTER", &forged, stored),
        Verdict::Wrong
    );
    let unknown_user = creds(Algorithm::Md5, &d.nonce(t0), "s3cret");
    assert_eq!(
        d.verify(t0, SRC, "REGISTER", &unknown_user, |_| None),
        Verdict::Wrong
    );
}

#[test]
fn an_expired_nonce_with_the_right_password_is_stale() {
    let (mut d, t0) = setup();
    let c = creds(Algorithm::Sha256, &d.nonce(t0), "s3cret");
    let later = t0 + NONCE_LIFETIME + Duration::from_secs(1);
    assert_eq!(d.verify(later, SRC, "REGISTER", &c, stored), Verdict::Stale);
    let c = d.challenges(later, true, true);
    assert_eq!(c.len(), 2);
    assert!(c[0].contains("algorithm=MD5") && c[1].contains("algorithm=SHA-256"));
    assert!(c.iter().all(|c| c.ends_with("stale=true")));
    assert_eq!(
        d.challenges(later, false, false).len(),
        1,
        "md5 alone by default"
    );
}

#[test]
fn a_nonce_from_another_key_is_not_accepted() {
    let (mut d, t0) = setup();
    let other = Digest::new(REALM, [8; 32], t0);
    let c = creds(Algorithm::Md5, &other.nonce(t0), "s3cret");
    assert_eq!(d.verify(t0, SRC, "REGISTER", &c, stored), Verdict::Wrong);
}

#[test]
fn failures_past_the_limit_throttle_the_source_until_the_window_passes() {
    let (mut d, t0) = setup();
    let bad = creds(Algorithm::Md5, &d.nonce(t0), "guess");
    for _ in 0..MAX_FAILURES_PER_WINDOW {
        assert_eq!(d.verify(t0, SRC, "REGISTER", &bad, stored), Verdict::Wrong);
    }
    let good = creds(Algorithm::Md5, &d.nonce(t0), "s3cret");
    assert_eq!(
        d.verify(t0, SRC, "REGISTER", &good, stored),
        Verdict::Throttled
    );
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    assert_eq!(d.verify(t0, other, "REGISTER", &good, stored), Verdict::Ok);
    let after = t0 + FAILURE_WINDOW;
    let good = creds(Algorithm::Md5, &d.nonce(after), "s3cret");
    assert_eq!(d.verify(after, SRC, "REGISTER", &good, stored), Verdict::Ok);
}

#[test]
fn the_failure_table_never_grows_past_its_cap() {
    let (mut d, t0) = setup();
    let bad = creds(Algorithm::Md5, &d.nonce(t0), "guess");
    for i in 0..(MAX_TRACKED_SOURCES as u32 + 100) {
        let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        d.verify(t0, ip, "REGISTER", &bad, stored);
    }
    assert_eq!(d.tracked_sources(), MAX_TRACKED_SOURCES);
}

#[test]
fn authorization_headers_parse_quoted_and_bare_values() {
    let h = "Digest username=\"room-a\", realm=\"diemcau\", nonce=\"5.ab\", \
             uri=\"sip:127.0.0.1\", response=\"00ff\", algorithm=SHA-256, qop=auth, \
             nc=00000001, cnonce=\"x,y\"";
    let c = Credentials::parse(h).unwrap();
    assert_eq!(c.username, "room-a");
    assert_eq!(c.algorithm(), Some(Algorithm::Sha256));
    assert_eq!(c.cnonce.as_deref(), Some("x,y"));
    assert_eq!(c.nc.as_deref(), Some("00000001"));
    assert_eq!(Credentials::parse("Basic abc"), None);
    assert_eq!(Credentials::parse("Digest username=\"unterminated"), None);
    assert_eq!(
        Credentials::parse(&format!("Digest {}", "a".repeat(4000))),
        None
    );
}

#[test]
fn a_nonce_count_must_increase_and_a_replay_is_refused() {
    let (mut d, t0) = setup();
    let c = creds(Algorithm::Md5, &d.nonce(t0), "s3cret");
    assert_eq!(d.verify(t0, SRC, "REGISTER", &c, stored), Verdict::Ok);
    // The very same request again: a replay.
    assert_eq!(d.verify(t0, SRC, "REGISTER", &c, stored), Verdict::Replayed);
    // The codec's next request under the nonce counts on.
    let next = with_nc(&c, 2, "s3cret");
    assert_eq!(d.verify(t0, SRC, "REGISTER", &next, stored), Verdict::Ok);
    assert_eq!(d.verify(t0, SRC, "REGISTER", &c, stored), Verdict::Replayed);
    let skip = with_nc(&c, 9, "s3cret");
    assert_eq!(d.verify(t0, SRC, "REGISTER", &skip, stored), Verdict::Ok);
    // A count that is not hex is no count.
    let mut junk = with_nc(&c, 10, "s3cret");
    junk.nc = Some("zz".into());
    let ha1 = ha1(Algorithm::Md5, "room-a", REALM, "s3cret");
    junk.response = expected_response(Algorithm::Md5, &ha1, "REGISTER", &junk).unwrap();
    assert_eq!(
        d.verify(t0, SRC, "REGISTER", &junk, stored),
        Verdict::Replayed
    );
    // Replays are not password failures: the source is not throttled.
    let fresh = creds(Algorithm::Md5, &d.nonce(t0), "s3cret");
    assert_eq!(d.verify(t0, SRC, "REGISTER", &fresh, stored), Verdict::Ok);
    // A wrong password is never recorded, so it cannot burn a count.
    let wrong = with_nc(&fresh, 5, "guess");
    assert_eq!(
        d.verify(t0, SRC, "REGISTER", &wrong, stored),
        Verdict::Wrong
    );
    assert_eq!(
        d.verify(t0, SRC, "REGISTER", &with_nc(&fresh, 5, "s3cret"), stored),
        Verdict::Ok
    );
}

#[test]
fn the_nonce_count_table_never_grows_past_its_cap() {
    let (mut d, t0) = setup();
    for _ in 0..(MAX_NONCE_COUNTS + 50) {
        let c = creds(Algorithm::Md5, &d.nonce(t0), "s3cret");
        assert_eq!(d.verify(t0, SRC, "REGISTER", &c, stored), Verdict::Ok);
    }
    assert_eq!(d.nonce_counts(), MAX_NONCE_COUNTS);
    // Once their nonces expired, old counts make room at once.
    let later = t0 + NONCE_LIFETIME + Duration::from_secs(1);
    let c = creds(Algorithm::Md5, &d.nonce(later), "s3cret");
    assert_eq!(d.verify(later, SRC, "REGISTER", &c, stored), Verdict::Ok);
    assert_eq!(d.nonce_counts(), 1);
}
