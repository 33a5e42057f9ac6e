//! The bridge against a real mosquitto on an ephemeral loopback port (skipped, with a
//! message, when mosquitto is not installed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::future::Future;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use uhome_bridge::{Bridge, Discovery, FromMqtt, HaEntity, MqttVersion, ToMqtt};
use uhome_runtime::service;

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(600);

/// Runs a test body within 60 s.
async fn bounded(body: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("the test finished in time");
}

fn to_mqtt(pattern: &str) -> ToMqtt {
    ToMqtt {
        pattern: pattern.into(),
        qos: 1,
        retain: false,
    }
}

fn from_mqtt(filter: &str) -> FromMqtt {
    FromMqtt {
        filter: filter.into(),
        qos: 1,
    }
}

async fn publish(mesh: &Mesh, event_type: &str, data: Option<Value>) {
    service::publish(
        &mesh.client("test/publisher"),
        &mesh.broker_addr(),
        event_type,
        data.as_ref(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_uhome_publish_reaches_an_mqtt_subscriber() {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let mut sub = MqttClient::connect(mosquitto.port, &["uhome/#"]).await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            to_mqtt: vec![to_mqtt("home.lamp.>")],
            ..mesh.bridge(&mosquitto, MqttVersion::V311)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        publish(
            &mesh,
            "home.lamp.on",
            Some(json!({"on": true, "level": 80})),
        )
        .await;
        publish(&mesh, "home.lamp.off", None).await;
        let first = sub.next(WAIT).await;
        assert_eq!(first.topic, "uhome/home/lamp/on");
        let payload: Value = serde_json::from_slice(&first.payload).unwrap();
        assert_eq!(payload, json!({"on": true, "level": 80}));
        let second = sub.next(WAIT).await;
        assert_eq!(second.topic, "uhome/home/lamp/off");
        assert!(second.payload.is_empty(), "no data, empty payload");
        let stats = bridge.shutdown().await;
        assert_eq!(stats.to_mqtt.received, 2);
        assert_eq!(stats.to_mqtt.forwarded, 2);
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn with_envelope_the_payload_is_the_whole_event_and_retain_is_kept() {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            to_mqtt: vec![ToMqtt {
                pattern: "home.thermostat".into(),
                qos: 0,
                retain: true,
            }],
            envelope: true,
            prefix: "site/a".into(),
            ..mesh.bridge(&mosquitto, MqttVersion::V5)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        publish(&mesh, "home.thermostat", Some(json!({"celsius": 21.5}))).await;
        assert!(eventually(WAIT, || bridge.stats().to_mqtt.forwarded == 1).await);
        // A subscriber that comes later gets the retained message.
        let mut sub = MqttClient::connect(mosquitto.port, &["site/#"]).await;
        let got = sub.next(WAIT).await;
        assert_eq!(got.topic, "site/a/home/thermostat");
        assert!(got.retain);
        let event: Value = serde_json::from_slice(&got.payload).unwrap();
        assert_eq!(event["type"], "home.thermostat");
        assert_eq!(event["source"], "test/publisher");
        assert_eq!(event["version"], 2);
        assert_eq!(event["data"], json!({"celsius": 21.5}));
        assert!(event["id"].is_string() && event["timestamp"].is_string());
        bridge.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_mqtt_publish_reaches_a_uhome_service() {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let (svc, mut rx) = recording_service(&mesh, "test/door", "home.door.>").await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            from_mqtt: vec![from_mqtt("uhome/home/door/#")],
            ..mesh.bridge(&mosquitto, MqttVersion::V5)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        let mqtt = MqttClient::connect(mosquitto.port, &[]).await;
        mqtt.publish("uhome/home/door/open", r#"{"open":true}"#)
            .await;
        let event = next(&mut rx, WAIT).await;
        assert_eq!(event.event_type, "home.door.open");
        assert_eq!(event.source, bridge.node_id());
        assert_eq!(event.data_value(), Some(json!({"open": true})));
        // Not JSON: carried as a JSON string.
        mqtt.publish("uhome/home/door/state", "closed").await;
        let event = next(&mut rx, WAIT).await;
        assert_eq!(event.event_type, "home.door.state");
        assert_eq!(event.data_value(), Some(json!("closed")));
        let stats = bridge.shutdown().await;
        assert_eq!(stats.from_mqtt.received, 2);
        assert_eq!(stats.from_mqtt.forwarded, 2);
        assert_eq!(stats.from_mqtt.wrapped, 1);
        svc.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn wildcards_select_the_same_events_both_ways() {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let (svc, mut rx) = recording_service(&mesh, "test/all", ">").await;
        let mut sub = MqttClient::connect(mosquitto.port, &["uhome/#"]).await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            // `*` ↔ `+`; `sensor.>` ↔ `sensor/+/#`.
            to_mqtt: vec![to_mqtt("home.*.on")],
            from_mqtt: vec![from_mqtt("uhome/sensor/+/#")],
            ..mesh.bridge(&mosquitto, MqttVersion::V311)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        for t in ["home.a.on", "home.b.off", "home.a.b.on", "home.on"] {
            publish(&mesh, t, Some(json!(t))).await;
        }
        let got: Vec<String> = sub
            .take(1, QUIET)
            .await
            .into_iter()
            .map(|r| r.topic)
            .collect();
        assert_eq!(got, ["uhome/home/a/on"]);
        // The service saw the four µHome events; drop them.
        assert_eq!(take(&mut rx, 4, QUIET).await.len(), 4);
        for topic in [
            "uhome/sensor/x/temp",
            "uhome/sensor",
            "uhome/sensor/y/z/w",
            "uhome/other/x",
        ] {
            sub.publish(topic, "1").await;
        }
        let mut types: Vec<String> = take(&mut rx, 2, QUIET)
            .await
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        types.sort();
        assert_eq!(types, ["sensor.x.temp", "sensor.y.z.w"]);
        bridge.shutdown().await;
        svc.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

/// Both directions on one pattern: each message crosses once, and its echo is dropped.
async fn no_loop(version: MqttVersion) {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let (svc, mut rx) = recording_service(&mesh, "test/home", "home.>").await;
        let mut sub = MqttClient::connect(mosquitto.port, &["uhome/#"]).await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            to_mqtt: vec![to_mqtt("home.>")],
            from_mqtt: vec![from_mqtt(
                &uhome_bridge::topics::pattern_to_filter("uhome", "home.>").unwrap(),
            )],
            ..mesh.bridge(&mosquitto, version)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();

        // µHome → MQTT: one MQTT message, and the service gets the event once.
        publish(&mesh, "home.a", Some(json!(1))).await;
        let mqtt = sub.take(1, QUIET).await;
        assert_eq!(mqtt.len(), 1, "{mqtt:?}");
        assert_eq!(mqtt[0].topic, "uhome/home/a");
        let uhome = take(&mut rx, 1, QUIET).await;
        assert_eq!(uhome.len(), 1, "{uhome:?}");
        assert_eq!(uhome[0].source, "test/publisher");

        // MQTT → µHome: one µHome event, and MQTT carries the message once.
        sub.publish("uhome/home/b", "2").await;
        let uhome = take(&mut rx, 1, QUIET).await;
        assert_eq!(uhome.len(), 1, "{uhome:?}");
        assert_eq!(uhome[0].event_type, "home.b");
        assert_eq!(uhome[0].source, bridge.node_id());
        let mqtt = sub.take(1, QUIET).await;
        assert_eq!(mqtt.len(), 1, "{mqtt:?}");
        assert_eq!(mqtt[0].topic, "uhome/home/b");

        let stats = bridge.shutdown().await;
        // The bridge's own µHome publish came back to it and was dropped.
        assert_eq!(stats.to_mqtt.looped, 1, "{stats:?}");
        assert_eq!(stats.to_mqtt.forwarded, 1, "{stats:?}");
        assert_eq!(stats.from_mqtt.forwarded, 1, "{stats:?}");
        match version {
            // 3.1.1: the echo of its MQTT publish came back and was recognised.
            MqttVersion::V311 => assert_eq!(stats.from_mqtt.looped, 1, "{stats:?}"),
            // 5: no-local, so the broker never sent it back.
            MqttVersion::V5 => assert_eq!(stats.from_mqtt.received, 1, "{stats:?}"),
        }
        svc.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn no_loop_with_both_directions_on_one_pattern_mqtt_3_1_1() {
    no_loop(MqttVersion::V311).await;
}

#[tokio::test]
async fn no_loop_with_both_directions_on_one_pattern_mqtt_5() {
    no_loop(MqttVersion::V5).await;
}

#[tokio::test]
async fn a_mosquitto_restart_is_recovered_and_the_gap_reported() {
    let Some(mut mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            to_mqtt: vec![ToMqtt {
                pattern: "gap.>".into(),
                qos: 1,
                retain: true,
            }],
            buffer: 5,
            ..mesh.bridge(&mosquitto, MqttVersion::V311)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        publish(&mesh, "gap.before", Some(json!("before"))).await;
        // Acknowledged: not sent again after the restart.
        assert!(eventually(WAIT, || bridge.stats().mqtt_acks == 1).await);

        mosquitto.stop();
        assert!(
            eventually(WAIT, || !bridge.stats().mqtt_connected).await,
            "the bridge saw the broker go"
        );
        for i in 0..8 {
            publish(&mesh, &format!("gap.n{i}"), Some(json!(i))).await;
        }
        let stats = bridge.stats();
        assert_eq!(stats.to_mqtt.buffered, 5, "{stats:?}");
        assert_eq!(stats.to_mqtt.dropped, 3, "{stats:?}");

        // mosquitto keeps nothing across the restart: what a subscriber finds retained
        // afterwards is what the bridge sent after reconnecting.
        mosquitto.restart().await;
        assert!(
            eventually(Duration::from_secs(10), || bridge.stats().to_mqtt.forwarded
                == 6)
            .await,
            "{:?}",
            bridge.stats()
        );
        let stats = bridge.stats();
        assert!(stats.mqtt_connections >= 2, "{stats:?}");
        assert!(stats.mqtt_errors >= 1, "{stats:?}");
        let outage = stats.last_mqtt_outage.clone().expect("the gap is reported");
        assert_eq!(outage.buffered, 5, "{stats:?}");
        assert_eq!(outage.dropped, 3, "{stats:?}");
        assert!(outage.duration > Duration::ZERO);
        let mut sub = MqttClient::connect(mosquitto.port, &["uhome/gap/#"]).await;
        let mut topics: Vec<String> = sub
            .take(5, QUIET)
            .await
            .into_iter()
            .map(|r| r.topic)
            .collect();
        topics.sort();
        // The three oldest were dropped; the five newest crossed.
        assert_eq!(
            topics,
            [
                "uhome/gap/n3",
                "uhome/gap/n4",
                "uhome/gap/n5",
                "uhome/gap/n6",
                "uhome/gap/n7"
            ]
        );
        // And it keeps working.
        publish(&mesh, "gap.after", Some(json!("after"))).await;
        let got = sub.next(WAIT).await;
        assert_eq!(got.topic, "uhome/gap/after");
        bridge.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn while_the_uhome_broker_is_away_mqtt_messages_wait_and_the_gap_is_reported() {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let (svc, mut rx) = recording_service(&mesh, "test/down", "down.>").await;
        let mut relay = Relay::start(&mesh.broker_addr()).await;
        // The bridge publishes through the relay.
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            from_mqtt: vec![from_mqtt("uhome/down/#")],
            buffer: 5,
            broker: relay.addr.to_string(),
            ..mesh.bridge(&mosquitto, MqttVersion::V5)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        let mqtt = MqttClient::connect(mosquitto.port, &[]).await;
        mqtt.publish("uhome/down/before", "0").await;
        assert_eq!(next(&mut rx, WAIT).await.event_type, "down.before");
        assert!(eventually(WAIT, || bridge.stats().from_mqtt.forwarded == 1).await);

        relay.cut().await;
        for i in 0..8 {
            mqtt.publish(&format!("uhome/down/n{i}"), i.to_string())
                .await;
        }
        assert!(
            eventually(WAIT, || {
                let s = bridge.stats();
                s.from_mqtt.received == 9 && s.uhome_errors >= 1
            })
            .await,
            "{:?}",
            bridge.stats()
        );
        let stats = bridge.stats();
        assert_eq!(stats.from_mqtt.buffered, 5, "{stats:?}");
        assert_eq!(stats.from_mqtt.dropped, 3, "{stats:?}");
        assert!(drain(&mut rx, QUIET).await.is_empty());

        relay.restore().await;
        let got: Vec<String> = take(&mut rx, 5, QUIET)
            .await
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        // The three oldest were dropped; the five newest crossed, in order.
        assert_eq!(got, ["down.n3", "down.n4", "down.n5", "down.n6", "down.n7"]);
        let stats = bridge.shutdown().await;
        let outage = stats
            .last_uhome_outage
            .clone()
            .expect("the gap is reported");
        assert_eq!(outage.buffered, 5, "{stats:?}");
        assert_eq!(outage.dropped, 3, "{stats:?}");
        assert_eq!(stats.from_mqtt.forwarded, 6, "{stats:?}");
        svc.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn what_mosquitto_did_not_acknowledge_when_it_stopped_is_sent_again() {
    let Some(mut mosquitto) = Mosquitto::start_with(true, "allow_anonymous true\n").await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            to_mqtt: vec![ToMqtt {
                pattern: "flow.>".into(),
                qos: 1,
                retain: true,
            }],
            buffer: 10_000,
            ..mesh.bridge(&mosquitto, MqttVersion::V311)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        const N: usize = 300;
        let broker = mesh.broker_addr();
        let publisher = tokio::spawn(async move {
            let client = uhome_runtime::Client::new("test/flow");
            for i in 0..N {
                service::publish(&client, &broker, &format!("flow.n{i}"), Some(&json!(i)))
                    .await
                    .unwrap();
            }
        });
        // Stop mosquitto while events stream through the bridge.
        assert!(eventually(WAIT, || bridge.stats().to_mqtt.forwarded >= 50).await);
        mosquitto.terminate();
        tokio::time::sleep(Duration::from_millis(200)).await;
        mosquitto.restart().await;
        publisher.await.unwrap();
        assert!(
            eventually(Duration::from_secs(10), || {
                let s = bridge.stats();
                s.to_mqtt.forwarded == N as u64 && s.to_mqtt.buffered == 0
            })
            .await,
            "{:?}",
            bridge.stats()
        );
        let stats = bridge.shutdown().await;
        assert_eq!(stats.to_mqtt.dropped, 0, "{stats:?}");
        assert!(stats.mqtt_connections >= 2, "{stats:?}");
        // Every event is retained on its own topic: what was acknowledged before the stop
        // (kept by mosquitto), and the rest, sent after the restart.
        let mut sub = MqttClient::connect(mosquitto.port, &["uhome/flow/#"]).await;
        let mut topics: Vec<String> = sub
            .take(N, QUIET)
            .await
            .into_iter()
            .map(|r| r.topic)
            .collect();
        topics.sort();
        topics.dedup();
        assert_eq!(topics.len(), N);
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn malformed_topics_and_payloads_are_counted_and_the_bridge_keeps_working() {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let (svc, mut rx) = recording_service(&mesh, "test/all", ">").await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            from_mqtt: vec![from_mqtt("uhome/#")],
            to_mqtt: vec![to_mqtt("tomqtt.>")],
            ..mesh.bridge(&mosquitto, MqttVersion::V311)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        let mqtt = MqttClient::connect(mosquitto.port, &[]).await;
        let long = format!("uhome/{}", vec!["x"; 200].join("/"));
        let unmappable = [
            "uhome/a.b/c",
            "uhome/x/*",
            "uhome/x/>",
            "uhome",
            "uhome/µHome/core/publish",
            long.as_str(),
        ];
        for topic in unmappable {
            mqtt.publish(topic, "{}").await;
        }
        mqtt.publish("uhome/bin", vec![0xff, 0xfe, b'a']).await;
        mqtt.publish("uhome/broken", "{broken").await;
        mqtt.publish("uhome/big", format!("\"{}\"", "x".repeat(70_000)))
            .await;
        // Over the bridge's 1 MiB outgoing limit: received all the same on 3.1.1, which
        // cannot announce a limit, and refused by µHome.
        mqtt.publish("uhome/huge", vec![b'x'; 2 << 20]).await;
        mqtt.publish("uhome/ok", r#"{"fine":1}"#).await;
        let mut got = take(&mut rx, 3, QUIET).await;
        got.sort_by(|a, b| a.event_type.cmp(&b.event_type));
        let got: Vec<(String, Option<Value>)> = got
            .into_iter()
            .map(|e| (e.event_type.clone(), e.data_value()))
            .collect();
        assert_eq!(
            got,
            [
                ("bin".to_string(), Some(json!("\u{fffd}\u{fffd}a"))),
                ("broken".to_string(), Some(json!("{broken"))),
                ("ok".to_string(), Some(json!({"fine": 1}))),
            ]
        );
        let stats = bridge.stats();
        assert_eq!(stats.from_mqtt.unmappable, 6, "{stats:?}");
        assert_eq!(stats.from_mqtt.wrapped, 3, "{stats:?}");
        // Larger than a µHome frame: refused for good, not retried, and the connection
        // stayed up.
        assert_eq!(stats.from_mqtt.rejected, 2, "{stats:?}");
        assert_eq!(stats.mqtt_connections, 1, "{stats:?}");
        assert_eq!(stats.mqtt_errors, 0, "{stats:?}");
        assert_eq!(stats.from_mqtt.forwarded, 3, "{stats:?}");

        // µHome types that map to no topic are counted too; the next one crosses.
        publish(&mesh, "tomqtt.a/b", None).await;
        publish(&mesh, "tomqtt.a+b", None).await;
        publish(&mesh, "tomqtt.fine", Some(json!(true))).await;
        assert!(eventually(WAIT, || bridge.stats().to_mqtt.unmappable == 2).await);
        // `tomqtt.fine` crossed, and its echo on `uhome/#` was dropped.
        assert!(eventually(WAIT, || bridge.stats().from_mqtt.looped == 1).await);
        let stats = bridge.shutdown().await;
        assert_eq!(stats.to_mqtt.forwarded, 1, "{stats:?}");
        assert_eq!(stats.from_mqtt.forwarded, 3, "{stats:?}");
        svc.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn home_assistant_discovery_configs_are_published_retained() {
    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let (svc, mut rx) = recording_service(&mesh, "test/lamp", "home.lamp.set").await;
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            node_id: "hall".into(),
            to_mqtt: vec![to_mqtt("home.>")],
            discovery: Some(Discovery {
                prefix: "homeassistant".into(),
                entities: vec![
                    HaEntity {
                        event_type: "home.hall.temperature".into(),
                        component: "sensor".into(),
                        name: Some("Hall temperature".into()),
                        unit: Some("°C".into()),
                        device_class: Some("temperature".into()),
                        value_template: Some("{{ value_json.celsius }}".into()),
                        command_type: None,
                    },
                    HaEntity {
                        event_type: "home.lamp.state".into(),
                        component: "switch".into(),
                        command_type: Some("home.lamp.set".into()),
                        ..HaEntity::default()
                    },
                ],
            }),
            ..mesh.bridge(&mosquitto, MqttVersion::V311)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        assert!(eventually(WAIT, || bridge.stats().discovery_published == 2).await);
        let mut ha =
            MqttClient::connect(mosquitto.port, &["homeassistant/#", "uhome-bridge/#"]).await;
        ha.wait_subscribed(2).await;
        let got = ha.take(3, QUIET).await;
        let find = |topic: &str| {
            got.iter()
                .find(|r| r.topic == topic)
                .unwrap_or_else(|| panic!("{topic} in {got:?}"))
                .clone()
        };
        let sensor = find("homeassistant/sensor/hall/home_hall_temperature/config");
        assert!(sensor.retain);
        let config: Value = serde_json::from_slice(&sensor.payload).unwrap();
        assert_eq!(config["state_topic"], "uhome/home/hall/temperature");
        assert_eq!(config["device_class"], "temperature");
        assert_eq!(config["availability_topic"], "uhome-bridge/hall/status");
        let switch = find("homeassistant/switch/hall/home_lamp_state/config");
        let config: Value = serde_json::from_slice(&switch.payload).unwrap();
        assert_eq!(config["command_topic"], "uhome/home/lamp/set");
        assert_eq!(find("uhome-bridge/hall/status").text(), "online");

        // Home Assistant's command crosses into µHome.
        ha.publish("uhome/home/lamp/set", "ON").await;
        let event = next(&mut rx, WAIT).await;
        assert_eq!(event.event_type, "home.lamp.set");
        assert_eq!(event.data_value(), Some(json!("ON")));

        // Home Assistant restarting asks for the configs again.
        ha.publish("homeassistant/status", "online").await;
        assert!(eventually(WAIT, || bridge.stats().discovery_published == 4).await);

        bridge.shutdown().await;
        // The last status is `offline`.
        loop {
            let got = ha.next(WAIT).await;
            if got.topic == "uhome-bridge/hall/status" && got.text() == "offline" {
                break;
            }
        }
        let after = ha.drain(QUIET).await;
        assert!(
            after.iter().all(|r| r.topic != "uhome-bridge/hall/status"),
            "{after:?}"
        );
        svc.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_user_name_and_password_are_used_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    let made = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["bridge", "s3cret"])
        .status();
    if !matches!(made, Ok(s) if s.success()) {
        assert!(
            mosquitto_binary().is_none(),
            "mosquitto is installed but mosquitto_passwd did not run"
        );
        eprintln!("SKIPPED: mosquitto is not installed (apt-get install -y mosquitto)");
        return;
    }
    let settings = format!(
        "allow_anonymous false\npassword_file {}\n",
        passwords.display()
    );
    let Some(mosquitto) = Mosquitto::start_with(false, &settings).await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        let mut sub =
            MqttClient::connect_as(mosquitto.port, &["uhome/#"], Some(("bridge", "s3cret"))).await;
        let config = |password: &str| {
            let mut c = mesh.bridge(&mosquitto, MqttVersion::V5);
            c.to_mqtt = vec![to_mqtt("home.>")];
            c.mqtt.username = Some("bridge".into());
            c.mqtt.password = Some(password.into());
            c
        };
        let bridge = Bridge::start(config("s3cret")).await.unwrap();
        bridge.ready().await.unwrap();
        publish(&mesh, "home.lamp.on", Some(json!(true))).await;
        assert_eq!(sub.next(WAIT).await.topic, "uhome/home/lamp/on");
        bridge.shutdown().await;

        let refused = Bridge::start(uhome_bridge::BridgeConfig {
            node_id: "test/refused-bridge".into(),
            ..config("wrong")
        })
        .await
        .unwrap();
        assert!(eventually(WAIT, || refused.stats().mqtt_errors >= 2).await);
        let stats = refused.shutdown().await;
        assert_eq!(stats.mqtt_connections, 0, "{stats:?}");
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn tls_with_a_private_certificate_authority() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = CertifiedIssuer::self_signed(other_params, KeyPair::generate().unwrap()).unwrap();
    let other_ca_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca_file, other.pem()).unwrap();
    std::fs::write(&cert_file, server.pem()).unwrap();
    std::fs::write(&key_file, server_key.serialize_pem()).unwrap();
    let tls_port = free_port();
    let settings = format!(
        "allow_anonymous true\nlistener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
        ca_file.display(),
        cert_file.display(),
        key_file.display()
    );
    let Some(mosquitto) = Mosquitto::start_with(false, &settings).await else {
        return;
    };
    bounded(async {
        let mesh = Mesh::start().await;
        // The subscriber uses the plain listener; the bridge the TLS one.
        let mut sub = MqttClient::connect(mosquitto.port, &["uhome/#"]).await;
        let config = |ca: &std::path::Path| {
            let mut c = mesh.bridge(&mosquitto, MqttVersion::V311);
            c.to_mqtt = vec![to_mqtt("home.>")];
            c.mqtt.port = tls_port;
            c.mqtt.tls = true;
            c.mqtt.ca_file = Some(ca.to_path_buf());
            c
        };
        let bridge = Bridge::start(config(&ca_file)).await.unwrap();
        tokio::time::timeout(WAIT, bridge.ready())
            .await
            .expect("connected over TLS")
            .unwrap();
        publish(&mesh, "home.secure", Some(json!("tls"))).await;
        let got = sub.next(WAIT).await;
        assert_eq!(got.topic, "uhome/home/secure");
        assert_eq!(got.text(), "\"tls\"");
        bridge.shutdown().await;

        // Another authority's certificate does not vouch for the server: no connection.
        let untrusted = Bridge::start(uhome_bridge::BridgeConfig {
            node_id: "test/untrusted-bridge".into(),
            ..config(&other_ca_file)
        })
        .await
        .unwrap();
        assert!(eventually(WAIT, || untrusted.stats().mqtt_errors >= 2).await);
        let stats = untrusted.shutdown().await;
        assert_eq!(stats.mqtt_connections, 0, "{stats:?}");
        mesh.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn in_a_secure_mesh_the_bridge_signs_what_it_publishes_and_the_subscriber_verifies_it() {
    use std::sync::Arc;
    use uhome_protocol::auth::SigningKey;
    use uhome_protocol::core_events::{BROKER_ID, REGISTRY_ID};
    use uhome_runtime::security::{hex, Policy, Security};

    let Some(mosquitto) = Mosquitto::start().await else {
        return;
    };
    bounded(async {
        let key = |seed: u8| SigningKey::from_bytes(&[seed; 32]);
        let public = |k: &SigningKey| hex(k.verifying_key().as_bytes());
        let (registry_key, broker_key, bridge_key, door_key) = (key(51), key(52), key(53), key(54));
        let bridge_id = uhome_bridge::BridgeConfig::new().node_id;
        let policy = Policy::parse(&format!(
            r#"
mode = "secure"

[[node]]
id = "{REGISTRY_ID}"
key = "{}"
role = "registry"

[[node]]
id = "{BROKER_ID}"
key = "{}"
role = "broker"

[[node]]
id = "{bridge_id}"
key = "{}"
publish = ["home.door.>"]

[[node]]
id = "test/door"
key = "{}"
subscribe = ["home.door.>"]
"#,
            public(&registry_key),
            public(&broker_key),
            public(&bridge_key),
            public(&door_key),
        ))
        .unwrap();
        let security = |k: &SigningKey| Arc::new(Security::from_policy(&policy, k.clone()));
        let mesh =
            Mesh::start_secured(Some(security(&registry_key)), Some(security(&broker_key))).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let door = mesh
            .service("test/door")
            .security(security(&door_key))
            .handle("home.door.>", move |event: uhome_runtime::OwnedEvent| {
                let _ = tx.send(event);
                async { uhome_runtime::Reply::ok("Received") }
            })
            .subscribe("home.door.>")
            .start()
            .await
            .unwrap();
        let bridge = Bridge::start(uhome_bridge::BridgeConfig {
            from_mqtt: vec![from_mqtt("uhome/home/door/#")],
            security: Some(security(&bridge_key)),
            ..mesh.bridge(&mosquitto, MqttVersion::V5)
        })
        .await
        .unwrap();
        bridge.ready().await.unwrap();
        let mqtt = MqttClient::connect(mosquitto.port, &[]).await;
        mqtt.publish("uhome/home/door/open", r#"{"open":true}"#)
            .await;
        // The door verifies the delivery's origin with the bridge's key before its handler
        // sees it: the bridge signed the publish and its origin.
        let event = next(&mut rx, WAIT).await;
        assert_eq!(event.event_type, "home.door.open");
        assert_eq!(event.source, bridge_id);
        assert_eq!(event.data_value(), Some(json!({"open": true})));
        // The same publish unsigned is refused by the secure broker.
        let unsigned = service::publish(
            &mesh.client(&bridge_id),
            &mesh.broker_addr(),
            "home.door.open",
            Some(&json!({"open": true})),
        )
        .await
        .unwrap_err();
        assert!(
            unsigned.to_string().contains("unauthenticated"),
            "{unsigned}"
        );
        let stats = bridge.shutdown().await;
        assert_eq!(stats.from_mqtt.forwarded, 1);
        door.shutdown().await;
        mesh.shutdown().await;
    })
    .await;
}
