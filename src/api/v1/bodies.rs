//! Bodies over HTTP: a BCH or BTV of a term, its members over dated spans,
//! and their CSV import. A closed meeting that names its body takes the
//! members it has on the meeting's date (`control::bodies`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, QueryParams};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::bodies::{Bodies, Body, BodyDraft, BodyError, BodyMember};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{OrgRead, OrgWrite};
    const T: &str = "bodies";
    api.add(
        Op::get("/api/v1/bodies", OrgRead, T)
            .summary("Bodies (Ban Chấp hành, Ban Thường vụ) by name and term")
            .returns::<BodyList>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/bodies", OrgWrite, T)
            .summary("Create a body for a term")
            .body::<BodyDraft>()
            .returns_with::<Body>(StatusCode::CREATED),
        post(create),
    )
    .add(
        Op::get("/api/v1/bodies/{id}", OrgRead, T)
            .summary("A body and its members: every span, or those valid on `on`")
            .query::<OnQuery>()
            .returns::<BodyWithMembers>(),
        get(one),
    )
    .add(
        Op::post("/api/v1/bodies/{id}/members", OrgWrite, T)
            .summary("Add membership spans (all or none)")
            .body::<MembersBody>()
            .returns_with::<MemberList>(StatusCode::CREATED),
        post(add_members),
    )
    .add(
        Op::post("/api/v1/bodies/{id}/members/{member}/end", OrgWrite, T)
            .summary("End a membership span on a date (exclusive)")
            .body::<EndBody>()
            .returns::<BodyWithMembers>(),
        post(end_member),
    )
    .add(
        Op::post("/api/v1/bodies/{id}/import", OrgWrite, T)
            .summary("Import members from CSV: login,position,voting,valid_from,valid_to (all rows or none)")
            .raw_body("text/csv")
            .returns_with::<MemberList>(StatusCode::CREATED),
        post(import),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct BodyList {
    bodies: Vec<Body>,
}

#[derive(Serialize, JsonSchema)]
pub struct BodyWithMembers {
    #[serde(flatten)]
    body: Body,
    members: Vec<BodyMember>,
}

#[derive(Serialize, JsonSchema)]
pub struct MemberList {
    members: Vec<BodyMember>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnQuery {
    /// `YYYY-MM-DD`: only the members on that date.
    on: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    /// At most 2000 spans.
    members: Vec<NewMember>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    user_id: String,
    position: String,
    voting: bool,
    /// `YYYY-MM-DD`.
    valid_from: String,
    /// `YYYY-MM-DD`, exclusive; none while still a member.
    #[serde(default)]
    valid_to: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    /// `YYYY-MM-DD`: the first day they are no longer a member.
    valid_to: String,
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        let message = e.to_string();
        match e {
            BodyError::Store(s) => crate::api::auth::store_error(s),
            BodyError::Unknown(_) => ApiError::not_found("unknown_body", message),
            BodyError::UnknownMember(_) => ApiError::not_found("unknown_member", message),
            BodyError::Invalid { field, .. } => ApiError::invalid(field, message),
            BodyError::Import { row, column, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
                    .with_field(format!("row {row}.{column}"))
            }
        }
    }
}

fn bodies(state: &AppState) -> Bodies {
    Bodies::new(state.store.clone())
}

fn date(field: &str, v: &str) -> Result<time::Date, ApiError> {
    crate::store::date::parse(v).map_err(|e| ApiError::invalid(field, e))
}

async fn list(State(state): State<AppState>) -> Result<Json<BodyList>, ApiError> {
    Ok(Json(BodyList {
        bodies: bodies(&state).list().await?,
    }))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(d): JsonBody<BodyDraft>,
) -> Result<(StatusCode, Json<Body>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(bodies(&state).create(&caller.actor(), d).await?),
    ))
}

async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<OnQuery>,
) -> Result<Json<BodyWithMembers>, ApiError> {
    let on = q.on.as_deref().map(|d| date("on", d)).transpose()?;
    let b = bodies(&state);
    Ok(Json(BodyWithMembers {
        body: b.get(&id).await?,
        members: b.members(&id, on).await?,
    }))
}

async fn add_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MembersBody>,
) -> Result<(StatusCode, Json<MemberList>), ApiError> {
    if b.members.len() > crate::control::bodies::MAX_IMPORT_ROWS {
        return Err(ApiError::invalid("members", "at most 2000 spans at once"));
    }
    let mut members = Vec::with_capacity(b.members.len());
    for (i, m) in b.members.into_iter().enumerate() {
        members.push(BodyMember {
            id: String::new(),
            user_id: m.user_id,
            position: m.position,
            voting: m.voting,
            valid_from: date(&format!("members[{i}].valid_from"), &m.valid_from)?,
            valid_to: m
                .valid_to
                .as_deref()
                .map(|d| date(&format!("members[{i}].valid_to"), d))
                .transpose()?,
        });
    }
    let added = bodies(&state)
        .add_members(&caller.actor(), &id, members)
        .await?;
    Ok((StatusCode::CREATED, Json(MemberList { members: added })))
}

async fn end_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member)): Path<(String, String)>,
    JsonBody(b): JsonBody<EndBody>,
) -> Result<Json<BodyWithMembers>, ApiError> {
    let on = date("valid_to", &b.valid_to)?;
    let bs = bodies(&state);
    bs.end_member(&caller.actor(), &id, &member, on).await?;
    Ok(Json(BodyWithMembers {
        body: bs.get(&id).await?,
        members: bs.members(&id, None).await?,
    }))
}

async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<MemberList>), ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !kind.starts_with("text/csv") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send text/csv, not {kind:?}"),
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::bad_request(
            "not_utf8",
            "the file is not UTF-8 text; save the spreadsheet as CSV UTF-8",
        )
    })?;
    super::check_len("body", text, 1_000_000)?;
    let added = bodies(&state)
        .import_csv(&caller.actor(), &id, text)
        .await?;
    Ok((StatusCode::CREATED, Json(MemberList { members: added })))
}
