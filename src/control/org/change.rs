//! Dated changes to the org tree: create, rename, move, merge, dissolve.
//! Each runs in one write transaction: load, check every rule, write the
//! versions, append one audit record, commit. A refused change writes nothing.

use serde_json::json;
use sqlx::AnyConnection;
use time::Date;

use super::snapshot::Snapshot;
use super::{OrgError, OrgKind, OrgTree, OrgUnit};
use crate::control::endpoints;
use crate::store::{Actor, SqlxResultExt, StoreError, audit, date, new_id};

/// Longest accepted name, in characters: official names are far shorter;
/// the cap keeps a pasted paragraph out of every console list.
const NAME_MAX_CHARS: usize = 200;
/// Longest accepted code (administrative codes are a few digits).
const CODE_MAX_CHARS: usize = 64;

/// A unit to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnit {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    /// Parent unit id; `None` for a top-level unit.
    pub parent_id: Option<String>,
}

pub(super) fn check_name(name: &str) -> Result<(), OrgError> {
    if name.trim().is_empty() {
        return Err(OrgError::Invalid {
            field: "name",
            message: "a unit needs a name".into(),
        });
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(OrgError::Invalid {
            field: "name",
            message: format!("{name:?} is longer than {NAME_MAX_CHARS} characters"),
        });
    }
    Ok(())
}

pub(super) fn check_code(code: &str) -> Result<(), OrgError> {
    if code.is_empty()
        || code.chars().count() > CODE_MAX_CHARS
        || code.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(OrgError::Invalid {
            field: "code",
            message: format!(
                "{code:?} is not a code; use 1 to {CODE_MAX_CHARS} characters without spaces"
            ),
        });
    }
    Ok(())
}

/// Check and write a new unit (used by create, merge and import).
pub(super) async fn create_in(
    conn: &mut AnyConnection,
    snap: &mut Snapshot,
    new: &NewUnit,
    on: Date,
) -> Result<OrgUnit, OrgError> {
    check_code(&new.code)?;
    check_name(&new.name)?;
    if snap.by_code.contains_key(&new.code) {
        return Err(OrgError::DuplicateCode(new.code.clone()));
    }
    let id = new_id("ou_");
    if let Some(parent) = &new.parent_id {
        snap.check_parent(&id, &new.code, parent, on, None)?;
    }
    sqlx::query("INSERT INTO org_units (id, code, kind, created_on) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(&new.code)
        .bind(new.kind.as_str())
        .bind(date::to_text(on))
        .execute(&mut *conn)
        .await
        .ctx("creating an org unit")?;
    write_version(conn, snap, &id, on, new.name.clone(), new.parent_id.clone()).await?;
    let unit = OrgUnit {
        id,
        code: new.code.clone(),
        kind: new.kind,
        created_on: on,
        ended: None,
    };
    snap.insert_unit(unit.clone());
    Ok(unit)
}

/// Make `(name, parent)` the unit's version from `on`: replace the version
/// starting that day, or cut the covering one at `on`. Later versions stay.
pub(super) async fn write_version(
    conn: &mut AnyConnection,
    snap: &mut Snapshot,
    id: &str,
    on: Date,
    name: String,
    parent: Option<String>,
) -> Result<(), StoreError> {
    const DOING: &str = "writing an org unit version";
    let on_text = date::to_text(on);
    let same_day = snap
        .versions
        .get(id)
        .is_some_and(|vs| vs.iter().any(|v| v.valid_from == on));
    if same_day {
        sqlx::query(
            "UPDATE org_unit_versions SET name = $1, parent_id = $2 WHERE unit_id = $3 AND valid_from = $4",
        )
        .bind(&name)
        .bind(&parent)
        .bind(id)
        .bind(&on_text)
        .execute(&mut *conn)
        .await
        .ctx(DOING)?;
    } else {
        let valid_to = snap.version_at(id, on).and_then(|v| v.valid_to);
        sqlx::query(
            "UPDATE org_unit_versions SET valid_to = $1
             WHERE unit_id = $2 AND valid_from < $1 AND (valid_to IS NULL OR valid_to > $1)",
        )
        .bind(&on_text)
        .bind(id)
        .execute(&mut *conn)
        .await
        .ctx(DOING)?;
        sqlx::query(
            "INSERT INTO org_unit_versions (unit_id, valid_from, valid_to, name, parent_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(&on_text)
        .bind(valid_to.map(date::to_text))
        .bind(&name)
        .bind(&parent)
        .execute(&mut *conn)
        .await
        .ctx(DOING)?;
    }
    snap.set_version(id, on, name, parent);
    Ok(())
}

/// A unit can end on `on` only if it exists then and nothing about it is
/// recorded from `on` on (a version starting on or after its end would be orphaned).
pub(super) fn check_can_end(snap: &Snapshot, id: &str, on: Date) -> Result<(), OrgError> {
    let u = snap.alive(id, on)?;
    if let Some(last) = snap.last_change(id)
        && last >= on
    {
        return Err(OrgError::LaterChanges {
            unit: u.code.clone(),
            later: last,
        });
    }
    Ok(())
}

pub(super) async fn end_unit(
    conn: &mut AnyConnection,
    id: &str,
    on: Date,
    successor: Option<&str>,
) -> Result<(), StoreError> {
    const DOING: &str = "ending an org unit";
    let on_text = date::to_text(on);
    sqlx::query(
        "UPDATE org_unit_versions SET valid_to = $1 WHERE unit_id = $2 AND valid_to IS NULL",
    )
    .bind(&on_text)
    .bind(id)
    .execute(&mut *conn)
    .await
    .ctx(DOING)?;
    sqlx::query(
        "UPDATE org_units SET ended_on = $1, end_reason = $2, successor_id = $3 WHERE id = $4",
    )
    .bind(&on_text)
    .bind(if successor.is_some() {
        "merged"
    } else {
        "dissolved"
    })
    .bind(successor)
    .bind(id)
    .execute(&mut *conn)
    .await
    .ctx(DOING)?;
    Ok(())
}

pub(super) fn target(kind: &str, id: &str) -> String {
    format!("{kind}:{id}")
}

impl OrgTree {
    /// Create a unit that exists from `on`.
    pub async fn create(&self, actor: &Actor, new: NewUnit, on: Date) -> Result<OrgUnit, OrgError> {
        let mut tx = self.store.begin_write().await?;
        let mut snap = Snapshot::load(&mut tx).await?;
        let unit = create_in(&mut tx, &mut snap, &new, on).await?;
        let details = json!({
            "code": unit.code, "name": new.name, "kind": unit.kind,
            "parent": new.parent_id.as_deref().map(|p| snap.code(p)), "on": date::to_text(on),
        });
        audit::append(
            &mut tx,
            actor,
            "org.create",
            &target("org_unit", &unit.id),
            &details,
        )
        .await?;
        tx.commit().await.ctx("saving an org unit")?;
        Ok(unit)
    }

    /// Give the unit a new name from `on`; earlier dates keep the old name.
    pub async fn rename(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        on: Date,
    ) -> Result<(), OrgError> {
        check_name(name)?;
        let mut tx = self.store.begin_write().await?;
        let mut snap = Snapshot::load(&mut tx).await?;
        let code = snap.alive(id, on)?.code.clone();
        let current = snap
            .version_at(id, on)
            .cloned()
            .ok_or_else(|| OrgError::UnknownUnit(code.clone()))?;
        write_version(
            &mut tx,
            &mut snap,
            id,
            on,
            name.to_string(),
            current.parent_id,
        )
        .await?;
        let details =
            json!({"code": code, "from": current.name, "to": name, "on": date::to_text(on)});
        audit::append(
            &mut tx,
            actor,
            "org.rename",
            &target("org_unit", id),
            &details,
        )
        .await?;
        tx.commit().await.ctx("renaming an org unit")?;
        Ok(())
    }

    /// Put the unit under `parent` (or at the top) from `on`.
    pub async fn move_to(
        &self,
        actor: &Actor,
        id: &str,
        parent: Option<&str>,
        on: Date,
    ) -> Result<(), OrgError> {
        let mut tx = self.store.begin_write().await?;
        let mut snap = Snapshot::load(&mut tx).await?;
        let code = snap.alive(id, on)?.code.clone();
        let current = snap
            .version_at(id, on)
            .cloned()
            .ok_or_else(|| OrgError::UnknownUnit(code.clone()))?;
        // The move holds until the unit's next recorded change (or its end).
        let until = snap
            .versions
            .get(id)
            .and_then(|vs| vs.iter().map(|v| v.valid_from).find(|d| *d > on))
            .or(current.valid_to);
        if let Some(p) = parent {
            snap.check_parent(id, &code, p, on, until)?;
        }
        let details = json!({
            "code": code, "from": current.parent_id.as_deref().map(|p| snap.code(p).to_string()),
            "to": parent.map(|p| snap.code(p).to_string()), "on": date::to_text(on),
        });
        write_version(
            &mut tx,
            &mut snap,
            id,
            on,
            current.name,
            parent.map(str::to_string),
        )
        .await?;
        audit::append(
            &mut tx,
            actor,
            "org.move",
            &target("org_unit", id),
            &details,
        )
        .await?;
        tx.commit().await.ctx("moving an org unit")?;
        Ok(())
    }

    /// End a unit on `on` without a successor. Refused while units or
    /// endpoints still hang under it: dissolving must not orphan them silently.
    pub async fn dissolve(&self, actor: &Actor, id: &str, on: Date) -> Result<(), OrgError> {
        let mut tx = self.store.begin_write().await?;
        let snap = Snapshot::load(&mut tx).await?;
        check_can_end(&snap, id, on)?;
        let code = snap.code(id).to_string();
        let children = snap.children_at(id, on).len()
            + snap
                .units
                .keys()
                .filter(|c| {
                    snap.versions.get(*c).is_some_and(|vs| {
                        vs.iter()
                            .any(|v| v.valid_from > on && v.parent_id.as_deref() == Some(id))
                    })
                })
                .count();
        if children > 0 {
            return Err(OrgError::HasChildren {
                unit: code,
                on,
                count: children,
            });
        }
        let bound = endpoints::count_bound(&mut tx, id, on).await?;
        if bound > 0 {
            return Err(OrgError::HasEndpoints {
                unit: code,
                on,
                count: bound,
            });
        }
        end_unit(&mut tx, id, on, None).await?;
        let details = json!({"code": code, "on": date::to_text(on)});
        audit::append(
            &mut tx,
            actor,
            "org.dissolve",
            &target("org_unit", id),
            &details,
        )
        .await?;
        tx.commit().await.ctx("dissolving an org unit")?;
        Ok(())
    }
}
