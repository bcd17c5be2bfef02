//! Meetings: scheduling, recurrence, participants by unit query, lifecycle, ICS.
