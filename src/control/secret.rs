//! Bearer secrets — endpoint tokens, login sessions, API tokens: 256 random
//! bits shown to their holder once, stored only as a SHA-256, compared in
//! constant time.

use std::fmt;

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Random bytes in a secret: 256 bits, beyond any guessing.
const SECRET_BYTES: usize = 32;

/// A secret in clear: returned once, never stored. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// `prefix` + 43 base64url characters. A prefix tells a leaked secret's
    /// kind at a glance (and lets secret scanners find it).
    pub(crate) fn generate(prefix: &str) -> Secret {
        let mut bytes = [0u8; SECRET_BYTES];
        // ThreadRng is a CSPRNG seeded from the OS.
        rand::rng().fill_bytes(&mut bytes);
        Secret(format!(
            "{prefix}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    pub fn from_client(token: &str) -> Secret {
        Secret(token.to_string())
    }

    /// The secret, to hand to its holder this one time.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SHA-256, hex: what the database keeps. A secret carries 256 random bits,
/// so a fast hash is enough: slow hashes (argon2) exist to stretch guessable
/// passwords, and nobody can enumerate 2^256 secrets however fast the hash.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality whose time does not depend on where the inputs differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
