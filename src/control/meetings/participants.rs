//! Who takes part in a meeting, resolved as of its local date: the hub,
//! the rooms named one by one, and the rooms of every unit its unit
//! queries reach on that date (following merges through the org tree and
//! the endpoints' dated bindings). And whether a meeting stays inside a
//! sub-operator's subtree.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::Date;

use super::{Meeting, MeetingDraft, MeetingError, Meetings, UnitQuery, local_date, occurrences};
use crate::control::endpoints::{Binding, Endpoint, Endpoints, LinkProfile};
use crate::control::org::{OrgTree, UnitAt};

/// Why a room is in a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParticipantVia {
    /// The provincial hub room.
    Hub,
    /// Named one by one in `endpoint_ids`.
    Explicit,
    /// Reached by the unit query on `query_unit_id` (the unit as the query
    /// names it, which may have merged into another since).
    UnitQuery { query_unit_id: String },
}

/// One room taking part, with its unit as of the meeting's date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResolvedParticipant {
    pub endpoint_id: String,
    pub endpoint_name: String,
    /// Where the room is (building, floor, room).
    pub room: String,
    /// `None` when the endpoint was bound to no unit on that date.
    pub unit_id: Option<String>,
    pub unit_code: Option<String>,
    pub unit_name: Option<String>,
    pub link: LinkProfile,
    /// Its token is revoked: it is expected but cannot connect.
    pub revoked: bool,
    pub via: ParticipantVia,
}

/// What a scope check looks at: a draft (every date its series falls on)
/// or a planned meeting (its own date).
#[derive(Debug, Clone, Copy)]
pub enum ScopeSubject<'a> {
    Draft(&'a MeetingDraft),
    Meeting(&'a Meeting),
}

impl<'a> From<&'a MeetingDraft> for ScopeSubject<'a> {
    fn from(d: &'a MeetingDraft) -> Self {
        ScopeSubject::Draft(d)
    }
}

impl<'a> From<&'a Meeting> for ScopeSubject<'a> {
    fn from(m: &'a Meeting) -> Self {
        ScopeSubject::Meeting(m)
    }
}

fn participant(ep: &Endpoint, unit: Option<&UnitAt>, via: ParticipantVia) -> ResolvedParticipant {
    ResolvedParticipant {
        endpoint_id: ep.id.clone(),
        endpoint_name: ep.details.name.clone(),
        room: ep.details.room.clone(),
        unit_id: unit.map(|u| u.id.clone()),
        unit_code: unit.map(|u| u.code.clone()),
        unit_name: unit.map(|u| u.name.clone()),
        link: ep.details.link,
        revoked: ep.revoked_at_ms.is_some(),
        via,
    }
}

fn binding_on(bindings: &[Binding], on: Date) -> Option<&Binding> {
    bindings
        .iter()
        .find(|b| b.valid_from <= on && b.valid_to.is_none_or(|t| on < t))
}

impl Meetings {
    /// The rooms of meeting `id` as of its local date: hub, explicit and
    /// unit-query rooms, each once (the hub first, then explicit, wins the
    /// reason), ordered by unit code (rooms with no unit last), then name.
    pub async fn participants(&self, id: &str) -> Result<Vec<ResolvedParticipant>, MeetingError> {
        let m = self.get(id).await?;
        self.participants_of(&m).await
    }

    /// The rooms of a meeting already read.
    pub async fn participants_of(
        &self,
        m: &Meeting,
    ) -> Result<Vec<ResolvedParticipant>, MeetingError> {
        self.resolve(
            m.hub_endpoint_id.as_deref(),
            &m.endpoint_ids,
            &m.unit_queries,
            m.local_date,
        )
        .await
    }

    /// The rooms a draft would reach on its (first) date, before it is saved.
    pub async fn preview_participants(
        &self,
        draft: &MeetingDraft,
    ) -> Result<Vec<ResolvedParticipant>, MeetingError> {
        let on = local_date(draft.starts_at_ms).ok_or_else(|| MeetingError::Invalid {
            field: "starts_at_ms".into(),
            message: "out of range".into(),
        })?;
        self.resolve(
            draft.hub_endpoint_id.as_deref(),
            &draft.endpoint_ids,
            &draft.unit_queries,
            on,
        )
        .await
    }

    async fn resolve(
        &self,
        hub: Option<&str>,
        explicit: &[String],
        queries: &[UnitQuery],
        on: Date,
    ) -> Result<Vec<ResolvedParticipant>, MeetingError> {
        let org = OrgTree::new(self.store.clone());
        let eps = Endpoints::new(self.store.clone());
        let tree: HashMap<String, UnitAt> = org
            .tree_at(on)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let mut out: Vec<ResolvedParticipant> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();

        let named: Vec<(&str, ParticipantVia)> = hub
            .map(|h| (h, ParticipantVia::Hub))
            .into_iter()
            .chain(
                explicit
                    .iter()
                    .map(|e| (e.as_str(), ParticipantVia::Explicit)),
            )
            .collect();
        // Three reads whatever the meeting's size — every endpoint, every
        // binding on the day, the tree — instead of one per unit or room:
        // consoles and the join path ask for this often.
        let all: HashMap<String, Endpoint> = eps
            .list()
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let bound = eps.bindings_on(on).await?;
        let mut by_unit: HashMap<&str, Vec<&Endpoint>> = HashMap::new();
        for (ep, unit) in &bound {
            if let Some(e) = all.get(ep) {
                by_unit.entry(unit.as_str()).or_default().push(e);
            }
        }
        for (id, via) in named {
            // Endpoints are never deleted; a missing one is a stale id.
            let Some(ep) = all.get(id) else { continue };
            if !seen.insert(ep.id.clone()) {
                continue;
            }
            let unit = match bound.get(id).and_then(|u| tree.get(u)) {
                Some(u) => Some(u),
                // Bound to a unit merged away since: follow the merge.
                None if bound.contains_key(id) => {
                    eps.unit_at(id, on).await?.and_then(|u| tree.get(&u.id))
                }
                None => None,
            };
            out.push(participant(ep, unit, via));
        }

        for q in queries {
            let Some(root) = org.resolve(&q.unit_id, on).await? else {
                // The unit did not exist that day: it reaches nobody.
                continue;
            };
            let mut units: Vec<UnitAt> = Vec::new();
            if q.include_self
                && let Some(u) = tree.get(&root.id)
            {
                units.push(u.clone());
            }
            units.extend(org.descendants(&q.unit_id, on, &q.kinds).await?);
            for unit in &units {
                for ep in by_unit.get(unit.id.as_str()).into_iter().flatten() {
                    if seen.insert(ep.id.clone()) {
                        let via = ParticipantVia::UnitQuery {
                            query_unit_id: q.unit_id.clone(),
                        };
                        out.push(participant(ep, Some(unit), via));
                    }
                }
            }
        }

        out.sort_by(|a, b| {
            (
                a.unit_code.is_none(),
                &a.unit_code,
                &a.endpoint_name,
                &a.endpoint_id,
            )
                .cmp(&(
                    b.unit_code.is_none(),
                    &b.unit_code,
                    &b.endpoint_name,
                    &b.endpoint_id,
                ))
        });
        Ok(out)
    }

    /// Whether everything a meeting names lies inside `scope_unit_id`'s
    /// subtree (the unit itself included): every unit query's unit and the
    /// unit of every named room (hub and explicit), each as of the
    /// meeting's date — every date of its series, for a recurring draft.
    /// An unknown unit, or a room bound to no unit that day, is outside.
    pub async fn units_in_scope<'a>(
        &self,
        subject: impl Into<ScopeSubject<'a>>,
        scope_unit_id: &str,
    ) -> Result<bool, MeetingError> {
        let (hub, explicit, queries, dates): (_, _, _, BTreeSet<Date>) = match subject.into() {
            ScopeSubject::Meeting(m) => (
                m.hub_endpoint_id.as_deref(),
                m.endpoint_ids.as_slice(),
                m.unit_queries.as_slice(),
                [m.local_date].into(),
            ),
            ScopeSubject::Draft(d) => {
                let starts: Vec<i64> = match &d.recurrence {
                    Some(rule) => occurrences(d.starts_at_ms, d.ends_at_ms, rule)?
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect(),
                    None => vec![d.starts_at_ms],
                };
                let dates = starts
                    .into_iter()
                    .map(local_date)
                    .collect::<Option<BTreeSet<Date>>>()
                    .ok_or_else(|| MeetingError::Invalid {
                        field: "starts_at_ms".into(),
                        message: "out of range".into(),
                    })?;
                (
                    d.hub_endpoint_id.as_deref(),
                    d.endpoint_ids.as_slice(),
                    d.unit_queries.as_slice(),
                    dates,
                )
            }
        };
        let org = OrgTree::new(self.store.clone());
        let eps = Endpoints::new(self.store.clone());
        // Each room's bindings once; the date picks among them below.
        let mut bindings: Vec<Vec<Binding>> = Vec::new();
        for id in hub.into_iter().chain(explicit.iter().map(String::as_str)) {
            match eps.bindings(id).await {
                Ok(b) => bindings.push(b),
                Err(crate::control::endpoints::EndpointError::Unknown(_)) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        for on in dates {
            let inside = match scope_members(&org, scope_unit_id, on).await? {
                Some(set) => set,
                None => return Ok(false),
            };
            let within = |unit: &str| inside.contains(unit);
            for q in queries {
                let unit = match org.resolve(&q.unit_id, on).await {
                    Ok(u) => u,
                    Err(crate::control::org::OrgError::UnknownUnit(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                if !unit.is_some_and(|u| within(&u.id)) {
                    return Ok(false);
                }
            }
            for b in &bindings {
                let Some(binding) = binding_on(b, on) else {
                    return Ok(false);
                };
                if within(&binding.unit_id) {
                    continue;
                }
                // Bound to a unit that has since merged: its successor counts.
                let resolved = org.resolve(&binding.unit_id, on).await?;
                if !resolved.is_some_and(|u| within(&u.id)) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// The scope unit (as it stands on `on`, following merges) and everything
/// under it that day; `None` if the scope unit is unknown or did not exist.
async fn scope_members(
    org: &OrgTree,
    scope_unit_id: &str,
    on: Date,
) -> Result<Option<HashSet<String>>, MeetingError> {
    let root = match org.resolve(scope_unit_id, on).await {
        Ok(Some(root)) => root,
        Ok(None) | Err(crate::control::org::OrgError::UnknownUnit(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut set: HashSet<String> = org
        .descendants(&root.id, on, &[])
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    set.insert(root.id);
    Ok(Some(set))
}
