// Checks for the wasm32-wasip2 target before anything big compiles
// (see src/lib.rs).
#[path = "src/lib.rs"]
mod check;

use check::{ensure, Outcome, TARGET};
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/lib.rs");
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");
    let rustc = PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    let rustup = PathBuf::from(std::env::var_os("RUSTUP").unwrap_or_else(|| "rustup".into()));
    let workdir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    match ensure(&rustc, &rustup, &workdir) {
        Ok(Outcome::AlreadyInstalled) => {}
        Ok(Outcome::InstalledByRustup) => {
            println!("cargo:warning=installed the {TARGET} target with rustup");
        }
        Err(message) => {
            eprintln!("\n{message}");
            std::process::exit(1);
        }
    }
}
