//! `websrm agent`: a point of sale in Python driving the agent.

use crate::support::*;

/// A program in another language (Python, standard library only) does the whole walkthrough of
/// docs/AGENT.md against `websrm agent serve`, which stops cleanly on SIGTERM.
#[test]
fn a_python_point_of_sale_drives_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let store = dir.path().join("pos.db");
    let socket = dir.path().join("agent.sock");
    let mut agent = Command::new(WEBSRM)
        .args([
            "agent",
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--socket",
            socket.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            authority_dir.join("tls-root.pem").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(agent.stdout.take().unwrap()).lines();
    let url = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("agent listening on ")
        .expect("the listening line")
        .to_owned();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("agent listening on unix:{}", socket.display())
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/agent_client.py");
    let token = format!("{}.agent-token", store.display());
    let out = Command::new("python3")
        .arg(&script)
        .args([&url, &token])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
    assert!(socket.exists(), "the Unix socket is served");
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let meta = std::fs::symlink_metadata(&socket).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "owner-only socket"
        );
    }
    // A second agent told to use a path that is not a socket refuses, and leaves it as it was.
    let not_a_socket = dir.path().join("notes.txt");
    std::fs::write(&not_a_socket, "keep me").unwrap();
    let refused = Command::new(WEBSRM)
        .args([
            "agent",
            "serve",
            "--store",
            dir.path().join("other.db").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--socket",
            not_a_socket.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            authority_dir.join("tls-root.pem").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not a socket"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(std::fs::read_to_string(&not_a_socket).unwrap(), "keep me");

    let killed = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(agent.wait().unwrap().success());
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert!(!socket.exists(), "the socket is removed on stop");
}
