//! `uhome publish TYPE [DATA]`: an event through the broker, and its delivery report.

use std::process::ExitCode;

use serde_json::json;
use uhome_protocol::core_events::BROKER_ID;
use uhome_runtime::{service, PublishOutcome};

use super::{parse_data, print_json};
use crate::args::PublishArgs;

/// Publishes the event and prints the delivery report, or with `--no-wait` how many
/// deliveries were queued.
pub async fn run(args: PublishArgs) -> Result<ExitCode, String> {
    let data = parse_data(args.data.as_deref())?;
    let client = args.client.client(&[(BROKER_ID, &args.broker)])?;
    if args.no_wait {
        let outcome = service::publish_without_waiting(
            &client,
            &args.broker,
            &args.event_type,
            data.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())?;
        match outcome {
            PublishOutcome::Queued(queued) => print_json(&json!({ "queued": queued })),
            PublishOutcome::Reported(report) => {
                print_json(&json!({ "delivered": report.delivered, "failed": report.failed }))
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = service::publish(&client, &args.broker, &args.event_type, data.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    print_json(&json!({ "delivered": report.delivered, "failed": report.failed }));
    Ok(ExitCode::SUCCESS)
}
