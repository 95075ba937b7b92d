//! Builds the fixture components for wasm32-wasip2 into `<repo>/target/app-wasm`,
//! so `cargo test` needs nothing done by hand. The fixtures are members of the
//! root workspace, built together with the app's components by the same
//! command as `tests/dev/build.rs` runs (see `build_support.rs`).
use std::path::PathBuf;

include!("build_support.rs");

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..");
    for watched in [
        "tests/host/fixtures",
        "wit/spin-cron",
        "tests/host/build.rs",
        "tests/host/build_support.rs",
        "tests/dev/components.rs",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let wasm_dir = build_wasm_packages(&root);
    println!(
        "cargo:rustc-env=SPIN_TEST_HOST_FIXTURES={}",
        wasm_dir.display()
    );
}
