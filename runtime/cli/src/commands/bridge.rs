//! `uhome bridge mqtt`: the mesh ↔ an MQTT broker, with optional Home Assistant discovery.

use std::future::Future;
use std::process::ExitCode;

use uhome_bridge::{
    topics, Bridge, BridgeConfig, Discovery, FromMqtt, HaEntity, MqttConfig, MqttVersion, Stats,
    ToMqtt,
};

use crate::args::{BridgeArgs, BridgeKind, MqttBridgeArgs, MqttVersionArg};

/// Runs the bridge named by `args` until `stop`.
pub async fn run(args: BridgeArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
    match args.kind {
        BridgeKind::Mqtt(args) => mqtt(args, stop).await,
    }
}

fn qos(value: &str, spec: &str) -> Result<u8, String> {
    match value {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!("{spec:?}: qos is 0, 1 or 2")),
    }
}

/// `PATTERN[;qos=N][;retain]`.
fn to_mqtt(spec: &str) -> Result<ToMqtt, String> {
    let mut parts = spec.split(';');
    let pattern = parts.next().unwrap_or_default().to_string();
    let mut out = ToMqtt {
        pattern,
        qos: 0,
        retain: false,
    };
    for part in parts {
        match part.split_once('=') {
            Some(("qos", v)) => out.qos = qos(v, spec)?,
            None if part == "retain" => out.retain = true,
            _ => return Err(format!("{spec:?}: unknown option {part:?} (qos=N, retain)")),
        }
    }
    Ok(out)
}

/// `FILTER[;qos=N]`.
fn from_mqtt(spec: &str) -> Result<FromMqtt, String> {
    let mut parts = spec.split(';');
    let filter = parts.next().unwrap_or_default().to_string();
    let mut out = FromMqtt { filter, qos: 0 };
    for part in parts {
        match part.split_once('=') {
            Some(("qos", v)) => out.qos = qos(v, spec)?,
            _ => return Err(format!("{spec:?}: unknown option {part:?} (qos=N)")),
        }
    }
    Ok(out)
}

/// `TYPE=COMPONENT[;name=…][;unit=…][;device_class=…][;value_template=…][;command=TYPE]`.
fn ha_entity(spec: &str) -> Result<HaEntity, String> {
    let mut parts = spec.split(';');
    let head = parts.next().unwrap_or_default();
    let Some((event_type, component)) = head.rsplit_once('=') else {
        return Err(format!(
            "{spec:?}: an entity starts with TYPE=COMPONENT, e.g. home.hall.temperature=sensor"
        ));
    };
    let mut out = HaEntity {
        event_type: event_type.to_string(),
        component: component.to_string(),
        ..HaEntity::default()
    };
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!("{spec:?}: {part:?} is not KEY=VALUE"));
        };
        let value = Some(value.to_string());
        match key {
            "name" => out.name = value,
            "unit" => out.unit = value,
            "device_class" => out.device_class = value,
            "value_template" => out.value_template = value,
            "command" => out.command_type = value,
            _ => {
                return Err(format!(
                "{spec:?}: unknown key {key:?} (name, unit, device_class, value_template, command)"
            ))
            }
        }
    }
    Ok(out)
}

/// The bridge's settings from the flags.
pub fn config(args: &MqttBridgeArgs) -> Result<BridgeConfig, String> {
    let mut to = args
        .to_mqtt
        .iter()
        .map(|s| to_mqtt(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut from = args
        .from_mqtt
        .iter()
        .map(|s| from_mqtt(s))
        .collect::<Result<Vec<_>, _>>()?;
    for spec in &args.both {
        let t = to_mqtt(spec)?;
        let Some(filter) = topics::pattern_to_filter(&args.prefix, &t.pattern) else {
            return Err(format!(
                "--both {:?}: no MQTT filter matches exactly the topics of this pattern",
                t.pattern
            ));
        };
        from.push(FromMqtt { filter, qos: t.qos });
        to.push(t);
    }
    let entities = args
        .ha_entity
        .iter()
        .map(|s| ha_entity(s))
        .collect::<Result<Vec<_>, _>>()?;
    if !entities.is_empty() && !args.ha_discovery {
        return Err("--ha-entity needs --ha-discovery".into());
    }
    if to.is_empty() && from.is_empty() && !args.ha_discovery {
        return Err("nothing to bridge: give --to-mqtt, --from-mqtt or --both".into());
    }
    let security = crate::security::node(&args.security)?;
    Ok(BridgeConfig {
        node_id: args.id.clone(),
        listen: args.listen.clone(),
        advertise: args.advertise.clone(),
        registry: args.registry.clone(),
        broker: args.broker.clone(),
        mqtt: MqttConfig {
            host: args.mqtt_host.clone(),
            port: args.mqtt_port,
            client_id: args.mqtt_client_id.clone(),
            version: match args.mqtt_version {
                MqttVersionArg::V311 => MqttVersion::V311,
                MqttVersionArg::V5 => MqttVersion::V5,
            },
            username: args.username.clone(),
            password: args.password.clone(),
            tls: args.tls,
            ca_file: args.ca_file.clone(),
            keep_alive: args.keep_alive,
        },
        prefix: args.prefix.clone(),
        envelope: args.envelope,
        to_mqtt: to,
        from_mqtt: from,
        buffer: args.buffer,
        discovery: args.ha_discovery.then(|| Discovery {
            prefix: args.ha_prefix.clone(),
            entities,
        }),
        security: Some(security),
        ..BridgeConfig::new()
    })
}

fn log_stats(stats: &Stats) {
    let (to, from) = (&stats.to_mqtt, &stats.from_mqtt);
    tracing::info!(
        to_mqtt.forwarded = to.forwarded,
        to_mqtt.dropped = to.dropped,
        to_mqtt.unmappable = to.unmappable,
        to_mqtt.buffered = to.buffered,
        from_mqtt.forwarded = from.forwarded,
        from_mqtt.dropped = from.dropped,
        from_mqtt.unmappable = from.unmappable,
        from_mqtt.rejected = from.rejected,
        from_mqtt.buffered = from.buffered,
        looped = to.looped + from.looped,
        mqtt_connected = stats.mqtt_connected,
        "bridge counts"
    );
}

async fn mqtt(args: MqttBridgeArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
    args.file.announce();
    let config = config(&args)?;
    if let Some(security) = &config.security {
        crate::security::announce(&config.node_id, security);
    }
    let bridge = Bridge::start(config).await.map_err(|e| e.to_string())?;
    eprintln!(
        "µHome MQTT bridge {} on {} ↔ mqtt://{}:{}",
        bridge.node_id(),
        bridge.local_addr(),
        args.mqtt_host,
        args.mqtt_port
    );
    let interval = args.stats_interval;
    let report = async {
        if interval.is_zero() {
            std::future::pending::<()>().await;
        }
        let mut ticks = tokio::time::interval(interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            log_stats(&bridge.stats());
        }
    };
    let outcome = tokio::select! {
        () = stop => Ok(ExitCode::SUCCESS),
        e = bridge.failed() => Err(e.to_string()),
        () = report => Ok(ExitCode::SUCCESS),
    };
    let stats = bridge.shutdown().await;
    log_stats(&stats);
    outcome
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test: panicking is how it fails

    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            to_mqtt("home.>;qos=1;retain").unwrap(),
            ToMqtt {
                pattern: "home.>".into(),
                qos: 1,
                retain: true
            }
        );
        assert!(to_mqtt("home.>;qos=3").is_err());
        assert!(to_mqtt("home.>;colour").is_err());
        assert_eq!(from_mqtt("z2m/+;qos=2").unwrap().qos, 2);
        let e = ha_entity("home.t=sensor;unit=°C;command=home.t.set").unwrap();
        assert_eq!(e.event_type, "home.t");
        assert_eq!(e.component, "sensor");
        assert_eq!(e.unit.as_deref(), Some("°C"));
        assert_eq!(e.command_type.as_deref(), Some("home.t.set"));
        assert!(ha_entity("home.t").is_err());
        assert!(ha_entity("home.t=sensor;colour=red").is_err());
    }
}
