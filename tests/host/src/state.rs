//! Per-request store data and the host side of the Spin interfaces.
use crate::bindings::spin::fermyon::spin::{key_value, redis, variables};
use crate::bindings::spin::wasi::keyvalue::{atomics, batch, store};
use crate::bindings::{CasHandle, OpenStore, RedisConnection};
use crate::control::{Faults, RequestRecord};
use crate::outbound::AllowedHosts;
use crate::store::{SqliteBackend, StoreFailure, StoreResult};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// What one component may do, fixed at start-up from the manifest.
pub struct ComponentPolicy {
    pub name: String,
    pub key_value_stores: HashSet<String>,
    /// Component variables, already rendered from application variables.
    pub variables: HashMap<String, String>,
    pub allowed_hosts: AllowedHosts,
}

/// The store data of one instance (one request or one cron event).
pub struct InstanceState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub outbound: OutboundHttp,
    pub policy: Arc<ComponentPolicy>,
    pub backend: Arc<SqliteBackend>,
    pub faults: Arc<Faults>,
    pub record: Arc<RequestRecord>,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// Outgoing HTTP: Spin's allow-list, then the injected fault, then the real request.
pub struct OutboundHttp {
    pub policy: Arc<ComponentPolicy>,
    pub faults: Arc<Faults>,
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri.host().unwrap_or("").to_string();
        if !self
            .policy
            .allowed_hosts
            .allows(&scheme, &host, uri.port_u16())
        {
            tracing::warn!(
                component = %self.policy.name,
                "outbound request to {uri} denied: not in allowed_outbound_hosts"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        if self.faults.outgoing_request_fails() {
            tracing::info!(component = %self.policy.name, "injected fault: outbound request to {uri} fails");
            return Box::new(async { Err(wasmtime_wasi_http::Error::ConnectionRefused) });
        }
        Box::new(crate::send::send(request, options))
    }
}

impl InstanceState {
    /// Counts one backend round trip and applies the store-call fault.
    fn store_call(&self, write: bool) -> StoreResult<()> {
        self.record.count(write);
        if self.faults.store_call_fails() {
            tracing::info!(component = %self.policy.name, "injected fault: store call fails");
            return Err(StoreFailure("injected fault: store call failed".into()));
        }
        Ok(())
    }

    fn store_name(&self, handle: u32) -> Result<String, String> {
        let resource: Resource<OpenStore> = Resource::new_borrow(handle);
        self.table
            .get(&resource)
            .map(|s| s.name.clone())
            .map_err(|e| e.to_string())
    }
}

fn kv_error(failure: StoreFailure) -> key_value::Error {
    key_value::Error::Other(failure.0)
}

fn wasi_error(failure: StoreFailure) -> store::Error {
    store::Error::Other(failure.0)
}

impl key_value::Host for InstanceState {}

impl key_value::HostStore for InstanceState {
    async fn open(&mut self, label: String) -> Result<Resource<OpenStore>, key_value::Error> {
        if !self.policy.key_value_stores.contains(&label) {
            return Err(key_value::Error::AccessDenied);
        }
        self.table
            .push(OpenStore { name: label })
            .map_err(|_| key_value::Error::StoreTableFull)
    }

    async fn get(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, key_value::Error> {
        let name = self
            .store_name(store.rep())
            .map_err(key_value::Error::Other)?;
        self.store_call(false).map_err(kv_error)?;
        self.backend.get(&name, &key).map_err(kv_error)
    }

    async fn set(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), key_value::Error> {
        let name = self
            .store_name(store.rep())
            .map_err(key_value::Error::Other)?;
        self.store_call(true).map_err(kv_error)?;
        self.backend.set(&name, &key, &value).map_err(kv_error)
    }

    async fn delete(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<(), key_value::Error> {
        let name = self
            .store_name(store.rep())
            .map_err(key_value::Error::Other)?;
        self.store_call(true).map_err(kv_error)?;
        self.backend.delete(&name, &key).map_err(kv_error)
    }

    async fn exists(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<bool, key_value::Error> {
        let name = self
            .store_name(store.rep())
            .map_err(key_value::Error::Other)?;
        self.store_call(false).map_err(kv_error)?;
        self.backend
            .get(&name, &key)
            .map(|v| v.is_some())
            .map_err(kv_error)
    }

    async fn get_keys(
        &mut self,
        store: Resource<OpenStore>,
    ) -> Result<Vec<String>, key_value::Error> {
        let name = self
            .store_name(store.rep())
            .map_err(key_value::Error::Other)?;
        self.store_call(false).map_err(kv_error)?;
        self.backend.keys(&name).map_err(kv_error)
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl variables::Host for InstanceState {
    async fn get(&mut self, name: String) -> Result<String, variables::Error> {
        crate::variables::validate_name(&name).map_err(variables::Error::InvalidName)?;
        self.policy
            .variables
            .get(&name)
            .cloned()
            .ok_or_else(|| variables::Error::Undefined(format!("no variable for \"{name}\"")))
    }
}

impl store::Host for InstanceState {
    async fn open(&mut self, identifier: String) -> Result<Resource<OpenStore>, store::Error> {
        if !self.policy.key_value_stores.contains(&identifier) {
            return Err(store::Error::AccessDenied);
        }
        self.table
            .push(OpenStore { name: identifier })
            .map_err(|_| store::Error::Other("store table full".into()))
    }
}

impl store::HostBucket for InstanceState {
    async fn get(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(false).map_err(wasi_error)?;
        self.backend.get(&name, &key).map_err(wasi_error)
    }

    async fn set(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(true).map_err(wasi_error)?;
        self.backend.set(&name, &key, &value).map_err(wasi_error)
    }

    async fn delete(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
    ) -> Result<(), store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(true).map_err(wasi_error)?;
        self.backend.delete(&name, &key).map_err(wasi_error)
    }

    async fn exists(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
    ) -> Result<bool, store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(false).map_err(wasi_error)?;
        self.backend
            .get(&name, &key)
            .map(|v| v.is_some())
            .map_err(wasi_error)
    }

    /// A full scan in one page, as Spin does (the cursor is ignored).
    async fn list_keys(
        &mut self,
        bucket: Resource<OpenStore>,
        _cursor: Option<String>,
    ) -> Result<store::KeyResponse, store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(false).map_err(wasi_error)?;
        let keys = self.backend.keys(&name).map_err(wasi_error)?;
        Ok(store::KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, bucket: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for InstanceState {
    async fn increment(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
        delta: i64,
    ) -> Result<i64, store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(true).map_err(wasi_error)?;
        self.backend.increment(&name, &key, delta).map_err(|e| {
            tracing::warn!(component = %self.policy.name, "increment failed: {}", e.0);
            wasi_error(e)
        })
    }

    async fn swap(
        &mut self,
        cas: Resource<CasHandle>,
        value: Vec<u8>,
    ) -> Result<(), atomics::CasError> {
        let store_error = |e: String| atomics::CasError::StoreError(store::Error::Other(e));
        let handle = self
            .table
            .delete(cas)
            .map_err(|e| store_error(e.to_string()))?;
        self.store_call(true).map_err(|e| store_error(e.0))?;
        let swapped = self
            .backend
            .swap(
                &handle.store,
                &handle.key,
                handle.observed.as_deref(),
                &value,
            )
            .map_err(|e| store_error(e.0))?;
        if swapped && !self.faults.redis() {
            return Ok(());
        }
        // As Spin does on a failed swap: a fresh CAS on the key, with its current value read.
        self.store_call(false).map_err(|e| store_error(e.0))?;
        let observed = self
            .backend
            .get(&handle.store, &handle.key)
            .map_err(|e| store_error(e.0))?;
        let retry = self
            .table
            .push(CasHandle {
                store: handle.store,
                key: handle.key,
                observed,
            })
            .map_err(|e| store_error(e.to_string()))?;
        Err(atomics::CasError::CasFailed(retry))
    }
}

impl atomics::HostCas for InstanceState {
    /// Reads nothing: Spin's SQLite CAS only learns the value when `current` is called.
    async fn new(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
    ) -> Result<Resource<CasHandle>, store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.table
            .push(CasHandle {
                store: name,
                key,
                observed: None,
            })
            .map_err(|e| store::Error::Other(e.to_string()))
    }

    async fn current(&mut self, cas: Resource<CasHandle>) -> Result<Option<Vec<u8>>, store::Error> {
        self.store_call(false).map_err(wasi_error)?;
        let handle = self
            .table
            .get(&cas)
            .map_err(|e| store::Error::Other(e.to_string()))?;
        let value = self
            .backend
            .get(&handle.store, &handle.key)
            .map_err(wasi_error)?;
        self.table
            .get_mut(&cas)
            .map_err(|e| store::Error::Other(e.to_string()))?
            .observed
            .clone_from(&value);
        Ok(value)
    }

    async fn drop(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

/// What `get-many` gives the guest, or a trap.
type GetManyAnswer = wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, store::Error>>;

/// Spin 4.0.2's Redis `get-many` sends `KEYS k1 k2 ...` instead of `MGET`:
/// Redis refuses several keys; with one key that exists, `KEYS` answers its
/// name, which Spin fails to read as a value and panics on ("entered
/// unreachable code"), so the request dies with a 500; a key that does not
/// exist answers nothing.
fn redis_get_many(backend: &SqliteBackend, store: &str, keys: Vec<String>) -> GetManyAnswer {
    match keys.as_slice() {
        [] => Ok(Ok(Vec::new())),
        [key] => match backend.get(store, key) {
            Ok(Some(_)) => Err(wasmtime::Error::msg(
                "the Redis get-many of one existing key panics in Spin 4.0.2",
            )),
            Ok(None) => Ok(Ok(Vec::new())),
            Err(e) => Ok(Err(wasi_error(e))),
        },
        _ => Ok(Err(store::Error::Other(
            "An error was signalled by the server - ResponseError: wrong number of arguments for 'keys' command".into(),
        ))),
    }
}

impl batch::Host for InstanceState {
    async fn get_many(&mut self, bucket: Resource<OpenStore>, keys: Vec<String>) -> GetManyAnswer {
        let name = match self.store_name(bucket.rep()) {
            Ok(name) => name,
            Err(e) => return Ok(Err(store::Error::Other(e))),
        };
        if let Err(e) = self.store_call(false) {
            return Ok(Err(wasi_error(e)));
        }
        if self.faults.redis() {
            return redis_get_many(&self.backend, &name, keys);
        }
        Ok(self.backend.get_many(&name, &keys).map_err(wasi_error))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<OpenStore>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(true).map_err(wasi_error)?;
        self.backend
            .set_many(&name, &key_values)
            .map_err(wasi_error)
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<OpenStore>,
        keys: Vec<String>,
    ) -> Result<(), store::Error> {
        let name = self.store_name(bucket.rep()).map_err(store::Error::Other)?;
        self.store_call(true).map_err(wasi_error)?;
        self.backend.delete_many(&name, &keys).map_err(wasi_error)
    }
}

impl redis::Host for InstanceState {}

/// What the test host does not serve over Redis: the app sends `MGET` only.
fn redis_unserved<T>() -> Result<T, redis::Error> {
    Err(redis::Error::Other(
        "the test host serves MGET only over Redis".into(),
    ))
}

/// What every key holds on a Redis server that is not the store's.
const ANOTHER_SERVERS_VALUE: &[u8] = b"another server's value";

/// Spin's outbound Redis, served from the host's own store: opening an
/// allowed address is one round trip, and each command another. `MGET` at
/// the address the faults name as the store's server reads the store
/// `default` (Spin's Redis store keeps each key under its own name);
/// anywhere else it answers as a server holding every key with another
/// value would ([`ANOTHER_SERVERS_VALUE`]), or an empty one
/// (`Faults::other_redis_servers_are_empty`).
impl redis::HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Resource<RedisConnection>, redis::Error> {
        let uri: http::Uri = address.parse().map_err(|_| redis::Error::InvalidAddress)?;
        let scheme = uri.scheme_str().unwrap_or_default();
        let host = uri.host().unwrap_or_default();
        if !self
            .policy
            .allowed_hosts
            .allows(scheme, host, uri.port_u16())
        {
            tracing::warn!(
                component = %self.policy.name,
                "Redis connection to {address} denied: not in allowed_outbound_hosts"
            );
            return Err(redis::Error::InvalidAddress);
        }
        self.store_call(false)
            .map_err(|e| redis::Error::Other(e.0))?;
        if host.ends_with(".invalid") {
            return Err(redis::Error::Other(format!("cannot resolve {host}")));
        }
        self.table
            .push(RedisConnection { address })
            .map_err(|_| redis::Error::TooManyConnections)
    }

    async fn execute(
        &mut self,
        connection: Resource<RedisConnection>,
        command: String,
        arguments: Vec<redis::RedisParameter>,
    ) -> Result<Vec<redis::RedisResult>, redis::Error> {
        let address = self
            .table
            .get(&connection)
            .map_err(|e| redis::Error::Other(e.to_string()))?
            .address
            .clone();
        if !command.eq_ignore_ascii_case("MGET") {
            return redis_unserved();
        }
        self.store_call(false)
            .map_err(|e| redis::Error::Other(e.0))?;
        let keys = arguments
            .into_iter()
            .map(|a| match a {
                redis::RedisParameter::Binary(b) => String::from_utf8(b).map_err(|_| ()),
                redis::RedisParameter::Int64(i) => Ok(i.to_string()),
            })
            .collect::<Result<Vec<String>, ()>>()
            .map_err(|()| redis::Error::Other("a key that is not UTF-8".into()))?;
        let values: Vec<Option<Vec<u8>>> =
            if self.faults.redis_server().as_deref() == Some(address.as_str()) {
                // The backend answers the keys that exist: match by key.
                let mut found: HashMap<String, Option<Vec<u8>>> = self
                    .backend
                    .get_many("default", &keys)
                    .map_err(|e| redis::Error::Other(e.0))?
                    .into_iter()
                    .collect();
                keys.iter().map(|k| found.remove(k).flatten()).collect()
            } else if self.faults.other_redis_servers_empty() {
                vec![None; keys.len()]
            } else {
                // Another server: it holds every key, with another value.
                vec![Some(ANOTHER_SERVERS_VALUE.to_vec()); keys.len()]
            };
        Ok(values
            .into_iter()
            .map(|v| v.map_or(redis::RedisResult::Nil, redis::RedisResult::Binary))
            .collect())
    }

    async fn publish(
        &mut self,
        _: Resource<RedisConnection>,
        _: String,
        _: Vec<u8>,
    ) -> Result<(), redis::Error> {
        redis_unserved()
    }

    async fn get(
        &mut self,
        _: Resource<RedisConnection>,
        _: String,
    ) -> Result<Option<Vec<u8>>, redis::Error> {
        redis_unserved()
    }

    async fn set(
        &mut self,
        _: Resource<RedisConnection>,
        _: String,
        _: Vec<u8>,
    ) -> Result<(), redis::Error> {
        redis_unserved()
    }

    async fn incr(&mut self, _: Resource<RedisConnection>, _: String) -> Result<i64, redis::Error> {
        redis_unserved()
    }

    async fn del(
        &mut self,
        _: Resource<RedisConnection>,
        _: Vec<String>,
    ) -> Result<u32, redis::Error> {
        redis_unserved()
    }

    async fn sadd(
        &mut self,
        _: Resource<RedisConnection>,
        _: String,
        _: Vec<String>,
    ) -> Result<u32, redis::Error> {
        redis_unserved()
    }

    async fn smembers(
        &mut self,
        _: Resource<RedisConnection>,
        _: String,
    ) -> Result<Vec<String>, redis::Error> {
        redis_unserved()
    }

    async fn srem(
        &mut self,
        _: Resource<RedisConnection>,
        _: String,
        _: Vec<String>,
    ) -> Result<u32, redis::Error> {
        redis_unserved()
    }

    async fn drop(&mut self, connection: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}
