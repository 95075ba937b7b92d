//! Where the end-to-end tests run the app: on the test host (the default, fast,
//! with clock control, fault injection and store counters), or on a real
//! `spin up`, with Spin's SQLite key-value store or with a Redis server started
//! here. The real Spin is the judge: where the two disagree, the host is wrong.
//!
//! Chosen by environment variables, so the same tests run everywhere:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `SPIN` | path of a `spin` binary: run on real Spin (unset: the test host) |
//! | `E2E_KV` | `sqlite` (default), `redis` or `dynamodb`: on real Spin, the store behind `default` (from `runtime-config/redis.toml` or `runtime-config/dynamodb.toml`); on the host, Spin's Redis or DynamoDB semantics switched on |
//! | `REDIS_SERVER` | the `redis-server` binary (default: found on `PATH`) |
//! | `MOTO_PYTHON` | a Python with `moto[server]` installed, for a local DynamoDB (default: `python3`); it runs `tests/dev/dynamodb/serial_moto.py` |

use anyhow::{bail, Context};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key-value store behind the app's `default` store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kv {
    Sqlite,
    Redis,
    /// Spin's `aws_dynamo` store, against a local DynamoDB (moto).
    Dynamo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `spin-test-host`, in process.
    Host,
    /// A real Spin, this binary.
    Spin(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub runtime: Runtime,
    pub kv: Kv,
}

impl Platform {
    /// Reads `SPIN` and `E2E_KV`; panics on a value it does not know, so a
    /// typo never silently runs the suite somewhere else.
    pub fn from_env() -> Platform {
        let runtime = match std::env::var_os("SPIN").filter(|s| !s.is_empty()) {
            Some(path) => Runtime::Spin(PathBuf::from(path)),
            None => Runtime::Host,
        };
        let kv = match std::env::var("E2E_KV").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Kv::Sqlite,
            Ok("redis") => Kv::Redis,
            Ok("dynamodb") => Kv::Dynamo,
            Ok(other) => panic!("E2E_KV must be `sqlite`, `redis` or `dynamodb`, not `{other}`"),
        };
        if kv == Kv::Dynamo && runtime == Runtime::Host {
            panic!("E2E_KV=dynamodb runs on real Spin only: set SPIN too (the host has no DynamoDB semantics; the domain's tests do)");
        }
        Platform { runtime, kv }
    }

    pub fn is_host(&self) -> bool {
        self.runtime == Runtime::Host
    }
}

/// A free loopback port (free when asked; `spin up` is retried if it is taken meanwhile).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(addr: SocketAddr, child: &mut Child, within: Duration) -> anyhow::Result<bool> {
    let start = Instant::now();
    while start.elapsed() < within {
        // A port found free may be taken by another test's server before
        // ours binds it: then it answers, but for someone else, and ours
        // exits when its bind fails (the caller tries another port).
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            && listens_in_group(addr.port(), child)
        {
            return Ok(true);
        }
        if let Some(status) = child.try_wait()? {
            bail!("exited with {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(false)
}

/// True when the socket listening on `port` belongs to a process of the
/// process group `child` leads (each server here is spawned leading its own).
fn listens_in_group(port: u16, child: &Child) -> bool {
    // `/proc/net/tcp`: `sl local_address rem_address st ... inode`, the
    // address as hex `IP:PORT`, state `0A` for a listening socket.
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let suffix = format!(":{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let listening = fields.get(3) == Some(&"0A");
            (listening && fields.get(1)?.ends_with(&suffix))
                .then(|| fields.get(9).map(|i| format!("socket:[{i}]")))?
        })
        .collect();
    in_group(child.id()).iter().any(|process| {
        std::fs::read_dir(process.join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

/// The `/proc` directories of the processes in the process group `group`.
fn in_group(group: u32) -> Vec<PathBuf> {
    let group = group.to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
            // `pid (comm) state ppid pgrp ...`; comm may hold anything but `)`.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(2) == Some(group.as_str())
        })
        .collect()
}

/// Kills a child and everything it started (it leads its own process group).
fn kill_group(child: &mut Child) {
    // The child leads its own process group (`process_group(0)`), so this
    // reaches Spin's trigger processes too and nothing else.
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        if pgid > 1 {
            // SAFETY: a plain system call; a negative pid names a process group.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The password every Redis server the harness starts requires, as a managed
/// Redis does: Spin's store and the components' `MGET` reach it through URLs
/// that carry it (`redis://:password@host:port`), as the README asks.
pub const REDIS_PASSWORD: &str = "e2e-store-password";

/// A connection to the Redis server on `port`, signed in, and a reader of its replies.
fn redis_connection(port: u16) -> anyhow::Result<(TcpStream, std::io::BufReader<TcpStream>)> {
    use std::io::BufRead;
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut replies = std::io::BufReader::new(stream.try_clone()?);
    send_redis_command(&mut stream, &["AUTH", REDIS_PASSWORD])?;
    let mut line = String::new();
    replies.read_line(&mut line)?;
    if !line.starts_with("+OK") {
        bail!("redis refused the harness's password: {line}");
    }
    Ok((stream, replies))
}

/// `redis://host:port` of a Redis URL, without its user, password or database: what
/// `store_redis_origin` (a component's allowed outbound host) names.
pub fn redis_origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or_default();
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

/// Reads a bulk string reply (`$<length>\r\n<bytes>\r\n`).
fn read_bulk_reply(reply: &mut impl std::io::BufRead) -> anyhow::Result<Vec<u8>> {
    let mut head = String::new();
    reply.read_line(&mut head)?;
    let length: usize = head
        .strip_prefix('$')
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("redis answered {head:?}"))?;
    let mut text = vec![0; length + 2];
    reply.read_exact(&mut text)?;
    text.truncate(length);
    Ok(text)
}

/// The largest value on the Redis server on `port`: its key and size in
/// bytes (a script over every key: for benchmarks, not a production store).
pub fn redis_largest_value(port: u16) -> anyhow::Result<Option<(String, u64)>> {
    let script = "local m, mk = -1, '' for _, k in ipairs(redis.call('KEYS', '*')) do \
                  local n = redis.call('STRLEN', k) if n > m then m, mk = n, k end end \
                  return mk .. ' ' .. m";
    let (mut stream, mut reply) = redis_connection(port)?;
    send_redis_command(&mut stream, &["EVAL", script, "0"])?;
    let text = read_bulk_reply(&mut reply)?;
    let text = String::from_utf8_lossy(&text);
    let (key, size) = text
        .rsplit_once(' ')
        .with_context(|| format!("redis answered {text}"))?;
    let size: i64 = size
        .parse()
        .with_context(|| format!("redis answered {text}"))?;
    Ok((size >= 0).then(|| (key.to_owned(), size as u64)))
}

/// Writes one command in Redis's protocol (an array of bulk strings).
fn send_redis_command(stream: &mut TcpStream, args: &[&str]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut command = format!("*{}\r\n", args.len());
    for a in args {
        command.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(command.as_bytes())?;
    Ok(())
}

/// Sends commands to the Redis server on `port`, one after the other on one
/// connection, and fails if one is refused.
fn redis_commands(port: u16, commands: &[&[&str]]) -> anyhow::Result<()> {
    use std::io::BufRead;
    let (mut stream, mut replies) = redis_connection(port)?;
    for args in commands {
        send_redis_command(&mut stream, args)?;
        let mut line = String::new();
        replies.read_line(&mut line)?;
        if line.starts_with('-') {
            bail!("redis refused {args:?}: {line}");
        }
    }
    Ok(())
}

/// How many times each command reached the Redis server on `port` since it
/// started (`INFO commandstats`), by lower-case name.
pub fn redis_command_calls(port: u16) -> anyhow::Result<std::collections::HashMap<String, u64>> {
    let (mut stream, mut reply) = redis_connection(port)?;
    send_redis_command(&mut stream, &["INFO", "commandstats"])?;
    let text = read_bulk_reply(&mut reply)?;
    // `cmdstat_get:calls=12,usec=...`
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_ascii_lowercase(), calls))
        })
        .collect())
}

/// A `redis-server` on a free loopback port, with nothing persisted and a
/// password ([`REDIS_PASSWORD`]); stopped on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> anyhow::Result<RedisServer> {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            let mut child = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--requirepass", REDIS_PASSWORD])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .with_context(|| format!("cannot run {binary} (install redis-server)"))?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match wait_for_port(addr, &mut child, Duration::from_secs(10)) {
                Ok(true) => return Ok(RedisServer { child, port }),
                Ok(false) => {
                    kill_group(&mut child);
                    last_error = Some(anyhow::anyhow!("redis-server did not listen on {port}"));
                }
                Err(e) => last_error = Some(e.context(format!("redis-server on {port}"))),
            }
        }
        Err(last_error.unwrap())
    }

    /// With the password ([`REDIS_PASSWORD`]).
    pub fn url(&self) -> String {
        format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// A local DynamoDB (the `moto` server, serving one request at a time: see
/// `tests/dev/dynamodb/serial_moto.py`) on a free loopback port, with the
/// app's table made; stopped on drop. Spin's AWS SDK reaches it through
/// `AWS_ENDPOINT_URL` when the runtime config names no keys.
pub struct DynamoServer {
    child: Child,
    pub port: u16,
}

/// The table `runtime-config/dynamodb.toml` names, and its region.
pub const DYNAMO_TABLE: &str = "invitations";
pub const DYNAMO_REGION: &str = "us-east-1";

impl DynamoServer {
    pub fn start() -> anyhow::Result<DynamoServer> {
        use std::io::{BufRead, BufReader};
        let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("dynamodb/serial_moto.py");
        // The server binds a port the system picks and prints it: a port
        // picked here and handed over could be taken meanwhile.
        let mut child = Command::new(&python)
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot run {python} (with moto[server] installed)"))?;
        let stdout = child.stdout.take().context("moto's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Ok(port) = line.trim().parse::<u16>() else {
            kill_group(&mut child);
            bail!("moto did not say its port (it printed {line:?})");
        };
        let server = DynamoServer { child, port };
        server.create_table()?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The table Spin's store expects: string hash key `PK`. moto checks no
    /// signature, so a plain request with the service named in its
    /// `Authorization` scope does.
    fn create_table(&self) -> anyhow::Result<()> {
        use std::io::{Read, Write};
        let body = serde_json::json!({
            "TableName": DYNAMO_TABLE,
            "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        })
        .to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: DynamoDB_20120810.CreateTable\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{DYNAMO_REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n{body}",
            port = self.port,
            len = body.len(),
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        if !answer.starts_with("HTTP/1.1 200") && !answer.starts_with("HTTP/1.0 200") {
            bail!("creating the DynamoDB table failed: {answer}");
        }
        Ok(())
    }
}

impl Drop for DynamoServer {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// The server behind the store, when it is not Spin's own SQLite file.
enum StoreServer {
    Redis(RedisServer),
    /// A Redis server someone else runs (and stops), by URL.
    Shared(String),
    Dynamo(DynamoServer),
}

/// Where a `spin up` takes the app from and what of it runs.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    /// An OCI reference to run (`spin up --from <reference> -k`) instead of
    /// the staged local manifest.
    pub from: Option<String>,
    /// Run only these components (`spin up -c`, as SpinKube's shim runs a
    /// `SpinApp`'s `components`); the triggers of the others are dropped.
    /// Empty: all.
    pub components: Vec<String>,
    /// With the Redis store: this server, shared, rather than one of its own.
    pub redis_url: Option<String>,
}

/// Writes `dir/spin.toml`: the app's manifest, its component sources linked
/// to the built `.wasm` files, without the cron trigger unless `app.cron`.
pub fn stage(app: &SpinApp, dir: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(app.manifest)
        .with_context(|| format!("reading {}", app.manifest.display()))?;
    let mut manifest: toml::Table = toml::from_str(&text)?;
    for (name, component) in manifest
        .get("component")
        .and_then(|c| c.as_table())
        .context("the manifest has no components")?
    {
        let source = component
            .get("source")
            .and_then(|s| s.as_str())
            .with_context(|| format!("component {name} has no local source"))?;
        let link = dir.join(source);
        std::fs::create_dir_all(link.parent().unwrap())?;
        let built = (app.wasm)(name);
        std::os::unix::fs::symlink(&built, &link)
            .with_context(|| format!("linking {}", built.display()))?;
    }
    let text = if app.cron {
        text
    } else {
        if let Some(toml::Value::Table(triggers)) = manifest.get_mut("trigger") {
            triggers.remove("cron");
        }
        toml::to_string(&manifest)?
    };
    std::fs::write(dir.join("spin.toml"), text)?;
    Ok(())
}

/// `spin registry push` of the app staged in `dir` (see [`stage`]).
pub fn push(spin: &Path, dir: &Path, reference: &str) -> anyhow::Result<()> {
    let out = Command::new(spin)
        .current_dir(dir)
        .args([
            "registry",
            "push",
            "--insecure",
            "--from",
            "spin.toml",
            reference,
        ])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", spin.display()))?;
    if !out.status.success() {
        bail!(
            "spin registry push {reference} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A local OCI registry (Debian's `docker-registry`, the CNCF distribution
/// registry) on a free loopback port, keeping its blobs under `dir`; stopped
/// on drop. Plain HTTP on loopback, which `spin registry push` and `spin up
/// --from` accept with `--insecure`.
pub struct Registry {
    child: Child,
    pub port: u16,
}

impl Registry {
    pub fn start(dir: &Path) -> anyhow::Result<Registry> {
        let binary = std::env::var("DOCKER_REGISTRY").unwrap_or_else(|_| "docker-registry".into());
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let config = dir.join("registry.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                    dir.join("blobs").display()
                ),
            )?;
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .with_context(|| format!("cannot run {binary} (install docker-registry)"))?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match wait_for_port(addr, &mut child, Duration::from_secs(30)) {
                Ok(true) => return Ok(Registry { child, port }),
                Ok(false) => {
                    kill_group(&mut child);
                    last_error = Some(anyhow::anyhow!("docker-registry did not listen on {port}"));
                }
                Err(e) => last_error = Some(e.context(format!("docker-registry on {port}"))),
            }
        }
        Err(last_error.unwrap())
    }

    /// `127.0.0.1:<port>/<name>`, a reference in this registry.
    pub fn reference(&self, name: &str) -> String {
        format!("127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// What to run on a real Spin.
pub struct SpinApp<'a> {
    pub spin: &'a Path,
    /// The app's `spin.toml`.
    pub manifest: &'a Path,
    /// Where each component's `.wasm` was built, by component name.
    pub wasm: &'a dyn Fn(&str) -> PathBuf,
    pub kv: Kv,
    /// Set as `SPIN_VARIABLE_<NAME>` (nothing else from the caller's
    /// environment of that form reaches Spin).
    pub variables: &'a [(String, String)],
    /// Keep the manifest's cron triggers (they need the cron plugin). Without
    /// them, nothing sweeps behind the test's back.
    pub cron: bool,
    /// With the SQLite store: put Spin's store file in WAL mode before `spin
    /// up`, as the README tells users to ([`SPIN_SQLITE_STORE`]). Off, Spin
    /// makes the file itself, in rollback-journal mode.
    pub sqlite_wal: bool,
}

/// Where `spin up` keeps its default SQLite store, from the app's folder
/// (Spin 4.0.2: `.spin/` beside `spin.toml`, file `sqlite_key_value.db`).
pub const SPIN_SQLITE_STORE: &str = ".spin/sqlite_key_value.db";

/// A running `spin up`; stopped (with its trigger processes) on drop.
pub struct RunningSpin {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    store: Option<StoreServer>,
}

impl RunningSpin {
    /// Runs `app` from `dir` (an empty directory the caller owns): a copy of
    /// the manifest whose component `source` paths lead to the built `.wasm`
    /// files, Spin's state (`.spin/`, the SQLite store, logs) beside it.
    pub fn start(app: &SpinApp, dir: &Path) -> anyhow::Result<RunningSpin> {
        RunningSpin::start_placed(app, dir, &Placement::default())
    }

    /// [`RunningSpin::start`], from a registry and with some components only
    /// when `placement` says so, as SpinKube's shim runs an app.
    pub fn start_placed(
        app: &SpinApp,
        dir: &Path,
        placement: &Placement,
    ) -> anyhow::Result<RunningSpin> {
        if placement.from.is_none() {
            stage(app, dir)?;
        }
        if app.kv == Kv::Sqlite && app.sqlite_wal {
            let mode = spin_test_host::put_in_wal_mode(&dir.join(SPIN_SQLITE_STORE))
                .map_err(anyhow::Error::msg)?;
            if mode != "wal" {
                bail!("the store file refused WAL mode: {mode}");
            }
        }
        let store = match (app.kv, &placement.redis_url) {
            (Kv::Sqlite, _) => None,
            (Kv::Redis, Some(url)) => Some(StoreServer::Shared(url.clone())),
            (Kv::Redis, None) => Some(StoreServer::Redis(RedisServer::start()?)),
            (Kv::Dynamo, _) => Some(StoreServer::Dynamo(DynamoServer::start()?)),
        };
        let redis_url = match &store {
            Some(StoreServer::Redis(r)) => Some(r.url()),
            Some(StoreServer::Shared(url)) => Some(url.clone()),
            _ => None,
        };
        // The repository's own runtime config, pointed at this server.
        let runtime_config = match &store {
            None => None,
            Some(server) => {
                let (file, default_url, url) = match server {
                    StoreServer::Redis(r) => ("redis.toml", "redis://127.0.0.1:6379", r.url()),
                    StoreServer::Shared(url) => {
                        ("redis.toml", "redis://127.0.0.1:6379", url.clone())
                    }
                    StoreServer::Dynamo(_) => ("dynamodb.toml", "", String::new()),
                };
                let shipped = app.manifest.with_file_name("runtime-config").join(file);
                let config = std::fs::read_to_string(&shipped)
                    .with_context(|| format!("reading {}", shipped.display()))?;
                if !config.contains(default_url) {
                    bail!("{} no longer points at {default_url}", shipped.display());
                }
                let path = dir.join("runtime-config.toml");
                let config = if default_url.is_empty() {
                    config
                } else {
                    config.replace(default_url, &url)
                };
                std::fs::write(&path, config)?;
                Some(path)
            }
        };

        let log = dir.join("spin.log");
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let mut command = Command::new(app.spin);
            let from = placement.from.as_deref().unwrap_or("spin.toml");
            command
                .current_dir(dir)
                .args(["up", "--from", from, "--listen", &addr.to_string()])
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log)?)
                .stderr(std::fs::File::create(dir.join("spin.err.log"))?)
                .process_group(0);
            if let Some(path) = &runtime_config {
                command.arg("--runtime-config-file").arg(path);
            }
            if placement.from.is_some() {
                command.arg("--insecure");
            }
            for component in &placement.components {
                command.args(["-c", component]);
            }
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("SPIN_VARIABLE_") {
                    command.env_remove(name);
                }
            }
            if let Some(StoreServer::Dynamo(dynamo)) = &store {
                // Spin's AWS SDK takes the endpoint, keys and region from here
                // when the runtime config names no keys.
                command
                    .env("AWS_ENDPOINT_URL", dynamo.url())
                    .env("AWS_ACCESS_KEY_ID", "test")
                    .env("AWS_SECRET_ACCESS_KEY", "test")
                    .env("AWS_REGION", DYNAMO_REGION);
            }
            // As the README asks of a Redis store: batch reads as MGET on its server.
            if let Some(url) = &redis_url {
                command
                    .env("SPIN_VARIABLE_STORE_REDIS_URL", url)
                    .env("SPIN_VARIABLE_STORE_REDIS_ORIGIN", redis_origin(url));
            }
            for (name, value) in app.variables {
                command.env(
                    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                    value,
                );
            }
            let mut child = command
                .spawn()
                .with_context(|| format!("cannot run {}", app.spin.display()))?;
            match wait_for_port(addr, &mut child, Duration::from_secs(180)) {
                Ok(true) => {
                    return Ok(RunningSpin {
                        child,
                        addr,
                        log,
                        store,
                    })
                }
                Ok(false) => {
                    kill_group(&mut child);
                    last_error = Some(anyhow::anyhow!("spin up did not listen on {addr}"));
                }
                Err(e) => last_error = Some(e),
            }
        }
        let output = std::fs::read_to_string(dir.join("spin.err.log")).unwrap_or_default();
        Err(last_error
            .unwrap()
            .context(format!("spin up failed:\n{output}")))
    }

    /// Makes the app's store fail. SQLite: its write lock is taken and held
    /// until the returned lock drops, so every write waits Spin's busy
    /// timeout (5 s) and fails "database is locked". Redis: it refuses
    /// every command (`NOPERM`). A stopped Redis makes Spin 4.0.2 retry without
    /// end (the request never answers); with a changed password its
    /// reconnects are retried, and this test ran over a minute. DynamoDB:
    /// the server is stopped.
    pub fn break_store(&mut self) -> anyhow::Result<Option<spin_test_host::StoreLock>> {
        match &mut self.store {
            None => {
                let file = self.log.with_file_name(SPIN_SQLITE_STORE);
                Ok(Some(
                    spin_test_host::lock_store(&file).map_err(anyhow::Error::msg)?,
                ))
            }
            Some(StoreServer::Redis(server)) => {
                // Every command of its one user is refused from now on, on
                // the connections open too; signing in still works.
                redis_commands(server.port, &[&["ACL", "SETUSER", "default", "-@all"]])?;
                Ok(None)
            }
            Some(StoreServer::Dynamo(server)) => {
                kill_group(&mut server.child);
                Ok(None)
            }
            Some(StoreServer::Shared(_)) => bail!("a shared Redis is not this host's to stop"),
        }
    }

    /// The loopback port of the Redis server behind the store, if any.
    pub fn redis_port(&self) -> Option<u16> {
        match &self.store {
            Some(StoreServer::Redis(r)) => Some(r.port),
            _ => None,
        }
    }

    /// The command lines of every process this `spin up` runs (it leads its
    /// own process group): itself, and a `spin trigger ...` per trigger type.
    pub fn processes(&self) -> Vec<String> {
        in_group(self.child.id())
            .iter()
            .map(|process| {
                let cmdline = std::fs::read(process.join("cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            })
            .collect()
    }

    /// What Spin and the components printed so far.
    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        let err =
            std::fs::read_to_string(self.log.with_file_name("spin.err.log")).unwrap_or_default();
        format!("{out}{err}")
    }
}

impl Drop for RunningSpin {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}
