//! The app on the test host or a real Spin, a mail inbox, and a small HTTP client.
#![allow(dead_code)]

pub mod contract;
pub mod signature;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use invitations_dev::inbox::{Inbox, Mail};
use invitations_dev::platform::{
    self, Placement, Platform, RedisServer, Registry, RunningSpin, SpinApp,
};
use invitations_dev::provider_events::{DEV_POSTMARK_WEBHOOK_TOKEN, DEV_RESEND_WEBHOOK_SECRET};
use invitations_dev::{wasm, COMPONENTS, DEV_SECRET, DEV_SWEEP_TOKEN, DEV_WEBHOOK_SECRET};
use invitations_edge::auth::{mint_hs256, DevClaims};
use serde_json::Value;
use spin_test_host::TestHost;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The app on the platform `SPIN` and `E2E_KV` choose (see
/// `invitations_dev::platform`), with a mail inbox and webhook receiver.
pub struct App {
    runtime: Runtime,
    pub platform: Platform,
    /// The first host's address.
    pub base: String,
    /// Every host's address; requests go to each in turn.
    bases: Vec<String>,
    turn: AtomicUsize,
    pub inbox: Inbox,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

enum Runtime {
    Host(TestHost),
    Spin(RunningSpin),
    Cluster(Cluster),
}

/// Two `spin up --from <registry reference>` hosts, each running the
/// components `deploy/spinapp.yaml` selects (as SpinKube's shim does), one
/// Redis between them, and the registry they pulled the app from. Fields
/// drop in order: the hosts stop first.
struct Cluster {
    _hosts: Vec<RunningSpin>,
    _redis: RedisServer,
    _registry: Registry,
}

/// The components `deploy/spinapp.yaml` lists.
fn spinapp_components() -> Vec<String> {
    let path = invitations_dev::manifest().with_file_name("deploy/spinapp.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let spinapp: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    spinapp["spec"]["components"]
        .as_sequence()
        .expect("deploy/spinapp.yaml lists spec.components")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// True (and says so) unless the test runs on real Spin with Redis: the
/// cluster rehearsal needs a store that two hosts share.
pub fn cluster_skipped() -> bool {
    let platform = Platform::from_env();
    let runs = !platform.is_host() && platform.kv == platform::Kv::Redis;
    if !runs {
        eprintln!("skipped: the two-host rehearsal runs on real Spin with E2E_KV=redis");
    }
    !runs
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The problem `code`, for error answers.
    pub fn code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// Where the test host's outbound Redis reaches the server behind its store.
pub const HOST_STORE_REDIS: &str = "redis://127.0.0.1:6379";

/// `store_redis_url` and `store_redis_origin` naming the test host's store server.
pub fn mget_variables() -> Vec<(&'static str, String)> {
    vec![
        ("store_redis_url", HOST_STORE_REDIS.to_owned()),
        ("store_redis_origin", HOST_STORE_REDIS.to_owned()),
    ]
}

#[derive(Default)]
pub struct Options {
    pub variables: Vec<(&'static str, String)>,
    /// On real Spin, keep spin.toml's cron trigger (the sweep then runs every
    /// minute on its own). Off, only the test sweeps. The host never fires
    /// cron by itself in tests: `invoke_cron` does.
    pub cron: bool,
    /// Real Spin with Redis only ([`cluster_skipped`]): the app pushed to a
    /// local registry and run from there by two hosts, as deploy/ runs it on
    /// SpinKube ([`Cluster`]); requests alternate between them.
    pub cluster: bool,
}

/// Looks again every 100 ms until `probe` has what the test waits for, for
/// `within` at most; then fails, naming `what` it waited for. For what the
/// harness cannot see finish (work after an answer, Spin's log, its cron).
pub async fn wait_for<T>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {within:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// True (and says so) when the test runs on real Spin: for tests that need
/// what only the test host has. Their names end in `needs_host_clock`,
/// `needs_host_faults` or `needs_host_counters`.
pub fn skipped_on_spin(why: &str) -> bool {
    let on_spin = !Platform::from_env().is_host();
    if on_spin {
        eprintln!("skipped on real Spin: {why}");
    }
    on_spin
}

impl App {
    pub async fn start() -> App {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> App {
        let platform = Platform::from_env();
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::start("127.0.0.1:0").await.unwrap();
        let mut variables: Vec<(&str, String)> = vec![
            ("auth_hs256_secret", DEV_SECRET.to_owned()),
            ("mail_api_url", inbox.url()),
            ("mail_api_token", "test-token".to_owned()),
            (
                "mail_from",
                "Invitations <invitations@example.com>".to_owned(),
            ),
            ("public_base_url", "https://invite.example".to_owned()),
            ("sweep_token", DEV_SWEEP_TOKEN.to_owned()),
            ("webhook_url", format!("{}/webhooks", inbox.url())),
            ("webhook_secret", DEV_WEBHOOK_SECRET.to_owned()),
            ("webhook_origin", inbox.url()),
            (
                "resend_webhook_secret",
                DEV_RESEND_WEBHOOK_SECRET.to_owned(),
            ),
            (
                "postmark_webhook_token",
                DEV_POSTMARK_WEBHOOK_TOKEN.to_owned(),
            ),
        ];
        if platform.kv == platform::Kv::Redis && platform.is_host() {
            // As the README asks of a Redis store: batch reads as MGET on its
            // server (real Spin: set by the platform with the server it starts).
            variables.extend(mget_variables());
        }
        for (k, v) in options.variables {
            variables.retain(|(name, _)| *name != k);
            variables.push((k, v));
        }
        if options.cluster {
            assert!(!platform.is_host(), "a cluster runs on real Spin");
        }
        let (runtime, bases) = match &platform.runtime {
            platform::Runtime::Host => {
                let mut b = TestHost::builder()
                    .manifest(invitations_dev::manifest())
                    .environment(Vec::<(String, String)>::new())
                    .store_path(dir.path().join("kv.db"))
                    .manual_cron();
                for c in COMPONENTS {
                    b = b.component_source(c, wasm(c));
                }
                for (k, v) in variables {
                    b = b.variable(k, v);
                }
                let host = b.build().unwrap();
                host.faults()
                    .set_redis_semantics(platform.kv == platform::Kv::Redis);
                host.faults()
                    .serve_store_over_redis(Some(HOST_STORE_REDIS.to_owned()));
                let addr = host.serve("127.0.0.1:0").await.unwrap();
                (Runtime::Host(host), vec![format!("http://{addr}")])
            }
            platform::Runtime::Spin(spin) if options.cluster => {
                assert_eq!(platform.kv, platform::Kv::Redis, "a cluster shares Redis");
                let (spin, path) = (spin.clone(), dir.path().to_owned());
                let variables: Vec<(String, String)> = variables
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                let cluster = tokio::task::spawn_blocking(move || {
                    let app = SpinApp {
                        spin: &spin,
                        manifest: &invitations_dev::manifest(),
                        wasm: &wasm,
                        kv: platform::Kv::Redis,
                        variables: &variables,
                        cron: true,
                        sqlite_wal: false,
                    };
                    let sub = |name: &str| {
                        let d = path.join(name);
                        std::fs::create_dir_all(&d).map(|_| d)
                    };
                    let registry = Registry::start(&sub("registry")?)?;
                    let staged = sub("app")?;
                    platform::stage(&app, &staged)?;
                    let reference = registry.reference("invitations:e2e");
                    platform::push(&spin, &staged, &reference)?;
                    let redis = RedisServer::start()?;
                    let placement = Placement {
                        from: Some(reference),
                        components: spinapp_components(),
                        redis_url: Some(redis.url()),
                    };
                    let hosts = (0..2)
                        .map(|i| {
                            RunningSpin::start_placed(&app, &sub(&format!("host{i}"))?, &placement)
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    anyhow::Ok(Cluster {
                        _hosts: hosts,
                        _redis: redis,
                        _registry: registry,
                    })
                })
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{e:#}"));
                let addrs: Vec<String> = cluster
                    ._hosts
                    .iter()
                    .map(|h| format!("http://{}", h.addr))
                    .collect();
                (Runtime::Cluster(cluster), addrs)
            }
            platform::Runtime::Spin(spin) => {
                let (spin, kv, path) = (spin.clone(), platform.kv, dir.path().to_owned());
                let variables: Vec<(String, String)> = variables
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                let running = tokio::task::spawn_blocking(move || {
                    RunningSpin::start(
                        &SpinApp {
                            spin: &spin,
                            manifest: &invitations_dev::manifest(),
                            wasm: &wasm,
                            kv,
                            variables: &variables,
                            cron: options.cron,
                            sqlite_wal: true,
                        },
                        &path,
                    )
                })
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{e:#}"));
                let addr = running.addr;
                (Runtime::Spin(running), vec![format!("http://{addr}")])
            }
        };
        inbox.send_events_to(&bases[0], DEV_RESEND_WEBHOOK_SECRET);
        App {
            runtime,
            platform,
            base: bases[0].clone(),
            bases,
            turn: AtomicUsize::new(0),
            inbox,
            client: Client::builder(TokioExecutor::new()).build_http(),
            _dir: dir,
        }
    }

    /// Waits until the app has done what it does after answering (mail,
    /// webhooks, recording them), so a test sees it. The host knows when a
    /// request's guest returned; on real Spin the test waits until the inbox
    /// has been quiet for a while.
    pub async fn settle(&self) {
        match &self.runtime {
            Runtime::Host(host) => {
                let idle = host.stats().wait_idle(Duration::from_secs(30)).await;
                assert!(idle, "a request was still working after 30 s");
            }
            Runtime::Spin(_) | Runtime::Cluster(_) => {
                // The work after an answer starts with store writes (the
                // history), each flushed on Spin's SQLite store: give the
                // first call out longer to come than the quiet after it.
                let (first, quiet) = (Duration::from_millis(1000), Duration::from_millis(300));
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                let start = self.inbox.activity();
                let mut last = start;
                let mut since = tokio::time::Instant::now();
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let now = self.inbox.activity();
                    let wait = if now == start { first } else { quiet };
                    if now != last {
                        (last, since) = (now, tokio::time::Instant::now());
                    } else if now.1 == 0 && since.elapsed() >= wait {
                        return;
                    }
                }
            }
        }
    }

    /// The test host, for what only it can do (clock, faults, counters).
    pub fn host(&self) -> &TestHost {
        match &self.runtime {
            Runtime::Host(host) => host,
            Runtime::Spin(_) | Runtime::Cluster(_) => panic!(
                "this needs the test host; name the test `..._needs_host_...` and skip it on Spin"
            ),
        }
    }

    /// Makes the store fail on real Spin (`RunningSpin::break_store`): keep
    /// the returned lock as long as it should (SQLite).
    pub fn break_store(&mut self) -> Option<spin_test_host::StoreLock> {
        match &mut self.runtime {
            Runtime::Spin(spin) => spin.break_store().unwrap_or_else(|e| panic!("{e:#}")),
            _ => panic!("breaking the store this way is for one real Spin"),
        }
    }

    /// The loopback port of the Redis server behind the store on real Spin.
    pub fn redis_port(&self) -> Option<u16> {
        match &self.runtime {
            Runtime::Host(_) => None,
            Runtime::Spin(spin) => spin.redis_port(),
            Runtime::Cluster(c) => Some(c._redis.port),
        }
    }

    /// What a real Spin host printed so far (components' output included).
    pub fn spin_output(&self) -> String {
        match &self.runtime {
            Runtime::Spin(spin) => spin.output(),
            _ => String::new(),
        }
    }

    /// Each real Spin host's processes (`RunningSpin::processes`).
    pub fn spin_processes(&self) -> Vec<Vec<String>> {
        match &self.runtime {
            Runtime::Host(_) => Vec::new(),
            Runtime::Spin(spin) => vec![spin.processes()],
            Runtime::Cluster(c) => c._hosts.iter().map(|h| h.processes()).collect(),
        }
    }

    pub fn on_host(&self) -> bool {
        matches!(self.runtime, Runtime::Host(_))
    }

    /// The time the app sees.
    pub fn now_secs(&self) -> u64 {
        match &self.runtime {
            Runtime::Host(host) => host.clock().unix_seconds(),
            Runtime::Spin(_) | Runtime::Cluster(_) => now_secs(),
        }
    }

    /// Lets `secs` pass for the app: the host's clock moves; on real Spin the
    /// test waits, so only a few seconds are allowed there.
    pub async fn advance(&self, secs: u64) {
        match &self.runtime {
            Runtime::Host(host) => host.clock().advance(Duration::from_secs(secs)),
            Runtime::Spin(_) | Runtime::Cluster(_) => {
                assert!(
                    secs <= 10,
                    "{secs} s of real time: this needs the host clock"
                );
                tokio::time::sleep(Duration::from_secs(secs)).await;
            }
        }
    }

    /// Lets time pass until queue entries for things due within two minutes
    /// of `since` (unix seconds: the mail check delay, the first webhook
    /// backoff) are due for the sweep, which takes the minutes wholly past.
    /// On real Spin this is a real wait of up to three minutes.
    pub async fn until_queue_due(&self, since: u64) {
        let due = ((since + 120) / 60 + 1) * 60 + 2;
        let now = self.now_secs();
        if due <= now {
            return;
        }
        match &self.runtime {
            Runtime::Host(host) => host.clock().advance(Duration::from_secs(due - now)),
            Runtime::Spin(_) | Runtime::Cluster(_) => {
                tokio::time::sleep(Duration::from_secs(due - now)).await
            }
        }
    }

    /// A token for a person with a verified `{sub}@example.com`, valid at the app's time.
    pub fn token(&self, sub: &str) -> String {
        self.token_with(sub, Some(&format!("{sub}@example.com")), true, None)
    }

    pub fn token_with(
        &self,
        sub: &str,
        email: Option<&str>,
        verified: bool,
        kind: Option<&str>,
    ) -> String {
        let claims = DevClaims {
            sub: sub.to_owned(),
            email: email.map(str::to_owned),
            email_verified: verified,
            name: Some(format!("{sub} Name")),
            principal_type: kind.map(str::to_owned),
            issuer: None,
            audience: "invitations".to_owned(),
        };
        mint_hs256(DEV_SECRET, &claims, self.now_secs(), 7 * 24 * 3600).unwrap()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let base = &self.bases[self.turn.fetch_add(1, Ordering::Relaxed) % self.bases.len()];
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let typed = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !typed {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = self.client.request(req).await.expect("the host answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        contract::check(method, path, status, content_type, &body);
        if method != "GET" && status < 400 {
            self.settle().await;
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(
            "POST",
            path,
            token,
            Some(serde_json::to_vec(&body).unwrap()),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("DELETE", path, token, None, &[]).await
    }

    /// Creates an account owned by `owner`; returns its id.
    pub async fn account(&self, owner: &str) -> String {
        let r = self
            .post(
                "/v1/accounts",
                Some(&self.token(owner)),
                serde_json::json!({"name": format!("{owner}'s team")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// A new account of `owner`'s with `n` addresses (`p0@example.com`, …)
    /// invited in one request; returns its invitations path.
    pub async fn account_inviting(&self, owner: &str, n: usize) -> String {
        let acc = self.account(owner).await;
        let emails: Vec<String> = (0..n).map(|i| format!("p{i}@example.com")).collect();
        let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
        let r = self.invite(owner, &acc, &emails).await;
        assert_eq!(r.status, 201, "{}", r.text());
        format!("/v1/accounts/{acc}/invitations")
    }

    /// Invites addresses as `by`; returns the reply.
    pub async fn invite(&self, by: &str, acc: &str, emails: &[&str]) -> Reply {
        self.post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&self.token(by)),
            serde_json::json!({"emails": emails}),
        )
        .await
    }

    /// `POST /v1/internal/sweep` with the sweep token; returns the counts.
    pub async fn sweep(&self) -> Value {
        let r = self
            .send(
                "POST",
                "/v1/internal/sweep",
                Some(DEV_SWEEP_TOKEN),
                None,
                &[("x-test-tag", "sweep")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Sweeps until a run says nothing more is due; returns the summed counts.
    pub async fn sweep_all(&self) -> SweepTotals {
        let mut t = SweepTotals::default();
        for _ in 0..100 {
            let r = self.sweep().await;
            let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
            t.expired += n("expired");
            t.mailed += n("mailed");
            t.reminded += n("reminded");
            t.purged += n("purged");
            t.webhooks += n("webhooks");
            t.webhooks_dropped += n("webhooks_dropped");
            t.history_purged += n("history_purged");
            t.runs += 1;
            if r["more"] == false {
                return t;
            }
        }
        panic!("the sweep never finished");
    }

    /// Webhook deliveries received so far, each checked against its signature.
    pub fn hooks(&self) -> Vec<invitations_dev::inbox::Hook> {
        let hooks = self.inbox.hooks();
        for h in &hooks {
            signature::assert_signed(h, DEV_WEBHOOK_SECRET);
            contract::check_webhook(&h.body);
        }
        hooks
    }

    /// Types of the distinct events received (first delivery order).
    pub fn hook_kinds(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.hooks()
            .into_iter()
            .filter(|h| seen.insert(h.id.clone()))
            .map(|h| h.kind())
            .collect()
    }

    /// Invitation `id` of `acc` as `by` reads it now (must be found).
    pub async fn invitation(&self, acc: &str, id: &str, by: &str) -> Value {
        let r = self
            .get(
                &format!("/v1/accounts/{acc}/invitations/{id}"),
                Some(&self.token(by)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// The invitation once its delivery reads `status`. A send's outcome is
    /// recorded after the answer, and when nothing reaches the inbox (a mail
    /// API that refuses connections) [`App::settle`] cannot see that work
    /// finish on real Spin: so this looks again for a while.
    pub async fn invitation_once_delivery(
        &self,
        acc: &str,
        id: &str,
        by: &str,
        status: &str,
    ) -> Value {
        let what = format!("the delivery of {id} to read {status}");
        wait_for(&what, Duration::from_secs(15), async || {
            let seen = self.invitation(acc, id, by).await;
            (seen["delivery"]["status"] == status).then_some(seen)
        })
        .await
    }

    /// The newest mail to `to`.
    pub fn last_mail(&self, to: &str) -> Mail {
        self.inbox
            .mails_to(to)
            .pop()
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// Invites one address (which must be created); its invitation id and link token.
    pub async fn invite_one(&self, by: &str, acc: &str, email: &str) -> (String, String) {
        let r = self.invite(by, acc, &[email]).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["results"][0]["invitation"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, self.last_mail(email).token().unwrap())
    }

    /// Submits an HTML form, as a browser does.
    pub async fn post_form(&self, path: &str, form: &str) -> Reply {
        self.send(
            "POST",
            path,
            None,
            Some(form.as_bytes().to_vec()),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await
    }

    pub async fn decline(&self, token: &str) -> Reply {
        self.post(
            "/v1/invitations/decline",
            None,
            serde_json::json!({"token": token}),
        )
        .await
    }

    pub async fn accept(&self, who: &str, token: &str) -> Reply {
        self.post(
            "/v1/invitations/accept",
            Some(&self.token(who)),
            serde_json::json!({"token": token}),
        )
        .await
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepTotals {
    pub expired: u64,
    pub mailed: u64,
    pub reminded: u64,
    pub purged: u64,
    pub webhooks: u64,
    pub webhooks_dropped: u64,
    pub history_purged: u64,
    pub runs: u64,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Drop for App {
    fn drop(&mut self) {
        if let (Runtime::Spin(spin), true) = (&self.runtime, std::thread::panicking()) {
            eprintln!("--- spin output ---\n{}", spin.output());
        }
    }
}
