//! Meeting documents over HTTP: upload (the raw file as the body,
//! streamed), list, download with Range and ETag, confirm a held document,
//! recall after the meeting. Reading follows the meeting: whoever may see
//! the meeting (a room: only its own) may read its available documents.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meetings::visible_meeting;
use super::{AppState, QueryParams};
use crate::api::ApiError;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::control::documents::range::{self, RangeAnswer};
use crate::control::documents::watermark::ReadStamp;
use crate::control::documents::{
    Classification, DocKind, DocState, Document, DocumentError, Documents, UploadMeta,
};
use crate::control::meetings::Meeting;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{DocumentsWrite, MeetingsRead};
    api.add(
        Op::get("/api/v1/meetings/{id}/documents", MeetingsRead, "documents")
            .summary("A meeting's documents, every version (held ones only for document writers)")
            .returns::<DocumentList>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/documents", DocumentsWrite, "documents")
            .summary(
                "Upload a document: the file itself is the body (PDF, PNG, JPEG, DOCX, XLSX, PPTX, ODT, ODS, ODP, \
                 recognised by content); only classification thuong is accepted",
            )
            .query::<UploadQuery>()
            .raw_body("application/octet-stream")
            .returns_with::<Document>(StatusCode::CREATED),
        post(upload),
    )
    .add(
        Op::post(
            "/api/v1/meetings/{id}/documents/recall",
            DocumentsWrite,
            "documents",
        )
        .summary("Recall every document of an ended meeting: nobody reads them any more")
        .returns::<RecallAnswer>(),
        post(recall),
    )
    .add(
        Op::get(
            "/api/v1/meetings/{id}/documents/{doc}",
            MeetingsRead,
            "documents",
        )
        .summary("One document's description")
        .returns::<Document>(),
        get(one),
    )
    .add(
        Op::get(
            "/api/v1/meetings/{id}/documents/{doc}/content",
            MeetingsRead,
            "documents",
        )
        .summary("The document's bytes; Range (one range), ETag (its SHA-256), If-None-Match, If-Range")
        .returns_raw("application/octet-stream"),
        get(content),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/book", MeetingsRead, "documents")
            .summary(
                "The meeting book: the latest version of every available document with its size and SHA-256, \
                 for rooms to pre-fetch, and which rooms already fetched each",
            )
            .returns::<MeetingBook>(),
        get(book),
    )
    .add(
        Op::post(
            "/api/v1/meetings/{id}/documents/{doc}/confirm",
            DocumentsWrite,
            "documents",
        )
        .summary("Confirm a held document (a MẬT stamp was seen) is ordinary: readers see it")
        .returns::<Document>(),
        post(confirm),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct DocumentList {
    documents: Vec<Document>,
}

/// One document in the meeting book.
#[derive(Serialize, JsonSchema)]
pub struct BookEntry {
    #[serde(flatten)]
    document: Document,
    /// Where to fetch its bytes (Range and ETag supported).
    url: String,
    /// Room endpoints that fetched it whole (a room sees only itself).
    fetched_by: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct MeetingBook {
    meeting_id: String,
    documents: Vec<BookEntry>,
    /// What a room downloads to hold the whole book.
    total_bytes: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct RecallAnswer {
    /// How many documents this call recalled.
    recalled: u64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// 1 to 300 characters.
    title: String,
    /// `thuong`; `mat`, `toi_mat` and `tuyet_mat` are refused.
    classification: String,
    agenda_item_id: Option<String>,
    /// The id of the document this upload is a new version of.
    supersedes: Option<String>,
}

impl From<DocumentError> for ApiError {
    fn from(e: DocumentError) -> Self {
        let text = e.to_string();
        match e {
            DocumentError::Store(s) => crate::api::auth::store_error(s),
            DocumentError::UnknownMeeting(_) => ApiError::not_found("unknown_meeting", text),
            DocumentError::Unknown(_) => ApiError::not_found("unknown_document", text),
            DocumentError::Invalid { field, .. } => ApiError::invalid(field, text),
            DocumentError::Classified(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "classified", text)
                    .with_field("classification")
            }
            DocumentError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", text)
            }
            DocumentError::UnsupportedType => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type", text)
            }
            DocumentError::Truncated(_) => ApiError::bad_request("truncated", text),
            DocumentError::Objects(_) => {
                tracing::error!(error = %text, "document storage failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage_failed",
                    "document storage failed",
                )
            }
            DocumentError::MeetingOver { .. } => ApiError::conflict("meeting_over", text),
            DocumentError::MeetingNotOver { .. } => ApiError::conflict("meeting_not_over", text),
            DocumentError::Superseded { .. } => ApiError::conflict("superseded", text),
            DocumentError::NotHeld(_) => ApiError::conflict("not_held", text),
            DocumentError::Held(_) => ApiError::conflict("held", text),
            DocumentError::Recalled(_) => ApiError::new(StatusCode::GONE, "recalled", text),
            DocumentError::PdfUnreadable(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "pdf_unreadable", text)
            }
            DocumentError::PdfTooLarge(_) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "pdf_too_large", text)
            }
        }
    }
}

fn documents(state: &AppState) -> Result<Documents, ApiError> {
    Ok(state.documents.clone())
}

/// A sub-operator changes documents only of meetings inside their subtree.
/// The meeting whose documents `caller` changes: its secretary or operators.
async fn writable(state: &AppState, caller: &Caller, id: &str) -> Result<Meeting, ApiError> {
    super::meetings::acting_on(state, caller, id, Action::DocumentsWrite).await
}

/// A document this caller may read: held ones only for document writers
/// (others do not learn they exist), recalled ones for nobody.
async fn readable(
    state: &AppState,
    caller: &Caller,
    meeting_id: &str,
    doc_id: &str,
) -> Result<Document, ApiError> {
    visible_meeting(state, caller, meeting_id).await?;
    let doc = documents(state)?.get(meeting_id, doc_id).await?;
    match doc.state {
        DocState::Held if !caller.permits(Action::DocumentsWrite) => {
            Err(DocumentError::Unknown(doc_id.to_string()).into())
        }
        DocState::Recalled => Err(DocumentError::Recalled(doc_id.to_string()).into()),
        _ => Ok(doc),
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DocumentList>, ApiError> {
    visible_meeting(&state, &caller, &id).await?;
    let writer = caller.permits(Action::DocumentsWrite);
    Ok(Json(DocumentList {
        documents: documents(&state)?.list(&id, writer).await?,
    }))
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let classification = Classification::parse(&q.classification)
        .map_err(|m| ApiError::invalid("classification", m))?;
    super::check_len("title", &q.title, 1000)?;
    writable(&state, &caller, &id).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let meta = UploadMeta {
        title: q.title,
        classification,
        agenda_item_id: q.agenda_item_id,
        supersedes: q.supersedes,
    };
    let doc = documents(&state)?
        .upload(
            &caller.actor(),
            &id,
            meta,
            declared,
            body.into_data_stream(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Json<Document>, ApiError> {
    visible_meeting(&state, &caller, &id).await?;
    let d = documents(&state)?.get(&id, &doc).await?;
    if d.state == DocState::Held && !caller.permits(Action::DocumentsWrite) {
        return Err(DocumentError::Unknown(doc).into());
    }
    Ok(Json(d))
}

async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, doc_id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = readable(&state, &caller, &id, &doc_id).await?;
    let docs = documents(&state)?;
    // A PDF goes out as the reader's own copy: the stored bytes followed by
    // a watermark tail fixed at their first read, so it has its own length
    // and ETag but stays the same bytes request after request.
    let tail: Vec<u8> = if doc.kind == DocKind::Pdf {
        let stamp = reader_stamp(&state, &docs, &caller, &id, &doc_id).await?;
        docs.watermark_tail(&id, &doc_id, &stamp).await?
    } else {
        Vec::new()
    };
    let etag = if tail.is_empty() {
        format!("\"{}\"", doc.sha256)
    } else {
        let t = hex::encode(Sha256::digest(&tail));
        format!(
            "\"{}-{}\"",
            &doc.sha256[..32.min(doc.sha256.len())],
            &t[..16]
        )
    };
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let common = |mut r: Response| {
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        // Readers revalidate every time, so a recall takes effect at once.
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        r
    };
    if let Some(inm) = text(header::IF_NONE_MATCH)
        && range::none_match(inm, &etag)
    {
        return Ok(common(StatusCode::NOT_MODIFIED.into_response()));
    }
    // If-Range: the range only applies to the very bytes the client has.
    let range_header = match text(header::IF_RANGE) {
        Some(v) if v.trim() != etag => None,
        _ => text(header::RANGE),
    };
    let stored = doc.size_bytes;
    let len = stored + tail.len() as u64;
    let (status, start, end) = match range::answer(range_header, len) {
        RangeAnswer::Full => (StatusCode::OK, 0, len),
        RangeAnswer::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeAnswer::Unsatisfiable => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the document has {len} bytes"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(common(r));
        }
    };
    let stream = docs
        .read(&id, &doc_id, start.min(stored), end.min(stored))
        .await?;
    let tail_part = if end > stored {
        let from = usize::try_from(start.max(stored) - stored).unwrap_or(usize::MAX);
        let to = usize::try_from(end - stored).unwrap_or(usize::MAX);
        tail.get(from..to).map(bytes::Bytes::copy_from_slice)
    } else {
        None
    };
    let stream = stream.chain(futures_util::stream::iter(tail_part.map(Ok)));
    // The book records a room as having the document once its last byte is served.
    if let Some(ep) = caller.endpoint_id()
        && end == len
        && method != Method::HEAD
    {
        docs.record_fetch(&caller.actor(), &doc_id, ep).await?;
    }
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(common(r))
}

/// The reader's stamp on a document: recorded at their first read with the
/// name and unit printed on their copy.
async fn reader_stamp(
    state: &AppState,
    docs: &Documents,
    caller: &Caller,
    meeting_id: &str,
    doc_id: &str,
) -> Result<ReadStamp, ApiError> {
    let reader = match caller {
        Caller::Person(p) => format!("user:{}", p.user.id),
        Caller::Endpoint { endpoint, .. } => format!("endpoint:{}", endpoint.id),
    };
    if let Some(s) = docs.read_stamp(doc_id, &reader).await? {
        return Ok(s);
    }
    let (name, unit) = match caller {
        Caller::Person(p) => {
            let details = &p.user.details;
            let unit = match &details.scope_unit_id {
                Some(u) => match crate::control::meetings::local_date(crate::store::now_ms()) {
                    Some(today) => crate::control::org::OrgTree::new(state.store.clone())
                        .tree_at(today)
                        .await
                        .ok()
                        .and_then(|t| t.into_iter().find(|x| &x.id == u).map(|x| x.name)),
                    None => None,
                },
                None => None,
            };
            let unit = unit.unwrap_or_else(|| {
                details
                    .roles
                    .iter()
                    .next_back()
                    .map(|r| r.label_vi().to_string())
                    .unwrap_or_default()
            });
            (details.display_name.clone(), unit)
        }
        Caller::Endpoint { endpoint, .. } => {
            let unit = crate::control::meetings::Meetings::new(state.store.clone())
                .participants(meeting_id)
                .await
                .ok()
                .and_then(|ps| {
                    ps.into_iter()
                        .find(|p| p.endpoint_id == endpoint.id)
                        .and_then(|p| p.unit_name)
                })
                .unwrap_or_else(|| "Điểm cầu".to_string());
            (endpoint.details.name.clone(), unit)
        }
    };
    Ok(docs
        .record_read(&caller.actor(), doc_id, &reader, &name, &unit)
        .await?)
}

async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Json<Document>, ApiError> {
    writable(&state, &caller, &id).await?;
    Ok(Json(
        documents(&state)?
            .confirm(&caller.actor(), &id, &doc)
            .await?,
    ))
}

async fn recall(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RecallAnswer>, ApiError> {
    writable(&state, &caller, &id).await?;
    Ok(Json(RecallAnswer {
        recalled: documents(&state)?.recall(&caller.actor(), &id).await?,
    }))
}

async fn book(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MeetingBook>, ApiError> {
    visible_meeting(&state, &caller, &id).await?;
    let docs = documents(&state)?;
    let mut fetches = docs.fetches(&id).await?;
    let mut entries = Vec::new();
    let all = docs.list(&id, true).await?;
    // A version counts as replaced only once its successor may be read: a
    // new version held for the secretary leaves the rooms the old one.
    let by_id: std::collections::HashMap<&str, &Document> =
        all.iter().map(|d| (d.id.as_str(), d)).collect();
    let replaced = |d: &Document| {
        let mut next = d.superseded_by.as_deref();
        // Versions form a chain; the bound only guards against a bad row.
        for _ in 0..1000 {
            let Some(n) = next.and_then(|id| by_id.get(id)) else {
                return false;
            };
            if n.state == DocState::Available {
                return true;
            }
            next = n.superseded_by.as_deref();
        }
        false
    };
    for d in all.iter().cloned() {
        let replaced = replaced(&d);
        if d.state != DocState::Available || replaced {
            continue;
        }
        let mut fetched_by = fetches.remove(&d.id).unwrap_or_default();
        if let Some(ep) = caller.endpoint_id() {
            fetched_by.retain(|e| e == ep);
        }
        entries.push(BookEntry {
            url: format!("/api/v1/meetings/{id}/documents/{}/content", d.id),
            document: d,
            fetched_by,
        });
    }
    Ok(Json(MeetingBook {
        total_bytes: entries.iter().map(|e| e.document.size_bytes).sum(),
        meeting_id: id,
        documents: entries,
    }))
}
