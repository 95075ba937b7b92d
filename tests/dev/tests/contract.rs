//! The routes in spin.toml and the paths in openapi.yaml are the same set.

mod common;

use std::collections::BTreeSet;

#[test]
fn spin_toml_routes_and_openapi_paths_agree() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(invitations_dev::manifest()).unwrap()).unwrap();
    let routes: BTreeSet<String> = manifest["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["route"].as_str())
        // The catch-all only answers 404s; it is not an API path.
        .filter(|r| *r != "/...")
        .map(|r| {
            r.split('/')
                .map(|s| match s.strip_prefix(':') {
                    Some(name) => format!("{{{name}}}"),
                    None => s.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    let paths: BTreeSet<String> = common::contract::document()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(routes, paths);
}

#[test]
fn every_domain_error_code_is_documented() {
    use invitations::error::Error;
    let codes = &common::contract::document()["components"]["schemas"]["Problem"]["properties"]
        ["code"]["enum"];
    for e in [
        Error::Validation(vec![]),
        Error::InvalidCursor,
        Error::Forbidden(""),
        Error::AccountNotFound,
        Error::InvitationNotFound,
        Error::MemberNotFound,
        Error::NothingInvited,
        Error::AlreadyInvited,
        Error::AlreadyMember,
        Error::InvitationNotPending,
        Error::InvitationExpired,
        Error::InvitationCancelled,
        Error::InvitationAlreadyAccepted,
        Error::EmailMismatch,
        Error::DomainNotAllowed,
        Error::ResendTooSoon {
            retry_after_secs: 1,
        },
        Error::LastOwner,
        Error::IdempotencyKeyReused,
        Error::IdempotencyInProgress,
        Error::Contended,
        Error::StoreUnavailable(String::new()),
    ] {
        assert!(
            codes
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(e.code())),
            "{} is undocumented",
            e.code()
        );
    }
}
