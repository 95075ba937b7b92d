//! The SpinKube rehearsal (`deploy/`): the app pushed to a local OCI registry
//! (Debian's `docker-registry`) with `spin registry push`, run from there by
//! two `spin up --from <reference>` hosts that select the components
//! `deploy/spinapp.yaml` selects (`spin up -c`, as containerd-shim-spin runs
//! a `SpinApp`: without `sweep-cron`, so without the cron trigger), one Redis
//! between them, the sweep driven only through its HTTP route as the CronJob
//! drives it. Every request goes to the other host than the one before, so
//! each flow crosses hosts at every step and each race is split between them.
//! Real Spin with `E2E_KV=redis` only.

use crate::common::{self, App, Options};

fn cluster() -> Options {
    Options {
        cluster: true,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_alternates_between_two_hosts() {
    if common::cluster_skipped() {
        return;
    }
    crate::lifecycle::lifecycle(cluster()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_split_between_two_hosts_keep_the_invariants() {
    if common::cluster_skipped() {
        return;
    }
    crate::concurrency::races(App::start_with(cluster()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_people_on_two_hosts_and_ten_uses_make_ten_members() {
    if common::cluster_skipped() {
        return;
    }
    crate::join_links::thirty_people_on_ten_uses(App::start_with(cluster()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_route_on_both_hosts_at_once_does_nothing_twice() {
    if common::cluster_skipped() {
        return;
    }
    crate::sweep::bounded_runs(cluster()).await;
}

/// A list page's batches of 50 (its log entries, their records) reach Redis
/// as one `MGET` each: the harness sets `store_redis_url` and
/// `store_redis_origin` to the store's server, as the README asks of a Redis
/// store, and each host's components send the `MGET` over outbound Redis
/// instead of the `KEYS` Spin's own `get-many` sends there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_reads_its_batches_as_mget() {
    if common::cluster_skipped() {
        return;
    }
    let app = App::start_with(cluster()).await;
    let owner = app.token("olivia");
    let path = app.account_inviting("olivia", 10).await;
    let port = app.redis_port().expect("the cluster's Redis");
    let mget = || {
        invitations_dev::platform::redis_command_calls(port)
            .unwrap()
            .get("mget")
            .copied()
            .unwrap_or(0)
    };
    let before = mget();
    for _ in 0..4 {
        let page = app.get(&format!("{path}?limit=50"), Some(&owner)).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.json()["data"].as_array().unwrap().len(), 10);
    }
    // At least: the invite's work after its answer may still read too.
    let pages = mget() - before;
    assert!(
        pages >= 4 * 2,
        "MGET reached Redis {pages} times for 4 pages"
    );
}

/// No host runs the cron trigger: the sweep happens only when the route is
/// called, as on SpinKube, where the shim would refuse the trigger. A `spin
/// up` runs one `spin trigger <type>` process per trigger type it serves;
/// the same app run whole (`Options::cron`) starts `spin trigger-cron` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_host_runs_the_cron_trigger() {
    if common::cluster_skipped() {
        return;
    }
    let whole = App::start_with(Options {
        cron: true,
        ..Options::default()
    })
    .await;
    let triggers = |processes: &[String]| -> Vec<String> {
        processes
            .iter()
            .filter(|p| p.contains(" trigger"))
            .cloned()
            .collect()
    };
    let alone = whole.spin_processes();
    assert!(
        triggers(&alone[0])
            .iter()
            .any(|p| p.contains("trigger-cron")),
        "{alone:?}"
    );
    let app = App::start_with(cluster()).await;
    let hosts = app.spin_processes();
    assert_eq!(hosts.len(), 2);
    for processes in hosts {
        let triggers = triggers(&processes);
        assert!(
            triggers.iter().any(|p| p.contains("trigger http")),
            "{processes:?}"
        );
        assert!(
            !triggers.iter().any(|p| p.contains("cron")),
            "{processes:?}"
        );
    }
}

/// `deploy/` names only what `spin.toml` has: the `SpinApp`'s components
/// (all but the cron-only one, which has nothing but the cron trigger), its
/// variables (every required one bound, every secret one from the Secret),
/// and the `CronJob`'s route. Runs everywhere: it reads files only.
#[test]
fn the_deploy_manifests_name_only_what_spin_toml_has() {
    let read = |name: &str| {
        let path = invitations_dev::manifest().with_file_name(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let manifest: toml::Value = toml::from_str(&read("spin.toml")).unwrap();
    let spinapp: serde_yaml::Value = serde_yaml::from_str(&read("deploy/spinapp.yaml")).unwrap();
    let cronjob = read("deploy/sweep-cronjob.yaml");
    let secret: serde_yaml::Value =
        serde_yaml::from_str(&read("deploy/secret.example.yaml")).unwrap();

    let components = manifest["component"].as_table().unwrap();
    let triggers = manifest["trigger"].as_table().unwrap();
    let triggers_of = |component: &str| -> Vec<&str> {
        triggers
            .iter()
            .filter(|(_, list)| {
                list.as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["component"].as_str() == Some(component))
            })
            .map(|(kind, _)| kind.as_str())
            .collect()
    };
    let selected: Vec<&str> = spinapp["spec"]["components"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for name in &selected {
        assert!(components.contains_key(*name), "{name} is not in spin.toml");
        assert_eq!(
            triggers_of(name),
            ["http"],
            "{name} must have http triggers only"
        );
    }
    for name in components.keys() {
        if !selected.contains(&name.as_str()) {
            assert_eq!(
                triggers_of(name),
                ["cron"],
                "{name} is left out of the SpinApp, so it must be the cron-only component"
            );
        }
    }

    let variables = manifest["variables"].as_table().unwrap();
    let bound: Vec<(&str, bool)> = spinapp["spec"]["variables"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| {
            let from_secret =
                v["valueFrom"]["secretKeyRef"]["name"].as_str() == Some("invitations");
            (v["name"].as_str().unwrap(), from_secret)
        })
        .collect();
    let secret_keys = secret["stringData"].as_mapping().unwrap();
    for (name, from_secret) in &bound {
        let declared = variables
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is not a variable of spin.toml"));
        let is_secret = declared.get("secret").and_then(|s| s.as_bool()) == Some(true);
        assert_eq!(
            *from_secret, is_secret,
            "{name}: secrets, and only they, come from the Secret"
        );
        if *from_secret {
            assert!(
                secret_keys.contains_key(*name),
                "{name} is not in the Secret"
            );
        }
    }
    for (name, declared) in variables {
        if declared.get("required").and_then(|r| r.as_bool()) == Some(true) {
            assert!(
                bound.iter().any(|(b, _)| b == name),
                "{name} is required but not bound"
            );
        }
    }
    let store = &spinapp["spec"]["runtimeConfig"]["keyValueStores"][0];
    assert_eq!(store["name"], "default");
    assert_eq!(store["type"], "redis");
    assert!(secret_keys.contains_key(
        store["options"][0]["valueFrom"]["secretKeyRef"]["key"]
            .as_str()
            .unwrap()
    ));

    let routes: Vec<&str> = triggers["http"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| selected.contains(&t["component"].as_str().unwrap()))
        .map(|t| t["route"].as_str().unwrap())
        .collect();
    let called = cronjob
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://invitations.default.svc"))
        .map(|rest| rest.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '/')))
        .expect("the CronJob calls the SpinApp's Service");
    assert!(
        routes.contains(&called),
        "{called} is not a route the SpinApp serves"
    );
    assert!(cronjob.contains("key: sweep_token"));
}

/// The harness's Redis servers require a password (`platform::REDIS_PASSWORD`):
/// `store_redis_url` carries it, `store_redis_origin` (an allowed outbound
/// host) is the same URL without it.
#[test]
fn a_redis_origin_is_its_url_without_user_password_or_database() {
    use invitations_dev::platform::redis_origin;
    assert_eq!(
        redis_origin("redis://:pw@127.0.0.1:6379"),
        "redis://127.0.0.1:6379"
    );
    assert_eq!(
        redis_origin("rediss://user:p@ss@cache.example:6380"),
        "rediss://cache.example:6380"
    );
    assert_eq!(
        redis_origin("redis://127.0.0.1:6379/0"),
        "redis://127.0.0.1:6379"
    );
}
