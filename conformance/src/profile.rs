//! The profile of the node under test (`--profile FILE`, spec/conformance-contract.md).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// What the node under test supports and how it is configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// The longest payload the node accepts (65535 when absent).
    #[serde(default)]
    pub max_payload: Option<usize>,
    /// The node's idle timeout.
    #[serde(
        default,
        deserialize_with = "duration",
        serialize_with = "ser_duration"
    )]
    pub idle_timeout: Option<Duration>,
    /// The most connections the node serves at once ([UH-EXCHANGE-13]); 1024 when absent.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// The registry's health check interval.
    #[serde(
        default,
        deserialize_with = "duration",
        serialize_with = "ser_duration"
    )]
    pub health_interval: Option<Duration>,
    /// The registry's eviction threshold.
    #[serde(default)]
    pub evict_after: Option<u32>,
    /// A service's refresh interval ([UH-SERVICE-7]); at most 30 s when absent.
    #[serde(
        default,
        deserialize_with = "duration",
        serialize_with = "ser_duration"
    )]
    pub refresh_interval: Option<Duration>,
    /// The patterns a service subscribes to; learned from its subscribes when absent.
    #[serde(default)]
    pub subscriptions: Option<Vec<String>>,
    /// Optional features claimed.
    #[serde(default)]
    pub features: Vec<String>,
    /// The node's id: the `source` of every reply ([UH-REPLY-1]); learned from the first
    /// reply when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// What the secure roles need: the node's key and the identities its policy trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecureProfile>,
}

/// A key the node's policy pins, and the secret the suite signs with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileIdentity {
    /// The node id the policy pins the key to.
    pub node_id: String,
    /// The 32-byte secret key (RFC 8032 seed), 64 hex characters.
    pub secret: String,
}

/// The `security` member of a profile (spec/conformance-contract.md, the secure roles).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecureProfile {
    /// The node's public key, 64 hex characters.
    pub node_key: String,
    /// A node of the policy, role `node`, that the suite signs as: it may publish
    /// `publishAllowed` and not `publishForbidden`, may not subscribe to
    /// `subscribeForbidden`, and is no operator.
    pub client: ProfileIdentity,
    /// The clock window the node allows, in milliseconds (30000 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_ms: Option<u64>,
    /// A broker target: the registry's identity, for the lists the suite pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<ProfileIdentity>,
    /// A registry target: the broker's identity, for the suite's answers to its pushes; a
    /// service target: the broker's, for the deliveries the suite signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<ProfileIdentity>,
    /// A broker target: a type the client may publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_allowed: Option<String>,
    /// A broker target: a type the client may not publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_forbidden: Option<String>,
    /// A broker target: a pattern the client may not subscribe to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_forbidden: Option<String>,
    /// A service target: a type it subscribes to and handles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed_type: Option<String>,
    /// A registry target: an address (host:port) its outbound allow-list excludes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_denied: Option<String>,
}

/// Features a profile may claim.
pub const FEATURES: [&str; 1] = ["pushAfterHealthRound"];

impl Profile {
    /// Reads and checks a profile file.
    pub fn load(path: &std::path::Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let profile: Profile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(unknown) = profile
            .features
            .iter()
            .find(|f| !FEATURES.contains(&f.as_str()))
        {
            return Err(format!(
                "{}: unknown feature {unknown:?} (known: {FEATURES:?})",
                path.display()
            ));
        }
        Ok(profile)
    }

    /// The longest payload to send.
    pub fn max_payload(&self) -> usize {
        self.max_payload.unwrap_or(uhome_protocol::MAX_PAYLOAD_LEN)
    }

    /// Whether a feature is claimed.
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// A number of seconds, or text such as `"500ms"`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None => Ok(None),
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
            _ => Err(serde::de::Error::custom(format!("bad duration {n}"))),
        },
        Some(serde_json::Value::String(t)) => humantime::parse_duration(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(other) => Err(serde::de::Error::custom(format!(
            "a duration is a number of seconds or text, not {other}"
        ))),
    }
}

fn ser_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_numbers_or_text() {
        let p: Profile = serde_json::from_str(
            r#"{"idleTimeout": 1.5, "healthInterval": "200ms", "evictAfter": 2}"#,
        )
        .unwrap();
        assert_eq!(p.idle_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(p.health_interval, Some(Duration::from_millis(200)));
        assert_eq!(p.max_payload(), 65535);
        assert!(
            serde_json::from_str::<Profile>(r#"{"idle": 1}"#).is_err(),
            "unknown members are refused"
        );
    }
}
