//! Why an operation or a join was refused. An erroring call changes nothing.

use diemcau_media::ParticipantId;

/// An operator's (or an endpoint's) request that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error("unknown endpoint {0:?}: it is not expected in this meeting and has not joined it")]
    UnknownEndpoint(String),
    #[error("endpoint {0:?} is not connected")]
    NotConnected(String),
    #[error("endpoint {0:?} is not in the floor queue")]
    NotInQueue(String),
    #[error("the new order is not a permutation of the floor queue: {0}")]
    NotAPermutation(String),
    #[error("a scan dwell of {0} ms is outside 5 s to 10 min")]
    BadDwell(u64),
    #[error("a headcount of {0} is more than the 10000 a room can hold")]
    HeadcountTooLarge(u32),
    #[error("endpoint {0:?} is listed twice")]
    DuplicateEndpoint(String),
    #[error("the scan order is empty")]
    EmptyScan,
    #[error(
        "endpoint {0:?} is the hub: it chairs the meeting, so it is neither scanned nor given the floor"
    )]
    IsHub(String),
    #[error("nobody has the floor")]
    NoFloorHolder,
    #[error("endpoint {0:?} has not been removed")]
    NotRemoved(String),
    #[error("a quorum of {0}% is more than 100%")]
    BadQuorumPercent(u8),
    #[error("a speaking limit of {0} ms is shorter than one second")]
    BadLimit(u64),
    #[error("participant {0} is not a child node's relay in this meeting")]
    NotARelay(ParticipantId),
    #[error("endpoint {0:?} is not waiting in the lobby")]
    NotInLobby(String),
    #[error("connection {0} is not a console, player or publisher of this meeting")]
    UnknownConnection(ParticipantId),
    #[error("endpoint {0:?} is already connected")]
    AlreadyConnected(String),
    #[error("endpoint {0:?} was removed from the meeting; re-admit it before calling it")]
    Barred(String),
}

impl LiveError {
    /// A stable machine-readable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            LiveError::UnknownEndpoint(_) => "unknown_endpoint",
            LiveError::NotConnected(_) => "not_connected",
            LiveError::NotInQueue(_) => "not_in_queue",
            LiveError::NotAPermutation(_) => "not_a_permutation",
            LiveError::BadDwell(_) => "bad_dwell",
            LiveError::HeadcountTooLarge(_) => "headcount_too_large",
            LiveError::DuplicateEndpoint(_) => "duplicate_endpoint",
            LiveError::EmptyScan => "empty_scan",
            LiveError::IsHub(_) => "is_hub",
            LiveError::NoFloorHolder => "no_floor_holder",
            LiveError::NotRemoved(_) => "not_removed",
            LiveError::BadQuorumPercent(_) => "bad_quorum_percent",
            LiveError::BadLimit(_) => "bad_limit",
            LiveError::NotARelay(_) => "not_a_relay",
            LiveError::NotInLobby(_) => "not_in_lobby",
            LiveError::UnknownConnection(_) => "unknown_connection",
            LiveError::AlreadyConnected(_) => "already_connected",
            LiveError::Barred(_) => "removed",
        }
    }
}

/// Why a connection was not admitted to the meeting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the meeting is locked; an operator must unlock it")]
    Locked,
    #[error("endpoint {0:?} was removed from the meeting; an operator must re-admit it")]
    Removed(String),
    #[error("participant {0} is already connected")]
    ParticipantInUse(ParticipantId),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Locked => "meeting_locked",
            Refusal::Removed(_) => "endpoint_removed",
            Refusal::ParticipantInUse(_) => "participant_in_use",
        }
    }
}
