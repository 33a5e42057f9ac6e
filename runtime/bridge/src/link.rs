//! One MQTT connection, 3.1.1 or 5, behind one interface.

use std::time::Duration;

use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::{v5, Transport};

use crate::config::{MqttConfig, MqttVersion};
use crate::BridgeError;

/// The user property that marks a message the bridge published (MQTT 5).
pub const MARKER_PROPERTY: &str = "uhome-bridge";

/// The largest packet MQTT can carry (a remaining length of 268 435 455 bytes, plus the
/// fixed header).
const MQTT_MAX_PACKET: usize = 268_435_460;

/// Capacity of the client's request channel.
const REQUESTS: usize = 1024;

/// A message received from MQTT.
pub struct Message {
    /// The topic, when it is UTF-8.
    pub topic: Option<String>,
    /// The payload.
    pub payload: Vec<u8>,
    /// The value of the [`MARKER_PROPERTY`] user property (MQTT 5).
    pub marker: Option<String>,
}

/// What one poll of the connection brought.
pub enum Polled {
    /// The broker accepted the connection.
    Connected,
    /// The broker acknowledged a subscribe.
    Subscribed,
    /// The broker acknowledged a publish at QoS 1 (PUBACK) or 2 (PUBCOMP).
    Acknowledged,
    /// A message on a subscribed filter.
    Message(Message),
    /// Anything else (acks, pings, outgoing packets).
    Other,
}

/// Sends requests to the connection; cheap to clone.
#[derive(Clone)]
pub enum Sender {
    /// MQTT 3.1.1.
    V4(rumqttc::AsyncClient),
    /// MQTT 5.
    V5(v5::AsyncClient),
}

/// Drives the connection: connects, reconnects when polled after an error.
pub enum Driver {
    /// MQTT 3.1.1.
    V4(Box<rumqttc::EventLoop>),
    /// MQTT 5.
    V5(Box<v5::EventLoop>),
}

fn qos4(qos: u8) -> rumqttc::QoS {
    match qos {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(qos: u8) -> v5::mqttbytes::QoS {
    match qos {
        0 => v5::mqttbytes::QoS::AtMostOnce,
        1 => v5::mqttbytes::QoS::AtLeastOnce,
        _ => v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn transport(config: &MqttConfig) -> Result<Transport, BridgeError> {
    if !config.tls {
        return Ok(Transport::tcp());
    }
    let path = config
        .ca_file
        .clone()
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let ca = std::fs::read(&path).map_err(|e| {
        BridgeError::Config(format!("cannot read the CA file {}: {e}", path.display()))
    })?;
    Ok(Transport::tls(ca, None, None))
}

/// A sender and its driver for `config`; `will` is the last will (topic, payload), retained.
pub fn connect(
    config: &MqttConfig,
    will: Option<(String, String)>,
) -> Result<(Sender, Driver), BridgeError> {
    let transport = transport(config)?;
    let keep_alive = config.keep_alive.max(Duration::from_secs(1));
    match config.version {
        MqttVersion::V311 => {
            let mut options =
                rumqttc::MqttOptions::new(&config.client_id, &config.host, config.port);
            options
                .set_keep_alive(keep_alive)
                .set_transport(transport)
                .set_request_channel_capacity(REQUESTS)
                // 3.1.1 cannot tell the broker a limit, and a packet over the client's
                // limit drops the connection: take what MQTT allows; µHome refuses what
                // does not fit in a frame.
                .set_max_packet_size(MQTT_MAX_PACKET, 1 << 20);
            if let Some(user) = &config.username {
                options.set_credentials(user, config.password.clone().unwrap_or_default());
            }
            if let Some((topic, payload)) = will {
                options.set_last_will(rumqttc::LastWill::new(
                    topic,
                    payload,
                    rumqttc::QoS::AtLeastOnce,
                    true,
                ));
            }
            let (client, events) = rumqttc::AsyncClient::new(options, REQUESTS);
            Ok((Sender::V4(client), Driver::V4(Box::new(events))))
        }
        MqttVersion::V5 => {
            let mut options = v5::MqttOptions::new(&config.client_id, &config.host, config.port);
            options
                .set_keep_alive(keep_alive)
                .set_transport(transport)
                .set_request_channel_capacity(REQUESTS)
                // MQTT 5 tells the broker, which then does not send larger packets.
                .set_max_packet_size(Some(1 << 20));
            if let Some(user) = &config.username {
                options.set_credentials(user, config.password.clone().unwrap_or_default());
            }
            if let Some((topic, payload)) = will {
                options.set_last_will(p5::LastWill::new(
                    topic,
                    payload,
                    v5::mqttbytes::QoS::AtLeastOnce,
                    true,
                    None,
                ));
            }
            let (client, events) = v5::AsyncClient::new(options, REQUESTS);
            Ok((Sender::V5(client), Driver::V5(Box::new(events))))
        }
    }
}

impl Sender {
    /// Publishes; `marker` sets the [`MARKER_PROPERTY`] user property on MQTT 5.
    pub async fn publish(
        &self,
        topic: &str,
        qos: u8,
        retain: bool,
        payload: Vec<u8>,
        marker: Option<&str>,
    ) -> Result<(), String> {
        match self {
            Sender::V4(c) => c
                .publish(topic, qos4(qos), retain, payload)
                .await
                .map_err(|e| e.to_string()),
            Sender::V5(c) => {
                let properties = p5::PublishProperties {
                    user_properties: marker
                        .map(|m| vec![(MARKER_PROPERTY.to_string(), m.to_string())])
                        .unwrap_or_default(),
                    ..Default::default()
                };
                c.publish_with_properties(topic, qos5(qos), retain, payload, properties)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Subscribes to `filters`; on MQTT 5 with no-local, so the broker never sends the
    /// bridge its own messages.
    pub async fn subscribe(&self, filters: &[(String, u8)]) -> Result<(), String> {
        if filters.is_empty() {
            return Ok(());
        }
        match self {
            Sender::V4(c) => c
                .subscribe_many(
                    filters
                        .iter()
                        .map(|(f, q)| rumqttc::SubscribeFilter::new(f.clone(), qos4(*q))),
                )
                .await
                .map_err(|e| e.to_string()),
            Sender::V5(c) => c
                .subscribe_many(filters.iter().map(|(f, q)| p5::Filter {
                    nolocal: true,
                    ..p5::Filter::new(f.clone(), qos5(*q))
                }))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Disconnects cleanly (the broker does not send the last will).
    pub async fn disconnect(&self) {
        let _ = match self {
            Sender::V4(c) => c.disconnect().await.map_err(|e| e.to_string()),
            Sender::V5(c) => c.disconnect().await.map_err(|e| e.to_string()),
        };
    }
}

/// A publish the client still held when its connection failed.
pub struct Unsent {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS.
    pub qos: u8,
    /// Retain flag.
    pub retain: bool,
}

impl Driver {
    /// Takes the publishes the client still holds after a connection error — not yet
    /// written, or written and not acknowledged — which it would otherwise drop when the
    /// broker starts a new session. Other requests are dropped (the bridge subscribes again
    /// on every connection).
    pub fn take_unsent(&mut self) -> Vec<Unsent> {
        match self {
            Driver::V4(events) => events
                .pending
                .drain(..)
                .filter_map(|r| match r {
                    rumqttc::Request::Publish(p) => Some(Unsent {
                        topic: p.topic,
                        payload: p.payload.to_vec(),
                        qos: match p.qos {
                            rumqttc::QoS::AtMostOnce => 0,
                            rumqttc::QoS::AtLeastOnce => 1,
                            rumqttc::QoS::ExactlyOnce => 2,
                        },
                        retain: p.retain,
                    }),
                    _ => None,
                })
                .collect(),
            Driver::V5(events) => events
                .pending
                .drain(..)
                .filter_map(|r| match r {
                    v5::Request::Publish(p) => Some(Unsent {
                        topic: String::from_utf8_lossy(&p.topic).into_owned(),
                        payload: p.payload.to_vec(),
                        qos: match p.qos {
                            v5::mqttbytes::QoS::AtMostOnce => 0,
                            v5::mqttbytes::QoS::AtLeastOnce => 1,
                            v5::mqttbytes::QoS::ExactlyOnce => 2,
                        },
                        retain: p.retain,
                    }),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The next event; an error means the connection is down (the next poll reconnects).
    pub async fn poll(&mut self) -> Result<Polled, String> {
        match self {
            Driver::V4(events) => match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => Ok(Polled::Connected),
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => Ok(Polled::Subscribed),
                Ok(rumqttc::Event::Incoming(
                    rumqttc::Packet::PubAck(_) | rumqttc::Packet::PubComp(_),
                )) => Ok(Polled::Acknowledged),
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    Ok(Polled::Message(Message {
                        topic: Some(p.topic),
                        payload: p.payload.to_vec(),
                        marker: None,
                    }))
                }
                Ok(_) => Ok(Polled::Other),
                Err(e) => Err(e.to_string()),
            },
            Driver::V5(events) => match events.poll().await {
                Ok(v5::Event::Incoming(p5::Packet::ConnAck(_))) => Ok(Polled::Connected),
                Ok(v5::Event::Incoming(p5::Packet::SubAck(_))) => Ok(Polled::Subscribed),
                Ok(v5::Event::Incoming(p5::Packet::PubAck(_) | p5::Packet::PubComp(_))) => {
                    Ok(Polled::Acknowledged)
                }
                Ok(v5::Event::Incoming(p5::Packet::Publish(p))) => {
                    let marker = p.properties.as_ref().and_then(|props| {
                        props
                            .user_properties
                            .iter()
                            .find(|(k, _)| k == MARKER_PROPERTY)
                            .map(|(_, v)| v.clone())
                    });
                    Ok(Polled::Message(Message {
                        topic: String::from_utf8(p.topic.to_vec()).ok(),
                        payload: p.payload.to_vec(),
                        marker,
                    }))
                }
                Ok(_) => Ok(Polled::Other),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}
