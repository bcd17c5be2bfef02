//! Control plane: org tree, endpoints, people, meetings, live control, and
//! the join-token registry ([`JoinTokens`]) the demo meeting uses.
//!
//! For now a meeting is an id with a bearer token (the demo meeting); the
//! org tree, endpoints, people and the meeting lifecycle come with the
//! control-plane issue and replace this registry's insides, not its callers.
//! `org` (the versioned org tree) and `endpoints` (điểm cầu and their
//! credentials) are the first of those, on top of `crate::store`.

pub mod agenda;
pub mod ballot_box;
pub mod bodies;
pub mod cascade;
pub mod checks;
pub mod documents;
pub mod endpoints;
// The live meeting, pure, in its own crate (issue 20: crates along the sans-IO line).
pub use diemcau_live as live;
pub mod meetings;
pub mod minutes;
pub mod minutes_pdf;
pub mod org;
pub mod people;
pub mod quality;
pub mod recordings;
pub mod secret;
pub mod trust;
pub mod voting;

use std::collections::HashMap;
use std::sync::RwLock;

use sha2::{Digest, Sha256};

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("unknown meeting {0:?}")]
    UnknownMeeting(String),
    #[error("missing bearer token")]
    MissingToken,
    #[error("wrong token for meeting {0:?}")]
    WrongToken(String),
}

#[derive(Default)]
pub struct JoinTokens {
    /// Meeting id -> SHA-256 of its join token (tokens are never stored in clear).
    tokens: RwLock<HashMap<String, [u8; 32]>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl JoinTokens {
    pub fn add(&self, meeting: &str, token: &str) {
        self.tokens
            .write()
            .expect("meetings lock")
            .insert(meeting.to_string(), digest(token));
    }

    pub fn exists(&self, meeting: &str) -> bool {
        self.tokens
            .read()
            .expect("meetings lock")
            .contains_key(meeting)
    }

    /// Check a join token; compares digests in constant time.
    pub fn authorize(&self, meeting: &str, token: Option<&str>) -> Result<(), AccessError> {
        let map = self.tokens.read().expect("meetings lock");
        let want = map
            .get(meeting)
            .ok_or_else(|| AccessError::UnknownMeeting(meeting.to_string()))?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AccessError::MissingToken)?;
        let got = digest(token);
        if secret::ct_eq(want, &got) {
            Ok(())
        } else {
            Err(AccessError::WrongToken(meeting.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_checks_name_the_problem() {
        let m = JoinTokens::default();
        m.add("demo", "secret");
        assert_eq!(m.authorize("demo", Some("secret")), Ok(()));
        assert_eq!(
            m.authorize("demo", Some("nope")),
            Err(AccessError::WrongToken("demo".into()))
        );
        assert_eq!(m.authorize("demo", None), Err(AccessError::MissingToken));
        assert_eq!(
            m.authorize("x", Some("secret")),
            Err(AccessError::UnknownMeeting("x".into()))
        );
    }
}
