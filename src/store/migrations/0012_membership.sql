-- Closed meetings: who belongs to a meeting is data.
-- Portable SQL as in 0001: TEXT ids, 'YYYY-MM-DD' dates, BIGINT unix ms.

-- 'closed' (only planned rooms and named people) or 'open' (a room not
-- planned waits in the lobby for an operator). Meetings made before this
-- migration take the default of their kind: BCH and BTV are closed.
ALTER TABLE meetings ADD COLUMN access_policy TEXT NOT NULL DEFAULT 'open';
UPDATE meetings SET access_policy = 'closed' WHERE kind IN ('bch', 'btv');
-- The body whose members (as of the meeting's date) belong to the meeting.
ALTER TABLE meetings ADD COLUMN body_id TEXT;

-- People named in a meeting besides its chair and secretary: voting
-- members (đại biểu chính thức) and invited non-voting attendees.
CREATE TABLE meeting_people (
    meeting_id TEXT NOT NULL REFERENCES meetings (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    -- 'voting' or 'invited'.
    role       TEXT NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX meeting_people_user ON meeting_people (user_id);

-- Bodies (cơ quan): a Ban Chấp hành or Ban Thường vụ of one term.
CREATE TABLE bodies (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    -- 'bch', 'btv' or 'other'.
    kind       TEXT NOT NULL,
    -- The term, as people say it: 'khóa XV, nhiệm kỳ 2025–2030'.
    term       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A body's members, each over a span of dates (a member who leaves keeps
-- their past rows: a meeting of last year still had them).
CREATE TABLE body_members (
    id         TEXT PRIMARY KEY,
    body_id    TEXT NOT NULL REFERENCES bodies (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    -- What they are in the body: 'Bí thư', 'Ủy viên', … (free text).
    position   TEXT NOT NULL,
    -- 1: votes in the body's meetings; 0: attends without a vote.
    voting     BIGINT NOT NULL,
    valid_from TEXT NOT NULL,
    -- Exclusive; NULL while still a member.
    valid_to   TEXT
);
CREATE INDEX body_members_body ON body_members (body_id, valid_from);
CREATE INDEX body_members_user ON body_members (user_id);
