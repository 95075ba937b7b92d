//! `cargo bench-app`: each operation timed one request at a time, on the test
//! host and (with `--spin PATH`) on a real `spin up` with its SQLite store and
//! with Redis. Prints per operation p50, p95, the p50 as a multiple of the
//! floor (the preview of an unknown link: one read), and the store reads and
//! write transactions the caller waits on (counted by the test host; the same
//! code runs on Spin). Mail API and webhook receiver: the local inbox.

use crate::inbox::Inbox;
use crate::platform::{Kv, RunningSpin, SpinApp};
use crate::{manifest, wasm, COMPONENTS, DEV_SECRET, DEV_SWEEP_TOKEN, DEV_WEBHOOK_SECRET};
use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use invitations_edge::auth::{mint_hs256, DevClaims};
use serde_json::{json, Value};
use spin_test_host::TestHost;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub struct BenchArgs {
    pub rounds: usize,
    pub peer_latency_ms: u64,
    /// A `spin` binary: also run on real Spin (SQLite, then Redis).
    pub spin: Option<PathBuf>,
}

enum Runtime {
    Host(TestHost),
    /// Held so that `spin up` runs until the target is dropped.
    Spin(#[allow(dead_code)] RunningSpin),
}

pub(crate) struct Target {
    runtime: Runtime,
    pub(crate) inbox: Inbox,
    client: HttpClient,
    pub(crate) addr: std::net::SocketAddr,
    base: String,
    _dir: tempfile::TempDir,
}

/// The operations, in the order they are printed; the first is the floor.
const OPERATIONS: [&str; 10] = [
    "preview (floor)",
    "invite 1 address",
    "resend",
    "accept",
    "cancel",
    "remove member",
    "list page (50)",
    "invite 100 addresses",
    FULL_PAGE,
    SHORT_PAGE,
];

/// Pages of one account holding hundreds of invitations, measured in turn:
/// what one more listed invitation costs is their difference over
/// `FULL_PAGE_ITEMS - SHORT_PAGE_ITEMS`.
const FULL_PAGE: &str = "full page (50)";
const SHORT_PAGE: &str = "full page (10)";
const FULL_PAGE_ITEMS: usize = 50;
const SHORT_PAGE_ITEMS: usize = 10;

#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) times: Vec<Duration>,
    /// Store reads and write transactions before the answer (host only).
    cost: Option<(u64, u64)>,
}

pub(crate) fn token(sub: &str, email: &str) -> anyhow::Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = DevClaims {
        sub: sub.into(),
        email: Some(email.into()),
        email_verified: true,
        name: Some(sub.into()),
        principal_type: None,
        issuer: None,
        audience: "invitations".into(),
    };
    Ok(mint_hs256(DEV_SECRET, &claims, now, 24 * 3600)?)
}

/// What serves the app in a benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The test host (its SQLite file in WAL mode).
    Host,
    /// Real Spin with its SQLite store, the file as Spin makes it (rollback journal).
    SpinSqliteRollback,
    /// Real Spin with its SQLite store, the file put in WAL mode first.
    SpinSqliteWal,
    /// Real Spin with a Redis store started here.
    SpinRedis,
}

impl Backend {
    pub const SPIN: [Backend; 3] = [
        Backend::SpinSqliteRollback,
        Backend::SpinSqliteWal,
        Backend::SpinRedis,
    ];

    pub fn parse(name: &str) -> anyhow::Result<Backend> {
        Ok(match name {
            "host" => Backend::Host,
            "sqlite" | "sqlite-rollback" => Backend::SpinSqliteRollback,
            "sqlite-wal" => Backend::SpinSqliteWal,
            "redis" => Backend::SpinRedis,
            other => bail!("unknown store {other}: host, sqlite-rollback, sqlite-wal or redis"),
        })
    }

    pub fn describe(self, spin: Option<&PathBuf>) -> String {
        let spin = spin.map_or_else(String::new, |p| p.display().to_string());
        match self {
            Backend::Host => "test host (wasmtime, SQLite file in WAL mode)".to_owned(),
            Backend::SpinSqliteRollback => {
                format!("real Spin ({spin}), SQLite store, rollback journal (as Spin makes it)")
            }
            Backend::SpinSqliteWal => format!("real Spin ({spin}), SQLite store in WAL mode"),
            Backend::SpinRedis => format!("real Spin ({spin}), Redis store"),
        }
    }
}

impl Target {
    pub(crate) async fn start(
        backend: Backend,
        spin: Option<&PathBuf>,
        peer_latency_ms: u64,
    ) -> anyhow::Result<Target> {
        let dir = tempfile::tempdir()?;
        let inbox = Inbox::start("127.0.0.1:0").await?;
        inbox.set_latency(Duration::from_millis(peer_latency_ms));
        let variables: Vec<(String, String)> = [
            ("auth_hs256_secret", DEV_SECRET.to_owned()),
            ("mail_api_url", inbox.url()),
            ("mail_api_token", "bench".to_owned()),
            ("mail_from", "Bench <bench@example.com>".to_owned()),
            ("sweep_token", DEV_SWEEP_TOKEN.to_owned()),
            ("webhook_url", format!("{}/webhooks", inbox.url())),
            ("webhook_secret", DEV_WEBHOOK_SECRET.to_owned()),
            ("webhook_origin", inbox.url()),
            ("resend_cooldown_seconds", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let (runtime, addr) = match backend {
            Backend::Host => {
                let mut builder = TestHost::builder()
                    .manifest(manifest())
                    .environment(Vec::<(String, String)>::new())
                    .store_path(dir.path().join("kv.db"))
                    .manual_cron();
                for c in COMPONENTS {
                    builder = builder.component_source(c, wasm(c));
                }
                for (name, value) in &variables {
                    builder = builder.variable(name, value);
                }
                let host = builder.build().context("cannot load the app")?;
                let addr = host.serve("127.0.0.1:0").await?;
                (Runtime::Host(host), addr)
            }
            _ => {
                let spin = spin.context("a Spin store needs --spin PATH")?;
                let running = RunningSpin::start(
                    &SpinApp {
                        spin,
                        manifest: &manifest(),
                        wasm: &wasm,
                        kv: if backend == Backend::SpinRedis {
                            Kv::Redis
                        } else {
                            Kv::Sqlite
                        },
                        variables: &variables,
                        cron: false,
                        sqlite_wal: backend == Backend::SpinSqliteWal,
                    },
                    dir.path(),
                )?;
                let addr = running.addr;
                (Runtime::Spin(running), addr)
            }
        };
        Ok(Target {
            runtime,
            inbox,
            client: Client::builder(TokioExecutor::new()).build_http(),
            addr,
            base: format!("http://{addr}"),
            _dir: dir,
        })
    }

    /// One request, timed to its answer (recorded under `op` when it is one
    /// of [`OPERATIONS`]); then waits until the app has done what it does
    /// after answering, so the next request runs alone. Any status but
    /// `want` stops the benchmark.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call(
        &self,
        op: &str,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<Value>,
        want: u16,
        samples: &mut BTreeMap<&'static str, Samples>,
    ) -> anyhow::Result<Value> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("x-test-tag", op);
        if !bearer.is_empty() {
            request = request.header("authorization", format!("Bearer {bearer}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let bytes = body.map(|b| serde_json::to_vec(&b)).transpose()?;
        let request = request.body(Full::new(Bytes::from(bytes.unwrap_or_default())))?;
        let started = Instant::now();
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let elapsed = started.elapsed();
        self.settle().await;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != want {
            bail!("{op} answered {status}: {body}");
        }
        if let Some(name) = OPERATIONS.into_iter().find(|o| *o == op) {
            let entry = samples.entry(name).or_default();
            entry.times.push(elapsed);
            if let Runtime::Host(host) = &self.runtime {
                if let Some(r) = host.stats().tagged(op) {
                    let writes = r.writes_before_answer();
                    entry.cost = Some((r.round_trips_before_answer() - writes, writes));
                }
            }
        }
        Ok(body)
    }

    /// The largest value the store holds: its key and size in bytes.
    pub(crate) async fn largest_value(&self) -> anyhow::Result<Option<(String, u64)>> {
        let sqlite =
            |path: PathBuf| spin_test_host::largest_value(&path).map_err(anyhow::Error::msg);
        match &self.runtime {
            Runtime::Host(_) => sqlite(self._dir.path().join("kv.db")),
            Runtime::Spin(spin) => match spin.redis_port() {
                None => sqlite(self._dir.path().join(crate::platform::SPIN_SQLITE_STORE)),
                Some(port) => crate::platform::redis_largest_value(port),
            },
        }
    }

    /// Makes an account owned by `owner`'s user; returns its id.
    pub(crate) async fn create_account(&self, owner: &str, name: &str) -> anyhow::Result<String> {
        let body = json!({ "name": name });
        let mut untimed = BTreeMap::new();
        let account = self
            .call(
                "create account",
                "POST",
                "/v1/accounts",
                owner,
                Some(body),
                201,
                &mut untimed,
            )
            .await?;
        Ok(account["id"].as_str().context("account id")?.to_owned())
    }

    /// Invites many addresses at once (timed as "invite 100 addresses").
    pub(crate) async fn invite_many(
        &self,
        path: &str,
        owner: &str,
        emails: &[String],
        samples: &mut BTreeMap<&'static str, Samples>,
    ) -> anyhow::Result<()> {
        let body = json!({ "emails": emails });
        let op = "invite 100 addresses";
        self.call(op, "POST", path, owner, Some(body), 201, samples)
            .await?;
        Ok(())
    }

    /// Invites one address; returns the invitation's id.
    pub(crate) async fn invite_one(
        &self,
        path: &str,
        owner: &str,
        email: &str,
        samples: &mut BTreeMap<&'static str, Samples>,
    ) -> anyhow::Result<String> {
        let body = json!({"emails": [email]});
        let answer = self
            .call(
                "invite 1 address",
                "POST",
                path,
                owner,
                Some(body),
                201,
                samples,
            )
            .await?;
        let id = answer["results"][0]["invitation"]["id"].as_str();
        Ok(id.context("invitation id")?.to_owned())
    }

    async fn settle(&self) {
        match &self.runtime {
            Runtime::Host(host) => {
                host.stats().wait_idle(Duration::from_secs(30)).await;
            }
            Runtime::Spin(_) => {
                let mut last = self.inbox.activity();
                let mut since = Instant::now();
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let now = self.inbox.activity();
                    if now != last {
                        (last, since) = (now, Instant::now());
                    } else if now.1 == 0 && since.elapsed() >= Duration::from_millis(150) {
                        return;
                    }
                }
            }
        }
    }

    /// The newest link mailed to `to`.
    async fn link_for(&self, to: &str) -> anyhow::Result<String> {
        for _ in 0..500 {
            if let Some(t) = self.inbox.mails_to(to).pop().and_then(|m| m.token()) {
                return Ok(t);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("no mail to {to}")
    }
}

async fn measure(
    target: &Target,
    rounds: usize,
) -> anyhow::Result<BTreeMap<&'static str, Samples>> {
    let mut samples = BTreeMap::new();
    let s = &mut samples;
    let owner = token("bench", "bench@example.com")?;
    let acc = target.create_account(&owner, "Bench").await?;
    let path = format!("/v1/accounts/{acc}/invitations");
    let floor = format!("/v1/invitations/preview?token={}", "A".repeat(43));
    for round in 0..rounds {
        target
            .call("preview (floor)", "GET", &floor, "", None, 404, s)
            .await?;

        let who = format!("m{round}");
        let email = format!("{who}@example.com");
        let id = target.invite_one(&path, &owner, &email, s).await?;
        let resend = format!("{path}/{id}/resend");
        target
            .call("resend", "POST", &resend, &owner, Some(json!({})), 200, s)
            .await?;
        let link = json!({"token": target.link_for(&email).await?});
        let invitee = token(&who, &email)?;
        target
            .call(
                "accept",
                "POST",
                "/v1/invitations/accept",
                &invitee,
                Some(link),
                200,
                s,
            )
            .await?;

        let doomed = format!("c{round}@example.com");
        let id = target.invite_one(&path, &owner, &doomed, s).await?;
        let invitation = format!("{path}/{id}");
        target
            .call("cancel", "DELETE", &invitation, &owner, None, 200, s)
            .await?;
        let member = format!("/v1/accounts/{acc}/members/{who}");
        target
            .call("remove member", "DELETE", &member, &owner, None, 204, s)
            .await?;
        let page = format!("{path}?limit=50");
        target
            .call("list page (50)", "GET", &page, &owner, None, 200, s)
            .await?;
    }
    for batch in 0..rounds.div_ceil(10).max(3) {
        let emails: Vec<String> = (0..100)
            .map(|i| format!("b{batch}-{i}@example.com"))
            .collect();
        target.invite_many(&path, &owner, &emails, s).await?;
    }
    for _ in 0..rounds {
        for (op, limit) in [(FULL_PAGE, FULL_PAGE_ITEMS), (SHORT_PAGE, SHORT_PAGE_ITEMS)] {
            let page = format!("{path}?limit={limit}");
            let listed = target.call(op, "GET", &page, &owner, None, 200, s).await?;
            let items = listed["data"].as_array().map_or(0, Vec::len);
            if items != limit {
                bail!("{op} listed {items} invitations, not {limit}");
            }
        }
    }
    Ok(samples)
}

/// Milliseconds at the given quantile of sorted samples.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
}

fn print(
    title: &str,
    samples: &mut BTreeMap<&'static str, Samples>,
    costs: &BTreeMap<&'static str, (u64, u64)>,
) {
    println!("\n{title}");
    println!(
        "{:<22} {:>7} {:>9} {:>9} {:>10} {:>7} {:>7}",
        "operation", "rounds", "p50 ms", "p95 ms", "p50/floor", "reads", "writes"
    );
    let floor = samples.get_mut(OPERATIONS[0]).map(|s| {
        s.times.sort();
        quantile(&s.times, 0.5)
    });
    for op in OPERATIONS {
        let Some(s) = samples.get_mut(op) else {
            continue;
        };
        s.times.sort();
        let p50 = quantile(&s.times, 0.5);
        let (reads, writes) = costs.get(op).map_or(("-".into(), "-".into()), |(r, w)| {
            (r.to_string(), w.to_string())
        });
        println!(
            "{op:<22} {:>7} {:>9.2} {:>9.2} {:>10.1} {reads:>7} {writes:>7}",
            s.times.len(),
            p50,
            quantile(&s.times, 0.95),
            floor.map_or(f64::NAN, |f| p50 / f),
        );
    }
    let p50 = |op| samples.get(op).map(|s: &Samples| quantile(&s.times, 0.5));
    if let (Some(full), Some(short)) = (p50(FULL_PAGE), p50(SHORT_PAGE)) {
        let more = (FULL_PAGE_ITEMS - SHORT_PAGE_ITEMS) as f64;
        println!(
            "one more listed invitation: {:.1} µs ({FULL_PAGE} p50 - {SHORT_PAGE} p50, over {more})",
            (full - short) * 1000.0 / more
        );
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    println!(
        "one request at a time; mail API and webhook receiver on loopback answering after {} ms; \
         reads and writes: store calls before the answer, counted by the test host",
        args.peer_latency_ms
    );
    let host = Target::start(Backend::Host, None, args.peer_latency_ms).await?;
    let mut samples = measure(&host, args.rounds).await?;
    let costs: BTreeMap<&'static str, (u64, u64)> = samples
        .iter()
        .filter_map(|(op, s)| s.cost.map(|c| (*op, c)))
        .collect();
    print(&Backend::Host.describe(None), &mut samples, &costs);
    drop(host);
    if let Some(spin) = &args.spin {
        for backend in Backend::SPIN {
            let target = Target::start(backend, Some(spin), args.peer_latency_ms).await?;
            let mut samples = measure(&target, args.rounds).await?;
            print(&backend.describe(Some(spin)), &mut samples, &costs);
        }
    }
    Ok(())
}
