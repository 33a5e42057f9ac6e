//! The bridge's settings.

use std::path::PathBuf;
use std::time::Duration;

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MqttVersion {
    /// MQTT 3.1.1.
    #[default]
    V311,
    /// MQTT 5.
    V5,
}

/// The MQTT connection.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port (1883; 8883 is usual for TLS).
    pub port: u16,
    /// Client id.
    pub client_id: String,
    /// Protocol version.
    pub version: MqttVersion,
    /// User name, when the broker asks for one.
    pub username: Option<String>,
    /// Password (with `username`).
    pub password: Option<String>,
    /// Connect with TLS.
    pub tls: bool,
    /// PEM file of the certificate authorities TLS trusts (default: the system's bundle,
    /// `/etc/ssl/certs/ca-certificates.crt`).
    pub ca_file: Option<PathBuf>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: "uhome-bridge".into(),
            version: MqttVersion::V311,
            username: None,
            password: None,
            tls: false,
            ca_file: None,
            keep_alive: Duration::from_secs(30),
        }
    }
}

/// µHome events of `pattern` published to MQTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToMqtt {
    /// µHome pattern ([UH-BROKER-3]).
    pub pattern: String,
    /// QoS of the MQTT publish (0, 1 or 2).
    pub qos: u8,
    /// Publish with the retain flag.
    pub retain: bool,
}

/// MQTT messages of `filter` published into µHome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromMqtt {
    /// MQTT topic filter.
    pub filter: String,
    /// QoS of the subscription.
    pub qos: u8,
}

/// One Home Assistant entity announced by MQTT discovery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HaEntity {
    /// The µHome type whose events are the entity's state.
    pub event_type: String,
    /// Home Assistant component: `sensor`, `binary_sensor`, `switch`, `light`, …
    pub component: String,
    /// Display name (default: the type).
    pub name: Option<String>,
    /// `unit_of_measurement`.
    pub unit: Option<String>,
    /// `device_class`.
    pub device_class: Option<String>,
    /// `value_template`, e.g. `{{ value_json.celsius }}`.
    pub value_template: Option<String>,
    /// A µHome type that Home Assistant's commands become (its topic is the entity's
    /// `command_topic`, bridged into µHome).
    pub command_type: Option<String>,
}

/// Home Assistant MQTT discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Discovery prefix (Home Assistant's default `homeassistant`).
    pub prefix: String,
    /// The entities.
    pub entities: Vec<HaEntity>,
}

/// Everything the bridge needs.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// µHome node id; events it publishes carry it as `source`.
    pub node_id: String,
    /// Address the bridge's µHome node listens on.
    pub listen: String,
    /// Address to register (default: the bound address).
    pub advertise: Option<String>,
    /// µHome registry.
    pub registry: String,
    /// µHome broker.
    pub broker: String,
    /// The MQTT side.
    pub mqtt: MqttConfig,
    /// Topic prefix of µHome types (`uhome`: `home.lamp.on` ↔ `uhome/home/lamp/on`).
    pub prefix: String,
    /// Publish the whole µHome event as the MQTT payload instead of its `data`.
    pub envelope: bool,
    /// µHome → MQTT.
    pub to_mqtt: Vec<ToMqtt>,
    /// MQTT → µHome.
    pub from_mqtt: Vec<FromMqtt>,
    /// Messages kept per direction while the other side is down; the oldest go first.
    pub buffer: usize,
    /// Reconnect pauses: first, doubling up to max.
    pub backoff: (Duration, Duration),
    /// Home Assistant discovery, when wanted.
    pub discovery: Option<Discovery>,
    /// Signed frames (section 14 of `spec/protocol.md`): the bridge's node verifies what is
    /// delivered to it and signs its requests, and its publishes carry its origin signature;
    /// `None`: a 1.2 node.
    pub security: Option<std::sync::Arc<uhome_runtime::security::Security>>,
}

impl BridgeConfig {
    /// Defaults: node `uhome/mqtt-bridge` on an ephemeral loopback port, the mesh on
    /// 127.0.0.1:5100/5101, MQTT on 127.0.0.1:1883, prefix `uhome`, 1000 buffered messages.
    pub fn new() -> BridgeConfig {
        BridgeConfig {
            node_id: "uhome/mqtt-bridge".into(),
            listen: "127.0.0.1:0".into(),
            advertise: None,
            registry: "127.0.0.1:5101".into(),
            broker: "127.0.0.1:5100".into(),
            mqtt: MqttConfig::default(),
            prefix: "uhome".into(),
            envelope: false,
            to_mqtt: Vec::new(),
            from_mqtt: Vec::new(),
            buffer: 1000,
            backoff: (Duration::from_millis(100), Duration::from_secs(10)),
            discovery: None,
            security: None,
        }
    }
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig::new()
    }
}
