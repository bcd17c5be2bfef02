-- Control plane, first layer: org tree, endpoints, audit log.
-- Portable SQL (SQLite and PostgreSQL): TEXT ids made in Rust, dates as TEXT
-- 'YYYY-MM-DD' (sorts as it compares), instants as BIGINT unix milliseconds.

CREATE TABLE org_units (
    id           TEXT PRIMARY KEY,
    code         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    created_on   TEXT NOT NULL,
    -- Set when the unit is merged away or dissolved: it exists on [created_on, ended_on).
    ended_on     TEXT,
    end_reason   TEXT,
    successor_id TEXT REFERENCES org_units (id)
);

-- Name and parent over time; the versions of a unit tile [created_on, ended_on).
CREATE TABLE org_unit_versions (
    unit_id    TEXT NOT NULL REFERENCES org_units (id),
    valid_from TEXT NOT NULL,
    valid_to   TEXT,
    name       TEXT NOT NULL,
    parent_id  TEXT REFERENCES org_units (id),
    PRIMARY KEY (unit_id, valid_from)
);
CREATE INDEX org_unit_versions_parent ON org_unit_versions (parent_id);

CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    room             TEXT NOT NULL,
    technician_name  TEXT NOT NULL,
    technician_phone TEXT NOT NULL,
    link             TEXT NOT NULL,
    -- Hex SHA-256 of the current token; NULL once revoked.
    token_hash       TEXT UNIQUE,
    token_issued_at  BIGINT,
    revoked_at       BIGINT,
    created_at       BIGINT NOT NULL
);

CREATE TABLE endpoint_bindings (
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
    unit_id     TEXT NOT NULL REFERENCES org_units (id),
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    PRIMARY KEY (endpoint_id, valid_from)
);
CREATE INDEX endpoint_bindings_unit ON endpoint_bindings (unit_id);

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    address    TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

-- The chain's tip. Every write transaction updates this row first: that
-- serialises writers (a row lock on PostgreSQL, the write lock on SQLite), so
-- appends never race and the tip also catches a truncated log.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
