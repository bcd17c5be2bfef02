-- Who first opened which document version, and when: the time printed in
-- their PDF watermark. Kept so the watermarked copy is the same bytes on
-- every request (Range resumes, ETag), and so the secretariat can see who
-- read what (persons as well as rooms; rooms also appear in document_fetches
-- once they have the whole file).
CREATE TABLE document_reads (
    document_id TEXT NOT NULL REFERENCES documents (id),
    reader      TEXT NOT NULL,
    -- The name and unit printed on their copy, as they were at first read.
    name        TEXT NOT NULL,
    unit        TEXT NOT NULL,
    first_at    BIGINT NOT NULL,
    PRIMARY KEY (document_id, reader)
);
