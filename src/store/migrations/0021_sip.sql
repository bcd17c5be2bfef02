-- SIP room systems (issue 17). An endpoint with a row here is a SIP room
-- (kind `sip`): its SIP user and, never the password, the digest HA1s
-- H(user:realm:password) for MD5 (old codecs know only it) and SHA-256,
-- under the realm they were made for; optionally its fixed address.
CREATE TABLE endpoint_sip_accounts (
    endpoint_id TEXT PRIMARY KEY REFERENCES endpoints (id),
    sip_user    TEXT NOT NULL UNIQUE,
    realm       TEXT NOT NULL,
    ha1_md5     TEXT NOT NULL,
    ha1_sha256  TEXT NOT NULL,
    fixed_addr  TEXT,
    issued_at   BIGINT NOT NULL
);

-- Each meeting's numeric dial-in number, dialled from a codec's remote
-- control as sip:<number>@<server>. Numbers go up from 700001; meetings
-- planned before this migration are numbered in id order.
ALTER TABLE meetings ADD COLUMN sip_dial_in TEXT;
UPDATE meetings SET sip_dial_in =
    CAST(700000 + (SELECT COUNT(*) FROM meetings m2 WHERE m2.id <= meetings.id) AS TEXT);
CREATE UNIQUE INDEX meetings_sip_dial_in ON meetings (sip_dial_in);
