//! `uhome bridge mqtt` as a user runs it: its configuration file, and both directions
//! against a real mosquitto (skipped, with a message, when mosquitto is not installed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

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

fn spawn(program: &str, args: &[&str]) -> Running {
    Running(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    )
}

fn run(args: &[&str]) -> Output {
    Command::new(UHOME).args(args).output().expect("uhome runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not within 20 s");
}

fn healthy(addr: &str) -> bool {
    run(&["send", addr, "µHome.core.healthcheck", "--timeout", "500ms"])
        .status
        .success()
}

fn listed(registry: &str, id: &str) -> bool {
    let out = run(&["nodes", "--registry", registry]);
    String::from_utf8_lossy(&out.stdout).contains(id)
}

fn lines(child: &mut Running) -> mpsc::Receiver<String> {
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The next MQTT message, within 10 s.
async fn next_publish(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> rumqttc::Publish {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Event::Incoming(Packet::Publish(p)))) => return p,
            Ok(Some(_)) => {}
            _ => panic!("no MQTT message in time"),
        }
    }
}

fn mosquitto() -> Option<PathBuf> {
    [
        "mosquitto",
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|bin| {
        Command::new(bin)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

#[test]
fn the_bridge_config_example_has_a_key_for_every_flag_in_its_table() {
    let out = run(&["config", "example", "bridge-mqtt"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let section = table["bridge"]["mqtt"].as_table().unwrap();
    assert!(section.len() >= 10, "{section:?}");
    let help = String::from_utf8(run(&["bridge", "mqtt", "--help"]).stdout).unwrap();
    let flags: Vec<&str> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .next()
        })
        .filter(|f| !["help", "config", "log-format"].contains(f))
        .collect();
    assert!(flags.len() >= 20, "{flags:?}");
    for flag in flags {
        let key = flag.replace('-', "_");
        assert!(
            text.lines()
                .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = "))),
            "no key for --{flag}"
        );
    }
}

#[test]
fn bad_bridge_settings_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    for (text, expected) in [
        ("id = \"x\"\n", "its keys go in [bridge.mqtt]"),
        (
            "[bridge.mqtt]\ncolour = 1\n",
            "unknown key `colour` for `uhome bridge mqtt`",
        ),
        (
            "[bridge]\nid = 1\n",
            "unknown key `id` for `uhome bridge mqtt`",
        ),
        (
            "[bridge.mqtt]\nto_mqtt = [\"home.>;qos=7\"]\n",
            "qos is 0, 1 or 2",
        ),
        (
            "[bridge.mqtt]\nboth = [\"a/b\"]\n",
            "no MQTT filter matches exactly",
        ),
        (
            "[bridge.mqtt]\nha_entity = [\"t=sensor\"]\n",
            "--ha-entity needs --ha-discovery",
        ),
        ("[bridge.mqtt]\nid = \"x\"\n", "nothing to bridge"),
    ] {
        let file = write("bridge.toml", text);
        let out = run(&["bridge", "mqtt", "--config", &file]);
        assert!(!out.status.success(), "{text}");
        assert!(stderr(&out).contains(expected), "{text}: {}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn uhome_bridge_mqtt_carries_events_both_ways() {
    let Some(bin) = mosquitto() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "mosquitto is not installed: .ci/run installs it, CI never skips this test"
        );
        eprintln!("SKIPPED: mosquitto is not installed (apt-get install -y mosquitto)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mqtt_port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n"
        ),
    )
    .unwrap();
    let _mosquitto = spawn(bin.to_str().unwrap(), &["-c", conf.to_str().unwrap()]);
    let (b, r) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let _mesh = spawn(
        UHOME,
        &[
            "mesh",
            "--memory",
            "--broker-listen",
            &b,
            "--registry-listen",
            &r,
        ],
    );
    wait_until("the mesh answers", || healthy(&b) && healthy(&r));
    wait_until("mosquitto listens", || {
        std::net::TcpStream::connect(("127.0.0.1", mqtt_port)).is_ok()
    });

    // An MQTT client watching the bridge's topics.
    let mut options = MqttOptions::new("cli-test", "127.0.0.1", mqtt_port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 64);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let poller = tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            let _ = tx.send(event);
        }
    });
    client.subscribe("uhome/#", QoS::AtLeastOnce).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Some(_)) => {}
            _ => panic!("no SubAck"),
        }
    }

    let file = dir.path().join("bridge.toml");
    std::fs::write(
        &file,
        format!(
            "[bridge.mqtt]\nid = \"test/bridge\"\nregistry = \"{r}\"\nbroker = \"{b}\"\nmqtt_port = {mqtt_port}\nmqtt_version = \"5\"\nboth = [\"home.>;qos=1\"]\n"
        ),
    )
    .unwrap();
    let _bridge = spawn(
        UHOME,
        &["bridge", "mqtt", "--config", file.to_str().unwrap()],
    );
    wait_until("the bridge registers", || listed(&r, "test/bridge"));

    // µHome → MQTT. The broker may deliver before the bridge's subscription is in: retry.
    let got = loop {
        let out = run(&["publish", "home.lamp.on", r#"{"on":true}"#, "--broker", &b]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if report["delivered"] == 1 {
            break next_publish(&mut rx).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(got.topic, "uhome/home/lamp/on");
    assert_eq!(&got.payload[..], br#"{"on":true}"#);

    // MQTT → µHome.
    let mut sub = spawn(
        UHOME,
        &[
            "sub",
            "home.door.*",
            "--json",
            "--count",
            "1",
            "--registry",
            &r,
            "--broker",
            &b,
        ],
    );
    let printed = lines(&mut sub);
    wait_until("uhome sub registers", || listed(&r, "uhome/sub-"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .publish("uhome/home/door/open", QoS::AtLeastOnce, false, "true")
        .await
        .unwrap();
    let line = printed.recv_timeout(Duration::from_secs(10)).unwrap();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["type"], "home.door.open", "{line}");
    assert_eq!(event["source"], "test/bridge", "{line}");
    assert_eq!(event["data"], true, "{line}");
    // The MQTT client sees its own message once, and the bridge sends nothing back.
    let echo = next_publish(&mut rx).await;
    assert_eq!(echo.topic, "uhome/home/door/open");
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(event) = rx.try_recv() {
        assert!(
            !matches!(event, Event::Incoming(Packet::Publish(_))),
            "a second copy: {event:?}"
        );
    }
    poller.abort();
}
