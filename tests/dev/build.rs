//! Builds the app's components for wasm32-wasip2 into `<repo>/target/app-wasm`,
//! so `cargo test` and `cargo up` run the real `.wasm` files with nothing done
//! by hand. (A separate target directory: the outer build holds `target/`.)
use std::path::PathBuf;

include!("../host/build_support.rs");

include!("components.rs");

/// The root Cargo.toml's profile for components built for tests (see there).
const PROFILE: &str = "components-dev";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..");
    let target_dir = root.join("target/app-wasm");
    for watched in [
        "components",
        "crates",
        "Cargo.toml",
        "Cargo.lock",
        "tests/dev/build.rs",
        "tests/dev/components.rs",
        "tests/host/build_support.rs",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = wasm_build_command(&cargo);
    command
        .current_dir(&root)
        .args(["build", "--profile", PROFILE, "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir);
    for c in COMPONENTS {
        command.args(["-p", c]);
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the app's components");
    assert!(status.success(), "building the app's components failed");
    let wasm_dir = target_dir
        .join("wasm32-wasip2")
        .join(PROFILE)
        .canonicalize()
        .expect("component output directory exists");
    println!("cargo:rustc-env=APP_WASM_DIR={}", wasm_dir.display());
}
