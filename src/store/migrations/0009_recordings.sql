-- Recordings of meetings. The files live under <data_dir>/recordings/<dir>;
-- the row says whether the recording is running, stopped (asked), failed
-- (disk full or a write error: the meeting went on) or interrupted (the
-- server stopped while it ran; found at the next start).
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    meeting_id  TEXT NOT NULL REFERENCES meetings (id),
    state       TEXT NOT NULL,
    dir         TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    started_by  TEXT NOT NULL,
    stopped_at  BIGINT,
    failure     TEXT
);
CREATE INDEX recordings_by_meeting ON recordings (meeting_id, started_at);
