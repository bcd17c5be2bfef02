//! The org tree over HTTP: the tree as of a date, a unit's history, the
//! dated changes a decree makes (create, rename, move, merge, dissolve), and
//! CSV/JSON import and export.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, QueryParams, check_len, date_or_today, parse_date};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::org::{MergeTarget, NewUnit, OrgKind, OrgTree, OrgUnit, UnitAt, UnitHistory};
use crate::store::date;

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{OrgRead, OrgWrite};
    api.add(
        Op::get("/api/v1/org/units", OrgRead, "org")
            .summary("The org tree as of a date (default today)")
            .query::<OnQuery>()
            .returns::<UnitList>(),
        get(tree),
    )
    .add(
        Op::post("/api/v1/org/units", OrgWrite, "org")
            .summary("Create a unit from a date")
            .body::<NewUnitBody>()
            .returns_with::<OrgUnit>(StatusCode::CREATED),
        post(create),
    )
    .add(
        Op::get("/api/v1/org/units/{id}", OrgRead, "org")
            .summary("A unit and every version of its name and parent")
            .returns::<UnitHistory>(),
        get(history),
    )
    .add(
        Op::get("/api/v1/org/units/{id}/descendants", OrgRead, "org")
            .summary(
                "Units below one as of a date, optionally of some kinds (\"all communes of X\")",
            )
            .query::<DescendantsQuery>()
            .returns::<UnitList>(),
        get(descendants),
    )
    .add(
        Op::post("/api/v1/org/units/{id}/rename", OrgWrite, "org")
            .summary("Rename a unit from a date (history is kept)")
            .body::<RenameBody>(),
        post(rename),
    )
    .add(
        Op::post("/api/v1/org/units/{id}/move", OrgWrite, "org")
            .summary("Put a unit under another parent from a date")
            .body::<MoveBody>(),
        post(move_unit),
    )
    .add(
        Op::post("/api/v1/org/units/{id}/dissolve", OrgWrite, "org")
            .summary("Dissolve a unit on a date")
            .body::<OnBody>(),
        post(dissolve),
    )
    .add(
        Op::post("/api/v1/org/merge", OrgWrite, "org")
            .summary("Merge units into an existing or a new unit on a date")
            .body::<MergeBody>()
            .returns::<OrgUnit>(),
        post(merge),
    )
    .add(
        Op::post("/api/v1/org/import", OrgWrite, "org")
            .summary("Import units from CSV (text/csv) or JSON (application/json); all or nothing")
            .raw_body("text/csv")
            .returns::<UnitList>(),
        post(import),
    )
    .add(
        Op::get("/api/v1/org/export", OrgRead, "org")
            .summary("Export the tree as of a date as CSV or JSON")
            .query::<ExportQuery>()
            .returns_raw("text/csv"),
        get(export),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnQuery {
    /// `YYYY-MM-DD`; default today (province time).
    pub on: Option<String>,
}

pub use OnQuery as OnQueryDoc;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescendantsQuery {
    on: Option<String>,
    /// Comma-separated kinds, e.g. `commune,ward`; empty for every kind.
    kinds: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    on: Option<String>,
    /// `csv` (default) or `json`.
    format: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct UnitList {
    #[schemars(with = "String")]
    on: time::Date,
    units: Vec<UnitAt>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnitBody {
    code: String,
    name: String,
    kind: OrgKind,
    parent_id: Option<String>,
    /// The day it begins, `YYYY-MM-DD`.
    on: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    name: String,
    on: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// `null` makes it a top-level unit.
    parent_id: Option<String>,
    on: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnBody {
    on: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum MergeInto {
    /// An existing unit id absorbs the others.
    Existing(String),
    /// A new unit is created on the merge date.
    New {
        code: String,
        name: String,
        kind: OrgKind,
        parent_id: Option<String>,
    },
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    sources: Vec<String>,
    into: MergeInto,
    on: String,
}

fn tree_of(state: &AppState) -> OrgTree {
    OrgTree::new(state.store.clone())
}

async fn tree(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<OnQuery>,
) -> Result<Json<UnitList>, ApiError> {
    let on = date_or_today("on", q.on.as_deref())?;
    Ok(Json(UnitList {
        on,
        units: tree_of(&state).tree_at(on).await?,
    }))
}

async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UnitHistory>, ApiError> {
    Ok(Json(tree_of(&state).history(&id).await?))
}

pub fn parse_kinds(field: &str, text: Option<&str>) -> Result<Vec<OrgKind>, ApiError> {
    text.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e: String| ApiError::invalid(field, e)))
        .collect()
}

async fn descendants(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<DescendantsQuery>,
) -> Result<Json<UnitList>, ApiError> {
    let on = date_or_today("on", q.on.as_deref())?;
    let kinds = parse_kinds("kinds", q.kinds.as_deref())?;
    let tree = tree_of(&state);
    // Unknown ids are a 404, not an empty list.
    tree.unit(&id).await?;
    Ok(Json(UnitList {
        on,
        units: tree.descendants(&id, on, &kinds).await?,
    }))
}

/// The unit must sit inside the caller's subtree, when the caller has one.
/// (Org writes are province-level today; kept so a future scoped writer
/// cannot slip past.)
async fn check_scope(
    state: &AppState,
    caller: &Caller,
    unit: &str,
    on: time::Date,
) -> Result<(), ApiError> {
    super::endpoints::check_unit_scope(state, caller, Action::OrgWrite, unit, on).await
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<NewUnitBody>,
) -> Result<Response, ApiError> {
    let on = parse_date("on", &b.on)?;
    if let Some(parent) = &b.parent_id {
        check_scope(&state, &caller, parent, on).await?;
    }
    let unit = tree_of(&state)
        .create(
            &caller.actor(),
            NewUnit {
                code: b.code,
                name: b.name,
                kind: b.kind,
                parent_id: b.parent_id,
            },
            on,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(unit)).into_response())
}

async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RenameBody>,
) -> Result<StatusCode, ApiError> {
    let on = parse_date("on", &b.on)?;
    check_scope(&state, &caller, &id, on).await?;
    tree_of(&state)
        .rename(&caller.actor(), &id, &b.name, on)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn move_unit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MoveBody>,
) -> Result<StatusCode, ApiError> {
    let on = parse_date("on", &b.on)?;
    check_scope(&state, &caller, &id, on).await?;
    tree_of(&state)
        .move_to(&caller.actor(), &id, b.parent_id.as_deref(), on)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn dissolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<OnBody>,
) -> Result<StatusCode, ApiError> {
    let on = parse_date("on", &b.on)?;
    check_scope(&state, &caller, &id, on).await?;
    tree_of(&state).dissolve(&caller.actor(), &id, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<MergeBody>,
) -> Result<Json<OrgUnit>, ApiError> {
    let on = parse_date("on", &b.on)?;
    if b.sources.is_empty() || b.sources.len() > 500 {
        return Err(ApiError::invalid(
            "sources",
            "merge 1 to 500 units (a merge of one is a rename into a new unit)",
        ));
    }
    for s in &b.sources {
        check_scope(&state, &caller, s, on).await?;
    }
    let into = match b.into {
        MergeInto::Existing(id) => {
            check_scope(&state, &caller, &id, on).await?;
            MergeTarget::Existing(id)
        }
        MergeInto::New {
            code,
            name,
            kind,
            parent_id,
        } => MergeTarget::New(NewUnit {
            code,
            name,
            kind,
            parent_id,
        }),
    };
    let sources: Vec<&str> = b.sources.iter().map(String::as_str).collect();
    Ok(Json(
        tree_of(&state)
            .merge(&caller.actor(), &sources, into, on)
            .await?,
    ))
}

async fn import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UnitList>, ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::bad_request(
            "not_utf8",
            "the file is not UTF-8 text; save the spreadsheet as CSV UTF-8",
        )
    })?;
    check_len("body", text, 5_000_000)?;
    let tree = tree_of(&state);
    let units = match kind.as_str() {
        "text/csv" => tree.import_csv(&caller.actor(), text).await?,
        "application/json" => tree.import_json(&caller.actor(), text).await?,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send text/csv or application/json, not {other:?}"),
            ));
        }
    };
    Ok(Json(UnitList {
        on: super::today(),
        units,
    }))
}

async fn export(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let on = date_or_today("on", q.on.as_deref())?;
    let tree = tree_of(&state);
    let (body, content_type, ext) = match q.format.as_deref().unwrap_or("csv") {
        "csv" => (tree.export_csv(on).await?, "text/csv; charset=utf-8", "csv"),
        "json" => (tree.export_json(on).await?, "application/json", "json"),
        other => {
            return Err(ApiError::invalid(
                "format",
                format!("{other:?} is not an export format; use csv or json"),
            ));
        }
    };
    let disposition = format!(
        "attachment; filename=\"don-vi-{}.{ext}\"",
        date::to_text(on)
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
