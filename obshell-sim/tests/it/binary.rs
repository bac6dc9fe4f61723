//! The `obshell-sim` command line: its first stdout line and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn prints_the_address_first_and_exits_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_obshell-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--password",
            "pw",
            "--obshell-version",
            "4.3.1.0",
            "--tenants",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base_url = first
        .trim()
        .strip_prefix("obshell-sim listening on ")
        .expect("the address line")
        .to_owned();
    let addr = base_url.strip_prefix("http://").unwrap();
    let state = std::thread::spawn({
        let addr = addr.to_owned();
        move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /sim/v1/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).unwrap();
            text
        }
    })
    .join()
    .unwrap();
    assert!(state.contains(r#""obshell_version":"4.3.1.0""#), "{state}");
    assert!(state.contains(r#""name":"t3""#), "{state}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        child.wait().unwrap().success(),
        "obshell-sim must exit 0 on SIGTERM"
    );
}

#[test]
fn refuses_versions_without_backup_apis() {
    let output = Command::new(env!("CARGO_BIN_EXE_obshell-sim"))
        .args(["--listen", "127.0.0.1:0", "--obshell-version", "4.2.3.0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("4.2.4.0 or newer"));
}

#[test]
fn refuses_a_latency_it_cannot_read() {
    let output = Command::new(env!("CARGO_BIN_EXE_obshell-sim"))
        .args(["--listen", "127.0.0.1:0", "--latency", "5ms,20ms"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("jitter may not be larger"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_obshell-sim"))
        .args(["--listen", "127.0.0.1:0", "--password", "pw"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("obshell-sim listening on "), "{first}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The sim logs at least its start at the default level.
    assert!(stderr.contains("obshell-sim listening"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a pipe: {stderr:?}"
    );
}

#[test]
fn sql_listen_prints_a_second_line_and_speaks_mysql() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_obshell-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--sql-listen",
            "127.0.0.1:0",
            "--password",
            "pw",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    lines.read_line(&mut first).unwrap();
    lines.read_line(&mut second).unwrap();
    assert!(
        first.starts_with("obshell-sim listening on http://"),
        "{first}"
    );
    let sql_addr = second
        .trim()
        .strip_prefix("obshell-sim sql listening on ")
        .expect("the SQL address line")
        .to_owned();
    // A MySQL server speaks first: the handshake packet, protocol version 10.
    let greeting = {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(&sql_addr).unwrap();
        let mut header = [0u8; 5];
        stream.read_exact(&mut header).unwrap();
        header
    };
    assert_eq!(greeting[4], 10, "protocol version 10 handshake");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// TLS material that cannot serve stops the simulator with a message naming the part at fault,
/// never quoting the key; a certificate without its key is refused by the flags.
#[test]
fn refuses_tls_material_it_cannot_use() {
    let dir = std::env::temp_dir().join(format!("obshell-sim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certificate = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(
        &certificate,
        "-----BEGIN CERTIFICATE-----\nMIIBnotacertificate\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(&key, "SECRET-KEY-MATERIAL-8812\n").unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_obshell-sim"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(output.stdout.is_empty());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let cert_arg = certificate.to_str().unwrap();
    let key_arg = key.to_str().unwrap();
    let stderr = run(&["--tls-cert", cert_arg, "--tls-key", key_arg]);
    assert!(stderr.contains("TLS key is not usable"), "{stderr}");
    assert!(!stderr.contains("SECRET-KEY-MATERIAL"), "{stderr}");
    // A file without a certificate in it.
    let stderr = run(&["--tls-cert", key_arg, "--tls-key", key_arg]);
    assert!(stderr.contains("TLS certificate is not usable"), "{stderr}");
    assert!(!stderr.contains("SECRET-KEY-MATERIAL"), "{stderr}");
    let stderr = run(&["--tls-cert", cert_arg]);
    assert!(stderr.contains("--tls-key"), "{stderr}");
    let stderr = run(&["--tls-cert", cert_arg, "--tls-key", "/nonexistent/key.pem"]);
    assert!(stderr.contains("--tls-key: cannot read"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
