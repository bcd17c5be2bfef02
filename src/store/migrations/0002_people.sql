-- People: console users, their login sessions and their API tokens.
-- Secrets are never stored: passwords as argon2id PHC strings, session and
-- API tokens as hex SHA-256 (they carry 256 random bits; see control::people).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    -- Lowercase ASCII; what people type at the login prompt.
    login         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- Space-separated role names (admin operator sub_operator ...).
    roles         TEXT NOT NULL,
    -- The subtree a sub-operator acts on; NULL for every other role.
    scope_unit_id TEXT REFERENCES org_units (id),
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE user_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    address    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Sliding: pushed forward on use, never past the absolute limit.
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    label      TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
