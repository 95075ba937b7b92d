//! The key layout, in one place. See the crate docs for what each key holds.

use crate::email::Email;
use crate::ids::{AccountId, EventId, InvitationId, JoinLinkId, UserId};
use crate::token::TokenHash;
use crate::values::MessageId;
use sha2::{Digest, Sha256};

/// A key from its parts, in one allocation of the right size. Keys are
/// made for every value a request reads (two per item of a list page), and
/// `format!` through `Display` cost a list page about 4% of its CPU.
fn join<const N: usize>(parts: [&str; N]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.push_str(part);
    }
    key
}

pub fn account(acc: &AccountId) -> String {
    join(["v1/acct/", acc.as_str()])
}

pub fn slot_shard(acc: &AccountId, shard: u16) -> String {
    join([
        "v1/acct/",
        acc.as_str(),
        "/slots/",
        itoa::Buffer::new().format(shard),
    ])
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
    join(["v1/acct/", acc.as_str(), "/seats"])
}

pub fn member_seq(acc: &AccountId) -> String {
    join(["v1/acct/", acc.as_str(), "/mseq"])
}

pub fn member_log(acc: &AccountId, seq: i64) -> String {
    join([
        "v1/acct/",
        acc.as_str(),
        "/mlog/",
        itoa::Buffer::new().format(seq),
    ])
}

pub fn member(acc: &AccountId, user: &UserId) -> String {
    join(["v1/acct/", acc.as_str(), "/mem/", user.as_str()])
}

pub fn member_by_email(acc: &AccountId, email: &Email) -> String {
    join(["v1/acct/", acc.as_str(), "/memail/", email.as_str()])
}

/// How many entries an address's inbox log has had (`increment` only).
pub fn inbox_count(email: &Email) -> String {
    join(["v1/inbox/", email.as_str(), "/n"])
}

pub fn inbox_entry(email: &Email, position: i64) -> String {
    join([
        "v1/inbox/",
        email.as_str(),
        "/",
        itoa::Buffer::new().format(position),
    ])
}

/// How many positions the account's invitation log has handed out (`increment` only).
pub fn invitation_seq(acc: &AccountId) -> String {
    join(["v1/acct/", acc.as_str(), "/iseq"])
}

/// Entry `n` of the account's invitation log: the id of the invitation
/// drafted at that position (newest last).
pub fn invitation_log(acc: &AccountId, n: i64) -> String {
    join([
        "v1/acct/",
        acc.as_str(),
        "/ilog/",
        itoa::Buffer::new().format(n),
    ])
}

pub fn invitation(inv: &InvitationId) -> String {
    join(["v1/inv/", inv.as_str()])
}

pub fn delivery(inv: &InvitationId) -> String {
    join(["v1/dlv/", inv.as_str()])
}

/// Which invitation a provider's message carried (its delivery events name
/// the message only). Hashed: the id is the provider's text.
pub fn mail_message(id: &MessageId) -> String {
    let h = Sha256::digest(id.as_str().as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    join(["v1/msg/", &hex])
}

pub fn token(hash: &TokenHash) -> String {
    format!("v1/tok/{}", hash.to_hex())
}

pub fn due_count(bucket: i64) -> String {
    join(["v1/due/", itoa::Buffer::new().format(bucket), "/n"])
}

pub fn due_entry(bucket: i64, n: i64) -> String {
    join([
        "v1/due/",
        itoa::Buffer::new().format(bucket),
        "/",
        itoa::Buffer::new().format(n),
    ])
}

pub fn sweep_state() -> String {
    "v1/sweep".to_owned()
}

pub fn undelivered(event: &EventId) -> String {
    join(["v1/hook/", event.as_str()])
}

/// How many entries the account's history has had (`increment` only).
pub fn history_count(acc: &AccountId) -> String {
    join(["v1/acct/", acc.as_str(), "/hseq"])
}

pub fn history_entry(acc: &AccountId, position: i64) -> String {
    join([
        "v1/acct/",
        acc.as_str(),
        "/hist/",
        itoa::Buffer::new().format(position),
    ])
}

/// Where an event sits in its account's history, for `?after=`.
pub fn history_position(acc: &AccountId, event: &EventId) -> String {
    join(["v1/acct/", acc.as_str(), "/hpos/", event.as_str()])
}

/// The last position the sweep purged (entries at or below it are gone).
pub fn history_floor(acc: &AccountId) -> String {
    join(["v1/acct/", acc.as_str(), "/hfloor"])
}

pub fn join_link(link: &JoinLinkId) -> String {
    join(["v1/link/", link.as_str()])
}

/// How many times a join link was redeemed, or tried past its last use (`increment` only).
pub fn join_link_uses(link: &JoinLinkId) -> String {
    join(["v1/link/", link.as_str(), "/uses"])
}

pub fn join_link_token(hash: &TokenHash) -> String {
    format!("v1/ltok/{}", hash.to_hex())
}

pub fn join_link_count(acc: &AccountId) -> String {
    join(["v1/acct/", acc.as_str(), "/lseq"])
}

pub fn join_link_log(acc: &AccountId, seq: i64) -> String {
    join([
        "v1/acct/",
        acc.as_str(),
        "/llog/",
        itoa::Buffer::new().format(seq),
    ])
}

pub fn idempotency(scope: &str) -> String {
    join(["v1/idem/", scope])
}

pub fn idempotency_claim(scope: &str, hour: i64) -> String {
    join([
        "v1/idem/",
        scope,
        "/claim/",
        itoa::Buffer::new().format(hour),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys name stored data: joining the parts must write what `format!` did.
    #[test]
    fn keys_are_written_as_before() {
        let acc = AccountId::parse("acc_0102030405060708090a0b0c").unwrap();
        let inv = InvitationId::parse("inv_01a29e106f982d2e2f303163").unwrap();
        let email = Email::parse("a.b+c@example.com").unwrap();
        for n in [0, 7, -3, i64::MAX, i64::MIN] {
            assert_eq!(invitation_log(&acc, n), format!("v1/acct/{acc}/ilog/{n}"));
            assert_eq!(inbox_entry(&email, n), format!("v1/inbox/{email}/{n}"));
            assert_eq!(due_entry(n, n), format!("v1/due/{n}/{n}"));
        }
        assert_eq!(slot_shard(&acc, 15), format!("v1/acct/{acc}/slots/15"));
        assert_eq!(invitation(&inv), format!("v1/inv/{inv}"));
        assert_eq!(
            member_by_email(&acc, &email),
            format!("v1/acct/{acc}/memail/{email}")
        );
        assert_eq!(idempotency_claim("s/x", 42), "v1/idem/s/x/claim/42");
    }
}
