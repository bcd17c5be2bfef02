-- Minutes (biên bản): attendance snapshots taken from the live roll call,
-- and the saved versions of a meeting's minutes. A final version is never
-- changed: a later edit becomes the next version.
-- Portable SQL as in 0001: TEXT ids, BIGINT unix ms.

CREATE TABLE minutes_attendance (
    id         TEXT PRIMARY KEY,
    meeting_id TEXT NOT NULL REFERENCES meetings (id),
    taken_at   BIGINT NOT NULL,
    -- The condensed roll call as JSON (control::minutes::Attendance).
    snapshot   TEXT NOT NULL
);
CREATE INDEX minutes_attendance_meeting ON minutes_attendance (meeting_id, taken_at);

CREATE TABLE minutes_versions (
    meeting_id   TEXT NOT NULL REFERENCES meetings (id),
    -- 1-based.
    version      BIGINT NOT NULL,
    -- draft or final.
    status       TEXT NOT NULL,
    -- The whole minutes document as JSON, exactly as served.
    body         TEXT NOT NULL,
    -- Lowercase hex SHA-256 of body.
    sha256       TEXT NOT NULL,
    -- The actor who last saved it.
    saved_by     TEXT NOT NULL,
    saved_at     BIGINT NOT NULL,
    finalised_by TEXT,
    finalised_at BIGINT,
    PRIMARY KEY (meeting_id, version)
);
