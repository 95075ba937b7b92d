//! `spin-test-host`: serve a Spin app like `spin build --up` does, check a
//! manifest's components, or benchmark the host.
use anyhow::{bail, Context};
use spin_test_host::{Manifest, TestHost};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod bench;

const USAGE: &str = "usage:
  spin-test-host [up] [--from spin.toml] [--listen 127.0.0.1:3000] [--variable name=value]... [--no-build]
  spin-test-host check [--from spin.toml]
  spin-test-host bench [--requests N] [--concurrency N]

up     builds each component ([component.X.build] command), then serves the app
check  fails if a component imports an interface this host does not provide
bench  serves the hello and key-value fixtures on loopback and prints throughput and latency";

struct Options {
    from: PathBuf,
    listen: String,
    variables: BTreeMap<String, String>,
    build: bool,
    requests: usize,
    concurrency: usize,
}

fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        from: PathBuf::from("spin.toml"),
        listen: "127.0.0.1:3000".into(),
        variables: BTreeMap::new(),
        build: true,
        requests: 20_000,
        concurrency: 16,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--from" | "-f" => options.from = PathBuf::from(value("--from")?),
            "--listen" => options.listen = value("--listen")?,
            "--variable" => {
                let pair = value("--variable")?;
                let (name, val) = pair
                    .split_once('=')
                    .with_context(|| format!("--variable expects name=value, got `{pair}`"))?;
                options.variables.insert(name.to_string(), val.to_string());
            }
            "--no-build" => options.build = false,
            "--" => {}
            "--requests" => options.requests = value("--requests")?.parse()?,
            "--concurrency" => options.concurrency = value("--concurrency")?.parse()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "spin_test_host=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.first().map(String::as_str) {
        Some("up") | Some("check") | Some("bench") => (args[0].as_str(), &args[1..]),
        _ => ("up", &args[..]),
    };
    let options = parse_options(rest)?;
    match command {
        "check" => {
            let manifest = Manifest::from_file(&options.from)?;
            for name in manifest.components.keys() {
                let wasm = manifest.source_path(name).expect("component exists");
                spin_test_host::check_component_imports(&wasm)
                    .with_context(|| format!("component `{name}`"))?;
                println!("{name}: every import is provided");
            }
            Ok(())
        }
        "bench" => bench::run(options.requests, options.concurrency).await,
        _ => {
            if options.build {
                spin_test_host::build_components(&options.from)?;
            }
            let mut builder = TestHost::builder().manifest(&options.from);
            for (name, value) in &options.variables {
                builder = builder.variable(name, value);
            }
            let host = builder.build()?;
            let addr = host
                .serve(&options.listen)
                .await
                .with_context(|| format!("cannot listen on {}", options.listen))?;
            println!("Serving http://{addr}");
            println!("Available Routes:");
            for (route, component) in host.routes() {
                println!("  {component}: http://{addr}{route}");
            }
            for (component, expression) in host.cron_triggers() {
                println!("  {component}: cron `{expression}`");
            }
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
    }
}
