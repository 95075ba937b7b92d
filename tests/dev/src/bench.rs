//! `cargo bench-app`: the app on the test host with a local inbox (mail API and
//! webhook receiver) on loopback; times a single invite and a 100-address
//! invite in the same run, and counts the outbound calls each made.

use crate::inbox::Inbox;
use crate::{manifest, wasm, COMPONENTS, DEV_SECRET, DEV_SWEEP_TOKEN, DEV_WEBHOOK_SECRET};
use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use invitations_edge::auth::{mint_hs256, DevClaims};
use serde_json::{json, Value};
use spin_test_host::TestHost;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Target {
    client: HttpClient,
    base: String,
    token: String,
}

impl Target {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let request = http::Request::post(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(serde_json::to_vec(&body)?)))?;
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}

/// Milliseconds at the given quantile of sorted samples.
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0
}

pub async fn run(rounds: usize, peer_latency_ms: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("invitations-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let inbox = Inbox::start("127.0.0.1:0").await?;
    let mut builder = TestHost::builder()
        .manifest(manifest())
        .environment(Vec::<(String, String)>::new())
        .store_path(dir.join("kv.db"))
        .manual_cron();
    for c in COMPONENTS {
        builder = builder.component_source(c, wasm(c));
    }
    for (name, value) in [
        ("auth_hs256_secret", DEV_SECRET.to_owned()),
        ("mail_api_url", inbox.url()),
        ("mail_api_token", "bench".to_owned()),
        ("mail_from", "Bench <bench@example.com>".to_owned()),
        ("sweep_token", DEV_SWEEP_TOKEN.to_owned()),
        ("webhook_url", format!("{}/webhooks", inbox.url())),
        ("webhook_secret", DEV_WEBHOOK_SECRET.to_owned()),
        ("webhook_origin", inbox.url()),
    ] {
        builder = builder.variable(name, value);
    }
    let host = builder.build().context("cannot load the app")?;
    let addr = host.serve("127.0.0.1:0").await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = DevClaims {
        sub: "bench".into(),
        email: Some("bench@example.com".into()),
        email_verified: true,
        name: Some("Bench".into()),
        principal_type: None,
        issuer: None,
        audience: "invitations".into(),
    };
    let target = Target {
        client: Client::builder(TokioExecutor::new()).build_http(),
        base: format!("http://{addr}"),
        token: mint_hs256(DEV_SECRET, &claims, now, 24 * 3600)?,
    };
    let (status, account) = target
        .post("/v1/accounts", json!({"name": "Bench"}))
        .await?;
    if status != 201 {
        bail!("creating the account answered {status}: {account}");
    }
    let acc = account["id"].as_str().context("account id")?.to_owned();
    let path = format!("/v1/accounts/{acc}/invitations");
    inbox.set_latency(Duration::from_millis(peer_latency_ms));

    println!(
        "invites on the test host, mail API and webhook receiver on loopback \
         (answering after {peer_latency_ms} ms), webhooks on"
    );
    println!(
        "{:<22} {:>7} {:>10} {:>10} {:>13} {:>16} {:>15}",
        "operation", "rounds", "p50 ms", "max ms", "mail calls", "webhook calls", "open at once"
    );
    let mut serial = 0;
    for (name, size, rounds) in [
        ("invite 1 address", 1, rounds),
        ("invite 100 addresses", 100, rounds.div_ceil(10).max(3)),
    ] {
        let before = inbox.counts();
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let emails: Vec<String> = (0..size)
                .map(|i| {
                    serial += 1;
                    format!("b{serial}-{i}@example.com")
                })
                .collect();
            let started = Instant::now();
            let (status, body) = target.post(&path, json!({"emails": emails})).await?;
            times.push(started.elapsed());
            if status != 201 {
                bail!("{name} answered {status}: {body}");
            }
        }
        let after = inbox.counts();
        times.sort();
        println!(
            "{name:<22} {rounds:>7} {:>10.2} {:>10.2} {:>13.1} {:>16.1} {:>15}",
            quantile(&times, 0.5),
            quantile(&times, 1.0),
            (after.mail_calls - before.mail_calls) as f64 / rounds as f64,
            (after.webhook_calls - before.webhook_calls) as f64 / rounds as f64,
            after.max_in_flight,
        );
    }
    println!("(calls are per invite; `open at once` is the most the inbox saw, all rounds so far)");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
