-- Agenda (chương trình nghị sự): the items of a meeting in order, the
-- timeline of which item ran when (what minutes and recordings are indexed
-- by), and the page-sync presentation every room's viewer follows.
-- Portable SQL as in 0001: TEXT ids, BIGINT unix ms.

CREATE TABLE agenda_items (
    id                TEXT PRIMARY KEY,
    meeting_id        TEXT NOT NULL REFERENCES meetings (id),
    -- 1-based; renumbered on delete and reorder (so not UNIQUE: a reorder
    -- passes through duplicates inside its transaction).
    position          BIGINT NOT NULL,
    title             TEXT NOT NULL,
    -- Free text ("Đồng chí Bí thư Tỉnh ủy"); empty when nobody is named.
    presenter         TEXT NOT NULL,
    presenter_user_id TEXT REFERENCES users (id),
    planned_minutes   BIGINT NOT NULL,
    notes             TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX agenda_items_meeting ON agenda_items (meeting_id, position);

-- One row each time an item became current, in order; the open row
-- (ended_at NULL) is the current item. An item in the timeline is never
-- deleted.
CREATE TABLE agenda_timeline (
    meeting_id TEXT NOT NULL REFERENCES meetings (id),
    seq        BIGINT NOT NULL,
    item_id    TEXT NOT NULL REFERENCES agenda_items (id),
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    PRIMARY KEY (meeting_id, seq)
);
CREATE INDEX agenda_timeline_item ON agenda_timeline (item_id);

-- What every room's document viewer shows now: at most one row per meeting.
-- Document ids are opaque here.
CREATE TABLE presentations (
    meeting_id  TEXT PRIMARY KEY REFERENCES meetings (id),
    document_id TEXT NOT NULL,
    page        BIGINT NOT NULL,
    -- Who turned to this page (a login or a room's name).
    set_by      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
