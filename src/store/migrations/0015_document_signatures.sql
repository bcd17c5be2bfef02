-- What the check of a PDF's signatures concluded (sign::verify): a JSON
-- array of reports, NULL until checked; re-checked when the trust anchors
-- or CRLs change.
ALTER TABLE documents ADD COLUMN signatures TEXT;
ALTER TABLE documents ADD COLUMN signatures_checked_at BIGINT;
