// Shared by the build scripts of `tests/host` and `tests/dev` (with `include!`).
// Both run the same nested `cargo build` of every wasm32-wasip2 package the
// tests run, the app's components and the host's fixtures: one feature
// resolution for all of them, so what they share (spin-sdk, the bindings
// generator, the proc macros under it) is compiled once, by whichever script
// runs first; the other finds it all fresh. (Built apart, with a feature
// resolution each, those were compiled twice: about 40 s of a cold build on
// two cores.) The nested build must not see the outer (native) build's
// settings.

include!("../dev/components.rs");

/// The test host's fixture components (`tests/host/fixtures`), by package name.
pub const FIXTURES: [&str; 5] = ["hello", "probe", "cron", "cron_only", "unsupported"];

/// The root Cargo.toml's profile for components built for tests (see there).
const PROFILE: &str = "components-dev";

/// Builds the components and the fixtures into `<root>/target/app-wasm` and
/// returns the directory their `.wasm` files are in.
fn build_wasm_packages(root: &std::path::Path) -> std::path::PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = root.join("target/app-wasm");
    let mut command = wasm_build_command(&cargo);
    command
        .current_dir(root)
        .args(["build", "--profile", PROFILE, "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in COMPONENTS.iter().chain(&FIXTURES) {
        command.args(["-p", package]);
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the wasm components");
    assert!(status.success(), "building the wasm components failed");
    target_dir
        .join("wasm32-wasip2")
        .join(PROFILE)
        .canonicalize()
        .expect("the components' output directory exists")
}

fn wasm_build_command(cargo: &std::ffi::OsStr) -> std::process::Command {
    let mut command = std::process::Command::new(cargo);
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
    command
}
