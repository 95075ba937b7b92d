//! Builds the fixture components (their own cargo workspace) for wasm32-wasip2
//! into `<repo>/target/fixtures`, so `cargo test` needs nothing done by hand.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let fixtures = manifest_dir.join("fixtures");
    let target_dir = manifest_dir.join("../../target/fixtures");
    println!("cargo:rerun-if-changed=fixtures");
    println!("cargo:rerun-if-changed=../../wit/spin-cron");
    println!("cargo:rerun-if-changed=build.rs");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&fixtures)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
        ])
        .arg("--manifest-path")
        .arg(fixtures.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // Settings of the outer (native) build must not reach the wasm build.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        command.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        if var.starts_with("CARGO_PROFILE_")
            || var.starts_with("CARGO_CFG_")
            || var.starts_with("CARGO_FEATURE_")
        {
            command.env_remove(var.as_ref());
        }
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the fixture components");
    assert!(status.success(), "building the fixture components failed");

    let wasm_dir = target_dir
        .join("wasm32-wasip2/release")
        .canonicalize()
        .expect("fixture output directory exists");
    println!(
        "cargo:rustc-env=SPIN_TEST_HOST_FIXTURES={}",
        wasm_dir.display()
    );
}
