//! `fuzz --target` proven on planted bugs: faulty copies of the Python peer's node, one fault
//! each, are found within a fixed number of inputs at a fixed seed, and each finding replays
//! as a failure against the faulty copy (within `--replay`'s 5 attempts: the node's reads may
//! join a split frame's pieces) and as agreement against the peer in all 5; the unfaulted
//! peer and a reference node run the same inputs with no finding.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use uhome_protocol::Event;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::{server, Dispatch, Node, ReplyFuture};

const BIN: &str = env!("CARGO_BIN_EXE_uhome-conformance");
const INPUTS: &str = "3000";
const SEED: &str = "1";

fn peer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python")
}

/// A Python node, stopped when dropped.
struct PythonNode {
    child: Child,
    addr: String,
}

impl Drop for PythonNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `node.py` from `dir` on an ephemeral loopback port.
fn start_node(dir: &Path) -> PythonNode {
    let mut child = Command::new("python3")
        .arg(dir.join("node.py"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--id",
            "python/fuzzed",
            "--idle-timeout",
            "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the node prints its address: {line:?}"))
        .to_string();
    PythonNode { child, addr }
}

/// A copy of the Python peer with `from` replaced by `to` in `node.py`.
fn faulty_copy(dir: &Path, from: &str, to: &str) {
    for file in [
        "node.py",
        "uhome.py",
        "service.py",
        "secure.py",
        "auth.py",
        "ed25519.py",
    ] {
        std::fs::copy(peer().join(file), dir.join(file)).unwrap();
    }
    let source = std::fs::read_to_string(dir.join("node.py")).unwrap();
    assert!(
        source.contains(from),
        "the fault's text is in node.py: {from}"
    );
    std::fs::write(dir.join("node.py"), source.replacen(from, to, 1)).unwrap();
}

fn fuzz(addr: &str, out: &Path) -> Output {
    Command::new(BIN)
        .args([
            "fuzz",
            "--target",
            addr,
            "--seed",
            SEED,
            "--iterations",
            INPUTS,
        ])
        .args(["--rate", "2000", "--timeout", "3s"])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// Replays a finding (5 attempts at most): its exit code and what it printed.
fn replay(finding: &Path, addr: &str) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(["fuzz", "--target", addr, "--timeout", "3s", "--replay"])
        .arg(finding)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn findings(out: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Plants the fault, requires a finding whose text contains `expect`, and checks that every
/// finding fails against a fresh faulty node and agrees with the unfaulted peer.
fn planted(from: &str, to: &str, expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    faulty_copy(dir.path(), from, to);
    let out = dir.path().join("findings");
    let run = {
        let node = start_node(dir.path());
        fuzz(&node.addr, &out)
    };
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "the fault is found: {stdout}");
    assert!(stdout.contains("FINDING "), "{stdout}");
    assert!(
        stdout.contains(expect),
        "a finding says {expect:?}: {stdout}"
    );
    let files = findings(&out);
    assert!(!files.is_empty(), "{stdout}");
    for file in &files {
        let bytes = std::fs::read(file.with_extension("bin")).unwrap();
        assert!(!bytes.is_empty(), "{} has its bytes", file.display());
        let faulty = start_node(dir.path());
        let (code, said) = replay(file, &faulty.addr);
        assert_eq!(
            code,
            Some(1),
            "{} fails the faulty copy: {said}",
            file.display()
        );
        assert!(said.starts_with("STILL FAILS "), "{said}");
        let unfaulted = start_node(&peer());
        let (code, said) = replay(file, &unfaulted.addr);
        assert_eq!(
            code,
            Some(0),
            "{} agrees with the peer: {said}",
            file.display()
        );
        assert!(
            said.contains("replayed 5 times"),
            "every attempt ran: {said}"
        );
    }
}

#[test]
fn a_node_that_drops_the_last_byte_of_a_split_frame_is_found() {
    planted(
        "            buf += chunk\n",
        "            buf += chunk[:-1] if buf else chunk\n",
        "[Split: too few replies]",
    );
}

#[test]
fn a_node_that_checks_the_status_before_the_version_is_found() {
    planted(
        "            if frame.version not in (uhome.V1, uhome.V2):",
        "            if frame.status != 1:\n                return uhome.error_reply(src, \"bad_status\", \"status first\"), False\n            if frame.version not in (uhome.V1, uhome.V2):",
        "code bad_status where the reference answers µHome.error status 2 code unsupported_version",
    );
}

#[test]
fn a_node_that_answers_one_frame_per_read_is_found() {
    planted(
        "                replies.append(self.reply_to(frame))\n",
        "                replies.append(self.reply_to(frame))\n                break\n",
        "[Pipelined: too few replies]",
    );
}

#[test]
fn a_node_that_exits_on_an_empty_payload_is_found() {
    planted(
        "        src = self.node_id\n",
        "        src = self.node_id\n        if not frame.payload:\n            __import__(\"os\")._exit(70)\n",
        "the node stopped",
    );
}

#[test]
fn the_peer_has_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(&peer());
    let out = dir.path().join("findings");
    let run = fuzz(&node.addr, &out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("NO FINDINGS: {INPUTS} inputs")),
        "{stdout}"
    );
    assert!(findings(&out).is_empty());
}

struct NoHandlers;

impl Dispatch for NoHandlers {
    fn dispatch(&self, _: u16, _: &Event<'_>) -> Option<ReplyFuture> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_node_has_no_finding() {
    let node = Arc::new(Node::new(
        "reference/fuzzed",
        Arc::new(NoHandlers),
        ServerConfig::default(),
    ));
    let handle = server::spawn("127.0.0.1:0", node).await.unwrap();
    let addr = handle.local_addr().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("findings");
    let run = tokio::task::spawn_blocking(move || fuzz(&addr, &out))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("NO FINDINGS: {INPUTS} inputs")),
        "{stdout}"
    );
    handle.shutdown().await;
}
