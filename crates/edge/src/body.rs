//! Request bodies and query strings, parsed into domain values. Bodies are
//! JSON objects of at most 64 KiB with no unknown fields; every field error
//! names its field.

use crate::problem::ApiError;
use invitations::cursor::Cursor;
use invitations::effects::EventKind;
use invitations::email::{Domain, Email};
use invitations::error::{Error, FieldError};
use invitations::ids::{AccountId, EventId, InvitationId};
use invitations::model::Status;
use invitations::ops::accounts::AccountPatch;
use invitations::ops::history::HistoryQuery;
use invitations::ops::invite::InviteRequest;
use invitations::ops::join_links::NewJoinLink;
use invitations::ops::list::InvitationFilter;
use invitations::ops::update_member::MemberPatch;
use invitations::token::{InvitationToken, JoinLinkToken};
use invitations::values::{
    AccessGroups, AccountName, InviteRole, LinkDelivery, MaxUses, Metadata, Note, ReminderDays,
    Role, SeatLimit, Ttl,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Parses a JSON body into `T`, telling malformed JSON, unknown fields and
/// wrong types apart. Unknown fields are the ones serde skipped
/// (`serde_ignored` names each by its path, e.g. `invitation.bogus`), so no
/// error text is matched.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    // serde's derived structs also read a JSON array (fields by position):
    // every body here is an object, so anything else is refused first.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::Domain(Error::Validation(vec![FieldError::new(
                    "body",
                    "must be a JSON object",
                )])),
                Err(e) => ApiError::InvalidJson(e.to_string()),
            },
        );
    }
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, serde_json::Error> =
        serde_ignored::deserialize(&mut de, |path| unknown.push(path.to_string()))
            .and_then(|value| de.end().map(|()| value));
    let value = parsed.map_err(|e| {
        let msg = e.to_string();
        if e.is_data() {
            ApiError::Domain(Error::Validation(vec![FieldError::new("body", msg)]))
        } else {
            ApiError::InvalidJson(msg)
        }
    })?;
    match unknown.into_iter().next() {
        Some(field) => Err(ApiError::UnknownField(field)),
        None => Ok(value),
    }
}

/// Collects field errors so a caller hears about all of them at once.
#[derive(Default)]
struct Fields(Vec<FieldError>);

impl Fields {
    fn take<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldError::new(field, e.to_string()));
                None
            }
        }
    }

    fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ApiError::Domain(Error::Validation(self.0)))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateAccountBody {
    pub name: String,
}

impl CreateAccountBody {
    pub fn parse(self) -> Result<AccountName, ApiError> {
        let mut f = Fields::default();
        let name = f.take("name", AccountName::parse(&self.name));
        f.finish(|| name.unwrap())
    }
}

/// An optional field that, when present, must hold a value: `null` is a type
/// error like any other (the contract declares these fields non-nullable), not
/// a silent "absent".
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
pub struct PatchAccountBody {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub default_ttl_seconds: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub reminder_days: Option<i64>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "nullable")]
    pub seat_limit: Option<Option<i64>>,
}

/// A field that may be given as `null` (to clear it): absent is `None`,
/// `null` is `Some(None)`.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl PatchAccountBody {
    pub fn parse(self) -> Result<AccountPatch, ApiError> {
        let mut f = Fields::default();
        let name = self
            .name
            .and_then(|n| f.take("name", AccountName::parse(&n)));
        let domains = self.allowed_domains.map(|ds| {
            ds.iter()
                .enumerate()
                .filter_map(|(i, d)| f.take(&format!("allowed_domains[{i}]"), Domain::parse(d)))
                .collect::<Vec<_>>()
        });
        let ttl = self
            .default_ttl_seconds
            .and_then(|t| f.take("default_ttl_seconds", Ttl::from_secs(t)));
        let reminder_days = self
            .reminder_days
            .and_then(|d| f.take("reminder_days", ReminderDays::parse(d)));
        let seat_limit = match self.seat_limit {
            None => None,
            Some(None) => Some(None),
            Some(Some(n)) => f.take("seat_limit", SeatLimit::parse(n)).map(Some),
        };
        f.finish(|| AccountPatch {
            name,
            allowed_domains: domains,
            default_ttl: ttl,
            reminder_days,
            seat_limit,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct InviteBody {
    pub emails: Vec<String>,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub access_groups: Vec<String>,
    #[serde(default, deserialize_with = "present")]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    pub ttl_seconds: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub delivery: Option<String>,
}

fn default_role() -> String {
    "member".to_owned()
}

impl InviteBody {
    pub fn parse(self) -> Result<InviteRequest, ApiError> {
        let mut f = Fields::default();
        let role = f.take("role", InviteRole::parse(&self.role));
        let groups = f.take("access_groups", AccessGroups::parse(&self.access_groups));
        let metadata = match self.metadata {
            None => Some(Metadata::default()),
            Some(m) => f.take("metadata", Metadata::parse(m)),
        };
        let ttl = self
            .ttl_seconds
            .and_then(|t| f.take("ttl_seconds", Ttl::from_secs(t)));
        let message = match self.message {
            None => Some(None),
            Some(m) => f.take("message", Note::parse_optional(&m)),
        };
        let delivery = link_delivery(&mut f, self.delivery.as_deref());
        f.finish(|| InviteRequest {
            emails: self.emails,
            role: role.unwrap(),
            access_groups: groups.unwrap(),
            metadata: metadata.unwrap(),
            ttl,
            message: message.unwrap(),
            delivery: delivery.unwrap(),
        })
    }
}

/// `delivery`: `mail` when absent.
fn link_delivery(f: &mut Fields, given: Option<&str>) -> Option<LinkDelivery> {
    match given {
        None => Some(LinkDelivery::Mail),
        Some(d) => f.take("delivery", LinkDelivery::parse(d)),
    }
}

/// `POST .../invitations/{invitation}/resend`: no body, `{}`, or
/// `{"delivery": "mail" | "none"}`.
#[derive(Debug, Default, Deserialize)]
pub struct ResendBody {
    #[serde(default, deserialize_with = "present")]
    pub delivery: Option<String>,
}

impl ResendBody {
    /// An empty body is `{}`.
    pub fn read(bytes: &[u8]) -> Result<LinkDelivery, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(LinkDelivery::Mail);
        }
        json::<ResendBody>(bytes)?.parse()
    }

    pub fn parse(self) -> Result<LinkDelivery, ApiError> {
        let mut f = Fields::default();
        let delivery = link_delivery(&mut f, self.delivery.as_deref());
        f.finish(|| delivery.unwrap())
    }
}

/// `PATCH /v1/accounts/{account}/members/{user}`: what to change.
#[derive(Debug, Deserialize)]
pub struct PatchMemberBody {
    #[serde(default, deserialize_with = "present")]
    pub role: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub access_groups: Option<Vec<String>>,
}

impl PatchMemberBody {
    pub fn parse(self) -> Result<MemberPatch, ApiError> {
        let mut f = Fields::default();
        let role = self.role.and_then(|r| f.take("role", Role::parse(&r)));
        let access_groups = self
            .access_groups
            .and_then(|g| f.take("access_groups", AccessGroups::parse(&g)));
        f.finish(|| MemberPatch {
            role,
            access_groups,
        })
    }
}

/// `POST /v1/accounts/{account}/join-links`.
#[derive(Debug, Deserialize)]
pub struct CreateJoinLinkBody {
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub access_groups: Vec<String>,
    pub max_uses: i64,
    #[serde(default, deserialize_with = "present")]
    pub ttl_seconds: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub allowed_domains: Option<Vec<String>>,
}

/// A join link lasts a week unless told otherwise.
pub const DEFAULT_JOIN_LINK_TTL_SECS: i64 = 7 * 24 * 3600;

impl CreateJoinLinkBody {
    pub fn parse(self) -> Result<NewJoinLink, ApiError> {
        let mut f = Fields::default();
        let role = f.take("role", InviteRole::parse(&self.role));
        let groups = f.take("access_groups", AccessGroups::parse(&self.access_groups));
        let max_uses = f.take("max_uses", MaxUses::parse(self.max_uses));
        let ttl = f.take(
            "ttl_seconds",
            Ttl::from_secs(self.ttl_seconds.unwrap_or(DEFAULT_JOIN_LINK_TTL_SECS)),
        );
        let domains: Vec<Domain> = self
            .allowed_domains
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(i, d)| f.take(&format!("allowed_domains[{i}]"), Domain::parse(d)))
            .collect();
        f.finish(|| NewJoinLink {
            role: role.expect("checked"),
            access_groups: groups.expect("checked"),
            max_uses: max_uses.expect("checked"),
            ttl: ttl.expect("checked"),
            allowed_domains: domains,
        })
    }
}

/// `POST /v1/join-links/redeem`: `{"token": "..."}`.
#[derive(Debug, Deserialize)]
pub struct RedeemBody {
    pub token: String,
}

impl RedeemBody {
    /// A malformed token cannot name a link.
    pub fn parse(self) -> Result<JoinLinkToken, ApiError> {
        JoinLinkToken::parse(&self.token).map_err(|_| ApiError::Domain(Error::JoinLinkNotFound))
    }
}

/// Which invitation an invitee answers (accepts or declines): `{"token": "..."}`
/// by the link, or when signed in `{"account_id": "acc_..."}` or, from the
/// inbox, `{"invitation_id": "inv_..."}`.
#[derive(Debug, Deserialize)]
pub struct AnswerBody {
    pub token: Option<String>,
    pub account_id: Option<String>,
    pub invitation_id: Option<String>,
}

pub enum AnswerBy {
    Token(InvitationToken),
    Account(AccountId),
    Invitation(InvitationId),
}

impl AnswerBody {
    pub fn parse(self) -> Result<AnswerBy, ApiError> {
        match (self.token, self.account_id, self.invitation_id) {
            // A malformed token cannot name an invitation.
            (Some(t), None, None) => InvitationToken::parse(&t)
                .map(AnswerBy::Token)
                .map_err(|_| ApiError::Domain(Error::InvitationNotFound)),
            (None, Some(a), None) => AccountId::parse(&a)
                .map(AnswerBy::Account)
                .map_err(|e| ApiError::Domain(Error::field("account_id", e.to_string()))),
            (None, None, Some(i)) => InvitationId::parse(&i)
                .map(AnswerBy::Invitation)
                .map_err(|e| ApiError::Domain(Error::field("invitation_id", e.to_string()))),
            _ => Err(ApiError::Domain(Error::field(
                "token",
                "give exactly one of token, account_id and invitation_id",
            ))),
        }
    }
}

/// The `token` of the /join page's Decline form
/// (`application/x-www-form-urlencoded`). A missing or malformed token names
/// no invitation.
pub fn form_token(bytes: &[u8]) -> Result<InvitationToken, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let form = String::from_utf8_lossy(bytes).replace('+', " ");
    query_pairs(&form)
        .into_iter()
        .find(|(k, _)| k == "token")
        .and_then(|(_, v)| InvitationToken::parse(v.trim()).ok())
        .ok_or(ApiError::Domain(Error::InvitationNotFound))
}

/// Decodes `application/x-www-form-urlencoded` query pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes, in path segments and queries alike (a malformed
/// escape stays as it is). A `+` stays a `+`: addresses like
/// `bob+tag@example.com` are common and rarely escaped by hand; a space is `%20`.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A list's paging parameters.
pub struct PageQuery {
    pub limit: Option<usize>,
    pub cursor: Option<Cursor>,
}

fn page_query(pairs: &[(String, String)], f: &mut Fields) -> PageQuery {
    let mut q = PageQuery {
        limit: None,
        cursor: None,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => {
                q.limit = f.take(
                    "limit",
                    v.parse::<usize>()
                        .map_err(|_| "must be a number from 1 to 100")
                        .and_then(|n| {
                            if (1..=100).contains(&n) {
                                Ok(n)
                            } else {
                                Err("must be a number from 1 to 100")
                            }
                        }),
                )
            }
            "cursor" => match Cursor::parse(v) {
                Ok(c) => q.cursor = Some(c),
                Err(_) => f.0.push(FieldError::new(
                    "cursor",
                    "is not a cursor this service issued",
                )),
            },
            _ => {}
        }
    }
    q
}

pub fn invitation_query(query: &str) -> Result<(InvitationFilter, PageQuery), ApiError> {
    let pairs = query_pairs(query);
    let mut f = Fields::default();
    let page = page_query(&pairs, &mut f);
    let mut filter = InvitationFilter::default();
    for (k, v) in &pairs {
        match k.as_str() {
            "state" => {
                filter.status = f.take(
                    "state",
                    Status::parse(v)
                        .ok_or("must be one of pending, accepted, cancelled, declined, expired"),
                )
            }
            "email" => filter.email = f.take("email", Email::parse(v)),
            "limit" | "cursor" => {}
            other => {
                f.0.push(FieldError::new(other, "is not a parameter of this list"))
            }
        }
    }
    f.finish(|| (filter, page))
}

/// The account history's query: `type`, `after`, `limit`, `cursor`.
pub fn history_query(query: &str) -> Result<HistoryQuery, ApiError> {
    let pairs = query_pairs(query);
    let mut f = Fields::default();
    let page = page_query(&pairs, &mut f);
    let mut q = HistoryQuery {
        limit: page.limit,
        cursor: page.cursor,
        ..HistoryQuery::default()
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "type" => q.kind = f.take("type", EventKind::parse(v).ok_or_else(event_types)),
            "after" => {
                q.after = f.take(
                    "after",
                    EventId::parse(v)
                        .map_err(|_| "must be an event id (evt_...) from this history"),
                )
            }
            "limit" | "cursor" => {}
            other => {
                f.0.push(FieldError::new(other, "is not a parameter of this list"))
            }
        }
    }
    if q.after.is_some() && q.cursor.is_some() {
        f.0.push(FieldError::new("cursor", "give after or cursor, not both"));
    }
    f.finish(|| q)
}

fn event_types() -> String {
    let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    format!("must be one of {}", names.join(", "))
}

/// A list that takes only `limit` and `cursor` (members, the inbox).
pub fn paging_query(query: &str) -> Result<PageQuery, ApiError> {
    let pairs = query_pairs(query);
    let mut f = Fields::default();
    let page = page_query(&pairs, &mut f);
    for (k, _) in &pairs {
        if k != "limit" && k != "cursor" {
            f.0.push(FieldError::new(k, "is not a parameter of this list"));
        }
    }
    f.finish(|| page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resend_body_may_be_empty_or_name_the_delivery() {
        assert_eq!(ResendBody::read(b"").unwrap(), LinkDelivery::Mail);
        assert_eq!(ResendBody::read(b" {} ").unwrap(), LinkDelivery::Mail);
        let none = ResendBody::read(br#"{"delivery": "none"}"#).unwrap();
        assert_eq!(none, LinkDelivery::Caller);
        let sms = ResendBody::read(br#"{"delivery": "sms"}"#).unwrap_err();
        assert_eq!(sms.problem().errors[0].field, "delivery");
        let null = ResendBody::read(br#"{"delivery": null}"#).unwrap_err();
        assert_eq!(null.problem().status, 400);
        let other = ResendBody::read(br#"{"colour": "red"}"#).unwrap_err();
        assert_eq!(other.problem().code, "unknown_field");
    }

    #[test]
    fn unknown_fields_and_bad_json_are_told_apart() {
        let e = json::<InviteBody>(br#"{"emails": [], "colour": "red"}"#).unwrap_err();
        assert_eq!(e.problem().code, "unknown_field");
        assert_eq!(e.problem().errors[0].field, "colour");
        assert_eq!(
            json::<InviteBody>(b"{not json").unwrap_err().problem().code,
            "invalid_json"
        );
        assert_eq!(
            json::<InviteBody>(br#"{"emails": []} trailing"#)
                .unwrap_err()
                .problem()
                .code,
            "invalid_json"
        );
        assert_eq!(
            json::<InviteBody>(br#"{"emails": 5}"#)
                .unwrap_err()
                .problem()
                .code,
            "validation_failed"
        );
        for not_an_object in [&b"[]"[..], b"[\"Acme\"]", b"\"Acme\"", b"null", b" 5 "] {
            let e = json::<CreateAccountBody>(not_an_object).unwrap_err();
            assert_eq!(e.problem().code, "validation_failed");
            assert_eq!(e.problem().errors[0].field, "body");
        }
        assert_eq!(
            json::<PatchAccountBody>(b"nope")
                .unwrap_err()
                .problem()
                .code,
            "invalid_json"
        );
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(json::<InviteBody>(&big).unwrap_err().problem().status, 413);
    }

    #[test]
    fn the_decline_form_carries_the_token() {
        struct Sevens;
        impl invitations::random::Random for Sevens {
            fn fill(&self, b: &mut [u8]) {
                b.fill(7)
            }
        }
        let t = InvitationToken::generate(&Sevens);
        let body = format!("token={}&x=1", t.reveal());
        assert_eq!(form_token(body.as_bytes()).unwrap().reveal(), t.reveal());
        for bad in ["", "token=", "token=short", "other=1"] {
            assert_eq!(
                form_token(bad.as_bytes()).unwrap_err().problem().code,
                "invitation_not_found"
            );
        }
    }

    #[test]
    fn null_is_not_a_value_for_an_optional_field() {
        for body in [
            r#"{"name": null}"#,
            r#"{"allowed_domains": null}"#,
            r#"{"default_ttl_seconds": null}"#,
        ] {
            let e = json::<PatchAccountBody>(body.as_bytes()).unwrap_err();
            assert_eq!(e.problem().code, "validation_failed", "{body}");
        }
        for body in [
            r#"{"emails": ["a@example.com"], "metadata": null}"#,
            r#"{"emails": ["a@example.com"], "message": null}"#,
            r#"{"emails": ["a@example.com"], "ttl_seconds": null}"#,
        ] {
            let parsed = json::<InviteBody>(body.as_bytes()).and_then(InviteBody::parse);
            assert_eq!(
                parsed.err().map(|e| e.problem().code),
                Some("validation_failed"),
                "{body}"
            );
        }
        let absent = json::<PatchAccountBody>(b"{}").unwrap().parse().unwrap();
        assert!(absent.name.is_none() && absent.allowed_domains.is_none());
        let blank = json::<InviteBody>(br#"{"emails": ["a@example.com"], "message": "  "}"#);
        assert!(blank.unwrap().parse().unwrap().message.is_none());
    }

    #[test]
    fn invite_body_reports_every_bad_field() {
        let body: InviteBody = json(br#"{"emails": ["a@example.com"], "role": "owner", "access_groups": ["bad group"], "ttl_seconds": 0, "metadata": [1]}"#).unwrap();
        let e = body.parse().unwrap_err().problem();
        let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["role", "access_groups", "metadata", "ttl_seconds"]);
        let ok: InviteBody = json(br#"{"emails": ["a@example.com"]}"#).unwrap();
        let req = ok.parse().unwrap();
        assert_eq!(req.role, InviteRole::Member);
        assert!(req.ttl.is_none());
    }

    #[test]
    fn queries_decode_and_validate() {
        let (filter, page) =
            invitation_query("state=pending&email=Bob%40Example.com&limit=5").unwrap();
        assert_eq!(filter.status, Some(Status::Pending));
        assert_eq!(filter.email.unwrap().as_str(), "bob@example.com");
        assert_eq!(page.limit, Some(5));
        for bad in [
            "state=open",
            "limit=0",
            "limit=101",
            "cursor=zzz",
            "colour=red",
        ] {
            assert!(invitation_query(bad).is_err(), "{bad}");
        }
        assert_eq!(percent_decode("a%2Fb+c%zz%4%20d"), "a/b+c%zz%4 d");
        let (filter, _) = invitation_query("email=bob+tag@example.com").unwrap();
        assert_eq!(filter.email.unwrap().as_str(), "bob+tag@example.com");
    }

    #[test]
    fn accept_body_takes_one_of_token_or_account() {
        let both: AnswerBody = json(br#"{"token": "x", "account_id": "acc_1"}"#).unwrap();
        assert!(both.parse().is_err());
        let bad: AnswerBody = json(br#"{"token": "not-a-token"}"#).unwrap();
        assert_eq!(
            bad.parse().err().unwrap().problem().code,
            "invitation_not_found"
        );
    }
}
