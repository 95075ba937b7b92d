//! The webhook outbox: failed deliveries are kept with their payload and id,
//! handed back by the sweep with backoff, once per run even when two sweeps
//! race, and dropped after the last attempt.

use crate::common::*;
use invitations::ids::EventId;
use invitations::ops::sweep::{sweep, SweepRun};
use invitations::ops::webhooks::{delivered, keep_undelivered};
use invitations::Policy;

fn keep(w: &World, n: usize) -> Vec<EventId> {
    let ids: Vec<EventId> = (0..n).map(|_| EventId::generate(&w.random)).collect();
    let failed = ids
        .iter()
        .map(|id| (id.clone(), format!("{{\"id\":\"{id}\"}}"), "503".to_owned()))
        .collect();
    keep_undelivered(&w.env(), failed).unwrap();
    ids
}

fn sweep_once(w: &World) -> SweepRun {
    sweep(&w.env()).unwrap()
}

#[test]
fn kept_events_come_back_with_their_id_and_payload_after_the_backoff() {
    let w = World::new(1);
    w.create_account(&user("owner")); // starts the sweep's watermark
    let ids = keep(&w, 2);
    assert_eq!(records::<serde_json::Value>(&w.store, "v1/hook/").len(), 2);

    // Not due before the first backoff (60 s, read once its minute has ended).
    assert!(sweep_once(&w).webhooks.is_empty());
    w.advance(200);
    let run = sweep_once(&w);
    assert_eq!(run.report.webhooks, 2);
    let mut got: Vec<_> = run.webhooks.iter().map(|r| r.id.clone()).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    for r in &run.webhooks {
        assert_eq!(r.payload, format!("{{\"id\":\"{}\"}}", r.id));
        assert_eq!(r.attempt, 2);
    }
    // Handed out once: the next run has nothing until the next backoff.
    assert!(sweep_once(&w).webhooks.is_empty());

    // One is delivered now; only the other comes back.
    delivered(&w.env(), &ids[..1]).unwrap();
    w.advance(400);
    let run = sweep_once(&w);
    assert_eq!(
        run.webhooks.iter().map(|r| &r.id).collect::<Vec<_>>(),
        vec![&ids[1]]
    );
    assert_eq!(run.webhooks[0].attempt, 3);
}

#[test]
fn backoff_doubles_and_the_event_is_dropped_after_the_last_attempt() {
    let mut w = World::new(2);
    w.policy = Policy {
        webhook_max_attempts: 4,
        ..Policy::default()
    };
    w.create_account(&user("owner"));
    keep(&w, 1);
    let mut attempts = vec![1];
    let mut waited = Vec::new();
    let mut since = 0;
    for _ in 0..200 {
        w.advance(60);
        since += 60;
        let run = sweep_once(&w);
        if let Some(r) = run.webhooks.first() {
            attempts.push(r.attempt);
            waited.push(since);
            since = 0;
        }
        if run.report.webhooks_dropped == 1 {
            break;
        }
    }
    assert_eq!(attempts, vec![1, 2, 3, 4]);
    // 60 s, 120 s, 240 s after each failure, give or take the queue's minute.
    assert!(waited[0] >= 60 && waited[0] <= 240, "{waited:?}");
    assert!(waited[1] >= 120 && waited[1] <= 240, "{waited:?}");
    assert!(waited[2] >= 240 && waited[2] <= 360, "{waited:?}");
    assert!(records::<serde_json::Value>(&w.store, "v1/hook/").is_empty());
}

#[test]
fn two_sweeps_at_once_hand_each_event_out_once() {
    for redis in [false, true] {
        for seed in 0..30 {
            let w = World::new(seed);
            w.store.set_redis_semantics(redis);
            w.create_account(&user("owner"));
            keep(&w, 3);
            w.advance(300);
            let runs = two_sweeps(&w, seed);
            let mut handed: Vec<_> = runs
                .iter()
                .flat_map(|r| r.webhooks.iter().map(|x| x.id.clone()))
                .collect();
            handed.sort();
            let before = handed.len();
            handed.dedup();
            assert_eq!(before, 3, "seed {seed}");
            assert_eq!(handed.len(), 3, "seed {seed}");
        }
    }
}
