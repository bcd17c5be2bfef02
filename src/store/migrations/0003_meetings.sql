-- Meetings: planned conferences, one row per meeting (a recurring series is
-- one row per occurrence sharing a series_id), with the rooms they name
-- one by one and the unit queries that name rooms by unit. Participants are
-- not stored: they are resolved from these as of each meeting's date.
-- Portable SQL as in 0001: TEXT ids, 'YYYY-MM-DD' dates, BIGINT unix ms.

CREATE TABLE meetings (
    id                TEXT PRIMARY KEY,
    -- Shared by a series' occurrences; NULL for a one-off meeting.
    series_id         TEXT,
    -- 1-based place in the series (1 for a one-off).
    occurrence        BIGINT NOT NULL,
    -- scheduled, open, live, ended or cancelled.
    state             TEXT NOT NULL,
    title             TEXT NOT NULL,
    kind              TEXT NOT NULL,
    description       TEXT NOT NULL,
    starts_at         BIGINT NOT NULL,
    ends_at           BIGINT NOT NULL,
    -- The start's date in the province's time (UTC+07:00).
    local_date        TEXT NOT NULL,
    -- The series' rule as JSON, the same on every occurrence; NULL for a one-off.
    recurrence        TEXT,
    hub_endpoint_id   TEXT REFERENCES endpoints (id),
    chair_user_id     TEXT REFERENCES users (id),
    secretary_user_id TEXT REFERENCES users (id),
    expected_people   BIGINT,
    quorum_percent    BIGINT NOT NULL,
    -- iCalendar SEQUENCE: bumped by every edit and by cancellation.
    sequence          BIGINT NOT NULL,
    -- The actor id (a user id, or 'cli'); not a foreign key for that reason.
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    opened_at         BIGINT,
    started_at        BIGINT,
    ended_at          BIGINT,
    cancelled_at      BIGINT
);
CREATE INDEX meetings_starts_at ON meetings (starts_at);
-- Opening due meetings looks for scheduled ones by start.
CREATE INDEX meetings_state_starts_at ON meetings (state, starts_at);
CREATE INDEX meetings_series ON meetings (series_id, occurrence);

-- Rooms named one by one, in the order given.
CREATE TABLE meeting_endpoints (
    meeting_id  TEXT NOT NULL REFERENCES meetings (id),
    position    BIGINT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
    PRIMARY KEY (meeting_id, position),
    UNIQUE (meeting_id, endpoint_id)
);
CREATE INDEX meeting_endpoints_endpoint ON meeting_endpoints (endpoint_id);

-- "Every unit of these kinds under unit_id", in the order given.
CREATE TABLE meeting_unit_queries (
    meeting_id   TEXT NOT NULL REFERENCES meetings (id),
    position     BIGINT NOT NULL,
    unit_id      TEXT NOT NULL REFERENCES org_units (id),
    -- Space-separated kinds; empty for every kind.
    kinds        TEXT NOT NULL,
    -- 1: the unit itself too. An integer, the boolean both backends read alike.
    include_self BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, position)
);
CREATE INDEX meeting_unit_queries_unit ON meeting_unit_queries (unit_id);
