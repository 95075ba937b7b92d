//! The `spin-test-host` binary: `check`, and `up` with variables from flags and the environment.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const HOST: &str = env!("CARGO_BIN_EXE_spin-test-host");

fn app_with_required_variable() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let probe = Path::new(env!("SPIN_TEST_HOST_FIXTURES")).join("probe.wasm");
    let manifest = format!(
        r#"spin_manifest_version = 2
[variables]
token = {{ required = true }}
[[trigger.http]]
route = "/..."
component = "probe"
[component.probe]
source = "{}"
variables = {{ token = "{{{{ token }}}}" }}
"#,
        probe.display()
    );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    dir
}

#[test]
fn check_accepts_the_demo_app() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/probe/spin.toml");
    let output = Command::new(HOST)
        .arg("check")
        .arg("--from")
        .arg(manifest)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn up_refuses_to_start_without_a_required_variable() {
    let app = app_with_required_variable();
    let output = Command::new(HOST)
        .args(["up", "--no-build", "--listen", "127.0.0.1:0", "--from"])
        .arg(app.path().join("spin.toml"))
        .env_remove("SPIN_VARIABLE_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("variable `token` is required"), "{stderr}");
}

/// A running `up`, killed when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `up` and returns it with the address it printed.
fn serve(app: &Path, args: &[&str], env: &[(&str, &str)]) -> (Served, String) {
    let mut child = Command::new(HOST)
        .args(["up", "--no-build", "--listen", "127.0.0.1:0", "--from"])
        .arg(app.join("spin.toml"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let served = Served(child);
    for line in stdout.by_ref() {
        if let Some(addr) = line.unwrap().strip_prefix("Serving http://") {
            // Keep reading what the host prints next (its routes), or its
            // writes to a closed pipe would fail.
            std::thread::spawn(move || stdout.for_each(drop));
            return (served, addr.to_string());
        }
    }
    panic!("the host exited without serving");
}

fn get_body(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn up_takes_variables_from_the_environment_and_flags() {
    let app = app_with_required_variable();
    let (_served, addr) = serve(app.path(), &[], &[("SPIN_VARIABLE_TOKEN", "from-env")]);
    let response = get_body(&addr, "/?op=var&name=token");
    assert!(response.contains("from-env"), "{response}");

    let (_served, addr) = serve(
        app.path(),
        &["--variable", "token=from-flag"],
        &[("SPIN_VARIABLE_TOKEN", "from-env")],
    );
    let response = get_body(&addr, "/?op=var&name=token");
    assert!(response.contains("from-flag"), "{response}");
}
