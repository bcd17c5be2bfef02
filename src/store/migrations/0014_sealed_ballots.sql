-- Secret votes: ballots sealed to a key held only in memory while the vote
-- is open (see control::ballot_box); no running tally is written.

-- The open secret vote's public key (hex); NULL otherwise.
ALTER TABLE motions ADD COLUMN seal_key TEXT;

-- One sealed ballot each: no voter, no time, no choice in the clear.
CREATE TABLE motion_sealed_ballots (
    id        TEXT PRIMARY KEY,
    motion_id TEXT NOT NULL REFERENCES motions (id),
    sealed    TEXT NOT NULL
);
CREATE INDEX motion_sealed_ballots_motion ON motion_sealed_ballots (motion_id);
