-- The technical check (kiểm tra kỹ thuật) before a meeting.
-- Portable SQL as in 0001: TEXT ids, BIGINT unix ms.

-- The latest check of each planned room of a meeting: its figures as the
-- room's page measured them (JSON, `control::checks::CheckReport`), judged
-- when read so that the thresholds can change.
CREATE TABLE technical_checks (
    meeting_id    TEXT NOT NULL REFERENCES meetings (id),
    endpoint_id   TEXT NOT NULL REFERENCES endpoints (id),
    checked_at    BIGINT NOT NULL,
    figures       TEXT NOT NULL,
    PRIMARY KEY (meeting_id, endpoint_id)
);

-- When an operator started the check of a meeting by hand (it also runs
-- by itself from an hour before the start).
CREATE TABLE technical_check_runs (
    meeting_id    TEXT PRIMARY KEY REFERENCES meetings (id),
    started_at    BIGINT NOT NULL,
    started_by    TEXT NOT NULL
);
