//! Host bindings for the Spin interfaces the host implements itself, and for the
//! cron trigger's export.

/// An open `fermyon:spin/key-value` store or `wasi:keyvalue` bucket: just its name.
pub struct OpenStore {
    pub name: String,
}

/// A `fermyon:spin/redis` connection: the address it was opened with.
pub struct RedisConnection {
    pub address: String,
}

/// A `wasi:keyvalue/atomics.cas` handle: the key, and what `current` read (if called).
pub struct CasHandle {
    pub store: String,
    pub key: String,
    pub observed: Option<Vec<u8>>,
}

pub mod spin {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "spin-test-host:host/spin-imports",
        // get-many may trap the instance, as Spin's Redis store does.
        imports: {
            default: async,
            "wasi:keyvalue/batch.get-many": async | trappable,
        },
        with: {
            "fermyon:spin/key-value.store": super::OpenStore,
            "wasi:keyvalue/store.bucket": super::OpenStore,
            "wasi:keyvalue/atomics.cas": super::CasHandle,
            "fermyon:spin/redis.connection": super::RedisConnection,
        },
    });
}

pub mod cron {
    wasmtime::component::bindgen!({
        path: "../../wit/spin-cron",
        world: "fermyon:spin-cron/spin-cron",
        exports: { default: async },
    });
}
