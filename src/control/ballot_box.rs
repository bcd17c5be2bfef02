//! The sealed ballot box of a secret vote.
//!
//! While a secret vote is open, no choice reaches the database in the
//! clear: each ballot is sealed (X25519 with a fresh key per ballot, HKDF,
//! ChaCha20-Poly1305) to the vote's public key, stored with the motion's
//! public key in `motions.seal_key`. The matching private key lives only in
//! the memory of the node that opened the vote. So whoever copies the
//! database files (main file, WAL or journal, PostgreSQL's heap and WAL) at
//! any moment finds who voted and sealed ballots, never a running tally or
//! a choice; consecutive copies show no tally moving either. At close the
//! node that opened the vote opens the box, adds the ballots up in memory,
//! writes only the totals and deletes the sealed ballots in the same
//! transaction.
//!
//! A node that restarted while a secret vote was open has lost the key: the
//! sealed ballots cannot be counted and the vote must be held again — the
//! price of a ballot that no file can betray (the chair is told so).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::hkdf;

/// Why a ballot could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BallotError {
    #[error(
        "the vote's sealing key is not held by this server (it restarted, or another node opened the vote)"
    )]
    KeyLost,
    #[error("a sealed ballot could not be opened")]
    Corrupt,
    #[error("the vote's public key is malformed")]
    BadKey,
    #[error("the system's cryptography failed")]
    Crypto,
}

/// One opened ballot: the option and its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ballot {
    pub option: u32,
    pub weight: u32,
}

/// The private keys of the secret votes this node opened.
#[derive(Default)]
pub struct BallotBox {
    keys: Mutex<HashMap<String, PrivateKey>>,
}

impl std::fmt::Debug for BallotBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BallotBox")
    }
}

const KDF_SALT: &[u8] = b"diemcau sealed ballot v1";

fn derive(shared: &[u8], eph_pub: &[u8], vote_pub: &[u8]) -> Result<LessSafeKey, BallotError> {
    let info = [eph_pub, vote_pub];
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, KDF_SALT).extract(shared);
    let okm = prk
        .expand(&info, &CHACHA20_POLY1305)
        .map_err(|_| BallotError::Crypto)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

impl BallotBox {
    /// A new key for motion `motion`; its public half, hex, for the motion row.
    pub fn open(&self, motion: &str) -> Result<String, BallotError> {
        let sk = PrivateKey::generate(&X25519).map_err(|_| BallotError::Crypto)?;
        let pk = sk.compute_public_key().map_err(|_| BallotError::Crypto)?;
        let hex = hex::encode(pk.as_ref());
        self.keys
            .lock()
            .expect("ballot keys")
            .insert(motion.to_string(), sk);
        Ok(hex)
    }

    /// Open every sealed ballot of `motion` (the key stays until
    /// [`BallotBox::forget`]: a count whose transaction fails can be tried
    /// again).
    pub fn unseal_all(&self, motion: &str, sealed: &[String]) -> Result<Vec<Ballot>, BallotError> {
        let keys = self.keys.lock().expect("ballot keys");
        let sk = keys.get(motion).ok_or(BallotError::KeyLost)?;
        let vote_pub = sk.compute_public_key().map_err(|_| BallotError::Crypto)?;
        sealed
            .iter()
            .map(|s| unseal(sk, vote_pub.as_ref(), motion, s))
            .collect()
    }

    /// The vote was counted: drop its key (nothing can open its ballots again).
    pub fn forget(&self, motion: &str) {
        self.keys.lock().expect("ballot keys").remove(motion);
    }

    pub fn holds(&self, motion: &str) -> bool {
        self.keys.lock().expect("ballot keys").contains_key(motion)
    }
}

/// Seal a ballot to a vote's public key (any node can: the key is public).
pub fn seal(vote_pub_hex: &str, motion: &str, ballot: Ballot) -> Result<String, BallotError> {
    let vote_pub = hex::decode(vote_pub_hex).map_err(|_| BallotError::BadKey)?;
    let eph = PrivateKey::generate(&X25519).map_err(|_| BallotError::Crypto)?;
    let eph_pub = eph.compute_public_key().map_err(|_| BallotError::Crypto)?;
    let key = agreement::agree(
        &eph,
        UnparsedPublicKey::new(&X25519, &vote_pub),
        BallotError::BadKey,
        |shared| derive(shared, eph_pub.as_ref(), &vote_pub),
    )?;
    let mut data = Vec::with_capacity(24);
    data.extend_from_slice(&ballot.option.to_be_bytes());
    data.extend_from_slice(&ballot.weight.to_be_bytes());
    // A fresh key per ballot: a fixed nonce is never reused under one key.
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key([0; 12]),
        Aad::from(motion.as_bytes()),
        &mut data,
    )
    .map_err(|_| BallotError::Crypto)?;
    let mut out = eph_pub.as_ref().to_vec();
    out.extend_from_slice(&data);
    Ok(hex::encode(out))
}

fn unseal(
    sk: &PrivateKey,
    vote_pub: &[u8],
    motion: &str,
    sealed: &str,
) -> Result<Ballot, BallotError> {
    let bytes = hex::decode(sealed).map_err(|_| BallotError::Corrupt)?;
    if bytes.len() != 32 + 8 + 16 {
        return Err(BallotError::Corrupt);
    }
    let (eph_pub, ct) = bytes.split_at(32);
    let key = agreement::agree(
        sk,
        UnparsedPublicKey::new(&X25519, eph_pub),
        BallotError::Corrupt,
        |shared| derive(shared, eph_pub, vote_pub),
    )?;
    let mut data = ct.to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(motion.as_bytes()),
            &mut data,
        )
        .map_err(|_| BallotError::Corrupt)?;
    let option = u32::from_be_bytes(plain[..4].try_into().map_err(|_| BallotError::Corrupt)?);
    let weight = u32::from_be_bytes(plain[4..8].try_into().map_err(|_| BallotError::Corrupt)?);
    Ok(Ballot { option, weight })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_ballots_open_only_with_the_votes_key_and_only_once() {
        let bx = BallotBox::default();
        let pk = bx.open("mot_1").unwrap();
        let a = seal(
            &pk,
            "mot_1",
            Ballot {
                option: 2,
                weight: 1,
            },
        )
        .unwrap();
        let b = seal(
            &pk,
            "mot_1",
            Ballot {
                option: 2,
                weight: 1,
            },
        )
        .unwrap();
        // The same choice seals differently every time.
        assert_ne!(a, b);
        let opened = bx.unseal_all("mot_1", &[a.clone(), b]).unwrap();
        assert_eq!(
            opened,
            vec![
                Ballot {
                    option: 2,
                    weight: 1
                };
                2
            ]
        );
        bx.forget("mot_1");
        assert_eq!(bx.unseal_all("mot_1", &[a]), Err(BallotError::KeyLost));
    }

    #[test]
    fn a_ballot_sealed_for_another_motion_or_altered_does_not_open() {
        let bx = BallotBox::default();
        let pk = bx.open("mot_1").unwrap();
        let other = seal(
            &pk,
            "mot_2",
            Ballot {
                option: 0,
                weight: 3,
            },
        )
        .unwrap();
        assert_eq!(bx.unseal_all("mot_1", &[other]), Err(BallotError::Corrupt));
        let pk = bx.open("mot_1").unwrap();
        let mut s = seal(
            &pk,
            "mot_1",
            Ballot {
                option: 0,
                weight: 3,
            },
        )
        .unwrap();
        s.replace_range(70..72, "00");
        assert!(bx.unseal_all("mot_1", &[s, "zz".into()]).is_err());
    }
}
