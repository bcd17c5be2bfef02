//! SDES (RFC 4568): SRTP keys in SDP `a=crypto` lines, pure and bounded.
//! `a=crypto:<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI]
//! [session-params]`. We take AES_CM_128_HMAC_SHA1_80 before _32 and
//! answer with a fresh key of our own for what we send (never theirs:
//! two directions under one key would reuse its keystream). Lines we
//! cannot honour (other suites, an MKI, session parameters such as a key
//! derivation rate) are skipped, as RFC 4568 §7.1.1 lets an answerer;
//! a line for a suite we know whose key does not decode is an error (488).

use super::srtp::{MasterKey, Suite};

/// Most `a=crypto` lines read per m-line; a codec offers 2–4.
pub const MAX_CRYPTO: usize = 8;
/// Longest tag: RFC 4568 §9.1 allows 1 to 9 digits.
const MAX_TAG_DIGITS: usize = 9;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdesError {
    #[error("a=crypto line is malformed (want `<tag> <suite> inline:<key>`): {0:?}")]
    Malformed(String),
    #[error("a=crypto key for {suite} does not decode to 30 bytes of base64 (tag {tag})")]
    BadKey { tag: u32, suite: &'static str },
    #[error("more than {MAX_CRYPTO} a=crypto lines on one m-line")]
    TooMany,
}

/// One usable `a=crypto` line of an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: Suite,
    pub key: MasterKey,
}

/// The keys of one SRTP m-line: the codec's (what it sends us) and ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpChoice {
    pub tag: u32,
    pub suite: Suite,
    pub remote: MasterKey,
    pub local: MasterKey,
}

/// Parse the value after `a=crypto:`; `Ok(None)` for a line we cannot
/// honour but may skip.
pub fn parse(v: &str) -> Result<Option<Crypto>, SdesError> {
    let bad = || SdesError::Malformed(v.chars().take(80).collect());
    let mut it = v.split_ascii_whitespace();
    let (tag, suite, params) = (
        it.next().ok_or_else(bad)?,
        it.next().ok_or_else(bad)?,
        it.next().ok_or_else(bad)?,
    );
    if tag.is_empty() || tag.len() > MAX_TAG_DIGITS || !tag.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let tag: u32 = tag.parse().map_err(|_| bad())?;
    let Some(suite) = Suite::parse(suite) else {
        return Ok(None);
    };
    if it.next().is_some() {
        // Session parameters (KDR, UNENCRYPTED_SRTP, …) change what SRTP
        // does; ours implements none of them.
        return Ok(None);
    }
    // Several keys (`;`-separated) only matter with MKIs: take the first.
    let first = params.split(';').next().unwrap_or_default();
    let key_params = first.strip_prefix("inline:").ok_or_else(bad)?;
    let mut parts = key_params.split('|');
    let b64 = parts.next().unwrap_or_default();
    let mut mki = false;
    for p in parts {
        if p.contains(':') {
            mki = true; // `<value>:<length>`
        } else if !valid_lifetime(p) {
            return Err(bad());
        }
    }
    let key = MasterKey::from_inline(b64).map_err(|_| SdesError::BadKey {
        tag,
        suite: suite.name(),
    })?;
    if mki {
        // Packets would carry an MKI between payload and tag: not ours.
        return Ok(None);
    }
    Ok(Some(Crypto { tag, suite, key }))
}

/// `2^31` or a decimal count.
fn valid_lifetime(p: &str) -> bool {
    let digits = p.strip_prefix("2^").unwrap_or(p);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The line we take: the 80-bit tag before the 32-bit one, then the
/// offerer's order. Our key for the answer is fresh.
pub fn choose(offered: &[Crypto]) -> Option<SrtpChoice> {
    let pick = |suite| offered.iter().find(|c| c.suite == suite);
    let c = pick(Suite::AesCm128HmacSha1_80).or_else(|| pick(Suite::AesCm128HmacSha1_32))?;
    Some(SrtpChoice {
        tag: c.tag,
        suite: c.suite,
        remote: c.key,
        local: MasterKey::random(),
    })
}

/// Our `a=crypto` line for `choice` (the answer's, or the offer's on
/// dial-out), with CRLF.
pub fn line(tag: u32, suite: Suite, key: &MasterKey) -> String {
    format!(
        "a=crypto:{tag} {} inline:{}\r\n",
        suite.name(),
        key.to_inline()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    #[test]
    fn a_line_with_lifetime_parses_and_one_with_an_mki_is_skipped() {
        let c = parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20"))
            .unwrap()
            .unwrap();
        assert_eq!((c.tag, c.suite), (1, Suite::AesCm128HmacSha1_80));
        assert_eq!(c.key.to_inline(), KEY);
        assert_eq!(
            parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4")),
            Ok(None)
        );
    }

    #[test]
    fn unknown_suites_and_session_parameters_are_skipped_not_refused() {
        assert_eq!(parse(&format!("1 AEAD_AES_256_GCM inline:{KEY}")), Ok(None));
        assert_eq!(
            parse(&format!("1 AES_CM_128_HMAC_SHA1_32 inline:{KEY} KDR=1")),
            Ok(None)
        );
    }

    #[test]
    fn a_key_that_does_not_decode_is_an_error_naming_its_tag() {
        assert_eq!(
            parse("7 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ="),
            Err(SdesError::BadKey {
                tag: 7,
                suite: "AES_CM_128_HMAC_SHA1_80"
            })
        );
        assert!(matches!(
            parse("7 AES_CM_128_HMAC_SHA1_80 inline:!!!"),
            Err(SdesError::BadKey { .. })
        ));
    }

    #[test]
    fn malformed_lines_are_errors() {
        for v in [
            "",
            "1",
            "1 AES_CM_128_HMAC_SHA1_80",
            "x AES_CM_128_HMAC_SHA1_80 inline:abc",
            "1234567890 AES_CM_128_HMAC_SHA1_80 inline:abc",
            "1 AES_CM_128_HMAC_SHA1_80 key:abc",
            "1 AES_CM_128_HMAC_SHA1_80 inline:abc|never",
        ] {
            assert!(matches!(parse(v), Err(SdesError::Malformed(_))), "{v:?}");
        }
    }

    #[test]
    fn the_80_bit_tag_is_chosen_over_the_32_and_our_key_is_fresh() {
        let key = MasterKey::from_inline(KEY).unwrap();
        let offered = [
            Crypto {
                tag: 1,
                suite: Suite::AesCm128HmacSha1_32,
                key,
            },
            Crypto {
                tag: 2,
                suite: Suite::AesCm128HmacSha1_80,
                key,
            },
        ];
        let c = choose(&offered).unwrap();
        assert_eq!(
            (c.tag, c.suite, c.remote),
            (2, Suite::AesCm128HmacSha1_80, key)
        );
        assert_ne!(c.local, key, "never their key back");
        assert_ne!(choose(&offered).unwrap().local, c.local);
        assert_eq!(choose(&offered[..1]).unwrap().tag, 1);
        assert_eq!(choose(&[]), None);
    }
}
