-- Voting (biểu quyết): motions per meeting, who has voted, the running
-- counts, and — for open votes only — who chose what.
-- Portable SQL as in 0001: TEXT ids, BIGINT unix ms.
--
-- Secret ballots: `motion_ballots_cast` says only THAT a voter voted on a
-- motion (to refuse a second vote) — no choice, no time. `motion_tallies`
-- holds one row per (motion, option), incremented in the same transaction
-- and never tied to a voter. No per-ballot row exists for a secret vote,
-- so nothing can be joined. Motions carry no user id either (who created a
-- motion is in the audit log).

CREATE TABLE motions (
    id             TEXT PRIMARY KEY,
    meeting_id     TEXT NOT NULL REFERENCES meetings (id),
    -- 1-based order within the meeting.
    position       BIGINT NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    -- The option labels as a JSON array of strings, in order.
    options        TEXT NOT NULL,
    -- open or secret.
    mode           TEXT NOT NULL,
    -- delegates or rooms.
    electorate     TEXT NOT NULL,
    -- draft, open, closed or published.
    state          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    opened_at      BIGINT,
    closed_at      BIGINT,
    published_at   BIGINT,
    UNIQUE (meeting_id, position)
);

CREATE INDEX motions_by_meeting ON motions (meeting_id, position);

-- That a voter (a user id or a room endpoint id) voted on a motion. Nothing else.
CREATE TABLE motion_ballots_cast (
    motion_id TEXT NOT NULL REFERENCES motions (id),
    voter_id  TEXT NOT NULL,
    PRIMARY KEY (motion_id, voter_id)
);

-- Running counts per option: `votes` is the weighted sum (a room's
-- headcount, 1 for a person), `ballots` the number of ballots.
CREATE TABLE motion_tallies (
    motion_id    TEXT NOT NULL REFERENCES motions (id),
    option_index BIGINT NOT NULL,
    votes        BIGINT NOT NULL,
    ballots      BIGINT NOT NULL,
    PRIMARY KEY (motion_id, option_index)
);

-- Open votes only: who chose what, with what weight, when.
CREATE TABLE motion_open_votes (
    motion_id    TEXT NOT NULL REFERENCES motions (id),
    voter_id     TEXT NOT NULL,
    option_index BIGINT NOT NULL,
    weight       BIGINT NOT NULL,
    at_ms        BIGINT NOT NULL,
    PRIMARY KEY (motion_id, voter_id)
);
