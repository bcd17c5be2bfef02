//! The one error type of the HTTP surface and its one mapping to a response:
//! status + `{"error":{"code","message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::media::CommandError;
use crate::net::MediaError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Command(c) => c.into(),
            MediaError::Busy => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            }
            MediaError::Stopped | MediaError::Bind { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "media_unavailable",
                e.to_string(),
            ),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let (status, code) = match &e {
            CommandError::UnknownParticipant(_) => (StatusCode::NOT_FOUND, "unknown_session"),
            CommandError::UnknownRoom(_) => (StatusCode::NOT_FOUND, "room_not_live"),
            CommandError::DuplicateParticipant(_) => (StatusCode::CONFLICT, "duplicate"),
            CommandError::BadSdp(_) => (StatusCode::BAD_REQUEST, "bad_sdp"),
            CommandError::NoUsableCodec => (StatusCode::UNPROCESSABLE_ENTITY, "no_usable_codec"),
            CommandError::NotInRoom(..) => (StatusCode::UNPROCESSABLE_ENTITY, "not_in_room"),
            CommandError::SessionFailed => (StatusCode::INTERNAL_SERVER_ERROR, "session_failed"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// A JSON request body whose rejection (bad JSON, wrong types, unknown
/// fields, wrong content type) is an [`ApiError`] like every other error.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::new(e.status(), "bad_body", e.body_text())
    }
}
