//! The org tree: OrgUnits (central, province, commune, ward, special zone,
//! sector committees) as versioned, effective-dated data.
//!
//! A unit has a permanent identity (id, code, kind, the date it began and,
//! once merged away or dissolved, the date it ended) and a run of versions
//! (name and parent) that tile its life without gaps. Every question is asked
//! "as of a date", so a meeting resolves its units as they were on its own
//! day, and a reorganisation is a set of dated edits, never a code change.
//!
//! Owns the org tables and their rules; reads endpoint bindings only to keep
//! them following a merge (through `control::endpoints`).

mod change;
mod merge;
mod snapshot;
mod transfer;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::Date;

use crate::store::{SqlxResultExt, Store, StoreError, date};

pub use change::NewUnit;
pub use merge::MergeTarget;
pub use transfer::{ImportError, UnitRecord, parse_import};

/// What a unit is. Stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// The level above the province (a central body this node relays to).
    Central,
    Province,
    Commune,
    Ward,
    SpecialZone,
    /// A sector Party committee: police, military, agencies, enterprises.
    Sector,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::Central,
        OrgKind::Province,
        OrgKind::Commune,
        OrgKind::Ward,
        OrgKind::SpecialZone,
        OrgKind::Sector,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Central => "central",
            OrgKind::Province => "province",
            OrgKind::Commune => "commune",
            OrgKind::Ward => "ward",
            OrgKind::SpecialZone => "special_zone",
            OrgKind::Sector => "sector",
        }
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrgKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OrgKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a unit kind; use one of central, province, commune, ward, special_zone, sector"
                )
            })
    }
}

/// How a unit's life ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Ending {
    /// Merged into `successor` (a unit id); it stands for this one from `on`.
    Merged {
        #[schemars(with = "String")]
        on: Date,
        successor: String,
    },
    Dissolved {
        #[schemars(with = "String")]
        on: Date,
    },
}

impl Ending {
    pub fn on(&self) -> Date {
        match self {
            Ending::Merged { on, .. } | Ending::Dissolved { on } => *on,
        }
    }
}

/// A unit's permanent identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OrgUnit {
    pub id: String,
    pub code: String,
    pub kind: OrgKind,
    #[schemars(with = "String")]
    pub created_on: Date,
    pub ended: Option<Ending>,
}

/// A unit as it was on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UnitAt {
    pub id: String,
    pub code: String,
    pub kind: OrgKind,
    pub name: String,
    pub parent_id: Option<String>,
    pub parent_code: Option<String>,
    #[schemars(with = "String")]
    pub created_on: Date,
}

/// One version: name and parent over `[valid_from, valid_to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UnitVersion {
    #[schemars(with = "String")]
    pub valid_from: Date,
    /// `None`: still current.
    #[schemars(with = "Option<String>")]
    pub valid_to: Option<Date>,
    pub name: String,
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UnitHistory {
    pub unit: OrgUnit,
    /// Oldest first.
    pub versions: Vec<UnitVersion>,
}

/// Why an org tree operation was refused. Units are named by code.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no org unit {0:?}")]
    UnknownUnit(String),
    #[error("org unit code {0:?} is already used; codes are never reused")]
    DuplicateCode(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("parent {parent} does not exist on {on}")]
    ParentMissing { parent: String, on: Date },
    #[error(
        "parent {parent} ends on {ends}; attach {unit} to its successor from that date instead"
    )]
    ParentEnds {
        unit: String,
        parent: String,
        ends: Date,
    },
    #[error("putting {unit} under {parent} on {on} would make a cycle: {parent} is inside {unit}")]
    Cycle {
        unit: String,
        parent: String,
        on: Date,
    },
    #[error("{unit} did not exist on {on}; it was created on {created}")]
    BeforeCreation {
        unit: String,
        on: Date,
        created: Date,
    },
    #[error("{unit} was {how} on {ended}; it cannot be changed on {on}")]
    Ended {
        unit: String,
        how: &'static str,
        ended: Date,
        on: Date,
    },
    #[error("{unit} has a change recorded on {later}; it can only end after its last change")]
    LaterChanges { unit: String, later: Date },
    #[error("{unit} still has {count} unit(s) under it on {on}; move or merge them first")]
    HasChildren {
        unit: String,
        on: Date,
        count: usize,
    },
    #[error("{unit} still has {count} endpoint(s) bound on {on}; bind them elsewhere first")]
    HasEndpoints {
        unit: String,
        on: Date,
        count: usize,
    },
}

pub(crate) fn decode_err(doing: &'static str) -> impl Fn(String) -> StoreError {
    move |message| StoreError::Invalid {
        what: format!("stored data while {doing}"),
        message,
    }
}

fn date_col(row: &sqlx::any::AnyRow, i: usize, doing: &'static str) -> Result<Date, StoreError> {
    let s: String = row.try_get(i).ctx(doing)?;
    date::parse(&s).map_err(decode_err(doing))
}

fn opt_date_col(
    row: &sqlx::any::AnyRow,
    i: usize,
    doing: &'static str,
) -> Result<Option<Date>, StoreError> {
    let s: Option<String> = row.try_get(i).ctx(doing)?;
    s.map(|s| date::parse(&s).map_err(decode_err(doing)))
        .transpose()
}

/// The org tree over a store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OrgTree {
    store: Store,
}

const SELECT_UNIT: &str =
    "SELECT id, code, kind, created_on, ended_on, end_reason, successor_id FROM org_units";

fn unit_from_row(row: &sqlx::any::AnyRow) -> Result<OrgUnit, StoreError> {
    const DOING: &str = "reading an org unit";
    let kind: String = row.try_get(2).ctx(DOING)?;
    let ended_on = opt_date_col(row, 4, DOING)?;
    let reason: Option<String> = row.try_get(5).ctx(DOING)?;
    let successor: Option<String> = row.try_get(6).ctx(DOING)?;
    let ended = match (ended_on, reason.as_deref(), successor) {
        (Some(on), Some("merged"), Some(successor)) => Some(Ending::Merged { on, successor }),
        (Some(on), _, _) => Some(Ending::Dissolved { on }),
        _ => None,
    };
    Ok(OrgUnit {
        id: row.try_get(0).ctx(DOING)?,
        code: row.try_get(1).ctx(DOING)?,
        kind: kind.parse().map_err(decode_err(DOING))?,
        created_on: date_col(row, 3, DOING)?,
        ended,
    })
}

impl OrgTree {
    pub fn new(store: Store) -> OrgTree {
        OrgTree { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn unit(&self, id: &str) -> Result<OrgUnit, OrgError> {
        let row = sqlx::query(&format!("{SELECT_UNIT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .ctx("reading an org unit")?
            .ok_or_else(|| OrgError::UnknownUnit(id.to_string()))?;
        Ok(unit_from_row(&row)?)
    }

    pub async fn unit_by_code(&self, code: &str) -> Result<OrgUnit, OrgError> {
        let row = sqlx::query(&format!("{SELECT_UNIT} WHERE code = $1"))
            .bind(code)
            .fetch_optional(self.store.pool())
            .await
            .ctx("reading an org unit")?
            .ok_or_else(|| OrgError::UnknownUnit(code.to_string()))?;
        Ok(unit_from_row(&row)?)
    }

    /// Every unit that existed on `on`, with its name and parent as of then,
    /// ordered by code.
    pub async fn tree_at(&self, on: Date) -> Result<Vec<UnitAt>, OrgError> {
        const DOING: &str = "reading the org tree";
        let rows = sqlx::query(
            "SELECT u.id, u.code, u.kind, u.created_on, v.name, v.parent_id, p.code
             FROM org_units u
             JOIN org_unit_versions v ON v.unit_id = u.id
             LEFT JOIN org_units p ON p.id = v.parent_id
             WHERE v.valid_from <= $1 AND (v.valid_to IS NULL OR v.valid_to > $1)
             ORDER BY u.code",
        )
        .bind(date::to_text(on))
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind: String = row.try_get(2).ctx(DOING)?;
            out.push(UnitAt {
                id: row.try_get(0).ctx(DOING)?,
                code: row.try_get(1).ctx(DOING)?,
                kind: kind.parse().map_err(decode_err(DOING))?,
                created_on: date_col(row, 3, DOING)?,
                name: row.try_get(4).ctx(DOING)?,
                parent_id: row.try_get(5).ctx(DOING)?,
                parent_code: row.try_get(6).ctx(DOING)?,
            });
        }
        Ok(out)
    }

    /// The unit that stands for `id` on `on`: itself while it exists, its
    /// successor (followed through every later merge) after a merge, `None`
    /// before it was created or after it was dissolved.
    pub async fn resolve(&self, id: &str, on: Date) -> Result<Option<OrgUnit>, OrgError> {
        let mut unit = self.unit(id).await?;
        // A chain of merges is short; the bound only guards against bad data.
        for _ in 0..64 {
            if on < unit.created_on {
                return Ok(None);
            }
            match &unit.ended {
                None => return Ok(Some(unit)),
                Some(end) if on < end.on() => return Ok(Some(unit)),
                Some(Ending::Dissolved { .. }) => return Ok(None),
                Some(Ending::Merged { successor, .. }) => {
                    let next = successor.clone();
                    unit = self.unit(&next).await?;
                }
            }
        }
        Ok(None)
    }

    /// Units below `id` (not itself) as of `on`, of the given kinds (all kinds
    /// when `kinds` is empty), ordered by code. "All communes of unit X as of
    /// the meeting's date" is `descendants(x, date, &[Commune])`. A unit merged
    /// away before `on` answers for its successor.
    pub async fn descendants(
        &self,
        id: &str,
        on: Date,
        kinds: &[OrgKind],
    ) -> Result<Vec<UnitAt>, OrgError> {
        let Some(root) = self.resolve(id, on).await? else {
            return Ok(Vec::new());
        };
        let tree = self.tree_at(on).await?;
        let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, u) in tree.iter().enumerate() {
            if let Some(p) = &u.parent_id {
                children.entry(p.as_str()).or_default().push(i);
            }
        }
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([root.id.as_str()]);
        let mut found = Vec::new();
        while let Some(p) = queue.pop_front() {
            for &i in children.get(p).map(Vec::as_slice).unwrap_or_default() {
                if seen.insert(i) {
                    found.push(i);
                    queue.push_back(tree[i].id.as_str());
                }
            }
        }
        let mut out: Vec<UnitAt> = found
            .into_iter()
            .map(|i| tree[i].clone())
            .filter(|u| kinds.is_empty() || kinds.contains(&u.kind))
            .collect();
        out.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(out)
    }

    /// The unit and all its versions, oldest first.
    pub async fn history(&self, id: &str) -> Result<UnitHistory, OrgError> {
        const DOING: &str = "reading an org unit's history";
        let unit = self.unit(id).await?;
        let rows = sqlx::query(
            "SELECT valid_from, valid_to, name, parent_id FROM org_unit_versions
             WHERE unit_id = $1 ORDER BY valid_from",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        let mut versions = Vec::with_capacity(rows.len());
        for row in &rows {
            versions.push(UnitVersion {
                valid_from: date_col(row, 0, DOING)?,
                valid_to: opt_date_col(row, 1, DOING)?,
                name: row.try_get(2).ctx(DOING)?,
                parent_id: row.try_get(3).ctx(DOING)?,
            });
        }
        Ok(UnitHistory { unit, versions })
    }
}
