//! Loading an app (manifest, variables, components) and running it: HTTP requests
//! and cron events, each on a fresh instance.
use crate::bindings::cron::{fermyon::spin_cron::cron_types::Metadata, SpinCronIndices};
use crate::control::{Faults, Stats, TestClock, REQUEST_TAG_HEADER};
use crate::error::HostError;
use crate::manifest::Manifest;
use crate::outbound::AllowedHosts;
use crate::router::Router;
use crate::state::{ComponentPolicy, InstanceState, OutboundHttp};
use crate::store::SqliteBackend;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use tokio::task::JoinHandle;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyIndices;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

/// One engine per process, so compiled components can be shared between hosts.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling()));
        // Like Spin: without the pool where its address space cannot be reserved.
        Engine::new(&config).unwrap_or_else(|_| {
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
            Engine::new(&config).expect("default wasmtime configuration is valid")
        })
    })
}

/// Spin 4's instance pool, at its defaults: an instance reuses a slot whose
/// first 2 MiB of linear memory stay mapped, so a request does not fault in,
/// zero and unmap the pages of the heap it touches (about one page for every
/// 1.2 KB of a list page's answer).
fn pooling() -> wasmtime::PoolingAllocationConfig {
    const MB: usize = 1 << 20;
    const INSTANCES: u32 = 1_000;
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(INSTANCES)
        .total_memories(INSTANCES)
        .total_tables(2 * INSTANCES)
        .total_stacks(INSTANCES)
        .total_core_instances(4 * INSTANCES)
        .table_elements(100_000)
        .max_component_instance_size(10 * MB)
        .max_core_instance_size(10 * MB)
        .max_core_instances_per_component(200)
        .max_tables_per_component(64)
        .max_memories_per_component(32)
        .max_tables_per_module(2)
        .max_memories_per_module(2)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 * MB)
        .table_keep_resident(MB / 2);
    pool
}

/// Compiled components by (path, size, modification time): compiling is the slow part.
fn compile(path: &Path) -> Result<Component, String> {
    type CacheKey = (PathBuf, u64, Option<SystemTime>);
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Component>>> = OnceLock::new();
    let metadata = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = (path.to_owned(), metadata.len(), metadata.modified().ok());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(component) = cache.lock().unwrap().get(&key) {
        return Ok(component.clone());
    }
    let component = Component::from_file(engine(), path)
        .map_err(|e| format!("cannot compile {}: {e:?}", path.display()))?;
    cache.lock().unwrap().insert(key, component.clone());
    Ok(component)
}

fn linker() -> Result<Linker<InstanceState>, String> {
    let build = || -> wasmtime::Result<Linker<InstanceState>> {
        let mut linker = Linker::new(engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::spin::SpinImports::add_to_linker::<_, HasSelf<InstanceState>>(
            &mut linker,
            |state| state,
        )?;
        // A cron component imports the types-only interface of its world.
        linker.instance("fermyon:spin-cron/cron-types@2.0.0")?;
        Ok(linker)
    };
    build().map_err(|e| format!("{e:?}"))
}

/// Checks that the host provides every interface a built component imports.
pub fn check_component_imports(wasm: &Path) -> Result<(), HostError> {
    let component = compile(wasm).map_err(|message| HostError::Component {
        component: wasm.display().to_string(),
        message,
    })?;
    let linker = linker().map_err(HostError::Linker)?;
    pre_instantiate(&linker, &component, &wasm.display().to_string()).map(drop)
}

fn pre_instantiate(
    linker: &Linker<InstanceState>,
    component: &Component,
    name: &str,
) -> Result<InstancePre<InstanceState>, HostError> {
    linker
        .instantiate_pre(component)
        .map_err(|e| HostError::UnsupportedImport {
            component: name.to_string(),
            message: format!("{e}"),
        })
}

struct LoadedComponent {
    pre: InstancePre<InstanceState>,
    http: Option<ProxyIndices>,
    cron: Option<SpinCronIndices>,
    policy: Arc<ComponentPolicy>,
}

struct CronSchedule {
    component: String,
    expression: String,
    schedule: cron::Schedule,
}

struct HostInner {
    components: HashMap<String, LoadedComponent>,
    router: Router,
    cron: Vec<CronSchedule>,
    backend: Arc<SqliteBackend>,
    faults: Arc<Faults>,
    stats: Arc<Stats>,
    clock: TestClock,
    manual_cron: bool,
    pages: HashMap<String, Page>,
}

/// A page the host serves itself (see [`TestHostBuilder::page`]).
#[derive(Clone)]
struct Page {
    content_type: String,
    body: Bytes,
}

/// Configures a [`TestHost`]; see [`TestHost::builder`].
#[derive(Default)]
pub struct TestHostBuilder {
    manifest: Option<PathBuf>,
    variables: BTreeMap<String, String>,
    environment: Option<HashMap<String, String>>,
    store_path: Option<PathBuf>,
    sources: HashMap<String, PathBuf>,
    manual_cron: bool,
    pages: HashMap<String, Page>,
}

impl TestHostBuilder {
    /// Cron events fire only through [`TestHost::invoke_cron`], never on their
    /// schedule: tests that move the clock decide when a sweep runs.
    pub fn manual_cron(mut self) -> Self {
        self.manual_cron = true;
        self
    }

    /// Serves `body` at `path` (any method, exact path, query ignored) before
    /// the app's routes: a page for development tools, which Spin does not have.
    pub fn page(
        mut self,
        path: impl Into<String>,
        content_type: impl Into<String>,
        body: impl Into<Bytes>,
    ) -> Self {
        let page = Page {
            content_type: content_type.into(),
            body: body.into(),
        };
        self.pages.insert(path.into(), page);
        self
    }

    pub fn manifest(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest = Some(path.into());
        self
    }

    /// Like `spin up --variable name=value`; wins over the environment and defaults.
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.insert(name.into(), value.into());
        self
    }

    /// The environment `SPIN_VARIABLE_<NAME>` values are read from (default: the process's).
    pub fn environment<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.environment = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// The SQLite file (default: `.spin/sqlite_key_value.db` beside the manifest, like Spin).
    pub fn store_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.store_path = Some(path.into());
        self
    }

    /// Runs `component` from `wasm` instead of the manifest's `source`.
    pub fn component_source(
        mut self,
        component: impl Into<String>,
        wasm: impl Into<PathBuf>,
    ) -> Self {
        self.sources.insert(component.into(), wasm.into());
        self
    }

    /// Reads the manifest, resolves variables, compiles and links every component.
    pub fn build(self) -> Result<TestHost, HostError> {
        let manifest_path = self.manifest.unwrap_or_else(|| PathBuf::from("spin.toml"));
        let manifest = Manifest::from_file(&manifest_path)?;
        let environment = self.environment.unwrap_or_else(|| {
            // Non-Unicode variables cannot be SPIN_VARIABLE_ values anyway.
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect()
        });
        let app_variables = crate::variables::resolve_application_variables(
            &manifest,
            &self.variables,
            &environment,
        )?;

        let linker = linker().map_err(HostError::Linker)?;
        let mut components = HashMap::new();
        for (name, decl) in &manifest.components {
            let component_error = |message: String| HostError::Component {
                component: name.clone(),
                message,
            };
            let mut variables = HashMap::new();
            for (var, template) in &decl.variables {
                let value = crate::variables::render_template(template, &app_variables)
                    .map_err(HostError::Variable)?;
                variables.insert(var.clone(), value);
            }
            let hosts = decl
                .allowed_outbound_hosts
                .iter()
                .map(|t| crate::variables::render_template(t, &app_variables))
                .collect::<Result<Vec<_>, _>>()
                .map_err(component_error)?;
            let allowed_hosts = AllowedHosts::parse(&hosts).map_err(component_error)?;
            let source = self
                .sources
                .get(name)
                .cloned()
                .unwrap_or_else(|| manifest.dir.join(&decl.source));
            let component = compile(&source).map_err(component_error)?;
            let pre = pre_instantiate(&linker, &component, name)?;
            let http = ProxyIndices::new(&pre).ok();
            let cron = SpinCronIndices::new(&pre).ok();
            let policy = Arc::new(ComponentPolicy {
                name: name.clone(),
                key_value_stores: decl.key_value_stores.iter().cloned().collect(),
                variables,
                allowed_hosts,
            });
            components.insert(
                name.clone(),
                LoadedComponent {
                    pre,
                    http,
                    cron,
                    policy,
                },
            );
        }

        let router = Router::build(&manifest).map_err(|message| HostError::InvalidManifest {
            path: manifest_path.clone(),
            message,
        })?;
        for (route, component) in router.routes() {
            if components[component].http.is_none() {
                return Err(HostError::Component {
                    component: component.clone(),
                    message: format!(
                        "routed at `{route}` but exports no wasi:http/incoming-handler"
                    ),
                });
            }
        }
        let mut cron = Vec::new();
        for trigger in &manifest.triggers.cron {
            if components[&trigger.component].cron.is_none() {
                return Err(HostError::Component {
                    component: trigger.component.clone(),
                    message: "has a cron trigger but exports no handle-cron-event".into(),
                });
            }
            let schedule = cron::Schedule::from_str(&trigger.cron_expression).map_err(|e| {
                HostError::Component {
                    component: trigger.component.clone(),
                    message: format!("invalid cron_expression `{}`: {e}", trigger.cron_expression),
                }
            })?;
            cron.push(CronSchedule {
                component: trigger.component.clone(),
                expression: trigger.cron_expression.clone(),
                schedule,
            });
        }

        let store_path = self
            .store_path
            .unwrap_or_else(|| manifest.dir.join(".spin").join("sqlite_key_value.db"));
        let backend = SqliteBackend::open(&store_path).map_err(HostError::Store)?;
        Ok(TestHost {
            inner: Arc::new(HostInner {
                components,
                router,
                cron,
                backend: Arc::new(backend),
                faults: Arc::default(),
                stats: Arc::default(),
                clock: TestClock::default(),
                manual_cron: self.manual_cron,
                pages: self.pages,
            }),
            tasks: Mutex::default(),
        })
    }
}

/// A loaded app. Dropping it stops its server and cron schedules.
pub struct TestHost {
    inner: Arc<HostInner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for TestHost {
    fn drop(&mut self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl TestHost {
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder::default()
    }

    /// `(route, component)` for every HTTP route, in manifest order.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.inner.router.routes().to_vec()
    }

    /// `(component, cron expression)` for every cron trigger.
    pub fn cron_triggers(&self) -> Vec<(String, String)> {
        self.inner
            .cron
            .iter()
            .map(|c| (c.component.clone(), c.expression.clone()))
            .collect()
    }

    pub fn clock(&self) -> &TestClock {
        &self.inner.clock
    }

    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Shorthand for `faults().set_redis_semantics(on)`.
    pub fn set_redis_semantics(&self, on: bool) {
        self.inner.faults.set_redis_semantics(on);
    }

    /// Serves HTTP on `addr` (port 0 picks a free one) and starts the cron
    /// schedules; returns the bound address.
    pub async fn serve(&self, addr: &str) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let inner = self.inner.clone();
        let server = tokio::spawn(async move {
            loop {
                let (stream, client) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                };
                let inner = inner.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let inner = inner.clone();
                        async move { Ok::<_, Infallible>(inner.handle_http(req, client).await) }
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!("connection from {client} ended: {e}");
                    }
                });
            }
        });
        let mut tasks = self.tasks.lock().unwrap();
        tasks.push(server);
        let scheduled = if self.inner.manual_cron {
            0
        } else {
            self.inner.cron.len()
        };
        for index in 0..scheduled {
            let inner = self.inner.clone();
            tasks.push(tokio::spawn(
                async move { inner.run_cron_schedule(index).await },
            ));
        }
        Ok(local)
    }

    /// The mean cost of what the host does per request before the guest runs: a new
    /// store and an instance from the pre-instantiated component. For the benchmark.
    #[doc(hidden)]
    pub async fn instantiation_cost(
        &self,
        component: &str,
        iterations: u32,
    ) -> anyhow::Result<std::time::Duration> {
        let loaded = self
            .inner
            .components
            .get(component)
            .ok_or_else(|| HostError::UnknownComponent(component.to_string()))?;
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            let mut store = self.inner.new_store(loaded, Arc::default());
            loaded
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        Ok(start.elapsed() / iterations.max(1))
    }

    /// Runs a cron component's `handle-cron-event` now, as its schedule would.
    pub async fn invoke_cron(&self, component: &str) -> anyhow::Result<()> {
        self.inner.invoke_cron(component).await
    }
}

fn text_response(status: u16, body: &'static str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(body.as_bytes()))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

impl HostInner {
    fn new_store(
        &self,
        component: &LoadedComponent,
        record: Arc<crate::control::RequestRecord>,
    ) -> Store<InstanceState> {
        let wasi = WasiCtx::builder()
            .inherit_stdout()
            .inherit_stderr()
            .wall_clock(self.clock.clone())
            .build();
        Store::new(
            engine(),
            InstanceState {
                wasi,
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                outbound: OutboundHttp {
                    policy: component.policy.clone(),
                    faults: self.faults.clone(),
                },
                policy: component.policy.clone(),
                backend: self.backend.clone(),
                faults: self.faults.clone(),
                record,
            },
        )
    }

    async fn handle_http(
        &self,
        mut req: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> hyper::Response<HyperOutgoingBody> {
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        if let Some(page) = self.pages.get(req.uri().path()) {
            let body = Full::new(page.body.clone())
                .map_err(|never: Infallible| match never {})
                .boxed_unsync();
            let mut response = hyper::Response::new(body);
            if let Ok(value) = http::HeaderValue::from_str(&page.content_type) {
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_TYPE, value);
            }
            return response;
        }
        // Spin strips the hop-by-hop `Connection` header before routing.
        req.headers_mut().remove(http::header::CONNECTION);
        if !req.headers().contains_key(http::header::HOST) {
            req.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_static("localhost"),
            );
        }
        let host = req.headers()[http::header::HOST]
            .to_str()
            .unwrap_or("localhost")
            .to_string();
        let Some(route) = self.router.route(&path_and_query, "http", &host, client) else {
            // As Spin 4.0.2: 404 with an empty body.
            return text_response(404, "");
        };
        let component = &self.components[&route.component];
        let Some(http_export) = component.http.as_ref() else {
            return text_response(500, "Internal Server Error");
        };
        for (name, value) in route.headers() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_str(name),
                http::HeaderValue::from_str(value),
            ) {
                req.headers_mut().insert(name, value);
            }
        }
        let tag = req
            .headers()
            .get(REQUEST_TAG_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let path = req.uri().path().to_string();
        let record = self
            .stats
            .start(req.method().as_str(), &path, &route.component, tag);
        let done = crate::control::DoneOnDrop(record.clone());
        let answered = record.clone();
        let mut store = self.new_store(component, record);

        let (sender, receiver) = tokio::sync::oneshot::channel();
        let prepared = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .and_then(|request| {
                // Marked when the guest sets its response, before it goes on
                // working, so store calls after the answer count as such.
                let out = store
                    .data_mut()
                    .http()
                    .new_response_outparam_from_callback(move |value| {
                        answered.mark_answered();
                        let _ = sender.send(value);
                    })?;
                Ok((request, out))
            });
        let (request, out) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                tracing::error!(component = %route.component, "cannot pass request to component: {e:?}");
                return text_response(500, "Internal Server Error");
            }
        };
        let pre = component.pre.clone();
        let http_export = http_export.clone();
        let name = route.component.clone();
        let task = tokio::spawn(async move {
            let _done = done;
            let outcome = async {
                let instance = pre.instantiate_async(&mut store).await?;
                let guest = http_export.load(&mut store, &instance)?;
                guest
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .await
            }
            .await;
            if let Err(e) = outcome {
                tracing::error!(component = %name, "component `{name}` failed: {e:?}");
            }
        });
        match receiver.await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => {
                tracing::error!(component = %route.component, "component `{}` responded with error {code:?}", route.component);
                text_response(500, "Internal Server Error")
            }
            // The guest dropped the response outparam without setting it: it
            // trapped. Spin 4.0.2 then answers 500 with an empty body.
            Err(_) => {
                let _ = task.await;
                text_response(500, "")
            }
        }
    }

    async fn invoke_cron(&self, name: &str) -> anyhow::Result<()> {
        let component = self
            .components
            .get(name)
            .ok_or_else(|| HostError::UnknownComponent(name.to_string()))?;
        let indices = component
            .cron
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("component `{name}` exports no handle-cron-event"))?;
        let record = self.stats.start("CRON", "", name, None);
        let _done = crate::control::DoneOnDrop(record.clone());
        let mut store = self.new_store(component, record);
        let instance = component
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow::anyhow!("component `{name}`: {e:?}"))?;
        let guest = indices
            .load(&mut store, &instance)
            .map_err(|e| anyhow::anyhow!("component `{name}`: {e:?}"))?;
        let metadata = Metadata {
            timestamp: self.clock.unix_seconds(),
        };
        match guest.call_handle_cron_event(&mut store, metadata).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::anyhow!(
                "component `{name}` cron handler failed: {e:?}"
            )),
            Err(e) => Err(anyhow::anyhow!(
                "component `{name}` trapped in cron handler: {e:?}"
            )),
        }
    }

    /// Fires on the schedule's real-time instants (the test clock only changes
    /// what guests see, not when events fire).
    async fn run_cron_schedule(self: Arc<Self>, index: usize) {
        let entry = &self.cron[index];
        loop {
            let Some(next) = entry.schedule.upcoming(chrono::Utc).next() else {
                return;
            };
            let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            if let Err(e) = self.invoke_cron(&entry.component).await {
                tracing::error!(component = %entry.component, "cron event failed: {e:#}");
            }
        }
    }
}
