//! Endpoint credentials: a random token shown once, stored as its SHA-256,
//! rotated or revoked by an operator, checked when a room connects.

use std::fmt;

use base64::Engine as _;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Endpoint, EndpointError, Endpoints, endpoint_from_row, target};
use crate::store::{Actor, SqlxResultExt, StoreError, audit, now_ms};

/// Random bytes in a token: 256 bits, beyond any guessing.
const TOKEN_BYTES: usize = 32;
/// Length of such a token in unpadded base64url.
const TOKEN_CHARS: usize = 43;

/// A token in clear: returned once, never stored. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub(super) fn generate() -> Token {
        let mut bytes = [0u8; TOKEN_BYTES];
        // ThreadRng is a CSPRNG seeded from the OS.
        rand::rng().fill_bytes(&mut bytes);
        Token(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token, to show to the operator this one time.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// SHA-256, hex. A token carries 256 random bits, so a fast hash is enough:
/// slow hashes (argon2) exist to stretch guessable passwords, and nobody can
/// enumerate 2^256 tokens however fast the hash is.
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Endpoints {
    /// Issue a new token (the old one stops working at once); also re-enables
    /// a revoked endpoint. The new token is returned here and never again.
    pub async fn rotate_token(&self, actor: &Actor, id: &str) -> Result<Token, EndpointError> {
        let token = Token::generate();
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query("UPDATE endpoints SET token_hash = $1, token_issued_at = $2, revoked_at = NULL WHERE id = $3")
            .bind(token_hash(token.expose()))
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("rotating an endpoint token")?;
        if done.rows_affected() == 0 {
            return Err(EndpointError::Unknown(id.to_string()));
        }
        audit::append(
            &mut tx,
            actor,
            "endpoint.rotate_token",
            &target(id),
            &json!({}),
        )
        .await?;
        tx.commit().await.ctx("rotating an endpoint token")?;
        Ok(token)
    }

    /// Revoke the endpoint's token: it never authenticates again.
    pub async fn revoke(&self, actor: &Actor, id: &str) -> Result<(), EndpointError> {
        let mut tx = self.store.begin_write().await?;
        let done =
            sqlx::query("UPDATE endpoints SET token_hash = NULL, revoked_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("revoking an endpoint token")?;
        if done.rows_affected() == 0 {
            return Err(EndpointError::Unknown(id.to_string()));
        }
        audit::append(&mut tx, actor, "endpoint.revoke", &target(id), &json!({})).await?;
        tx.commit().await.ctx("revoking an endpoint token")?;
        Ok(())
    }

    /// The endpoint holding `token`, if any. The lookup goes by the token's
    /// hash: an index probe's timing can only tell an attacker about hashes,
    /// which reveal nothing about tokens; the final check compares the
    /// stored and computed hashes in constant time.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Endpoint>, StoreError> {
        if token.len() != TOKEN_CHARS {
            return Ok(None);
        }
        let hash = token_hash(token);
        let row = sqlx::query(
            "SELECT id, name, room, technician_name, technician_phone, link, created_at, revoked_at, token_hash
             FROM endpoints WHERE token_hash = $1 AND revoked_at IS NULL"
        )
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await
        .ctx("checking an endpoint token")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored: String = row.try_get(8).ctx("checking an endpoint token")?;
        if !ct_eq(stored.as_bytes(), hash.as_bytes()) {
            return Ok(None);
        }
        endpoint_from_row(&row).map(Some)
    }
}
