//! People administration: list, create, edit, disable, reset a password.
//! Only an admin changes people; readers pick chairs and secretaries.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, response::IntoResponse, response::Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::people::{People, User, UserDetails};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{UsersRead, UsersWrite};
    api.add(
        Op::get("/api/v1/users", UsersRead, "users")
            .summary("Every user, by login")
            .returns::<UserList>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/users", UsersWrite, "users")
            .summary("Create a user with roles and an initial password")
            .body::<NewUser>()
            .returns_with::<User>(StatusCode::CREATED),
        post(create),
    )
    .add(
        Op::get("/api/v1/users/{id}", UsersRead, "users")
            .summary("One user")
            .returns::<User>(),
        get(one),
    )
    .add(
        Op::patch("/api/v1/users/{id}", UsersWrite, "users")
            .summary("Change a user's name, roles, scope, or disable them")
            .body::<UserPatch>()
            .returns::<User>(),
        axum::routing::patch(update),
    )
    .add(
        Op::post("/api/v1/users/{id}/password", UsersWrite, "users")
            .summary("Set a user's password (ends their sessions)")
            .body::<PasswordReset>(),
        post(reset_password),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct UserList {
    users: Vec<User>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    login: String,
    password: String,
    display_name: String,
    roles: std::collections::BTreeSet<crate::control::people::Role>,
    /// Required for a sub-operator: the unit whose subtree they work on.
    scope_unit_id: Option<String>,
}

/// Only the fields sent change.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    display_name: Option<String>,
    roles: Option<std::collections::BTreeSet<crate::control::people::Role>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "super::present")]
    #[schemars(with = "Option<String>")]
    scope_unit_id: Option<Option<String>>,
    disabled: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    password: String,
}

async fn list(Extension(people): Extension<People>) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList {
        users: people.list().await?,
    }))
}

async fn one(
    Extension(people): Extension<People>,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(people.get(&id).await?))
}

async fn create(
    Extension(people): Extension<People>,
    caller: Caller,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    let user = people
        .create(
            &caller.actor(),
            &body.login,
            UserDetails {
                display_name: body.display_name,
                roles: body.roles,
                scope_unit_id: body.scope_unit_id,
            },
            &body.password,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn update(
    Extension(people): Extension<People>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<Json<User>, ApiError> {
    let current = people.get(&id).await?;
    // An admin locking themselves out (dropping their own admin role or
    // disabling themselves) leaves a province with no one to fix it.
    if caller.person().is_some_and(|p| p.user.id == id) {
        let drops_admin = patch
            .roles
            .as_ref()
            .is_some_and(|r| !r.contains(&crate::control::people::Role::Admin));
        if drops_admin || patch.disabled == Some(true) {
            return Err(ApiError::conflict(
                "self_lockout",
                "you cannot remove your own admin role or disable yourself; ask another admin",
            ));
        }
    }
    let details = UserDetails {
        display_name: patch
            .display_name
            .unwrap_or(current.details.display_name.clone()),
        roles: patch.roles.unwrap_or(current.details.roles.clone()),
        scope_unit_id: match patch.scope_unit_id {
            Some(v) => v,
            None => current.details.scope_unit_id.clone(),
        },
    };
    let actor = caller.actor();
    let mut user = if details != current.details {
        people.update(&actor, &id, details).await?
    } else {
        current
    };
    if let Some(disabled) = patch.disabled
        && disabled != user.disabled
    {
        people.set_disabled(&actor, &id, disabled).await?;
        user = people.get(&id).await?;
    }
    Ok(Json(user))
}

async fn reset_password(
    Extension(people): Extension<People>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    people
        .set_password(&caller.actor(), &id, &body.password)
        .await
        .map_err(|e| match e {
            crate::control::people::PeopleError::Invalid { .. } => {
                ApiError::from(e).with_field("password")
            }
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
