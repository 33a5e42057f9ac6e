//! Requests as application handlers see them: owned, unescaped.

use serde::de::DeserializeOwned;
use serde_json::Value;
use uhome_protocol::Event;

/// An event delivered to a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Wire version of the request (1 or 2).
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

impl Request {
    /// Copies a decoded event.
    pub fn from_event(version: u16, event: &Event<'_>) -> Request {
        Request {
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

    /// `data` mapped onto `T`.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        self.data.as_deref().map(serde_json::from_str).transpose()
    }
}
