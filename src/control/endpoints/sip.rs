//! SIP accounts of room systems (issue 17): an endpoint with an account is
//! a SIP room (kind `sip`). Its password is shown once, like a token; the
//! row keeps only the digest HA1s for MD5 and SHA-256 under the realm they
//! were made for (digest needs H(user:realm:password), never the password).

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::json;
use sqlx::Row;

use super::{EndpointError, Endpoints, target};
use crate::sip::digest::{Algorithm, ha1};
use crate::store::{Actor, SqlxResultExt, StoreError, audit, now_ms};

/// Characters of a SIP password: letters and digits only, because codecs
/// take it from a remote control's on-screen keyboard and some web pages
/// refuse symbols; 24 of 62 symbols carry 142 bits, beyond offline
/// guessing even against the fast MD5 HA1.
const PASSWORD_CHARS: usize = 24;

/// A SIP password in clear: returned once. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct SipPassword(String);

impl SipPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SipPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SipPassword(***)")
    }
}

/// What the SIP listener needs to authenticate a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAccount {
    pub endpoint_id: String,
    pub user: String,
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    pub fixed_addr: Option<String>,
}

impl SipAccount {
    pub fn ha1(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// The SIP user of an endpoint: its id, which is unique, stable and made
/// of characters a SIP URI's user part takes as they are.
pub fn sip_user(endpoint_id: &str) -> String {
    endpoint_id.to_owned()
}

impl Endpoints {
    /// Make `id` a SIP room, or give it a new password (the old one stops
    /// working at once). The password is returned here and never again.
    pub async fn issue_sip_password(
        &self,
        actor: &Actor,
        id: &str,
        realm: &str,
    ) -> Result<(String, SipPassword), EndpointError> {
        let user = sip_user(id);
        let password = SipPassword(
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(PASSWORD_CHARS)
                .map(char::from)
                .collect(),
        );
        let md5 = ha1(Algorithm::Md5, &user, realm, password.expose());
        let sha = ha1(Algorithm::Sha256, &user, realm, password.expose());
        let mut tx = self.store.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM endpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("issuing a sip password")?;
        if exists.is_none() {
            return Err(EndpointError::Unknown(id.to_string()));
        }
        // A new password keeps the room's fixed address.
        let fixed: Option<String> = sqlx::query_scalar(
            "SELECT fixed_addr FROM endpoint_sip_accounts WHERE endpoint_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("issuing a sip password")?
        .flatten();
        sqlx::query("DELETE FROM endpoint_sip_accounts WHERE endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("issuing a sip password")?;
        sqlx::query(
            "INSERT INTO endpoint_sip_accounts (endpoint_id, sip_user, realm, ha1_md5, ha1_sha256, issued_at, fixed_addr)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(&user)
        .bind(realm)
        .bind(&md5)
        .bind(&sha)
        .bind(now_ms())
        .bind(fixed)
        .execute(&mut *tx)
        .await
        .ctx("issuing a sip password")?;
        // Neither the password nor its HA1s go into the audit log.
        audit::append(
            &mut tx,
            actor,
            "endpoint.sip_password",
            &target(id),
            &json!({ "sip_user": user, "realm": realm }),
        )
        .await?;
        tx.commit().await.ctx("issuing a sip password")?;
        Ok((user, password))
    }

    /// The account of SIP user `user`, unless its endpoint is revoked.
    pub async fn sip_account(&self, user: &str) -> Result<Option<SipAccount>, StoreError> {
        self.sip_account_where("a.sip_user", user).await
    }

    /// The SIP account of endpoint `id` (a SIP room), unless revoked.
    pub async fn sip_account_of(&self, id: &str) -> Result<Option<SipAccount>, StoreError> {
        self.sip_account_where("a.endpoint_id", id).await
    }

    async fn sip_account_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<SipAccount>, StoreError> {
        const DOING: &str = "reading a sip account";
        let sql = format!(
            "SELECT a.endpoint_id, a.sip_user, a.realm, a.ha1_md5, a.ha1_sha256, a.fixed_addr
             FROM endpoint_sip_accounts a JOIN endpoints e ON e.id = a.endpoint_id
             WHERE {column} = $1 AND e.revoked_at IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(self.store.pool())
            .await
            .ctx(DOING)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SipAccount {
            endpoint_id: row.try_get(0).ctx(DOING)?,
            user: row.try_get(1).ctx(DOING)?,
            realm: row.try_get(2).ctx(DOING)?,
            ha1_md5: row.try_get(3).ctx(DOING)?,
            ha1_sha256: row.try_get(4).ctx(DOING)?,
            fixed_addr: row.try_get(5).ctx(DOING)?,
        }))
    }

    /// Set (or with `None` clear) the fixed address dial-out calls SIP
    /// room `id` at when it has not registered. The address is checked
    /// before it is stored: an IP literal, optionally a user and a port.
    pub async fn set_sip_address(
        &self,
        actor: &Actor,
        id: &str,
        address: Option<&str>,
    ) -> Result<(), EndpointError> {
        const DOING: &str = "setting a sip room's fixed address";
        let address = address.map(str::trim).filter(|a| !a.is_empty());
        if let Some(a) = address
            && crate::sip::dialout::fixed_target(a, "x").is_none()
        {
            return Err(EndpointError::Invalid {
                field: "sip_address",
                message: format!(
                    "sip address {a:?} is not sip:user@ip:port, ip:port or an ip address"
                ),
            });
        }
        let mut tx = self.store.begin_write().await?;
        let done =
            sqlx::query("UPDATE endpoint_sip_accounts SET fixed_addr = $1 WHERE endpoint_id = $2")
                .bind(address)
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
        if done.rows_affected() == 0 {
            return Err(EndpointError::NotSip(id.to_string()));
        }
        audit::append(
            &mut tx,
            actor,
            "endpoint.sip_address",
            &target(id),
            &json!({ "sip_address": address }),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(())
    }
}
