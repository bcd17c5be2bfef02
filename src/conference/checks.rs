//! The technical check through the conference layer: who may start one
//! (the meeting's operators), who may report one (a room planned for the
//! meeting, for itself — an unplanned room gets the answer of a meeting
//! that does not exist), who may read the board (its operators and
//! auditors), and when a joining room is told to run it.

use std::collections::HashSet;

use super::{Conference, ConferenceError, Identity, Who};
use crate::control::checks::{
    AUTO_CHECK_LEAD_MS, CheckReport, CheckRun, Checks, ReadinessBoard, StoredCheck, build_board,
};
use crate::control::endpoints::Endpoints;
use crate::control::meetings::{Meeting, MeetingState};
use crate::media::ParticipantId;
use crate::signal::wire::ServerMessage;

use super::rights::Action;

impl Conference {
    fn checks(&self) -> Checks {
        Checks::new(self.store.clone())
    }

    /// A room reports its check. Authorised first (a stranger learns
    /// nothing, not even that its figures were bad), then the figures are
    /// checked for range, stored and announced to the meeting's consoles.
    pub async fn report_check(
        &self,
        who: &Who,
        meeting: &str,
        report: &CheckReport,
    ) -> Result<StoredCheck, ConferenceError> {
        let (m, _) = self.authorize(who, meeting, Action::CheckReport).await?;
        let Identity::Room(endpoint) = &who.identity else {
            return Err(ConferenceError::Forbidden {
                code: "not_a_room",
                message: "a room reports its own technical check, with its own token".into(),
            });
        };
        report.validate().map_err(|e| ConferenceError::Invalid {
            field: e.field,
            message: e.message,
        })?;
        let stored = self
            .checks()
            .record(&who.actor, &m.id, &endpoint.id, report)
            .await?;
        let (status, failing) = crate::control::checks::judge(report);
        self.live
            .announce(
                &m.id,
                crate::signal::event::ServerEvent::CheckResult {
                    endpoint_id: endpoint.id.clone(),
                    status,
                    failing,
                    checked_at_ms: stored.checked_at_ms,
                },
            )
            .await;
        Ok(stored)
    }

    /// An operator starts the check: recorded (audited), and every planned
    /// room connected now is told to run it. Returns the board.
    pub async fn start_check(
        &self,
        who: &Who,
        meeting: &str,
    ) -> Result<(CheckRun, usize), ConferenceError> {
        let (m, _) = self
            .authorize(who, meeting, Action::MeetingLifecycle)
            .await?;
        if matches!(m.state, MeetingState::Ended | MeetingState::Cancelled) {
            return Err(ConferenceError::Conflict {
                code: "meeting_over",
                message: format!("meeting {} is {}: nothing to check", m.id, m.state.as_str()),
            });
        }
        let run = self.checks().start(&who.actor, &m.id).await?;
        let rooms = self.connected_rooms(&m).await;
        for &(_, p) in &rooms {
            self.hub.tell(p, check_message());
        }
        self.live
            .announce(
                &m.id,
                crate::signal::event::ServerEvent::CheckStarted {
                    by: run.started_by.clone(),
                    rooms: rooms.len(),
                },
            )
            .await;
        Ok((run, rooms.len()))
    }

    /// The readiness board of a meeting.
    pub async fn readiness(
        &self,
        who: &Who,
        meeting: &str,
    ) -> Result<ReadinessBoard, ConferenceError> {
        let (m, _) = self.authorize(who, meeting, Action::ReadinessRead).await?;
        self.board_of(&m).await
    }

    /// The board of `m`, for a caller already authorised.
    pub async fn board_of(&self, m: &Meeting) -> Result<ReadinessBoard, ConferenceError> {
        let planned = self.meetings().participants_of(m).await?;
        let technicians = Endpoints::new(self.store.clone())
            .list()
            .await
            .map_err(|e| match e {
                crate::control::endpoints::EndpointError::Store(s) => ConferenceError::Store(s),
                other => ConferenceError::Forbidden {
                    code: "endpoints",
                    message: other.to_string(),
                },
            })?
            .into_iter()
            .map(|e| {
                (
                    e.id,
                    (e.details.technician_name, e.details.technician_phone),
                )
            })
            .collect();
        let checks = self.checks().of_meeting(&m.id).await?;
        let connected: HashSet<String> = self
            .connected_rooms(m)
            .await
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        let started = self.checks().run_of(&m.id).await?;
        Ok(build_board(
            m,
            &planned,
            &technicians,
            &checks,
            &connected,
            started,
        ))
    }

    /// Should a planned room that just joined run the check now? When the
    /// check is open — started by hand, or from an hour before the start —
    /// until the meeting goes live, and the room has no result yet.
    pub async fn check_due(&self, meeting: &str, endpoint: &str) -> bool {
        let Ok(m) = self.meetings().get(meeting).await else {
            return false;
        };
        if !matches!(m.state, MeetingState::Scheduled | MeetingState::Open) {
            return false;
        }
        let now = crate::store::now_ms();
        let started = matches!(self.checks().run_of(&m.id).await, Ok(Some(_)));
        if !started && now < m.starts_at_ms - AUTO_CHECK_LEAD_MS {
            return false;
        }
        match self.checks().of_meeting(&m.id).await {
            Ok(done) => !done.contains_key(endpoint),
            Err(_) => false,
        }
    }

    /// Rooms of the meeting connected to this node now, with their session.
    async fn connected_rooms(&self, m: &Meeting) -> Vec<(String, ParticipantId)> {
        let Some(room) = self.live.get(&m.id) else {
            return Vec::new();
        };
        let now = self.live.now_ms();
        room.read(|l| {
            let rc = l.roll_call(now);
            rc.sites
                .into_iter()
                .filter_map(|s| Some((s.endpoint_id, s.participant?)))
                .collect()
        })
        .await
    }
}

/// What a room's page is told: run the check now.
pub fn check_message() -> ServerMessage {
    ServerMessage::Check {
        seconds: crate::control::checks::CHECK_SECONDS,
    }
}
