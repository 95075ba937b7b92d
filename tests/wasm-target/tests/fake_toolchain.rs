//! `rustc-wrapper` against fake `rustc` and `rustup` programs on `PATH`: a
//! toolchain with the target, one without it that rustup can fix, and one it
//! cannot fix (as with `RUSTUP_AUTO_INSTALL=0` and no network).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A copy of the repository's layout around the wrapper (its marker goes to
/// `<root>/target`), a `bin/` for the fakes, and where the fake rustc keeps
/// the target's library.
struct Fake {
    root: tempfile::TempDir,
}

impl Fake {
    fn new() -> Fake {
        let root = tempfile::tempdir().unwrap();
        let wrapper_dir = root.path().join("tests/wasm-target");
        std::fs::create_dir_all(&wrapper_dir).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("rustc-wrapper"),
            wrapper_dir.join("rustc-wrapper"),
        )
        .unwrap();
        std::fs::create_dir_all(root.path().join("bin")).unwrap();
        let fake = Fake { root };
        script(
            &fake.bin(),
            "rustc",
            &format!(
                r#"[ "$1 $2 $3 $4" = "--print target-libdir --target wasm32-wasip2" ] || exit 2
echo {}"#,
                fake.libdir().display()
            ),
        );
        fake
    }

    fn bin(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    fn libdir(&self) -> PathBuf {
        self.root
            .path()
            .join("sysroot/lib/rustlib/wasm32-wasip2/lib")
    }

    fn install_target(&self) {
        std::fs::create_dir_all(self.libdir()).unwrap();
        std::fs::write(self.libdir().join("libcore-0123.rlib"), b"").unwrap();
    }

    fn rustup(&self, body: &str) {
        script(&self.bin(), "rustup", body);
    }

    /// Runs the wrapper as cargo would, around `echo compiled`.
    fn run(&self) -> Output {
        let path = format!(
            "{}:{}",
            self.bin().display(),
            std::env::var("PATH").unwrap()
        );
        let mut command = Command::new(self.root.path().join("tests/wasm-target/rustc-wrapper"));
        command
            .args(["echo", "compiled"])
            .env("PATH", path)
            .env("RUSTUP_TOOLCHAIN", "fake");
        // A test on another thread that forks while this test's scripts are
        // being written holds them open for writing until its child execs;
        // running one then fails with "text file busy" for a moment.
        for _ in 0..100 {
            match command.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                answer => return answer.unwrap(),
            }
        }
        panic!("the wrapper stayed busy for a second")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_toolchain_with_the_target_runs_the_compiler_and_asks_nothing_of_rustup() {
    let fake = Fake::new();
    fake.install_target();
    fake.rustup("exit 9");
    let out = fake.run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "compiled\n");
}

#[test]
fn a_missing_target_is_added_by_rustup_then_the_compiler_runs() {
    let fake = Fake::new();
    fake.rustup(&format!(
        r#"[ "$1 $2 $3" = "target add wasm32-wasip2" ] || exit 2
mkdir -p {0} && touch {0}/libcore-0123.rlib"#,
        fake.libdir().display()
    ));
    let out = fake.run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "compiled\n");
    assert!(fake.libdir().join("libcore-0123.rlib").exists());
    // Checked once per toolchain: later calls do not look again.
    fake.rustup("exit 9");
    std::fs::remove_dir_all(fake.libdir()).unwrap();
    assert!(fake.run().status.success());
}

#[test]
fn a_missing_target_rustup_cannot_add_stops_the_build_with_the_command_that_fixes_it() {
    let fake = Fake::new();
    fake.rustup("echo 'error: will not install: RUSTUP_AUTO_INSTALL=0' >&2; exit 1");
    let out = fake.run();
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), "", "the compiler must not run");
    let said = text(&out.stderr);
    assert!(
        said.contains("    rustup target add wasm32-wasip2"),
        "{said}"
    );
    assert!(said.contains("is not installed"), "{said}");
    // Nothing was marked: the next build checks again.
    fake.install_target();
    assert!(fake.run().status.success());
}

#[test]
fn the_compiler_gets_every_variable_cargo_set_even_those_no_shell_could_name() {
    let fake = Fake::new();
    fake.install_target();
    let path = format!(
        "{}:{}",
        fake.bin().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new(fake.root.path().join("tests/wasm-target/rustc-wrapper"))
        .arg("env")
        .env("PATH", path)
        .env("CARGO_BIN_EXE_spin-test-host", "/bin/host")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("CARGO_BIN_EXE_spin-test-host=/bin/host"),
        "{}",
        text(&out.stdout)
    );
}
