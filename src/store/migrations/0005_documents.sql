-- Meeting documents (tài liệu họp): one row per uploaded version. The bytes
-- live in the object store (a local directory by default) under
-- object_key; the row records what they are (sniffed kind, size, SHA-256),
-- how they are classified and where they are in their life.
-- Portable SQL as in 0001: TEXT ids, BIGINT unix ms.

CREATE TABLE documents (
    id              TEXT PRIMARY KEY,
    meeting_id      TEXT NOT NULL REFERENCES meetings (id),
    -- The agenda item it belongs to; not a foreign key (agenda items are
    -- owned elsewhere and may be re-planned).
    agenda_item_id  TEXT,
    title           TEXT NOT NULL,
    -- pdf, png, jpeg, docx, xlsx, pptx, odt, ods, odp (sniffed from the bytes).
    kind            TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    -- Lower-case hex SHA-256 of the bytes; also the download ETag.
    sha256          TEXT NOT NULL,
    -- Only 'thuong' (ordinary) is ever stored.
    classification  TEXT NOT NULL,
    -- available, held (a confidentiality stamp was seen; the secretary
    -- confirms) or recalled.
    state           TEXT NOT NULL,
    -- The first version's id, shared by every version.
    lineage_id      TEXT NOT NULL,
    version         BIGINT NOT NULL,
    supersedes_id   TEXT REFERENCES documents (id),
    superseded_by   TEXT REFERENCES documents (id),
    object_key      TEXT NOT NULL,
    uploaded_by     TEXT NOT NULL,
    uploaded_at     BIGINT NOT NULL,
    confirmed_by    TEXT,
    confirmed_at    BIGINT,
    recalled_at     BIGINT
);
CREATE INDEX documents_meeting ON documents (meeting_id, uploaded_at);
CREATE UNIQUE INDEX documents_lineage_version ON documents (lineage_id, version);

-- The meeting book: which room endpoint has fetched which document (its
-- last byte was served), so the operator sees who is ready before the
-- meeting. One row per (document, endpoint): the first complete fetch.
CREATE TABLE document_fetches (
    document_id TEXT NOT NULL REFERENCES documents (id),
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
    fetched_at  BIGINT NOT NULL,
    PRIMARY KEY (document_id, endpoint_id)
);
