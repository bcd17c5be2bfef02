//! Placeholder (issue 4: minutes).

use super::AppState;
use crate::api::openapi::Api;

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    api
}
