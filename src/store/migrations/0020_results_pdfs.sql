-- Published vote results as a one-page PDF (issue 16), sealed with the
-- organisation's key when one is configured; made once per motion.

CREATE TABLE motion_results_pdfs (
    meeting_id TEXT NOT NULL REFERENCES meetings (id),
    motion_id  TEXT NOT NULL,
    -- The object (documents store) holding the PDF.
    object_key TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    -- 1 when the seal is on it.
    sealed     BIGINT NOT NULL,
    made_at    BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, motion_id)
);
