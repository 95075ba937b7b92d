//! The routes in spin.toml and the paths in openapi.yaml are the same set; and
//! `cargo up` and `cargo test` build one feature set.

use crate::common;

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
    // Each variant's place. The match is exhaustive, so a new variant does not
    // compile until it is given one here, and the check below fails until it
    // is in `all` too.
    fn place(e: &Error) -> usize {
        match e {
            Error::Validation(_) => 0,
            Error::InvalidCursor => 1,
            Error::Forbidden(_) => 2,
            Error::AccountNotFound => 3,
            Error::InvitationNotFound => 4,
            Error::MemberNotFound => 5,
            Error::JoinLinkNotFound => 6,
            Error::JoinLinkRevoked => 7,
            Error::JoinLinkExpired => 8,
            Error::JoinLinkUsedUp => 9,
            Error::MemberRemoved => 10,
            Error::EventNotFound => 11,
            Error::SeatLimitReached => 12,
            Error::SeatsUntracked => 13,
            Error::NothingInvited => 14,
            Error::AlreadyInvited => 15,
            Error::AlreadyMember => 16,
            Error::InvitationNotPending => 17,
            Error::InvitationExpired => 18,
            Error::InvitationCancelled => 19,
            Error::InvitationDeclined => 20,
            Error::InvitationAlreadyAccepted => 21,
            Error::EmailMismatch => 22,
            Error::EmailUnverified => 23,
            Error::DomainNotAllowed => 24,
            Error::ResendTooSoon { .. } => 25,
            Error::LastOwner => 26,
            Error::IdempotencyKeyReused => 27,
            Error::IdempotencyInProgress => 28,
            Error::Contended => 29,
            Error::StoreUnavailable(_) => 30,
        }
    }
    const VARIANTS: usize = 31;
    let all = [
        Error::Validation(vec![]),
        Error::InvalidCursor,
        Error::Forbidden(""),
        Error::AccountNotFound,
        Error::InvitationNotFound,
        Error::MemberNotFound,
        Error::JoinLinkNotFound,
        Error::JoinLinkRevoked,
        Error::JoinLinkExpired,
        Error::JoinLinkUsedUp,
        Error::MemberRemoved,
        Error::EventNotFound,
        Error::SeatLimitReached,
        Error::SeatsUntracked,
        Error::NothingInvited,
        Error::AlreadyInvited,
        Error::AlreadyMember,
        Error::InvitationNotPending,
        Error::InvitationExpired,
        Error::InvitationCancelled,
        Error::InvitationDeclined,
        Error::InvitationAlreadyAccepted,
        Error::EmailMismatch,
        Error::EmailUnverified,
        Error::DomainNotAllowed,
        Error::ResendTooSoon {
            retry_after_secs: 1,
        },
        Error::LastOwner,
        Error::IdempotencyKeyReused,
        Error::IdempotencyInProgress,
        Error::Contended,
        Error::StoreUnavailable(String::new()),
    ];
    let mut places: Vec<usize> = all.iter().map(place).collect();
    places.sort_unstable();
    places.dedup();
    assert_eq!(
        places,
        (0..VARIANTS).collect::<Vec<_>>(),
        "one value of every variant"
    );
    let codes = &common::contract::document()["components"]["schemas"]["Problem"]["properties"]
        ["code"]["enum"];
    for e in &all {
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

/// The body check every end-to-end answer goes through is strict: a field the
/// document does not name, or a required one left out, fails.
mod bodies {
    use super::common::contract::{check_schema, document};
    use serde_json::{json, Value};

    fn schema(name: &str) -> &'static Value {
        &document()["components"]["schemas"][name]
    }

    fn invitation() -> Value {
        json!({
            "id": "inv_0123456789abcdef01234567",
            "account_id": "acc_0123456789abcdef01234567",
            "email": "bob@example.com",
            "role": "member",
            "access_groups": ["eng"],
            "metadata": {},
            "message": null,
            "state": "pending",
            "delivery": {"status": "queued", "attempts": 0, "last_attempt_at": null, "last_error": null, "last_event": null},
            "invited_by": {"user_id": "olivia", "email": null, "name": null},
            "created_at": "2026-12-02T10:00:00Z",
            "expires_at": "2027-01-01T10:00:00Z",
            "sent_count": 0,
            "last_sent_at": null,
            "accepted_at": null,
            "accepted_by": null,
            "cancelled_at": null,
            "cancelled_by": null,
            "declined_at": null,
            "declined_by": null,
            "expired_at": null,
        })
    }

    #[test]
    fn a_documented_invitation_passes() {
        check_schema("invitation", schema("Invitation"), &invitation());
    }

    #[test]
    #[should_panic(expected = "departs from openapi.yaml")]
    fn a_field_the_document_does_not_name_fails() {
        let mut body = invitation();
        body["token"] = json!("secret");
        check_schema("invitation", schema("Invitation"), &body);
    }

    #[test]
    #[should_panic(expected = "departs from openapi.yaml")]
    fn a_documented_field_left_out_fails() {
        let mut body = invitation();
        body.as_object_mut().unwrap().remove("expired_at");
        check_schema("invitation", schema("Invitation"), &body);
    }

    #[test]
    #[should_panic(expected = "departs from openapi.yaml")]
    fn a_nested_field_the_document_does_not_name_fails() {
        let mut body = invitation();
        body["delivery"]["provider_id"] = json!("x");
        check_schema("invitation", schema("Invitation"), &body);
    }
}

/// Each package's features as `cargo tree` resolves them for `args`.
fn features(args: &[&str]) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = invitations_dev::manifest().with_file_name("");
    let output = std::process::Command::new(cargo)
        .current_dir(&root)
        .args(["tree", "--prefix", "none", "--format", "{p}|{f}"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut found = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some((package, features)) = line.split_once('|') else {
            continue;
        };
        // `name vX.Y.Z`, without the path or the `(*)` of a repeat.
        let package: Vec<&str> = package.split_whitespace().take(2).collect();
        let features = features.trim_end_matches(" (*)");
        found.entry(package.join(" ")).or_default().extend(
            features
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        );
    }
    found
}

/// `cargo up` (`cargo run -p invitations-dev`) resolves features for one
/// package, `cargo test` for every default member with its dev-dependencies.
/// Where they differ, one rebuilds what the other built (wasmtime and its kin:
/// minutes). tests/hack/Cargo.toml holds the difference; this keeps it whole.
#[test]
fn one_feature_set_for_cargo_test_and_cargo_up() {
    let up = features(&["-p", "invitations-dev", "-e", "normal,build"]);
    let test = features(&["-e", "normal,build,dev"]);
    let drift: Vec<String> = up
        .iter()
        .filter_map(|(package, wanted)| {
            let tested = test.get(package)?;
            (tested != wanted).then(|| {
                let only_test: Vec<_> = tested.difference(wanted).collect();
                let only_up: Vec<_> = wanted.difference(tested).collect();
                format!("{package}: only under cargo test {only_test:?}, only under cargo up {only_up:?}")
            })
        })
        .collect();
    assert!(
        drift.is_empty(),
        "add these features to tests/hack/Cargo.toml:\n{}",
        drift.join("\n")
    );
}

/// Each setting's default is written in spin.toml (what Spin uses), in the
/// code (what runs when a host leaves the variable unset) and in the README's
/// configuration table: the three agree.
#[test]
fn setting_defaults_agree_in_spin_toml_the_code_and_the_readme() {
    use invitations_edge::settings;
    let manifest: toml::Value = toml::from_str(include_str!("../../../../spin.toml")).unwrap();
    let readme = include_str!("../../../../README.md");
    let policy = invitations::Policy::default();
    let in_code = [
        (
            "resend_cooldown_seconds",
            policy.resend_cooldown_secs.to_string(),
        ),
        ("retention_days", policy.retention_days.to_string()),
        ("history_days", policy.history_days.to_string()),
        ("sweep_max_items", policy.sweep_max_items.to_string()),
        (
            "outbound_max_in_flight",
            settings::OUTBOUND_MAX_IN_FLIGHT.to_string(),
        ),
        (
            "outbound_timeout_seconds",
            settings::OUTBOUND_TIMEOUT_SECONDS.to_string(),
        ),
        (
            "mail_max_per_second",
            settings::MAIL_MAX_PER_SECOND.to_string(),
        ),
        ("send_after_answer", settings::SEND_AFTER_ANSWER.to_string()),
    ];
    for (name, value) in in_code {
        let in_manifest = manifest["variables"][name]["default"]
            .as_str()
            .unwrap_or_else(|| panic!("spin.toml gives {name} no default"));
        assert_eq!(in_manifest, value, "{name}: spin.toml and the code");
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("{name} is not in the README's configuration table"));
        let shown = row.split(" | ").nth(1).unwrap().trim_matches('`');
        assert_eq!(shown, value, "{name}: the README's configuration table");
    }
}

/// The component list is written where each tool needs it (spin.toml for
/// Spin, the workspace members for cargo, `tests/dev/components.rs` for the
/// build script and the harness, `.ci/run`'s lint of the wasm build): they
/// name the same components.
#[test]
fn every_list_of_components_names_the_same_ones() {
    let mut expected: Vec<String> = invitations_dev::COMPONENTS
        .iter()
        .map(|c| c.to_string())
        .collect();
    expected.sort();
    let manifest: toml::Value = toml::from_str(include_str!("../../../../spin.toml")).unwrap();
    let mut in_manifest: Vec<String> = manifest["component"]
        .as_table()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    in_manifest.sort();
    assert_eq!(in_manifest, expected, "spin.toml");
    let workspace: toml::Value = toml::from_str(include_str!("../../../../Cargo.toml")).unwrap();
    let mut members: Vec<String> = workspace["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str()?.strip_prefix("components/").map(str::to_owned))
        .collect();
    members.sort();
    assert_eq!(members, expected, "the workspace members under components/");
    let ci = include_str!("../../../../.ci/run");
    let lint = ci
        .lines()
        .skip_while(|l| !l.contains("clippy --release --target wasm32-wasip2"))
        .take(2)
        .collect::<String>();
    let mut linted: Vec<String> = lint
        .split(" -p ")
        .skip(1)
        .map(|p| p.split_whitespace().next().unwrap().to_owned())
        .filter(|p| p != "invitations-spin")
        .collect();
    linted.sort();
    assert_eq!(linted, expected, ".ci/run's lint of the wasm build");
}
