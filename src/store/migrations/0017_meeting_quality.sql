-- Link quality per room over a whole meeting, stored when it ends.
-- Portable SQL as in 0001: TEXT ids, BIGINT unix ms; percentages as
-- integer tenths (no floating point across the two backends).
CREATE TABLE meeting_quality (
    meeting_id          TEXT NOT NULL REFERENCES meetings (id),
    -- A room's endpoint id (a guest's too: no foreign key, so one row
    -- that names no registered endpoint cannot lose the others).
    endpoint_id         TEXT NOT NULL,
    connected_ms        BIGINT NOT NULL,
    first_connected_at  BIGINT NOT NULL,
    last_connected_at   BIGINT NOT NULL,
    samples             BIGINT NOT NULL,
    loss_p50_tenths     BIGINT NOT NULL,
    loss_p95_tenths     BIGINT NOT NULL,
    rtt_p50_ms          BIGINT NOT NULL,
    rtt_p95_ms          BIGINT NOT NULL,
    kbps_in_mean        BIGINT NOT NULL,
    drops               BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, endpoint_id)
);
