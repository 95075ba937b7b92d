//! Builds the app's components for wasm32-wasip2 into `<repo>/target/app-wasm`,
//! so `cargo test` and `cargo up` run the real `.wasm` files with nothing done
//! by hand. (A separate target directory: the outer build holds `target/`.)
//! The same command builds the test host's fixtures (see
//! `tests/host/build_support.rs`), so whichever build script runs first builds
//! both and the other finds them fresh.
use std::path::PathBuf;

include!("../host/build_support.rs");

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..");
    for watched in [
        "components",
        "crates",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "tests/dev/build.rs",
        "tests/dev/components.rs",
        "tests/host/build_support.rs",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let wasm_dir = build_wasm_packages(&root);
    println!("cargo:rustc-env=APP_WASM_DIR={}", wasm_dir.display());
}
