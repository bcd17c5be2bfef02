//! The one error type of the HTTP surface and its one mapping to a response:
//! status + `{"error":{"code","message","field"?}}` — `field` names the
//! offending request field on 400/422 (`starts_at_ms`, `unit_queries[2].unit_id`).

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
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }
    /// 422 naming the field whose value is refused.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with_field(field)
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
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
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            error["field"] = field.into();
        }
        let body = serde_json::json!({ "error": error });
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
            MediaError::Stopped | MediaError::Bind { .. } | MediaError::BindTcp { .. } => {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "media_unavailable",
                    e.to_string(),
                )
            }
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
            CommandError::NotARelay(_) => (StatusCode::UNPROCESSABLE_ENTITY, "not_a_relay"),
            CommandError::SessionFailed => (StatusCode::INTERNAL_SERVER_ERROR, "session_failed"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// A JSON request body whose rejection (bad JSON, wrong types, unknown
/// fields, wrong content type) is an [`ApiError`] like every other error.
///
/// The body must be a JSON **object**: serde would otherwise fill a struct
/// from an array by field position (`["Xã A", "2025-07-01"]` as a rename),
/// which no client means and no schema documents (found by the random-JSON
/// test).
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "the body must be a JSON object with named fields",
            ));
        }
        serde_path_to_error::deserialize(value)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let text = format!(
                    "Failed to deserialize the JSON body into the target type: {}{}",
                    if path == "." {
                        String::new()
                    } else {
                        format!("{path}: ")
                    },
                    e.inner()
                );
                let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", text);
                error.field = json_error_field(&error.message);
                error
            })
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        let text = e.body_text();
        let field = json_error_field(&text);
        let (status, code) = match &e {
            // Well-formed JSON of the wrong shape: a field to name, 422.
            J::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            J::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "bad_json"),
            J::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_json"),
            // Too large (413) and anything else keep axum's status.
            _ => (e.status(), "bad_body"),
        };
        let mut error = ApiError::new(status, code, text);
        error.field = field;
        error
    }
}

/// Name the field from serde_path_to_error's text: "…target type: title:
/// invalid type…" → `title`; "…: recurrence: missing field `freq`…" →
/// `recurrence.freq`; "…: extra: unknown field `extra`…" → `extra` (for an
/// unknown field the path already ends at it).
fn json_error_field(text: &str) -> Option<String> {
    let rest = text.split_once("target type: ").map(|(_, r)| r)?;
    let named = |marker: &str, s: &str| -> Option<String> {
        let (_, after) = s.split_once(marker)?;
        Some(after.split('`').next()?.to_string())
    };
    if let Some(name) = named("missing field `", rest) {
        return Some(match rest.split_once(": ") {
            Some((prefix, tail)) if tail.starts_with("missing field") && prefix != "." => {
                format!("{prefix}.{name}")
            }
            _ => name,
        });
    }
    if rest.starts_with("unknown field `") {
        return named("unknown field `", rest);
    }
    let (path, _) = rest.split_once(": ")?;
    (!path.contains(' ') && path != ".").then(|| path.to_string())
}

/// Query parameters whose rejection is an [`ApiError`] (422 naming the
/// parameter when serde says which).
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        let text = e.body_text();
        let field = text
            .split('`')
            .nth(1)
            .filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .map(str::to_string);
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "bad_query", text);
        error.field = field;
        error
    }
}

#[cfg(test)]
mod tests {
    use super::json_error_field;

    #[test]
    fn serde_messages_name_the_field() {
        let f = |t: &str| {
            json_error_field(&format!(
                "Failed to deserialize the JSON body into the target type: {t}"
            ))
        };
        assert_eq!(
            f("title: invalid type: integer `5`, expected a string at line 1 column 11").as_deref(),
            Some("title")
        );
        assert_eq!(
            f("missing field `title` at line 1 column 2").as_deref(),
            Some("title")
        );
        assert_eq!(
            f("recurrence: missing field `freq` at line 1 column 40").as_deref(),
            Some("recurrence.freq")
        );
        assert_eq!(
            f("extra: unknown field `extra`, expected one of `a` at line 1 column 19").as_deref(),
            Some("extra")
        );
        assert_eq!(
            f("unit_queries[2].unit_id: invalid type: null").as_deref(),
            Some("unit_queries[2].unit_id")
        );
    }
}
