-- Signed minutes (issue 16): the PDF of each final minutes version as
-- signed so far, and the signatures on it (the secretary's and the chair's
-- from their tokens, the organisation's seal). Portable SQL as in 0001.

CREATE TABLE minutes_pdfs (
    meeting_id TEXT NOT NULL REFERENCES meetings (id),
    version    BIGINT NOT NULL,
    -- The object (documents store) holding the PDF's latest revision.
    object_key TEXT NOT NULL,
    -- Lowercase hex SHA-256 and size of those bytes.
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    -- When the organisation's seal was embedded (it closes the document).
    sealed_at  BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, version)
);

CREATE TABLE minutes_signatures (
    meeting_id   TEXT NOT NULL REFERENCES meetings (id),
    version      BIGINT NOT NULL,
    -- secretary, chair or seal: each once per version.
    role         TEXT NOT NULL,
    -- The person who signed (NULL for the seal).
    user_id      TEXT,
    -- prepared (waiting for the signature value) or signed.
    state        TEXT NOT NULL,
    -- While prepared: the prepared revision's object, the SHA-256 of the
    -- PDF it was prepared on, its byte range ("a b c d"), its document
    -- digest and the signed attributes' DER (hex).
    prepared_key TEXT,
    base_sha256  TEXT,
    byte_range   TEXT,
    digest       TEXT,
    to_be_signed TEXT,
    -- The signer's certificate chain (PEM, leaf first).
    chain_pem    TEXT NOT NULL,
    signer       TEXT NOT NULL,
    organization TEXT,
    serial       TEXT NOT NULL,
    prepared_at  BIGINT NOT NULL,
    signed_at    BIGINT,
    PRIMARY KEY (meeting_id, version, role)
);
