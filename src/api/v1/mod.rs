//! The `/api/v1` routes, one module per resource. [`api`] lists every
//! operation once: its permission, its types, its handler.

mod agenda;
mod audit;
mod bodies;
mod cascade;
mod checks;
mod composite_page;
mod documents;
mod endpoints;
mod live;
mod live_stream;
pub mod meetings;
pub mod minutes;
pub(crate) mod minutes_seal;
mod minutes_sign;
mod org;
mod quality;
pub mod recordings;
mod relay;
mod results_pdf;
mod signatures;
mod users;
mod voting;

use axum::http::StatusCode;
use time::Date;

use super::ApiError;
use super::openapi::Api;
use crate::control::endpoints::EndpointError;
use crate::control::org::{ImportError, OrgError};
use crate::store::date;

pub use super::AppState;
pub use super::error::QueryParams;

/// Every documented `/api/v1` operation.
pub fn api() -> Api<AppState> {
    let api = Api::default();
    let api = super::auth::add_routes(api);
    let api = users::add_routes(api);
    let api = org::add_routes(api);
    let api = bodies::add_routes(api);
    let api = endpoints::add_routes(api);
    let api = meetings::add_routes(api);
    let api = live::add_routes(api);
    let api = live_stream::add_routes(api);
    let api = checks::add_routes(api);
    let api = quality::add_routes(api);
    let api = agenda::add_routes(api);
    let api = documents::add_routes(api);
    let api = voting::add_routes(api);
    let api = minutes::add_routes(api);
    let api = minutes_sign::add_routes(api);
    let api = results_pdf::add_routes(api);
    let api = recordings::add_routes(api);
    let api = cascade::add_routes(api);
    let api = relay::add_routes(api);
    let api = signatures::add_routes(api);
    audit::add_routes(api)
}

/// A file as an answer: its media type and its name, `inline` (shown in
/// the browser) or as an `attachment` (saved).
pub fn file_answer(
    body: impl Into<axum::body::Body>,
    mime: &'static str,
    inline: bool,
    name: &str,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut r = axum::response::Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    let how = if inline { "inline" } else { "attachment" };
    if let Ok(v) = HeaderValue::from_str(&format!("{how}; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// For PATCH bodies: a field that is present (even as `null`) is
/// `Some(value)`; an absent one stays `None` through `#[serde(default)]`.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// The province's civil offset: Asia/Ho_Chi_Minh is UTC+07:00 all year.
pub const PROVINCE_OFFSET: time::UtcOffset = time::macros::offset!(+7);

/// Today in the province.
pub fn today() -> Date {
    time::OffsetDateTime::now_utc()
        .to_offset(PROVINCE_OFFSET)
        .date()
}

/// A `YYYY-MM-DD` request value, or 422 naming `field`.
pub fn parse_date(field: &str, text: &str) -> Result<Date, ApiError> {
    date::parse(text).map_err(|e| ApiError::invalid(field, e))
}

/// An optional date defaulting to today.
pub fn date_or_today(field: &str, text: Option<&str>) -> Result<Date, ApiError> {
    text.map_or_else(|| Ok(today()), |t| parse_date(field, t))
}

/// A string field's length bound, checked before it reaches the domain so
/// a megabyte of text never gets as far as the database.
pub fn check_len(field: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    if value.chars().count() > max_chars {
        return Err(ApiError::invalid(
            field,
            format!("at most {max_chars} characters"),
        ));
    }
    Ok(())
}

impl From<OrgError> for ApiError {
    fn from(e: OrgError) -> Self {
        match e {
            OrgError::Store(s) => super::auth::store_error(s),
            OrgError::UnknownUnit(_) => ApiError::not_found("unknown_unit", e.to_string()),
            OrgError::DuplicateCode(_) => ApiError::conflict("duplicate_code", e.to_string()),
            OrgError::Invalid { field, .. } => ApiError::invalid(field, e.to_string()),
            OrgError::ParentMissing { .. } | OrgError::ParentEnds { .. } => {
                ApiError::invalid("parent_id", e.to_string())
            }
            OrgError::Cycle { .. } => ApiError::invalid("parent_id", e.to_string()),
            OrgError::BeforeCreation { .. } | OrgError::Ended { .. } => {
                ApiError::invalid("on", e.to_string())
            }
            OrgError::LaterChanges { .. }
            | OrgError::HasChildren { .. }
            | OrgError::HasEndpoints { .. } => ApiError::conflict("unit_in_use", e.to_string()),
        }
    }
}

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Store(s) => super::auth::store_error(s),
            EndpointError::Org(o) => o.into(),
            EndpointError::Unknown(_) => ApiError::not_found("unknown_endpoint", e.to_string()),
            EndpointError::Invalid { field, .. } => ApiError::invalid(field, e.to_string()),
            EndpointError::BindingOrder { .. } => ApiError::invalid("on", e.to_string()),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(s) => super::auth::store_error(s),
            ImportError::Row {
                place,
                index,
                column,
                ..
            } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string())
                .with_field(format!("{place} {index}.{column}")),
            ImportError::Format(_) => ApiError::bad_request("bad_import", e.to_string()),
        }
    }
}
