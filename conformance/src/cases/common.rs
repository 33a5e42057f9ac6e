//! Requests and reply checks the node cases share.

use serde_json::json;
use uhome_protocol::core_events::HEALTHCHECK;

use crate::case::CaseResult;
use crate::wire::{Reply, Request};

pub(super) const UNKNOWN: &str = "conformance.unknown.type";

pub(super) fn health() -> Vec<u8> {
    Request::new(HEALTHCHECK, None).encode()
}

pub(super) fn unknown(n: u64) -> Vec<u8> {
    Request::new(UNKNOWN, Some(json!({ "n": n }))).encode()
}

pub(super) fn is_no_handler(reply: &Reply) -> CaseResult {
    reply.must_be(1, "no_handler", Some("No Handler for Event registered"))
}

pub(super) fn is_healthy(reply: &Reply) -> CaseResult {
    reply.must_be(1, "healthy", Some("Service is healthy"))
}
