//! `uhome nodes`: the nodes the registry knows.

use std::process::ExitCode;

use serde_json::{json, Value};
use uhome_protocol::core_events::REGISTRY_ID;
use uhome_runtime::service;

use super::print_json;
use crate::args::NodesArgs;

/// Asks the registry and prints its list.
pub async fn run(args: NodesArgs) -> Result<ExitCode, String> {
    let nodes = service::discover(
        &args.client.client(&[(REGISTRY_ID, &args.registry)])?,
        &args.registry,
    )
    .await
    .map_err(|e| e.to_string())?;
    let list: Vec<Value> = nodes
        .iter()
        .map(|n| json!({ "nodeId": n.node_id, "address": n.address }))
        .collect();
    print_json(&Value::Array(list));
    Ok(ExitCode::SUCCESS)
}
