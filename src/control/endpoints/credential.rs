//! Endpoint credentials: a random token shown once, stored as its SHA-256,
//! rotated or revoked by an operator, checked when a room connects.

use std::fmt;

use serde_json::json;
use sqlx::Row;

use super::{Endpoint, EndpointError, Endpoints, endpoint_from_row, target};
pub(super) use crate::control::secret::token_hash;
use crate::control::secret::{Secret, ct_eq};
use crate::store::{Actor, SqlxResultExt, StoreError, audit, now_ms};

/// Length of a token in unpadded base64url (32 random bytes).
const TOKEN_CHARS: usize = 43;

/// An endpoint's token in clear: returned once, never stored. `Debug` does
/// not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Secret);

impl Token {
    pub(super) fn generate() -> Token {
        // No prefix: room devices type or paste these; keep them plain.
        Token(Secret::generate(""))
    }

    /// The token, to show to the operator this one time.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
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
