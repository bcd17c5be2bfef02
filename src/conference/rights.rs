//! What each kind of caller may ever do ([`Action`], [`role_permits`],
//! [`endpoint_permits`]): the role table every `/api/v1` route is checked
//! against before its handler runs. In which meetings is decided by
//! `conference::access`, from the caller's standing in each.

use serde::Serialize;

use crate::control::people::Role;

/// What a route does, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Anyone, even unauthenticated (login, the OpenAPI document).
    Public,
    /// Any logged-in person acting on themselves (me, logout, own tokens).
    Own,
    UsersRead,
    UsersWrite,
    OrgRead,
    OrgWrite,
    EndpointsRead,
    /// Create, edit and re-bind endpoints, rotate and revoke their tokens.
    EndpointsWrite,
    MeetingsRead,
    /// Create, edit, cancel meetings.
    MeetingsWrite,
    /// Open, start, end a meeting.
    MeetingLifecycle,
    /// The live state and its event stream.
    LiveRead,
    /// Mute, stage, lecture scan, lock, remove, scenes.
    LiveControl,
    /// Order the floor queue, grant and revoke the floor (the chair's job).
    FloorChair,
    /// Ask for or withdraw from the floor (a room, or an operator for it).
    FloorSelf,
    /// Confirm how many people sit in a room.
    Headcount,
    AuditRead,
    /// Plan a meeting's agenda (items, order, presenters).
    AgendaWrite,
    /// Drive the room: advance the current agenda item, page-sync a document.
    Present,
    /// Upload, version, recall a meeting's documents.
    DocumentsWrite,
    /// Create motions; open, close and publish votes (the chair decides).
    VoteManage,
    /// Cast a vote (a delegate, or a room voting with its headcount).
    VoteCast,
    /// Draft, edit and finalise the minutes (the secretary's job).
    MinutesWrite,
    /// Sign the final minutes personally (the meeting's secretary, then
    /// its chair), with their own certificate.
    MinutesSign,
    /// Start and stop a meeting's recording.
    RecordControl,
    /// List, download and replay recordings.
    RecordingsRead,
    /// This node's place in the cascade, its parent link and its child nodes.
    CascadeRead,
    /// Register child nodes, rotate and revoke their credentials.
    CascadeWrite,
    /// A room reports its own technical check (kiểm tra kỹ thuật).
    CheckReport,
    /// The readiness board of a meeting and its exports (technicians' phones),
    /// and its link quality afterwards.
    ReadinessRead,
    /// The monthly report per unit (every unit of the province: not for a
    /// sub-operator, whose scope is one subtree).
    ReportsRead,
    /// A child cascade node, by its own credential: no person, no room. The
    /// handler authenticates the node (the table grants it to nobody).
    Node,
    /// See the trust anchors and CRLs signatures are checked against.
    TrustRead,
    /// Upload and remove CRLs, re-check every signed document (admin).
    TrustWrite,
}

impl Action {
    pub const ALL: [Action; 34] = [
        Action::Public,
        Action::Own,
        Action::UsersRead,
        Action::UsersWrite,
        Action::OrgRead,
        Action::OrgWrite,
        Action::EndpointsRead,
        Action::EndpointsWrite,
        Action::MeetingsRead,
        Action::MeetingsWrite,
        Action::MeetingLifecycle,
        Action::LiveRead,
        Action::LiveControl,
        Action::FloorChair,
        Action::FloorSelf,
        Action::Headcount,
        Action::AuditRead,
        Action::AgendaWrite,
        Action::Present,
        Action::DocumentsWrite,
        Action::VoteManage,
        Action::VoteCast,
        Action::MinutesWrite,
        Action::MinutesSign,
        Action::RecordControl,
        Action::RecordingsRead,
        Action::CascadeRead,
        Action::CascadeWrite,
        Action::CheckReport,
        Action::ReadinessRead,
        Action::ReportsRead,
        Action::Node,
        Action::TrustRead,
        Action::TrustWrite,
    ];

    /// The action's name as the API and the audit log spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Public => "public",
            Action::Own => "own",
            Action::UsersRead => "users_read",
            Action::UsersWrite => "users_write",
            Action::OrgRead => "org_read",
            Action::OrgWrite => "org_write",
            Action::EndpointsRead => "endpoints_read",
            Action::EndpointsWrite => "endpoints_write",
            Action::MeetingsRead => "meetings_read",
            Action::MeetingsWrite => "meetings_write",
            Action::MeetingLifecycle => "meeting_lifecycle",
            Action::LiveRead => "live_read",
            Action::LiveControl => "live_control",
            Action::FloorChair => "floor_chair",
            Action::FloorSelf => "floor_self",
            Action::Headcount => "headcount",
            Action::AuditRead => "audit_read",
            Action::AgendaWrite => "agenda_write",
            Action::Present => "present",
            Action::DocumentsWrite => "documents_write",
            Action::VoteManage => "vote_manage",
            Action::VoteCast => "vote_cast",
            Action::MinutesWrite => "minutes_write",
            Action::MinutesSign => "minutes_sign",
            Action::RecordControl => "record_control",
            Action::RecordingsRead => "recordings_read",
            Action::CascadeRead => "cascade_read",
            Action::CascadeWrite => "cascade_write",
            Action::CheckReport => "check_report",
            Action::ReadinessRead => "readiness_read",
            Action::ReportsRead => "reports_read",
            Action::Node => "node",
            Action::TrustRead => "trust_read",
            Action::TrustWrite => "trust_write",
        }
    }
}

/// The permission table: may `role` do `action`? One line per role, read
/// across. Admin does everything; the auditor reads everything and changes
/// nothing; a sub-operator may do an operator's meeting work inside its
/// subtree but not reshape the org tree (that follows a decree, at province
/// level) or see the audit log.
pub fn role_permits(role: Role, action: Action) -> bool {
    use Action::*;
    let allowed: &[Action] = match role {
        Role::Admin => return true,
        Role::Operator => &[
            UsersRead,
            OrgRead,
            OrgWrite,
            EndpointsRead,
            EndpointsWrite,
            MeetingsRead,
            MeetingsWrite,
            MeetingLifecycle,
            LiveRead,
            LiveControl,
            FloorChair,
            FloorSelf,
            Headcount,
            AgendaWrite,
            Present,
            DocumentsWrite,
            VoteManage,
            RecordControl,
            RecordingsRead,
            CascadeRead,
            TrustRead,
            ReadinessRead,
            ReportsRead,
        ],
        Role::SubOperator => &[
            UsersRead,
            OrgRead,
            EndpointsRead,
            EndpointsWrite,
            MeetingsRead,
            MeetingsWrite,
            MeetingLifecycle,
            LiveRead,
            LiveControl,
            FloorChair,
            FloorSelf,
            Headcount,
            AgendaWrite,
            Present,
            DocumentsWrite,
            VoteManage,
            RecordControl,
            RecordingsRead,
            ReadinessRead,
        ],
        Role::Secretary => &[
            UsersRead,
            OrgRead,
            EndpointsRead,
            MeetingsRead,
            MeetingsWrite,
            LiveRead,
            Headcount,
            AgendaWrite,
            Present,
            DocumentsWrite,
            VoteManage,
            MinutesWrite,
            MinutesSign,
            RecordingsRead,
        ],
        Role::Chair => &[
            OrgRead,
            EndpointsRead,
            MeetingsRead,
            LiveRead,
            FloorChair,
            Present,
            VoteManage,
            VoteCast,
            MinutesSign,
            RecordingsRead,
        ],
        Role::Delegate => &[OrgRead, MeetingsRead, LiveRead, VoteCast, FloorSelf],
        Role::Auditor => &[
            UsersRead,
            OrgRead,
            EndpointsRead,
            MeetingsRead,
            LiveRead,
            AuditRead,
            RecordingsRead,
            CascadeRead,
            TrustRead,
            ReadinessRead,
            ReportsRead,
        ],
    };
    matches!(action, Public | Own) || allowed.contains(&action)
}

/// Does any of `roles` permit `action`?
pub fn role_permits_any(roles: &std::collections::BTreeSet<Role>, action: Action) -> bool {
    roles.iter().any(|r| role_permits(*r, action))
}

/// A room endpoint may read its meetings, ask for the floor, report its
/// headcount and its technical check and vote with it — for itself only
/// (checked by the handlers).
pub fn endpoint_permits(action: Action) -> bool {
    matches!(
        action,
        Action::Public
            | Action::MeetingsRead
            | Action::LiveRead
            | Action::FloorSelf
            | Action::Headcount
            | Action::CheckReport
            | Action::VoteCast
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditor_changes_nothing_and_admin_does_everything() {
        for a in Action::ALL {
            assert!(role_permits(Role::Admin, a));
            let write = matches!(
                a,
                Action::UsersWrite
                    | Action::AgendaWrite
                    | Action::Present
                    | Action::DocumentsWrite
                    | Action::VoteManage
                    | Action::VoteCast
                    | Action::MinutesWrite
                    | Action::MinutesSign
                    | Action::OrgWrite
                    | Action::EndpointsWrite
                    | Action::MeetingsWrite
                    | Action::MeetingLifecycle
                    | Action::LiveControl
                    | Action::FloorChair
                    | Action::FloorSelf
                    | Action::Headcount
                    | Action::CheckReport
                    | Action::CascadeWrite
            );
            if write {
                assert!(!role_permits(Role::Auditor, a), "{a:?}");
            }
        }
    }

    #[test]
    fn only_admin_and_auditor_read_the_audit_log() {
        let readers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| role_permits(*r, Action::AuditRead))
            .collect();
        assert_eq!(readers, vec![Role::Admin, Role::Auditor]);
    }

    #[test]
    fn only_admin_changes_the_cascade_and_no_person_role_is_a_node() {
        let writers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| role_permits(*r, Action::CascadeWrite))
            .collect();
        assert_eq!(writers, vec![Role::Admin]);
        for r in Role::ALL {
            assert!(r == Role::Admin || !role_permits(r, Action::Node), "{r:?}");
        }
        assert!(!endpoint_permits(Action::Node));
    }
}
