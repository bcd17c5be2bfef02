//! Điểm danh: who is connected, since when, how often their link dropped,
//! how many people each room confirmed, and whether the meeting has its quorum.
//!
//! Quorum: with an expected number of people, `required = ⌈people × % / 100⌉`
//! against the confirmed headcounts of the rooms on the roll call that are
//! connected now (a room whose link is down cannot take part, whatever its
//! headcount was); without one, the same percentage of the roll-call rooms
//! against those connected. Guests never count: they are not expected.

use serde::{Deserialize, Serialize};

use super::{
    Conn, ConnectionKind, Effect, LiveError, LiveEvent, LiveMeeting, MAX_HEADCOUNT, Site, event,
};
use diemcau_media::{ParticipantId, SourceId};

/// What the quorum is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuorumBasis {
    People,
    Sites,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Quorum {
    pub basis: QuorumBasis,
    pub required: u32,
    pub present: u32,
    pub met: bool,
}

/// A room's place in the floor procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FloorStatus {
    None,
    /// Registered to speak, at `position` (1-based).
    Requested {
        position: u32,
    },
    Speaking,
}

/// One row of the roll call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RollCallSite {
    pub endpoint_id: String,
    pub name: String,
    pub unit_name: Option<String>,
    pub hub: bool,
    /// Here or on a node below this one.
    pub connected: bool,
    /// Its session on this node (none when it is on a node below).
    pub participant: Option<ParticipantId>,
    /// The node below it is connected to (through that node's relay).
    pub via_node: Option<String>,
    /// For a room on a node below: the source id its thumbnail arrives
    /// under in this node's room, while an operator here watches it (a
    /// console's thumbnail slot names it), as its wire number.
    pub thumb_participant: Option<u64>,
    pub kind: Option<ConnectionKind>,
    pub connected_since_ms: Option<u64>,
    pub connected_for_ms: Option<u64>,
    pub drops: u32,
    pub headcount: Option<u32>,
    pub headcount_confirmed_by: Option<String>,
    /// The room reported it itself: not yet what its vote weighs.
    pub headcount_self_reported: bool,
    pub on_stage: bool,
    pub muted_audio: bool,
    pub muted_video: bool,
    pub floor: FloorStatus,
    /// Removed by an operator and not re-admitted.
    pub removed: bool,
}

/// A connection that is not a room's sending session: a receive-only player
/// (`endpoint_id`: the room it named), or a client that named no endpoint.
/// Consoles are not listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OtherConnection {
    pub participant: ParticipantId,
    pub endpoint_id: Option<String>,
    /// The person watching (a console, a player), when it is one.
    pub user_id: Option<String>,
    pub name: String,
    pub kind: ConnectionKind,
    pub connected_since_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RollCall {
    /// The expected rooms (and the hub), in the meeting's order.
    pub sites: Vec<RollCallSite>,
    /// Rooms that joined without being expected, in order of first arrival.
    pub guests: Vec<RollCallSite>,
    pub others: Vec<OtherConnection>,
    pub connected_sites: u32,
    pub expected_sites: u32,
    /// The sum of the confirmed headcounts of the connected roll-call rooms.
    pub people_present: u32,
    pub quorum: Quorum,
}

fn ceil_percent(n: u32, percent: u8) -> u32 {
    let v = (u64::from(n) * u64::from(percent)).div_ceil(100);
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl LiveMeeting {
    /// The roll call now.
    pub fn roll_call(&self, now_ms: u64) -> RollCall {
        let stage = self.effective_stage();
        let row = |i: usize, s: &Site| RollCallSite {
            endpoint_id: s.id.clone(),
            name: s.name.clone(),
            unit_name: s.unit_name.clone(),
            hub: s.hub,
            connected: s.participant.is_some() || s.via.is_some(),
            participant: s.participant,
            via_node: s.via.and_then(|v| self.relay_node(v)),
            thumb_participant: s.via.and(s.thumb).map(SourceId::wire),
            kind: s.kind,
            connected_since_ms: s.connected_since_ms,
            connected_for_ms: s.connected_since_ms.map(|t| now_ms.saturating_sub(t)),
            drops: s.drops,
            headcount: s.headcount,
            headcount_confirmed_by: s.headcount_by.clone(),
            headcount_self_reported: s.headcount_self,
            on_stage: stage.contains(&i),
            muted_audio: s.muted_audio,
            muted_video: s.muted_video,
            floor: self.floor_status(i),
            removed: s.barred,
        };
        let mut sites = Vec::new();
        let mut guests = Vec::new();
        for (i, s) in self.sites.iter().enumerate() {
            if s.on_roll {
                sites.push(row(i, s));
            } else {
                guests.push(row(i, s));
            }
        }
        let mut others: Vec<OtherConnection> = self
            .participants
            .iter()
            .filter_map(|(&p, c)| match c {
                Conn::Other {
                    endpoint,
                    name,
                    kind,
                    since_ms,
                    user,
                    ..
                } => Some(OtherConnection {
                    participant: p,
                    endpoint_id: endpoint.clone(),
                    user_id: user.clone(),
                    name: name.clone(),
                    kind: *kind,
                    connected_since_ms: *since_ms,
                }),
                _ => None,
            })
            .collect();
        others.sort_by_key(|a| (a.connected_since_ms, a.participant));
        let att = self.attendance_now();
        RollCall {
            sites,
            guests,
            others,
            connected_sites: att.connected_sites,
            expected_sites: self.expected_sites(),
            people_present: att.people_present,
            quorum: att.quorum,
        }
    }

    /// An operator confirms how many people are in a room (`by`: their login).
    /// The headcount confirmed for a room at roll call by someone other
    /// than the room itself, if any: what the room's vote weighs.
    pub fn headcount(&self, endpoint_id: &str) -> Option<u32> {
        self.index
            .get(endpoint_id)
            .map(|&i| &self.sites[i])
            .filter(|s| !s.headcount_self)
            .and_then(|s| s.headcount)
    }

    /// A room reports its own headcount: on the roll call and in the
    /// quorum, but not yet a weight for its vote (see [`LiveMeeting::headcount`]).
    pub fn report_own_headcount(
        &mut self,
        endpoint_id: &str,
        headcount: u32,
        by: &str,
    ) -> Result<Vec<Effect>, LiveError> {
        let fx = self.confirm_headcount(endpoint_id, headcount, by)?;
        let i = self.site_idx(endpoint_id)?;
        self.sites[i].headcount_self = true;
        Ok(fx)
    }

    pub fn confirm_headcount(
        &mut self,
        endpoint_id: &str,
        headcount: u32,
        by: &str,
    ) -> Result<Vec<Effect>, LiveError> {
        let i = self.site_idx(endpoint_id)?;
        if headcount > MAX_HEADCOUNT {
            return Err(LiveError::HeadcountTooLarge(headcount));
        }
        let before = self.before();
        let s = &mut self.sites[i];
        s.headcount = Some(headcount);
        s.headcount_by = Some(by.to_string());
        s.headcount_self = false;
        let mut fx = vec![event(LiveEvent::Headcount {
            endpoint_id: s.id.clone(),
            headcount,
            confirmed_by: by.to_string(),
        })];
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// The quorum now.
    pub fn quorum(&self) -> Quorum {
        self.attendance_now().quorum
    }

    fn expected_sites(&self) -> u32 {
        let n = self.sites.iter().filter(|s| s.on_roll).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    pub(super) fn attendance_now(&self) -> super::Attendance {
        let mut connected_sites = 0u32;
        let mut people = 0u32;
        for s in self.sites.iter().filter(|s| s.on_roll) {
            if s.participant.is_some() || s.via.is_some() {
                connected_sites += 1;
                people = people.saturating_add(s.headcount.unwrap_or(0));
            }
        }
        let (basis, required, present) = match self.expected_people {
            Some(n) => (
                QuorumBasis::People,
                ceil_percent(n, self.quorum_percent),
                people,
            ),
            None => (
                QuorumBasis::Sites,
                ceil_percent(self.expected_sites(), self.quorum_percent),
                connected_sites,
            ),
        };
        super::Attendance {
            quorum: Quorum {
                basis,
                required,
                present,
                met: present >= required,
            },
            people_present: people,
            connected_sites,
        }
    }

    pub(super) fn floor_status(&self, i: usize) -> FloorStatus {
        if self.speaker.as_ref().is_some_and(|sp| sp.site == i) {
            return FloorStatus::Speaking;
        }
        match self.queue.iter().position(|r| r.site == i) {
            Some(p) => FloorStatus::Requested {
                position: u32::try_from(p + 1).unwrap_or(u32::MAX),
            },
            None => FloorStatus::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    fn with_people(n: usize, people: Option<u32>, percent: u8) -> LiveMeeting {
        let sites = (1..=n)
            .map(|k| ExpectedSite {
                endpoint_id: format!("x{k}"),
                name: format!("Phường {k}"),
                unit_name: None,
            })
            .collect();
        LiveMeeting::new(sites, Some("tu".into()), people, percent).unwrap()
    }

    #[test]
    fn a_rooms_own_headcount_counts_for_the_quorum_but_not_as_its_vote_weight() {
        let mut m = with_people(2, Some(10), 50);
        m.report_own_headcount("x1", 7, "Xã 1").unwrap();
        assert_eq!(m.headcount("x1"), None);
        m.confirm_headcount("x1", 6, "thuky").unwrap();
        assert_eq!(m.headcount("x1"), Some(6));
    }

    #[test]
    fn quorum_by_people_counts_confirmed_headcounts_of_connected_rooms() {
        // 45 expected members, two thirds (67 %): ceil(30.15) = 31 needed.
        let mut m = with_people(3, Some(45), 67);
        assert_eq!(
            m.quorum(),
            Quorum {
                basis: QuorumBasis::People,
                required: 31,
                present: 0,
                met: false
            }
        );
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        join(&mut m, "x2", 12);
        m.confirm_headcount("tu", 20, "thuky").unwrap();
        m.confirm_headcount("x1", 6, "thuky").unwrap();
        // A headcount for a room not connected does not count yet.
        m.confirm_headcount("x3", 9, "thuky").unwrap();
        assert_eq!(m.roll_call(T0).people_present, 26);
        assert!(!m.quorum().met);
        let fx = m.confirm_headcount("x2", 5, "thuky").unwrap();
        assert!(events(&fx).contains(&LiveEvent::QuorumChanged {
            quorum: Quorum {
                basis: QuorumBasis::People,
                required: 31,
                present: 31,
                met: true
            },
            people_present: 31,
            connected_sites: 3,
        }));
        assert_eq!(
            events(&fx)[0],
            LiveEvent::Headcount {
                endpoint_id: "x2".into(),
                headcount: 5,
                confirmed_by: "thuky".into()
            }
        );
        let row = site(&m, "x2");
        assert_eq!(row.headcount, Some(5));
        assert_eq!(row.headcount_confirmed_by.as_deref(), Some("thuky"));
        // A drop loses the room's people, and the quorum with them.
        let fx = m.disconnected(12, T0 + 1);
        assert!(events(&fx).iter().any(|e| matches!(
            e,
            LiveEvent::QuorumChanged {
                quorum: Quorum {
                    met: false,
                    present: 26,
                    ..
                },
                ..
            }
        )));
    }

    #[test]
    fn quorum_by_sites_when_no_people_count() {
        // The hub is added to the roll call: 5 rooms, 50 % → 3 needed.
        let mut m = with_people(4, None, 50);
        let rc = m.roll_call(T0);
        assert_eq!(rc.expected_sites, 5);
        assert_eq!(rc.sites[0].endpoint_id, "tu");
        assert!(rc.sites[0].hub);
        assert_eq!(rc.quorum.basis, QuorumBasis::Sites);
        assert_eq!(rc.quorum.required, 3);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        assert!(!m.quorum().met);
        // A guest does not count.
        join(&mut m, "khach", 99);
        assert!(!m.quorum().met);
        join(&mut m, "x2", 12);
        assert_eq!(
            m.quorum(),
            Quorum {
                basis: QuorumBasis::Sites,
                required: 3,
                present: 3,
                met: true
            }
        );
        assert_eq!(m.roll_call(T0).connected_sites, 3);
    }

    #[test]
    fn the_hub_not_expected_takes_its_name_from_its_connection() {
        let mut m = with_people(1, None, 50);
        m.connected(
            Some("tu"),
            1,
            "Hội trường Tỉnh ủy",
            ConnectionKind::Room,
            T0,
        )
        .unwrap();
        assert_eq!(site(&m, "tu").name, "Hội trường Tỉnh ủy");
    }

    #[test]
    fn headcount_too_large_or_unknown_changes_nothing() {
        let mut m = meeting(1);
        m.confirm_headcount("x1", 12, "a").unwrap();
        assert_eq!(
            m.confirm_headcount("x1", 10_001, "b"),
            Err(LiveError::HeadcountTooLarge(10_001))
        );
        assert_eq!(
            m.confirm_headcount("nowhere", 1, "b"),
            Err(LiveError::UnknownEndpoint("nowhere".into()))
        );
        assert_eq!(site(&m, "x1").headcount, Some(12));
        assert_eq!(site(&m, "x1").headcount_confirmed_by.as_deref(), Some("a"));
        assert!(m.confirm_headcount("x1", 10_000, "b").is_ok());
    }

    #[test]
    fn construction_rejects_bad_input() {
        let dup = vec![
            ExpectedSite {
                endpoint_id: "a".into(),
                name: "A".into(),
                unit_name: None,
            };
            2
        ];
        assert_eq!(
            LiveMeeting::new(dup, None, None, 50).err(),
            Some(LiveError::DuplicateEndpoint("a".into()))
        );
        assert_eq!(
            LiveMeeting::new(vec![], None, None, 101).err(),
            Some(LiveError::BadQuorumPercent(101))
        );
    }

    #[test]
    fn connection_time_and_connected_since_are_reported() {
        let mut m = meeting(1);
        join(&mut m, "x1", 11);
        let rc = m.roll_call(T0 + 7_000);
        let row = rc.sites.iter().find(|s| s.endpoint_id == "x1").unwrap();
        assert_eq!(row.connected_since_ms, Some(T0));
        assert_eq!(row.connected_for_ms, Some(7_000));
        assert_eq!(row.participant, Some(11));
        assert_eq!(row.kind, Some(ConnectionKind::Room));
    }
}
