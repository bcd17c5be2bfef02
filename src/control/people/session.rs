//! Login, console sessions and API tokens.
//!
//! A session is a random token in an HttpOnly cookie; the database keeps its
//! SHA-256 and an expiry that slides forward while it is used. Its CSRF
//! token is derived from it (SHA-256 of a label and the session token), so
//! it needs no storage and is useless without the cookie's secret. API
//! tokens are for automation: shown once, stored hashed, revocable.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::secret::{ct_eq, token_hash, verify_password};
use super::{People, PeopleError, Secret, User, VERIFY_QUEUE_WAIT, target, user_from_row};
use crate::store::{Actor, SqlxResultExt, StoreError, audit, new_id, now_ms};

/// A session ends after this long unused: one working day of meetings.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// And after this long in any case, so a stolen cookie kept warm by a
/// script still dies.
const SESSION_MAX_MS: i64 = 7 * 24 * 3600 * 1000;
/// Slide the expiry only when it moved this much, so a busy console does
/// not write on every request.
const SLIDE_STEP_MS: i64 = 60 * 1000;
const SESSION_PREFIX: &str = "dcs_";
const API_TOKEN_PREFIX: &str = "dct_";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown name, wrong password or disabled user: one answer for all,
    /// so the reply does not tell which names exist.
    #[error("wrong login name or password")]
    BadCredentials,
    #[error("too many failed logins; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Every verification slot stayed busy for `VERIFY_QUEUE_WAIT`.
    #[error("too many logins at once; retry after {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful login.
#[derive(Debug)]
pub struct Login {
    /// The session token for the cookie; shown this once.
    pub session: Secret,
    /// The value the console sends back in `X-CSRF-Token` on writes.
    pub csrf: String,
    pub user: User,
    pub expires_at_ms: i64,
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub label: String,
    pub created_at_ms: i64,
    /// When it stops working (`[auth] api_token_days` after its creation;
    /// the lifetime is checked at each use, so shortening it in the config
    /// takes effect on existing tokens at once).
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// What an API token is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// A live token of this user, by the token's id.
    Valid(User, String),
    /// A real token past its lifetime.
    Expired { expired_at_ms: i64 },
    /// Unknown, revoked, or its user disabled.
    Refused,
}

/// A verification slot held by a running argon2 run; counts it out when
/// the run ends.
struct Running {
    _slot: tokio::sync::OwnedSemaphorePermit,
    in_flight: std::sync::Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.in_flight.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The CSRF token belonging to a session token.
pub fn csrf_for(session: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"diemcau csrf v1\0");
    h.update(session.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `header` is the CSRF token of `session`, in constant time.
pub fn csrf_matches(session: &str, header: &str) -> bool {
    ct_eq(csrf_for(session).as_bytes(), header.as_bytes())
}

fn api_target(id: &str) -> String {
    format!("api_token:{id}")
}

impl People {
    /// Admit one password attempt of `key` from `from` (counted now).
    fn admit(&self, key: &str, from: Option<IpAddr>) -> Result<(), AuthError> {
        self.throttle
            .admit(key, from, Instant::now())
            .map_err(|retry_after_secs| {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                AuthError::RateLimited { retry_after_secs }
            })
    }

    /// One password verification in one of the few slots: waits for a slot
    /// up to `VERIFY_QUEUE_WAIT`, else `Busy`.
    async fn verify(&self, password: &str, stored: Option<String>) -> Result<bool, AuthError> {
        let slot =
            tokio::time::timeout(VERIFY_QUEUE_WAIT, self.verify_slots.clone().acquire_owned())
                .await;
        let Ok(Ok(slot)) = slot else {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(AuthError::Busy {
                retry_after_secs: VERIFY_QUEUE_WAIT.as_secs().max(1),
            });
        };
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let running = self.in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
        self.in_flight.1.fetch_max(running, Ordering::SeqCst);
        let hold = Running {
            _slot: slot,
            in_flight: self.in_flight.clone(),
        };
        Ok(verify_password(password, stored, hold).await)
    }

    /// Whether `password` is this user's current one (a password change
    /// proves it first): throttled and slotted like a login.
    pub async fn check_password(
        &self,
        id: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<bool, AuthError> {
        let row = sqlx::query("SELECT login, password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .ctx("checking a password")?;
        let (login, hash) = match row {
            Some(r) => (
                r.try_get::<String, _>(0).ctx("checking a password")?,
                Some(r.try_get::<String, _>(1).ctx("checking a password")?),
            ),
            None => (format!("id:{id}"), None),
        };
        self.admit(&login, from)?;
        let ok = self.verify(password, hash).await?;
        if ok {
            self.throttle.succeeded(&login, from);
        }
        Ok(ok)
    }

    /// Check a name and password; on success open a session.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<Login, AuthError> {
        // The limiter key even for names that are not valid logins, so
        // junk names still count against the address.
        let key: String = name.trim().to_ascii_lowercase().chars().take(64).collect();
        // Counted now, before the argon2 run: a parallel burst is admitted
        // one by one and only the free attempts are verified.
        self.admit(&key, from)?;
        let row = sqlx::query(
            "SELECT id, login, display_name, roles, scope_unit_id, disabled_at, created_at, password_hash
             FROM users WHERE login = $1",
        )
        .bind(&key)
        .fetch_optional(self.store.pool())
        .await
        .ctx("checking a login")?;
        let (user, hash) = match &row {
            Some(r) => (
                Some(user_from_row(r)?),
                Some(r.try_get::<String, _>(7).ctx("checking a login")?),
            ),
            None => (None, None),
        };
        let password_ok = self.verify(password, hash).await?;
        let user = match user {
            Some(u) if password_ok && !u.disabled => u,
            other => {
                let reason = match &other {
                    None => "unknown_name",
                    Some(u) if u.disabled => "disabled",
                    Some(_) => "wrong_password",
                };
                let actor = Actor {
                    id: "anonymous".into(),
                    name: key.clone(),
                    address: from,
                };
                let tgt = other.map_or_else(|| format!("login:{key}"), |u| target(&u.id));
                let mut tx = self.store.begin_write().await?;
                audit::append(
                    &mut tx,
                    &actor,
                    "auth.login_failed",
                    &tgt,
                    &json!({ "reason": reason }),
                )
                .await?;
                tx.commit().await.ctx("recording a failed login")?;
                return Err(AuthError::BadCredentials);
            }
        };
        self.throttle.succeeded(&key, from);
        let session = Secret::generate(SESSION_PREFIX);
        let now = now_ms();
        let expires_at_ms = now + SESSION_IDLE_MS;
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND expires_at <= $2")
            .bind(&user.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx("clearing expired sessions")?;
        sqlx::query(
            "INSERT INTO user_sessions (token_hash, user_id, address, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(session.expose()))
        .bind(&user.id)
        .bind(from.map(|a| a.to_string()).unwrap_or_default())
        .bind(now)
        .bind(expires_at_ms)
        .execute(&mut *tx)
        .await
        .ctx("opening a session")?;
        audit::append(
            &mut tx,
            &user.actor(from),
            "auth.login",
            &target(&user.id),
            &json!({}),
        )
        .await?;
        tx.commit().await.ctx("opening a session")?;
        Ok(Login {
            csrf: csrf_for(session.expose()),
            session,
            user,
            expires_at_ms,
        })
    }

    /// The user a live session belongs to, sliding its expiry forward.
    /// `None` for unknown, expired or disabled.
    pub async fn authenticate_session(&self, token: &str) -> Result<Option<User>, StoreError> {
        if !token.starts_with(SESSION_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let hash = token_hash(token);
        let now = now_ms();
        let row = sqlx::query(
            "SELECT u.id, u.login, u.display_name, u.roles, u.scope_unit_id, u.disabled_at, u.created_at,
                    s.token_hash, s.created_at, s.expires_at
             FROM user_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(self.store.pool())
        .await
        .ctx("checking a session")?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get(7).ctx("checking a session")?;
        let user = user_from_row(&row)?;
        if !ct_eq(stored.as_bytes(), hash.as_bytes()) || user.disabled {
            return Ok(None);
        }
        let created: i64 = row.try_get(8).ctx("checking a session")?;
        let expires: i64 = row.try_get(9).ctx("checking a session")?;
        let slid = (now + SESSION_IDLE_MS).min(created + SESSION_MAX_MS);
        if slid - expires >= SLIDE_STEP_MS {
            sqlx::query("UPDATE user_sessions SET expires_at = $1 WHERE token_hash = $2")
                .bind(slid)
                .bind(&hash)
                .execute(self.store.pool())
                .await
                .ctx("extending a session")?;
        }
        Ok(Some(user))
    }

    /// End a session. Returns whether there was one.
    pub async fn logout(&self, token: &str, from: Option<IpAddr>) -> Result<bool, StoreError> {
        let hash = token_hash(token);
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query("DELETE FROM user_sessions WHERE token_hash = $1 RETURNING user_id")
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await
            .ctx("ending a session")?;
        let Some(row) = row else { return Ok(false) };
        let user_id: String = row.try_get(0).ctx("ending a session")?;
        let actor = Actor {
            id: user_id.clone(),
            name: user_id.clone(),
            address: from,
        };
        audit::append(
            &mut tx,
            &actor,
            "auth.logout",
            &target(&user_id),
            &json!({}),
        )
        .await?;
        tx.commit().await.ctx("ending a session")?;
        Ok(true)
    }

    /// Issue an API token for `user_id`. The token is returned here and
    /// never again.
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        user_id: &str,
        label: &str,
    ) -> Result<(ApiToken, Secret), PeopleError> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(PeopleError::Invalid {
                field: "label",
                message: format!("{label:?} must be 1 to 100 characters"),
            });
        }
        let secret = Secret::generate(API_TOKEN_PREFIX);
        let mut tx = self.store.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("issuing an API token")?;
        if exists.is_none() {
            return Err(PeopleError::Unknown(user_id.to_string()));
        }
        let id = new_id("tok_");
        let now = now_ms();
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, label, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(label)
        .bind(token_hash(secret.expose()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx("issuing an API token")?;
        // The token never goes into the audit log, not even hashed.
        audit::append(
            &mut tx,
            actor,
            "api_token.create",
            &api_target(&id),
            &json!({ "user": user_id, "label": label, "expires_at_ms": now + self.api_token_ttl_ms }),
        )
        .await?;
        tx.commit().await.ctx("issuing an API token")?;
        let token = ApiToken {
            id,
            user_id: user_id.to_string(),
            label: label.to_string(),
            created_at_ms: now,
            expires_at_ms: now + self.api_token_ttl_ms,
            revoked_at_ms: None,
        };
        Ok((token, secret))
    }

    /// Revoke an API token: it never authenticates again.
    pub async fn revoke_api_token(&self, actor: &Actor, id: &str) -> Result<(), PeopleError> {
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("revoking an API token")?;
        if done.rows_affected() == 0 {
            return Err(PeopleError::Unknown(id.to_string()));
        }
        audit::append(
            &mut tx,
            actor,
            "api_token.revoke",
            &api_target(id),
            &json!({}),
        )
        .await?;
        tx.commit().await.ctx("revoking an API token")?;
        Ok(())
    }

    /// A user's API tokens, newest first.
    pub async fn api_tokens(&self, user_id: &str) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, label, created_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .fetch_all(self.store.pool())
        .await
        .ctx("listing API tokens")?;
        rows.iter()
            .map(|r| {
                let created_at_ms: i64 = r.try_get(3)?;
                Ok(ApiToken {
                    id: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    label: r.try_get(2)?,
                    created_at_ms,
                    expires_at_ms: created_at_ms + self.api_token_ttl_ms,
                    revoked_at_ms: r.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .ctx("listing API tokens")
    }

    /// The user and token id an API token belongs to; `None` for unknown,
    /// revoked, expired, or a disabled user.
    pub async fn authenticate_api_token(
        &self,
        token: &str,
    ) -> Result<Option<(User, String)>, StoreError> {
        Ok(match self.check_api_token(token).await? {
            TokenCheck::Valid(user, id) => Some((user, id)),
            TokenCheck::Expired { .. } | TokenCheck::Refused => None,
        })
    }

    /// What an API token is worth now.
    pub async fn check_api_token(&self, token: &str) -> Result<TokenCheck, StoreError> {
        if !token.starts_with(API_TOKEN_PREFIX) || token.len() > 128 {
            return Ok(TokenCheck::Refused);
        }
        let hash = token_hash(token);
        let row = sqlx::query(
            "SELECT u.id, u.login, u.display_name, u.roles, u.scope_unit_id, u.disabled_at, u.created_at,
                    t.token_hash, t.id, t.created_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await
        .ctx("checking an API token")?;
        let Some(row) = row else {
            return Ok(TokenCheck::Refused);
        };
        let stored: String = row.try_get(7).ctx("checking an API token")?;
        let user = user_from_row(&row)?;
        if !ct_eq(stored.as_bytes(), hash.as_bytes()) || user.disabled {
            return Ok(TokenCheck::Refused);
        }
        let created: i64 = row.try_get(9).ctx("checking an API token")?;
        let expires = created + self.api_token_ttl_ms;
        if now_ms() >= expires {
            return Ok(TokenCheck::Expired {
                expired_at_ms: expires,
            });
        }
        Ok(TokenCheck::Valid(
            user,
            row.try_get(8).ctx("checking an API token")?,
        ))
    }
}
