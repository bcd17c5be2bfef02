//! The whole org tree loaded inside a write transaction, so every rule
//! (parent alive, no cycle at any later date, codes unique) is checked in
//! plain Rust against a consistent view. A province has a few hundred units
//! and the whole country a few thousand: loading them is cheaper than
//! expressing date-ranged cycle checks in two SQL dialects.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};
use time::Date;

use super::{
    Ending, OrgError, OrgUnit, SELECT_UNIT, UnitVersion, date_col, opt_date_col, unit_from_row,
};
use crate::store::{SqlxResultExt, StoreError};

pub(super) struct Snapshot {
    pub units: HashMap<String, OrgUnit>,
    pub by_code: HashMap<String, String>,
    /// Per unit, oldest first.
    pub versions: HashMap<String, Vec<UnitVersion>>,
}

impl Snapshot {
    pub async fn load(conn: &mut AnyConnection) -> Result<Snapshot, StoreError> {
        const DOING: &str = "loading the org tree";
        let mut units = HashMap::new();
        let mut by_code = HashMap::new();
        for row in sqlx::query(SELECT_UNIT)
            .fetch_all(&mut *conn)
            .await
            .ctx(DOING)?
        {
            let u = unit_from_row(&row)?;
            by_code.insert(u.code.clone(), u.id.clone());
            units.insert(u.id.clone(), u);
        }
        let mut versions: HashMap<String, Vec<UnitVersion>> = HashMap::new();
        for row in sqlx::query(
            "SELECT unit_id, valid_from, valid_to, name, parent_id FROM org_unit_versions
             ORDER BY unit_id, valid_from",
        )
        .fetch_all(&mut *conn)
        .await
        .ctx(DOING)?
        {
            let unit: String = row.try_get(0).ctx(DOING)?;
            versions.entry(unit).or_default().push(UnitVersion {
                valid_from: date_col(&row, 1, DOING)?,
                valid_to: opt_date_col(&row, 2, DOING)?,
                name: row.try_get(3).ctx(DOING)?,
                parent_id: row.try_get(4).ctx(DOING)?,
            });
        }
        Ok(Snapshot {
            units,
            by_code,
            versions,
        })
    }

    pub fn unit(&self, id: &str) -> Result<&OrgUnit, OrgError> {
        self.units
            .get(id)
            .ok_or_else(|| OrgError::UnknownUnit(id.to_string()))
    }

    /// The code of a known unit, for messages.
    pub fn code<'a>(&'a self, id: &'a str) -> &'a str {
        self.units.get(id).map(|u| u.code.as_str()).unwrap_or(id)
    }

    pub fn version_at(&self, id: &str, on: Date) -> Option<&UnitVersion> {
        self.versions
            .get(id)?
            .iter()
            .find(|v| v.valid_from <= on && v.valid_to.is_none_or(|to| on < to))
    }

    pub fn last_change(&self, id: &str) -> Option<Date> {
        self.versions.get(id)?.last().map(|v| v.valid_from)
    }

    pub fn parent_at(&self, id: &str, on: Date) -> Option<&str> {
        self.version_at(id, on)?.parent_id.as_deref()
    }

    /// The unit, if it exists on `on`; otherwise why not.
    pub fn alive(&self, id: &str, on: Date) -> Result<&OrgUnit, OrgError> {
        let u = self.unit(id)?;
        if on < u.created_on {
            return Err(OrgError::BeforeCreation {
                unit: u.code.clone(),
                on,
                created: u.created_on,
            });
        }
        if let Some(end) = &u.ended
            && on >= end.on()
        {
            return Err(OrgError::Ended {
                unit: u.code.clone(),
                how: match end {
                    Ending::Merged { .. } => "merged",
                    Ending::Dissolved { .. } => "dissolved",
                },
                ended: end.on(),
                on,
            });
        }
        Ok(u)
    }

    /// Units whose parent on `on` is `id`.
    pub fn children_at(&self, id: &str, on: Date) -> Vec<String> {
        self.units
            .keys()
            .filter(|c| self.parent_at(c, on) == Some(id))
            .cloned()
            .collect()
    }

    /// Check that `parent` can hold `unit` over `[from, until)`: it exists
    /// on `from`, lives at least as long, and is not inside `unit` on any
    /// date in the range at which the tree changes.
    pub fn check_parent(
        &self,
        unit: &str,
        unit_code: &str,
        parent: &str,
        from: Date,
        until: Option<Date>,
    ) -> Result<(), OrgError> {
        let p = self.unit(parent)?;
        if self.alive(parent, from).is_err() {
            return Err(OrgError::ParentMissing {
                parent: p.code.clone(),
                on: from,
            });
        }
        if let Some(end) = &p.ended
            && until.is_none_or(|u| end.on() < u)
        {
            return Err(OrgError::ParentEnds {
                unit: unit_code.to_string(),
                parent: p.code.clone(),
                ends: end.on(),
            });
        }
        // The tree only changes where some version starts, so checking
        // those dates (and `from`) covers the whole range.
        let mut dates: Vec<Date> = self
            .versions
            .values()
            .flatten()
            .map(|v| v.valid_from)
            .filter(|d| *d > from && until.is_none_or(|u| *d < u))
            .collect();
        dates.push(from);
        dates.sort();
        dates.dedup();
        for on in dates {
            let mut cur = Some(parent);
            // Bounded walk: a path longer than the unit count is itself a cycle.
            for _ in 0..=self.units.len() {
                match cur {
                    Some(c) if c == unit => {
                        return Err(OrgError::Cycle {
                            unit: unit_code.to_string(),
                            parent: p.code.clone(),
                            on,
                        });
                    }
                    Some(c) => cur = self.parent_at(c, on),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Is `id` inside `ancestor` (or equal to it) on `on`?
    pub fn is_within(&self, id: &str, ancestor: &str, on: Date) -> bool {
        let mut cur = Some(id);
        for _ in 0..=self.units.len() {
            match cur {
                Some(c) if c == ancestor => return true,
                Some(c) => cur = self.parent_at(c, on),
                None => return false,
            }
        }
        false
    }

    /// Record a version in memory (after writing it), splitting the one that
    /// covered `on` like the database does.
    pub fn set_version(&mut self, id: &str, on: Date, name: String, parent: Option<String>) {
        let list = self.versions.entry(id.to_string()).or_default();
        if let Some(v) = list.iter_mut().find(|v| v.valid_from == on) {
            v.name = name;
            v.parent_id = parent;
            return;
        }
        let mut valid_to = None;
        if let Some(v) = list
            .iter_mut()
            .find(|v| v.valid_from < on && v.valid_to.is_none_or(|to| on < to))
        {
            valid_to = v.valid_to;
            v.valid_to = Some(on);
        }
        list.push(UnitVersion {
            valid_from: on,
            valid_to,
            name,
            parent_id: parent,
        });
        list.sort_by_key(|v| v.valid_from);
    }

    pub fn insert_unit(&mut self, unit: OrgUnit) {
        self.by_code.insert(unit.code.clone(), unit.id.clone());
        self.units.insert(unit.id.clone(), unit);
    }
}
