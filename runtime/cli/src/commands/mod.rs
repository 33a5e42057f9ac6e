//! One module per `uhome` command.

pub mod bench;
pub mod bridge;
pub mod broker;
pub mod config;
pub mod key;
pub mod mesh;
pub mod nodes;
pub mod publish;
pub mod registry;
pub mod repl;
pub mod send;
pub mod service;
pub mod sub;

use serde_json::Value;

/// Parses DATA as JSON.
pub(crate) fn parse_data(data: Option<&str>) -> Result<Option<Value>, String> {
    data.map(|d| {
        serde_json::from_str(d)
            .map_err(|e| format!("DATA must be JSON ({e}); quote strings, e.g. '\"on\"'"))
    })
    .transpose()
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
