//! SIP digest authentication (RFC 3261 §22, RFC 8760), pure: challenges
//! with server nonces that expire, verification against the stored HA1
//! (never the password), and per-source throttling of failures.
//!
//! Old room codecs know only MD5, so each challenge offers both (RFC 8760
//! §2.4; MD5 first, see [`Digest::challenges`]); the endpoint row holds an
//! HA1 for each.
//! Nonces are stateless: the issue time and an HMAC of it under a key that
//! lives only in memory, so a restart invalidates them (the codec simply
//! retries on the fresh 401) and no nonce table can be flooded. What is
//! kept is the nonce count (`nc`, qop=auth) each client reached under a
//! nonce, recorded only for answers that verified and bounded in number:
//! an `nc` that does not increase is a replayed request (RFC 2617 §3.2.2),
//! refused with a fresh challenge.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest as _, Sha256};

/// How long a nonce is good for. Long enough for a codec's REGISTER
/// refresh to reuse it; a stale one gets a fresh challenge (`stale=true`).
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Failed attempts a source may make per [`FAILURE_WINDOW`] before it is
/// refused outright: a codec with a mistyped password fails a few times,
/// a guesser thousands.
pub const MAX_FAILURES_PER_WINDOW: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Sources whose failures we remember; the oldest is forgotten past it,
/// so a spoofed-address flood cannot grow the table.
pub const MAX_TRACKED_SOURCES: usize = 4096;
/// Nonce counts remembered (one per client and nonce in use: a codec
/// re-registering within a nonce's lifetime); past it, expired ones go,
/// then the oldest.
pub const MAX_NONCE_COUNTS: usize = 8192;
/// Longest Authorization header value parsed.
const MAX_AUTH_BYTES: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    pub fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

/// HA1 = H(user:realm:password), what an endpoint row stores per algorithm.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hash(&format!("{user}:{realm}:{password}"))
}

/// A parsed `Authorization: Digest …` header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: String,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
}

impl Credentials {
    pub fn parse(value: &str) -> Option<Credentials> {
        if value.len() > MAX_AUTH_BYTES {
            return None;
        }
        let rest = value.trim().strip_prefix("Digest")?.trim_start();
        let mut c = Credentials {
            algorithm: "MD5".to_owned(),
            ..Default::default()
        };
        let mut s = rest;
        while !s.is_empty() {
            let (key, after) = s.split_once('=')?;
            let after = after.trim_start();
            let (val, next) = if let Some(q) = after.strip_prefix('"') {
                let end = q.find('"')?;
                (&q[..end], &q[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim(), &after[end..])
            };
            let v = val.to_owned();
            match key.trim().to_ascii_lowercase().as_str() {
                "username" => c.username = v,
                "realm" => c.realm = v,
                "nonce" => c.nonce = v,
                "uri" => c.uri = v,
                "response" => c.response = v,
                "algorithm" => c.algorithm = v,
                "qop" => c.qop = Some(v),
                "nc" => c.nc = Some(v),
                "cnonce" => c.cnonce = Some(v),
                _ => {}
            }
            s = next
                .trim_start()
                .strip_prefix(',')
                .unwrap_or(next)
                .trim_start();
        }
        (!c.username.is_empty() && !c.nonce.is_empty() && !c.response.is_empty()).then_some(c)
    }

    pub fn algorithm(&self) -> Option<Algorithm> {
        match self.algorithm.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "SHA-256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Right password, nonce too old: challenge again with `stale=true`.
    Stale,
    Wrong,
    /// This source failed too often: refuse (403) without checking.
    Throttled,
    /// Right password, but a nonce count already used under this nonce
    /// (or none parsable): a replay. A fresh challenge, `stale=false`.
    Replayed,
}

/// Whose count: the nonce, the client's cnonce and the user.
type CountKey = (String, String, String);

struct Failures {
    window_start: Instant,
    count: u32,
}

/// The digest authenticator of one SIP listener.
pub struct Digest {
    realm: String,
    key: [u8; 32],
    epoch: Instant,
    failures: HashMap<IpAddr, Failures>,
    /// Highest `nc` accepted, and when its nonce was issued (ms).
    counts: HashMap<CountKey, (u32, u64)>,
}

impl Digest {
    pub fn new(realm: &str, key: [u8; 32], epoch: Instant) -> Digest {
        Digest {
            realm: realm.to_owned(),
            key,
            epoch,
            failures: HashMap::new(),
            counts: HashMap::new(),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn mac(&self, issued: u64) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.key).expect("hmac takes any key length");
        mac.update(&issued.to_be_bytes());
        mac.update(self.realm.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    pub fn nonce(&self, now: Instant) -> String {
        let issued = now.saturating_duration_since(self.epoch).as_millis() as u64;
        format!("{issued:x}.{}", self.mac(issued))
    }

    /// The WWW-Authenticate values: MD5, then SHA-256 when `sha256`.
    /// SHA-256 is off by default (`[sip] challenge_sha256`): stacks of the
    /// codecs' generation (libre, hence baresip 1.0, and older firmware)
    /// give up on a whole 401 as soon as one challenge names an algorithm
    /// they do not know, instead of using the one they do.
    pub fn challenges(&self, now: Instant, stale: bool, sha256: bool) -> Vec<String> {
        let nonce = self.nonce(now);
        let stale = if stale { ", stale=true" } else { "" };
        let algs: &[Algorithm] = if sha256 {
            &[Algorithm::Md5, Algorithm::Sha256]
        } else {
            &[Algorithm::Md5]
        };
        algs.iter()
            .map(|alg| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.realm,
                    alg.name()
                )
            })
            .collect()
    }

    /// Whether the nonce is ours: `Some(fresh)`, `None` if forged.
    fn nonce_state(&self, now: Instant, nonce: &str) -> Option<bool> {
        let (issued, mac) = nonce.split_once('.')?;
        let issued = u64::from_str_radix(issued, 16).ok()?;
        if !constant_eq(mac.as_bytes(), self.mac(issued).as_bytes()) {
            return None;
        }
        let age = now.saturating_duration_since(self.epoch).as_millis() as u64;
        Some(age.saturating_sub(issued) <= NONCE_LIFETIME.as_millis() as u64)
    }

    /// Check `creds` for `method` against the HA1 stored for its algorithm
    /// (`ha1_for` returns `None` for an unknown user: same answer as a
    /// wrong password, so users cannot be probed).
    pub fn verify(
        &mut self,
        now: Instant,
        source: IpAddr,
        method: &str,
        creds: &Credentials,
        ha1_for: impl FnOnce(Algorithm) -> Option<String>,
    ) -> Verdict {
        if self.throttled(now, source) {
            return Verdict::Throttled;
        }
        let fresh = self.nonce_state(now, &creds.nonce);
        let right = match (creds.algorithm(), fresh) {
            (Some(alg), Some(_)) if creds.realm == self.realm => ha1_for(alg).is_some_and(|ha1| {
                let expect = expected_response(alg, &ha1, method, creds);
                expect.is_some_and(|e| constant_eq(e.as_bytes(), creds.response.as_bytes()))
            }),
            _ => false,
        };
        match (right, fresh) {
            (true, Some(true)) => {
                if self.count_increases(now, creds) {
                    Verdict::Ok
                } else {
                    Verdict::Replayed
                }
            }
            (true, _) => Verdict::Stale,
            (false, _) => {
                self.fail(now, source);
                Verdict::Wrong
            }
        }
    }

    /// With qop=auth: whether `nc` is above the last one accepted for this
    /// nonce, cnonce and user (then it is the last). Without qop (RFC
    /// 2069 clients) there is no count to check.
    fn count_increases(&mut self, now: Instant, c: &Credentials) -> bool {
        if c.qop.is_none() {
            return true;
        }
        let Some(nc) =
            c.nc.as_deref()
                .and_then(|n| u32::from_str_radix(n, 16).ok())
        else {
            return false;
        };
        let key = (
            c.nonce.clone(),
            c.cnonce.clone().unwrap_or_default(),
            c.username.clone(),
        );
        if let Some((last, _)) = self.counts.get_mut(&key) {
            if nc <= *last {
                return false;
            }
            *last = nc;
            return true;
        }
        if self.counts.len() >= MAX_NONCE_COUNTS {
            let age = now.saturating_duration_since(self.epoch).as_millis() as u64;
            let lifetime = NONCE_LIFETIME.as_millis() as u64;
            self.counts
                .retain(|_, (_, issued)| age.saturating_sub(*issued) <= lifetime);
            if self.counts.len() >= MAX_NONCE_COUNTS {
                let oldest = self
                    .counts
                    .iter()
                    .min_by_key(|(_, (_, issued))| *issued)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.counts.remove(&k);
                }
            }
        }
        let issued = c
            .nonce
            .split_once('.')
            .and_then(|(i, _)| u64::from_str_radix(i, 16).ok())
            .unwrap_or_default();
        self.counts.insert(key, (nc, issued));
        true
    }

    pub fn nonce_counts(&self) -> usize {
        self.counts.len()
    }

    fn throttled(&mut self, now: Instant, source: IpAddr) -> bool {
        match self.failures.get(&source) {
            Some(f) if now.saturating_duration_since(f.window_start) < FAILURE_WINDOW => {
                f.count >= MAX_FAILURES_PER_WINDOW
            }
            Some(_) => {
                self.failures.remove(&source);
                false
            }
            None => false,
        }
    }

    fn fail(&mut self, now: Instant, source: IpAddr) {
        if !self.failures.contains_key(&source) && self.failures.len() >= MAX_TRACKED_SOURCES {
            let oldest = self
                .failures
                .iter()
                .min_by_key(|(_, f)| f.window_start)
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.failures.remove(&ip);
            }
        }
        let f = self.failures.entry(source).or_insert(Failures {
            window_start: now,
            count: 0,
        });
        f.count += 1;
    }

    pub fn tracked_sources(&self) -> usize {
        self.failures.len()
    }
}

/// RFC 2617 §3.2.2.1 with qop=auth, or RFC 2069 without qop (old codecs).
pub fn expected_response(
    alg: Algorithm,
    ha1: &str,
    method: &str,
    c: &Credentials,
) -> Option<String> {
    let ha2 = alg.hash(&format!("{method}:{}", c.uri));
    Some(match c.qop.as_deref() {
        Some("auth") => alg.hash(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            c.nonce,
            c.nc.as_deref()?,
            c.cnonce.as_deref()?
        )),
        Some(_) => return None,
        None => alg.hash(&format!("{ha1}:{}:{ha2}", c.nonce)),
    })
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
