//! `cargo bench-app -- load`: N closed-loop clients at once, each on its own
//! keep-alive connection (`TCP_NODELAY` on its side, as curl and browsers
//! do) and in its own account, each looping: invite one new address → list
//! the first page (50) of pending invitations → cancel it, or on every 4th
//! loop accept it as the invitee with the link from the mail. Prints loops/s,
//! p50/p95/p99 per operation, non-2xx and 5xx counts, then checks through the
//! API that every account's pending, accepted and cancelled invitations and
//! its members match what its client did.
//!
//! A command, not a test: it prints numbers and fails only when the app broke
//! an invariant or could not be started.

use crate::bench::{quantile, token, Backend, Target};
use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct LoadArgs {
    /// Client counts, one run each.
    pub clients: Vec<usize>,
    /// How long each run loops.
    pub seconds: u64,
    pub backends: Vec<Backend>,
    pub spin: Option<PathBuf>,
}

const OPS: [&str; 4] = ["invite", "list page", "cancel", "accept"];

/// One keep-alive connection's client: the pool of a client used by one
/// task in sequence holds one connection.
type Conn = Client<HttpConnector, Full<Bytes>>;

fn connection() -> Conn {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .build(connector)
}

struct Reply {
    status: u16,
    body: Value,
}

async fn call(
    conn: &Conn,
    base: &str,
    method: &str,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> anyhow::Result<Reply> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {bearer}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let bytes = body.map(|b| serde_json::to_vec(&b)).transpose()?;
    let request = request.body(Full::new(Bytes::from(bytes.unwrap_or_default())))?;
    let response = conn.request(request).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

/// What one client did and saw.
#[derive(Default)]
struct Tally {
    /// Per operation of [`OPS`]: answer times of 2xx answers.
    times: [Vec<Duration>; 4],
    loops: u64,
    non_2xx: u64,
    server_errors: u64,
    /// Transport failures (no answer).
    failed_calls: u64,
    first_failures: Vec<String>,
    accepted: u64,
    cancelled: u64,
    /// Operations whose outcome is unknown (an error answer or none): each
    /// widens what the check afterwards accepts by one.
    invite_unsure: u64,
    cancel_unsure: u64,
    accept_unsure: u64,
}

impl Tally {
    fn failed(&mut self, what: String, status: Option<u16>) {
        match status {
            Some(s) => {
                self.non_2xx += 1;
                if s >= 500 {
                    self.server_errors += 1;
                }
            }
            None => self.failed_calls += 1,
        }
        if self.first_failures.len() < 3 {
            self.first_failures.push(what);
        }
    }
}

struct LoadClient {
    /// Which run and client: names addresses and users, unique in the store.
    tag: String,
    n: usize,
    owner: String,
    account: String,
}

async fn open_account(conn: &Conn, base: &str, run: usize, n: usize) -> anyhow::Result<LoadClient> {
    let tag = format!("r{run}c{n}");
    let owner = token(&format!("owner-{tag}"), &format!("owner-{tag}@example.com"))?;
    let reply = call(
        conn,
        base,
        "POST",
        "/v1/accounts",
        &owner,
        Some(json!({"name": format!("Load {n}")})),
    )
    .await?;
    if reply.status != 201 {
        bail!(
            "creating an account answered {}: {}",
            reply.status,
            reply.body
        );
    }
    let account = reply.body["id"].as_str().context("account id")?.to_owned();
    Ok(LoadClient {
        tag,
        n,
        owner,
        account,
    })
}

/// Times one call; a non-2xx answer or a failed call is tallied and `None`.
async fn timed(
    tally: &mut Tally,
    op: usize,
    request: impl std::future::Future<Output = anyhow::Result<Reply>>,
) -> Option<Value> {
    let started = Instant::now();
    match request.await {
        Ok(reply) if (200..300).contains(&reply.status) => {
            tally.times[op].push(started.elapsed());
            Some(reply.body)
        }
        Ok(reply) => {
            let what = format!("{} answered {}: {}", OPS[op], reply.status, reply.body);
            tally.failed(what, Some(reply.status));
            None
        }
        Err(e) => {
            tally.failed(format!("{}: {e:#}", OPS[op]), None);
            None
        }
    }
}

async fn client_loop(
    target: Arc<Target>,
    base: String,
    me: Arc<LoadClient>,
    until: Instant,
) -> Tally {
    let conn = connection();
    let mut tally = Tally::default();
    let invitations = format!("/v1/accounts/{}/invitations", me.account);
    let page = format!("{invitations}?state=pending&limit=50");
    let owner = &me.owner;
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        let email = format!("{}-{i}@example.com", me.tag);
        let body = json!({"emails": [email]});
        let invited = timed(
            &mut tally,
            0,
            call(&conn, &base, "POST", &invitations, owner, Some(body)),
        )
        .await;
        let Some(id) = invited.and_then(|b| {
            b["results"][0]["invitation"]["id"]
                .as_str()
                .map(str::to_owned)
        }) else {
            tally.invite_unsure += 1;
            continue;
        };
        timed(&mut tally, 1, call(&conn, &base, "GET", &page, owner, None)).await;
        if i.is_multiple_of(4) {
            // The mail goes out after the invite's answer: wait for it
            // (not counted in any operation's time).
            let mut link = None;
            let deadline = Instant::now() + Duration::from_secs(10);
            while link.is_none() && Instant::now() < deadline {
                link = target.inbox.newest_token_to(&email);
                if link.is_none() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            let Some(link) = link else {
                tally.failed(format!("no mail to {email} within 10 s"), None);
                tally.accept_unsure += 1;
                continue;
            };
            let invitee = match token(&format!("{}-{i}", me.tag), &email) {
                Ok(t) => t,
                Err(_) => {
                    tally.accept_unsure += 1;
                    continue;
                }
            };
            let body = json!({"token": link});
            let accept = call(
                &conn,
                &base,
                "POST",
                "/v1/invitations/accept",
                &invitee,
                Some(body),
            );
            match timed(&mut tally, 3, accept).await {
                Some(_) => tally.accepted += 1,
                None => tally.accept_unsure += 1,
            }
        } else {
            let one = format!("{invitations}/{id}");
            match timed(
                &mut tally,
                2,
                call(&conn, &base, "DELETE", &one, owner, None),
            )
            .await
            {
                Some(_) => tally.cancelled += 1,
                None => tally.cancel_unsure += 1,
            }
        }
        tally.loops += 1;
    }
    tally
}

/// Counts every page of a list.
async fn count(conn: &Conn, base: &str, bearer: &str, path: &str) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=100&cursor={c}"),
            None => format!("{path}{sep}limit=100"),
        };
        let reply = call(conn, base, "GET", &url, bearer, None).await?;
        if reply.status != 200 {
            bail!("{url} answered {}: {}", reply.status, reply.body);
        }
        total += reply.body["data"].as_array().map_or(0, Vec::len) as u64;
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(total),
        }
    }
}

/// Checks one account against what its client did; returns what is wrong.
async fn check(base: &str, me: &LoadClient, t: &Tally) -> anyhow::Result<Vec<String>> {
    let conn = connection();
    let path = format!("/v1/accounts/{}/invitations", me.account);
    let listed = |state: &str| format!("{path}?state={state}");
    let pending = count(&conn, base, &me.owner, &listed("pending")).await?;
    let accepted = count(&conn, base, &me.owner, &listed("accepted")).await?;
    let cancelled = count(&conn, base, &me.owner, &listed("cancelled")).await?;
    let members_path = format!("/v1/accounts/{}/members", me.account);
    let members = count(&conn, base, &me.owner, &members_path).await?;
    let unsure = t.invite_unsure + t.cancel_unsure + t.accept_unsure;
    let mut wrong = Vec::new();
    let mut within = |what: &str, got: u64, low: u64, high: u64| {
        if got < low || got > high {
            wrong.push(format!(
                "client {}: {what} is {got}, expected {low}..={high}",
                me.n
            ));
        }
    };
    within(
        "accepted",
        accepted,
        t.accepted,
        t.accepted + t.accept_unsure + t.invite_unsure,
    );
    within(
        "cancelled",
        cancelled,
        t.cancelled,
        t.cancelled + t.cancel_unsure + t.invite_unsure,
    );
    within("pending", pending, 0, unsure);
    // Every invite answered 201 made exactly one invitation.
    let made = t.accepted + t.cancelled + t.accept_unsure + t.cancel_unsure;
    within(
        "invitations",
        pending + accepted + cancelled,
        made,
        made + t.invite_unsure,
    );
    // The owner and one member per accepted invitation.
    within("members", members, accepted + 1, accepted + 1);
    Ok(wrong)
}

async fn run_once(
    target: &Arc<Target>,
    run: usize,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<bool> {
    let base = format!("http://{}", target.addr);
    let setup = connection();
    let mut accounts = Vec::new();
    for n in 0..clients {
        accounts.push(Arc::new(open_account(&setup, &base, run, n).await?));
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = accounts
        .iter()
        .map(|me| tokio::spawn(client_loop(target.clone(), base.clone(), me.clone(), until)))
        .collect();
    let mut tallies = Vec::new();
    for task in tasks {
        tallies.push(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Let the work after the last answers finish before reading the lists.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let loops: u64 = tallies.iter().map(|t| t.loops).sum();
    let non_2xx: u64 = tallies.iter().map(|t| t.non_2xx).sum();
    let server_errors: u64 = tallies.iter().map(|t| t.server_errors).sum();
    let failed_calls: u64 = tallies.iter().map(|t| t.failed_calls).sum();
    println!(
        "\n{clients} client(s), {elapsed:.1} s: {:.1} loops/s ({loops} loops), \
         non-2xx {non_2xx}, 5xx {server_errors}, no answer {failed_calls}",
        loops as f64 / elapsed
    );
    println!(
        "{:<10} {:>7} {:>9} {:>9} {:>9}",
        "operation", "count", "p50 ms", "p95 ms", "p99 ms"
    );
    for (op, name) in OPS.iter().enumerate() {
        let mut all: Vec<Duration> = tallies.iter().flat_map(|t| t.times[op].clone()).collect();
        if all.is_empty() {
            continue;
        }
        all.sort();
        println!(
            "{name:<10} {:>7} {:>9.2} {:>9.2} {:>9.2}",
            all.len(),
            quantile(&all, 0.5),
            quantile(&all, 0.95),
            quantile(&all, 0.99)
        );
    }
    for t in &tallies {
        for f in &t.first_failures {
            println!("  failure: {f}");
        }
    }
    let mut wrong = Vec::new();
    for (me, t) in accounts.iter().zip(&tallies) {
        wrong.extend(check(&base, me, t).await?);
    }
    if wrong.is_empty() {
        println!(
            "invariants: every account's pending, accepted and cancelled invitations \
             and members match what its client did ({clients} accounts)"
        );
    } else {
        for w in &wrong {
            println!("INVARIANT BROKEN: {w}");
        }
    }
    Ok(wrong.is_empty())
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    println!(
        "closed-loop clients, each on its own keep-alive connection and account: \
         invite 1 → list pending (50) → cancel, or accept with the mailed link every 4th loop; \
         {} s per run; mail API and webhook receiver on loopback",
        args.seconds
    );
    let mut ok = true;
    for backend in &args.backends {
        let target = Arc::new(Target::start(*backend, args.spin.as_ref(), 0).await?);
        println!("\n== {}", backend.describe(args.spin.as_ref()));
        println!(
            "app at http://{}, mail API and webhook receiver at {}",
            target.addr,
            target.inbox.url()
        );
        for (run, &clients) in args.clients.iter().enumerate() {
            ok &= run_once(&target, run, clients, args.seconds).await?;
        }
    }
    if !ok {
        bail!("an invariant was broken");
    }
    Ok(())
}
