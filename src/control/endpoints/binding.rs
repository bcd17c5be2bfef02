//! Dated bindings of endpoints to org units. An endpoint's history is a
//! run of bindings; a merge moves the bindings of the merged units to the
//! successor from the merge date, so an endpoint follows its commune.

use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};
use time::Date;

use super::{Endpoint, EndpointError, Endpoints, SELECT_ENDPOINT, endpoint_from_row, target};
use crate::control::org::{OrgError, OrgTree, OrgUnit};
use crate::store::{Actor, SqlxResultExt, StoreError, audit, date};

/// An endpoint's unit over `[valid_from, valid_to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Binding {
    pub unit_id: String,
    #[schemars(with = "String")]
    pub valid_from: Date,
    #[schemars(with = "Option<String>")]
    pub valid_to: Option<Date>,
}

/// Refuse a binding to a unit that does not exist on `on`.
pub(super) async fn check_unit_on(
    conn: &mut AnyConnection,
    unit: &str,
    on: Date,
) -> Result<(), EndpointError> {
    let row = sqlx::query("SELECT code, created_on, ended_on FROM org_units WHERE id = $1")
        .bind(unit)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading an org unit")?
        .ok_or_else(|| OrgError::UnknownUnit(unit.to_string()))?;
    let code: String = row.try_get(0).ctx("reading an org unit")?;
    let created: String = row.try_get(1).ctx("reading an org unit")?;
    let ended: Option<String> = row.try_get(2).ctx("reading an org unit")?;
    let on_text = date::to_text(on);
    if on_text < created || ended.as_ref().is_some_and(|e| on_text >= *e) {
        return Err(EndpointError::Invalid {
            field: "unit_id",
            message: format!("unit {code} does not exist on {on_text}"),
        });
    }
    Ok(())
}

/// Move bindings of `sources` to `target` from `on` (inside a merge's
/// transaction): an endpoint keeps its history and follows its unit.
/// Returns how many endpoints moved.
pub(crate) async fn follow_merge(
    conn: &mut AnyConnection,
    sources: &[String],
    target: &str,
    on: Date,
) -> Result<usize, StoreError> {
    const DOING: &str = "rebinding endpoints to a merged unit";
    let on_text = date::to_text(on);
    let mut moved = std::collections::BTreeSet::new();
    for source in sources {
        let rows = sqlx::query(
            "SELECT endpoint_id, valid_from, valid_to FROM endpoint_bindings
             WHERE unit_id = $1 AND (valid_to IS NULL OR valid_to > $2)",
        )
        .bind(source)
        .bind(&on_text)
        .fetch_all(&mut *conn)
        .await
        .ctx(DOING)?;
        for row in rows {
            let endpoint: String = row.try_get(0).ctx(DOING)?;
            let from: String = row.try_get(1).ctx(DOING)?;
            let to: Option<String> = row.try_get(2).ctx(DOING)?;
            if from >= on_text {
                sqlx::query("UPDATE endpoint_bindings SET unit_id = $1 WHERE endpoint_id = $2 AND valid_from = $3")
                    .bind(target)
                    .bind(&endpoint)
                    .bind(&from)
                    .execute(&mut *conn)
                    .await
                    .ctx(DOING)?;
            } else {
                sqlx::query("UPDATE endpoint_bindings SET valid_to = $1 WHERE endpoint_id = $2 AND valid_from = $3")
                    .bind(&on_text)
                    .bind(&endpoint)
                    .bind(&from)
                    .execute(&mut *conn)
                    .await
                    .ctx(DOING)?;
                sqlx::query(
                    "INSERT INTO endpoint_bindings (endpoint_id, unit_id, valid_from, valid_to) VALUES ($1, $2, $3, $4)",
                )
                .bind(&endpoint)
                .bind(target)
                .bind(&on_text)
                .bind(to)
                .execute(&mut *conn)
                .await
                .ctx(DOING)?;
            }
            moved.insert(endpoint);
        }
    }
    Ok(moved.len())
}

/// Endpoints bound to `unit` on `on` or later.
pub(crate) async fn count_bound(
    conn: &mut AnyConnection,
    unit: &str,
    on: Date,
) -> Result<usize, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(DISTINCT endpoint_id) FROM endpoint_bindings WHERE unit_id = $1 AND (valid_to IS NULL OR valid_to > $2)",
    )
    .bind(unit)
    .bind(date::to_text(on))
    .fetch_one(&mut *conn)
    .await
    .ctx("counting bound endpoints")?;
    let n: i64 = row.try_get(0).ctx("counting bound endpoints")?;
    Ok(n as usize)
}

impl Endpoints {
    /// Bind the endpoint to `unit_id` from `on` (its room moved to another
    /// unit); the earlier binding ends that day.
    pub async fn bind(
        &self,
        actor: &Actor,
        id: &str,
        unit_id: &str,
        on: Date,
    ) -> Result<(), EndpointError> {
        let mut tx = self.store.begin_write().await?;
        let latest =
            sqlx::query("SELECT MAX(valid_from) FROM endpoint_bindings WHERE endpoint_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .ctx("reading endpoint bindings")?;
        let latest: Option<String> = latest.try_get(0).ctx("reading endpoint bindings")?;
        let Some(latest) = latest else {
            return Err(EndpointError::Unknown(id.to_string()));
        };
        let on_text = date::to_text(on);
        if on_text <= latest {
            return Err(EndpointError::BindingOrder {
                endpoint: id.to_string(),
                latest: date::parse(&latest)
                    .map_err(crate::control::org::decode_err("reading endpoint bindings"))?,
            });
        }
        check_unit_on(&mut tx, unit_id, on).await?;
        sqlx::query("UPDATE endpoint_bindings SET valid_to = $1 WHERE endpoint_id = $2 AND valid_from = $3 AND (valid_to IS NULL OR valid_to > $1)")
            .bind(&on_text)
            .bind(id)
            .bind(&latest)
            .execute(&mut *tx)
            .await
            .ctx("binding an endpoint")?;
        sqlx::query(
            "INSERT INTO endpoint_bindings (endpoint_id, unit_id, valid_from) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(unit_id)
        .bind(&on_text)
        .execute(&mut *tx)
        .await
        .ctx("binding an endpoint")?;
        let details = json!({"unit": unit_id, "from": on_text});
        audit::append(&mut tx, actor, "endpoint.bind", &target(id), &details).await?;
        tx.commit().await.ctx("binding an endpoint")?;
        Ok(())
    }

    /// The endpoint's bindings, oldest first.
    pub async fn bindings(&self, id: &str) -> Result<Vec<Binding>, EndpointError> {
        const DOING: &str = "reading endpoint bindings";
        let rows = sqlx::query(
            "SELECT unit_id, valid_from, valid_to FROM endpoint_bindings WHERE endpoint_id = $1 ORDER BY valid_from",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        let bad = crate::control::org::decode_err(DOING);
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let from: String = row.try_get(1).ctx(DOING)?;
            let to: Option<String> = row.try_get(2).ctx(DOING)?;
            out.push(Binding {
                unit_id: row.try_get(0).ctx(DOING)?,
                valid_from: date::parse(&from).map_err(&bad)?,
                valid_to: to.map(|t| date::parse(&t)).transpose().map_err(&bad)?,
            });
        }
        if out.is_empty() {
            self.get(id).await?;
        }
        Ok(out)
    }

    /// The unit the endpoint belongs to on `on` (following merges).
    pub async fn unit_at(&self, id: &str, on: Date) -> Result<Option<OrgUnit>, EndpointError> {
        let binding = self
            .bindings(id)
            .await?
            .into_iter()
            .find(|b| b.valid_from <= on && b.valid_to.is_none_or(|t| on < t));
        match binding {
            Some(b) => Ok(OrgTree::new(self.store.clone())
                .resolve(&b.unit_id, on)
                .await?),
            None => Ok(None),
        }
    }

    /// Every endpoint's binding on `on` in one query: endpoint id → the
    /// unit id it was bound to (not yet following merges; see `unit_at`).
    pub async fn bindings_on(
        &self,
        on: Date,
    ) -> Result<std::collections::HashMap<String, String>, EndpointError> {
        use sqlx::Row;
        const DOING: &str = "reading endpoint bindings";
        let rows = sqlx::query(
            "SELECT endpoint_id, unit_id FROM endpoint_bindings
             WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
        )
        .bind(date::to_text(on))
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).ctx(DOING)?, r.try_get(1).ctx(DOING)?)))
            .collect()
    }

    /// Endpoints bound to `unit_id` on `on`, by name.
    pub async fn bound_to(&self, unit_id: &str, on: Date) -> Result<Vec<Endpoint>, EndpointError> {
        let rows = sqlx::query(&format!(
            "{SELECT_ENDPOINT} WHERE id IN (SELECT endpoint_id FROM endpoint_bindings
             WHERE unit_id = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2))
             ORDER BY name, id"
        ))
        .bind(unit_id)
        .bind(date::to_text(on))
        .fetch_all(self.store.pool())
        .await
        .ctx("listing bound endpoints")?;
        Ok(rows
            .iter()
            .map(endpoint_from_row)
            .collect::<Result<_, _>>()?)
    }
}
