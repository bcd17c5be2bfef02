//! Meetings' SIP dial-in numbers: a room codec is dialled from a remote
//! control, so each meeting (each occurrence of a series) has a number of
//! its own, `sip_dial_in`, given at creation and never reused.

use sqlx::{AnyConnection, Row};

use super::{Meeting, MeetingError, Meetings, SELECT_MEETING, meeting_from_row};
use crate::store::SqlxResultExt;

/// The first number given (migration 0021 numbers older meetings from
/// 700001 too): six digits, easy on a remote control's keypad.
const FIRST_DIAL_IN: i64 = 700_001;

/// Longest dial string looked up; anything longer is no number of ours.
const MAX_DIAL_IN_DIGITS: usize = 12;

impl Meetings {
    /// The next free number. Called inside the write transaction, which
    /// holds the audit lock (`Store::begin_write`): no two writers race.
    pub(super) async fn next_dial_in(conn: &mut AnyConnection) -> Result<String, MeetingError> {
        let row = sqlx::query("SELECT MAX(CAST(sip_dial_in AS BIGINT)) FROM meetings")
            .fetch_one(&mut *conn)
            .await
            .ctx("numbering a meeting's dial-in")?;
        let max: Option<i64> = row.try_get(0).ctx("numbering a meeting's dial-in")?;
        Ok(max
            .map_or(FIRST_DIAL_IN, |m| (m + 1).max(FIRST_DIAL_IN))
            .to_string())
    }

    /// The meeting a codec dialled, if the number is one.
    pub async fn by_dial_in(&self, number: &str) -> Result<Option<Meeting>, MeetingError> {
        if number.is_empty()
            || number.len() > MAX_DIAL_IN_DIGITS
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(None);
        }
        let row = sqlx::query(&format!("{SELECT_MEETING} WHERE sip_dial_in = $1"))
            .bind(number)
            .fetch_optional(self.store.pool())
            .await
            .ctx("finding a meeting by dial-in")?;
        match row {
            Some(row) => {
                let id = meeting_from_row(&row)?.id;
                self.get(&id).await.map(Some)
            }
            None => Ok(None),
        }
    }
}
