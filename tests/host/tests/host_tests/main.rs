//! Runs the fixture components through the host, checking each behaviour against Spin's.

/// The `spin-test-host` binary itself, in the same test binary: one link of the host, not two.
mod cli;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use spin_test_host::{check_component_imports, HostError, TestHost};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("SPIN_TEST_HOST_FIXTURES")).join(format!("{name}.wasm"))
}

/// A temporary app: `manifest` with `{probe}`-style placeholders replaced by fixture paths.
struct App {
    dir: tempfile::TempDir,
}

impl App {
    fn new(manifest: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut text = manifest.to_string();
        for name in ["probe", "hello", "cron", "cron_only", "unsupported"] {
            text = text.replace(&format!("{{{name}}}"), &fixture(name).display().to_string());
        }
        std::fs::write(dir.path().join("spin.toml"), text).unwrap();
        Self { dir }
    }

    fn builder(&self) -> spin_test_host::TestHostBuilder {
        TestHost::builder()
            .manifest(self.dir.path().join("spin.toml"))
            .store_path(self.dir.path().join("kv.db"))
            .environment(Vec::<(String, String)>::new())
    }

    async fn start(&self) -> (TestHost, SocketAddr) {
        let host = self.builder().build().unwrap();
        let addr = host.serve("127.0.0.1:0").await.unwrap();
        (host, addr)
    }
}

const PROBE_APP: &str = r#"
spin_manifest_version = 2
[application]
name = "probe"
[variables]
who = { default = "probe" }
[[trigger.http]]
route = "/probe/..."
component = "probe"
[component.probe]
source = "{probe}"
key_value_stores = ["default", "other"]
[component.probe.variables]
who = "{{ who }}"
"#;

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    get_with(addr, path, &[]).await
}

async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = hyper::Request::get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn header_value<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_by_precedence_and_sets_every_spin_header() {
    let app = App::new(
        r#"
spin_manifest_version = 2
[[trigger.http]]
route = "/api/..."
component = "wild"
[[trigger.http]]
route = "/api/items/:id"
component = "item"
[[trigger.http]]
route = "/exact"
component = "exact"
[[trigger.http]]
route = { private = true }
component = "private"
[component.wild]
source = "{probe}"
variables = { who = "wild" }
[component.item]
source = "{probe}"
variables = { who = "item" }
[component.exact]
source = "{probe}"
variables = { who = "exact" }
[component.private]
source = "{probe}"
"#,
    );
    let (_host, addr) = app.start().await;

    let (status, body) = get(addr, "/api/items/42?op=headers").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header_value(&body, "who"), Some("item"));
    assert_eq!(header_value(&body, "spin-path-match-id"), Some("42"));
    assert_eq!(
        header_value(&body, "spin-matched-route"),
        Some("/api/items/:id")
    );
    assert_eq!(
        header_value(&body, "spin-raw-component-route"),
        Some("/api/items/:id")
    );
    assert_eq!(
        header_value(&body, "spin-component-route"),
        Some("/api/items/:id")
    );
    assert_eq!(header_value(&body, "spin-path-info"), Some(""));
    assert_eq!(header_value(&body, "spin-base-path"), Some("/"));
    assert_eq!(
        header_value(&body, "spin-full-url"),
        Some(format!("http://{addr}/api/items/42?op=headers").as_str())
    );
    assert!(header_value(&body, "spin-client-addr")
        .unwrap()
        .starts_with("127.0.0.1:"));

    let (_, body) = get(addr, "/api/items/42/more/?op=headers").await;
    assert_eq!(header_value(&body, "who"), Some("wild"));
    assert_eq!(header_value(&body, "spin-matched-route"), Some("/api/..."));
    assert_eq!(header_value(&body, "spin-component-route"), Some("/api"));
    assert_eq!(
        header_value(&body, "spin-raw-component-route"),
        Some("/api/...")
    );
    assert_eq!(
        header_value(&body, "spin-path-info"),
        Some("/items/42/more/")
    );

    let (_, body) = get(addr, "/api?op=headers").await;
    assert_eq!(header_value(&body, "who"), Some("wild"));
    assert_eq!(header_value(&body, "spin-path-info"), Some(""));

    let (_, body) = get(addr, "/exact?op=headers").await;
    assert_eq!(header_value(&body, "who"), Some("exact"));
    assert_eq!(get(addr, "/exact/below").await.0, 404);
    // As Spin 4.0.2: an empty body.
    assert_eq!(get(addr, "/elsewhere").await, (404, String::new()));
}

#[tokio::test(flavor = "multi_thread")]
async fn key_value_basics_on_both_interfaces() {
    let app = App::new(PROBE_APP);
    let (_host, addr) = app.start().await;
    assert_eq!(
        get(addr, "/probe?op=kv-get&key=a").await,
        (200, "<none>".into())
    );
    assert_eq!(get(addr, "/probe?op=kv-exists&key=a").await.1, "false");
    assert_eq!(get(addr, "/probe?op=kv-set&key=a&value=1").await.1, "ok");
    assert_eq!(get(addr, "/probe?op=wasi-set&key=b&value=2").await.1, "ok");
    assert_eq!(get(addr, "/probe?op=kv-get&key=a").await.1, "1");
    assert_eq!(get(addr, "/probe?op=kv-exists&key=b").await.1, "true");
    assert_eq!(get(addr, "/probe?op=kv-keys").await.1, "a,b");
    // Spin's get-many returns only the keys that exist.
    assert_eq!(
        get(addr, "/probe?op=wasi-get-many&keys=a,missing,b")
            .await
            .1,
        "a=1;b=2"
    );
    assert_eq!(get(addr, "/probe?op=kv-delete&key=a").await.1, "ok");
    assert_eq!(get(addr, "/probe?op=kv-get&key=a").await.1, "<none>");
    // Stores are separate namespaces.
    assert_eq!(
        get(addr, "/probe?op=kv-get&key=b&store=other").await.1,
        "<none>"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unlisted_store_is_refused() {
    let app = App::new(PROBE_APP);
    let (_host, addr) = app.start().await;
    for op in ["kv-get", "wasi-get-many"] {
        let (status, body) = get(addr, &format!("/probe?op={op}&store=secret")).await;
        assert_eq!(status, 500);
        assert!(
            body.starts_with("open: ") && body.ends_with("AccessDenied"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_and_swap_has_spins_sqlite_semantics() {
    let app = App::new(PROBE_APP);
    let (host, addr) = app.start().await;
    // Existing key, changed by another writer between current() and swap(): refused.
    get(addr, "/probe?op=kv-set&key=k&value=v0").await;
    assert_eq!(
        get(addr, "/probe?op=wasi-cas&key=k&value=mine&race=1")
            .await
            .1,
        "current=v0 swap=cas-failed stored=other"
    );
    // Existing key, unchanged: swapped.
    assert_eq!(
        get(addr, "/probe?op=wasi-cas&key=k&value=mine").await.1,
        "current=other swap=ok stored=mine"
    );
    // Absent key: the swap upserts unconditionally, overwriting the racing writer.
    assert_eq!(
        get(addr, "/probe?op=wasi-cas&key=fresh&value=mine&race=1")
            .await
            .1,
        "current=<none> swap=ok stored=mine"
    );
    // Redis: a successful swap writes, then reports cas-failed; get-many is
    // Redis `KEYS`: several keys are refused, one key answers its name.
    host.set_redis_semantics(true);
    assert_eq!(
        get(addr, "/probe?op=wasi-cas&key=k&value=again").await.1,
        "current=mine swap=cas-failed stored=again"
    );
    let (status, body) = get(addr, "/probe?op=wasi-get-many&keys=k,fresh").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("wrong number of arguments for 'keys'"),
        "{body}"
    );
    // One existing key: Spin panics and the request dies (500, empty body).
    assert_eq!(
        get(addr, "/probe?op=wasi-get-many&keys=k").await,
        (500, String::new())
    );
    assert_eq!(
        get(addr, "/probe?op=wasi-get-many&keys=absent").await,
        (200, String::new())
    );
    host.set_redis_semantics(false);
    assert_eq!(
        get(addr, "/probe?op=wasi-cas&key=k&value=last").await.1,
        "current=again swap=ok stored=last"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn increment_counts_and_refuses_non_counters_without_killing_the_host() {
    let app = App::new(PROBE_APP);
    let (_host, addr) = app.start().await;
    assert_eq!(
        get(addr, "/probe?op=wasi-increment&key=n&delta=5").await.1,
        "5"
    );
    assert_eq!(
        get(addr, "/probe?op=wasi-increment&key=n&delta=-2").await.1,
        "3"
    );
    get(addr, "/probe?op=kv-set&key=text&value=hello").await;
    let (status, body) = get(addr, "/probe?op=wasi-increment&key=text").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("not an 8-byte little-endian counter"),
        "{body}"
    );
    assert_eq!(get(addr, "/probe?op=wasi-increment&key=n").await.1, "4");
}

const VARIABLES_APP: &str = r#"
spin_manifest_version = 2
[variables]
name = { default = "world" }
token = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "probe"
[component.probe]
source = "{probe}"
[component.probe.variables]
greeting = "hello {{ name }}"
token = "{{token}}"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn variables_from_defaults_templates_environment_and_flags() {
    let app = App::new(VARIABLES_APP);
    let host = app
        .builder()
        .environment([("SPIN_VARIABLE_TOKEN", "from-env")])
        .build()
        .unwrap();
    let addr = host.serve("127.0.0.1:0").await.unwrap();
    assert_eq!(get(addr, "/?op=var&name=greeting").await.1, "hello world");
    assert_eq!(get(addr, "/?op=var&name=token").await.1, "from-env");
    let (status, body) = get(addr, "/?op=var&name=name").await;
    assert_eq!(status, 500);
    assert!(body.contains("Undefined"), "{body}");
    assert!(get(addr, "/?op=var&name=Bad")
        .await
        .1
        .contains("InvalidName"));

    let host = app
        .builder()
        .environment([
            ("SPIN_VARIABLE_TOKEN", "from-env"),
            ("SPIN_VARIABLE_NAME", "env"),
        ])
        .variable("token", "from-flag")
        .build()
        .unwrap();
    let addr = host.serve("127.0.0.1:0").await.unwrap();
    assert_eq!(get(addr, "/?op=var&name=token").await.1, "from-flag");
    assert_eq!(get(addr, "/?op=var&name=greeting").await.1, "hello env");
}

#[test]
fn missing_required_variable_is_a_startup_error_naming_it() {
    let app = App::new(VARIABLES_APP);
    let error = app.builder().build().err().expect("start-up must fail");
    assert!(matches!(error, HostError::MissingVariable(ref name) if name == "token"));
    assert!(error.to_string().contains("SPIN_VARIABLE_TOKEN"), "{error}");
}

/// A loopback server answering "pong" to everything.
async fn pong_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(Bytes::from_static(b"pong")),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_requests_follow_allowed_outbound_hosts() {
    let target = pong_server().await;
    let app = App::new(
        r#"
spin_manifest_version = 2
[variables]
target_url = { required = true }
[[trigger.http]]
route = "/allowed"
component = "allowed"
[[trigger.http]]
route = "/denied"
component = "denied"
[component.allowed]
source = "{probe}"
allowed_outbound_hosts = ["{{ target_url }}"]
[component.denied]
source = "{probe}"
allowed_outbound_hosts = ["http://127.0.0.1:1"]
"#,
    );
    let host = app
        .builder()
        .variable("target_url", format!("http://{target}"))
        .build()
        .unwrap();
    let addr = host.serve("127.0.0.1:0").await.unwrap();
    let url = format!("http://{target}/ping");
    assert_eq!(
        get(addr, &format!("/allowed?op=send&url={url}")).await,
        (200, "200 pong".into())
    );
    let (status, body) = get(addr, &format!("/denied?op=send&url={url}")).await;
    assert_eq!(status, 502);
    assert!(body.contains("HttpRequestDenied"), "{body}");

    // The 2nd outgoing request from now fails; the ones around it go through.
    host.faults().fail_outgoing_request(2);
    assert_eq!(
        get(addr, &format!("/allowed?op=send&url={url}")).await.0,
        200
    );
    let (status, body) = get(addr, &format!("/allowed?op=send&url={url}")).await;
    assert_eq!(status, 502);
    assert!(body.contains("ConnectionRefused"), "{body}");
    assert_eq!(
        get(addr, &format!("/allowed?op=send&url={url}")).await.0,
        200
    );
}

const CRON_APP: &str = r#"
spin_manifest_version = 2
[[trigger.http]]
route = "/cron"
component = "cron"
[[trigger.cron]]
component = "cron"
cron_expression = "* * * * * *"
[[trigger.cron]]
component = "cron-only"
cron_expression = "0 0 0 1 1 * 2099"
[component.cron]
source = "{cron}"
key_value_stores = ["default"]
[component.cron-only]
source = "{cron_only}"
key_value_stores = ["default"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn cron_runs_on_demand_with_the_test_clock() {
    let app = App::new(CRON_APP);
    // Not serving: only on-demand events.
    let host = app.builder().build().unwrap();
    host.clock().advance(Duration::from_secs(86_400));
    let expected = host.clock().unix_seconds();
    host.invoke_cron("cron").await.unwrap();
    host.invoke_cron("cron-only").await.unwrap();
    assert!(host.invoke_cron("nope").await.is_err());
    let addr = host.serve("127.0.0.1:0").await.unwrap();
    let body = get(addr, "/cron").await.1;
    let (runs, last) = body.split_once(' ').unwrap();
    assert!(runs.starts_with("runs="), "{body}");
    let last: u64 = last.trim_start_matches("last=").parse().unwrap();
    assert!((expected..expected + 5).contains(&last), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cron_runs_on_its_schedule_while_serving() {
    let app = App::new(CRON_APP);
    let (_host, addr) = app.start().await;
    // Every second: wait for the first event, however slow the machine.
    for _ in 0..300 {
        if !get(addr, "/cron").await.1.starts_with("runs=0") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the every-second cron event never ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_gets_a_fresh_instance() {
    let app = App::new(PROBE_APP);
    let (_host, addr) = app.start().await;
    for _ in 0..3 {
        assert_eq!(get(addr, "/probe?op=isolation").await, (200, "1".into()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_is_a_500_and_the_next_request_succeeds() {
    let app = App::new(PROBE_APP);
    let (_host, addr) = app.start().await;
    // As Spin 4.0.2: 500 with an empty body.
    assert_eq!(get(addr, "/probe?op=trap").await, (500, String::new()));
    assert_eq!(get(addr, "/probe?op=isolation").await, (200, "1".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_requests_are_all_answered() {
    let app = App::new(PROBE_APP);
    let (_host, addr) = app.start().await;
    let requests = (0..50).map(|i| {
        tokio::spawn(
            async move { get(addr, &format!("/probe?op=kv-set&key=k{i}&value={i}")).await },
        )
    });
    for request in requests {
        assert_eq!(request.await.unwrap(), (200, "ok".into()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn guests_see_the_test_clock() {
    let app = App::new(PROBE_APP);
    let (host, addr) = app.start().await;
    let before: u64 = get(addr, "/probe?op=clock").await.1.parse().unwrap();
    host.clock().advance(Duration::from_secs(7 * 86_400));
    let after: u64 = get(addr, "/probe?op=clock").await.1.parse().unwrap();
    assert!(after >= before + 7 * 86_400, "{before} -> {after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_round_trips_are_counted_per_request() {
    let app = App::new(PROBE_APP);
    let (host, addr) = app.start().await;
    get_with(
        addr,
        "/probe?op=kv-set&key=k&value=v",
        &[("x-test-tag", "set")],
    )
    .await;
    get_with(
        addr,
        "/probe?op=wasi-cas&key=k&value=w",
        &[("x-test-tag", "cas")],
    )
    .await;
    get(addr, "/probe?op=isolation").await;
    let set = host.stats().tagged("set").unwrap();
    assert_eq!((set.round_trips(), set.writes()), (1, 1));
    // current, swap, then the fixture's own read-back.
    let cas = host.stats().tagged("cas").unwrap();
    assert_eq!((cas.round_trips(), cas.writes()), (3, 1));
    assert_eq!(host.stats().last().unwrap().round_trips(), 0);
    assert_eq!(host.stats().total_round_trips(), 4);
    host.stats().reset();
    assert!(host.stats().requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nth_store_call_fails() {
    let app = App::new(PROBE_APP);
    let (host, addr) = app.start().await;
    host.faults().fail_store_call(2);
    assert_eq!(
        get(addr, "/probe?op=kv-set&key=a&value=1").await,
        (200, "ok".into())
    );
    let (status, body) = get(addr, "/probe?op=kv-set&key=a&value=2").await;
    assert_eq!(status, 500);
    assert!(body.contains("injected fault"), "{body}");
    assert_eq!(get(addr, "/probe?op=kv-get&key=a").await.1, "1");
}

#[test]
fn import_check_rejects_interfaces_the_host_lacks() {
    for name in ["hello", "probe", "cron", "cron_only"] {
        check_component_imports(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let error = check_component_imports(&fixture("unsupported")).unwrap_err();
    assert!(
        matches!(error, HostError::UnsupportedImport { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("fermyon:spin/sqlite"), "{error}");
}

#[test]
fn the_demo_manifest_loads() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/probe/spin.toml");
    let dir = tempfile::tempdir().unwrap();
    let host = TestHost::builder()
        .manifest(manifest)
        .store_path(dir.path().join("kv.db"))
        .build()
        .unwrap();
    assert_eq!(host.routes().len(), 3);
    assert_eq!(host.cron_triggers().len(), 1);
}
