-- The audit chain sealed with a key kept outside the database
-- (store/audit/seal.rs). chain_id: a random name for this database's chain,
-- set at first seal, by which a process finds the key it loaded for it.
-- keyed_from: the first record linked with HMAC-SHA256 under that key
-- (NULL: every record is plain SHA-256, as before the key existed).
ALTER TABLE audit_head ADD COLUMN chain_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_head ADD COLUMN keyed_from BIGINT;
