//! `uhome broker`: the event broker.

use std::future::Future;
use std::process::ExitCode;

use uhome_protocol::core_events::BROKER_ID;
use uhome_runtime::broker::{self, BrokerConfig};

use crate::args::BrokerArgs;

/// Serves the broker until `stop`.
pub async fn run(args: BrokerArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
    args.file.announce();
    let security = crate::security::node(&args.security)?;
    crate::security::announce(BROKER_ID, &security);
    let broker = broker::start(
        &args.listen,
        BrokerConfig {
            registry: args.registry,
            server: args.node.server(),
            security: Some(security),
            ..BrokerConfig::default()
        },
    )
    .await
    .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    eprintln!("µHome broker on {}", broker.local_addr());
    stop.await;
    broker.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
