//! The `uhome` binary as a user runs it: the README walkthrough on ephemeral ports, exit
//! statuses, the REPL, and `--help` on every subcommand.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const UHOME: &str = env!("CARGO_BIN_EXE_uhome");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    Running(
        Command::new(UHOME)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("uhome starts"),
    )
}

fn run(args: &[&str]) -> Output {
    Command::new(UHOME).args(args).output().expect("uhome runs")
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn wait_healthy(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if run(&["send", addr, "µHome.core.healthcheck", "--timeout", "500ms"])
            .status
            .success()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{addr} never became healthy");
}

/// Lines a child prints on stdout, collected in the background.
fn lines(child: &mut Running) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn the_readme_walkthrough_works() {
    let (broker, registry, service) = (free_port(), free_port(), free_port());
    let broker_addr = format!("127.0.0.1:{broker}");
    let registry_addr = format!("127.0.0.1:{registry}");
    let service_addr = format!("127.0.0.1:{service}");
    let _mesh = spawn(&[
        "mesh",
        "--memory",
        "--broker-listen",
        &broker_addr,
        "--registry-listen",
        &registry_addr,
    ]);
    wait_healthy(&broker_addr);
    wait_healthy(&registry_addr);
    let mut lamp = spawn(&[
        "service",
        "--id",
        "lamp",
        "--port",
        &service.to_string(),
        "--registry",
        &registry_addr,
        "--broker",
        &broker_addr,
        "--log",
        "home.>",
        "--echo",
        "ping",
    ]);
    let printed = lines(&mut lamp);
    wait_healthy(&service_addr);

    let nodes = json(&run(&["nodes", "--registry", &registry_addr]));
    assert_eq!(
        nodes,
        serde_json::json!([{"nodeId": "lamp", "address": service_addr}])
    );

    let mut report = serde_json::Value::Null;
    for _ in 0..50 {
        report = json(&run(&[
            "publish",
            "home.lamp.on",
            r#"{"level": 80}"#,
            "--broker",
            &broker_addr,
        ]));
        if report["delivered"] == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(report, serde_json::json!({"delivered": 1, "failed": []}));
    let line = printed
        .recv_timeout(Duration::from_secs(5))
        .expect("the service prints the event");
    assert!(
        line.contains("lamp received home.lamp.on from uhome/cli: {\"level\":80}"),
        "{line}"
    );

    // --no-wait: answered before delivery with how many started; the event still arrives.
    let queued = json(&run(&[
        "publish",
        "home.lamp.off",
        "--no-wait",
        "--broker",
        &broker_addr,
    ]));
    assert_eq!(queued, serde_json::json!({"queued": 1}));
    let line = printed
        .recv_timeout(Duration::from_secs(5))
        .expect("the service prints the queued event");
    assert!(line.contains("lamp received home.lamp.off"), "{line}");

    let echo = run(&["send", &service_addr, "ping", "\"hi\""]);
    assert!(echo.status.success());
    assert_eq!(json(&echo)["event"]["data"]["echo"], "hi");

    let refused = run(&["send", &registry_addr, "µHome.core.register", "{}"]);
    assert_eq!(refused.status.code(), Some(12), "status 2 → exit 12");
    assert_eq!(json(&refused)["event"]["error"]["code"], "invalid_data");

    let mut repl = Command::new(UHOME)
        .args([
            "repl",
            "--broker",
            &broker_addr,
            "--registry",
            &registry_addr,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(
        "help\nnodes\nsend {service_addr} ping '{{\"n\": 1}}'\npublish home.x\nbogus\nexit\n"
    );
    repl.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = repl.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success());
    assert!(text.contains("jobs"), "help: {text}");
    assert!(text.contains("\"nodeId\": \"lamp\""), "nodes: {text}");
    assert!(text.contains("\"n\": 1"), "send: {text}");
    assert!(text.contains("\"delivered\": 1"), "publish: {text}");
    assert!(
        errors.contains("unrecognized subcommand 'bogus'"),
        "{errors}"
    );

    let pid = lamp.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while lamp.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        lamp.0.try_wait().unwrap().is_some_and(|s| s.success()),
        "graceful exit on SIGTERM"
    );
    assert_eq!(
        json(&run(&["nodes", "--registry", &registry_addr])),
        serde_json::json!([]),
        "unregistered on shutdown"
    );
}

#[test]
fn exit_statuses_and_usage_errors() {
    let nobody = format!("127.0.0.1:{}", free_port());
    let out = run(&["send", &nobody, "x", "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(1), "no reply");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
    let out = run(&["send", &nobody, "x", "not json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATA must be JSON"));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "mesh", "broker", "registry", "service", "send", "publish", "nodes", "sub", "repl",
        "bench", "key",
    ] {
        let out = run(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: uhome"),
            "{sub}"
        );
    }
    let out = run(&["--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("mesh"));
}

#[test]
fn the_repl_runs_nodes_in_the_background() {
    let (broker, registry, service) = (free_port(), free_port(), free_port());
    let (b, r) = (
        format!("127.0.0.1:{broker}"),
        format!("127.0.0.1:{registry}"),
    );
    let mut repl = Command::new(UHOME)
        .args(["repl", "--broker", &b, "--registry", &r])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = repl.stdin.take().unwrap();
    let mut say = |line: &str| stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
    say(&format!(
        "mesh --memory --broker-listen {b} --registry-listen {r}"
    ));
    std::thread::sleep(Duration::from_millis(500));
    say(&format!(
        "service --id desk --port {service} --registry {r} --broker {b} --log 'office.>'"
    ));
    say("jobs");
    std::thread::sleep(Duration::from_secs(3));
    say("publish office.light '{\"on\": true}'");
    std::thread::sleep(Duration::from_millis(500));
    say("nodes");
    say("stop 2");
    say("exit");
    drop(stdin);
    let out = repl.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[1] started: mesh"), "{text}");
    assert!(text.contains("[2] service --id desk"), "jobs: {text}");
    assert!(
        text.contains("desk received office.light from uhome/cli: {\"on\":true}"),
        "{text}"
    );
    assert!(text.contains("\"nodeId\": \"desk\""), "{text}");
    assert!(text.contains("stopped: service"), "{text}");
    assert!(
        text.contains("stopped: mesh"),
        "exit stops the rest: {text}"
    );
}

/// v0.0.1's reply bytes for capture `id` of `spec/vectors/legacy-exchanges.json`.
fn legacy_reply(id: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../spec/vectors/legacy-exchanges.json");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exchange = file["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == format!("legacy-exchanges/{id}"))
        .unwrap();
    hex::decode(exchange["legacyReplies"][0]["hex"].as_str().unwrap()).unwrap()
}

/// A node that answers every request with `reply`, one request per connection.
fn fake_node(reply: Vec<u8>) -> String {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut header = [0u8; 5];
            if stream.read_exact(&mut header).is_err() {
                continue;
            }
            let mut payload = vec![0u8; u16::from_be_bytes([header[0], header[1]]) as usize];
            if stream.read_exact(&mut payload).is_ok() {
                let _ = stream.write_all(&reply);
            }
        }
    });
    addr
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn no_handler_and_codeless_refusals_never_look_like_success() {
    let legacy = fake_node(legacy_reply("6-unknown-type"));
    let out = run(&["nodes", "--registry", &legacy]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no `null` printed");
    assert!(
        stderr(&out).contains(&format!(
            "{legacy} has no handler for µHome.core.discover: is it a µHome registry?"
        )),
        "{}",
        stderr(&out)
    );
    let out = run(&["publish", "home.x", "--broker", &legacy]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no empty report printed");
    assert!(
        stderr(&out).contains(&format!(
            "{legacy} has no handler for µHome.core.publish: is it a µHome broker?"
        )),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "send",
        &legacy,
        "µHome.core.unsubscribe",
        r#"{"unsubscribe": "x"}"#,
    ]);
    assert_eq!(
        out.status.code(),
        Some(11),
        "a core type answered no_handler"
    );
    assert_eq!(json(&out)["status"], 1, "the reply is still printed");
    assert!(stderr(&out).contains("has no handler for µHome.core.unsubscribe"));
    let out = run(&["send", &legacy, "home.anything"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "an application type is not judged"
    );

    let out = run(&[
        "service",
        "--port",
        "0",
        "--registry",
        &legacy,
        "--broker",
        &legacy,
        "--log",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "{legacy} has no handler for µHome.core.register: is it a µHome registry?"
        )),
        "{}",
        stderr(&out)
    );

    // A v0.0.1 refusal has a reason but no code: the message shows no empty code.
    let refusing = fake_node(legacy_reply("4a-subscribe-not-registered"));
    let out = run(&["publish", "home.x", "--broker", &refusing]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("the broker refused µHome.core.publish: Failed to subscribe for microservice to event (Node is not registered) [no code: a v0.0.1 node?]"),
        "{text}"
    );
    assert!(!text.contains(":  —"), "{text}");

    // Our own nodes in the wrong role, and the REPL.
    let (broker, registry) = (free_port(), free_port());
    let (b, r) = (
        format!("127.0.0.1:{broker}"),
        format!("127.0.0.1:{registry}"),
    );
    let _mesh = spawn(&[
        "mesh",
        "--memory",
        "--broker-listen",
        &b,
        "--registry-listen",
        &r,
    ]);
    wait_healthy(&b);
    wait_healthy(&r);
    let out = run(&["nodes", "--registry", &b]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("{b} has no handler for µHome.core.discover")));
    let out = run(&["publish", "x", "--broker", &r]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("{r} has no handler for µHome.core.publish")));
    let mut repl = Command::new(UHOME)
        .args(["repl", "--broker", &legacy, "--registry", &legacy])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    repl.stdin
        .take()
        .unwrap()
        .write_all(b"nodes\npublish a.b\nexit\n")
        .unwrap();
    let out = repl.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "error: {legacy} has no handler for µHome.core.discover: is it a µHome registry?"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "error: {legacy} has no handler for µHome.core.publish: is it a µHome broker?"
        )),
        "{text}"
    );
    assert!(!text.contains("null"), "{text}");
}

/// Waits until the registry lists a node whose id starts with `prefix`.
fn wait_listed(registry: &str, prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let out = run(&["nodes", "--registry", registry]);
        if out.status.success()
            && json(&out)
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["nodeId"].as_str().unwrap().starts_with(prefix))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{prefix} never registered");
}

fn wait_exit(child: &mut Running, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn uhome_sub_prints_events_and_unregisters_on_exit_and_ctrl_c() {
    let (broker, registry) = (free_port(), free_port());
    let (b, r) = (
        format!("127.0.0.1:{broker}"),
        format!("127.0.0.1:{registry}"),
    );
    let _mesh = spawn(&[
        "mesh",
        "--memory",
        "--broker-listen",
        &b,
        "--registry-listen",
        &r,
    ]);
    wait_healthy(&b);
    wait_healthy(&r);
    let empty = || json(&run(&["nodes", "--registry", &r])) == serde_json::json!([]);

    let mut sub = spawn(&[
        "sub",
        "home.>",
        "office.*",
        "--json",
        "--count",
        "2",
        "--id",
        "watcher",
        "--registry",
        &r,
        "--broker",
        &b,
    ]);
    let printed = lines(&mut sub);
    wait_listed(&r, "watcher");
    for (event_type, data) in [
        ("home.lamp.on", r#"{"level": 80}"#),
        ("garden.gate", "1"),
        ("office.door", "\"open\""),
    ] {
        let out = run(&["publish", event_type, data, "--broker", &b]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(wait_exit(&mut sub, Duration::from_secs(10)).success());
    let got: Vec<serde_json::Value> = printed
        .iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["type"], "home.lamp.on");
    assert_eq!(got[0]["data"], serde_json::json!({"level": 80}));
    assert_eq!(got[0]["source"], "uhome/cli");
    assert_eq!(got[1]["type"], "office.door");
    assert!(empty(), "unregistered after --count");

    let mut sub = spawn(&["sub", "home.>", "--registry", &r, "--broker", &b]);
    let printed = lines(&mut sub);
    wait_listed(&r, "uhome/sub-");
    assert!(run(&["publish", "home.x", "[1,2]", "--broker", &b])
        .status
        .success());
    let line = printed.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(line.ends_with(" home.x from uhome/cli: [1,2]"), "{line}");
    let pid = sub.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(wait_exit(&mut sub, Duration::from_secs(10)).success());
    assert!(empty(), "unregistered on Ctrl-C");

    let out = run(&[
        "sub",
        "quiet.>",
        "--count",
        "1",
        "--timeout",
        "500ms",
        "--registry",
        &r,
        "--broker",
        &b,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("timed out after 500ms: 0 of 1 events"),
        "{}",
        stderr(&out)
    );
    assert!(empty(), "unregistered on timeout");

    let mut repl = Command::new(UHOME)
        .args(["repl", "--broker", &b, "--registry", &r])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = repl.stdin.take().unwrap();
    stdin
        .write_all(b"sub 'den.>' --id den-watch --count 1\n")
        .unwrap();
    wait_listed(&r, "den-watch");
    stdin
        .write_all(b"publish den.light '\"on\"'\njobs\nexit\n")
        .unwrap();
    drop(stdin);
    let out = repl.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" den.light from uhome/cli: \"on\""), "{text}");
    assert!(text.contains("[1] sub 'den.>'"), "{text}");
    assert!(empty(), "the REPL's sub unregistered");
}

/// The long flags `uhome COMMAND --help` lists.
fn flags_of(command: &str) -> Vec<String> {
    let help = String::from_utf8(run(&[command, "--help"]).stdout).unwrap();
    let mut flags: Vec<String> = help
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let start = l.find("--")?;
            (start <= 4).then(|| {
                l[start + 2..]
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        })
        .filter(|f| !["help", "version", "config"].contains(&f.as_str()))
        .collect();
    flags.dedup();
    flags
}

/// Runs `uhome ARGS` expected to exit by itself; kills it after 10 s.
fn run_bounded(args: &[&str]) -> Output {
    let mut child = Command::new(UHOME)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("uhome {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn config_files_have_a_key_for_every_flag_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["mesh", "broker", "registry", "service"] {
        let out = run(&["config", "example", command]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{command}: {e}"));
        let flags = flags_of(command);
        assert!(flags.len() >= 5, "{command}: {flags:?}");
        for flag in flags {
            let key = flag.replace('-', "_");
            assert!(
                text.lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = "))),
                "{command}: no key for --{flag}"
            );
        }
        assert!(text.lines().filter(|l| l.starts_with('#')).count() > table.len());
    }

    // The example runs as it is, with the addresses changed.
    let (broker, registry) = (free_port(), free_port());
    let (b, r) = (
        format!("127.0.0.1:{broker}"),
        format!("127.0.0.1:{registry}"),
    );
    let example = String::from_utf8(run(&["config", "example", "mesh"]).stdout)
        .unwrap()
        .replace("127.0.0.1:5100", &b)
        .replace("127.0.0.1:5101", "127.0.0.1:1")
        .replace("# memory = false", "memory = true");
    let file = write(dir.path(), "mesh.toml", &example);
    // --registry-listen overrides the file's unusable port 1.
    let _mesh = spawn(&["mesh", "--config", &file, "--registry-listen", &r]);
    wait_healthy(&b);
    wait_healthy(&r);

    // A service from a file; --id on the command line wins over the file's id.
    let service = free_port();
    let file = write(
        dir.path(),
        "service.toml",
        &format!(
            "id = \"from-file\"\nport = {service}\nregistry = \"{r}\"\nbroker = \"{b}\"\nlog = [\"home.>\", \"garden.*\"]\nrefresh_interval = \"2s\"\n"
        ),
    );
    let mut lamp = spawn(&["service", "--config", &file, "--id", "from-flag"]);
    let printed = lines(&mut lamp);
    wait_listed(&r, "from-flag");
    assert_eq!(
        json(&run(&["nodes", "--registry", &r])),
        serde_json::json!([{"nodeId": "from-flag", "address": format!("127.0.0.1:{service}")}])
    );
    assert!(run(&["publish", "garden.gate", "1", "--broker", &b])
        .status
        .success());
    let line = printed.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(line.contains("from-flag received garden.gate"), "{line}");

    // Conflicting flags: --listen on the command line sets aside the file's port.
    let other = free_port();
    let mut moved = spawn(&[
        "service",
        "--config",
        &file,
        "--id",
        "moved",
        "--listen",
        &format!("127.0.0.1:{other}"),
    ]);
    wait_listed(&r, "moved");
    let _ = moved.0.kill();

    // Unknown keys, wrong types and bad values name the key or the file. Each file would
    // otherwise start a mesh on free ports in memory.
    let spare = format!("127.0.0.1:{}", free_port());
    let registry_line = format!("registry_listen = \"127.0.0.1:{}\"\n", free_port());
    let safe = format!("memory = true\n{registry_line}");
    for (text, expected) in [
        (
            "colour = \"blue\"\n",
            "unknown key `colour` for `uhome mesh`",
        ),
        (
            "evict_after = true\n",
            "`evict_after` takes a string or a number",
        ),
        (
            "broker_listen = [\"a\", \"b\"]\n",
            "`broker_listen` takes one value",
        ),
        (
            "health_interval = \"soon\"\n",
            "invalid value 'soon' for '--health-interval",
        ),
        ("broker_listen = \n", "mesh-bad.toml"),
    ] {
        let file = write(dir.path(), "mesh-bad.toml", &format!("{safe}{text}"));
        let out = run_bounded(&["mesh", "--config", &file, "--broker-listen", &spare]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(stderr(&out).contains(expected), "{text}: {}", stderr(&out));
    }
    let file = write(
        dir.path(),
        "mesh-bad.toml",
        &format!("memory = \"yes\"\nbroker_listen = \"{spare}\"\n{registry_line}"),
    );
    let out = run_bounded(&["mesh", "--config", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`memory` is true or false"),
        "{}",
        stderr(&out)
    );
    let out = run_bounded(&["mesh", "--config", "/nonexistent/uhome.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read /nonexistent/uhome.toml"));
    let _ = lamp.0.kill();
}

#[test]
fn the_systemd_unit_runs_the_mesh_with_its_state_directory_and_restarts_it() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/uhome-mesh.service"),
    )
    .unwrap();
    let setting = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}="))
            .to_string()
    };
    assert_eq!(setting("StateDirectory"), "uhome");
    assert_eq!(setting("Restart"), "on-failure");
    let exec = setting("ExecStart");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(words[0], "/usr/local/bin/uhome");
    assert!(exec.contains("--data-dir ${STATE_DIRECTORY}"), "{exec}");

    // The unit's command line, with a configuration file and a state directory here.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (broker, registry) = (free_port(), free_port());
    let (b, r) = (
        format!("127.0.0.1:{broker}"),
        format!("127.0.0.1:{registry}"),
    );
    let config = write(
        dir.path(),
        "mesh.toml",
        &String::from_utf8(run(&["config", "example", "mesh"]).stdout)
            .unwrap()
            .replace("127.0.0.1:5100", &b)
            .replace("127.0.0.1:5101", &r),
    );
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| match *w {
            "/etc/uhome/mesh.toml" => config.clone(),
            "${STATE_DIRECTORY}" => state.to_string_lossy().into_owned(),
            w => w.to_string(),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _mesh = spawn(&args);
    wait_healthy(&b);
    wait_healthy(&r);
    assert!(
        state.join("registry.log").exists(),
        "the state is kept there"
    );
}

#[test]
fn the_broker_logs_the_node_list_only_when_it_changes_and_says_how() {
    let (broker, registry, service) = (free_port(), free_port(), free_port());
    let (b, r) = (
        format!("127.0.0.1:{broker}"),
        format!("127.0.0.1:{registry}"),
    );
    let mesh = Command::new(UHOME)
        .args([
            "mesh",
            "--memory",
            "--health-interval",
            "100ms",
            "--broker-listen",
            &b,
            "--registry-listen",
            &r,
        ])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(&b);
    wait_healthy(&r);
    let _lamp = spawn(&[
        "service",
        "--id",
        "lamp",
        "--port",
        &service.to_string(),
        "--registry",
        &r,
        "--broker",
        &b,
        "--log",
        "home.>",
        "--refresh-interval",
        "200ms",
    ]);
    wait_listed(&r, "lamp");
    // Twenty health rounds, each pushing the same list to the broker, and ten refreshes of
    // the service, each subscribing again.
    std::thread::sleep(Duration::from_secs(2));
    let pid = mesh.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = mesh.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let list_lines: Vec<&str> = log.lines().filter(|l| l.contains("node list")).collect();
    assert_eq!(list_lines.len(), 1, "{log}");
    assert!(
        list_lines[0].contains(&format!("node list: +lamp (127.0.0.1:{service})")),
        "{log}"
    );
    let count = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("uhome_runtime::broker: subscribed"), 1, "{log}");
    assert_eq!(count("uhome_runtime::registry: registered"), 1, "{log}");
}

#[test]
fn uhome_service_waits_for_a_mesh_started_later_and_logs_each_wait_once() {
    let (broker, registry, service) = (free_port(), free_port(), free_port());
    let (b, r) = (
        format!("127.0.0.1:{broker}"),
        format!("127.0.0.1:{registry}"),
    );
    let out = run_bounded(&[
        "service",
        "--port",
        "0",
        "--registry",
        &r,
        "--broker",
        &b,
        "--give-up-after",
        "500ms",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "uhome: gave up after 500ms: cannot reach the registry at {r}"
        )),
        "{}",
        stderr(&out)
    );

    let mut lamp = Command::new(UHOME)
        .args([
            "service",
            "--id",
            "early-lamp",
            "--port",
            &service.to_string(),
            "--registry",
            &r,
            "--broker",
            &b,
            "--log",
            "home.>",
        ])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let printed = {
        let stdout = lamp.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    };
    wait_healthy(&format!("127.0.0.1:{service}"));
    std::thread::sleep(Duration::from_secs(3));
    let _mesh = spawn(&[
        "mesh",
        "--memory",
        "--broker-listen",
        &b,
        "--registry-listen",
        &r,
    ]);
    wait_listed(&r, "early-lamp");
    let mut delivered = serde_json::Value::Null;
    for _ in 0..50 {
        delivered = json(&run(&["publish", "home.hall", "1", "--broker", &b]))["delivered"].clone();
        if delivered == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(delivered, 1);
    let line = printed.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(line.contains("early-lamp received home.hall"), "{line}");
    let pid = lamp.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = lamp.wait_with_output().unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let waits: Vec<&str> = log.lines().filter(|l| l.contains("next try in")).collect();
    assert!(waits.len() >= 3, "{log}");
    let distinct: std::collections::HashSet<&str> = waits
        .iter()
        .map(|l| l.split("next try in ").nth(1).unwrap_or_default())
        .collect();
    assert_eq!(distinct.len(), waits.len(), "one line per step: {log}");
    assert!(
        log.contains("reached the registry and the broker after"),
        "{log}"
    );
    assert!(log.contains("unregistered"), "{log}");
}

/// `uhome key new FILE`, and the public key it prints.
fn new_key(dir: &std::path::Path, name: &str) -> (String, String) {
    let path = dir.join(format!("{name}.key"));
    let path = path.to_str().unwrap().to_string();
    let out = run(&["key", "new", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("public "))
        .unwrap()
        .to_string();
    assert_eq!(public.len(), 64, "{text}");
    (path, public)
}

#[test]
fn key_files_are_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (path, public) = new_key(dir.path(), "node");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let shown = run(&["key", "show", &path]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&public));
    let again = run(&["key", "new", &path]);
    assert!(!again.status.success(), "overwrote the key");
    let shown = run(&["key", "show", &path]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains(&public),
        "the key changed"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let exposed = run(&["key", "show", &path]);
    assert!(!exposed.status.success());
    assert!(
        stderr(&exposed).contains("chmod 600"),
        "{}",
        stderr(&exposed)
    );
}

#[test]
fn the_secure_walkthrough_works() {
    let dir = tempfile::tempdir().unwrap();
    let (registry_key, registry_public) = new_key(dir.path(), "registry");
    let (broker_key, broker_public) = new_key(dir.path(), "broker");
    let (lamp_key, lamp_public) = new_key(dir.path(), "lamp");
    let (cli_key, cli_public) = new_key(dir.path(), "cli");
    let policy = write(
        dir.path(),
        "policy.toml",
        &format!(
            r#"mode = "secure"

[[node]]
id = "µHome/core/serviceRegistry"
key = "{registry_public}"
role = "registry"

[[node]]
id = "µHome/core/eventBroker"
key = "{broker_public}"
role = "broker"

[[node]]
id = "lamp"
key = "{lamp_public}"
subscribe = ["home.>"]

[[node]]
id = "uhome/cli"
key = "{cli_public}"
publish = ["home.lamp.*"]
"#
        ),
    );
    let (broker, registry) = (free_port(), free_port());
    let broker_addr = format!("127.0.0.1:{broker}");
    let registry_addr = format!("127.0.0.1:{registry}");
    let _mesh = spawn(&[
        "mesh",
        "--memory",
        "--broker-listen",
        &broker_addr,
        "--registry-listen",
        &registry_addr,
        "--policy",
        &policy,
        "--registry-key-file",
        &registry_key,
        "--broker-key-file",
        &broker_key,
    ]);
    let signed = ["--key-file", cli_key.as_str(), "--policy", policy.as_str()];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut args = vec!["send", &broker_addr, "µHome.core.healthcheck", "--to"];
        args.extend(["µHome/core/eventBroker", "--timeout", "500ms"]);
        args.extend(signed);
        if run(&args).status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "the secure mesh never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Unsigned requests are refused with section 14's code.
    let unsigned = run(&["send", &broker_addr, "µHome.core.healthcheck"]);
    assert_eq!(unsigned.status.code(), Some(12));
    assert_eq!(json(&unsigned)["event"]["error"]["code"], "unauthenticated");

    let mut lamp = spawn(&[
        "service",
        "--id",
        "lamp",
        "--port",
        "0",
        "--registry",
        &registry_addr,
        "--broker",
        &broker_addr,
        "--log",
        "home.>",
        "--key-file",
        &lamp_key,
        "--policy",
        &policy,
    ]);
    let printed = lines(&mut lamp);
    let mut nodes = serde_json::Value::Null;
    for _ in 0..100 {
        let mut args = vec!["nodes", "--registry", &registry_addr];
        args.extend(signed);
        nodes = json(&run(&args));
        if nodes.as_array().is_some_and(|n| !n.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(nodes[0]["nodeId"], "lamp", "{nodes}");

    let mut report = serde_json::Value::Null;
    for _ in 0..50 {
        let mut args = vec![
            "publish",
            "home.lamp.on",
            r#"{"level": 80}"#,
            "--broker",
            &broker_addr,
        ];
        args.extend(signed);
        report = json(&run(&args));
        if report["delivered"] == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(report, serde_json::json!({"delivered": 1, "failed": []}));
    let line = printed
        .recv_timeout(Duration::from_secs(5))
        .expect("the service prints the signed delivery");
    assert!(
        line.contains("lamp received home.lamp.on from uhome/cli"),
        "{line}"
    );

    // What the policy does not allow, and unsigned publishes, are refused.
    let mut args = vec!["publish", "home.door.unlock", "--broker", &broker_addr];
    args.extend(signed);
    let forbidden = run(&args);
    assert!(!forbidden.status.success());
    assert!(
        stderr(&forbidden).contains("forbidden"),
        "{}",
        stderr(&forbidden)
    );
    let unsigned = run(&["publish", "home.lamp.on", "--broker", &broker_addr]);
    assert!(!unsigned.status.success());
    assert!(
        stderr(&unsigned).contains("unauthenticated"),
        "{}",
        stderr(&unsigned)
    );
    assert!(
        printed.recv_timeout(Duration::from_millis(300)).is_err(),
        "a refused publish was delivered"
    );
}

#[test]
fn without_a_policy_unsigned_requests_are_served_from_the_compat_allow_list_only() {
    let (broker, registry) = (free_port(), free_port());
    let broker_addr = format!("127.0.0.1:{broker}");
    let registry_addr = format!("127.0.0.1:{registry}");
    let _mesh = spawn(&[
        "mesh",
        "--memory",
        "--broker-listen",
        &broker_addr,
        "--registry-listen",
        &registry_addr,
        "--compat-allow",
        "10.0.0.0/8",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let out = run(&[
            "send",
            &broker_addr,
            "µHome.core.healthcheck",
            "--timeout",
            "500ms",
        ]);
        if out.status.code() != Some(1) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(refused.status.code(), Some(12), "{}", stderr(&refused));
    let reply = json(&refused);
    assert_eq!(reply["event"]["error"]["code"], "unauthenticated");
    assert!(
        reply["event"]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("allow-list"),
        "{reply}"
    );
    let bad = run_bounded(&["mesh", "--memory", "--compat-allow", "10.0.0.0/33"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--compat-allow"), "{}", stderr(&bad));
}
