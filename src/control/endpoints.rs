//! Endpoints (điểm cầu): a room with a device, bound to an org unit over
//! dated intervals, with its link profile and its credential.
//!
//! Owns the endpoint tables and credentials. A token is shown once (at
//! creation or rotation) and only its SHA-256 is stored. Unit rules belong
//! to `control::org`; this module only checks a unit exists on a date.
//!
//! Split by concept: `binding` (dated unit bindings, following merges) and
//! `credential` (tokens: issue, rotate, revoke, authenticate).

mod binding;
mod credential;
pub mod sip;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use time::Date;

use crate::control::org::OrgError;
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, date, new_id, now_ms};

pub use binding::Binding;
use binding::check_unit_on;
pub(crate) use binding::{count_bound, follow_merge};
pub use credential::Token;
use credential::token_hash;

/// The kind of link an endpoint's room has to the provincial network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum LinkProfile {
    #[serde(rename = "fibre")]
    Fibre,
    #[serde(rename = "4g")]
    FourG,
    #[serde(rename = "3g")]
    ThreeG,
    #[serde(rename = "vsat")]
    Vsat,
}

impl LinkProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkProfile::Fibre => "fibre",
            LinkProfile::FourG => "4g",
            LinkProfile::ThreeG => "3g",
            LinkProfile::Vsat => "vsat",
        }
    }

    /// The most the media engine sends this endpoint, kbit/s, whatever its
    /// bandwidth estimate says: the estimate reacts only after loss or delay,
    /// and on thin links audio must never be what suffers first.
    pub fn max_kbps(self) -> u32 {
        match self {
            // Room for the stage in 720p (~2.5 Mbit/s) plus audio and a few
            // thumbnails; more would only fill the hub's uplink.
            LinkProfile::Fibre => 4000,
            // A shared cell: a 360p/540p stage plus audio leaves headroom for
            // the usual 4G swings in rural coverage.
            LinkProfile::FourG => 1500,
            // 3G: a 360p stage at a low rate plus audio.
            LinkProfile::ThreeG => 600,
            // Satellite (islands, special zones): costly and high-latency; a
            // low-rate stage plus audio, so retransmissions fit too.
            LinkProfile::Vsat => 384,
        }
    }
}

impl std::str::FromStr for LinkProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fibre" | "fiber" => Ok(LinkProfile::Fibre),
            "4g" => Ok(LinkProfile::FourG),
            "3g" => Ok(LinkProfile::ThreeG),
            "vsat" => Ok(LinkProfile::Vsat),
            _ => Err(format!(
                "{s:?} is not a link profile; use fibre, 4g, 3g or vsat"
            )),
        }
    }
}

/// What an operator edits about an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointDetails {
    pub name: String,
    /// Where the room is (building, floor, room).
    pub room: String,
    /// The technician on duty for this room, and a phone to reach them.
    pub technician_name: String,
    pub technician_phone: String,
    pub link: LinkProfile,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Endpoint {
    pub id: String,
    #[serde(flatten)]
    pub details: EndpointDetails,
    pub created_at_ms: i64,
    /// Set once its token was revoked (until a rotation issues a new one).
    pub revoked_at_ms: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error("no endpoint {0:?}")]
    Unknown(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(
        "endpoint {endpoint} is already bound from {latest}; a new binding must start after that"
    )]
    BindingOrder { endpoint: String, latest: Date },
    #[error("endpoint {0:?} is not a SIP room: issue its SIP password first")]
    NotSip(String),
}

fn check_details(d: &EndpointDetails) -> Result<(), EndpointError> {
    let invalid = |field, message: String| Err(EndpointError::Invalid { field, message });
    if d.name.trim().is_empty() || d.name.chars().count() > 200 {
        return invalid("name", format!("{:?} must be 1 to 200 characters", d.name));
    }
    if d.room.chars().count() > 200 {
        return invalid("room", "a room location is at most 200 characters".into());
    }
    if d.technician_name.chars().count() > 200 {
        return invalid(
            "technician_name",
            "a technician name is at most 200 characters".into(),
        );
    }
    let phone = d.technician_phone.trim();
    if !phone.is_empty()
        && (phone.len() > 20
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
            || phone.chars().filter(char::is_ascii_digit).count() < 3)
    {
        return invalid(
            "technician_phone",
            format!("{phone:?} is not a phone number; digits, spaces and + - . ( ) only"),
        );
    }
    Ok(())
}

const SELECT_ENDPOINT: &str = "SELECT id, name, room, technician_name, technician_phone, link, created_at, revoked_at FROM endpoints";

fn endpoint_from_row(row: &sqlx::any::AnyRow) -> Result<Endpoint, StoreError> {
    const DOING: &str = "reading an endpoint";
    let link: String = row.try_get(5).ctx(DOING)?;
    Ok(Endpoint {
        id: row.try_get(0).ctx(DOING)?,
        details: EndpointDetails {
            name: row.try_get(1).ctx(DOING)?,
            room: row.try_get(2).ctx(DOING)?,
            technician_name: row.try_get(3).ctx(DOING)?,
            technician_phone: row.try_get(4).ctx(DOING)?,
            link: link
                .parse()
                .map_err(crate::control::org::decode_err(DOING))?,
        },
        created_at_ms: row.try_get(6).ctx(DOING)?,
        revoked_at_ms: row.try_get(7).ctx(DOING)?,
    })
}

/// Endpoints over a store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Endpoints {
    store: Store,
}

fn target(id: &str) -> String {
    format!("endpoint:{id}")
}

impl Endpoints {
    pub fn new(store: Store) -> Endpoints {
        Endpoints { store }
    }

    /// Create an endpoint bound to `unit_id` from `bound_from`. The token is
    /// returned here and never again.
    pub async fn create(
        &self,
        actor: &Actor,
        details: EndpointDetails,
        unit_id: &str,
        bound_from: Date,
    ) -> Result<(Endpoint, Token), EndpointError> {
        check_details(&details)?;
        let mut tx = self.store.begin_write().await?;
        check_unit_on(&mut tx, unit_id, bound_from).await?;
        let id = new_id("ep_");
        let token = Token::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO endpoints (id, name, room, technician_name, technician_phone, link, token_hash, token_issued_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&id)
        .bind(&details.name)
        .bind(&details.room)
        .bind(&details.technician_name)
        .bind(details.technician_phone.trim())
        .bind(details.link.as_str())
        .bind(token_hash(token.expose()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx("creating an endpoint")?;
        sqlx::query(
            "INSERT INTO endpoint_bindings (endpoint_id, unit_id, valid_from) VALUES ($1, $2, $3)",
        )
        .bind(&id)
        .bind(unit_id)
        .bind(date::to_text(bound_from))
        .execute(&mut *tx)
        .await
        .ctx("binding an endpoint")?;
        // The token never goes into the audit log, not even hashed.
        let audit_details = json!({
            "name": details.name, "unit": unit_id, "from": date::to_text(bound_from),
            "link": details.link.as_str(),
        });
        audit::append(
            &mut tx,
            actor,
            "endpoint.create",
            &target(&id),
            &audit_details,
        )
        .await?;
        tx.commit().await.ctx("creating an endpoint")?;
        let endpoint = Endpoint {
            id,
            details: EndpointDetails {
                technician_phone: details.technician_phone.trim().to_string(),
                ..details
            },
            created_at_ms: now,
            revoked_at_ms: None,
        };
        Ok((endpoint, token))
    }

    pub async fn get(&self, id: &str) -> Result<Endpoint, EndpointError> {
        let row = sqlx::query(&format!("{SELECT_ENDPOINT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .ctx("reading an endpoint")?
            .ok_or_else(|| EndpointError::Unknown(id.to_string()))?;
        Ok(endpoint_from_row(&row)?)
    }

    /// All endpoints, by name.
    pub async fn list(&self) -> Result<Vec<Endpoint>, EndpointError> {
        let rows = sqlx::query(&format!("{SELECT_ENDPOINT} ORDER BY name, id"))
            .fetch_all(self.store.pool())
            .await
            .ctx("listing endpoints")?;
        Ok(rows
            .iter()
            .map(endpoint_from_row)
            .collect::<Result<_, _>>()?)
    }

    pub async fn update(
        &self,
        actor: &Actor,
        id: &str,
        details: EndpointDetails,
    ) -> Result<Endpoint, EndpointError> {
        check_details(&details)?;
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE endpoints SET name = $1, room = $2, technician_name = $3, technician_phone = $4, link = $5 WHERE id = $6",
        )
        .bind(&details.name)
        .bind(&details.room)
        .bind(&details.technician_name)
        .bind(details.technician_phone.trim())
        .bind(details.link.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("updating an endpoint")?;
        if done.rows_affected() == 0 {
            return Err(EndpointError::Unknown(id.to_string()));
        }
        let audit_details = serde_json::to_value(&details).unwrap_or_default();
        audit::append(
            &mut tx,
            actor,
            "endpoint.update",
            &target(id),
            &audit_details,
        )
        .await?;
        tx.commit().await.ctx("updating an endpoint")?;
        self.get(id).await
    }
}
