-- What each room's media was like over a meeting, beside its link figures
-- (0017): audio jitter, audio frames sent and arrived (continuity), video
-- freezes, and how long its stage showed each simulcast layer. Rows stored
-- before this migration read as zero (nothing was measured then).
ALTER TABLE meeting_quality ADD COLUMN jitter_p50_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN jitter_p95_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN audio_frames_expected BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN audio_frames_received BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN video_freezes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN video_freeze_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN stage_low_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN stage_mid_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meeting_quality ADD COLUMN stage_high_ms BIGINT NOT NULL DEFAULT 0;
