//! `cargo up`: the app on the test host at 127.0.0.1:3000, with a local mail
//! inbox and development defaults for whatever is not configured.
//! `cargo up -- token --sub alice --email alice@example.com`: a development JWT.

use anyhow::{bail, Context};
use invitations_dev::bench::Backend;
use invitations_dev::inbox::Inbox;
use invitations_dev::platform::SPIN_SQLITE_STORE;
use invitations_dev::provider_events::DEV_RESEND_WEBHOOK_SECRET;
use invitations_dev::{dev_defaults, manifest, wasm, COMPONENTS, DEV_SECRET};
use invitations_edge::auth::{mint_hs256, DevClaims};
use spin_test_host::TestHost;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage:
  cargo up [--listen 127.0.0.1:3000] [--inbox 127.0.0.1:8025] [--inbox-rate-limit N]
           [--variable name=value]... [--from spin.toml]
  cargo up -- token --sub ID [--email ADDRESS] [--name NAME] [--unverified] [--service] [--ttl SECONDS]
  cargo bench-app [--rounds 100] [--peer-latency-ms 0] [--spin ../shared/spin/spin]
  cargo bench-app -- load [--clients 1,4,16] [--seconds 10] [--spin ../shared/spin/spin]
                          [--stores host,sqlite-rollback,sqlite-wal,redis]
  cargo bench-app -- scale [--sizes 0,1000,10000,100000] [--rounds 20] [--spin ../shared/spin/spin]
                           [--stores host,sqlite-wal,redis]
  cargo up -- wal [.spin/sqlite_key_value.db]

Variables come from --variable, then SPIN_VARIABLE_<NAME>, then development defaults
(auth_hs256_secret, sweep_token, mail_* and webhook_* pointed at the local inbox) for
whatever is still unset. Setting webhook_url yourself turns off all webhook_* defaults.
`wal` puts spin up's SQLite store file in WAL mode (run it in the app's folder before
spin up; the file keeps the mode). bench-app -- load and -- scale run on the given stores
(default: host, and with --spin also sqlite-rollback, sqlite-wal and redis).
--inbox-rate-limit 2 makes the local inbox act like Resend's default limit: beyond 2 mail
API calls per second it answers 429 with retry-after and ratelimit-* headers.";

fn env_var(name: &str) -> Option<String> {
    std::env::var(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())).ok()
}

/// A verified user's claims, with the issuer and audience the app checks.
fn user_claims(sub: &str) -> DevClaims {
    DevClaims {
        sub: sub.to_owned(),
        email: None,
        email_verified: true,
        name: None,
        principal_type: None,
        issuer: env_var("auth_issuer").filter(|s| !s.is_empty()),
        audience: env_var("auth_audience").unwrap_or_else(|| "invitations".into()),
    }
}

fn token(args: &[String]) -> anyhow::Result<()> {
    let mut claims = user_claims("");
    let mut ttl = 3600;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--sub" => claims.sub = value()?,
            "--email" => claims.email = Some(value()?),
            "--name" => claims.name = Some(value()?),
            "--unverified" => claims.email_verified = false,
            "--service" => claims.principal_type = Some("service".into()),
            "--ttl" => ttl = value()?.parse()?,
            "--" => {}
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if claims.sub.is_empty() {
        bail!("--sub is required\n{USAGE}");
    }
    let secret = env_var("auth_hs256_secret").unwrap_or_else(|| DEV_SECRET.to_owned());
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    println!("{}", mint_hs256(&secret, &claims, now, ttl)?);
    Ok(())
}

/// `/ui/demo`: the admin widget mounted with a development token for
/// `demo-admin` (only under `cargo up`; the app itself has no such page).
fn demo_page(secret: Option<String>) -> anyhow::Result<String> {
    let claims = DevClaims {
        email: Some("demo-admin@example.com".into()),
        name: Some("Demo Admin".into()),
        ..user_claims("demo-admin")
    };
    let secret = secret
        .or_else(|| env_var("auth_hs256_secret"))
        .unwrap_or_else(|| DEV_SECRET.to_owned());
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let token = mint_hs256(&secret, &claims, now, 7 * 24 * 3600)?;
    // As a JavaScript string: JSON, with `<` escaped so it cannot close the script.
    let literal = serde_json::to_string(&token)?.replace('<', "\\u003c");
    Ok(include_str!("demo.html").replace("__TOKEN__", &literal))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--").collect();
    let args = match args.first().map(String::as_str) {
        Some("up") => &args[1..],
        _ => &args[..],
    };
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("token") {
        return token(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("wal") {
        let path = args.get(1).map_or(SPIN_SQLITE_STORE, String::as_str);
        let mode = spin_test_host::put_in_wal_mode(Path::new(path)).map_err(anyhow::Error::msg)?;
        println!("{path}: journal_mode={mode}");
        if mode != "wal" {
            bail!("{path} is not in WAL mode");
        }
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("bench") {
        let args = &args[1..];
        let option = |flag: &str| -> anyhow::Result<Option<&String>> {
            match args.iter().position(|a| a == flag) {
                Some(i) => Ok(Some(
                    args.get(i + 1)
                        .with_context(|| format!("{flag} needs a value"))?,
                )),
                None => Ok(None),
            }
        };
        let number = |flag: &str, default: u64| -> anyhow::Result<u64> {
            Ok(option(flag)?
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or(default))
        };
        // Absolute: `spin up` runs from the app's own folder.
        let spin = option("--spin")?
            .map(|p| std::fs::canonicalize(p).with_context(|| format!("--spin {p}")))
            .transpose()?;
        let stores = match option("--stores")? {
            Some(list) => list
                .split(',')
                .map(Backend::parse)
                .collect::<anyhow::Result<_>>()?,
            None if spin.is_some() => [Backend::Host].into_iter().chain(Backend::SPIN).collect(),
            None => vec![Backend::Host],
        };
        let list = |flag: &str, default: &str| -> anyhow::Result<Vec<usize>> {
            let text = option(flag)?.map_or(default, String::as_str);
            text.split(',')
                .map(|n| n.parse().with_context(|| format!("{flag} {text}")))
                .collect()
        };
        if args.first().map(String::as_str) == Some("load") {
            return invitations_dev::load::run(invitations_dev::load::LoadArgs {
                clients: list("--clients", "1,4,16")?,
                seconds: number("--seconds", 10)?,
                backends: stores,
                spin,
            })
            .await;
        }
        if args.first().map(String::as_str) == Some("scale") {
            let mut sizes = list("--sizes", "0,1000,10000,100000")?;
            sizes.sort_unstable();
            return invitations_dev::scale::run(invitations_dev::scale::ScaleArgs {
                sizes,
                rounds: number("--rounds", 20)? as usize,
                backends: stores,
                spin,
            })
            .await;
        }
        return invitations_dev::bench::run(invitations_dev::bench::BenchArgs {
            rounds: number("--rounds", 100)? as usize,
            peer_latency_ms: number("--peer-latency-ms", 0)?,
            spin,
        })
        .await;
    }
    let mut listen = "127.0.0.1:3000".to_owned();
    let mut inbox_addr = "127.0.0.1:8025".to_owned();
    let mut from: Option<PathBuf> = None;
    let mut rate_limit: Option<u32> = None;
    let mut flags = BTreeMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--listen" => listen = value()?,
            "--inbox" => inbox_addr = value()?,
            "--from" | "-f" => from = Some(PathBuf::from(value()?)),
            "--inbox-rate-limit" => rate_limit = Some(value()?.parse()?),
            "--variable" => {
                let pair = value()?;
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("--variable expects name=value, got {pair}"))?;
                flags.insert(k.to_owned(), v.to_owned());
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }

    let inbox = Inbox::start(&inbox_addr)
        .await
        .with_context(|| format!("cannot start the mail inbox on {inbox_addr}"))?;
    inbox.set_rate_limit(rate_limit);
    let mut builder = match &from {
        // Another Spin app: build it the way `spin build` would.
        Some(path) => {
            spin_test_host::build_components(path)?;
            TestHost::builder().manifest(path)
        }
        // This app: build.rs has already built its components.
        None => COMPONENTS
            .iter()
            .fold(TestHost::builder().manifest(manifest()), |b, c| {
                b.component_source(*c, wasm(c))
            }),
    };
    let mut defaulted = Vec::new();
    let set = |name: &str| flags.contains_key(name) || env_var(name).is_some();
    let own_webhooks = set("webhook_url");
    for (name, value) in dev_defaults(&inbox.url()) {
        if own_webhooks && name.starts_with("webhook_") {
            continue;
        }
        if !set(name) {
            builder = builder.variable(name, value);
            defaulted.push(name);
        }
    }
    for (k, v) in &flags {
        builder = builder.variable(k.clone(), v.clone());
    }
    builder = builder.page(
        "/ui/demo",
        "text/html; charset=utf-8",
        demo_page(flags.get("auth_hs256_secret").cloned())?,
    );
    let host = builder.build().context("cannot load the app")?;
    let addr = host
        .serve(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("Serving http://{addr}");
    for (route, component) in host.routes() {
        println!("  {route:<55} {component}");
    }
    for (component, expression) in host.cron_triggers() {
        println!("  cron `{expression}` {component}");
    }
    println!("Local mail inbox and webhook receiver: {}/", inbox.url());
    // Its buttons report bounces and deliveries as Resend would, signed
    // with the secret the app was given.
    let resend_secret = flags
        .get("resend_webhook_secret")
        .cloned()
        .or_else(|| env_var("resend_webhook_secret"));
    match resend_secret {
        Some(secret) if secret.trim().starts_with("whsec_") => {
            inbox.send_events_to(&format!("http://{addr}"), &secret)
        }
        Some(_) => {}
        None => inbox.send_events_to(&format!("http://{addr}"), DEV_RESEND_WEBHOOK_SECRET),
    }
    if let Some(n) = rate_limit {
        println!("  the inbox answers 429 beyond {n} mail API calls per second");
    }
    if !defaulted.is_empty() {
        println!(
            "Development defaults for: {} (local use only)",
            defaulted.join(", ")
        );
    }
    println!("The admin widget, with a development token: http://{addr}/ui/demo");
    println!("A token: cargo up -- token --sub alice --email alice@example.com --name Alice");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
