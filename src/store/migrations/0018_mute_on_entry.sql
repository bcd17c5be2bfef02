-- Whether rooms other than the hub join a meeting muted (1) or not (0).
-- Meetings made before this migration take the default of their kind:
-- conferences (BCH, BTV, quán triệt, chuyên đề) mute, briefings do not.
ALTER TABLE meetings ADD COLUMN mute_on_entry BIGINT NOT NULL DEFAULT 0;
UPDATE meetings SET mute_on_entry = 1 WHERE kind IN ('bch', 'btv', 'quan_triet', 'chuyen_de');
