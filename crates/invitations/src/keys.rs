//! The key layout, in one place. See the crate docs for what each key holds.

use crate::email::Email;
use crate::ids::{AccountId, EventId, InvitationId, JoinLinkId, UserId};
use crate::token::TokenHash;
use crate::values::MessageId;
use sha2::{Digest, Sha256};

pub fn account(acc: &AccountId) -> String {
    format!("v1/acct/{acc}")
}

pub fn slot_shard(acc: &AccountId, shard: u16) -> String {
    format!("v1/acct/{acc}/slots/{shard}")
}

/// Which slot shard an address belongs to.
pub fn shard_of(email: &Email, shards: u16) -> u16 {
    let h = Sha256::digest(email.as_str().as_bytes());
    u16::from_be_bytes([h[0], h[1]]) % shards.max(1)
}

/// Which of a split shard's 16 children an address belongs to, `depth`
/// splits below its account's shard: the next 4 bits of the address's hash
/// after the 16 that chose the shard.
pub fn child_of(email: &Email, depth: usize) -> usize {
    let h = Sha256::digest(email.as_str().as_bytes());
    let nibble = 4 + depth % 56;
    let byte = h[nibble / 2];
    usize::from(if nibble % 2 == 0 {
        byte >> 4
    } else {
        byte & 0x0f
    })
}

/// Child `index` of the split shard at `parent`, under a name no other split
/// can have made (`rev` is the splitter's fresh revision).
pub fn slot_child(parent: &str, index: usize, rev: &str) -> String {
    format!("{parent}/{index:x}.{rev}")
}

/// The account's seat ledger ([`crate::seats`]).
pub fn seats(acc: &AccountId) -> String {
    format!("v1/acct/{acc}/seats")
}

pub fn member_seq(acc: &AccountId) -> String {
    format!("v1/acct/{acc}/mseq")
}

pub fn member_log(acc: &AccountId, seq: i64) -> String {
    format!("v1/acct/{acc}/mlog/{seq}")
}

pub fn member(acc: &AccountId, user: &UserId) -> String {
    format!("v1/acct/{acc}/mem/{user}")
}

pub fn member_by_email(acc: &AccountId, email: &Email) -> String {
    format!("v1/acct/{acc}/memail/{email}")
}

/// How many entries an address's inbox log has had (`increment` only).
pub fn inbox_count(email: &Email) -> String {
    format!("v1/inbox/{email}/n")
}

pub fn inbox_entry(email: &Email, position: i64) -> String {
    format!("v1/inbox/{email}/{position}")
}

/// How many positions the account's invitation log has handed out (`increment` only).
pub fn invitation_seq(acc: &AccountId) -> String {
    format!("v1/acct/{acc}/iseq")
}

/// Entry `n` of the account's invitation log: the id of the invitation
/// drafted at that position (newest last).
pub fn invitation_log(acc: &AccountId, n: i64) -> String {
    format!("v1/acct/{acc}/ilog/{n}")
}

pub fn invitation(inv: &InvitationId) -> String {
    format!("v1/inv/{inv}")
}

pub fn delivery(inv: &InvitationId) -> String {
    format!("v1/dlv/{inv}")
}

/// Which invitation a provider's message carried (its delivery events name
/// the message only). Hashed: the id is the provider's text.
pub fn mail_message(id: &MessageId) -> String {
    let h = Sha256::digest(id.as_str().as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("v1/msg/{hex}")
}

pub fn token(hash: &TokenHash) -> String {
    format!("v1/tok/{}", hash.to_hex())
}

pub fn due_count(bucket: i64) -> String {
    format!("v1/due/{bucket}/n")
}

pub fn due_entry(bucket: i64, n: i64) -> String {
    format!("v1/due/{bucket}/{n}")
}

pub fn sweep_state() -> String {
    "v1/sweep".to_owned()
}

pub fn undelivered(event: &EventId) -> String {
    format!("v1/hook/{event}")
}

/// How many entries the account's history has had (`increment` only).
pub fn history_count(acc: &AccountId) -> String {
    format!("v1/acct/{acc}/hseq")
}

pub fn history_entry(acc: &AccountId, position: i64) -> String {
    format!("v1/acct/{acc}/hist/{position}")
}

/// Where an event sits in its account's history, for `?after=`.
pub fn history_position(acc: &AccountId, event: &EventId) -> String {
    format!("v1/acct/{acc}/hpos/{event}")
}

/// The last position the sweep purged (entries at or below it are gone).
pub fn history_floor(acc: &AccountId) -> String {
    format!("v1/acct/{acc}/hfloor")
}

pub fn join_link(link: &JoinLinkId) -> String {
    format!("v1/link/{link}")
}

/// How many times a join link was redeemed, or tried past its last use (`increment` only).
pub fn join_link_uses(link: &JoinLinkId) -> String {
    format!("v1/link/{link}/uses")
}

pub fn join_link_token(hash: &TokenHash) -> String {
    format!("v1/ltok/{}", hash.to_hex())
}

pub fn join_link_count(acc: &AccountId) -> String {
    format!("v1/acct/{acc}/lseq")
}

pub fn join_link_log(acc: &AccountId, seq: i64) -> String {
    format!("v1/acct/{acc}/llog/{seq}")
}

pub fn idempotency(scope: &str) -> String {
    format!("v1/idem/{scope}")
}

pub fn idempotency_claim(scope: &str, hour: i64) -> String {
    format!("v1/idem/{scope}/claim/{hour}")
}
