//! Which meetings a child node may carry, and which rooms it may speak for.
//!
//! A child node's **subtree** is its org unit (`cascade_nodes.unit_id`,
//! named when the parent's admin registered it) and every unit under it,
//! as of the meeting's local date (following merges, like the meeting's
//! own participants). A meeting is **placed** on a child node when
//! - an operator placed it there ([`Cascade::place`], `meeting_placements`), or
//! - one of the meeting's rooms (hub, named, reached by a unit query —
//!   resolved as of its date) is bound to a unit in the child's subtree:
//!   the meeting reaches rooms that connect to that node, so the node
//!   carries it (an implicit placement, nothing stored).
//!
//! A child registered without a unit has an empty subtree: it carries only
//! meetings placed on it by an operator, and speaks for no room. So a
//! closed meeting of the province's standing committee never reaches a
//! commune's node unless one of its rooms is that commune's, and a node
//! cannot make a room appear on a roll call above it unless the room is
//! bound inside its subtree: presence claims for any other room are
//! ignored, counted and logged ([`Reach::keep_own`]).
//!
//! The parent decides with [`Cascade::reach`] when a relay opens (`404`
//! for a meeting not placed, audited at most once a minute per node and
//! meeting, [`RelayRefusals`]); the child, sharing the store, asks the same
//! question before it tries, so a correct child never knocks.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Row;
use time::Date;

use super::{Cascade, CascadeError, Node, invalid};
use crate::control::endpoints::Endpoints;
use crate::control::live::relay::PresentSite;
use crate::control::meetings::{Meeting, MeetingError, Meetings};
use crate::control::org::{OrgError, OrgTree};
use crate::store::{Actor, SqlxResultExt, Store, audit, now_ms};

/// Why a meeting is placed on a child node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacedBy {
    /// An operator placed it there (`meeting_placements`).
    Operator,
    /// One of its rooms is bound to a unit in the node's subtree.
    Rooms,
}

/// What a child node may do with one meeting: carry it at all, and speak
/// for which rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// `None`: the meeting is not placed on the node.
    pub placed: Option<PlacedBy>,
    /// The rooms bound to a unit in the node's subtree on the meeting's date.
    rooms: HashSet<String>,
}

impl Reach {
    pub fn new(placed: Option<PlacedBy>, rooms: HashSet<String>) -> Reach {
        Reach { placed, rooms }
    }

    pub fn is_placed(&self) -> bool {
        self.placed.is_some()
    }

    /// May the node report this room present?
    pub fn speaks_for(&self, endpoint_id: &str) -> bool {
        self.rooms.contains(endpoint_id)
    }

    /// The reported rooms the node may speak for, and the ids of the
    /// others (ignored).
    pub fn keep_own(&self, sites: Vec<PresentSite>) -> (Vec<PresentSite>, Vec<String>) {
        let (kept, ignored): (Vec<PresentSite>, Vec<PresentSite>) = sites
            .into_iter()
            .partition(|s| self.speaks_for(&s.endpoint_id));
        (kept, ignored.into_iter().map(|s| s.endpoint_id).collect())
    }
}

/// The rooms bound on `on` to `unit_id` (as it stands that day) or a unit
/// under it. Empty when the unit did not exist that day.
pub async fn rooms_in_subtree(
    store: &Store,
    unit_id: &str,
    on: Date,
) -> Result<HashSet<String>, MeetingError> {
    let org = OrgTree::new(store.clone());
    let root = match org.resolve(unit_id, on).await {
        Ok(Some(root)) => root,
        Ok(None) | Err(OrgError::UnknownUnit(_)) => return Ok(HashSet::new()),
        Err(e) => return Err(e.into()),
    };
    let mut units: HashSet<String> = org
        .descendants(&root.id, on, &[])
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    units.insert(root.id);
    let alive: HashSet<String> = org.tree_at(on).await?.into_iter().map(|u| u.id).collect();
    // A room still bound to a unit merged away before `on` belongs to the
    // successor: resolved once per such unit.
    let mut successor_inside: HashMap<String, bool> = HashMap::new();
    let mut rooms = HashSet::new();
    for (endpoint, unit) in Endpoints::new(store.clone()).bindings_on(on).await? {
        let inside = if units.contains(&unit) {
            true
        } else if alive.contains(&unit) {
            false
        } else if let Some(known) = successor_inside.get(&unit) {
            *known
        } else {
            let known = match org.resolve(&unit, on).await {
                Ok(u) => u.is_some_and(|u| units.contains(&u.id)),
                Err(OrgError::UnknownUnit(_)) => false,
                Err(e) => return Err(e.into()),
            };
            successor_inside.insert(unit, known);
            known
        };
        if inside {
            rooms.insert(endpoint);
        }
    }
    Ok(rooms)
}

impl Cascade {
    /// What child node `node` may do with `meeting` (the module's rule).
    pub async fn reach(&self, meeting: &Meeting, node: &Node) -> Result<Reach, CascadeError> {
        let rooms = match &node.unit_id {
            Some(unit) => rooms_in_subtree(&self.store, unit, meeting.local_date).await?,
            None => HashSet::new(),
        };
        if self.placements(&meeting.id).await?.contains(&node.id) {
            return Ok(Reach::new(Some(PlacedBy::Operator), rooms));
        }
        if rooms.is_empty() {
            return Ok(Reach::new(None, rooms));
        }
        let reaches = Meetings::new(self.store.clone())
            .participants(&meeting.id)
            .await?
            .iter()
            .any(|p| rooms.contains(&p.endpoint_id));
        Ok(Reach::new(reaches.then_some(PlacedBy::Rooms), rooms))
    }

    /// Record that child node `node_id` asked for a relay of a meeting not
    /// placed on it (`route`: open, sync or leave).
    pub async fn relay_refused(
        &self,
        node_id: &str,
        address: Option<IpAddr>,
        meeting_id: &str,
        route: &str,
    ) -> Result<(), CascadeError> {
        let actor = Actor {
            id: format!("node:{node_id}"),
            name: format!("cascade node {node_id}"),
            address,
        };
        let mut tx = self.store.begin_write().await?;
        audit::append(
            &mut tx,
            &actor,
            "cascade.relay_refused",
            &format!("meeting:{meeting_id}"),
            &json!({"reason": "not_placed", "route": route}),
        )
        .await?;
        tx.commit().await.ctx("recording a refused relay")?;
        Ok(())
    }

    /// Extend `meeting_id` to the child nodes `node_ids` (already placed
    /// ones stay). Audited once for the whole placement.
    pub async fn place(
        &self,
        actor: &Actor,
        meeting_id: &str,
        node_ids: &[String],
    ) -> Result<Vec<String>, CascadeError> {
        let mut tx = self.store.begin_write().await?;
        let meeting = sqlx::query("SELECT 1 FROM meetings WHERE id = $1")
            .bind(meeting_id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("placing a meeting")?;
        if meeting.is_none() {
            return Err(CascadeError::UnknownMeeting(meeting_id.to_string()));
        }
        let now = now_ms();
        let mut added = Vec::new();
        for id in node_ids {
            let node = sqlx::query("SELECT revoked_at FROM cascade_nodes WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .ctx("placing a meeting")?
                .ok_or_else(|| CascadeError::Unknown(id.clone()))?;
            let revoked: Option<i64> = node.try_get(0).ctx("placing a meeting")?;
            if revoked.is_some() {
                return invalid("node_ids", format!("cascade node {id:?} is revoked"));
            }
            let placed = sqlx::query(
                "SELECT 1 FROM meeting_placements WHERE meeting_id = $1 AND node_id = $2",
            )
            .bind(meeting_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("placing a meeting")?;
            if placed.is_some() || added.contains(id) {
                continue;
            }
            sqlx::query(
                "INSERT INTO meeting_placements (meeting_id, node_id, extended_at) VALUES ($1, $2, $3)",
            )
            .bind(meeting_id)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx("placing a meeting")?;
            added.push(id.clone());
        }
        if added.is_empty() {
            return Ok(added);
        }
        audit::append(
            &mut tx,
            actor,
            "cascade.meeting_place",
            &format!("meeting:{meeting_id}"),
            &json!({"nodes": added}),
        )
        .await?;
        tx.commit().await.ctx("placing a meeting")?;
        Ok(added)
    }

    /// The child nodes an operator placed a meeting on, by id.
    pub async fn placements(&self, meeting_id: &str) -> Result<Vec<String>, CascadeError> {
        let rows = sqlx::query(
            "SELECT node_id FROM meeting_placements WHERE meeting_id = $1 ORDER BY node_id",
        )
        .bind(meeting_id)
        .fetch_all(self.store.pool())
        .await
        .ctx("reading a meeting's placements")?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .ctx("reading a meeting's placements")?)
    }
}

/// At most one audited refusal per (node, meeting) in this long: a child
/// that keeps asking (misconfigured, or probing) cannot grow the audit log
/// without bound; every refusal is still counted.
pub const REFUSAL_AUDIT_EVERY: Duration = Duration::from_secs(60);
/// (node, meeting) pairs remembered for [`REFUSAL_AUDIT_EVERY`]; past this
/// many within one window, further refusals are counted, not audited.
const REFUSAL_KEYS_MAX: usize = 4096;

/// The parent's in-memory count of refused relays and ignored presence
/// claims (for /metrics), and the gate that keeps refusals' audit records
/// bounded.
#[derive(Debug, Default)]
pub struct RelayRefusals {
    last_audited: Mutex<HashMap<(String, String), Instant>>,
    refused: AtomicU64,
    presence_ignored: AtomicU64,
}

impl RelayRefusals {
    /// Count a refusal; whether this one is to be audited.
    pub fn refused(&self, node_id: &str, meeting_id: &str, now: Instant) -> bool {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_audited.lock().expect("relay refusals");
        let key = (node_id.to_string(), meeting_id.to_string());
        if let Some(t) = last.get(&key)
            && now.saturating_duration_since(*t) < REFUSAL_AUDIT_EVERY
        {
            return false;
        }
        if last.len() >= REFUSAL_KEYS_MAX && !last.contains_key(&key) {
            last.retain(|_, t| now.saturating_duration_since(*t) < REFUSAL_AUDIT_EVERY);
            if last.len() >= REFUSAL_KEYS_MAX {
                return false;
            }
        }
        last.insert(key, now);
        true
    }

    /// Count presence claims ignored for rooms outside a node's subtree.
    pub fn presence_ignored(&self, n: usize) {
        self.presence_ignored
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// (relays refused, presence claims ignored) since start.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.refused.load(Ordering::Relaxed),
            self.presence_ignored.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: &str) -> PresentSite {
        PresentSite {
            endpoint_id: id.into(),
            name: id.into(),
            headcount: None,
            thumb: None,
        }
    }

    #[test]
    fn a_node_keeps_only_the_rooms_of_its_subtree() {
        let reach = Reach::new(Some(PlacedBy::Rooms), ["ep_a".to_string()].into());
        let (kept, ignored) = reach.keep_own(vec![site("ep_a"), site("ep_hub"), site("ep_b")]);
        assert_eq!(kept, vec![site("ep_a")]);
        assert_eq!(ignored, ["ep_hub", "ep_b"]);
        let none = Reach::new(Some(PlacedBy::Operator), HashSet::new());
        assert!(none.keep_own(vec![site("ep_a")]).0.is_empty());
    }

    #[test]
    fn refusals_are_audited_once_a_minute_per_node_and_meeting_and_all_counted() {
        let r = RelayRefusals::default();
        let t = Instant::now();
        assert!(r.refused("xa", "mt_1", t));
        assert!(!r.refused("xa", "mt_1", t + Duration::from_secs(59)));
        assert!(r.refused("xa", "mt_2", t), "another meeting");
        assert!(r.refused("xb", "mt_1", t), "another node");
        assert!(r.refused("xa", "mt_1", t + REFUSAL_AUDIT_EVERY));
        r.presence_ignored(3);
        assert_eq!(r.totals(), (5, 3));
    }

    #[test]
    fn refusal_keys_are_bounded() {
        let r = RelayRefusals::default();
        let t = Instant::now();
        for i in 0..REFUSAL_KEYS_MAX {
            assert!(r.refused("xa", &format!("mt_{i}"), t));
        }
        assert!(!r.refused("xa", "mt_new", t), "full within the window");
        assert!(
            r.refused("xa", "mt_new", t + REFUSAL_AUDIT_EVERY),
            "old keys pruned"
        );
        assert!(r.last_audited.lock().unwrap().len() <= REFUSAL_KEYS_MAX);
    }
}
