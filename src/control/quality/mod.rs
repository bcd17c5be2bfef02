//! Quality after the meeting: each room's link over the whole meeting
//! (`control::live::QualityLog`, summed from the 2 s samples) stored when
//! the meeting ends, and the monthly report per unit built from it and the
//! technical checks — attendance, connection on time, link quality, check
//! results — for the yearly IT assessment (`report`).

pub mod report;

use sqlx::Row;

use crate::control::live::QualitySummary;
use crate::store::{SqlxResultExt, Store, StoreError};

#[derive(Clone)]
pub struct Quality {
    store: Store,
}

const DOING: &str = "reading meeting quality";

/// A counter as a BIGINT (a meeting never counts past i64's range).
fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn tenths(pct: f64) -> i64 {
    (pct * 10.0).round() as i64
}

impl Quality {
    pub fn new(store: Store) -> Quality {
        Quality { store }
    }

    /// Keep a meeting's per-room summaries (a second end, or a restart
    /// that ends it again, replaces them).
    pub async fn record(&self, meeting: &str, rows: &[QualitySummary]) -> Result<(), StoreError> {
        const DOING: &str = "storing meeting quality";
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.pool().begin().await.ctx(DOING)?;
        for r in rows {
            sqlx::query(
                "INSERT INTO meeting_quality (meeting_id, endpoint_id, connected_ms, first_connected_at, \
                 last_connected_at, samples, loss_p50_tenths, loss_p95_tenths, rtt_p50_ms, rtt_p95_ms, \
                 kbps_in_mean, drops, jitter_p50_ms, jitter_p95_ms, audio_frames_expected, \
                 audio_frames_received, video_freezes, video_freeze_ms, stage_low_ms, stage_mid_ms, \
                 stage_high_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                 $15, $16, $17, $18, $19, $20, $21) \
                 ON CONFLICT (meeting_id, endpoint_id) DO UPDATE SET connected_ms = excluded.connected_ms, \
                 first_connected_at = excluded.first_connected_at, last_connected_at = excluded.last_connected_at, \
                 samples = excluded.samples, loss_p50_tenths = excluded.loss_p50_tenths, \
                 loss_p95_tenths = excluded.loss_p95_tenths, rtt_p50_ms = excluded.rtt_p50_ms, \
                 rtt_p95_ms = excluded.rtt_p95_ms, kbps_in_mean = excluded.kbps_in_mean, drops = excluded.drops, \
                 jitter_p50_ms = excluded.jitter_p50_ms, jitter_p95_ms = excluded.jitter_p95_ms, \
                 audio_frames_expected = excluded.audio_frames_expected, \
                 audio_frames_received = excluded.audio_frames_received, \
                 video_freezes = excluded.video_freezes, video_freeze_ms = excluded.video_freeze_ms, \
                 stage_low_ms = excluded.stage_low_ms, stage_mid_ms = excluded.stage_mid_ms, \
                 stage_high_ms = excluded.stage_high_ms",
            )
            .bind(meeting)
            .bind(&r.endpoint_id)
            .bind(r.connected_ms)
            .bind(r.first_connected_ms)
            .bind(r.last_connected_ms)
            .bind(i64::from(r.samples))
            .bind(tenths(r.loss_p50_pct))
            .bind(tenths(r.loss_p95_pct))
            .bind(i64::from(r.rtt_p50_ms))
            .bind(i64::from(r.rtt_p95_ms))
            .bind(i64::from(r.kbps_in_mean))
            .bind(i64::from(r.drops))
            .bind(i64::from(r.jitter_p50_ms))
            .bind(i64::from(r.jitter_p95_ms))
            .bind(big(r.audio_frames_expected))
            .bind(big(r.audio_frames_received))
            .bind(i64::from(r.video_freezes))
            .bind(big(r.video_freeze_ms))
            .bind(big(r.stage_layer_ms[0]))
            .bind(big(r.stage_layer_ms[1]))
            .bind(big(r.stage_layer_ms[2]))
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
        }
        tx.commit().await.ctx(DOING)
    }

    /// A meeting's stored summaries, by endpoint id.
    pub async fn of_meeting(&self, meeting: &str) -> Result<Vec<QualitySummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT endpoint_id, connected_ms, first_connected_at, last_connected_at, samples, \
             loss_p50_tenths, loss_p95_tenths, rtt_p50_ms, rtt_p95_ms, kbps_in_mean, drops, \
             jitter_p50_ms, jitter_p95_ms, audio_frames_expected, audio_frames_received, video_freezes, \
             video_freeze_ms, stage_low_ms, stage_mid_ms, stage_high_ms \
             FROM meeting_quality WHERE meeting_id = $1 ORDER BY endpoint_id",
        )
        .bind(meeting)
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        rows.iter()
            .map(|r| {
                let n = |i: usize| -> Result<i64, StoreError> { r.try_get::<i64, _>(i).ctx(DOING) };
                let u32_at = |i: usize| -> Result<u32, StoreError> {
                    Ok(n(i)?.clamp(0, i64::from(u32::MAX)) as u32)
                };
                let u64_at = |i: usize| -> Result<u64, StoreError> { Ok(n(i)?.max(0) as u64) };
                Ok(QualitySummary {
                    endpoint_id: r.try_get(0).ctx(DOING)?,
                    connected_ms: n(1)?,
                    first_connected_ms: n(2)?,
                    last_connected_ms: n(3)?,
                    samples: n(4)?.clamp(0, i64::from(u32::MAX)) as u32,
                    loss_p50_pct: n(5)? as f64 / 10.0,
                    loss_p95_pct: n(6)? as f64 / 10.0,
                    rtt_p50_ms: n(7)?.clamp(0, i64::from(u32::MAX)) as u32,
                    rtt_p95_ms: n(8)?.clamp(0, i64::from(u32::MAX)) as u32,
                    kbps_in_mean: n(9)?.clamp(0, i64::from(u32::MAX)) as u32,
                    drops: n(10)?.clamp(0, i64::from(u32::MAX)) as u32,
                    jitter_p50_ms: u32_at(11)?,
                    jitter_p95_ms: u32_at(12)?,
                    audio_frames_expected: u64_at(13)?,
                    audio_frames_received: u64_at(14)?,
                    video_freezes: u32_at(15)?,
                    video_freeze_ms: u64_at(16)?,
                    stage_layer_ms: [u64_at(17)?, u64_at(18)?, u64_at(19)?],
                })
            })
            .collect()
    }
}
