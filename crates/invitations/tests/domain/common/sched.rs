//! A deterministic scheduler: threads run one store call at a time, and a
//! seeded choice decides whose call goes next. Every interleaving at
//! store-call granularity is reachable; a seed replays one exactly.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex};

use super::SeededRandom;
use invitations::memstore::MemStore;

thread_local! {
    static ME: Cell<Option<usize>> = const { Cell::new(None) };
}

struct State {
    active: BTreeSet<usize>,
    waiting: BTreeSet<usize>,
    running: Option<usize>,
}

pub struct Scheduler {
    state: Mutex<State>,
    turn: Condvar,
    choice: SeededRandom,
}

impl Scheduler {
    fn pick(&self, s: &mut State) {
        // Choose only once every live thread is parked at a store call, so the
        // choice depends on the seed alone, not on thread timing.
        if s.running.is_none() && !s.waiting.is_empty() && s.waiting.len() == s.active.len() {
            let n = (self.choice.next_u64() % s.waiting.len() as u64) as usize;
            s.running = s.waiting.iter().nth(n).copied();
            self.turn.notify_all();
        }
    }

    fn at_store_call(&self) {
        let Some(me) = ME.with(|m| m.get()) else {
            return;
        };
        let mut s = self.state.lock().unwrap();
        if s.running == Some(me) {
            s.running = None;
        }
        s.waiting.insert(me);
        self.pick(&mut s);
        while s.running != Some(me) {
            s = self.turn.wait(s).unwrap();
        }
        s.waiting.remove(&me);
    }

    fn finish(&self, me: usize) {
        let mut s = self.state.lock().unwrap();
        s.active.remove(&me);
        if s.running == Some(me) {
            s.running = None;
        }
        self.pick(&mut s);
    }
}

/// Runs `tasks` on threads whose store calls `store` interleaves by `seed`.
pub fn race<T: Send>(
    store: &MemStore,
    seed: u64,
    tasks: Vec<Box<dyn FnOnce() -> T + Send + '_>>,
) -> Vec<T> {
    let sched = Arc::new(Scheduler {
        state: Mutex::new(State {
            active: (0..tasks.len()).collect(),
            waiting: BTreeSet::new(),
            running: None,
        }),
        turn: Condvar::new(),
        choice: SeededRandom::new(seed),
    });
    let hook = sched.clone();
    store.set_hook(Some(Arc::new(move || hook.at_store_call())));
    let out = std::thread::scope(|scope| {
        let handles: Vec<_> = tasks
            .into_iter()
            .enumerate()
            .map(|(i, task)| {
                let sched = sched.clone();
                scope.spawn(move || {
                    ME.with(|m| m.set(Some(i)));
                    // Finish even if the task panics, or the others wait forever.
                    struct Done(Arc<Scheduler>, usize);
                    impl Drop for Done {
                        fn drop(&mut self) {
                            self.0.finish(self.1);
                        }
                    }
                    let _done = Done(sched, i);
                    task()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    store.set_hook(None);
    out
}
