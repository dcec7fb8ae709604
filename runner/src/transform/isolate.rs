//! Finding the records that make a stage fail, by splitting the batch.
//!
//! When a call fails in a way the sandbox contained (trap, timeout, memory,
//! stack), the records are split in halves and each half is tried again on a
//! fresh instance, breadth first, until every record is either in a call
//! that succeeded or fails alone. Records that fail alone are poison pills;
//! everything else keeps the results of the calls that succeeded.
//!
//! Two shortcuts keep a broken module from costing a call per record:
//! - once the first half of a failed set succeeds, the second half is
//!   known to hold the culprit and is split at once instead of being tried
//!   whole (a single record is still always tried alone);
//! - each failed set not yet split holds at least one failing record, so
//!   their count plus the records already found is a lower bound on the
//!   failing records; once that bound exceeds the broken-deploy share the
//!   search stops. So does a time budget, which matters for timeouts.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::error::StageFailure;

/// When to stop looking for poison pills and call the stage broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Broken when failing records are more than this percent of the batch…
    pub percent: u8,
    /// …and at least this many.
    pub min_records: usize,
    /// Broken when isolating takes longer than this.
    pub budget: Duration,
}

/// What the search found.
#[derive(Debug)]
pub(crate) struct Isolated<T> {
    /// Successful calls: the records (as given) and the answer for them.
    pub ok: Vec<(Vec<usize>, T)>,
    /// Records that fail alone, with how.
    pub bad: Vec<(usize, StageFailure)>,
    /// Calls made, the first included.
    pub calls: u32,
}

/// Why the search gave up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Abort {
    /// A failure that is about the module, not the records.
    NotData(StageFailure),
    /// At least `failing` records fail: more than the policy allows.
    TooMany { failure: StageFailure, failing: usize },
    /// The time budget ran out with at least `failing` records failing.
    Budget { failure: StageFailure, failing: usize },
}

enum State {
    /// Not run on its own yet.
    Untried,
    /// Failed when run on its own.
    Failed(StageFailure),
    /// Not run, but its sibling succeeded, so it holds the culprit.
    Suspect(StageFailure),
}

/// Runs `records` through `call`, isolating failing records as described in
/// the module docs.
pub(crate) fn run<T>(
    records: Vec<usize>,
    policy: &Policy,
    call: impl FnMut(&[usize]) -> Result<T, StageFailure>,
) -> Result<Isolated<T>, Abort> {
    let total = records.len();
    let found = Isolated { ok: Vec::new(), bad: Vec::new(), calls: 0 };
    let mut search = Search { found, queue: VecDeque::new(), started: None, policy, total, call };
    search.queue.push_back((records, State::Untried));
    while let Some((set, state)) = search.queue.pop_front() {
        let (set, failure) = match state {
            State::Failed(f) => (set, f),
            State::Suspect(f) if set.len() > 1 => (set, f),
            State::Untried | State::Suspect(_) => match search.try_set(set)? {
                Some(failed) => failed,
                None => continue,
            },
        };
        if set.len() == 1 {
            search.found.bad.push((set[0], failure));
        } else {
            let mut first = set;
            let second = first.split_off(first.len() / 2);
            match search.try_set(first)? {
                None => search.queue.push_back((second, State::Suspect(failure))),
                Some((first, f)) => {
                    search.queue.push_back((first, State::Failed(f)));
                    search.queue.push_back((second, State::Untried));
                }
            }
        }
        search.check_share()?;
    }
    Ok(search.found)
}

struct Search<'p, T, F> {
    found: Isolated<T>,
    queue: VecDeque<(Vec<usize>, State)>,
    /// When the first contained failure happened: the budget counts from it.
    started: Option<Instant>,
    policy: &'p Policy,
    total: usize,
    call: F,
}

impl<T, F: FnMut(&[usize]) -> Result<T, StageFailure>> Search<'_, T, F> {
    /// Runs `set` alone. `None` when it succeeded (its answer is kept), the
    /// set back with its failure when the sandbox contained one.
    fn try_set(&mut self, set: Vec<usize>) -> Result<Option<(Vec<usize>, StageFailure)>, Abort> {
        if let Some(t) = self.started
            && t.elapsed() > self.policy.budget
        {
            let failure = failure_hint(self);
            return Err(Abort::Budget { failure, failing: self.lower_bound().max(1) });
        }
        self.found.calls += 1;
        match (self.call)(&set) {
            Ok(out) => {
                self.found.ok.push((set, out));
                Ok(None)
            }
            Err(f) if !f.is_contained() => Err(Abort::NotData(f)),
            Err(f) => {
                self.started.get_or_insert_with(Instant::now);
                Ok(Some((set, f)))
            }
        }
    }

    /// Records known to fail: those found, plus one per failed set not
    /// split yet.
    fn lower_bound(&self) -> usize {
        self.found.bad.len() + self.queue.iter().filter(|(_, s)| matches!(s, State::Failed(_))).count()
    }

    fn check_share(&self) -> Result<(), Abort> {
        let failing = self.lower_bound();
        if failing >= self.policy.min_records.max(1) && failing * 100 > usize::from(self.policy.percent) * self.total {
            return Err(Abort::TooMany { failure: failure_hint(self), failing });
        }
        Ok(())
    }
}

/// The most recent failure seen, to report when giving up.
fn failure_hint<T, F>(search: &Search<'_, T, F>) -> StageFailure {
    search
        .queue
        .iter()
        .rev()
        .find_map(|(_, s)| match s {
            State::Failed(f) | State::Suspect(f) => Some(f.clone()),
            State::Untried => None,
        })
        .or_else(|| search.found.bad.last().map(|(_, f)| f.clone()))
        .unwrap_or_else(|| StageFailure::Trap("failed".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::transform::output::{StageOutput, Verdict};

    fn policy() -> Policy {
        Policy { percent: 50, min_records: 3, budget: Duration::from_secs(60) }
    }

    /// A fake stage: traps when the set holds a pill, times out when it is
    /// longer than `max_len`.
    fn stage(pills: &[usize], max_len: usize) -> impl FnMut(&[usize]) -> Result<StageOutput, StageFailure> {
        let pills: BTreeSet<usize> = pills.iter().copied().collect();
        move |set: &[usize]| {
            if let Some(p) = set.iter().find(|i| pills.contains(i)) {
                return Err(StageFailure::Trap(format!("pill {p}")));
            }
            if set.len() > max_len {
                return Err(StageFailure::Timeout { limit_ms: 1 });
            }
            Ok(StageOutput { verdicts: vec![Verdict::Keep; set.len()], rows: vec![] })
        }
    }

    /// Every record is either in exactly one successful call or bad.
    fn assert_partition(found: &Isolated<StageOutput>, n: usize) {
        let mut seen = vec![0; n];
        for (set, out) in &found.ok {
            assert_eq!(set.len(), out.verdicts.len());
            for &i in set {
                seen[i] += 1;
            }
        }
        for (i, _) in &found.bad {
            seen[*i] += 1;
        }
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
    }

    #[test]
    fn a_clean_batch_is_one_call() {
        let found = run((0..100).collect(), &policy(), stage(&[], usize::MAX)).unwrap();
        assert_eq!(found.calls, 1);
        assert!(found.bad.is_empty());
        assert_partition(&found, 100);
    }

    #[test]
    fn one_pill_in_a_hundred() {
        let found = run((0..100).collect(), &policy(), stage(&[37], usize::MAX)).unwrap();
        assert_eq!(found.bad, vec![(37, StageFailure::Trap("pill 37".into()))]);
        assert_partition(&found, 100);
        assert!(found.calls <= 16, "{} calls", found.calls);
    }

    #[test]
    fn pills_at_the_edges_and_together() {
        for pills in [vec![0], vec![99], vec![0, 99], vec![10, 11, 12], vec![5, 50, 95]] {
            let found = run((0..100).collect(), &policy(), stage(&pills, usize::MAX)).unwrap();
            let mut bad: Vec<usize> = found.bad.iter().map(|(i, _)| *i).collect();
            bad.sort();
            assert_eq!(bad, pills);
            assert_partition(&found, 100);
        }
    }

    #[test]
    fn indices_need_not_be_contiguous() {
        let records: Vec<usize> = (0..50).map(|i| i * 3).collect();
        let found = run(records, &policy(), stage(&[42], usize::MAX)).unwrap();
        assert_eq!(found.bad.len(), 1);
        assert_eq!(found.bad[0].0, 42);
    }

    #[test]
    fn a_batch_too_big_for_the_limit_splits_without_rejects() {
        let found = run((0..100).collect(), &policy(), stage(&[], 10)).unwrap();
        assert!(found.bad.is_empty());
        assert_partition(&found, 100);
    }

    #[test]
    fn failing_everywhere_is_a_broken_deploy() {
        let all: Vec<usize> = (0..100).collect();
        let err = run(all.clone(), &policy(), stage(&all, usize::MAX)).unwrap_err();
        match err {
            Abort::TooMany { failing, failure: StageFailure::Trap(_) } => assert!(failing > 50, "{failing}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_lone_pill_in_a_tiny_batch_is_still_a_dead_letter() {
        let found = run(vec![0], &policy(), stage(&[0], usize::MAX)).unwrap();
        assert_eq!(found.bad.len(), 1);
        let found = run(vec![0, 1], &policy(), stage(&[0, 1], usize::MAX)).unwrap();
        assert_eq!(found.bad.len(), 2);
        // Three of four is past both the share and the minimum.
        assert!(matches!(run(vec![0, 1, 2, 3], &policy(), stage(&[0, 1, 2], usize::MAX)), Err(Abort::TooMany { .. })));
    }

    #[test]
    fn module_errors_stop_at_once() {
        let mut calls = 0;
        let err = run((0..10).collect(), &policy(), |_: &[usize]| -> Result<StageOutput, StageFailure> {
            calls += 1;
            Err(StageFailure::GuestError("no".into()))
        })
        .unwrap_err();
        assert_eq!(err, Abort::NotData(StageFailure::GuestError("no".into())));
        assert_eq!(calls, 1);
    }

    #[test]
    fn the_budget_bounds_the_search() {
        let p = Policy { budget: Duration::ZERO, ..policy() };
        let err = run((0..100).collect(), &p, stage(&[3], usize::MAX)).unwrap_err();
        assert!(matches!(err, Abort::Budget { failing: 1, .. }), "{err:?}");
    }
}
