//! The domain of the invitation service: who may invite whom into which
//! account, and everything that follows, written against a key-value store it
//! is handed. It knows nothing of Spin, HTTP or JSON transport; it reads no
//! clock and draws no randomness of its own ([`Env`]).
//!
//! # Layout
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`email`], [`ids`], [`values`], [`token`] | types that cannot hold a bad value: `Email`, `Domain`, ids, roles, access groups, metadata, TTL, names, tokens (read from stored text through `parsed`, without a copy) |
//! | [`principal`] | the verified caller: a user or a service |
//! | [`model`] | stored records and the invitation state machine |
//! | [`error`] | the one error type, with a stable `code` per variant |
//! | [`store`] | the store trait (Spin's operations) and the compare-and-swap discipline |
//! | `memstore` | an in-memory store with Spin's SQLite semantics (or its Redis store's), faults, counters; feature `test-support` only |
//! | `slots`, `queue`, [`seats`], [`closed`] | the open-invitation index, the sweep's due queue, the seat ledger, the log positions it notes as closed for good |
//! | [`ops`] | one file per operation |
//! | [`effects`] | mail and events the operations hand back for the edge to deliver |
//!
//! # Key layout
//!
//! | key | value | written by |
//! | --- | --- | --- |
//! | `v1/acct/{acc}` | [`model::Account`] (settings, owner list) | create (set), settings and owner removal (CAS) |
//! | `v1/acct/{acc}/slots/{0..16}` | the account's open-invitation index, in shards: address → latest invitation and history (listing by address reads it). A shard past 8 KB is split: it then names 16 children | create (set, all shards), invite/purge (CAS) |
//! | `v1/acct/{acc}/slots/{…}/{i}.{rev}` | child `i` of a split shard (`slots`): the same record, for the addresses whose hash's next 4 bits are `i` | a split (set, all 16, before the parent names them), then as a shard |
//! | `v1/acct/{acc}/seats` | the seat ledger ([`seats`]): the limit, members counted, open invitations counted by when their seat ends (at most 1,024 moments, so at most about 24 KB), the last writes' revisions and invitations settled, removals under way, and the invitation log's positions closed for good (at most 256 ranges) | create (set), every change of members or open invitations (CAS) |
//! | `v1/acct/{acc}/mseq`, `…/mlog/{n}` | member log: counter, and entry n → user id | create, accept (`increment`, set) |
//! | `v1/acct/{acc}/mem/{user}` | [`model::Member`], a tombstone once removed or left | create, accept (set), update, remove (CAS) |
//! | `v1/acct/{acc}/memail/{email}` | user id of the member with that address | create, accept (set) |
//! | `v1/acct/{acc}/hseq`, `…/hist/{n}`, `…/hpos/{evt}` | the account's history: counter, entry n ([`ops::history::Entry`]: the event as its webhook carried it, and who made it), and where event `evt` sits | after each change's answer (`increment`, set) |
//! | `v1/acct/{acc}/hfloor` | the last history position purged | the sweep (set) |
//! | `v1/link/{lnk}`, `…/uses` | [`model::JoinLink`], and how many times it was redeemed (a counter: exact `max_uses` without contention) | create (set), revoke (CAS); redeem (`increment`); the sweep deletes both, the token and the log entry `retention_days` after the link expires |
//! | `v1/ltok/{sha256 hex}` | link and account id of a join link's token | create (set) |
//! | `v1/acct/{acc}/lseq`, `…/llog/{n}` | the account's join links: counter, and entry n → link id | create (`increment`, set) |
//! | `v1/acct/{acc}/iseq`, `…/ilog/{n}` | the account's invitation log: counter, and entry n → the invitation drafted at n; an account's list is read from it, each entry shown once its slot names the invitation (accounts made before the log: from the slot shards) | invite (`increment`, set with the drafts) |
//! | `v1/inv/{inv}` | [`model::Invitation`]; ids sort as they were made | invite (set), every transition (CAS) |
//! | `v1/dlv/{inv}` | [`model::Delivery`] | after each send (set) |
//! | `v1/tok/{sha256 hex}` | invitation and account id of a token | just before its mail (set) |
//! | `v1/msg/{sha256 hex}` | [`model::MessageRef`]: the invitation a provider's message carried, and the token it carried | with the send's outcome (set); the purge deletes it |
//! | `v1/inbox/{email}/n`, `…/{i}` | an address's inbox log: counter, and entry i → account and invitation (a hint) | with the first recorded outcome of an invitation's mail (`increment`, set) |
//! | `v1/due/{minute}/n`, `…/{i}` | due queue: counter, and entry i → what to look at | invite, sweep, idempotency (`increment`, set) |
//! | `v1/sweep` | the sweep's watermark (minute, entry; and the next entry of each ended minute still open to late writers) | the first account (set), then the sweep (CAS) |
//! | `v1/idem/{scope}`, `…/claim/{hour}` | an Idempotency-Key's answer, and its claim counter | POSTs with the header |
//! | `v1/hook/{evt}` | [`ops::webhooks::Undelivered`]: an event whose delivery failed, its signed payload and attempts | a failed delivery (set), the sweep (CAS), delivery (delete) |
//!
//! Rules the layout keeps (`docs/design.md` section 2): compare-and-swap only on keys
//! created before anyone could race for them (accounts and their slot shards
//! are written whole at creation; invitations before they are reachable);
//! counters only through `increment`; no key listing anywhere.
//!
//! # Store round trips per operation
//!
//! Uncontended, as asserted by `tests/domain/round_trips.rs` with the counting store.
//! `s` is the number of slot shards a bulk invite touches (at most 16).
//! Every read or claim of a slot costs 1 more round trip per level of
//! splits below its account shard (none below about 1,000 addresses, 1 to
//! about 16,000, 2 to about 250,000), and a claim that splits a shard 2 more.
//! *Write transactions* are the calls that write (`set`, `delete`,
//! `increment`, a swap, and a `set-many` or `delete-many` whatever its size):
//! each is its own flushed transaction on Spin's SQLite store, so they, not
//! round trips, are what an operation costs under `spin up`
//! (`docs/design.md` section 2). Reads cost 0 write transactions.
//!
//! | operation | round trips | write transactions |
//! | --- | --- | --- |
//! | create account | 3 | 2 |
//! | get account | 1 | 0 |
//! | update settings; the seat limit alone; both | 3; 3; 5 | 1; 1; 2 |
//! | invite, one address | 8 (6 before seats: +2 for the seat ledger's CAS, −1 as the member index is read with the access, +1 for the invitation log's `increment`); +2 when an expired invitation for the address is superseded; +3 when a draft lost its slot (its record is deleted, then its seat goes back); +2 when a seat was refused (are the addresses invited already?) | 5 |
//! | invite, n addresses in s shards | 6 + 2·s, +1 if any member matched, +1 per shard with prior holders | 4 + s: 20 for 100 addresses in 16 shards |
//! | after an invite's answer: open the links (the history of the change's events rides in the same `set-many`) | 1, +1 `increment` for the history positions, +1 `increment` per invitation the caller hands over (its inbox entry) | 1 (+1) |
//! | after a resend's answer: open the link, delete the retired ones | 2, +1 `increment` for the history positions | 2 (+1) |
//! | after the mail: record the sends (with the history of the `invitation.sent` they led to), naming each new invitation in its address's inbox | 2, +1 per new invitation (its inbox entry's `increment`), +1 `increment` for the history positions | 1, +1 per new invitation (+1) |
//! | list invitations (page) | 3 when one batch fills it (access with the log's counter, a batch: its entries, their records; +1 for the slots of pending invitations whose entry is not yet marked claimed, which their links' `set-many` does); at most 1 + 3·3 = 10 (filtered by state, batches of at least 50); a pending or expired page reads the seat ledger with the access and steps over the positions it notes as closed for good, unread; by email 3 | 0 |
//! | get invitation | 2 | 0 |
//! | preview | 2 | 0 |
//! | accept by token / by account / by id (inbox) | 8 / 9 / 8 (4 when the caller already accepted): +2 for the seat, −1 as the delivery is read with the account | 4 |
//! | cancel | 6 (the seat given back) | 2 |
//! | decline by token / by account / by id (inbox) | 6 / 7 / 5 (3 / 4 / 2 when already declined) | 2 (0) |
//! | a provider's mail event ([`ops::mail_events`]) | 3 (the message's reference; the invitation with its delivery; the delivery's `set`), 2 when it changes nothing, 1 for an unknown message | 1 (0) |
//! | my invitations (inbox page) | 4 when the newest entries fill it; at most 1 + 3·3 = 10 | 0 |
//! | resend pending / expired | 9 / 10 | 4 |
//! | list members (page) | 3 when one batch fills it (access with the log's counter, the entries, the members); at most 7 | 0 |
//! | get member | 2 | 0 |
//! | remove member / owner (or leave) | 7 / 10 | 3 / 4 |
//! | update member; to or from owner | 3; 5 (6 to demote) | 1; 2 |
//! | sweep run | 5 + per account met, 1 to check the slots of its pending invitations (+1 for the account) + per due item: +2 to expire, +2 to retry mail or mail a reminder, 4 to purge (+1 per distinct account), 2 to retry a webhook, 2 to purge a block of 100 history entries, 1 to purge a join link; + one `increment` per distinct minute re-queued | (not yet counted) |
//! | create a join link | 4 (with its purge queued) | 3 |
//! | list join links (page) / get one | at most 7 / 2 | 0 |
//! | revoke a join link | 4 | 1 |
//! | redeem a join link (2 for a member already) | 9 | 5 |
//! | join link page (`/join?link=`) | 2 | 0 |
//! | keep a change's events in the account's history (after its answer) | 2 (`increment`, `set-many`) for any number of events of one account, or 1 when the entries join another `set-many` (`history::appending`); +1 when a block of 100 fills and is queued for purging | 2 or 1 (+1) |
//! | account history (page), newest first, by type, or after an event | at most 5 (access, counter and floor, at most 3 batches of entries; filtered by type, batches of at least 50); 3 when one batch fills it | 0 |
//! | keep undelivered events / forget delivered ones | 2 / 1, for any number; none when there are none | 2 / 1 |
//! | idempotency begin / complete | 2 / 2 | 1 / 2 |
//!
//! The write column is asserted in `tests/domain/round_trips.rs`
//! (`write_transactions_match_the_documented_table`) and, through the real
//! components on the test host, in `tests/dev/tests/e2e/round_trips.rs`.
//!
//! On Spin's Redis store `get-many` does not work (it sends Redis `KEYS`), so
//! every batch read of `k ≥ 2` keys costs the refused call plus `k` reads
//! (`store::get_many_raw`): a first page of 50 invitations costs 156 round
//! trips (its entries, records and deliveries one by one), 106 once their
//! mail went out (each entry then carries a copy of its delivery), accept
//! 13, a members page 10 (asserted in `tests/domain/round_trips.rs`).
//! Writes are the same on both stores. The Spin adapter remembers the
//! refusal for the rest of the request (`SpinStore::get_many`), so there a
//! request pays the refused call once: a first page of 50 sent invitations
//! is 104 round trips (asserted in `tests/dev/tests/e2e/round_trips.rs`).
//! Given the Redis server's URL (`store_redis_url`), the adapter sends each
//! batch, from the first of 8 keys or more, as one `MGET` itself, over
//! Spin's outbound Redis: that page is then 8 round trips (the access's 3
//! keys after a refused batch, the connection, the entries, one confirming
//! `get`, the records), asserted in the same file.
//!
//! # Invariants
//!
//! * At most one open invitation per (account, address), under any interleaving.
//! * Exactly one of N concurrent accepts of a token wins; of an accept and a
//!   cancel, or an accept and a decline, racing for one invitation, exactly one wins.
//! * One membership per (account, user): it is keyed by both.
//! * A join link lets in at most `max_uses` people, under any interleaving and
//!   any failure: each redeem takes its use by `increment` before it writes a
//!   membership, and goes on only within `max_uses`.
//! * An account never takes more seats (members plus open invitations) than
//!   its `seat_limit`, under any interleaving and any failure: every new seat
//!   (an invite's draft, a join) is taken by a CAS on the account's seat
//!   ledger before the invitation or membership exists, and given back only
//!   after it is gone, so the ledger never counts fewer seats than are used
//!   (one exception, in [`seats`]: a join's one membership write that lingers
//!   in flight for over 30 s after its seat was judged stopped).
//!   An open invitation's seat is held until its expiry, so expiry gives it
//!   back with no write. The ledger counts seats, not invitations, so each
//!   is given back only by the change that happens once for it: the CAS that
//!   cancels, declines or accepts the invitation, or the deletion of a draft
//!   that never became reachable (by its invite, or by the sweep).
//! * Accepted, cancelled and declined invitations never change again.
//! * A pending invitation past its expiry reads `expired`, swept or not.
//! * An expired invitation gives up its address only by being superseded (a
//!   CAS on it), so a resend renewing it and an invite replacing it cannot both win.
//! * No index entry leads a reader astray: readers verify what an entry names
//!   (slot history whose record is gone is skipped, slots are checked against
//!   the invitation, queue entries against what is really due).
//! * An invitation is reachable (listed, found by address, opened by a link)
//!   only once its slot names it: a record whose invite failed or lost before
//!   that is seen by nothing but the sweep, which deletes it.

pub mod closed;
pub mod cursor;
pub mod effects;
pub mod email;
mod env;
pub mod error;
#[cfg(test)]
mod fixtures;
pub mod ids;
pub mod keys;
#[cfg(any(test, feature = "test-support"))]
pub mod memstore;
pub mod model;
pub mod ops;
mod parsed;
pub mod principal;
mod queue;
pub mod random;
pub mod seats;
mod slots;
pub mod store;
pub mod time;
pub mod token;
pub mod values;

pub use env::{Env, Policy};
pub use error::{Error, Kind, Result};
pub use ops::Page;
