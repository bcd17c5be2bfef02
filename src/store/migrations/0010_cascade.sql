-- Cascading: the child nodes registered at this (parent) node, the state of
-- the link from each, and which child nodes a meeting was extended to.
-- Portable SQL as in 0001: TEXT ids, BIGINT unix milliseconds.

CREATE TABLE cascade_nodes (
    -- The child's own [cascade] node_id: lowercase letters, digits, '-'.
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    -- The org unit the child node serves, if named.
    unit_id         TEXT REFERENCES org_units (id),
    -- Hex SHA-256 of the node's credential; NULL once revoked.
    credential_hash TEXT,
    uplink_kbps     BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    -- The child's last accepted hello, and where it came from.
    last_seen_at    BIGINT,
    last_address    TEXT
);

-- One row per child that ever said hello: up or down since when.
CREATE TABLE cascade_links (
    node_id   TEXT PRIMARY KEY REFERENCES cascade_nodes (id),
    state     TEXT NOT NULL,
    since     BIGINT NOT NULL,
    rtt_ms    BIGINT,
    up_kbps   BIGINT,
    down_kbps BIGINT
);

CREATE TABLE meeting_placements (
    meeting_id  TEXT NOT NULL REFERENCES meetings (id),
    node_id     TEXT NOT NULL REFERENCES cascade_nodes (id),
    extended_at BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, node_id)
);
CREATE INDEX meeting_placements_node ON meeting_placements (node_id);
