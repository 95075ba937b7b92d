//! How an [`Invitation`] and a [`LogEntry`] are read from their stored JSON,
//! without serde's buffering.
//!
//! Derived, `#[serde(flatten)]` (the state's fields among the invitation's)
//! and `#[serde(untagged)]` (a log entry's two forms) first copy the whole
//! value into an in-memory tree and then read it again; a list page reads 50
//! of each, and that copy was about a fifth of its CPU time. These read the
//! same forms in one pass: every field of the invitation side by side with
//! its state's, and an entry by its JSON type. What they accept is what the
//! derived forms accepted; the unit tests below hold them to it.

use super::{Delivery, Invitation, LogEntry, State};
use crate::email::Email;
use crate::ids::{AccountId, InvitationId, Rev, UserId};
use crate::model::Inviter;
use crate::time::Timestamp;
use crate::token::TokenHash;
use crate::values::{AccessGroups, InviteRole, LinkDelivery, Metadata, Note, Ttl};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// An invitation's stored fields, its state's among them.
#[derive(Deserialize)]
pub(super) struct StoredInvitation {
    id: InvitationId,
    account_id: AccountId,
    email: Email,
    role: InviteRole,
    access_groups: AccessGroups,
    metadata: Metadata,
    message: Option<Note>,
    invited_by: Inviter,
    created_at: Timestamp,
    ttl: Ttl,
    expires_at: Timestamp,
    issued_at: Timestamp,
    reissued_at: Timestamp,
    #[serde(default)]
    resent_at: Option<Timestamp>,
    token_hash: TokenHash,
    #[serde(default)]
    previous_token_hash: Option<TokenHash>,
    #[serde(default)]
    retired_token_hashes: Vec<TokenHash>,
    #[serde(default)]
    reminded_for: Option<Timestamp>,
    #[serde(default)]
    log_position: i64,
    #[serde(default)]
    seat_taken: bool,
    #[serde(default)]
    link_delivery: LinkDelivery,
    state: StateName,
    accepted_at: Option<Timestamp>,
    accepted_by: Option<UserId>,
    #[serde(default)]
    member_seq: i64,
    cancelled_at: Option<Timestamp>,
    cancelled_by: Option<UserId>,
    declined_at: Option<Timestamp>,
    declined_by: Option<UserId>,
    expired_at: Option<Timestamp>,
    superseded: Option<bool>,
    rev: Rev,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum StateName {
    Pending,
    Accepted,
    Cancelled,
    Declined,
    Expired,
}

impl TryFrom<StoredInvitation> for Invitation {
    type Error = String;

    fn try_from(s: StoredInvitation) -> Result<Invitation, String> {
        fn needs<T>(field: Option<T>, name: &str) -> Result<T, String> {
            field.ok_or_else(|| format!("missing field `{name}`"))
        }
        let state = match s.state {
            StateName::Pending => State::Pending,
            StateName::Accepted => State::Accepted {
                accepted_at: needs(s.accepted_at, "accepted_at")?,
                accepted_by: needs(s.accepted_by, "accepted_by")?,
                member_seq: s.member_seq,
            },
            StateName::Cancelled => State::Cancelled {
                cancelled_at: needs(s.cancelled_at, "cancelled_at")?,
                cancelled_by: needs(s.cancelled_by, "cancelled_by")?,
            },
            StateName::Declined => State::Declined {
                declined_at: needs(s.declined_at, "declined_at")?,
                declined_by: s.declined_by,
            },
            StateName::Expired => State::Expired {
                expired_at: needs(s.expired_at, "expired_at")?,
                superseded: needs(s.superseded, "superseded")?,
            },
        };
        Ok(Invitation {
            id: s.id,
            account_id: s.account_id,
            email: s.email,
            role: s.role,
            access_groups: s.access_groups,
            metadata: s.metadata,
            message: s.message,
            invited_by: s.invited_by,
            created_at: s.created_at,
            ttl: s.ttl,
            expires_at: s.expires_at,
            issued_at: s.issued_at,
            reissued_at: s.reissued_at,
            resent_at: s.resent_at,
            token_hash: s.token_hash,
            previous_token_hash: s.previous_token_hash,
            retired_token_hashes: s.retired_token_hashes,
            reminded_for: s.reminded_for,
            log_position: s.log_position,
            seat_taken: s.seat_taken,
            link_delivery: s.link_delivery,
            state,
            rev: s.rev,
        })
    }
}

/// A claimed entry's fields.
#[derive(Deserialize)]
struct StoredClaim {
    claimed: InvitationId,
    #[serde(default)]
    delivery: Option<Delivery>,
}

impl<'de> Deserialize<'de> for LogEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = LogEntry;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an invitation id, or a map with `claimed`")
            }

            fn visit_str<E: de::Error>(self, id: &str) -> Result<LogEntry, E> {
                InvitationId::parse(id)
                    .map(LogEntry::Drafted)
                    .map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LogEntry, A::Error> {
                let claim = StoredClaim::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(LogEntry::Claimed {
                    claimed: claim.claimed,
                    delivery: claim.delivery,
                })
            }
        }

        deserializer.deserialize_any(EntryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::invitation;
    use serde_json::json;

    fn read_back<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        serde_json::from_slice(&serde_json::to_vec(value).unwrap()).unwrap()
    }

    #[test]
    fn an_invitation_reads_back_as_written_in_every_state() {
        let t = Timestamp::from_unix_secs(1_000_000);
        let u = UserId::parse("u2").unwrap();
        let states = [
            State::Pending,
            State::Accepted {
                accepted_at: t,
                accepted_by: u.clone(),
                member_seq: 7,
            },
            State::Cancelled {
                cancelled_at: t,
                cancelled_by: u.clone(),
            },
            State::Declined {
                declined_at: t,
                declined_by: Some(u.clone()),
            },
            State::Declined {
                declined_at: t,
                declined_by: None,
            },
            State::Expired {
                expired_at: t,
                superseded: true,
            },
        ];
        for state in states {
            let mut inv = invitation(t);
            inv.state = state;
            assert_eq!(read_back(&inv), inv);
            // Every optional field set, the ones written only when set among them.
            inv.message = Some(Note::parse("welcome").unwrap());
            inv.resent_at = Some(t.plus_secs(1));
            inv.previous_token_hash = Some(inv.token_hash);
            inv.retired_token_hashes = vec![inv.token_hash];
            inv.reminded_for = Some(t.plus_secs(2));
            inv.log_position = 12;
            inv.link_delivery = LinkDelivery::Caller;
            assert_eq!(read_back(&inv), inv);
        }
    }

    /// A record as the first versions wrote it: none of the fields added
    /// since, an accepted state without its member position.
    #[test]
    fn an_invitation_written_before_the_later_fields_still_reads() {
        let t = Timestamp::from_unix_secs(1_000_000);
        let mut json = serde_json::to_value(invitation(t)).unwrap();
        let fields = json.as_object_mut().unwrap();
        for later in ["resent_at", "previous_token_hash", "seat_taken"] {
            fields.remove(later).unwrap();
        }
        fields.insert("state".into(), json!("accepted"));
        fields.insert("accepted_at".into(), json!(1_000_000_000));
        fields.insert("accepted_by".into(), json!("u2"));
        fields.insert("unknown".into(), json!({"kept": false}));
        let inv: Invitation = serde_json::from_value(json).unwrap();
        assert_eq!(inv.resent_at, None);
        assert_eq!(inv.previous_token_hash, None);
        assert!(!inv.seat_taken);
        assert_eq!(inv.log_position, 0);
        assert_eq!(inv.link_delivery, LinkDelivery::Mail);
        assert_eq!(
            inv.state,
            State::Accepted {
                accepted_at: Timestamp::from_unix_secs(1_000_000),
                accepted_by: UserId::parse("u2").unwrap(),
                member_seq: 0,
            }
        );
    }

    #[test]
    fn an_invitation_without_its_states_fields_is_refused() {
        let t = Timestamp::from_unix_secs(1_000_000);
        let cases = [
            (
                json!({"state": "accepted", "accepted_by": "u2"}),
                "accepted_at",
            ),
            (
                json!({"state": "accepted", "accepted_at": 1}),
                "accepted_by",
            ),
            (
                json!({"state": "cancelled", "cancelled_at": 1}),
                "cancelled_by",
            ),
            (json!({"state": "declined"}), "declined_at"),
            (json!({"state": "expired", "expired_at": 1}), "superseded"),
            (json!({"state": "archived"}), "unknown variant"),
            (json!({"state": null}), "invalid type"),
        ];
        for (state, error) in cases {
            let mut json = serde_json::to_value(invitation(t)).unwrap();
            let fields = json.as_object_mut().unwrap();
            fields.extend(state.as_object().unwrap().clone());
            let refused = serde_json::from_value::<Invitation>(json).unwrap_err();
            assert!(refused.to_string().contains(error), "{state}: {refused}");
        }
        let mut json = serde_json::to_value(invitation(t)).unwrap();
        json.as_object_mut().unwrap().remove("state");
        let refused = serde_json::from_value::<Invitation>(json).unwrap_err();
        assert!(refused.to_string().contains("missing field `state`"));
    }

    #[test]
    fn log_entries_read_back_as_written_in_either_form() {
        let id = invitation(Timestamp::from_unix_secs(1)).id;
        let entries = [
            LogEntry::Drafted(id.clone()),
            LogEntry::Claimed {
                claimed: id.clone(),
                delivery: None,
            },
            LogEntry::Claimed {
                claimed: id,
                delivery: Some(Delivery::default()),
            },
        ];
        for entry in entries {
            assert_eq!(read_back(&entry), entry);
        }
    }

    #[test]
    fn a_log_entry_of_another_shape_is_refused() {
        let id = invitation(Timestamp::from_unix_secs(1)).id;
        for bad in [
            json!(1),
            json!(null),
            json!([id.as_str()]),
            json!("not an id"),
            json!({"delivery": null}),
            json!({"claimed": "not an id"}),
        ] {
            assert!(
                serde_json::from_value::<LogEntry>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
