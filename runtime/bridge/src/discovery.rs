//! Home Assistant MQTT discovery configs.

use serde_json::{json, Map, Value};

use crate::config::{Discovery, HaEntity};
use crate::{bump, topics, Outgoing, Shared};

/// A name usable as one topic level and as a Home Assistant id: letters, digits, `_`, `-`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where the bridge says `online` or `offline` (retained; `offline` is its last will).
pub fn availability_topic(node_id: &str) -> String {
    format!("uhome-bridge/{}/status", slug(node_id))
}

/// Where Home Assistant announces `online` when it starts.
pub fn status_topic(discovery: &Discovery) -> String {
    format!("{}/status", discovery.prefix)
}

/// The discovery topic and config of `entity`.
pub fn config(
    discovery: &Discovery,
    prefix: &str,
    node_id: &str,
    entity: &HaEntity,
) -> Option<(String, Value)> {
    let state_topic = topics::type_to_topic(prefix, &entity.event_type)?;
    let node = slug(node_id);
    let object = slug(&entity.event_type);
    let mut config = Map::new();
    config.insert(
        "name".into(),
        entity
            .name
            .clone()
            .unwrap_or_else(|| entity.event_type.clone())
            .into(),
    );
    config.insert("unique_id".into(), format!("{node}_{object}").into());
    config.insert("state_topic".into(), state_topic.into());
    config.insert(
        "availability_topic".into(),
        availability_topic(node_id).into(),
    );
    let optional = [
        ("unit_of_measurement", &entity.unit),
        ("device_class", &entity.device_class),
        ("value_template", &entity.value_template),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            config.insert(key.into(), value.clone().into());
        }
    }
    if let Some(command) = entity
        .command_type
        .as_deref()
        .and_then(|t| topics::type_to_topic(prefix, t))
    {
        config.insert("command_topic".into(), command.into());
    }
    config.insert(
        "device".into(),
        json!({
            "identifiers": [format!("uhome_{node}")],
            "name": format!("µHome ({node_id})"),
            "manufacturer": "µHome",
            "model": "uhome-bridge",
        }),
    );
    let topic = format!(
        "{}/{}/{node}/{object}/config",
        discovery.prefix, entity.component
    );
    Some((topic, Value::Object(config)))
}

/// Publishes `online` and every entity's config, retained.
pub async fn publish(shared: &Shared) {
    let Some(discovery) = &shared.config.discovery else {
        return;
    };
    let node_id = shared.node_id();
    let online = Outgoing {
        topic: availability_topic(node_id),
        payload: b"online".to_vec(),
        qos: 1,
        retain: true,
    };
    if let Err(e) = shared.publish_mqtt(&online).await {
        tracing::warn!(error = %e, "cannot publish the availability");
    }
    for entity in &discovery.entities {
        let Some((topic, config)) = config(discovery, &shared.config.prefix, node_id, entity)
        else {
            continue;
        };
        let message = Outgoing {
            topic,
            payload: config.to_string().into_bytes(),
            qos: 1,
            retain: true,
        };
        match shared.publish_mqtt(&message).await {
            Ok(()) => {
                bump(&shared.discovery_published);
            }
            Err(e) => {
                tracing::warn!(topic = %message.topic, error = %e, "discovery publish failed")
            }
        }
    }
    tracing::info!(
        entities = discovery.entities.len(),
        "Home Assistant discovery configs published"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sensor_config_names_its_topics() {
        let discovery = Discovery {
            prefix: "homeassistant".into(),
            entities: Vec::new(),
        };
        let entity = HaEntity {
            event_type: "home.living.temperature".into(),
            component: "sensor".into(),
            unit: Some("°C".into()),
            device_class: Some("temperature".into()),
            value_template: Some("{{ value_json.celsius }}".into()),
            ..HaEntity::default()
        };
        let (topic, config) = config(&discovery, "uhome", "uhome/mqtt-bridge", &entity).unwrap();
        assert_eq!(
            topic,
            "homeassistant/sensor/uhome_mqtt-bridge/home_living_temperature/config"
        );
        assert_eq!(config["state_topic"], "uhome/home/living/temperature");
        assert_eq!(
            config["availability_topic"],
            "uhome-bridge/uhome_mqtt-bridge/status"
        );
        assert_eq!(config["unit_of_measurement"], "°C");
        assert_eq!(
            config["unique_id"],
            "uhome_mqtt-bridge_home_living_temperature"
        );
        assert!(config.get("command_topic").is_none());
    }
}
