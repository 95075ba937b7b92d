//! A Spin-compatible host on wasmtime for tests and `cargo up`.
//!
//! It reads a `spin.toml` (manifest version 2), routes HTTP requests like Spin,
//! instantiates a fresh component per request, and provides the interfaces
//! spin-sdk 5.2 components import: WASI 0.2, `wasi:http`, `fermyon:spin`
//! key-value and variables, and `wasi:keyvalue` store/atomics/batch on SQLite
//! with the semantics (and faults) of Spin's own SQLite store. Tests get a
//! movable wall clock, per-request store round-trip counts and fault injection.

mod bindings;
mod control;
mod error;
mod host;
pub mod manifest;
mod outbound;
mod router;
mod send;
mod state;
mod store;
mod variables;

pub use control::{Faults, RequestRecord, Stats, TestClock, REQUEST_TAG_HEADER};
pub use error::HostError;
pub use host::{check_component_imports, TestHost, TestHostBuilder};
pub use manifest::Manifest;
pub use store::{journal_mode, largest_value, lock_store, put_in_wal_mode, StoreLock};

use anyhow::{bail, Context};
use std::path::Path;

/// Runs each component's build command, like `spin build`.
pub fn build_components(manifest_path: &Path) -> anyhow::Result<()> {
    let manifest = Manifest::from_file(manifest_path)?;
    for (name, component) in &manifest.components {
        let Some(build) = &component.build else {
            continue;
        };
        let workdir = match &build.workdir {
            Some(dir) => manifest.dir.join(dir),
            None => manifest.dir.clone(),
        };
        println!("Building component {name} with `{}`", build.command);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&workdir)
            // The host's own cargo settings must not leak into a wasm build.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .status()
            .with_context(|| format!("cannot run build command of component `{name}`"))?;
        if !status.success() {
            bail!("build command of component `{name}` failed ({status})");
        }
    }
    Ok(())
}
