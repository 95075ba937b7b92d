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
