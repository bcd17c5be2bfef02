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
                 kbps_in_mean, drops) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (meeting_id, endpoint_id) DO UPDATE SET connected_ms = excluded.connected_ms, \
                 first_connected_at = excluded.first_connected_at, last_connected_at = excluded.last_connected_at, \
                 samples = excluded.samples, loss_p50_tenths = excluded.loss_p50_tenths, \
                 loss_p95_tenths = excluded.loss_p95_tenths, rtt_p50_ms = excluded.rtt_p50_ms, \
                 rtt_p95_ms = excluded.rtt_p95_ms, kbps_in_mean = excluded.kbps_in_mean, drops = excluded.drops",
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
             loss_p50_tenths, loss_p95_tenths, rtt_p50_ms, rtt_p95_ms, kbps_in_mean, drops \
             FROM meeting_quality WHERE meeting_id = $1 ORDER BY endpoint_id",
        )
        .bind(meeting)
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        rows.iter()
            .map(|r| {
                let n = |i: usize| -> Result<i64, StoreError> { r.try_get::<i64, _>(i).ctx(DOING) };
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
                })
            })
            .collect()
    }
}
