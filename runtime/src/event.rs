//! The runtime's one owned event: what a handler receives, what a client sends, what a reply
//! and a delivery carry. Members are copied out of the decoded frame, unescaped; `data` and
//! `error` stay JSON text.

use serde::de::DeserializeOwned;
use serde_json::Value;
use uhome_protocol::{Event, V2};

use crate::reply::{new_id, now};

/// An event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedEvent {
    /// Wire version (1 or 2).
    pub version: u16,
    /// `id`
    pub id: String,
    /// `timestamp`
    pub timestamp: String,
    /// `source`: the sender's node id.
    pub source: String,
    /// `type`
    pub event_type: String,
    /// `data` as JSON text, when present.
    pub data: Option<String>,
    /// `error` as JSON text, when present.
    pub error: Option<String>,
}

impl OwnedEvent {
    /// A new version-2 event from `source`: a fresh `id`, `timestamp` now.
    pub fn new(source: &str, event_type: &str, data: Option<&Value>) -> OwnedEvent {
        OwnedEvent {
            version: V2,
            id: new_id(),
            timestamp: now(),
            source: source.to_string(),
            event_type: event_type.to_string(),
            data: data.map(Value::to_string),
            error: None,
        }
    }

    /// A copy with a fresh `id` and `timestamp`, to send the same request again.
    pub fn renewed(&self) -> OwnedEvent {
        OwnedEvent {
            id: new_id(),
            timestamp: now(),
            ..self.clone()
        }
    }

    /// Copies a decoded event.
    pub fn from_event(version: u16, event: &Event<'_>) -> OwnedEvent {
        OwnedEvent {
            version,
            id: event.id.to_string(),
            timestamp: event.timestamp.to_string(),
            source: event.source.to_string(),
            event_type: event.event_type.to_string(),
            data: event.data.map(|d| d.as_str().to_string()),
            error: event.error.map(|e| e.as_str().to_string()),
        }
    }

    /// `data` as a JSON value (`None` when absent or not representable, e.g. lone
    /// surrogates).
    pub fn data_value(&self) -> Option<Value> {
        self.data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
    }

    /// `error` as a JSON value.
    pub fn error_value(&self) -> Option<Value> {
        self.error
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
    }

    /// `data` mapped onto `T`.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        self.data.as_deref().map(serde_json::from_str).transpose()
    }
}
