//! `uhome send ADDR TYPE [DATA]`: one event to a node, and its reply as JSON.

use std::process::ExitCode;

use uhome_runtime::ReplyEvent;

use super::{parse_data, print_json};
use crate::args::SendArgs;

/// Sends the event, prints the reply, and exits as `uhome send --help` says.
pub async fn run(args: SendArgs) -> Result<ExitCode, String> {
    let data = parse_data(args.data.as_deref())?;
    let peers: Vec<(&str, &str)> = args
        .to
        .iter()
        .map(|id| (id.as_str(), args.addr.as_str()))
        .collect();
    let reply = args
        .client
        .client(&peers)?
        .request(&args.addr, &args.event_type, data.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    print_json(&reply.to_json());
    if let Some(problem) = core_answer_problem(&args.addr, &args.event_type, &reply) {
        eprintln!("uhome: {problem}");
        return Ok(ExitCode::from(EXIT_NOT_THE_ANSWER));
    }
    Ok(exit_for(&reply))
}

/// The exit status for a reply (see `uhome send --help`).
fn exit_for(reply: &ReplyEvent) -> ExitCode {
    match reply.status {
        1 => ExitCode::SUCCESS,
        0 => ExitCode::from(10),
        2 => ExitCode::from(12),
        _ => ExitCode::from(13),
    }
}

/// `uhome send`'s exit status when a core type's reply is not its answer.
const EXIT_NOT_THE_ANSWER: u8 = 11;

/// Why `reply` is not the answer a core request of `event_type` expects: `no_handler`, or a
/// success without the members the type defines. `None` for other types and for refusals
/// (their status says it).
fn core_answer_problem(addr: &str, event_type: &str, reply: &ReplyEvent) -> Option<String> {
    use uhome_protocol::core_events;
    let (role, members): (&str, &[&str]) = match event_type {
        core_events::HEALTHCHECK => (
            "node (v0.0.1 brokers and registries have no healthcheck)",
            &[],
        ),
        core_events::REGISTER => ("registry", &["address"]),
        core_events::UNREGISTER => ("registry", &[]),
        core_events::DISCOVER => ("registry", &["nodes"]),
        core_events::NODES | core_events::SUBSCRIBE => ("broker", &[]),
        core_events::UNSUBSCRIBE => ("broker", &["removed"]),
        core_events::PUBLISH => ("broker", &["delivered", "failed"]),
        _ => return None,
    };
    if reply.is_no_handler() {
        return Some(format!(
            "{addr} has no handler for {event_type}: is it a µHome {role}?"
        ));
    }
    if !reply.is_success() {
        return None;
    }
    let data = reply.data_value().unwrap_or_default();
    members
        .iter()
        .find(|m| data.get(**m).is_none())
        .map(|m| format!("{addr} answered {event_type} without `{m}`: is it a µHome {role}?"))
}
