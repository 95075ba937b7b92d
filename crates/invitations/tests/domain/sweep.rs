//! The sweep: expiry, mail retry with backoff, purge, bounded and resumable
//! runs, a cost that follows due items, and no double work when two run at once.

use crate::common::*;
use invitations::error::Error;
use invitations::ids::AccountId;
use invitations::model::{DeliveryStatus, Status};
use invitations::ops::accept::accept_by_token;
use invitations::ops::deliveries::record_deliveries;

use invitations::ops::inbox::my_invitations;
use invitations::ops::list::get_invitation;
use invitations::ops::preview::preview;
use invitations::ops::sweep::{sweep, SweepReport};
use invitations::principal::Principal;
use invitations::values::Ttl;
use invitations::{Env, Policy};

const DAY: i64 = 24 * 60 * 60;

/// Runs the sweep until it says it is done; returns the summed report and round trips.
fn sweep_all(w: &World) -> (SweepReport, u64) {
    let mut total = SweepReport::default();
    w.store.reset_stats();
    for _ in 0..1000 {
        let run = sweep(&w.env()).unwrap();
        total.expired += run.report.expired;
        total.mailed += run.report.mailed;
        total.purged += run.report.purged;
        if !run.report.more {
            return (total, w.store.stats().calls);
        }
    }
    panic!("the sweep never finished");
}

/// Invites `n` addresses in requests of 100 and records their mail as sent.
fn invite_sent(
    w: &World,
    owner: &Principal,
    acc: &AccountId,
    prefix: &str,
    n: usize,
    ttl: Option<Ttl>,
) {
    for chunk in 0..n.div_ceil(100) {
        let emails: Vec<String> = (chunk * 100..((chunk + 1) * 100).min(n))
            .map(|i| format!("{prefix}{i}@example.com"))
            .collect();
        let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
        let mut req = request(&refs);
        req.ttl = ttl;
        let out = invite(&w.env(), owner, acc, req).unwrap();
        all_sent(w, &out.mails);
    }
}

#[test]
fn expiry_is_written_once_with_one_event() {
    let w = World::new(1);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
    w.advance(Ttl::MAX.secs() - 120);
    assert_eq!(sweep_all(&w).0.expired, 0);
    w.advance(120);
    // Reads expired at once, before any sweep.
    assert_eq!(
        get_invitation(&w.env(), &owner, &acc, &id).unwrap().status,
        Status::Expired
    );
    w.advance(60);
    let run = sweep(&w.env()).unwrap();
    assert_eq!(run.report.expired, 1);
    assert_eq!(run.events.len(), 1);
    assert_eq!(run.events[0].kind.as_str(), "invitation.expired");
    assert_eq!(sweep_all(&w).0.expired, 0);
}

fn due_sweep_cost(not_due: usize) -> (SweepReport, u64) {
    let w = World::new(2);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    invite_sent(&w, &owner, &acc, "later", not_due, None);
    w.advance(180);
    sweep_all(&w); // the first mail checks: all went out, so each waits for its expiry now
    invite_sent(
        &w,
        &owner,
        &acc,
        "soon",
        100,
        Some(Ttl::from_secs(60).unwrap()),
    );
    w.advance(180);
    sweep_all(&w)
}

#[test]
fn sweep_cost_follows_due_items_not_store_size() {
    let (small, small_cost) = due_sweep_cost(100);
    let (large, large_cost) = due_sweep_cost(10_000);
    assert_eq!(small.expired, 100);
    assert_eq!(large.expired, 100);
    eprintln!(
        "sweep round trips with 100 due: {small_cost} (100 not due), {large_cost} (10,000 not due)"
    );
    assert!(
        large_cost.abs_diff(small_cost) <= 2,
        "{small_cost} vs {large_cost}"
    );
}

#[test]
fn bounded_runs_resume_where_they_stopped() {
    let mut w = World::new(3);
    w.policy = Policy {
        sweep_max_items: 30,
        ..Policy::default()
    };
    let owner = user("owner");
    let acc = w.create_account(&owner);
    invite_sent(
        &w,
        &owner,
        &acc,
        "x",
        100,
        Some(Ttl::from_secs(60).unwrap()),
    );
    w.advance(180);
    let first = sweep(&w.env()).unwrap();
    assert!(first.report.more);
    assert!(first.report.expired <= 30);
    let (rest, _) = sweep_all(&w);
    assert_eq!(first.report.expired + rest.expired, 100);
}

#[test]
fn failed_mail_is_retried_with_backoff_and_a_fresh_link() {
    let w = World::new(4);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let out = w.invite(&owner, &acc, &["bob@example.com"]).unwrap();
    let mut job = out.mails[0].clone();
    let mut before_last: Option<invitations::token::InvitationToken> = None;
    record_deliveries(&w.env(), &[(job.invitation.clone(), Err("down".into()))]).unwrap();
    let mut retried_at = Vec::new();
    for minute in 1..=200 {
        w.advance(60);
        let run = sweep(&w.env()).unwrap();
        if let Some(next) = run.mails.into_iter().next() {
            assert_eq!(run.report.mailed, 1);
            // The new link works, and so does the last one (its mail may have
            // gone out after all); the one before stops working.
            assert!(preview(&w.env(), &next.token).is_ok());
            assert!(preview(&w.env(), &job.token).is_ok());
            if let Some(old) = &before_last {
                assert_eq!(
                    preview(&w.env(), old).unwrap_err(),
                    Error::InvitationNotFound
                );
            }
            retried_at.push(minute);
            before_last = Some(job.token.clone());
            job = next;
            record_deliveries(
                &w.env(),
                &[(job.invitation.clone(), Err("still down".into()))],
            )
            .unwrap();
        }
    }
    // 5 attempts in all: the first, then 4 retries 1, 2, 4 and 8 minutes after each failure (±1 minute of queue granularity).
    assert_eq!(retried_at.len(), 4, "{retried_at:?}");
    let gaps: Vec<i64> = retried_at.windows(2).map(|p| p[1] - p[0]).collect();
    for (gap, want) in gaps.iter().zip([2, 4, 8]) {
        assert!((*gap - want).abs() <= 1, "{retried_at:?}");
    }
    let v = get_invitation(&w.env(), &owner, &acc, job.invitation.id()).unwrap();
    assert_eq!(
        (v.delivery.status, v.delivery.attempts),
        (DeliveryStatus::Failed, 5)
    );
    assert_eq!(v.delivery.last_error.as_deref(), Some("still down"));
}

#[test]
fn closed_invitations_are_purged_after_retention() {
    let w = World::new(5);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let (id, token) = w.invite_one(&owner, &acc, "bob@example.com");
    accept_by_token(&w.env(), &user("bob"), &token).unwrap();
    let (old, _) = w.invite_one(&owner, &acc, "carol@example.com");
    w.advance(Ttl::MAX.secs() + 60);
    let (report, _) = sweep_all(&w);
    assert_eq!((report.expired, report.purged), (1, 0));
    w.advance(59 * DAY); // day 89: nothing is 90 days closed yet
    assert_eq!(sweep_all(&w).0.purged, 0);
    w.advance(2 * DAY); // day 91: bob's accepted invitation goes
    assert_eq!(sweep_all(&w).0.purged, 1);
    assert!(get_invitation(&w.env(), &owner, &acc, &old).is_ok());
    w.advance(30 * DAY); // day 121: carol's, expired on day 30, goes too
    assert_eq!(sweep_all(&w).0.purged, 1);
    assert_eq!(
        get_invitation(&w.env(), &owner, &acc, &id).unwrap_err(),
        Error::InvitationNotFound
    );
    assert_eq!(
        get_invitation(&w.env(), &owner, &acc, &old).unwrap_err(),
        Error::InvitationNotFound
    );
    assert_eq!(
        preview(&w.env(), &token).unwrap_err(),
        Error::InvitationNotFound
    );
    assert!(w.store.entries_with_prefix("v1/inv/").is_empty());
    assert!(
        w.store
            .entries_with_prefix(&format!("v1/acct/{acc}/ilog/"))
            .is_empty(),
        "their entries in the invitation log go with them"
    );
    assert!(w.store.entries_with_prefix("v1/tok/").is_empty());
    assert!(
        w.store.entries_with_prefix("v1/due/").is_empty(),
        "handled queue entries are deleted"
    );
    check_invariants(&w.store, w.now());
    w.invite_one(&owner, &acc, "carol@example.com");
}

#[test]
fn two_sweeps_at_once_do_nothing_twice() {
    for redis in [false, true] {
        for seed in 0..30 {
            let w = World::new(seed);
            w.store.set_redis_semantics(redis);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let out = w
                .invite(
                    &owner,
                    &acc,
                    &["a@example.com", "b@example.com", "c@example.com"],
                )
                .unwrap();
            record_deliveries(
                &w.env(),
                &[(out.mails[0].invitation.clone(), Err("down".into()))],
            )
            .unwrap();
            let mut req = request(&["d@example.com", "e@example.com"]);
            req.ttl = Some(Ttl::from_secs(60).unwrap());
            invite(&w.env(), &owner, &acc, req).unwrap();
            w.advance(300);
            let reports: Vec<SweepReport> =
                two_sweeps(&w, seed).into_iter().map(|r| r.report).collect();
            let expired: usize = reports.iter().map(|r| r.expired).sum();
            let mailed: usize = reports.iter().map(|r| r.mailed).sum();
            // d and e expired; a failed and b, c were never recorded as sent: 3 mails.
            assert_eq!(expired, 2, "seed {seed}: {reports:?}");
            assert_eq!(mailed, 3, "seed {seed}: {reports:?}");
            check_invariants(&w.store, w.now());
        }
    }
}

#[test]
fn a_rate_limited_mail_stays_queued_uses_no_attempt_and_waits_for_the_reset() {
    let w = World::new(14);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let out = w.invite(&owner, &acc, &["bob@example.com"]).unwrap();
    let job = out.mails[0].clone();
    // The provider says: not for another 10 minutes.
    let until = w.now().plus_secs(600);
    let deferred = invitations::model::SendFailure::Deferred {
        until,
        reason: "rate limited".into(),
    };
    let events = record_deliveries(&w.env(), &[(job.invitation.clone(), Err(deferred))]).unwrap();
    assert!(events.is_empty(), "a deferral tells no receiver anything");
    let v = get_invitation(&w.env(), &owner, &acc, job.invitation.id()).unwrap();
    assert_eq!(
        (v.delivery.status, v.delivery.attempts),
        (DeliveryStatus::Queued, 0)
    );
    assert_eq!(v.delivery.last_error.as_deref(), Some("rate limited"));

    // The first mail check comes and goes: still before the reset.
    let mut retried_after = None;
    for minute in 1..=20 {
        w.advance(60);
        let run = sweep(&w.env()).unwrap();
        if let Some(next) = run.mails.into_iter().next() {
            retried_after = Some(minute);
            record_deliveries(&w.env(), &[(next.invitation.clone(), Ok(None))]).unwrap();
            break;
        }
    }
    let minute = retried_after.expect("retried once the provider's reset passed");
    assert!(
        (10..=12).contains(&minute),
        "retried after {minute} minutes"
    );
    let v = get_invitation(&w.env(), &owner, &acc, job.invitation.id()).unwrap();
    assert_eq!(
        (v.delivery.status, v.delivery.attempts),
        (DeliveryStatus::Sent, 1),
        "the deferral was not counted"
    );
}

#[test]
fn an_invitation_whose_instance_died_after_the_answer_reaches_the_inbox_with_its_mail() {
    let w = World::new(9);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    // The invite answered, and its instance died before opening the link or
    // naming the invitation in the inbox.
    let out =
        invitations::ops::invite::invite(&w.env(), &owner, &acc, request(&["bob@example.com"]))
            .unwrap();
    let id = out.mails[0].invitation.id().clone();
    let bob = user("bob");
    assert!(my_invitations(&w.env(), &bob, None, None)
        .unwrap()
        .items
        .is_empty());
    let mut mailed = None;
    for _ in 0..10 {
        w.advance(60);
        if let Some(job) = sweep(&w.env()).unwrap().mails.into_iter().next() {
            mailed = Some(job);
            break;
        }
    }
    let job = mailed.expect("the sweep mails what a dead instance did not");
    assert_eq!(job.invitation.id(), &id);
    // Named once its outcome is recorded, and once only, however often.
    record_deliveries(&w.env(), &[(job.invitation.clone(), Err("down".into()))]).unwrap();
    let inbox = my_invitations(&w.env(), &bob, None, None).unwrap();
    assert_eq!(inbox.items.len(), 1);
    assert_eq!(inbox.items[0].invitation.id(), &id);
    for _ in 0..10 {
        w.advance(60);
        if let Some(job) = sweep(&w.env()).unwrap().mails.into_iter().next() {
            record_deliveries(&w.env(), &[(job.invitation.clone(), Ok(None))]).unwrap();
            break;
        }
    }
    assert_eq!(
        my_invitations(&w.env(), &bob, None, None)
            .unwrap()
            .items
            .len(),
        1
    );
}

/// Moves `w` to `secs` past the start of the next minute, as a cron that
/// fires at second 0 would find it.
fn to_next_minute(w: &World, secs: i64) {
    let into = w.now().unix_millis().div_euclid(1000).rem_euclid(60);
    w.advance(60 - into + secs);
}

#[test]
fn queue_lead_an_expiry_is_written_down_by_the_first_sweep_after_its_minute() {
    let w = World::new(31);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    to_next_minute(&w, 20);
    let mut req = request(&["soon@example.com"]);
    req.ttl = Some(Ttl::from_secs(30).unwrap());
    let out = invite(&w.env(), &owner, &acc, req).unwrap();
    all_sent(&w, &out.mails);
    let due = out.mails[0].invitation.expires_at(); // second 50 of this minute

    // A cron at second 0 of every minute: the run at the next minute's start
    // (10 s after it was due) writes it down; before that, nothing.
    w.advance(29);
    assert_eq!(sweep(&w.env()).unwrap().report.expired, 0);
    to_next_minute(&w, 0);
    assert_eq!(sweep(&w.env()).unwrap().report.expired, 1);
    assert!(
        w.now().plus_secs(-60) <= due,
        "at most one period after it was due"
    );
}

#[test]
fn queue_lead_an_entry_from_a_writer_whose_clock_runs_90_s_behind_is_still_read() {
    let w = World::new(32);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    w.advance(600);
    to_next_minute(&w, 1);
    sweep(&w.env()).unwrap(); // has read every minute that ended

    // The writer's clock says a minute and a half ago: its invitation's
    // expiry goes in a minute the sweep has read.
    let behind = ManualClock::at(w.now().plus_secs(-90));
    let writer = Env {
        store: &*w.store,
        clock: &behind,
        random: &w.random,
        policy: &w.policy,
    };
    let mut req = request(&["late@example.com"]);
    req.ttl = Some(Ttl::from_secs(1).unwrap());
    let out = invite(&writer, &owner, &acc, req).unwrap();
    all_sent_by(&writer, &out.mails);

    to_next_minute(&w, 1);
    assert_eq!(sweep(&w.env()).unwrap().report.expired, 1);
}

#[test]
fn queue_lead_a_minute_is_settled_two_minutes_after_it_ends() {
    let w = World::new(33);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let mut req = request(&["a@example.com"]);
    req.ttl = Some(Ttl::from_secs(1).unwrap());
    let out = invite(&w.env(), &owner, &acc, req).unwrap();
    all_sent(&w, &out.mails);
    // Counters of minutes that have ended.
    let past_counters = |now: i64| {
        w.store
            .entries_with_prefix("v1/due/")
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.ends_with("/n"))
            .filter(|k| k.split('/').nth(2).unwrap().parse::<i64>().unwrap() < now / 60_000)
            .collect::<Vec<_>>()
    };
    to_next_minute(&w, 1);
    sweep(&w.env()).unwrap();
    let open = past_counters(w.now().unix_millis());
    assert!(!open.is_empty(), "read, but still open to late writers");
    for _ in 0..3 {
        to_next_minute(&w, 1);
        sweep(&w.env()).unwrap();
    }
    let left = past_counters(w.now().unix_millis());
    assert!(
        open.iter().all(|k| !left.contains(k)),
        "settled and deleted: {open:?} {left:?}"
    );
}
