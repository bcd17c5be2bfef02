//! The access rule, pure: given what a caller is to a meeting ([`Standing`])
//! and what it wants to do ([`Action`]), allow, refuse, or hide the meeting.
//!
//! One rule for every path — HTTP, WebSocket, WHIP/WHEP, cascade, SIP:
//!
//! - **Hidden (404)**: a caller with no standing in the meeting at all — not
//!   a member (room or person), not one of its operators (a province
//!   operator, or a sub-operator whose subtree holds every room of it), not
//!   an auditor. Such a caller cannot even learn that the meeting exists, so
//!   every refusal to it looks like an unknown meeting.
//! - **Forbidden (403)**: a caller who may see the meeting but not do this
//!   in it (a delegate opening a vote, an invited guest voting).
//! - **Allowed** otherwise.
//!
//! The global role table (`api::access::role_permits`) says what kind of
//! thing a role may ever do; this rule says in which meetings.

use super::rights::Action;
use crate::control::meetings::{AccessPolicy, PersonStanding};

/// What a caller is to one meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// An admin, or a province-wide operator: runs every meeting.
    pub operator: bool,
    /// A sub-operator whose subtree holds the meeting: runs it.
    pub sub_operator_in_scope: bool,
    /// Reads every meeting's record, changes nothing.
    pub auditor: bool,
    /// What the person is in the meeting (chair, secretary, member, voter).
    pub person: PersonStanding,
    /// A room endpoint planned for the meeting.
    pub planned_room: bool,
    /// A room endpoint that is not planned (an open meeting's lobby).
    pub unplanned_room: bool,
}

impl Standing {
    /// May this caller know the meeting exists?
    pub fn visible(&self) -> bool {
        self.operator
            || self.sub_operator_in_scope
            || self.auditor
            || self.person.member
            || self.planned_room
    }

    /// Runs the meeting: province operator, admin, sub-operator in scope.
    pub fn runs(&self) -> bool {
        self.operator || self.sub_operator_in_scope
    }
}

/// Why an action was not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The caller has no standing: answer as if the meeting did not exist.
    Hidden,
    /// The caller sees the meeting but may not do this; the code says why.
    Forbidden(&'static str),
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Hidden => "unknown_meeting",
            Refusal::Forbidden(code) => code,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Hidden => "no such meeting",
            Refusal::Forbidden("not_the_chair") => {
                "only this meeting's chair (or its operators) does this"
            }
            Refusal::Forbidden("not_the_secretary") => {
                "only this meeting's secretary (or its operators) does this"
            }
            Refusal::Forbidden("not_a_voter") => "only this meeting's voting members vote in it",
            Refusal::Forbidden("not_a_signer") => {
                "only this meeting's secretary and chair sign its minutes"
            }
            Refusal::Forbidden("not_an_operator") => "only this meeting's operators do this",
            Refusal::Forbidden("read_only") => "an auditor reads a meeting's record, nothing more",
            Refusal::Forbidden("not_a_room") => {
                "a room planned for this meeting reports its own technical check, with its token"
            }
            Refusal::Forbidden(_) => "not allowed in this meeting",
        }
    }
}

/// May a caller with `standing` (whose role already permits `action` in
/// general) do `action` in a meeting under `policy`?
pub fn decide(standing: &Standing, action: Action, _policy: AccessPolicy) -> Result<(), Refusal> {
    use Action::*;
    if !standing.visible() {
        return Err(Refusal::Hidden);
    }
    let s = standing;
    let p = &s.person;
    let runs = s.runs();
    let ok = match action {
        // Reading the meeting's record: everyone who may see it.
        MeetingsRead | LiveRead | RecordingsRead => true,
        // Running it: its operators; the plan also by its secretary.
        MeetingLifecycle | LiveControl | RecordControl => runs,
        MeetingsWrite => runs || p.secretary,
        // The chair's own work.
        FloorChair => runs || p.chair,
        Present => runs || p.chair || p.secretary,
        VoteManage => runs || p.chair,
        // The secretariat's work.
        AgendaWrite | DocumentsWrite | MinutesWrite => runs || p.secretary,
        // A personal signature is the person's own: never an operator's.
        MinutesSign => p.secretary || p.chair,
        Headcount => runs || p.secretary || s.planned_room,
        // A room's own technical check; the board names technicians' phones:
        // its operators and auditors only.
        CheckReport => s.planned_room,
        ReadinessRead => runs || s.auditor,
        // Taking part: its members (a room for itself: the handlers).
        FloorSelf => runs || p.member || s.planned_room,
        VoteCast => p.voting || s.planned_room,
        // Not about one meeting.
        Public | Own | UsersRead | UsersWrite | OrgRead | OrgWrite | EndpointsRead
        | EndpointsWrite | AuditRead | CascadeRead | CascadeWrite | ReportsRead | Node
        | TrustRead | TrustWrite => true,
    };
    if ok {
        return Ok(());
    }
    Err(Refusal::Forbidden(match action {
        FloorChair | VoteManage => "not_the_chair",
        AgendaWrite | DocumentsWrite | MinutesWrite | MeetingsWrite => "not_the_secretary",
        Present => "not_the_chair",
        VoteCast => "not_a_voter",
        MinutesSign => "not_a_signer",
        CheckReport => "not_a_room",
        _ if s.auditor && !runs => "read_only",
        _ => "not_an_operator",
    }))
}

/// May a secretary prepare a draft motion? The vote paper is the
/// secretariat's work; opening, closing and publishing are the chair's.
pub fn may_draft_motion(standing: &Standing) -> bool {
    standing.visible() && (standing.runs() || standing.person.chair || standing.person.secretary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(f: impl FnOnce(&mut PersonStanding)) -> Standing {
        let mut p = PersonStanding {
            member: true,
            ..PersonStanding::default()
        };
        f(&mut p);
        Standing {
            person: p,
            ..Standing::default()
        }
    }

    const CLOSED: AccessPolicy = AccessPolicy::Closed;

    #[test]
    fn a_caller_with_no_standing_is_never_told_the_meeting_exists() {
        let nobody = Standing::default();
        for a in Action::ALL {
            if matches!(
                a,
                Action::MeetingsRead
                    | Action::LiveRead
                    | Action::VoteCast
                    | Action::LiveControl
                    | Action::MinutesWrite
            ) {
                assert_eq!(decide(&nobody, a, CLOSED), Err(Refusal::Hidden), "{a:?}");
            }
        }
        let unplanned = Standing {
            unplanned_room: true,
            ..Standing::default()
        };
        assert_eq!(
            decide(&unplanned, Action::MeetingsRead, AccessPolicy::Open),
            Err(Refusal::Hidden)
        );
    }

    #[test]
    fn only_the_meetings_chair_runs_its_floor_and_votes() {
        let chair = person(|p| p.chair = true);
        let delegate = person(|p| p.voting = true);
        assert_eq!(decide(&chair, Action::FloorChair, CLOSED), Ok(()));
        assert_eq!(decide(&chair, Action::VoteManage, CLOSED), Ok(()));
        assert!(decide(&delegate, Action::VoteManage, CLOSED).is_err());
        assert!(decide(&delegate, Action::FloorChair, CLOSED).is_err());
    }

    #[test]
    fn only_the_meetings_secretary_writes_its_minutes() {
        let sec = person(|p| p.secretary = true);
        let chair = person(|p| p.chair = true);
        assert_eq!(decide(&sec, Action::MinutesWrite, CLOSED), Ok(()));
        assert_eq!(
            decide(&chair, Action::MinutesWrite, CLOSED),
            Err(Refusal::Forbidden("not_the_secretary"))
        );
        assert!(may_draft_motion(&sec));
        assert_eq!(
            decide(&sec, Action::VoteManage, CLOSED),
            Err(Refusal::Forbidden("not_the_chair"))
        );
    }

    #[test]
    fn an_invited_guest_reads_but_does_not_vote() {
        let guest = person(|_| {});
        assert_eq!(decide(&guest, Action::MeetingsRead, CLOSED), Ok(()));
        assert_eq!(
            decide(&guest, Action::VoteCast, CLOSED),
            Err(Refusal::Forbidden("not_a_voter"))
        );
    }

    #[test]
    fn an_auditor_reads_every_meeting_and_runs_none() {
        let a = Standing {
            auditor: true,
            ..Standing::default()
        };
        assert_eq!(decide(&a, Action::RecordingsRead, CLOSED), Ok(()));
        assert_eq!(
            decide(&a, Action::LiveControl, CLOSED),
            Err(Refusal::Forbidden("read_only"))
        );
    }

    #[test]
    fn a_planned_room_takes_part_but_does_not_run_the_meeting() {
        let r = Standing {
            planned_room: true,
            ..Standing::default()
        };
        for a in [
            Action::MeetingsRead,
            Action::FloorSelf,
            Action::Headcount,
            Action::VoteCast,
        ] {
            assert_eq!(decide(&r, a, CLOSED), Ok(()), "{a:?}");
        }
        for a in [
            Action::LiveControl,
            Action::FloorChair,
            Action::VoteManage,
            Action::ReadinessRead,
        ] {
            assert!(decide(&r, a, CLOSED).is_err(), "{a:?}");
        }
        assert_eq!(decide(&r, Action::CheckReport, CLOSED), Ok(()));
        let unplanned = Standing {
            unplanned_room: true,
            ..Standing::default()
        };
        assert_eq!(
            decide(&unplanned, Action::CheckReport, AccessPolicy::Open),
            Err(Refusal::Hidden),
            "a room not planned checks nothing"
        );
    }
}
