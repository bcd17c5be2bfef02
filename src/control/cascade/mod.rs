//! Cascading, control-plane side: the child nodes registered at this
//! (parent) node with their credentials, the state of each child's link,
//! which child nodes a meeting was extended to, and — in memory — this
//! node's own place in the tree ([`CascadeState`]: its parent link and its
//! ancestors as the parent last told them).
//!
//! A child's credential is shown once (at registration or rotation) and
//! stored as its SHA-256, like an endpoint's token; every change is audited
//! in its own write transaction, and so is every refused authentication.
//! Heartbeats that change nothing (a child already up saying hello again)
//! only refresh `last_seen_at` and are not audited.
//!
//! Loops: a node knows its ancestors by asking its parent
//! (`POST /api/v1/cascade/hello`); a parent refuses a child that is itself
//! or one of its own ancestors ([`check_child`]). No HTTP here: the route
//! lives in `api::v1::cascade`, the client side in `api::uplink`.
//!
//! Which meetings a child carries and which rooms it speaks for: [`placement`].

use std::fmt;
use std::net::IpAddr;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::config::valid_node_id;
use crate::control::secret::{Secret, ct_eq, token_hash};
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, now_ms};

pub mod placement;
pub use placement::{PlacedBy, Reach, RelayRefusals};

/// What a node credential starts with: it tells a node credential from a
/// person's token or a room's before anything is looked up.
pub const CREDENTIAL_PREFIX: &str = "dcn_";
/// `dcn_` + 43 base64url characters.
const CREDENTIAL_CHARS: usize = CREDENTIAL_PREFIX.len() + 43;
/// The relay budget a child gets when its registration names none, kbit/s.
pub const DEFAULT_UPLINK_KBPS: u32 = 20_000;
/// Longest ancestor path a hello may carry (a real tree has 3 or 4 levels).
pub const MAX_PATH: usize = 32;

/// A link between two nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Up,
    Down,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
        }
    }
}

impl std::str::FromStr for LinkState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "up" => Ok(LinkState::Up),
            "down" => Ok(LinkState::Down),
            _ => Err(format!("{s:?} is not a link state")),
        }
    }
}

/// The link from a child node, as this parent last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Link {
    pub state: LinkState,
    pub since_ms: i64,
    pub rtt_ms: Option<i64>,
    pub up_kbps: Option<i64>,
    pub down_kbps: Option<i64>,
}

/// A child node registered at this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Node {
    pub id: String,
    pub name: String,
    /// The org unit the node serves, if named.
    pub unit_id: Option<String>,
    /// Relay budget from the child towards this node, kbit/s.
    pub uplink_kbps: u32,
    pub created_at_ms: i64,
    /// Set once its credential was revoked (until a rotation issues a new one).
    pub revoked_at_ms: Option<i64>,
    /// Its last accepted hello, and the address it came from.
    pub last_seen_at_ms: Option<i64>,
    pub last_address: Option<String>,
    /// `None` until its first hello.
    pub link: Option<Link>,
}

/// What an admin gives to register a child node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    pub id: String,
    pub name: String,
    pub unit_id: Option<String>,
    pub uplink_kbps: Option<u32>,
}

/// A node credential in clear: returned once, never stored. `Debug` does
/// not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(Secret);

impl Credential {
    fn generate() -> Credential {
        Credential(Secret::generate(CREDENTIAL_PREFIX))
    }
    /// The credential, to hand to the child's operator this one time.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CascadeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no cascade node {0:?}")]
    Unknown(String),
    #[error("a cascade node {0:?} is already registered")]
    Duplicate(String),
    #[error("no org unit {0:?}")]
    UnknownUnit(String),
    #[error("no meeting {0:?}")]
    UnknownMeeting(String),
    /// Reading a meeting's rooms or the org tree for a placement.
    #[error(transparent)]
    Meeting(#[from] crate::control::meetings::MeetingError),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// Why a node's hello was not authenticated. The reason goes to the audit
/// log and this node's log; the caller only ever hears "unauthorized".
#[derive(Debug, thiserror::Error)]
pub enum NodeAuthError {
    #[error("no cascade node {0:?} is registered here")]
    Unknown(String),
    #[error("cascade node {0:?} was revoked")]
    Revoked(String),
    #[error("wrong credential for cascade node {0:?}")]
    Wrong(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NodeAuthError {
    fn reason(&self) -> &'static str {
        match self {
            NodeAuthError::Unknown(_) => "unknown_node",
            NodeAuthError::Revoked(_) => "revoked",
            NodeAuthError::Wrong(_) => "wrong_credential",
            NodeAuthError::Store(_) => "storage",
        }
    }
}

/// A cascade loop, named by the chain of node ids that closes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cascade loop: {}", .0.join(" → "))]
pub struct Loop(pub Vec<String>);

/// May `child` (whose ancestors as it knows them are `child_path`) hang
/// below this node `own` (whose ancestors are `own_path`)? Refused when the
/// child is this node, one of this node's ancestors, or when this node
/// already appears above its own place in the child's path.
pub fn check_child(
    own: &str,
    own_path: &[String],
    child: &str,
    child_path: &[String],
) -> Result<(), Loop> {
    if child == own {
        return Err(Loop(vec![child.to_string(), own.to_string()]));
    }
    if let Some(i) = own_path.iter().position(|a| a == child) {
        let mut chain = vec![child.to_string(), own.to_string()];
        chain.extend(own_path[..=i].iter().cloned());
        return Err(Loop(chain));
    }
    // The child's path normally starts with this node (learned from the
    // last hello; a child may also put itself first); this node or the
    // child further up means a node is its own ancestor.
    let mut rest = child_path;
    if rest.first().map(String::as_str) == Some(child) {
        rest = &rest[1..];
    }
    if rest.first().map(String::as_str) == Some(own) {
        rest = &rest[1..];
    }
    if let Some(i) = rest.iter().position(|a| a == own || a == child) {
        let mut chain = vec![child.to_string(), own.to_string()];
        chain.extend(rest[..=i].iter().cloned());
        return Err(Loop(chain));
    }
    Ok(())
}

/// A node's answer to a child's hello: who it is and its own ancestors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HelloAnswer {
    pub parent_id: String,
    pub parent_name: String,
    /// The parent and its ancestors, nearest first: the child's ancestors.
    pub path: Vec<String>,
}

/// The link to this node's parent, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ParentLink {
    /// The parent's base URL, from `[cascade] parent`.
    pub url: String,
    pub state: LinkState,
    pub since_ms: i64,
    /// The parent's id and name from its last answer.
    pub parent_id: Option<String>,
    pub parent_name: Option<String>,
    /// Why the last hello failed (unreachable, refused, a loop).
    pub last_error: Option<String>,
    pub last_hello_ms: Option<i64>,
    pub rtt_ms: Option<i64>,
}

/// This node's place in the tree, in memory: its id and name, and the link
/// to its parent. One per server, shared by the hello route, the uplink
/// task and `/metrics`.
#[derive(Debug)]
pub struct CascadeState {
    pub node_id: Option<String>,
    pub name: String,
    pub uplink_kbps: u32,
    parent: Option<RwLock<Known>>,
    /// Refused hellos per node id and per address (the login limiter's
    /// rules): a credential-guessing flood is cut off before it turns into
    /// a flood of audit records.
    pub limiter: crate::control::people::LoginLimiter,
    /// Relays refused for meetings not placed on the child, presence
    /// claims ignored (counts; the refusals' audit kept bounded).
    pub relay_refusals: RelayRefusals,
}

#[derive(Debug, Clone)]
struct Known {
    link: ParentLink,
    /// Ancestors, nearest first (the parent's last answer); kept while the
    /// link is down, so a child asking meanwhile still learns them.
    path: Vec<String>,
}

impl CascadeState {
    pub fn new(config: &crate::config::CascadeConfig) -> CascadeState {
        CascadeState {
            node_id: config.node_id.clone(),
            name: config
                .name
                .clone()
                .or_else(|| config.node_id.clone())
                .unwrap_or_else(|| "diemcau".into()),
            uplink_kbps: config.uplink_kbps,
            parent: config.parent.as_ref().map(|url| {
                RwLock::new(Known {
                    link: ParentLink {
                        url: url.clone(),
                        state: LinkState::Down,
                        since_ms: now_ms(),
                        parent_id: None,
                        parent_name: None,
                        last_error: None,
                        last_hello_ms: None,
                        rtt_ms: None,
                    },
                    path: Vec::new(),
                })
            }),
            limiter: crate::control::people::LoginLimiter::default(),
            relay_refusals: RelayRefusals::default(),
        }
    }

    /// A standalone node (no `[cascade]` section).
    pub fn standalone() -> CascadeState {
        CascadeState::new(&crate::config::CascadeConfig::default())
    }

    /// The parent link, when this node has a parent.
    pub fn parent(&self) -> Option<ParentLink> {
        self.parent
            .as_ref()
            .map(|k| k.read().expect("cascade lock").link.clone())
    }

    /// This node's ancestors, nearest first (empty at the top, or before
    /// the parent first answered).
    pub fn ancestors(&self) -> Vec<String> {
        self.parent
            .as_ref()
            .map(|k| k.read().expect("cascade lock").path.clone())
            .unwrap_or_default()
    }

    /// The parent answered: the link is up, and its path is ours.
    pub fn parent_up(&self, answer: &HelloAnswer, rtt_ms: i64) {
        if let Some(k) = &self.parent {
            let mut k = k.write().expect("cascade lock");
            let now = now_ms();
            if k.link.state != LinkState::Up {
                k.link.state = LinkState::Up;
                k.link.since_ms = now;
            }
            k.link.parent_id = Some(answer.parent_id.clone());
            k.link.parent_name = Some(answer.parent_name.clone());
            k.link.last_error = None;
            k.link.last_hello_ms = Some(now);
            k.link.rtt_ms = Some(rtt_ms);
            k.path = answer.path.clone();
        }
    }

    /// A hello failed: the link is down. Returns whether it was up.
    pub fn parent_down(&self, error: &str) -> bool {
        let Some(k) = &self.parent else {
            return false;
        };
        let mut k = k.write().expect("cascade lock");
        let was_up = k.link.state == LinkState::Up;
        if was_up {
            k.link.state = LinkState::Down;
            k.link.since_ms = now_ms();
        }
        k.link.last_error = Some(error.to_string());
        was_up
    }

    /// Answer a child's hello: refused as a [`Loop`] when the child is this
    /// node or above it. `None` when this node has no id to answer with.
    pub fn answer(&self, child: &str, child_path: &[String]) -> Option<Result<HelloAnswer, Loop>> {
        let own = self.node_id.as_deref()?;
        let own_path = self.ancestors();
        Some(check_child(own, &own_path, child, child_path).map(|()| {
            let mut path = vec![own.to_string()];
            path.extend(own_path);
            HelloAnswer {
                parent_id: own.to_string(),
                parent_name: self.name.clone(),
                path,
            }
        }))
    }
}

const SELECT_NODE: &str = "SELECT n.id, n.name, n.unit_id, n.uplink_kbps, n.created_at, n.revoked_at, \
     n.last_seen_at, n.last_address, l.state, l.since, l.rtt_ms, l.up_kbps, l.down_kbps, n.credential_hash \
     FROM cascade_nodes n LEFT JOIN cascade_links l ON l.node_id = n.id";

fn node_from_row(row: &sqlx::any::AnyRow) -> Result<Node, StoreError> {
    const DOING: &str = "reading a cascade node";
    let state: Option<String> = row.try_get(8).ctx(DOING)?;
    let link = match state {
        Some(s) => Some(Link {
            state: s.parse().map_err(crate::control::org::decode_err(DOING))?,
            since_ms: row.try_get(9).ctx(DOING)?,
            rtt_ms: row.try_get(10).ctx(DOING)?,
            up_kbps: row.try_get(11).ctx(DOING)?,
            down_kbps: row.try_get(12).ctx(DOING)?,
        }),
        None => None,
    };
    let kbps: i64 = row.try_get(3).ctx(DOING)?;
    Ok(Node {
        id: row.try_get(0).ctx(DOING)?,
        name: row.try_get(1).ctx(DOING)?,
        unit_id: row.try_get(2).ctx(DOING)?,
        uplink_kbps: u32::try_from(kbps).unwrap_or(0),
        created_at_ms: row.try_get(4).ctx(DOING)?,
        revoked_at_ms: row.try_get(5).ctx(DOING)?,
        last_seen_at_ms: row.try_get(6).ctx(DOING)?,
        last_address: row.try_get(7).ctx(DOING)?,
        link,
    })
}

fn target(id: &str) -> String {
    format!("cascade_node:{id}")
}

fn invalid<T>(field: &'static str, message: String) -> Result<T, CascadeError> {
    Err(CascadeError::Invalid { field, message })
}

fn check_id(id: &str) -> Result<(), CascadeError> {
    if !valid_node_id(id) {
        return invalid(
            "id",
            format!("{id:?} must be 1 to 64 lowercase letters, digits or '-'"),
        );
    }
    Ok(())
}

/// The registry of child nodes over a store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cascade {
    store: Store,
    /// The node whose children these are (`None`: every node's; tools and
    /// tests). Nodes sharing a store each see the children registered at
    /// them, and only those may authenticate there.
    scope: Option<String>,
}

/// The rows of a scope: `$a` and `$b` bound to the same scope value.
fn in_scope(a: u32, b: u32) -> String {
    format!("(CAST(${a} AS TEXT) IS NULL OR n.parent_node IS NULL OR n.parent_node = ${b})")
}

impl Cascade {
    pub fn new(store: Store) -> Cascade {
        Cascade { store, scope: None }
    }

    /// The children of node `node_id` (this node's `[cascade] node_id`).
    pub fn for_node(store: Store, node_id: Option<String>) -> Cascade {
        Cascade {
            store,
            scope: node_id,
        }
    }

    /// Register a child node; its credential is returned here and never again.
    pub async fn register(
        &self,
        actor: &Actor,
        new: NewNode,
    ) -> Result<(Node, Credential), CascadeError> {
        check_id(&new.id)?;
        let name = new.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return invalid(
                "name",
                format!("{:?} must be 1 to 200 characters", new.name),
            );
        }
        let uplink_kbps = new.uplink_kbps.unwrap_or(DEFAULT_UPLINK_KBPS);
        if !(100..=1_000_000).contains(&uplink_kbps) {
            return invalid(
                "uplink_kbps",
                format!("{uplink_kbps} is outside 100 to 1000000"),
            );
        }
        let mut tx = self.store.begin_write().await?;
        if let Some(unit) = &new.unit_id {
            let found = sqlx::query("SELECT 1 FROM org_units WHERE id = $1")
                .bind(unit)
                .fetch_optional(&mut *tx)
                .await
                .ctx("checking a cascade node's unit")?;
            if found.is_none() {
                return Err(CascadeError::UnknownUnit(unit.clone()));
            }
        }
        let exists = sqlx::query("SELECT 1 FROM cascade_nodes WHERE id = $1")
            .bind(&new.id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("registering a cascade node")?;
        if exists.is_some() {
            return Err(CascadeError::Duplicate(new.id));
        }
        let credential = Credential::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO cascade_nodes (id, name, unit_id, credential_hash, uplink_kbps, created_at, parent_node)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.id)
        .bind(&name)
        .bind(&new.unit_id)
        .bind(token_hash(credential.expose()))
        .bind(i64::from(uplink_kbps))
        .bind(now)
        .bind(&self.scope)
        .execute(&mut *tx)
        .await
        .ctx("registering a cascade node")?;
        // The credential never goes into the audit log, not even hashed.
        audit::append(
            &mut tx,
            actor,
            "cascade.node_register",
            &target(&new.id),
            &json!({"name": name, "unit": new.unit_id, "uplink_kbps": uplink_kbps}),
        )
        .await?;
        tx.commit().await.ctx("registering a cascade node")?;
        let node = Node {
            id: new.id,
            name,
            unit_id: new.unit_id,
            uplink_kbps,
            created_at_ms: now,
            revoked_at_ms: None,
            last_seen_at_ms: None,
            last_address: None,
            link: None,
        };
        Ok((node, credential))
    }

    pub async fn get(&self, id: &str) -> Result<Node, CascadeError> {
        let row = self
            .row_in_scope(id, "reading a cascade node")
            .await?
            .ok_or_else(|| CascadeError::Unknown(id.to_string()))?;
        Ok(node_from_row(&row)?)
    }

    /// Child node `id`'s row, if this node may see it.
    async fn row_in_scope(
        &self,
        id: &str,
        doing: &'static str,
    ) -> Result<Option<sqlx::any::AnyRow>, StoreError> {
        sqlx::query(&format!(
            "{SELECT_NODE} WHERE n.id = $1 AND {}",
            in_scope(2, 3)
        ))
        .bind(id)
        .bind(&self.scope)
        .bind(&self.scope)
        .fetch_optional(self.store.pool())
        .await
        .ctx(doing)
    }

    /// Every registered child node, by id.
    pub async fn list(&self) -> Result<Vec<Node>, CascadeError> {
        let rows = sqlx::query(&format!(
            "{SELECT_NODE} WHERE {} ORDER BY n.id",
            in_scope(1, 2)
        ))
        .bind(&self.scope)
        .bind(&self.scope)
        .fetch_all(self.store.pool())
        .await
        .ctx("listing cascade nodes")?;
        Ok(rows.iter().map(node_from_row).collect::<Result<_, _>>()?)
    }

    /// Issue a new credential (the old one stops working at once); also
    /// re-enables a revoked node. Returned here and never again.
    pub async fn rotate(&self, actor: &Actor, id: &str) -> Result<Credential, CascadeError> {
        let credential = Credential::generate();
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE cascade_nodes SET credential_hash = $1, revoked_at = NULL WHERE id = $2 \
             AND (CAST($3 AS TEXT) IS NULL OR parent_node IS NULL OR parent_node = $4)",
        )
        .bind(token_hash(credential.expose()))
        .bind(id)
        .bind(&self.scope)
        .bind(&self.scope)
        .execute(&mut *tx)
        .await
        .ctx("rotating a cascade node credential")?;
        if done.rows_affected() == 0 {
            return Err(CascadeError::Unknown(id.to_string()));
        }
        audit::append(
            &mut tx,
            actor,
            "cascade.node_rotate_credential",
            &target(id),
            &json!({}),
        )
        .await?;
        tx.commit()
            .await
            .ctx("rotating a cascade node credential")?;
        Ok(credential)
    }

    /// Revoke the node: its credential never authenticates again, and its
    /// link is down.
    pub async fn revoke(&self, actor: &Actor, id: &str) -> Result<(), CascadeError> {
        let mut tx = self.store.begin_write().await?;
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE cascade_nodes SET credential_hash = NULL, revoked_at = $1 WHERE id = $2 \
             AND (CAST($3 AS TEXT) IS NULL OR parent_node IS NULL OR parent_node = $4)",
        )
        .bind(now)
        .bind(id)
        .bind(&self.scope)
        .bind(&self.scope)
        .execute(&mut *tx)
        .await
        .ctx("revoking a cascade node")?;
        if done.rows_affected() == 0 {
            return Err(CascadeError::Unknown(id.to_string()));
        }
        sqlx::query("UPDATE cascade_links SET state = 'down', since = $1 WHERE node_id = $2 AND state = 'up'")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("revoking a cascade node")?;
        audit::append(
            &mut tx,
            actor,
            "cascade.node_revoke",
            &target(id),
            &json!({}),
        )
        .await?;
        tx.commit().await.ctx("revoking a cascade node")?;
        Ok(())
    }

    /// The node `id` if `secret` is its current credential. A refusal is
    /// audited (`cascade.auth_failed`, with the reason, never the secret)
    /// and logged.
    pub async fn authenticate(
        &self,
        id: &str,
        secret: &str,
        from: Option<IpAddr>,
    ) -> Result<Node, NodeAuthError> {
        let outcome = self.check_credential(id, secret).await;
        if let Err(e) = &outcome {
            if matches!(e, NodeAuthError::Store(_)) {
                return outcome;
            }
            let shown: String = id.chars().take(64).collect();
            tracing::warn!(node = %shown, address = ?from, reason = e.reason(), "cascade node authentication refused");
            let actor = Actor {
                id: format!("node:{shown}"),
                name: format!("cascade node {shown}"),
                address: from,
            };
            let mut tx = self.store.begin_write().await?;
            audit::append(
                &mut tx,
                &actor,
                "cascade.auth_failed",
                &target(&shown),
                &json!({"reason": e.reason()}),
            )
            .await?;
            tx.commit().await.ctx("recording a refused cascade node")?;
        }
        outcome
    }

    async fn check_credential(&self, id: &str, secret: &str) -> Result<Node, NodeAuthError> {
        let row = self
            .row_in_scope(id, "checking a cascade node")
            .await?
            .ok_or_else(|| NodeAuthError::Unknown(id.to_string()))?;
        let node = node_from_row(&row)?;
        let stored: Option<String> = row.try_get(13).ctx("checking a cascade node")?;
        let Some(stored) = stored.filter(|_| node.revoked_at_ms.is_none()) else {
            return Err(NodeAuthError::Revoked(id.to_string()));
        };
        // Hash whatever was sent (a wrong length still costs the same
        // work), then compare in constant time.
        let sent = token_hash(secret);
        if secret.len() != CREDENTIAL_CHARS || !ct_eq(stored.as_bytes(), sent.as_bytes()) {
            return Err(NodeAuthError::Wrong(id.to_string()));
        }
        Ok(node)
    }

    /// An authenticated hello from `id`: last seen now, from `address`, link
    /// up. Audited when the link comes up (not on every heartbeat).
    pub async fn hello(
        &self,
        id: &str,
        address: Option<IpAddr>,
        rtt_ms: Option<i64>,
    ) -> Result<Node, CascadeError> {
        let now = now_ms();
        let address_text = address.map(|a| a.to_string());
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE cascade_nodes SET last_seen_at = $1, last_address = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&address_text)
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("recording a cascade hello")?;
        if done.rows_affected() == 0 {
            return Err(CascadeError::Unknown(id.to_string()));
        }
        let was: Option<String> = sqlx::query("SELECT state FROM cascade_links WHERE node_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("recording a cascade hello")?
            .map(|r| r.try_get(0))
            .transpose()
            .ctx("recording a cascade hello")?;
        match was.as_deref() {
            Some("up") => {
                sqlx::query("UPDATE cascade_links SET rtt_ms = $1 WHERE node_id = $2")
                    .bind(rtt_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .ctx("recording a cascade hello")?;
            }
            Some(_) => {
                sqlx::query(
                    "UPDATE cascade_links SET state = 'up', since = $1, rtt_ms = $2 WHERE node_id = $3",
                )
                .bind(now)
                .bind(rtt_ms)
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("recording a cascade hello")?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO cascade_links (node_id, state, since, rtt_ms) VALUES ($1, 'up', $2, $3)",
                )
                .bind(id)
                .bind(now)
                .bind(rtt_ms)
                .execute(&mut *tx)
                .await
                .ctx("recording a cascade hello")?;
            }
        }
        if was.as_deref() != Some("up") {
            let actor = Actor {
                id: format!("node:{id}"),
                name: format!("cascade node {id}"),
                address,
            };
            audit::append(
                &mut tx,
                &actor,
                "cascade.link_up",
                &target(id),
                &json!({"address": address_text}),
            )
            .await?;
        }
        tx.commit().await.ctx("recording a cascade hello")?;
        self.get(id).await
    }

    /// Mark the link from `id` down (audited when it was up). Returns
    /// whether it changed.
    pub async fn link_down(
        &self,
        actor: &Actor,
        id: &str,
        why: &str,
    ) -> Result<bool, CascadeError> {
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE cascade_links SET state = 'down', since = $1 WHERE node_id = $2 AND state = 'up'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("marking a cascade link down")?;
        if done.rows_affected() == 0 {
            // Unknown, or already down: nothing to record.
            let known = sqlx::query("SELECT 1 FROM cascade_nodes WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .ctx("marking a cascade link down")?;
            return match known {
                Some(_) => Ok(false),
                None => Err(CascadeError::Unknown(id.to_string())),
            };
        }
        audit::append(
            &mut tx,
            actor,
            "cascade.link_down",
            &target(id),
            &json!({"reason": why}),
        )
        .await?;
        tx.commit().await.ctx("marking a cascade link down")?;
        Ok(true)
    }

    /// Links up whose last hello is older than `before_ms` go down (the
    /// child stopped saying hello). Returns the nodes marked down.
    pub async fn mark_stale(
        &self,
        actor: &Actor,
        before_ms: i64,
    ) -> Result<Vec<String>, CascadeError> {
        let rows = sqlx::query(&format!(
            "SELECT l.node_id FROM cascade_links l JOIN cascade_nodes n ON n.id = l.node_id
                 WHERE l.state = 'up' AND (n.last_seen_at IS NULL OR n.last_seen_at < $1) AND {}",
            in_scope(2, 3)
        ))
        .bind(before_ms)
        .bind(&self.scope)
        .bind(&self.scope)
        .fetch_all(self.store.pool())
        .await
        .ctx("finding silent cascade links")?;
        let mut down = Vec::new();
        for r in rows {
            let id: String = r.try_get(0).ctx("finding silent cascade links")?;
            if self.link_down(actor, &id, "no hello").await? {
                down.push(id);
            }
        }
        Ok(down)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_child_below_a_tree_without_it_is_accepted() {
        assert_eq!(check_child("middle", &p(&["top"]), "bottom", &[]), Ok(()));
        assert_eq!(
            check_child("middle", &p(&["top"]), "bottom", &p(&["middle", "top"])),
            Ok(())
        );
        assert_eq!(
            check_child("middle", &p(&["top"]), "bottom", &p(&["bottom", "middle"])),
            Ok(())
        );
    }

    #[test]
    fn a_child_that_is_the_node_or_an_ancestor_is_a_loop_named_by_its_chain() {
        assert_eq!(
            check_child("a", &[], "a", &[]).unwrap_err().to_string(),
            "cascade loop: a → a"
        );
        assert_eq!(
            check_child("bottom", &p(&["middle", "top"]), "top", &[])
                .unwrap_err()
                .to_string(),
            "cascade loop: top → bottom → middle → top"
        );
        assert_eq!(
            check_child("bottom", &p(&["middle"]), "middle", &[])
                .unwrap_err()
                .to_string(),
            "cascade loop: middle → bottom → middle"
        );
    }

    #[test]
    fn a_node_above_its_own_place_in_the_childs_path_is_a_loop() {
        let e = check_child("m", &[], "c", &p(&["m", "x", "m"])).unwrap_err();
        assert_eq!(e.to_string(), "cascade loop: c → m → x → m");
    }

    #[test]
    fn the_answer_carries_this_node_and_its_ancestors() {
        let s = CascadeState::new(&crate::config::CascadeConfig {
            node_id: Some("middle".into()),
            name: Some("Tỉnh ủy".into()),
            parent: Some("http://127.0.0.1:1".into()),
            credential: Some("dcn_x".into()),
            ..Default::default()
        });
        let a = s.answer("bottom", &[]).unwrap().unwrap();
        assert_eq!(a.path, p(&["middle"]));
        s.parent_up(
            &HelloAnswer {
                parent_id: "top".into(),
                parent_name: "Trung ương".into(),
                path: p(&["top"]),
            },
            3,
        );
        assert_eq!(s.parent().unwrap().state, LinkState::Up);
        let a = s.answer("bottom", &[]).unwrap().unwrap();
        assert_eq!(a.path, p(&["middle", "top"]));
        assert!(s.answer("top", &[]).unwrap().is_err());
        assert!(s.parent_down("gone"));
        assert_eq!(s.ancestors(), p(&["top"]), "the path outlives the link");
        assert!(CascadeState::standalone().answer("x", &[]).is_none());
    }
}
