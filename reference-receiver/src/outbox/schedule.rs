//! The in-memory schedule of one outbox: which events wait in which lane, and when each lane's
//! first event is due. Rebuilt from the `pending` tree when the outbox opens; sled stays the
//! truth, this is only the index the worker consults.
//!
//! The ordering rule lives here: a lane (one entity) has at most one event in flight, and only
//! its lowest sequence number may be taken. Lanes are independent, so one failing entity holds
//! back only its own later events.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::relay::RelayEvent;

/// The unit of ordering: events of one lane go out one at a time, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    /// Events about one entity: (entity type, or empty; entity id).
    Entity(String, String),
    /// An event without an entity: a lane of its own, named by its sequence number.
    Solo(u64),
}

impl Lane {
    /// The lane of event `id`.
    pub(crate) fn of(id: u64, event: &RelayEvent) -> Self {
        match &event.entity {
            Some(entity) => Self::Entity(
                event.entity_type.clone().unwrap_or_default(),
                entity.clone(),
            ),
            None => Self::Solo(id),
        }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entity(kind, id) if kind.is_empty() => f.write_str(id),
            Self::Entity(kind, id) => write!(f, "{kind}/{id}"),
            Self::Solo(_) => f.write_str("-"),
        }
    }
}

#[derive(Debug, Default)]
struct LaneState {
    // Waiting events (not in flight): sequence number -> due time (Unix ms). A BTreeMap
    // because the head is always the lowest sequence number, whatever order they arrive in
    // (a dead letter sent back by an operator keeps its old, lower number).
    waiting: BTreeMap<u64, i64>,
    // The event being attempted. While set, nothing else of this lane is taken.
    busy: Option<u64>,
    // This lane's entry in `Schedule::due`, kept so it can be moved when the head changes.
    scheduled: Option<(i64, u64)>,
}

/// Lanes and their due heads.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    lanes: HashMap<Lane, LaneState>,
    // The head of every idle lane, by (due time, sequence number): the worker's queue.
    due: BTreeMap<(i64, u64), Lane>,
    waiting: usize,
    in_flight: usize,
}

impl Schedule {
    /// Adds event `id` of `lane`, due at `due_ms`.
    pub(crate) fn add(&mut self, lane: Lane, id: u64, due_ms: i64) {
        let state = self.lanes.entry(lane.clone()).or_default();
        if state.waiting.insert(id, due_ms).is_none() {
            self.waiting += 1;
        }
        self.reschedule(&lane);
    }

    /// When the earliest idle lane head is due, if any lane is idle and waiting.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.due.keys().next().map(|&(at, _)| at)
    }

    /// Takes the earliest head due at `now_ms`, marking its lane busy.
    pub(crate) fn take(&mut self, now_ms: i64) -> Option<(u64, Lane)> {
        let (&(at, id), _) = self.due.iter().next()?;
        if at > now_ms {
            return None;
        }
        let lane = self.due.remove(&(at, id))?;
        let state = self.lanes.get_mut(&lane)?;
        state.scheduled = None;
        state.waiting.remove(&id);
        state.busy = Some(id);
        self.waiting -= 1;
        self.in_flight += 1;
        Some((id, lane))
    }

    /// Ends the attempt in flight on `lane`: the event is done (`retry_at` is `None`) or waits
    /// again until `retry_at` (Unix ms). The lane's next head becomes due.
    pub(crate) fn finish(&mut self, lane: &Lane, retry_at: Option<i64>) {
        let Some(state) = self.lanes.get_mut(lane) else {
            return;
        };
        if let Some(id) = state.busy.take() {
            self.in_flight -= 1;
            if let Some(at) = retry_at {
                state.waiting.insert(id, at);
                self.waiting += 1;
            }
        }
        self.reschedule(lane);
    }

    /// Whether event `id` of `lane` is being attempted.
    pub(crate) fn is_in_flight(&self, lane: &Lane, id: u64) -> bool {
        self.lanes
            .get(lane)
            .is_some_and(|state| state.busy == Some(id))
    }

    /// Events waiting (not in flight).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    /// Events being attempted.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Puts `lane`'s head (if the lane is idle) in the due queue, replacing its old entry;
    /// forgets the lane once it is empty.
    fn reschedule(&mut self, lane: &Lane) {
        let Some(state) = self.lanes.get_mut(lane) else {
            return;
        };
        if let Some(old) = state.scheduled.take() {
            self.due.remove(&old);
        }
        if state.busy.is_some() {
            return;
        }
        match state.waiting.first_key_value() {
            Some((&id, &at)) => {
                state.scheduled = Some((at, id));
                self.due.insert((at, id), lane.clone());
            }
            None => {
                self.lanes.remove(lane);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: &str) -> Lane {
        Lane::Entity("contact".into(), id.into())
    }

    #[test]
    fn a_lane_gives_out_one_event_at_a_time_in_sequence_order() {
        let mut schedule = Schedule::default();
        schedule.add(entity("a"), 1, 0);
        schedule.add(entity("a"), 2, 0);
        assert_eq!(schedule.take(0), Some((1, entity("a"))));
        assert_eq!(schedule.take(0), None, "2 waits while 1 is in flight");
        schedule.finish(&entity("a"), None);
        assert_eq!(schedule.take(0), Some((2, entity("a"))));
        schedule.finish(&entity("a"), None);
        assert_eq!((schedule.waiting(), schedule.in_flight()), (0, 0));
        assert!(schedule.lanes.is_empty() && schedule.due.is_empty());
    }

    #[test]
    fn a_failing_lane_does_not_hold_back_other_lanes() {
        let mut schedule = Schedule::default();
        schedule.add(entity("a"), 1, 0);
        schedule.add(entity("a"), 2, 0);
        schedule.add(entity("b"), 3, 0);
        schedule.add(Lane::Solo(4), 4, 0);
        assert_eq!(schedule.take(0), Some((1, entity("a"))));
        schedule.finish(&entity("a"), Some(1_000));
        assert_eq!(schedule.take(0), Some((3, entity("b"))));
        assert_eq!(schedule.take(0), Some((4, Lane::Solo(4))));
        assert_eq!(
            schedule.take(0),
            None,
            "a's head is not due, and 2 waits for it"
        );
        assert_eq!(schedule.next_due(), Some(1_000));
        assert_eq!(schedule.take(1_000), Some((1, entity("a"))));
    }

    #[test]
    fn an_older_event_added_back_goes_first_but_not_beside_the_one_in_flight() {
        let mut schedule = Schedule::default();
        schedule.add(entity("a"), 5, 0);
        schedule.add(entity("a"), 6, 0);
        assert_eq!(schedule.take(0), Some((5, entity("a"))));
        schedule.add(entity("a"), 2, 0);
        assert_eq!(schedule.take(0), None, "the lane is busy with 5");
        assert!(schedule.is_in_flight(&entity("a"), 5));
        schedule.finish(&entity("a"), None);
        assert_eq!(schedule.take(0), Some((2, entity("a"))));
    }
}
