//! Is the `wasm32-wasip2` target installed for the toolchain that builds this
//! workspace, and if not, can rustup add it?
//!
//! The components are built for that target by the build scripts of
//! `tests/host` and `tests/dev`, which cargo runs only after wasmtime and the
//! rest of the host have compiled: a missing target used to show up as
//! `can't find crate for 'core'` 15 minutes into a first `cargo test`.
//! rustup installs a `rust-toolchain.toml`'s targets by itself only where it
//! may install things by itself (not with `RUSTUP_AUTO_INSTALL=0`, nor with
//! older rustups). This crate has no dependencies, so its build script runs
//! in the first seconds of any build of the workspace and calls [`ensure`].

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// Where `rustc` keeps the target's standard library, if it has it.
pub fn installed(rustc: &Path) -> Result<bool, String> {
    let output = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rustc.display()))?;
    if !output.status.success() {
        // An old rustc that does not know the target at all.
        return Ok(false);
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let has_core = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
        })
        .unwrap_or(false);
    Ok(has_core)
}

/// What [`ensure`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    AlreadyInstalled,
    InstalledByRustup,
}

/// The target is there, or rustup added it; else why not, with the command
/// that fixes it.
pub fn ensure(rustc: &Path, rustup: &Path, workdir: &Path) -> Result<Outcome, String> {
    if installed(rustc)? {
        return Ok(Outcome::AlreadyInstalled);
    }
    let tried = Command::new(rustup)
        .args(["target", "add", TARGET])
        .current_dir(workdir)
        .status();
    let why = match tried {
        Ok(status) if status.success() => {
            if installed(rustc)? {
                return Ok(Outcome::InstalledByRustup);
            }
            "rustup added it, but this rustc still has no standard library for it".to_owned()
        }
        Ok(status) => format!("`rustup target add {TARGET}` failed ({status})"),
        Err(e) => format!("rustup could not be run ({e})"),
    };
    Err(format!(
        "the {TARGET} target is not installed for {}: {why}.\n\
         Run this once, then build again:\n\n    rustup target add {TARGET}\n",
        rustc.display()
    ))
}
