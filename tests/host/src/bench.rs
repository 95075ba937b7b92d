//! `spin-test-host bench`: serves the hello and key-value fixtures on loopback and
//! measures throughput and latency from a client in the same process.
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use spin_test_host::TestHost;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

const FIXTURES: &str = env!("SPIN_TEST_HOST_FIXTURES");

pub async fn run(requests: usize, concurrency: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("spin-test-host-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let manifest = format!(
        r#"spin_manifest_version = 2
[[trigger.http]]
route = "/hello"
component = "hello"
[[trigger.http]]
route = "/kv/..."
component = "kv"
[component.hello]
source = "{fixtures}/hello.wasm"
[component.kv]
source = "{fixtures}/probe.wasm"
key_value_stores = ["default"]
"#,
        fixtures = Path::new(FIXTURES).display()
    );
    std::fs::write(dir.join("spin.toml"), manifest)?;
    let host = TestHost::builder()
        .manifest(dir.join("spin.toml"))
        .store_path(dir.join("kv.db"))
        .build()?;
    let addr = host.serve("127.0.0.1:0").await?;

    println!("{requests} requests per scenario, from 1 and {concurrency} concurrent keep-alive clients in this process, on loopback");
    for component in ["hello", "kv"] {
        let cost = host.instantiation_cost(component, 2_000).await?;
        println!(
            "instantiation ({component}): {:.1} µs per request",
            micros(cost)
        );
    }
    let scenarios = [
        ("hello world", "/hello".to_string()),
        ("key-value read", "/kv?op=kv-get&key=bench".to_string()),
        (
            "key-value write",
            "/kv?op=kv-set&key=bench&value=v".to_string(),
        ),
        (
            "key-value increment",
            "/kv?op=wasi-increment&key=counter".to_string(),
        ),
    ];
    for (name, path) in scenarios
        .iter()
        .flat_map(|s| [(s, 1), (s, concurrency)])
        .map(|((name, path), clients)| (format!("{name} x{clients}"), (path.clone(), clients)))
    {
        let (path, concurrency) = path;
        // Warm up connections and caches.
        load(addr, &path, concurrency * 10, concurrency).await?;
        let started = Instant::now();
        let mut latencies = load(addr, &path, requests, concurrency).await?;
        let elapsed = started.elapsed();
        latencies.sort();
        let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
        println!(
            "{name:<24} {:>8.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
            requests as f64 / elapsed.as_secs_f64(),
            millis(percentile(0.50)),
            millis(percentile(0.99)),
        );
    }
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn load(
    addr: SocketAddr,
    path: &str,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Duration>> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}{path}").parse()?;
    let workers = (0..concurrency).map(|worker| {
        let client = client.clone();
        let uri = uri.clone();
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let started = Instant::now();
                let response = client.get(uri.clone()).await?;
                let status = response.status();
                response.into_body().collect().await?;
                anyhow::ensure!(status.is_success(), "{uri} answered {status}");
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        })
    });
    let mut all = Vec::with_capacity(requests);
    for worker in workers.collect::<Vec<_>>() {
        all.extend(worker.await.context("load worker panicked")??);
    }
    Ok(all)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
