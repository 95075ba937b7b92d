//! The account's history: kept with each change's events, read newest first
//! or forward from an event, filtered by type, purged by the sweep.

use crate::common::*;
use invitations::cursor::Cursor;
use invitations::effects::{Actor, Event, EventKind};
use invitations::ids::{AccountId, EventId};
use invitations::ops::cancel::cancel;
use invitations::ops::decline::decline_by_token;
use invitations::ops::history::{history, keep, Entry, HistoryQuery, PURGE_EVERY};
use invitations::ops::sweep::sweep;
use invitations::principal::Principal;
use invitations::store::Store;
use invitations::Error;

/// What the edge does after a change: each event kept with its payload.
fn keep_events(w: &World, events: &[Event]) {
    let entries = events
        .iter()
        .map(|e| {
            let payload = format!("{{\"type\":\"{}\"}}", e.kind.as_str());
            (e.account().clone(), Entry::of(e, payload))
        })
        .collect();
    keep(&w.env(), entries).unwrap();
}

/// `n` invitations (each kept as `invitation.created`), then every other one cancelled.
fn busy_account(w: &World, n: usize) -> (AccountId, Vec<EventId>) {
    let owner = user("owner");
    let acc = w.create_account(&owner);
    busy_account_on(w, &owner, &acc, n)
}

fn page(w: &World, acc: &AccountId, query: HistoryQuery) -> invitations::Page<Entry> {
    history(&w.env(), &user("owner"), acc, query).unwrap()
}

fn ids(entries: &[Entry]) -> Vec<EventId> {
    entries.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn newest_first_in_pages_with_who_did_it() {
    let w = World::new(1);
    let (acc, kept) = busy_account(&w, 9);
    assert_eq!(kept.len(), 13);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let p = page(
            &w,
            &acc,
            HistoryQuery {
                limit: Some(5),
                cursor,
                ..HistoryQuery::default()
            },
        );
        assert!(p.items.len() <= 5);
        seen.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let newest_first: Vec<EventId> = kept.iter().rev().cloned().collect();
    assert_eq!(ids(&seen), newest_first);
    let owner = Actor::of(&user("owner"));
    assert!(seen.iter().all(|e| e.actor == owner));
    assert_eq!(seen[0].kind, EventKind::InvitationCreated);
    assert_eq!(seen[1].kind, EventKind::InvitationCancelled);
}

#[test]
fn filtered_by_type() {
    let w = World::new(2);
    let (acc, _) = busy_account(&w, 120);
    let only = |cursor| {
        page(
            &w,
            &acc,
            HistoryQuery {
                kind: Some(EventKind::InvitationCancelled),
                limit: Some(100),
                cursor,
                ..HistoryQuery::default()
            },
        )
    };
    // 180 entries, 60 cancellations: a page reads at most 3 batches of 100.
    let first = only(None);
    assert!(first
        .items
        .iter()
        .all(|e| e.kind == EventKind::InvitationCancelled));
    let mut all = first.items.len();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        let next = only(Some(c));
        assert!(next
            .items
            .iter()
            .all(|e| e.kind == EventKind::InvitationCancelled));
        all += next.items.len();
        cursor = next.next_cursor;
    }
    assert_eq!(all, 60);
    let none = page(
        &w,
        &acc,
        HistoryQuery {
            kind: Some(EventKind::MemberUpdated),
            ..HistoryQuery::default()
        },
    );
    assert!(none.items.is_empty());
}

#[test]
fn after_an_event_reads_forward_to_catch_up() {
    let w = World::new(3);
    let (acc, kept) = busy_account(&w, 30);
    assert_eq!(kept.len(), 45);
    let mut last = kept[9].clone();
    let mut caught_up = Vec::new();
    loop {
        let p = page(
            &w,
            &acc,
            HistoryQuery {
                after: Some(last.clone()),
                limit: Some(7),
                ..HistoryQuery::default()
            },
        );
        let Some(e) = p.items.last() else { break };
        last = e.id.clone();
        caught_up.extend(p.items);
    }
    assert_eq!(ids(&caught_up), kept[10..].to_vec());

    // The cursor of a forward page goes on forward.
    let p = page(
        &w,
        &acc,
        HistoryQuery {
            after: Some(kept[0].clone()),
            limit: Some(10),
            ..HistoryQuery::default()
        },
    );
    assert_eq!(ids(&p.items), kept[1..11].to_vec());
    let next = page(
        &w,
        &acc,
        HistoryQuery {
            cursor: p.next_cursor,
            limit: Some(10),
            ..HistoryQuery::default()
        },
    );
    assert_eq!(ids(&next.items), kept[11..21].to_vec());

    // The newest event: nothing after it, and no cursor.
    let end = page(
        &w,
        &acc,
        HistoryQuery {
            after: kept.last().cloned(),
            ..HistoryQuery::default()
        },
    );
    assert!(end.items.is_empty() && end.next_cursor.is_none());
}

#[test]
fn bad_reads_are_refused() {
    let w = World::new(4);
    let (acc, kept) = busy_account(&w, 3);
    let env = w.env();
    let unknown = EventId::parse("evt_0123456789abcdef01234567").unwrap();
    let read = |who: &Principal, query: HistoryQuery| history(&env, who, &acc, query);
    let after = |id: &EventId| HistoryQuery {
        after: Some(id.clone()),
        ..HistoryQuery::default()
    };
    assert_eq!(
        read(&user("owner"), after(&unknown)).unwrap_err(),
        Error::EventNotFound
    );
    // An event of another account is not in this one's history.
    let (_, elsewhere) = {
        let other = user("other");
        let acc2 = w.create_account(&other);
        let out = w.invite(&other, &acc2, &["x@example.com"]).unwrap();
        keep_events(&w, &out.events);
        (acc2, out.events[0].id.clone())
    };
    assert_eq!(
        read(&user("owner"), after(&elsewhere)).unwrap_err(),
        Error::EventNotFound
    );
    let both = HistoryQuery {
        after: Some(kept[0].clone()),
        cursor: Some(Cursor::Log(1)),
        ..HistoryQuery::default()
    };
    assert!(matches!(
        read(&user("owner"), both).unwrap_err(),
        Error::Validation(_)
    ));
    let foreign_cursor = HistoryQuery {
        cursor: Some(Cursor::History(3)),
        ..HistoryQuery::default()
    };
    assert_eq!(
        read(&user("owner"), foreign_cursor).unwrap_err(),
        Error::InvalidCursor
    );
    // Not a member: the account does not exist for them.
    assert_eq!(
        read(&user("stranger"), HistoryQuery::default()).unwrap_err(),
        Error::AccountNotFound
    );
    // A service reads it (a webhook receiver catching up).
    let p = read(&service(), HistoryQuery::default()).unwrap();
    assert_eq!(p.items.len(), 4);
}

#[test]
fn plain_members_cannot_read_it() {
    let w = World::new(5);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
    invitations::ops::accept::accept_by_token(&w.env(), &user("bob"), &token).unwrap();
    assert!(matches!(
        history(&w.env(), &user("bob"), &acc, HistoryQuery::default()).unwrap_err(),
        Error::Forbidden(_)
    ));
}

#[test]
fn each_change_names_who_made_it() {
    let w = World::new(6);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
    let declined = decline_by_token(&w.env(), &token).unwrap();
    assert_eq!(declined.events[0].actor, Actor::Link);
    w.invite_one(&owner, &acc, "carol@example.com");
    w.advance(31 * 86_400);
    let run = sweep(&w.env()).unwrap();
    assert_eq!(run.events[0].kind, EventKind::InvitationExpired);
    assert_eq!(run.events[0].actor, Actor::System);
    let out = w.invite(&owner, &acc, &["dan@example.com"]).unwrap();
    assert_eq!(out.events[0].actor, Actor::of(&owner));
}

#[test]
fn keeping_costs_two_calls_whatever_the_count() {
    let w = World::new(7);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let emails: Vec<String> = (0..50).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    let out = w.invite(&owner, &acc, &refs).unwrap();
    w.store.reset_stats();
    keep_events(&w, &out.events);
    let stats = w.store.stats();
    // One increment and one set-many for 50 events; plus, as position 100
    // is not reached, nothing queued.
    assert_eq!((stats.calls, stats.writes), (2, 2));
    w.store.reset_stats();
    keep_events(&w, &out.events[..1]);
    assert_eq!(w.store.stats().calls, 2);
    // A page: access, counter and floor, one batch.
    w.store.reset_stats();
    let p = page(&w, &acc, HistoryQuery::default());
    assert_eq!(p.items.len(), 20);
    assert_eq!(w.store.stats().calls, 3);
    // Filtered, nothing matching: at most 3 batches.
    w.store.reset_stats();
    page(
        &w,
        &acc,
        HistoryQuery {
            kind: Some(EventKind::MemberRemoved),
            ..HistoryQuery::default()
        },
    );
    assert!(w.store.stats().calls <= 5);
}

#[test]
fn a_hole_is_waited_for_then_stepped_over() {
    let w = World::new(8);
    let (acc, kept) = busy_account(&w, 2);
    // A writer reserved position 4 and has not written it yet.
    w.store
        .increment(&format!("v1/acct/{acc}/hseq"), 1)
        .unwrap();
    let owner = user("owner");
    let inv = w.invite(&owner, &acc, &["late@example.com"]).unwrap();
    keep_events(&w, &inv.events);
    let forward = |w: &World| {
        page(
            w,
            &acc,
            HistoryQuery {
                after: Some(kept[0].clone()),
                ..HistoryQuery::default()
            },
        )
    };
    // Fresh: stop before it, so nothing after it is skipped for good.
    assert_eq!(ids(&forward(&w).items), kept[1..].to_vec());
    // Newest first shows what is there.
    assert_eq!(page(&w, &acc, HistoryQuery::default()).items.len(), 4);
    // A minute on, the write is not coming: step over it.
    w.advance(61);
    let mut expected = kept[1..].to_vec();
    expected.push(inv.events[0].id.clone());
    assert_eq!(ids(&forward(&w).items), expected);
}

#[test]
fn the_sweep_purges_blocks_history_days_after_they_fill() {
    let mut w = World::new(9);
    w.policy.history_days = 10;
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let (_, kept) = busy_account_on(&w, &owner, &acc, 150);
    assert_eq!(kept.len(), 225);
    let first_block_filled = w.now();
    // The first two blocks filled now; nothing is purged before they are due.
    w.advance(9 * 86_400);
    let run = sweep(&w.env()).unwrap();
    assert_eq!(run.report.history_purged, 0);
    w.advance(86_400 + 180);
    assert!(w.now() > first_block_filled.plus_secs(10 * 86_400));
    let mut purged = 0;
    loop {
        let run = sweep(&w.env()).unwrap();
        purged += run.report.history_purged;
        if !run.report.more {
            break;
        }
    }
    assert_eq!(purged, 2 * PURGE_EVERY as usize);
    // What is left: the last 25, newest first, and nothing older.
    let mut left = Vec::new();
    let mut cursor = None;
    loop {
        let p = page(
            &w,
            &acc,
            HistoryQuery {
                limit: Some(100),
                cursor,
                ..HistoryQuery::default()
            },
        );
        left.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<EventId> = kept[200..].iter().rev().cloned().collect();
    assert_eq!(ids(&left), expected);
    // Catching up from a purged event is told apart from a page.
    assert_eq!(
        history(
            &w.env(),
            &owner,
            &acc,
            HistoryQuery {
                after: Some(kept[5].clone()),
                ..HistoryQuery::default()
            }
        )
        .unwrap_err(),
        Error::EventNotFound
    );
    let hist_keys = records::<serde_json::Value>(&w.store, &format!("v1/acct/{acc}/hist/"));
    assert_eq!(hist_keys.len(), 25);
    let pos_keys = records::<serde_json::Value>(&w.store, &format!("v1/acct/{acc}/hpos/"));
    assert_eq!(pos_keys.len(), 25);
}

/// `n` invitations into `acc`, every other one then cancelled; each change kept.
fn busy_account_on(
    w: &World,
    owner: &Principal,
    acc: &AccountId,
    n: usize,
) -> (AccountId, Vec<EventId>) {
    let mut ids = Vec::new();
    for i in 0..n {
        let out = w
            .invite(owner, acc, &[&format!("p{i}@example.com")])
            .unwrap();
        keep_events(w, &out.events);
        ids.push(out.events[0].id.clone());
        if i % 2 == 1 {
            let inv = out.mails[0].invitation.id().clone();
            let (_, events) = cancel(&w.env(), owner, acc, &inv).unwrap();
            keep_events(w, &events);
            ids.push(events[0].id.clone());
        }
    }
    (acc.clone(), ids)
}
