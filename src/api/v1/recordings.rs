//! Recordings over HTTP: start and stop a live meeting's recording (by hand,
//! or by itself when `recording.automatic`), list a meeting's recordings
//! with their streams and chapters, download a file with HTTP Range.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::Serialize;

use super::AppState;
use super::meetings::acting_on;
use crate::api::ApiError;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::control::documents::range::{self, RangeAnswer};
use crate::control::meetings::MeetingState;
use crate::control::recordings::{RecordingError, RecordingRow, RecordingState, Recordings};
use crate::recorder::Index;
use crate::store::{Actor, now_ms};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{RecordControl, RecordingsRead};
    const T: &str = "recordings";
    api.add(
        Op::post("/api/v1/meetings/{id}/recordings", RecordControl, T)
            .summary("Start recording a live meeting (per-track files and the program)")
            .returns::<RecordingView>(),
        post(start),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/recordings/stop", RecordControl, T)
            .summary("Stop the meeting's running recording; its files are complete and playable")
            .returns::<RecordingView>(),
        post(stop),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/recordings", RecordingsRead, T)
            .summary("A meeting's recordings with their files and chapters (agenda, floor, stage)")
            .returns::<RecordingList>(),
        get(list),
    )
    .add(
        Op::get(
            "/api/v1/meetings/{id}/recordings/{rec}/{file}",
            RecordingsRead,
            T,
        )
        .summary("One file of a recording (WebM/Matroska, or index.json), with HTTP Range"),
        get(file),
    )
}

/// A recording with what its index says.
#[derive(Serialize, JsonSchema)]
pub struct RecordingView {
    #[serde(flatten)]
    recording: RecordingRow,
    /// Files, chapters and counters from the sidecar `index.json`.
    index: Option<Index>,
}

#[derive(Serialize, JsonSchema)]
pub struct RecordingList {
    recordings: Vec<RecordingView>,
}

impl From<RecordingError> for ApiError {
    fn from(e: RecordingError) -> Self {
        let text = e.to_string();
        match e {
            RecordingError::Store(s) => crate::api::auth::store_error(s),
            RecordingError::AlreadyRecording(_) => ApiError::conflict("already_recording", text),
            RecordingError::NotRecording(_) => ApiError::conflict("not_recording", text),
            RecordingError::Unknown(_) => ApiError::not_found("unknown_recording", text),
        }
    }
}

/// Where the recorder writes: the local store's directory, or the spool
/// in front of an S3 store (`crate::objects`).
fn root(state: &AppState) -> std::path::PathBuf {
    state.objects.recordings.root().to_path_buf()
}

/// From the spool while the recording runs or waits for its upload, else
/// from the store.
async fn read_index(state: &AppState, r: &RecordingRow) -> Option<Index> {
    state.objects.recordings.read_index(&r.dir).await
}

/// Free space on the file system holding `path`, bytes.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a valid out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
}

/// Start recording `meeting` (live): the row, the engine's taps, the
/// recorder's files, and the chapters from the live room's events.
pub async fn start_recording(
    state: &AppState,
    actor: &Actor,
    meeting: &str,
) -> Result<RecordingRow, ApiError> {
    let dir = root(state);
    std::fs::create_dir_all(&dir).map_err(|e| {
        ApiError::unavailable("recording_storage", format!("{}: {e}", dir.display()))
    })?;
    let min = state.recording.min_free_mib.saturating_mul(1024 * 1024);
    if let Some(free) = free_bytes(&dir)
        && free < min
    {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            format!(
                "Ổ đĩa ghi hình chỉ còn {} MiB trống (cần ít nhất {} MiB); giải phóng dung lượng rồi thử lại. \
                 Only {} MiB free for recordings, {} MiB needed.",
                free >> 20,
                state.recording.min_free_mib,
                free >> 20,
                state.recording.min_free_mib
            ),
        ));
    }
    // The live room gives the recorder its chapters and names.
    let m = super::meetings::meetings(state).get(meeting).await?;
    state.conference.live_room(&m).await?;
    let recordings = Recordings::new(state.store.clone());
    let row = recordings.create(actor, meeting).await?;
    let files = dir.join(&row.dir);
    if let Err(e) = state
        .recorder
        .begin(meeting, &row.id, &files, row.started_at_ms)
    {
        let _ = recordings
            .finish(actor, meeting, RecordingState::Failed, Some("write_failed"))
            .await;
        return Err(ApiError::unavailable(
            "recording_storage",
            format!("cannot write {}: {e}", files.display()),
        ));
    }
    // The composite picture goes into the recording too (`composite.mkv`:
    // the stage large, the rooms in named tiles, the program mix).
    let (layouts, sites) = match state.live.get(meeting) {
        Some(room) => room.read(|l| (l.layouts(), l.connected_sites())).await,
        None => Default::default(),
    };
    state
        .composer
        .record(meeting, files.join(COMPOSITE_FILE), layouts, sites);
    // The rooms' names reach the recorder before the engine's first
    // packet, so the first program chapter is named.
    follow_live_room(state.clone(), meeting.to_string(), row.id.clone()).await;
    if let Err(e) = state.media.record(meeting, true).await {
        tracing::error!(meeting, error = %e, "engine refused to record");
    }
    Ok(row)
}

/// The composite picture's file in a recording's folder.
const COMPOSITE_FILE: &str = "composite.mkv";

/// Stop `meeting`'s running recording.
pub async fn stop_recording(
    state: &AppState,
    actor: &Actor,
    meeting: &str,
) -> Result<(RecordingRow, Option<Index>), ApiError> {
    let recordings = Recordings::new(state.store.clone());
    // Refused (409) before anything changes when nothing runs.
    if !recordings
        .list(meeting)
        .await?
        .iter()
        .any(|r| r.state == RecordingState::Recording)
    {
        return Err(RecordingError::NotRecording(meeting.to_string()).into());
    }
    // The composite's file closes first, so the index the recorder
    // finishes lists it (and with S3 it is uploaded whole).
    if let Some(r) = state.composer.stop_recording(meeting).await
        && r.pictures > 0
    {
        state.recorder.add_stream(
            meeting,
            crate::recorder::StreamInfo {
                file: COMPOSITE_FILE.into(),
                kind: "composite".into(),
                codec: "h264".into(),
                endpoint_id: None,
                name: Some("Hình ghép các điểm cầu".into()),
                starts_at_ms: 0,
            },
        );
    }
    if let Err(e) = state.media.record(meeting, false).await {
        tracing::warn!(meeting, error = %e, "engine did not stop recording");
    }
    let index = state.recorder.end(meeting, now_ms()).await;
    let row = recordings
        .finish(actor, meeting, RecordingState::Stopped, None)
        .await?;
    // Its files are closed: with S3 they go to the bucket now.
    state.objects.recordings.finished(&row.dir);
    Ok((row, index))
}

/// Feed the recorder the names of the rooms (for its files) and the
/// chapters of its index (agenda item, floor, stage), for as long as this
/// recording runs.
async fn follow_live_room(state: AppState, meeting: String, id: String) {
    let Some(room) = state.live.get(&meeting) else {
        return;
    };
    let (snapshot, mut rx) = room.subscribe(state.live.now_ms()).await;
    let rec = state.recorder.clone();
    let mut names: std::collections::HashMap<String, String> = Default::default();
    if let Some(sites) = snapshot["state"]["roll_call"]["sites"].as_array() {
        for s in sites {
            let (Some(ep), Some(name)) = (s["endpoint_id"].as_str(), s["name"].as_str()) else {
                continue;
            };
            names.insert(ep.to_string(), name.to_string());
            if let Some(p) = s["participant"].as_u64() {
                rec.participant(&meeting, p, Some(ep), name);
            }
        }
    }
    if let Some(item) = snapshot["state"]["agenda"]["current"]["title"].as_str() {
        rec.chapter(&meeting, "agenda", item, None);
    }
    // Who speaks as the recording begins: the index starts with them.
    if let Some(name) = state.hub.speaker(&meeting) {
        rec.chapter(&meeting, "speaker", &name, None);
    }
    tokio::spawn(async move {
        loop {
            let text = match rx.recv().await {
                Ok(t) => t,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            if rec.running(&meeting).is_none_or(|r| r.id != id) {
                return;
            }
            let Ok(e) = serde_json::from_str::<serde_json::Value>(&text.text) else {
                continue;
            };
            let ep = e["endpoint_id"].as_str();
            let name_of = |ep: Option<&str>| {
                ep.and_then(|e| names.get(e).cloned())
                    .unwrap_or_else(|| ep.unwrap_or("").to_string())
            };
            match e["type"].as_str().unwrap_or("") {
                "site_connected" => {
                    if let (Some(ep), Some(name), Some(p)) =
                        (ep, e["name"].as_str(), e["participant"].as_u64())
                    {
                        names.insert(ep.to_string(), name.to_string());
                        rec.participant(&meeting, p, Some(ep), name);
                    }
                }
                "agenda_current" => {
                    let title = e["title"].as_str().unwrap_or("");
                    rec.chapter(&meeting, "agenda", title, None);
                }
                "floor_granted" => rec.chapter(&meeting, "floor", &name_of(ep), ep),
                "floor_revoked" => rec.chapter(&meeting, "floor_end", &name_of(ep), ep),
                "stage_changed" => {
                    let eps: Vec<&str> = e["endpoints"]
                        .as_array()
                        .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
                        .unwrap_or_default();
                    let title = eps
                        .iter()
                        .map(|e| name_of(Some(e)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    rec.chapter(&meeting, "stage", &title, eps.first().copied());
                }
                "meeting_closed" => return,
                _ => {}
            }
        }
    });
}

async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RecordingView>), ApiError> {
    let m = acting_on(&state, &caller, &id, Action::RecordControl).await?;
    if m.state != MeetingState::Live {
        return Err(ApiError::conflict(
            "meeting_not_live",
            format!(
                "meeting {id} is {}; a recording starts once the meeting is live",
                m.state.as_str()
            ),
        ));
    }
    let row = start_recording(&state, &caller.actor(), &id).await?;
    let index = read_index(&state, &row).await;
    Ok((
        StatusCode::CREATED,
        Json(RecordingView {
            recording: row,
            index,
        }),
    ))
}

async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RecordingView>, ApiError> {
    acting_on(&state, &caller, &id, Action::RecordControl).await?;
    let (row, index) = stop_recording(&state, &caller.actor(), &id).await?;
    let index = match index {
        Some(i) => Some(i),
        None => read_index(&state, &row).await,
    };
    Ok(Json(RecordingView {
        recording: row,
        index,
    }))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RecordingList>, ApiError> {
    acting_on(&state, &caller, &id, Action::RecordingsRead).await?;
    let rows = Recordings::new(state.store.clone()).list(&id).await?;
    let mut recordings = Vec::with_capacity(rows.len());
    for r in rows {
        recordings.push(RecordingView {
            index: read_index(&state, &r).await,
            recording: r,
        });
    }
    Ok(Json(RecordingList { recordings }))
}

/// Only the names a recording writes: no path can leave its directory.
fn valid_file_name(name: &str) -> bool {
    if name == "index.json" {
        return true;
    }
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let stem_ok = stem == "program"
        || stem == "composite"
        || stem
            .strip_prefix("track-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    stem_ok && matches!(ext, "webm" | "mkv")
}

async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, rec, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    acting_on(&state, &caller, &id, Action::RecordingsRead).await?;
    let row = Recordings::new(state.store.clone()).get(&id, &rec).await?;
    if !valid_file_name(&name) {
        return Err(ApiError::not_found(
            "unknown_file",
            format!("{name:?} is not a file of recording {rec}"),
        ));
    }
    // The spool (running, or not yet uploaded) or the store.
    let opened = state
        .objects
        .recordings
        .open(&row.dir, &name)
        .await
        .map_err(|e| ApiError::unavailable("recording_storage", e))?;
    let Some(opened) = opened else {
        return Err(ApiError::not_found(
            "unknown_file",
            format!("recording {rec} has no file {name:?}"),
        ));
    };
    // A running recording grows: its length is what is on disk now.
    let len = opened.len();
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match range::answer(range_header, len) {
        RangeAnswer::Full => (StatusCode::OK, 0, len),
        RangeAnswer::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeAnswer::Unsatisfiable => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {len} bytes"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let stream = state
        .objects
        .recordings
        .stream(opened, start, end - start)
        .await
        .map_err(|e| ApiError::unavailable("recording_storage", e))?;
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    let h = r.headers_mut();
    let media_type = match name.rsplit_once('.').map(|x| x.1) {
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        _ => "application/json",
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::valid_file_name;

    #[test]
    fn only_recording_file_names_are_served() {
        for ok in ["program.webm", "program.mkv", "track-12.webm", "index.json"] {
            assert!(valid_file_name(ok), "{ok}");
        }
        for bad in [
            "../x.webm",
            "track-.webm",
            "track-1a.webm",
            "program.exe",
            "a/b.webm",
            "..",
        ] {
            assert!(!valid_file_name(bad), "{bad}");
        }
    }
}
