//! WHIP/WHEP session resources: the `Location` a client `DELETE`s to hang
//! up. Its last segment is 128 random bits, not the engine's sequential
//! participant id, so one room cannot guess — and throw out — another's
//! session; and a `DELETE` is honoured only for the session's creator or an
//! operator of its meeting (checked by the caller of [`Resources::owner`]).

use std::collections::HashMap;
use std::sync::Mutex;

use rand::RngCore;

use crate::media::ParticipantId;

/// Sessions remembered at once. Every entry is a live WHIP/WHEP session;
/// entries of sessions that ended are pruned when the map reaches this
/// size, so it cannot grow past the engine's own participant count.
const PRUNE_AT: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub participant: ParticipantId,
    pub meeting: String,
    /// Who created it: an endpoint id, a user id, or `demo` for a
    /// join-token guest.
    pub owner: String,
}

#[derive(Default)]
pub struct Resources {
    map: Mutex<HashMap<String, Resource>>,
}

impl Resources {
    /// Remember a new session; returns its unguessable id. `alive` says
    /// whether a participant is still connected (for pruning).
    pub fn insert(&self, r: Resource, alive: impl Fn(ParticipantId) -> bool) -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        let mut map = self.map.lock().expect("resources");
        if map.len() >= PRUNE_AT {
            map.retain(|_, r| alive(r.participant));
        }
        map.insert(id.clone(), r);
        id
    }

    /// The session behind `id` in `meeting`, if any.
    pub fn get(&self, meeting: &str, id: &str) -> Option<Resource> {
        self.map
            .lock()
            .expect("resources")
            .get(id)
            .filter(|r| r.meeting == meeting)
            .cloned()
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().expect("resources").remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_id_is_random_and_scoped_to_its_meeting() {
        let rs = Resources::default();
        let r = Resource {
            participant: 7,
            meeting: "m".into(),
            owner: "ep".into(),
        };
        let a = rs.insert(r.clone(), |_| true);
        let b = rs.insert(r.clone(), |_| true);
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(rs.get("m", &a), Some(r));
        assert_eq!(rs.get("other", &a), None);
        assert_eq!(rs.get("m", "7"), None);
    }

    #[test]
    fn ended_sessions_are_pruned_when_the_map_is_full() {
        let rs = Resources::default();
        for i in 0..PRUNE_AT as u64 {
            rs.insert(
                Resource {
                    participant: i,
                    meeting: "m".into(),
                    owner: "o".into(),
                },
                |_| false,
            );
        }
        rs.insert(
            Resource {
                participant: 99_999,
                meeting: "m".into(),
                owner: "o".into(),
            },
            |_| false,
        );
        assert_eq!(rs.map.lock().unwrap().len(), 1);
    }
}
