//! Which offsets may be committed: for each partition, everything below the oldest record
//! still in flight. A record's offset becomes committable only when it and every earlier
//! record of its partition are done.
use std::collections::{BTreeSet, HashMap};

pub(crate) type Tp = (String, i32);

#[derive(Debug, Default)]
struct PartitionState {
    /// Bumped when the partition is revoked, so late completions from the old assignment
    /// cannot move a new owner's offsets.
    generation: u64,
    in_flight: BTreeSet<i64>,
    highest_seen: Option<i64>,
    /// Next offset to commit, when it moved since the last commit.
    pending_commit: Option<i64>,
    committed: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct OffsetTracker {
    parts: HashMap<Tp, PartitionState>,
}

impl OffsetTracker {
    /// Records that `offset` was dispatched; returns the partition's generation.
    pub(crate) fn begin(&mut self, tp: &Tp, offset: i64) -> u64 {
        let p = self.parts.entry(tp.clone()).or_default();
        p.in_flight.insert(offset);
        p.highest_seen = Some(p.highest_seen.map_or(offset, |h| h.max(offset)));
        p.generation
    }

    /// Marks `offset` done (handled, or dead-lettered).
    pub(crate) fn complete(&mut self, tp: &Tp, offset: i64, generation: u64) {
        let Some(p) = self.parts.get_mut(tp) else {
            return;
        };
        if p.generation != generation || !p.in_flight.remove(&offset) {
            return;
        }
        let next = match p.in_flight.first() {
            Some(oldest) => *oldest,
            None => p.highest_seen.map_or(offset + 1, |h| h + 1),
        };
        if p.committed.is_none_or(|c| next > c) {
            p.pending_commit = Some(next);
        }
    }

    /// Offsets to commit now (next offset to read per partition); marks them committed.
    pub(crate) fn take_commits(&mut self) -> Vec<(Tp, i64)> {
        let mut out = Vec::new();
        for (tp, p) in &mut self.parts {
            if let Some(next) = p.pending_commit.take() {
                p.committed = Some(next);
                out.push((tp.clone(), next));
            }
        }
        out
    }

    /// Forgets a partition that is no longer ours: its in-flight records will be delivered
    /// again to the new owner, and their completions here are ignored.
    pub(crate) fn revoke(&mut self, tp: &Tp) {
        if let Some(p) = self.parts.get_mut(tp) {
            *p = PartitionState {
                generation: p.generation + 1,
                ..Default::default()
            };
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.parts.values().map(|p| p.in_flight.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> Tp {
        ("t".into(), 0)
    }

    #[test]
    fn commits_only_below_the_oldest_in_flight_record() {
        let mut t = OffsetTracker::default();
        let g = t.begin(&tp(), 10);
        t.begin(&tp(), 11);
        t.begin(&tp(), 12);
        t.complete(&tp(), 12, g);
        t.complete(&tp(), 11, g);
        assert_eq!(t.take_commits(), vec![(tp(), 10)], "10 is still in flight");
        t.complete(&tp(), 10, g);
        assert_eq!(t.take_commits(), vec![(tp(), 13)]);
        assert!(t.take_commits().is_empty(), "nothing new to commit");
    }

    #[test]
    fn completions_from_a_revoked_assignment_are_ignored() {
        let mut t = OffsetTracker::default();
        let old = t.begin(&tp(), 5);
        t.revoke(&tp());
        let new = t.begin(&tp(), 5);
        t.complete(&tp(), 5, old);
        assert!(t.take_commits().is_empty());
        assert_eq!(t.in_flight(), 1);
        t.complete(&tp(), 5, new);
        assert_eq!(t.take_commits(), vec![(tp(), 6)]);
    }
}
