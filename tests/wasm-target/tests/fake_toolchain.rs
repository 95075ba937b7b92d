//! The check against fake `rustc` and `rustup` programs: a toolchain with the
//! target, one without it that rustup can fix, and one it cannot.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use wasm_target_check::{ensure, installed, Outcome};

/// A shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A fake `rustc` whose target libdir for wasm32-wasip2 is `libdir`.
fn rustc(dir: &Path, libdir: &Path) -> PathBuf {
    script(
        dir,
        "rustc",
        &format!(
            r#"[ "$1 $2 $3 $4" = "--print target-libdir --target wasm32-wasip2" ] || exit 2
echo {}"#,
            libdir.display()
        ),
    )
}

#[test]
fn a_toolchain_with_the_target_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let libdir = dir.path().join("lib/rustlib/wasm32-wasip2/lib");
    std::fs::create_dir_all(&libdir).unwrap();
    std::fs::write(libdir.join("libcore-0123.rlib"), b"").unwrap();
    let rustc = rustc(dir.path(), &libdir);
    // A rustup that must not be called.
    let rustup = script(dir.path(), "rustup", "exit 9");
    assert_eq!(installed(&rustc), Ok(true));
    assert_eq!(
        ensure(&rustc, &rustup, dir.path()),
        Ok(Outcome::AlreadyInstalled)
    );
}

#[test]
fn a_missing_target_is_added_by_rustup_when_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let libdir = dir.path().join("lib/rustlib/wasm32-wasip2/lib");
    let rustc = rustc(dir.path(), &libdir);
    let rustup = script(
        dir.path(),
        "rustup",
        &format!(
            r#"[ "$1 $2 $3" = "target add wasm32-wasip2" ] || exit 2
mkdir -p {0} && touch {0}/libcore-0123.rlib"#,
            libdir.display()
        ),
    );
    assert_eq!(installed(&rustc), Ok(false));
    assert_eq!(
        ensure(&rustc, &rustup, dir.path()),
        Ok(Outcome::InstalledByRustup)
    );
    assert_eq!(installed(&rustc), Ok(true));
}

#[test]
fn a_missing_target_rustup_cannot_add_stops_with_the_command_that_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let libdir = dir.path().join("lib/rustlib/wasm32-wasip2/lib");
    let rustc = rustc(dir.path(), &libdir);
    // As with RUSTUP_AUTO_INSTALL=0 and no network: rustup refuses.
    let rustup = script(
        dir.path(),
        "rustup",
        "echo 'error: cannot download' >&2; exit 1",
    );
    let error = ensure(&rustc, &rustup, dir.path()).unwrap_err();
    assert!(error.contains("rustup target add wasm32-wasip2"), "{error}");
    assert!(error.contains("is not installed"), "{error}");
    // No rustup at all.
    let error = ensure(&rustc, &dir.path().join("no-rustup"), dir.path()).unwrap_err();
    assert!(error.contains("rustup target add wasm32-wasip2"), "{error}");
}
