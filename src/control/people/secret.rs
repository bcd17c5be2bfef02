//! Secrets: passwords (argon2id, stretched because people choose guessable
//! ones) and tokens (256 random bits, shown once, stored as SHA-256: nobody
//! can enumerate 2^256 tokens however fast the hash is).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

use super::PeopleError;
use crate::store::StoreError;

/// Shortest password accepted. Ten characters keep an offline guess at
/// argon2id cost out of reach for anything but a dictionary word, which the
/// login rate limit then covers online.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted: hashing cost grows with length, and nobody
/// types more than this.
const MAX_PASSWORD_BYTES: usize = 1024;
/// Random bytes in a session or API token: 256 bits.
pub use crate::control::secret::Secret;
pub(super) use crate::control::secret::{ct_eq, token_hash};

/// argon2id with the OWASP-recommended parameters (19 MiB, 2 passes, 1
/// lane): tens of milliseconds per guess, affordable at login rates.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

fn check_password(password: &str) -> Result<(), PeopleError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PeopleError::Invalid {
            field: "password",
            message: format!(
                "a password needs at least {MIN_PASSWORD_CHARS} characters (this one has {chars})"
            ),
        });
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PeopleError::Invalid {
            field: "password",
            message: format!("a password is at most {MAX_PASSWORD_BYTES} bytes"),
        });
    }
    Ok(())
}

/// Check the policy, then hash off the async threads (argon2 is meant to
/// be slow). Returns the PHC string (`$argon2id$v=19$...`).
pub(super) async fn hash_password(password: &str) -> Result<String, PeopleError> {
    check_password(password)?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|_| hashing_failed("the hashing task stopped"))?
}

fn hash_now(password: &str) -> Result<String, PeopleError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| hashing_failed(&e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| hashing_failed(&e.to_string()))
}

fn hashing_failed(why: &str) -> PeopleError {
    PeopleError::Store(StoreError::Invalid {
        what: "password hash".into(),
        message: why.to_string(),
    })
}

/// A hash of a password nobody knows, verified against when the login name
/// does not exist, so a wrong name costs the same time as a wrong password
/// and timing does not reveal which names exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 24];
        rand::rng().fill_bytes(&mut random);
        hash_now(&hex::encode(random)).unwrap_or_default()
    })
}

/// Whether `password` matches the stored PHC string (or, with `None`, burn
/// the same time and say no). A malformed stored hash never matches.
/// `hold` (a verification slot) is dropped when the argon2 run ends, not
/// when this future is: a caller that hangs up mid-way must not free its
/// slot while its run still takes a core.
pub(super) async fn verify_password<H: Send + 'static>(
    password: &str,
    stored: Option<String>,
    hold: H,
) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let _hold = hold;
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hidden_from_debug() {
        let a = Secret::generate("dcs_");
        assert!(a.expose().starts_with("dcs_") && a.expose().len() == 4 + 43);
        assert_ne!(a, Secret::generate("dcs_"));
        assert_eq!(format!("{a:?}"), "Secret(***)");
    }

    #[tokio::test]
    async fn passwords_hash_to_argon2id_and_verify() {
        let phc = hash_password("đúng mật khẩu 123").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password("đúng mật khẩu 123", Some(phc.clone()), ()).await);
        assert!(!verify_password("sai mật khẩu 1234", Some(phc), ()).await);
        assert!(!verify_password("đúng mật khẩu 123", None, ()).await);
        assert!(hash_password("short").await.is_err());
    }
}
