//! `uhome mesh`: the broker and the registry in one process.

use std::future::Future;
use std::process::ExitCode;

use uhome_protocol::core_events::{BROKER_ID, REGISTRY_ID};
use uhome_runtime::broker::{self, BrokerConfig};
use uhome_runtime::registry;

use crate::args::MeshArgs;

/// Serves the broker and the registry until `stop`.
pub async fn run(args: MeshArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
    args.file.announce();
    let (registry_security, broker_security) =
        match (&args.policy, &args.registry_key_file, &args.broker_key_file) {
            (Some(policy), Some(registry_key), Some(broker_key)) => (
                crate::security::load(registry_key, policy, args.mode)?,
                crate::security::load(broker_key, policy, args.mode)?,
            ),
            _ => {
                let keyless = crate::security::keyless(&args.compat_allow)?;
                (keyless.clone(), keyless)
            }
        };
    crate::security::announce(REGISTRY_ID, &registry_security);
    crate::security::announce(BROKER_ID, &broker_security);
    let broker = broker::start(
        &args.broker_listen,
        BrokerConfig {
            // The registry in this process pushes its list when it starts.
            registry: None,
            server: args.node.server(),
            security: Some(broker_security),
            ..BrokerConfig::default()
        },
    )
    .await
    .map_err(|e| format!("cannot listen on {}: {e}", args.broker_listen))?;
    let mut config = args
        .state
        .registry(Some(broker.local_addr().to_string()), &args.node)?;
    config.security = Some(registry_security);
    let registry = registry::start(&args.registry_listen, config)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "µHome mesh: broker on {}, registry on {} ({})",
        broker.local_addr(),
        registry.local_addr(),
        args.state
            .data_dir()?
            .map(|d| format!("state in {}", d.display()))
            .unwrap_or_else(|| "in memory".into())
    );
    stop.await;
    registry.shutdown().await;
    broker.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
