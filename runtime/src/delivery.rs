//! The delivery report of a publish ([UH-BROKER-9]): what the broker builds and what a
//! publisher reads back.

use serde_json::Value;
use uhome_protocol::reply::Published;
use uhome_protocol::Code;

use crate::client::ReplyEvent;
use crate::reply::Reply;

/// What the broker answered to a publish that did not wait ([UH-BROKER-12]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// `queued`: this many deliveries started; their outcome is reported to no one.
    Queued(u64),
    /// `published`: a broker that does not know `wait` delivered first and reported.
    Reported(PublishReport),
}

impl PublishOutcome {
    /// Reads the answer from a successful reply; `Err` names the member that is missing or
    /// not of its type.
    pub fn from_reply(reply: &ReplyEvent) -> Result<PublishOutcome, &'static str> {
        if reply.code().as_deref() != Some(Code::Queued.as_str()) {
            return PublishReport::from_reply(reply).map(PublishOutcome::Reported);
        }
        reply
            .data_value()
            .and_then(|d| d.get("queued").and_then(Value::as_u64))
            .map(PublishOutcome::Queued)
            .ok_or("queued")
    }
}

/// What the broker reported for a publish ([UH-BROKER-9]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Deliveries that got a reply.
    pub delivered: u64,
    /// Node ids whose delivery failed.
    pub failed: Vec<String>,
}

impl PublishReport {
    /// The broker's reply to the publish.
    pub fn reply(&self) -> Reply {
        let failed: Vec<&str> = self.failed.iter().map(String::as_str).collect();
        let delivered = usize::try_from(self.delivered).unwrap_or(usize::MAX);
        Reply::data(&Published::new(delivered, &failed))
    }

    /// Reads the report from a successful reply; `Err` names the member that is missing or
    /// not of its type.
    pub fn from_reply(reply: &ReplyEvent) -> Result<PublishReport, &'static str> {
        let data = reply.data_value().unwrap_or_default();
        let delivered = data
            .get("delivered")
            .and_then(Value::as_u64)
            .ok_or("delivered")?;
        let failed = data
            .get("failed")
            .and_then(Value::as_array)
            .ok_or("failed")?
            .iter()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect();
        Ok(PublishReport { delivered, failed })
    }
}
