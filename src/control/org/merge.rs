//! Merging units on a date: the sources end, their sub-units move under
//! the target, their endpoints are rebound to it, and each source resolves
//! to the target for later dates. The target may be an existing unit or a
//! new one created that day (two communes become one on 2025-07-01).

use serde_json::json;
use time::Date;

use super::change::{check_can_end, create_in, end_unit, target, write_version};
use super::snapshot::Snapshot;
use super::{Ending, NewUnit, OrgError, OrgTree, OrgUnit};
use crate::control::endpoints;
use crate::store::{Actor, SqlxResultExt, audit, date};

/// Where merged units go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeTarget {
    /// An existing unit (by id) absorbs the others.
    Existing(String),
    /// A new unit is created on the merge date.
    New(NewUnit),
}

impl OrgTree {
    /// Merge `sources` into one unit on `on`: the sources end that day, their
    /// sub-units move under the target and their endpoints are bound to it,
    /// and each source resolves to the target for later dates.
    pub async fn merge(
        &self,
        actor: &Actor,
        sources: &[&str],
        into: MergeTarget,
        on: Date,
    ) -> Result<OrgUnit, OrgError> {
        if sources.is_empty() {
            return Err(OrgError::Invalid {
                field: "sources",
                message: "name at least one unit to merge".into(),
            });
        }
        let mut tx = self.store.begin_write().await?;
        let mut snap = Snapshot::load(&mut tx).await?;
        for (i, s) in sources.iter().enumerate() {
            check_can_end(&snap, s, on)?;
            if sources[..i].contains(s) {
                return Err(OrgError::Invalid {
                    field: "sources",
                    message: format!("{} is listed twice", snap.code(s)),
                });
            }
        }
        let target_unit = match &into {
            MergeTarget::Existing(t) => {
                let u = snap.alive(t, on)?.clone();
                if sources.contains(&t.as_str()) {
                    return Err(OrgError::Invalid {
                        field: "target",
                        message: format!("{} cannot be merged into itself", u.code),
                    });
                }
                if let Some(end) = &u.ended {
                    return Err(OrgError::ParentEnds {
                        unit: sources
                            .iter()
                            .map(|s| snap.code(s))
                            .collect::<Vec<_>>()
                            .join(", "),
                        parent: u.code.clone(),
                        ends: end.on(),
                    });
                }
                u
            }
            MergeTarget::New(new) => create_in(&mut tx, &mut snap, new, on).await?,
        };
        for s in sources {
            if snap.is_within(&target_unit.id, s, on) {
                return Err(OrgError::Invalid {
                    field: "target",
                    message: format!(
                        "{} lies inside {}, which is being merged",
                        target_unit.code,
                        snap.code(s)
                    ),
                });
            }
        }
        let mut moved = Vec::new();
        for s in sources {
            for child in snap.children_at(s, on) {
                if sources.contains(&child.as_str()) {
                    continue;
                }
                let name = snap
                    .version_at(&child, on)
                    .map(|v| v.name.clone())
                    .unwrap_or_default();
                write_version(
                    &mut tx,
                    &mut snap,
                    &child,
                    on,
                    name,
                    Some(target_unit.id.clone()),
                )
                .await?;
                moved.push(snap.code(&child).to_string());
            }
            end_unit(&mut tx, s, on, Some(&target_unit.id)).await?;
            // Moves already scheduled under a source follow it to the target.
            sqlx::query("UPDATE org_unit_versions SET parent_id = $1 WHERE parent_id = $2 AND valid_from > $3")
                .bind(&target_unit.id)
                .bind(*s)
                .bind(date::to_text(on))
                .execute(&mut *tx)
                .await
                .ctx("merging org units")?;
            for v in snap.versions.values_mut().flatten() {
                if v.valid_from > on && v.parent_id.as_deref() == Some(*s) {
                    v.parent_id = Some(target_unit.id.clone());
                }
            }
        }
        let source_ids: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let rebound = endpoints::follow_merge(&mut tx, &source_ids, &target_unit.id, on).await?;
        for s in sources {
            if let Some(u) = snap.units.get_mut(*s) {
                u.ended = Some(Ending::Merged {
                    on,
                    successor: target_unit.id.clone(),
                });
            }
        }
        let details = json!({
            "sources": sources.iter().map(|s| snap.code(s)).collect::<Vec<_>>(),
            "target": target_unit.code, "new_target": matches!(into, MergeTarget::New(_)),
            "moved_units": moved, "rebound_endpoints": rebound, "on": date::to_text(on),
        });
        audit::append(
            &mut tx,
            actor,
            "org.merge",
            &target("org_unit", &target_unit.id),
            &details,
        )
        .await?;
        tx.commit().await.ctx("merging org units")?;
        Ok(target_unit)
    }
}
