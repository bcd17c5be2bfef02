//! People: console users with their roles, passwords, login sessions and
//! API tokens.
//!
//! Owns the `users`, `user_sessions` and `api_tokens` tables and the login
//! rate limiter. Never stores a secret: passwords as argon2id PHC strings,
//! tokens as SHA-256. There is no default user or password; the first admin
//! comes from `diemcau admin create`. What each role may do on each route is
//! decided by the API's permission table, not here.
//!
//! Split by concept: `secret` (passwords and tokens), `throttle` (login
//! attempts per name and address, counted before verifying), `limiter`
//! (failures after a cheap check: cascade node credentials), `session`
//! (login, sessions, API tokens).

mod limiter;
mod secret;
mod session;
mod throttle;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, new_id, now_ms};

pub use limiter::LoginLimiter;
pub use secret::{MIN_PASSWORD_CHARS, Secret};
pub use session::{
    ApiToken, AuthError, Login, SESSION_IDLE_MS, TokenCheck, csrf_for, csrf_matches,
};
pub use throttle::{FREE_ATTEMPTS_PER_PAIR, LoginThrottle};

/// Password verifications allowed to run at once. Each is one argon2id run
/// on a blocking thread: ~19 MiB and one core for tens of milliseconds.
/// Two keep logins flowing on a small (two-core) server while a flood of
/// guesses, from however many addresses, can neither take every core from
/// the media workers nor grow memory past ~40 MiB; the rest wait their turn
/// briefly (`VERIFY_QUEUE_WAIT`) or are told to come back.
pub const MAX_CONCURRENT_VERIFICATIONS: usize = 2;
/// How long a login waits for a verification slot before a 429: a few
/// verifications' worth, so a person behind a short burst still gets in.
pub const VERIFY_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
pub use crate::config::DEFAULT_API_TOKEN_DAYS;

/// What a person may be. A user holds one or more.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    /// Runs meetings for the whole province.
    Operator,
    /// Runs meetings for one subtree of units (`scope_unit_id`).
    SubOperator,
    Secretary,
    Chair,
    Delegate,
    /// Reads the audit log and records; changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Operator,
        Role::SubOperator,
        Role::Secretary,
        Role::Chair,
        Role::Delegate,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::SubOperator => "sub_operator",
            Role::Secretary => "secretary",
            Role::Chair => "chair",
            Role::Delegate => "delegate",
            Role::Auditor => "auditor",
        }
    }

    /// The role as printed for people (watermarks, minutes).
    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Admin => "Quản trị hệ thống",
            Role::Operator => "Điều hành hội nghị",
            Role::SubOperator => "Điều hành cấp cơ sở",
            Role::Secretary => "Thư ký",
            Role::Chair => "Chủ trì",
            Role::Delegate => "Đại biểu",
            Role::Auditor => "Kiểm tra",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a role; use admin, operator, sub_operator, secretary, chair, delegate or auditor"
                )
            })
    }
}

/// What an admin edits about a person (the password goes separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserDetails {
    pub display_name: String,
    pub roles: BTreeSet<Role>,
    /// The org unit whose subtree a sub-operator acts on; required for
    /// `sub_operator`, refused for everyone else.
    pub scope_unit_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct User {
    pub id: String,
    pub login: String,
    #[serde(flatten)]
    pub details: UserDetails,
    pub disabled: bool,
    pub created_at_ms: i64,
}

impl User {
    pub fn has(&self, role: Role) -> bool {
        self.details.roles.contains(&role)
    }

    /// This user as the actor of an audit record.
    pub fn actor(&self, address: Option<std::net::IpAddr>) -> Actor {
        Actor {
            id: self.id.clone(),
            name: self.login.clone(),
            address,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no user {0:?}")]
    Unknown(String),
    #[error("a user named {0:?} already exists")]
    NameTaken(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

fn invalid<T>(field: &'static str, message: String) -> Result<T, PeopleError> {
    Err(PeopleError::Invalid { field, message })
}

/// Login names: 1–64 of `a-z 0-9 . _ -`, compared lowercase, so "An" and
/// "an" are one person and no look-alike Unicode names exist.
pub fn normalize_login(name: &str) -> Result<String, PeopleError> {
    let login = name.trim().to_ascii_lowercase();
    if login.is_empty()
        || login.len() > 64
        || !login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return invalid(
            "name",
            format!("{name:?} is not a login name; use 1 to 64 of a-z, 0-9, '.', '_', '-'"),
        );
    }
    Ok(login)
}

fn check_details(d: &UserDetails) -> Result<(), PeopleError> {
    if d.display_name.trim().is_empty() || d.display_name.chars().count() > 200 {
        return invalid(
            "display_name",
            format!("{:?} must be 1 to 200 characters", d.display_name),
        );
    }
    if d.roles.is_empty() {
        return invalid("roles", "a user needs at least one role".into());
    }
    match (d.roles.contains(&Role::SubOperator), &d.scope_unit_id) {
        (true, None) => invalid(
            "scope_unit_id",
            "a sub_operator needs the org unit whose subtree they act on".into(),
        ),
        (false, Some(_)) => invalid(
            "scope_unit_id",
            "only a sub_operator has a scope unit".into(),
        ),
        _ => Ok(()),
    }
}

fn roles_text(roles: &BTreeSet<Role>) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

const SELECT_USER: &str =
    "SELECT id, login, display_name, roles, scope_unit_id, disabled_at, created_at FROM users";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    const DOING: &str = "reading a user";
    let roles: String = row.try_get(3).ctx(DOING)?;
    let disabled_at: Option<i64> = row.try_get(5).ctx(DOING)?;
    Ok(User {
        id: row.try_get(0).ctx(DOING)?,
        login: row.try_get(1).ctx(DOING)?,
        details: UserDetails {
            display_name: row.try_get(2).ctx(DOING)?,
            roles: roles
                .split_whitespace()
                .map(Role::from_str)
                .collect::<Result<_, _>>()
                .map_err(crate::control::org::decode_err(DOING))?,
            scope_unit_id: row.try_get(4).ctx(DOING)?,
        },
        disabled: disabled_at.is_some(),
        created_at_ms: row.try_get(6).ctx(DOING)?,
    })
}

fn target(id: &str) -> String {
    format!("user:{id}")
}

/// People over a store. Cheap to clone; clones share the login throttle
/// and the verification slots, so make one per server.
#[derive(Clone, Debug)]
pub struct People {
    store: Store,
    throttle: Arc<LoginThrottle>,
    /// Slots for password verifications ([`MAX_CONCURRENT_VERIFICATIONS`]).
    verify_slots: Arc<tokio::sync::Semaphore>,
    /// Password verifications run (argon2 runs), for /metrics and tests.
    verifications: Arc<AtomicU64>,
    /// Verifications running now, and the most ever at once.
    in_flight: Arc<(AtomicU64, AtomicU64)>,
    /// Logins refused by the throttle or a full verification queue.
    throttled: Arc<AtomicU64>,
    /// How long an API token lives, ms.
    api_token_ttl_ms: i64,
}

impl People {
    pub fn new(store: Store) -> People {
        People::with_token_days(store, DEFAULT_API_TOKEN_DAYS)
    }

    /// With API tokens living `days` days (`[auth] api_token_days`).
    pub fn with_token_days(store: Store, days: u32) -> People {
        People {
            store,
            throttle: Arc::new(LoginThrottle::default()),
            verify_slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_VERIFICATIONS)),
            verifications: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new((AtomicU64::new(0), AtomicU64::new(0))),
            throttled: Arc::new(AtomicU64::new(0)),
            api_token_ttl_ms: i64::from(days) * 86_400_000,
        }
    }

    /// Password verifications (argon2 runs) done so far by this server.
    pub fn password_verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// The most password verifications that ever ran at once.
    pub fn peak_concurrent_verifications(&self) -> u64 {
        self.in_flight.1.load(Ordering::Relaxed)
    }

    /// Logins refused before any verification (throttled or queue full).
    pub fn logins_throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Create a user with `password` (at least [`MIN_PASSWORD_CHARS`]).
    pub async fn create(
        &self,
        actor: &Actor,
        login: &str,
        details: UserDetails,
        password: &str,
    ) -> Result<User, PeopleError> {
        let login = normalize_login(login)?;
        check_details(&details)?;
        let hash = secret::hash_password(password).await?;
        let mut tx = self.store.begin_write().await?;
        let taken = sqlx::query("SELECT 1 FROM users WHERE login = $1")
            .bind(&login)
            .fetch_optional(&mut *tx)
            .await
            .ctx("creating a user")?;
        if taken.is_some() {
            return Err(PeopleError::NameTaken(login));
        }
        check_scope_unit(&mut tx, &details).await?;
        let id = new_id("usr_");
        let now = now_ms();
        sqlx::query(
            "INSERT INTO users (id, login, display_name, password_hash, roles, scope_unit_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&login)
        .bind(details.display_name.trim())
        .bind(&hash)
        .bind(roles_text(&details.roles))
        .bind(details.scope_unit_id.clone())
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx("creating a user")?;
        let record = json!({
            "login": login, "display_name": details.display_name.trim(),
            "roles": details.roles, "scope_unit_id": details.scope_unit_id,
        });
        audit::append(&mut tx, actor, "user.create", &target(&id), &record).await?;
        tx.commit().await.ctx("creating a user")?;
        Ok(User {
            id,
            login,
            details: UserDetails {
                display_name: details.display_name.trim().to_string(),
                ..details
            },
            disabled: false,
            created_at_ms: now,
        })
    }

    pub async fn get(&self, id: &str) -> Result<User, PeopleError> {
        let row = sqlx::query(&format!("{SELECT_USER} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .ctx("reading a user")?
            .ok_or_else(|| PeopleError::Unknown(id.to_string()))?;
        Ok(user_from_row(&row)?)
    }

    pub async fn by_login(&self, login: &str) -> Result<Option<User>, PeopleError> {
        let login = normalize_login(login)?;
        let row = sqlx::query(&format!("{SELECT_USER} WHERE login = $1"))
            .bind(&login)
            .fetch_optional(self.store.pool())
            .await
            .ctx("reading a user")?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// All users, by login name.
    pub async fn list(&self) -> Result<Vec<User>, PeopleError> {
        let rows = sqlx::query(&format!("{SELECT_USER} ORDER BY login"))
            .fetch_all(self.store.pool())
            .await
            .ctx("listing users")?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn update(
        &self,
        actor: &Actor,
        id: &str,
        details: UserDetails,
    ) -> Result<User, PeopleError> {
        check_details(&details)?;
        let mut tx = self.store.begin_write().await?;
        check_scope_unit(&mut tx, &details).await?;
        let before: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT roles, scope_unit_id FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .ctx("updating a user")?;
        let done = sqlx::query(
            "UPDATE users SET display_name = $1, roles = $2, scope_unit_id = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(details.display_name.trim())
        .bind(roles_text(&details.roles))
        .bind(details.scope_unit_id.clone())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("updating a user")?;
        if done.rows_affected() == 0 {
            return Err(PeopleError::Unknown(id.to_string()));
        }
        // New roles or a new scope: every session ends, so no console (or
        // WebSocket admitted under the old rights) goes on as before.
        let rights_changed = before.is_none_or(|(roles, scope)| {
            roles != roles_text(&details.roles) || scope != details.scope_unit_id
        });
        let sessions_ended = if rights_changed {
            end_sessions(&mut tx, id).await?
        } else {
            0
        };
        let mut record = serde_json::to_value(&details).unwrap_or_default();
        record["sessions_ended"] = json!(sessions_ended);
        audit::append(&mut tx, actor, "user.update", &target(id), &record).await?;
        tx.commit().await.ctx("updating a user")?;
        self.get(id).await
    }

    /// Disable (or re-enable) a user. Disabling also ends their sessions and
    /// revokes their API tokens at once: re-enabled, they log in again and
    /// issue new tokens.
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        id: &str,
        disabled: bool,
    ) -> Result<(), PeopleError> {
        let mut tx = self.store.begin_write().await?;
        let now = now_ms();
        let done = sqlx::query("UPDATE users SET disabled_at = $1, updated_at = $2 WHERE id = $3")
            .bind(disabled.then_some(now))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("disabling a user")?;
        if done.rows_affected() == 0 {
            return Err(PeopleError::Unknown(id.to_string()));
        }
        let record = if disabled {
            let sessions_ended = end_sessions(&mut tx, id).await?;
            let tokens_revoked = revoke_tokens(&mut tx, id, now).await?;
            json!({ "sessions_ended": sessions_ended, "api_tokens_revoked": tokens_revoked })
        } else {
            json!({})
        };
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        audit::append(&mut tx, actor, action, &target(id), &record).await?;
        tx.commit().await.ctx("disabling a user")?;
        Ok(())
    }

    /// Set a new password; ends the user's sessions and revokes their API
    /// tokens (a password change is often a response to a leak).
    pub async fn set_password(
        &self,
        actor: &Actor,
        id: &str,
        password: &str,
    ) -> Result<(), PeopleError> {
        let hash = secret::hash_password(password).await?;
        let mut tx = self.store.begin_write().await?;
        let now = now_ms();
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(&hash)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("setting a password")?;
        if done.rows_affected() == 0 {
            return Err(PeopleError::Unknown(id.to_string()));
        }
        let sessions_ended = end_sessions(&mut tx, id).await?;
        let tokens_revoked = revoke_tokens(&mut tx, id, now).await?;
        let record =
            json!({ "sessions_ended": sessions_ended, "api_tokens_revoked": tokens_revoked });
        audit::append(&mut tx, actor, "user.set_password", &target(id), &record).await?;
        tx.commit().await.ctx("setting a password")?;
        Ok(())
    }
}

/// End every session of a user; how many there were.
async fn end_sessions(conn: &mut sqlx::AnyConnection, id: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .ctx("ending a user's sessions")?
        .rows_affected())
}

/// Revoke every live API token of a user; how many there were.
async fn revoke_tokens(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await
    .ctx("revoking a user's API tokens")?
    .rows_affected())
}

async fn check_scope_unit(
    conn: &mut sqlx::AnyConnection,
    details: &UserDetails,
) -> Result<(), PeopleError> {
    let Some(unit) = &details.scope_unit_id else {
        return Ok(());
    };
    let found = sqlx::query("SELECT 1 FROM org_units WHERE id = $1")
        .bind(unit)
        .fetch_optional(&mut *conn)
        .await
        .ctx("checking a scope unit")?;
    if found.is_none() {
        return invalid("scope_unit_id", format!("no org unit {unit:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_lowercase_ascii() {
        assert_eq!(normalize_login(" An.Nguyen ").unwrap(), "an.nguyen");
        assert!(normalize_login("").is_err());
        assert!(normalize_login("nguyễn").is_err());
        assert!(normalize_login(&"a".repeat(65)).is_err());
    }

    #[test]
    fn sub_operators_need_a_scope_and_only_they_have_one() {
        let mut d = UserDetails {
            display_name: "Trần Thị Bình".into(),
            roles: [Role::SubOperator].into(),
            scope_unit_id: None,
        };
        assert!(check_details(&d).is_err());
        d.scope_unit_id = Some("ou_x".into());
        assert!(check_details(&d).is_ok());
        d.roles = [Role::Operator].into();
        assert!(check_details(&d).is_err());
    }

    #[test]
    fn roles_round_trip_through_text() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().unwrap_err().contains("not a role"));
    }
}
