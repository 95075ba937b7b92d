//! Builds the fixture components (their own cargo workspace) for wasm32-wasip2
//! into `<repo>/target/app-wasm`, so `cargo test` needs nothing done by hand.
//! The same target directory and profile as the app's components
//! (tests/dev/build.rs): what both build (spin-sdk, the bindings generator)
//! is compiled once.
use std::path::PathBuf;

include!("build_support.rs");

/// The fixtures' Cargo.toml defines it as the root Cargo.toml does.
const PROFILE: &str = "components-dev";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let fixtures = manifest_dir.join("fixtures");
    let target_dir = manifest_dir.join("../../target/app-wasm");
    println!("cargo:rerun-if-changed=fixtures");
    println!("cargo:rerun-if-changed=../../wit/spin-cron");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build_support.rs");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = wasm_build_command(&cargo);
    command
        .current_dir(&fixtures)
        .args([
            "build",
            "--profile",
            PROFILE,
            "--target",
            "wasm32-wasip2",
            "--workspace",
        ])
        .arg("--manifest-path")
        .arg(fixtures.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    let status = command
        .status()
        .expect("cannot run cargo to build the fixture components");
    assert!(status.success(), "building the fixture components failed");

    let wasm_dir = target_dir
        .join("wasm32-wasip2")
        .join(PROFILE)
        .canonicalize()
        .expect("fixture output directory exists");
    println!(
        "cargo:rustc-env=SPIN_TEST_HOST_FIXTURES={}",
        wasm_dir.display()
    );
}
